"""The store's folder layout as constants: importable without PyArrow (the CLI's fast path)."""

from __future__ import annotations

from pathlib import Path

TABLES = (
    "datasets",
    "categories",
    "split_members",
    "images",
    "instances",
    "keypoints",
    "frames",
    "eval_matches",
    "eval_joints",
)
"""Every table of a store (their columns: ``posestore.schema``)."""

CATALOGS = ("datasets", "categories", "split_members")
"""Tables partitioned by dataset only."""

SPLIT_TABLES = ("images", "instances", "keypoints", "frames")
"""A dataset's own tables partitioned by dataset and split (what a reader yields)."""

EVAL_TABLES = ("eval_matches", "eval_joints")
"""Written by ``posestore eval`` for a predictions dataset, partitioned by its dataset and split."""

META_DIR = ".posestore"
LOCK_FILE = "lock"
TXN_DIR = "txn"
DATA_DIR = "data"
"""Every version's files, one folder per transaction that wrote them (never changed)."""
SNAPSHOT_DIR = "snapshots"
"""One manifest of live files per version (``posestore.snapshot``)."""
TMP_DIR = "tmp"
LOCKS_DIR = "locks"
SYNCED_FILE = "synced"
"""The version the Hive folders show (behind the current one only after a crash)."""
PART_FILE = "part-00000.parquet"
DEFAULT_STORE = "posestore-data"


COUNTED = {
    "images": "num_images",
    "instances": "num_instances",
    "keypoints": "num_keypoints",
    "frames": "num_frames",
    "categories": "num_categories",
}
"""The catalog's count of each table's rows."""


def has_hive_tables(root: Path | str) -> bool:
    """``root`` holds a table's Hive folders (``images/dataset=coco``): a store, perhaps one
    written before versions existed."""
    return any(any((Path(root) / t).glob("dataset=*")) for t in TABLES)


def no_store(root: Path | str) -> str:
    """What to say when there is no store at ``root``: where posestore looks for one."""
    return (
        f"no store at {root}; pass --store DIR (Python: posestore.open(DIR)) or set "
        f"$POSESTORE_STORE to your store's folder (default ./{DEFAULT_STORE}; "
        "posestore ingest creates it)"
    )


def table_glob(root: Path, table: str) -> str:
    """The glob that reads ``table``'s current version with any engine (``read_parquet``,
    ``scan_parquet``): the Hive folders, which show each commit's files per dataset
    folder at once (posestore's own readers read a snapshot's file list instead)."""
    depth = "*" if table in CATALOGS else "*/*"
    return str(Path(root) / table / depth / "*.parquet")


def empty_file(root: Path, table: str) -> Path:
    """A Parquet file with the table's columns and no rows, kept in the store's bookkeeping
    folder: views of tables without data read it, without PyArrow."""
    return Path(root) / META_DIR / "schema" / f"{table}.parquet"
