"""Tables projected onto a registry skeleton: ``export --skeleton NAME``.

Every object category's poses become the target skeleton's joints: a joint with the same
canonical name is copied, a joint the registry defines as a midpoint (OpenPose's neck) is
computed where both ends are labelled, and a joint the source lacks is written unlabelled.
The category then lists the target's joint names and bones, and ``num_joints`` and
``num_keypoints`` follow. Bulk over each category's ``[N, V]`` block.
"""

from __future__ import annotations

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from posestore import poses, schema, skeleton
from posestore.errors import StoreError

_STALE_KEYS = ("keypoints", "num_keypoints")
"""Source values kept in ``attributes`` that the projection replaces."""


def project_tables(tables: schema.Tables, to: str) -> schema.Tables:
    """One split's tables with every pose projected onto registry skeleton ``to``."""
    target = skeleton.skeleton(to)
    categories = tables["categories"]
    keypoints = tables["keypoints"]
    objects = categories.filter(pc.equal(categories["kind"], "object")).to_pylist()
    used = set(pc.unique(keypoints["category_id"]).to_pylist()) if len(keypoints) else set()
    plans = {}
    for c in objects:
        if c["category_id"] not in used:
            continue
        if not c.get("canonical"):
            raise StoreError(
                f"category {c['category_id']} ({c['name']}) of {c['dataset']!r} has joints whose "
                f"meaning is unknown; set its skeleton (posestore skeleton {c['dataset']} --set …)"
            )
        plans[c["category_id"]] = skeleton.projection(c["canonical"], target)
    blocks = []
    for category, plan in plans.items():
        rows = keypoints.filter(pc.equal(keypoints["category_id"], category))
        n, v = len(rows), plan.num_from
        x, y, vis = (
            poses.joint_values(rows[name], np.full(n, v)).to_numpy(zero_copy_only=False)
            for name in ("x", "y", "visibility")
        )
        px, py, pv = skeleton.project(
            x.reshape(n, v), y.reshape(n, v), np.nan_to_num(vis).astype(np.int8).reshape(n, v), plan
        )
        w = len(target)
        blocks.append(
            poses.pose_table(
                rows["dataset"][0].as_py() if n else "",
                rows["split"].combine_chunks(),
                rows["image_id"].to_numpy(),
                rows["instance_id"].to_numpy(),
                rows["category_id"].to_numpy(),
                rows["frame"].to_numpy(),
                np.full(n, w),
                px.ravel(),
                py.ravel(),
                pv.ravel(),
            )
        )
    unplanned = pc.invert(pc.is_in(keypoints["category_id"], pa.array(sorted(plans), pa.int64())))
    if len(keypoints) and pc.any(pc.fill_null(unplanned, True)).as_py():
        raise StoreError(
            "some poses have no object category whose joints posestore knows; they cannot be "
            "projected (check categories and category_id)"
        )
    projected = pa.concat_tables(blocks) if blocks else schema.empty("keypoints")
    return {
        **tables,
        "keypoints": projected,
        "instances": _instances(tables["instances"], projected, set(plans), len(target)),
        "categories": _categories(categories, set(plans), target),
    }


def _instances(instances: pa.Table, projected: pa.Table, categories: set, joints: int) -> pa.Table:
    """``num_joints`` and ``num_keypoints`` of the projected poses; stale source lists dropped."""
    n = len(instances)
    mine = np.isin(instances["category_id"].fill_null(-1).to_numpy(), sorted(categories))
    posed = mine & (instances["num_joints"].fill_null(0).to_numpy() > 0)
    labelled = np.zeros(n, dtype=np.int32)
    first = projected.filter(pc.equal(projected["frame"], 0)) if len(projected) else projected
    if len(first):
        vis = poses.joint_values(first["visibility"], np.full(len(first), joints))
        visible = np.nan_to_num(vis.to_numpy(zero_copy_only=False)).reshape(len(first), joints)
        rows = schema.positions(
            instances["instance_id"].to_numpy(), first["instance_id"].to_numpy()
        )
        labelled[rows] = (visible > 0).sum(axis=1)
    chosen = pa.array(posed)
    columns = {
        "num_joints": pc.if_else(
            chosen, pa.array(np.full(n, joints, dtype=np.int32)), instances["num_joints"]
        ),
        "num_keypoints": pc.if_else(chosen, pa.array(labelled), instances["num_keypoints"]),
        "attributes": pa.array(
            _without_stale(instances["attributes"].to_pylist(), posed), pa.string()
        ),
    }
    out = instances
    for name, column in columns.items():
        out = out.set_column(out.schema.get_field_index(name), name, column)
    return out


def _without_stale(texts: list, posed: np.ndarray) -> list:
    """Attributes without the source values the projection replaced (of projected rows)."""
    out = []
    for text, projected in zip(texts, posed.tolist()):
        if text is None or not projected:
            out.append(text)
            continue
        kept = {k: v for k, v in orjson.loads(text).items() if k not in _STALE_KEYS}
        out.append(orjson.dumps(kept).decode() if kept else None)
    return out


def _categories(categories: pa.Table, projected: set, target: skeleton.Skeleton) -> pa.Table:
    """The projected categories list the target's joint names and 1-based bones."""
    rows = categories.to_pylist()
    for row in rows:
        if row["category_id"] in projected and row["kind"] == "object":
            row["keypoints"] = list(target.names)
            row["skeleton"] = [[a + 1, b + 1] for a, b in target.bones]
            row["registry"] = target.name
            row["canonical"] = list(target.canonicals)
            row["part"] = [j.part for j in target.joints]
            row["flip"] = list(target.flip_index)
            row["sigmas"] = (
                list(target.sigmas) if all(s is not None for s in target.sigmas) else None
            )
    return pa.Table.from_pylist(rows, schema=categories.schema)
