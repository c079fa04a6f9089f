"""How the store writes Parquet: encodings, compression, row groups, part sizes, and the
background writer that encodes parts while the reader flattens the next batch."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from posestore import schema
from posestore.layout import empty_file


def write_part(
    path: Path, table: pa.Table, partitions: tuple[str, ...] = schema.PARTITION_COLUMNS
) -> None:
    """One Parquet part. The ``partitions`` columns (``dataset`` and ``split``; in
    ``split_members`` only ``dataset``) hold one value per file: they are written from a
    ready dictionary (no hashing of millions of equal strings), without statistics, and
    without the Arrow schema hint, so every reader sees plain strings."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for name in partitions:
        if name in table.column_names and len(table):
            value = table[name][0].as_py()
            i = table.schema.get_field_index(name)
            table = table.set_column(i, name, schema.constant(value, len(table)))
    leaves = {field.name: leaf_paths(field) for field in table.schema}
    encoding = dict.fromkeys(_byte_stream_leaves(table), "BYTE_STREAM_SPLIT")
    encoding.update((n, "DELTA_BINARY_PACKED") for n in DELTA_COLUMNS if n in table.column_names)
    pq.write_table(
        table,
        path,
        compression="zstd",
        compression_level=ZSTD_LEVEL,
        write_page_checksum=True,  # `posestore check` finds a flipped bit in any page
        store_schema=False,
        use_dictionary=[
            leaf for name, paths in leaves.items() for leaf in paths if leaf not in encoding
        ],
        column_encoding=encoding or None,
        # dataset and split hold one value per file, which the folder names already give
        write_statistics=[
            leaf for name, paths in leaves.items() if name not in partitions for leaf in paths
        ],
        row_group_size=_row_group_rows(table),
    )
    fsync(path)


def leaf_paths(field: pa.Field, prefix: str = "") -> list[str]:
    """Parquet column paths of a field's leaves, as the writer's per-column options name
    them: ``polygons.list.element.list.element`` for a list of lists."""
    path = prefix + field.name
    kind = field.type
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return leaf_paths(kind.value_field.with_name("element"), path + ".list.")
    if pa.types.is_struct(kind):
        return [leaf for child in kind for leaf in leaf_paths(child, path + ".")]
    return [path]


BYTE_STREAM_ABOVE = 1024
"""Distinct values (in a part's first 128k) above which float leaves are byte streams."""

ZSTD_LEVEL = 1
"""zstd's fastest level: on NTU-60-scale pose lists it writes 28% faster than the default
level and, with byte streams, ends smaller than dictionary pages at it (124 vs 138 MB)."""

PART_ROWS = 1_000_000
"""Rows from a source's batches are gathered until a part holds at least this many…"""
PART_BYTES = 96 << 20
"""…or this much Arrow data (a pose row carries all its joints: NTU-60's keypoints in parts
of 1M rows were 250 MB each, written one per thread after the reader had finished)."""


# Encodings chosen column by column on the train2017-scale COCO and NTU-60-scale PYSKL
# keypoints (zstd after each; size and write time per row, dictionary → chosen):
#   ids run in blocks (a joint row per instance): delta-coded, COCO instance_id 0.18 → 0.01
#     B and 19 → 9 ns, the COCO keypoints 11% smaller and a selection by image_id read by
#     DuckDB no slower; PYSKL's long runs as small as their dictionary.
DELTA_COLUMNS = ("image_id", "instance_id")


def _row_group_rows(table: pa.Table, target: int = 32 << 20) -> int:
    """Rows per row group: about ``target`` bytes of Arrow data each, between 8k and 1Mi
    rows. DuckDB scans one row group per thread, so a part of a few hundred thousand
    heavy rows (instances with their polygons) must not be one group: at full COCO
    scale that halved the read of a 10% selection of instances (0.48 s → 0.22 s)."""
    per_row = table.nbytes / max(len(table), 1)
    return int(min(max(target / max(per_row, 1.0), 8192), 1 << 20))


def _byte_stream_leaves(table: pa.Table, sample: int = 1 << 17) -> list[str]:
    """The float32 leaves (pose coordinates and scores) better written as byte streams.

    Pixel-integer coordinates (COCO) take few distinct values (about 600 in 128k):
    dictionary pages shrink them best. Detector output takes many more (float32: nearly
    all distinct; float16 HRNet output: 2-5k in 128k), and split byte streams let zstd
    squeeze the exponent and high mantissa bytes: on NTU-60-scale pose lists they write
    faster and end smaller than dictionary pages, and DuckDB scans them about as fast (a
    sum over x and score of 30M joints: 1.21 s against 1.18 s). Judged per part on its
    first 128k values: byte streams above ``BYTE_STREAM_ABOVE`` distinct values.
    """
    out = []
    for column in table.schema:
        kind, values = column.type, table[column.name]
        if pa.types.is_list(kind):
            kind = kind.value_type
            head = values.slice(0, sample)
            values = pc.list_flatten(head) if len(head) else head
        if pa.types.is_float32(kind):
            head = values.slice(0, sample)
            if pc.count_distinct(head).as_py() > BYTE_STREAM_ABOVE:
                out.extend(leaf_paths(column))
    return out


def fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_empty(root: Path, table: str) -> None:
    """The table's empty schema file (``layout.empty_file``), written aside and renamed."""
    path = empty_file(root, table)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{uuid.uuid4().hex[:8]}.tmp")
    pq.write_table(schema.empty(table), tmp)
    os.replace(tmp, path)


class BackgroundWriter:
    """Writes Parquet parts on two threads while the reader flattens the next batch
    (PyArrow releases the GIL while it encodes). At most two parts wait, so memory stays
    bounded; the first error is raised in the caller, and nothing is left half-written
    outside the transaction folder."""

    def __init__(self, threads: int = 2, waiting: int = 2) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="posestore-write")
        self.waiting = waiting
        self.pending: list = []

    def write(self, path: Path, table: pa.Table) -> None:
        self.pending.append(self.pool.submit(write_part, path, table))
        # only unfinished writes count: the small parts written between two big ones must
        # not make the caller wait for the big one before it (that serialised PYSKL writes)
        for future in [f for f in self.pending if f.done()]:
            self.pending.remove(future)
            future.result()
        while len(self.pending) > self.waiting:
            self.pending.pop(0).result()

    def __enter__(self) -> BackgroundWriter:
        return self

    def __exit__(self, *exc) -> None:
        try:
            for future in self.pending:
                if exc[0] is None:
                    future.result()
                else:
                    future.cancel()
        finally:
            self.pool.shutdown(wait=True)
