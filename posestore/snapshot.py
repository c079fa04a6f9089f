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
import warnings
from collections.abc import Iterator
from pathlib import Path

from posestore.errors import StoreDamaged, StoreError
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
        self.damaged: dict[str, str] = {}
        """Datasets found damaged, with the first damage found: left out of ``datasets``,
        ``has`` and ``files``, so every read serves the others (the writer's ``tables`` keep
        them, for a re-ingest or ``rm`` to replace)."""
        self.counted: set[str] = set()
        """Datasets whose tables' rows were found to number what their catalog row says."""

    def datasets(self) -> list[str]:
        return sorted(d for d in self.tables.get("datasets", {}) if d not in self.damaged)

    def has(self, table: str) -> bool:
        return any(
            entry["files"]
            for name, entry in self.tables.get(table, {}).items()
            if name not in self.damaged
        )

    def entries(self) -> Iterator[tuple[str, str, Path, int | None]]:
        """Every file this version lists, damaged datasets' too: ``(table, dataset, path,
        bytes)``, ``bytes`` the size at the commit (None in versions that did not say)."""
        for table, datasets in sorted(self.tables.items()):
            for name, entry in sorted(datasets.items()):
                base = data_folder(self.root, entry["dir"], table, name)
                sizes = entry.get("bytes") or [None] * len(entry["files"])
                for f, size in zip(entry["files"], sizes, strict=True):
                    yield table, name, base / f, size

    def mark_damaged(self, dataset: str, table: str, path: Path | None, what: str) -> None:
        """Leave ``dataset`` out of every read of this version, and say so once."""
        if dataset in self.damaged:
            return
        where = f" {os.path.relpath(path, self.root)}" if path is not None else ""
        self.damaged[dataset] = f"{table}:{where} {what}"
        warnings.warn(
            StoreDamaged(
                f"store damaged: dataset {dataset!r} is left out of every answer "
                f"({self.damaged[dataset]}); `posestore check` lists the damage; re-ingest "
                f"the dataset or `posestore rm {dataset}`",
                dataset,
            ),
            stacklevel=2,
        )

    def check_sizes(self) -> None:
        """Mark the datasets whose files are gone or no longer the size they were committed
        at (a stat per file: cheap enough for every hold), and those without a catalog file."""
        catalogued = set(self.tables.get("datasets", {}))
        listed = {name for entries in self.tables.values() for name in entries}
        for name in sorted(listed - catalogued):
            self.mark_damaged(name, "datasets", None, no_catalog_row(self.tables_of(name)))
        for table, name, path, size in self.entries():
            what = None if name in self.damaged else size_damage(path, size)
            if what is not None:
                self.mark_damaged(name, table, path, what)

    def tables_of(self, dataset: str) -> list[str]:
        """The tables that list files of ``dataset``."""
        return [t for t, entries in sorted(self.tables.items()) if dataset in entries]

    def folder(self, table: str, dataset: str) -> Path:
        """Where the dataset's files of ``table`` live in this version."""
        entry = self.tables[table][dataset]
        return data_folder(self.root, entry["dir"], table, dataset)

    def files(self, table: str, dataset: str | None = None, split: str | None = None) -> list[Path]:
        """The table's live files (of one dataset, of one of its split partitions)."""
        out = []
        for name, entry in sorted(self.tables.get(table, {}).items()):
            if (dataset is not None and name != dataset) or name in self.damaged:
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


def size_damage(path: Path, size: int | None) -> str | None:
    """What a stat tells of a listed file: gone, or not the size it was committed at."""
    try:
        have = os.stat(path).st_size
    except FileNotFoundError:
        return "is missing"
    if size is not None and have != size:
        return f"is {have:,} bytes, {size:,} when it was committed"
    return None


def no_catalog_row(tables: list[str]) -> str:
    return f"has no row for it (its files in {', '.join(tables)})"


def catalog_rows(n: int) -> str:
    return f"holds {n} rows for it, not one"


def rows_disagree(have: int, said: int) -> str:
    return f"holds {have:,} rows, the catalog says {said:,}"


def owner(root: Path, path: Path) -> tuple[str, str] | None:
    """The table and dataset a data file of the store belongs to (None for another file)."""
    try:
        parts = Path(path).relative_to(Path(root) / META_DIR / DATA_DIR).parts
    except ValueError:
        return None
    if len(parts) < 3 or not parts[2].startswith("dataset="):
        return None
    return parts[1], parts[2].split("=", 1)[1]


def data_folder(root: Path, txn: str, table: str, dataset: str) -> Path:
    return Path(root) / META_DIR / DATA_DIR / txn / table / f"dataset={dataset}"


def read(root: Path, seq: int) -> Snapshot:
    """Snapshot ``seq`` without a lock (for the writer, which holds the store's lock)."""
    if seq == 0:
        return Snapshot(root, 0, {})
    path = snapshot_path(root, seq)
    return Snapshot(root, seq, _tables(path, path.read_bytes()))


def _tables(path: Path, data: bytes) -> dict[str, dict[str, dict]]:
    """A manifest's tables, or one line saying it is damaged."""
    try:
        tables = json.loads(data)["tables"]
        for datasets in tables.values():
            for entry in datasets.values():
                if not (isinstance(entry["dir"], str) and isinstance(entry["files"], list)):
                    raise TypeError("an entry without a folder and a file list")
                if not all(isinstance(f, str) for f in entry["files"]):
                    raise TypeError("a file name that is not a string")
                sizes = entry.get("bytes")
                if sizes is not None and (
                    not isinstance(sizes, list)
                    or len(sizes) != len(entry["files"])
                    or not all(type(n) is int and 0 <= n < 2**63 for n in sizes)
                ):
                    raise TypeError("an entry whose sizes are not one byte count per file")
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise StoreError(
            f"store damaged: its current version {path} is not a readable manifest ({e}); "
            "no dataset can be served; `posestore check` lists the damage"
        ) from None
    return tables


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
        try:
            with os.fdopen(os.dup(fd), "rb") as fh:
                snap = Snapshot(root, seq, _tables(snapshot_path(root, seq), fh.read()))
        except BaseException:
            os.close(fd)
            raise
        snap._fd = fd
        snap.check_sizes()
        return snap
    raise StoreError(f"{root}: no snapshot could be held (the store changes too fast)")
