"""Staging a source into a transaction: bundles of tables → Parquet parts in the
transaction folder (laid out like the store), and the catalogs gathered on the way.

A local ingest stages its reader's whole stream with ``write_bundles``; a Ray ingest
(``posestore.on_ray``) runs ``write_bundles`` in each task on one piece of the source, with
a prefix of its own for its part files, and the driver merges the tasks' ``Staged``
summaries in source order. Either way ``write_catalogs`` then writes the dataset's
``split_members``, ``categories`` and ``datasets`` rows, and the caller commits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from posestore import joint_meaning, parquet, schema
from posestore.errors import SourceError
from posestore.layout import PART_FILE
from posestore.metadata import DatasetMeta, bundle_meta
from posestore.transaction import partition_dir


@dataclass
class Staged:
    """What a stream of bundles put into a transaction (rows per table), and what it gathered
    for the catalogs."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(schema.SCHEMAS, 0))
    categories: pa.Table | None = None
    metas: list[DatasetMeta] = field(default_factory=list)
    """Each bundle's metadata, in order (merged by ``metadata``)."""
    splits: list[str] = field(default_factory=list)
    members: list[pa.Table] = field(default_factory=list)
    """(split, image_id, stored_in) rows: the partitions, then the lists a source names."""
    joint_counts: dict[int, int] = field(default_factory=dict)
    """Per category: the most joints one of its instances carries."""

    def metadata(self, fmt: str) -> DatasetMeta:
        """The bundles' metadata merged: later bundles add keys, the first value of a key stays."""
        merged: DatasetMeta | None = None
        for meta in self.metas:
            merged = meta if merged is None else merged.merged(meta)
        return merged if merged is not None else DatasetMeta(fmt)

    def add_metadata(self, meta: DatasetMeta | None, source: str) -> None:
        if meta is None:
            return
        for split in meta.splits:
            if split in self.splits:
                raise SourceError(source, None, f"two files give split {split!r}")
            check_split_name(split, source)
            self.splits.append(split)
        self.metas.append(meta)

    def add_categories(self, categories: pa.Table, where: str) -> None:
        self.categories = merge_categories(self.categories, categories, where)

    def then(self, later: Staged, source: str) -> Staged:
        """This and a later piece of the same source, as if staged as one stream."""
        for table, n in later.counts.items():
            self.counts[table] = self.counts.get(table, 0) + n
        if later.categories is not None:
            self.add_categories(later.categories, source)
        for meta in later.metas:
            self.add_metadata(meta, source)
        self.members += later.members
        for category, joints in later.joint_counts.items():
            self.joint_counts[category] = max(self.joint_counts.get(category, 0), joints)
        return self


def write_bundles(
    txn: Path,
    dataset: str,
    source: str,
    bundles: Iterable[schema.Tables],
    progress: Callable[[str, int, int], None] | None = None,
    prefix: str = "part-",
) -> Staged:
    """Write each split's tables of ``bundles`` into the transaction as parts named
    ``<prefix><k>.parquet``, rows in the order they come, gathered into parts of
    ``parquet.PART_ROWS`` rows or ``parquet.PART_BYTES``; return what was staged."""
    staged = Staged()
    written: dict[tuple[str, str], int] = {}
    waiting: dict[tuple[str, str], list[pa.Table]] = {}  # rows not yet in a part

    def flush(writer: parquet.BackgroundWriter, table: str, split: str) -> None:
        rows = waiting.pop((table, split), [])
        if not rows:
            return
        if progress:
            progress(f"writing {dataset}/{split} {table}", -1, -1)
        k = written.get((table, split), 0)
        written[(table, split)] = k + 1
        path = partition_dir(txn, table, dataset, split) / f"{prefix}{k:05d}.parquet"
        writer.write(path, pa.concat_tables(rows))

    with parquet.BackgroundWriter() as writer:
        for part in bundles:
            meta = bundle_meta(part)
            if "images" in part and len(part["images"]):
                split_col = part["images"]["split"]
                staged.members.append(
                    pa.table(
                        {
                            "split": split_col,
                            "image_id": part["images"]["image_id"],
                            "stored_in": split_col,
                        }
                    )
                )
            if "instances" in part and len(part["instances"]):
                _count_joints(part["instances"], staged.joint_counts)
            if "split_members" in part:
                staged.members.append(
                    part["split_members"].select(["split", "image_id", "stored_in"])
                )
            for table in schema.SPLIT_TABLES:
                tb = part.get(table)
                if tb is None or not len(tb):
                    continue
                staged.counts[table] += len(tb)
                in_part = _splits_of(tb)
                for split in in_part:
                    check_split_name(split, source)
                    rows = tb if len(in_part) == 1 else _rows_of_split(tb, split)
                    # batches' rows gather into parts of PART_ROWS or more: PYSKL's
                    # small per-batch instances and frames make a few parts, not dozens
                    waiting.setdefault((table, split), []).append(schema.conform(table, rows))
                    rows_waiting = waiting[(table, split)]
                    if (
                        sum(map(len, rows_waiting)) >= parquet.PART_ROWS
                        or sum(t.nbytes for t in rows_waiting) >= parquet.PART_BYTES
                    ):
                        flush(writer, table, split)
            # all that waits, whatever the tables and splits, stays within PART_BYTES: the
            # largest waiting part is written first (Kinetics: 3 tables × 2 splits waited
            # 6 × PART_BYTES, and the peak grew with the clips until every buffer was full)
            while sum(t.nbytes for rows in waiting.values() for t in rows) >= parquet.PART_BYTES:
                largest = max(waiting, key=lambda key: sum(t.nbytes for t in waiting[key]))
                flush(writer, *largest)
            if "categories" in part:
                files = [m.path for m in meta.splits.values()] if meta else []
                where = f"{source}: {files[0]}" if files and files[0] else source
                staged.add_categories(part["categories"], where)
            staged.add_metadata(meta, source)
        for table, split in list(waiting):
            flush(writer, table, split)
    return staged


def write_catalogs(
    txn: Path, dataset: str, fmt: str, source: str, staged: Staged, root: str | None = None
) -> dict[str, int]:
    """Write the dataset's ``split_members``, ``categories`` (with what their joints mean) and
    ``datasets`` row into the transaction; return the rows written per table."""
    counts = dict(staged.counts)
    metadata = staged.metadata(fmt)
    if root:
        metadata.root = root  # where the source's images are found again on export
    if staged.members:
        table = split_members(dataset, staged.members)
        counts["split_members"] = len(table)
        parquet.write_part(
            partition_dir(txn, "split_members", dataset) / PART_FILE, table, ("dataset",)
        )
    categories = staged.categories if staged.categories is not None else schema.empty("categories")
    categories = joint_meaning.annotate(categories, fmt, staged.joint_counts)
    counts["categories"] = len(categories)
    if len(categories):
        parquet.write_part(partition_dir(txn, "categories", dataset) / PART_FILE, categories)
    row = {
        "dataset": [dataset],
        "format": [fmt],
        "source": [source],
        "ingested_at": [datetime.now(timezone.utc)],
        "num_images": [counts["images"]],
        "num_instances": [counts["instances"]],
        "num_keypoints": [counts["keypoints"]],
        "num_frames": [counts["frames"]],
        "num_categories": [counts["categories"]],
        "metadata": [metadata.to_json()],
    }
    parquet.write_part(
        partition_dir(txn, "datasets", dataset) / PART_FILE, schema.conform("datasets", row)
    )
    counts["datasets"] = 1
    return {t: n for t, n in counts.items() if n}


_MEMBER_COLUMNS = pa.schema(
    [("split", pa.string()), ("image_id", pa.int64()), ("stored_in", pa.string())]
)


def _count_joints(instances: pa.Table, counts: dict[int, int]) -> None:
    """The most joints an instance of each category carries, added into ``counts``."""
    known = instances.filter(pc.is_valid(instances["category_id"]))
    per = known.group_by("category_id").aggregate([("num_joints", "max")])
    for category, joints in zip(per["category_id"].to_pylist(), per["num_joints_max"].to_pylist()):
        if joints is not None:
            counts[category] = max(counts.get(category, 0), joints)


def split_members(dataset: str, members: list[pa.Table]) -> pa.Table:
    """The dataset's ``split_members``: each (split, image) once, partitions first, then the
    split lists a source names, in source order."""
    rows = pa.concat_tables([t.cast(_MEMBER_COLUMNS) for t in members])
    split = pc.dictionary_encode(rows["split"].combine_chunks()).indices.to_numpy()
    stored = pc.dictionary_encode(rows["stored_in"].combine_chunks()).indices.to_numpy()
    image = rows["image_id"].to_numpy()
    order = np.lexsort((np.arange(len(rows)), image, stored, split))  # stable within a key
    key = [split[order], stored[order], image[order]]
    first = np.ones(len(order), dtype=bool)
    first[1:] = np.logical_or.reduce([k[1:] != k[:-1] for k in key])
    rows = rows.take(pa.array(np.sort(order[first])))
    rows = rows.append_column("dataset", schema.constant(dataset, len(rows)))
    return schema.conform("split_members", rows)


def _splits_of(tb: pa.Table) -> list[str]:
    if not len(tb):
        return []
    col = tb["split"]
    if pa.types.is_dictionary(col.type):
        col = col.combine_chunks()
        counts = np.bincount(
            col.indices.to_numpy(zero_copy_only=False), minlength=len(col.dictionary)
        )
        return [col.dictionary[int(k)].as_py() for k in np.flatnonzero(counts)]
    return pc.unique(col).to_pylist()


def _rows_of_split(tb: pa.Table, split: str) -> pa.Table:
    """The rows of one split; a slice, not a copy, where they are one run (readers go clip
    by clip, so a batch or kpfile that spans two splits holds each in one run)."""
    col = tb["split"]
    if pa.types.is_dictionary(col.type):
        col = col.combine_chunks()
        code = col.dictionary.to_pylist().index(split)
        mask = col.indices.to_numpy(zero_copy_only=False) == code
    else:
        mask = pc.equal(col, split).to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(mask)
    if len(rows) and rows[-1] - rows[0] + 1 == len(rows):
        return tb.slice(int(rows[0]), len(rows))
    return tb.filter(pa.array(mask))


def merge_categories(have: pa.Table | None, new: pa.Table, source: str) -> pa.Table:
    if have is None:
        return new
    known = {r["category_id"]: r for r in have.to_pylist()}
    keep = []
    for i, r in enumerate(new.to_pylist()):
        old = known.get(r["category_id"])
        if old is None:
            keep.append(i)
        elif old != r:
            raise SourceError(
                source,
                f"categories[{i}]",
                f"category {r['category_id']} differs from the one the earlier files give; "
                "ingest the files as separate datasets",
            )
    return pa.concat_tables([have, new.take(keep)]) if keep else have


def check_split_name(split: str, source: str) -> None:
    """A split name a source gives (its file name, its split lists) names the source when it
    cannot be a split name."""
    problem = schema.name_problem(split, "split")
    if problem:
        raise SourceError(source, None, problem)
