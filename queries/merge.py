"""Several datasets' tables as one: ``export coco,crowdpose,aic OUT --skeleton coco17``.

Images and instances are renumbered from 1 so ids are unique in the merged file; each
image and annotation keeps its dataset and original id beside it (``source_dataset``,
``source_id``), and every pose is of the one object category of the shared skeleton.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from posestore import schema
from posestore.errors import StoreError


def merge_tables(
    parts: list[tuple[str, schema.Tables]], prefix_files: bool = False
) -> schema.Tables:
    """One split's tables of several datasets merged (``parts``: ``(dataset, tables)``, all
    with one object category of the same joints). ``prefix_files`` puts each image under a
    folder named by its dataset (YOLO label files must not collide)."""
    category = _shared_category(parts)
    images, instances, keypoints = [], [], []
    next_image, next_instance = 1, 1
    for dataset, tables in parts:
        im, inst, kp = tables["images"], tables["instances"], tables["keypoints"]
        old_images = im["image_id"].to_numpy()
        new_images = np.arange(next_image, next_image + len(im), dtype=np.int64)
        old_instances = inst["instance_id"].to_numpy()
        new_instances = np.arange(next_instance, next_instance + len(inst), dtype=np.int64)
        next_image += len(im)
        next_instance += len(inst)
        image_of = _renumber(old_images, new_images)
        instance_of = _renumber(old_instances, new_instances)
        names = im["file_name"]
        if prefix_files:
            names = pc.binary_join_element_wise(pa.scalar(dataset), names, "/")
        images.append(
            _with(
                im,
                image_id=pa.array(new_images),
                file_name=names,
                attributes=_provenance(dataset, old_images),
            )
        )
        instances.append(
            _with(
                inst,
                instance_id=pa.array(new_instances),
                image_id=pa.array(image_of(inst["image_id"].to_numpy())),
                category_id=pa.array(np.full(len(inst), category["category_id"], np.int64)),
                attributes=_provenance(dataset, old_instances),
            )
        )
        keypoints.append(
            _with(
                kp,
                image_id=pa.array(image_of(kp["image_id"].to_numpy())),
                instance_id=pa.array(instance_of(kp["instance_id"].to_numpy())),
                category_id=pa.array(np.full(len(kp), category["category_id"], np.int64)),
            )
        )
    merged = {
        "images": _concat("images", images),
        "instances": _concat("instances", instances),
        "keypoints": _concat("keypoints", keypoints),
        "categories": schema.conform("categories", pa.Table.from_pylist([category])),
    }
    n = len(merged["images"])
    merged["frames"] = schema.conform(
        "frames",
        {
            "dataset": merged["images"]["dataset"],
            "split": merged["images"]["split"],
            "image_id": merged["images"]["image_id"],
            "frame": np.zeros(n, dtype=np.int32),
            "num_instances": np.zeros(n, dtype=np.int32),
        },
    )
    return merged


def _shared_category(parts: list[tuple[str, schema.Tables]]) -> dict:
    """The one object category with joints that every dataset shares (by joint names)."""
    found = []
    for dataset, tables in parts:
        cats = tables["categories"]
        used = set(pc.unique(tables["instances"]["category_id"]).to_pylist())
        objects = [
            c
            for c in cats.filter(pc.equal(cats["kind"], "object")).to_pylist()
            if c["category_id"] in used and c["keypoints"]
        ]
        if len(objects) != 1:
            raise StoreError(
                f"{dataset!r} has {len(objects)} categories with joints; a merged export takes "
                "datasets of one posed category each"
            )
        found.append((dataset, objects[0]))
    names = {tuple(c["keypoints"]) for _, c in found}
    if len(names) > 1:
        which = ", ".join(f"{d} ({c.get('registry') or len(c['keypoints'])})" for d, c in found)
        raise StoreError(
            f"the datasets have different skeletons: {which}; pass --skeleton NAME to project "
            "them onto one"
        )
    category = dict(found[0][1])
    category["dataset"] = "+".join(d for d, _ in parts)
    category["attributes"] = None
    return category


def _renumber(old: np.ndarray, new: np.ndarray):
    order = np.argsort(old, kind="stable")

    def lookup(ids: np.ndarray) -> np.ndarray:
        return new[order[np.searchsorted(old, ids, sorter=order)]] if len(ids) else ids

    return lookup


def _provenance(dataset: str, ids: np.ndarray) -> pa.Array:
    """``{"source_dataset": …, "source_id": …}`` per row, built in bulk."""
    head = pa.scalar('{"source_dataset":' + _json_string(dataset) + ',"source_id":')
    text = pa.array(ids).cast(pa.string())
    return pc.binary_join_element_wise(head, text, pa.scalar("}"), "")


def _json_string(value: str) -> str:
    import orjson

    return orjson.dumps(value).decode()


def _with(table: pa.Table, **columns: pa.Array) -> pa.Table:
    for name, column in columns.items():
        table = table.set_column(table.schema.get_field_index(name), name, column)
    return table


def _concat(name: str, tables: list[pa.Table]) -> pa.Table:
    return pa.concat_tables([schema.conform(name, t) for t in tables], promote_options="permissive")
