"""COCO results (a model's predictions) → Tables, on a ground-truth dataset's images.

A results file is a JSON list of ``{image_id, category_id, keypoints, score}`` records
(AlphaPose writes ``image_id`` as the image's file name). Each record becomes an instance
with its pose; ``bbox`` and ``area`` are derived where the record has none, as pycocotools'
``COCO.loadRes`` derives them (the box around every joint, its area), and instance ids
are the records' positions from 1, as ``loadRes`` numbers them. The images are the ground
truth's, in its splits, so predictions and ground truth join on
``(split, image_id)``. What the records say is kept exactly: the writer
(``queries.export.coco_results``) gives the list back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from posestore import schema
from posestore.errors import SourceError
from posestore.formats import RESULTS_DERIVED_KEY, RESULTS_SOURCE_ID_KEY
from posestore.metadata import DatasetMeta, datasets_table

from .coco import read_coco_document

REQUIRED = ("image_id", "category_id", "keypoints", "score")
DERIVED_KEY = RESULTS_DERIVED_KEY
SOURCE_ID_KEY = RESULTS_SOURCE_ID_KEY


@dataclass
class GroundTruth:
    """What a results file is read against: the ground-truth dataset's name, its images
    (every column; at least ``split``, ``image_id``, ``file_name``), its categories (the
    predictions' too) and each category's joint count."""

    dataset: str
    images: pa.Table
    categories: pa.Table
    joints: Mapping[int, int]


def read_coco_results(
    source: str | Path,
    dataset: str,
    truth: GroundTruth,
    split: str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> Iterator[schema.Tables]:
    """Read a COCO results file against ``truth``; one bundle of tables per ground-truth split
    the predictions fall in (``split`` restricts them to one)."""
    source = Path(source)
    file = str(source)
    if progress:
        progress(f"parsing {source.name}", -1, -1)
    try:
        records = orjson.loads(source.read_bytes())
    except orjson.JSONDecodeError as e:
        raise SourceError(file, None, f"not valid JSON: {e}") from None
    if not isinstance(records, list):
        raise SourceError(
            file,
            None,
            f"a COCO results file is a JSON list of predictions, not a {type(records).__name__}",
        )
    if not records:
        raise SourceError(file, None, "holds no predictions")
    for i, r in enumerate(records):
        if not isinstance(r, dict):
            raise SourceError(
                file, f"[{i}]", f"expected a prediction object, got {type(r).__name__}"
            )
        missing = [k for k in REQUIRED if k not in r]
        if missing:
            raise SourceError(file, f"[{i}]", f"has no {', '.join(missing)}")
    images = truth.images
    if split is not None:
        images = images.filter(pc.equal(images["split"], split))
        if not len(images):
            raise SourceError(file, None, f"ground truth {truth.dataset!r} has no split {split!r}")
    image_split, image_id = _resolve_images(records, images, file, truth.dataset)
    _check_joints(records, truth.joints, file)

    derived = [k for k in ("bbox", "area") if any(k not in r for r in records)]
    prepared = []
    for i, r in enumerate(records):
        record = {**r, "id": i + 1, "image_id": int(image_id[i])}
        if type(r["image_id"]) is not int:
            record[SOURCE_ID_KEY] = r["image_id"]
        lacking = [k for k in derived if k not in r]
        if lacking:
            record[DERIVED_KEY] = lacking
        prepared.append(record)
    split_names = np.array(images["split"].to_pylist(), dtype=object)
    ids = images["image_id"].to_numpy()
    placeholders = [{"id": int(c), "name": str(c)} for c in sorted(truth.joints)]
    for name in dict.fromkeys(image_split.tolist()):
        mine = np.flatnonzero(image_split == name)
        in_split = split_names == name
        doc = {
            "images": [{"id": int(i)} for i in ids[in_split]],
            "annotations": [prepared[k] for k in mine],
            "categories": placeholders,  # resolves category ids; the truth's are kept
        }
        tables = read_coco_document(doc, file, dataset, name, source.name, flavor="coco-results")
        tables["images"] = _images_of(images.filter(pa.array(in_split)), dataset)
        tables["instances"] = _derive_boxes(tables["instances"], tables["keypoints"])
        categories = truth.categories.drop_columns(
            [c for c in truth.categories.column_names if c not in schema.CATEGORIES.names]
        )
        i = categories.schema.get_field_index("dataset")
        tables["categories"] = schema.conform(
            "categories",
            categories.set_column(i, "dataset", pa.array([dataset] * len(categories), pa.string())),
        )  # the ground truth's categories are the predictions'
        meta = DatasetMeta.from_json(tables["datasets"]["metadata"][0].as_py())
        meta.format, meta.ground_truth = "coco-results", truth.dataset
        meta.splits[name].top = None
        tables["datasets"] = datasets_table(dataset, meta)
        yield tables


def _resolve_images(
    records: list[dict], images: pa.Table, file: str, truth: str
) -> tuple[np.ndarray, np.ndarray]:
    """Each record's ground-truth (split, image_id): integer ids within the split that has
    them; string ids (AlphaPose) by file name, its last part, or its stem."""
    splits = np.array(images["split"].to_pylist(), dtype=object)
    ids = images["image_id"].to_numpy()
    by_id: dict[int, list[int]] = {}
    for row, i in enumerate(ids.tolist()):
        by_id.setdefault(i, []).append(row)
    by_name: dict[str, list[int]] = {}
    for row, name in enumerate(images["file_name"].to_pylist()):
        if name is None:
            continue
        p = PurePosixPath(name.replace("\\", "/"))
        for key in dict.fromkeys((name, p.name, p.stem)):
            by_name.setdefault(key, []).append(row)
    rows = np.zeros(len(records), dtype=np.int64)
    for k, r in enumerate(records):
        ref = r["image_id"]
        if type(ref) is int:
            found = by_id.get(ref, [])
        elif isinstance(ref, str):
            digits = ref.isascii() and ref.isdecimal()
            found = by_name.get(ref) or (by_id.get(int(ref), []) if digits else [])
        else:
            raise SourceError(file, f"[{k}].image_id", f"expected an id, got {ref!r}")
        if not found:
            raise SourceError(
                file,
                f"[{k}].image_id",
                f"refers to image {ref!r}, which ground truth {truth!r} lacks",
            )
        if len(found) > 1:
            where = ", ".join(sorted({str(splits[f]) for f in found}))
            raise SourceError(
                file,
                f"[{k}].image_id",
                f"image {ref!r} is in several splits of {truth!r} ({where}); pass --split",
            )
        rows[k] = found[0]
    return splits[rows], ids[rows]


def _check_joints(records: list[dict], joints: Mapping[int, int], file: str) -> None:
    """Every record's keypoints are 3 values per joint of its category."""
    lengths = np.fromiter(
        (len(r["keypoints"]) if isinstance(r["keypoints"], list) else -1 for r in records),
        dtype=np.int64,
        count=len(records),
    )
    cats = [r["category_id"] for r in records]
    expected = np.fromiter(
        (3 * joints.get(c, -1) if type(c) is int else -3 for c in cats),
        dtype=np.int64,
        count=len(records),
    )
    bad = np.flatnonzero(lengths != expected)
    if len(bad):
        k = int(bad[0])
        if expected[k] < 0:
            raise SourceError(
                file,
                f"[{k}].category_id",
                f"category {cats[k]!r} has no joints in the ground truth "
                f"(categories: {', '.join(map(str, sorted(joints)))})",
            )
        raise SourceError(
            file,
            f"[{k}].keypoints",
            f"has {lengths[k]} values, expected {expected[k]} for category {cats[k]}",
        )


def _images_of(images: pa.Table, dataset: str) -> pa.Table:
    """The ground truth's image rows as the predictions' images."""
    i = images.schema.get_field_index("dataset")
    return schema.conform(
        "images", images.set_column(i, "dataset", schema.constant(dataset, len(images)))
    )


def _derive_boxes(instances: pa.Table, keypoints: pa.Table) -> pa.Table:
    """``bbox`` and ``area`` where a record has none, as ``loadRes`` derives them: the box
    around all of a pose's joints (labelled or not) and its area."""
    if not len(keypoints):
        return instances
    x = keypoints["x"].combine_chunks()
    y = keypoints["y"].combine_chunks()
    counts = pc.list_value_length(x).to_numpy()
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    xs = pc.list_flatten(x).to_numpy().astype(np.float64)
    ys = pc.list_flatten(y).to_numpy().astype(np.float64)
    x0, x1 = np.minimum.reduceat(xs, starts), np.maximum.reduceat(xs, starts)
    y0, y1 = np.minimum.reduceat(ys, starts), np.maximum.reduceat(ys, starts)
    rows = schema.positions(
        instances["instance_id"].to_numpy(), keypoints["instance_id"].to_numpy()
    )
    n = len(instances)
    box = {name: np.full(n, np.nan) for name in ("bbox_x", "bbox_y", "bbox_w", "bbox_h")}
    box["bbox_x"][rows], box["bbox_y"][rows] = x0, y0
    box["bbox_w"][rows], box["bbox_h"][rows] = x1 - x0, y1 - y0
    out = instances
    for name, values in box.items():
        column = pc.coalesce(out[name], pa.array(values, mask=np.isnan(values)))
        out = out.set_column(out.schema.get_field_index(name), name, column)
    area = pc.coalesce(out["area"], pc.multiply(out["bbox_w"], out["bbox_h"]))
    return out.set_column(out.schema.get_field_index("area"), "area", area)
