"""Pose rows: ``keypoints`` holds one row per instance and frame, its joints as lists.

Readers build pose rows from flat joint arrays in bulk (``pose_table``); writers and
checks that think per joint get the long form back (``joint_rows``), one row per
joint, the ``joints`` view's shape. Both are NumPy over whole columns: no Python loop
per pose or per joint.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from posestore import schema
from posestore.errors import SourceError


def offsets(lengths: np.ndarray) -> pa.Array:
    """List offsets (int32) for rows of ``lengths`` joints."""
    out = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    if out[-1] >= 2**31:
        raise SourceError("<batch>", None, f"{out[-1]:,} joints in one batch; at most 2^31")
    return pa.array(out.astype(np.int32))


def joint_lists(
    lengths: np.ndarray | pa.Array, values: np.ndarray | pa.Array, kind: pa.DataType
) -> pa.ListArray:
    """A list column: row ``i`` holds the next ``lengths[i]`` of ``values`` (joint order)."""
    off = lengths if isinstance(lengths, pa.Array) else offsets(lengths)
    if not isinstance(values, pa.Array):
        values = pa.array(values, type=kind)
    elif values.type != kind:
        values = values.cast(kind)
    return pa.ListArray.from_arrays(off, values)


def pose_table(
    dataset: str,
    split: str | pa.Array,
    image_id: np.ndarray,
    instance_id: np.ndarray,
    category_id: np.ndarray | None,
    frame: np.ndarray | None,
    joints: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    visibility: np.ndarray | pa.Array,
    z: np.ndarray | None = None,
    score: np.ndarray | None = None,
) -> pa.Table:
    """``keypoints`` rows: per row its ids and ``joints`` (V); the joint values flat, row after
    row, each row's joints in joint order (``x``, ``y``, ``visibility``, and ``z``/``score``
    where the source has them)."""
    n = len(instance_id)
    off = offsets(np.asarray(joints, dtype=np.int64))
    columns: dict = {
        "dataset": schema.constant(dataset, n),
        "split": schema.constant(split, n) if isinstance(split, str) else split,
        "image_id": image_id,
        "instance_id": instance_id,
        "category_id": category_id,
        "frame": np.zeros(n, dtype=np.int32) if frame is None else frame,
        "x": joint_lists(off, pa.array(x, pa.float32()), pa.float32()),
        "y": joint_lists(off, pa.array(y, pa.float32()), pa.float32()),
        "visibility": joint_lists(off, pa.array(visibility, pa.int8()), pa.int8()),
    }
    if z is not None:
        columns["z"] = joint_lists(off, pa.array(z, pa.float32()), pa.float32())
    if score is not None:
        columns["score"] = joint_lists(off, pa.array(score, pa.float32()), pa.float32())
    return schema.conform("keypoints", columns)


def joint_counts(keypoints: pa.Table) -> np.ndarray:
    """Joints per pose row (the length of its lists)."""
    if not len(keypoints):
        return np.zeros(0, dtype=np.int64)
    return pc.list_value_length(keypoints["x"]).to_numpy().astype(np.int64)


def joint_values(column: pa.ChunkedArray | pa.Array, lengths: np.ndarray) -> pa.Array:
    """A list column's values flat, one per joint; null where a row's list is null."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    total = int(lengths.sum())
    kind = column.type.value_type
    if column.null_count == 0:
        return column.flatten()
    if column.null_count == len(column):
        return pa.nulls(total, kind)
    valid = np.repeat(column.is_valid().to_numpy(zero_copy_only=False), lengths)
    flat = column.flatten().to_numpy(zero_copy_only=False)
    out = np.zeros(total, dtype=flat.dtype)
    out[valid] = flat
    return pa.array(out, type=kind, mask=~valid)


def joint_rows(keypoints: pa.Table) -> pa.Table:
    """The per-joint form (``schema.JOINT_ROWS``) of pose rows, in stored order (a table
    already in that form is given back as it is)."""
    if "joint" in keypoints.column_names:
        return keypoints
    if not len(keypoints):
        return schema.JOINT_ROWS.empty_table()
    lengths = joint_counts(keypoints)
    rows = np.repeat(np.arange(len(keypoints)), lengths)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    take = pa.array(rows)
    columns = []
    for field in schema.JOINT_ROWS:
        if field.name == "joint":
            column = pa.array((np.arange(len(rows)) - starts).astype(np.int16))
        elif field.name in schema.POSE_LISTS:
            column = joint_values(keypoints[field.name], lengths)
        else:
            column = keypoints[field.name].take(take)
        columns.append(column)
    fields = [schema.target_field(f, c.type) for f, c in zip(schema.JOINT_ROWS, columns)]
    columns = [c if c.type == f.type else c.cast(f.type) for c, f in zip(columns, fields)]
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))
