"""Reading the store's current version: the manifest of its live files.

Each commit writes ``.posestore/snapshots/<seq>.json``, the list of every table's live files
per dataset (kept in ``.posestore/data/<txn>/``, never changed once written). The highest
``seq`` is the current version. A reader holds a shared lock on the snapshot it reads for as
long as it may read its files, and the writer that commits removes an older snapshot (and
the files only it lists) only when it can take that lock itself: a reader never sees a file
vanish, never sees a mix of two versions, and never waits for a writer.

Importable without PyArrow: ``posestore sql`` binds its views from this alone.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from pathlib import Path

from posestore.errors import StoreError
from posestore.layout import DATA_DIR, META_DIR, SNAPSHOT_DIR

_NAME = re.compile(r"(\d{12})\.json")


def snapshot_dir(root: Path) -> Path:
    return Path(root) / META_DIR / SNAPSHOT_DIR


def snapshot_path(root: Path, seq: int) -> Path:
    return snapshot_dir(root) / f"{seq:012d}.json"


def sequences(root: Path) -> list[int]:
    """The sequence numbers of the snapshots on disk, in order (current last)."""
    try:
        names = os.listdir(snapshot_dir(root))
    except FileNotFoundError:
        return []
    return sorted(int(m.group(1)) for m in map(_NAME.fullmatch, names) if m)


def latest_seq(root: Path) -> int:
    """The current version's number (0: an empty store)."""
    seqs = sequences(root)
    return seqs[-1] if seqs else 0


class Snapshot:
    """One version of the store: per table and dataset, the folder holding its files and
    the files' names relative to ``<table>/dataset=<name>/`` (``split=val/part-00000.parquet``).
    """

    def __init__(self, root: Path, seq: int, tables: dict[str, dict[str, dict]]) -> None:
        self.root = Path(root)
        self.seq = seq
        self.tables = tables
        self._fd: int | None = None

    def datasets(self) -> list[str]:
        return sorted(self.tables.get("datasets", {}))

    def has(self, table: str) -> bool:
        return any(entry["files"] for entry in self.tables.get(table, {}).values())

    def folder(self, table: str, dataset: str) -> Path:
        """Where the dataset's files of ``table`` live in this version."""
        entry = self.tables[table][dataset]
        return data_folder(self.root, entry["dir"], table, dataset)

    def files(self, table: str, dataset: str | None = None, split: str | None = None) -> list[Path]:
        """The table's live files (of one dataset, of one of its split partitions)."""
        out = []
        for name, entry in sorted(self.tables.get(table, {}).items()):
            if dataset is not None and name != dataset:
                continue
            base = data_folder(self.root, entry["dir"], table, name)
            for f in entry["files"]:
                if split is None or f.startswith(f"split={split}/"):
                    out.append(base / f)
        return out

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        self.release()


def data_folder(root: Path, txn: str, table: str, dataset: str) -> Path:
    return Path(root) / META_DIR / DATA_DIR / txn / table / f"dataset={dataset}"


def read(root: Path, seq: int) -> Snapshot:
    """Snapshot ``seq`` without a lock (for the writer, which holds the store's lock)."""
    if seq == 0:
        return Snapshot(root, 0, {})
    doc = json.loads(snapshot_path(root, seq).read_bytes())
    return Snapshot(root, seq, doc["tables"])


def current(root: Path) -> Snapshot:
    """The current version, held: its files stay until ``release()`` (or the process ends),
    whatever later commits do."""
    for _ in range(1000):
        seq = latest_seq(root)
        if seq == 0:
            return Snapshot(root, 0, {})
        try:
            fd = os.open(snapshot_path(root, seq), os.O_RDONLY)
        except FileNotFoundError:  # vacuumed between the listing and the open: a newer one is
            continue
        fcntl.flock(fd, fcntl.LOCK_SH)
        if os.fstat(fd).st_nlink == 0:  # vacuumed before the lock was taken
            os.close(fd)
            continue
        with os.fdopen(os.dup(fd), "rb") as fh:
            doc = json.loads(fh.read())
        snap = Snapshot(root, seq, doc["tables"])
        snap._fd = fd
        return snap
    raise StoreError(f"{root}: no snapshot could be held (the store changes too fast)")
