"""The store's tables as Arrow schemas, declared once.

Every table is a Hive-partitioned Parquet dataset
``<store>/<table>/dataset=<name>/split=<split>/*.parquet`` (catalogs:
``<store>/<table>/dataset=<name>/*.parquet``). The partition columns are also
stored inside the files so that any engine reads them with stable types.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa

from posestore.errors import StoreError

Tables = dict[str, pa.Table]
"""A bundle of tables of this schema: what readers yield and writers take."""

JSON = pa.string()
"""JSON documents are stored as UTF-8 text (DuckDB: ``attributes::JSON``)."""

DATASET = pa.field("dataset", pa.string(), nullable=False)
SPLIT = pa.field("split", pa.string(), nullable=False)

DATASETS = pa.schema(
    [
        DATASET,
        pa.field("format", pa.string()),  # coco, pyskl, fashionai
        pa.field("source", pa.string()),  # what was ingested (path as given)
        pa.field("ingested_at", pa.timestamp("us", tz="UTC")),
        pa.field("num_images", pa.int64()),
        pa.field("num_instances", pa.int64()),
        pa.field("num_keypoints", pa.int64()),
        pa.field("num_frames", pa.int64()),
        pa.field("num_categories", pa.int64()),
        pa.field("metadata", JSON),  # top-level fields, split files, number styles
    ]
)

CATEGORIES = pa.schema(
    [
        DATASET,
        pa.field("category_id", pa.int64()),
        pa.field("name", pa.string()),
        pa.field("supercategory", pa.string()),
        pa.field("kind", pa.string()),  # object | action
        pa.field("keypoints", pa.list_(pa.string())),  # joint names in joint order
        pa.field("skeleton", pa.list_(pa.list_(pa.int64()))),  # as the source gives them
        pa.field("attributes", JSON),
        # what each joint means (posestore.joint_meaning; derived, never exported): the
        # registry skeleton matched, and per joint in joint order its canonical name, body
        # part, mirror joint index and OKS sigma
        pa.field("registry", pa.string()),
        pa.field("canonical", pa.list_(pa.string())),
        pa.field("part", pa.list_(pa.string())),
        pa.field("flip", pa.list_(pa.int16())),
        pa.field("sigmas", pa.list_(pa.float64())),
    ]
)

IMAGES = pa.schema(
    [
        DATASET,
        SPLIT,
        pa.field("image_id", pa.int64()),
        pa.field("file_name", pa.string()),
        pa.field("width", pa.int64()),
        pa.field("height", pa.int64()),
        pa.field("num_frames", pa.int32()),
        pa.field("label", pa.int64()),
        pa.field("license", pa.int64()),
        pa.field("coco_url", pa.string()),
        pa.field("flickr_url", pa.string()),
        pa.field("date_captured", pa.string()),
        pa.field("attributes", JSON),
    ]
)

INSTANCES = pa.schema(
    [
        DATASET,
        SPLIT,
        pa.field("instance_id", pa.int64()),
        pa.field("image_id", pa.int64()),
        pa.field("category_id", pa.int64()),
        pa.field("track", pa.int32()),  # person index m in a clip
        pa.field("frame", pa.int32()),  # the frame of a per-frame skeleton (Kinetics), else null
        pa.field("iscrowd", pa.int8()),
        pa.field("area", pa.float64()),
        pa.field("bbox_x", pa.float64()),
        pa.field("bbox_y", pa.float64()),
        pa.field("bbox_w", pa.float64()),
        pa.field("bbox_h", pa.float64()),
        pa.field("num_keypoints", pa.int32()),
        # joints the instance carries (null: the source has no keypoints field)
        pa.field("num_joints", pa.int32()),
        pa.field("score", pa.float64()),
        # segmentation: polygons | rle (counts as a list) | rle_compressed (counts as a string)
        pa.field("segmentation_type", pa.string()),
        pa.field("polygons", pa.list_(pa.list_(pa.float64()))),
        pa.field("rle_size", pa.list_(pa.int64())),
        pa.field("rle_counts", pa.large_string()),
        pa.field("rle_counts_list", pa.large_list(pa.int64())),
        pa.field("attributes", JSON),
    ]
)

KEYPOINTS = pa.schema(
    [
        DATASET,
        SPLIT,
        pa.field("image_id", pa.int64()),
        pa.field("instance_id", pa.int64()),
        # the instance's category, so the joints' meaning (categories) joins without instances
        pa.field("category_id", pa.int64()),
        pa.field("frame", pa.int32()),
        # one pose per row: the joints in the category's joint order, lists of one length V
        pa.field("x", pa.list_(pa.float32())),
        pa.field("y", pa.list_(pa.float32())),
        pa.field("z", pa.list_(pa.float32())),  # null in 2D
        pa.field("visibility", pa.list_(pa.int8())),  # 0 absent, 1 occluded, 2 visible (COCO)
        pa.field("score", pa.list_(pa.float32())),  # null where the source has none
    ]
)
"""One row per instance and frame (v2); the per-joint form is ``JOINT_ROWS`` (the ``joints`` view)."""

POSE_LISTS = ("x", "y", "z", "visibility", "score")
"""The ``keypoints`` columns holding one value per joint."""

JOINT_ROWS = pa.schema(
    [
        DATASET,
        SPLIT,
        pa.field("image_id", pa.int64()),
        pa.field("instance_id", pa.int64()),
        pa.field("category_id", pa.int64()),
        pa.field("frame", pa.int32()),
        pa.field("joint", pa.int16()),
        pa.field("x", pa.float32()),
        pa.field("y", pa.float32()),
        pa.field("z", pa.float32()),
        pa.field("visibility", pa.int8()),
        pa.field("score", pa.float32()),
    ]
)
"""The per-joint form of ``keypoints`` (what the ``joints`` view and ``poses.joint_rows`` give)."""

FRAMES = pa.schema(
    [
        DATASET,
        SPLIT,
        pa.field("image_id", pa.int64()),
        pa.field("frame", pa.int32()),
        pa.field("num_instances", pa.int32()),
        pa.field("attributes", JSON),
    ]
)

SPLIT_MEMBERS = pa.schema(
    [
        DATASET,
        SPLIT,  # the list's name: a partition, or a list such as NTU's xview_val
        pa.field("image_id", pa.int64()),
        pa.field("stored_in", pa.string()),  # the split partition that holds the image
    ]
)
"""One row per (dataset, split list, image): every partition, and every split list a source
names (a clip in NTU's ``xsub_val`` and ``xview_train`` has two rows). Partitioned by dataset."""

EVAL_MATCHES = pa.schema(
    [
        DATASET,  # the predictions' dataset and split
        SPLIT,
        pa.field("dt_instance_id", pa.int64()),
        pa.field("image_id", pa.int64()),
        pa.field("category_id", pa.int64()),
        pa.field("threshold", pa.float64()),
        pa.field("gt_instance_id", pa.int64()),
        pa.field("oks", pa.float64()),
        pa.field("gt_iscrowd", pa.int8()),
        pa.field("ignored", pa.bool_()),
        pa.field("score", pa.float64()),
    ]
)
"""One row per prediction and OKS threshold (0.50 … 0.95), written by ``posestore eval``
(columns: ``posestore.queries.evaluate``)."""

EVAL_JOINTS = pa.schema(
    [
        DATASET,
        SPLIT,
        pa.field("gt_instance_id", pa.int64()),
        pa.field("dt_instance_id", pa.int64()),
        pa.field("image_id", pa.int64()),
        pa.field("category_id", pa.int64()),
        pa.field("joint", pa.int32()),
        pa.field("dx", pa.float64()),
        pa.field("dy", pa.float64()),
        pa.field("distance", pa.float64()),
        pa.field("normalised", pa.float64()),
        pa.field("oks_term", pa.float64()),
        pa.field("sigma", pa.float64()),
        pa.field("gt_visibility", pa.int8()),
        pa.field("error", pa.string()),  # good | jitter | inversion | swap | miss
    ]
)
"""One row per joint of a pair matched at OKS 0.5, written by ``posestore eval``."""

SCHEMAS: dict[str, pa.Schema] = {
    "datasets": DATASETS,
    "categories": CATEGORIES,
    "split_members": SPLIT_MEMBERS,
    "images": IMAGES,
    "instances": INSTANCES,
    "keypoints": KEYPOINTS,
    "frames": FRAMES,
    "eval_matches": EVAL_MATCHES,
    "eval_joints": EVAL_JOINTS,
}
"""Every table of a store, by name."""

from posestore.layout import (  # noqa: E402,F401 - declared with the layout
    CATALOGS,
    EVAL_TABLES,
    SPLIT_TABLES,
)

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
"""Dataset and split names: plain identifiers, never paths."""

TYPED_NAME = re.compile(
    r"(?i)[+-]?(\d+\.?\d*(e[+-]?\d+)?|\.\d+)|\d{4}-\d{2}-\d{2}.*|true|false|null|nan|inf"
)
"""Names an engine reading the Hive layout with its default options types as something other
than text (Spark, Daft, DuckDB, PyArrow: numbers, dates, booleans; Spark and Daft merge
``0042`` with ``42``): refused as dataset or split names."""

NAME_LIMIT = 200
"""Longest dataset or split name, in bytes: every folder and file name the store and its
exports make of it (``split=<name>``, ``dataset=<name>``, ``<split>.json``) stays within
the 255 bytes any file system allows a name."""


def name_problem(name: object, what: str = "dataset") -> str | None:
    """Why ``name`` cannot be a dataset (or split) name, or None when it can: a name is a
    plain identifier, never a path, never a value an engine reading the Hive layout would
    type as a number, date or boolean, and at most ``NAME_LIMIT`` bytes."""
    invalid = (
        f"invalid {what} name {name!r}: use letters, digits, '_', '.', '-', starting with a "
        "letter or digit"
    )
    if not isinstance(name, str):
        return invalid
    if TYPED_NAME.fullmatch(name):
        return (
            f"{what} name {name!r} would be read as a number, date or boolean by engines that "
            f"read the store's folders (Spark, Daft, DuckDB, PyArrow); use a name with a letter, "
            f"e.g. {what[0]}{name}"
        )
    size = len(name.encode("utf-8", "surrogatepass"))
    if size > NAME_LIMIT:
        return (
            f"{what} name {name[:40]!r}… is {size} bytes; at most {NAME_LIMIT}, so that its "
            "folders and files fit the 255 bytes a file system allows a name"
        )
    if not NAME_PATTERN.fullmatch(name) or name in (".", ".."):
        return invalid
    return None


PARTITION_COLUMNS = ("dataset", "split")
"""Columns that are also partition keys: built and written dictionary-encoded, read as strings."""


def constant(value: str, n: int) -> pa.Array:
    """A column repeating one value (``dataset``, ``split``): a dictionary array, no string copies."""
    return coded(np.zeros(n, dtype=np.int8), [value])


def coded(codes: np.ndarray, values: list[str]) -> pa.Array:
    """A dictionary-encoded string column from integer codes into ``values``."""
    return pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(values, pa.string()))


def positions(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Row of each of ``values`` in ``keys`` (unique ids in any order, e.g. ``image_id``).

    A value that is not among the keys gets some valid row; callers that allow that
    compare ``keys[rows]`` with the values.
    """
    if not len(keys):
        return np.zeros(len(values), dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    return order[np.searchsorted(keys, values, sorter=order).clip(0, len(keys) - 1)]


def empty(table: str) -> pa.Table:
    """An empty table of the named schema."""
    return SCHEMAS[table].empty_table()


def conform(table: str, data: pa.Table | dict) -> pa.Table:
    """Cast ``data`` to the named schema: columns in schema order, missing ones null."""
    schema = SCHEMAS[table]
    if isinstance(data, dict):
        n = max((len(v) for v in data.values()), default=0)
        columns = []
        for field in schema:
            value = data.get(field.name)
            if value is None:
                columns.append(pa.nulls(n, field.type))
            elif isinstance(value, (pa.Array, pa.ChunkedArray)):
                kind = target_field(field, value.type).type
                columns.append(value if value.type == kind else value.cast(kind))
            else:
                columns.append(pa.array(value, type=field.type))
        fields = [target_field(f, c.type) for f, c in zip(schema, columns)]
        return pa.Table.from_arrays(columns, schema=pa.schema(fields))
    missing = [f.name for f in schema if f.name not in data.column_names]
    for name in missing:
        data = data.append_column(schema.field(name), pa.nulls(len(data), schema.field(name).type))
    data = data.select(schema.names)
    target = pa.schema([target_field(f, data.schema.field(f.name).type) for f in schema])
    return data if data.schema == target else data.cast(target)


def target_field(field: pa.Field, given: pa.DataType) -> pa.Field:
    """The field a column of type ``given`` is conformed to: the schema's, except that a
    dictionary-coded ``dataset`` or ``split`` stays coded (a cast would spell out a string
    per row, millions of them in a keypoints part)."""
    if field.name in PARTITION_COLUMNS and pa.types.is_dictionary(given):
        return field.with_type(given)
    return field


def check_name(name: str, what: str = "dataset") -> str:
    """``name``, when it can be a dataset or split name (``name_problem``); else a
    ``StoreError`` saying why."""
    problem = name_problem(name, what)
    if problem:
        raise StoreError(problem)
    return name
