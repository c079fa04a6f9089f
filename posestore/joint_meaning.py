"""What each joint of a dataset means: the registry's answer written into ``categories``.

At ingest, and when a user sets a dataset's skeleton, every object category gets, per
joint in its own order, ``canonical`` (posestore's name for the joint), ``part``, ``flip``
(the index of its mirror joint) and ``sigmas`` (OKS sigma), and ``registry`` names the
skeleton it matched (null when none did). These are derived columns: writers never
write them back.
"""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa
import pyarrow.compute as pc

from posestore import skeleton
from posestore.errors import StoreError

MEANING_COLUMNS = ("registry", "canonical", "part", "flip", "sigmas")
"""The ``categories`` columns this module fills."""


def annotate(
    categories: pa.Table,
    fmt: str,
    joint_counts: Mapping[int, int],
    chosen: Mapping[int, skeleton.Skeleton] | None = None,
    previous: pa.Table | None = None,
) -> pa.Table:
    """``categories`` with the meaning columns filled for every object category with joints.

    ``joint_counts``: per category id, the joints its instances carry (a source may name none:
    Halpe's 136). ``chosen``: per category id, a skeleton the user set (from the registry or a
    file of their own); the others are matched by their joint names, else by joint count and
    format. ``previous``: categories whose meaning is already known (a skeleton a user set
    stays set when another category, or another split, changes); theirs is kept.
    """
    kept: dict[int, dict] = {}
    if previous is not None and "canonical" in previous.column_names:
        for row in previous.to_pylist():
            if row.get("canonical") is not None and row.get("kind") == "object":
                kept[row["category_id"]] = {name: row.get(name) for name in MEANING_COLUMNS}
    rows = categories.to_pylist()
    filled: dict[str, list] = {name: [] for name in MEANING_COLUMNS}
    for row in rows:
        names = row.get("keypoints") or []
        count = joint_counts.get(row["category_id"], len(names))
        match = None
        if row["category_id"] in kept and not (chosen and row["category_id"] in chosen):
            for name in MEANING_COLUMNS:
                filled[name].append(kept[row["category_id"]][name])
            continue
        if row.get("kind") == "object" and count:
            if chosen and row["category_id"] in chosen:
                match = _chosen(chosen[row["category_id"]], names, count, row)
            else:
                match = skeleton.match_category(names, count, fmt)
        values = _values(match, count)
        for name in MEANING_COLUMNS:
            filled[name].append(values[name])
    out = categories
    types = {
        "registry": pa.string(),
        "canonical": pa.list_(pa.string()),
        "part": pa.list_(pa.string()),
        "flip": pa.list_(pa.int16()),
        "sigmas": pa.list_(pa.float64()),
    }
    for name in MEANING_COLUMNS:
        column = pa.array(filled[name], type=types[name])
        if name in out.column_names:
            out = out.set_column(out.schema.get_field_index(name), name, column)
        else:
            out = out.append_column(name, column)
    return out


def _values(match: skeleton.Match | None, count: int) -> dict:
    if match is None:
        return dict.fromkeys(MEANING_COLUMNS)
    flip = [
        f if f is not None else (i if _midline(match.canonical[i]) else None)
        for i, f in enumerate(match.flip)
    ]
    return {
        "registry": match.skeleton,
        "canonical": list(match.canonical),
        "part": list(match.part),
        "flip": flip,
        "sigmas": list(match.sigma) if all(s is not None for s in match.sigma) else None,
    }


def _midline(canonical: str | None) -> bool:
    """A known joint on the body's midline (its own mirror)."""
    return canonical is not None and not canonical.startswith(("left_", "right_"))


def _chosen(skel: skeleton.Skeleton, names: list, count: int, row: dict) -> skeleton.Match:
    """A skeleton the user set for a category: by its joint names where the category names
    them, else joint for joint in the skeleton's order (the counts must agree)."""
    if names:
        found = skeleton.match_category(names, count, "any")
        if found is not None and found.skeleton == skel.name:
            return found
    if count != len(skel):
        raise StoreError(
            f"category {row['category_id']} ({row.get('name')}) has {count} joints; "
            f"skeleton {skel.name!r} has {len(skel)}"
        )
    joints = skel.joints
    return skeleton.Match(
        skel.name,
        "count",
        True,
        tuple(j.canonical for j in joints),
        tuple(j.part for j in joints),
        tuple(j.flip for j in joints),
        tuple(j.sigma for j in joints),
        tuple(j.approx for j in joints),
        tuple(range(len(joints))),
    )


def registry_sigmas(categories: pa.Table) -> dict[int, list[float]]:
    """Per object category with known sigmas, its per-joint OKS sigmas."""
    objects = categories.filter(pc.equal(categories["kind"], "object"))
    return {
        row["category_id"]: row["sigmas"]
        for row in objects.select(["category_id", "sigmas"]).to_pylist()
        if row["sigmas"]
    }


def registry_flips(categories: pa.Table) -> dict[int, list[int]]:
    """Per object category with known mirrors, the mirror joint indices (a joint whose mirror
    the category lacks is its own)."""
    objects = categories.filter(pc.equal(categories["kind"], "object"))
    return {
        row["category_id"]: [i if f is None else f for i, f in enumerate(row["flip"])]
        for row in objects.select(["category_id", "flip"]).to_pylist()
        if row["flip"]
    }
