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
)
"""Every table of a store (their columns: ``posestore.schema``)."""

CATALOGS = ("datasets", "categories", "split_members")
"""Tables partitioned by dataset only."""

SPLIT_TABLES = ("images", "instances", "keypoints", "frames")
"""Tables partitioned by dataset and split."""

META_DIR = ".posestore"
LOCK_FILE = "lock"
TXN_DIR = "txn"
JOURNAL = "JOURNAL.json"
PART_FILE = "part-00000.parquet"
DEFAULT_STORE = "posestore-data"


def table_glob(root: Path, table: str) -> str:
    """The glob that reads ``table`` with any engine (``read_parquet``, ``scan_parquet``)."""
    depth = "*" if table in CATALOGS else "*/*"
    return str(Path(root) / table / depth / "*.parquet")


def has_files(root: Path, table: str) -> bool:
    return any((Path(root) / table).glob("dataset=*/**/*.parquet"))
