"""The store's commit protocol: a manifest of live files per version (``posestore.snapshot``).

A writer stages its files in ``.posestore/txn/<id>/`` (laid out like the store) while it
holds ``.posestore/txn/<id>.lock``: nothing else touches a transaction whose lock is held,
and recovery removes only those whose writer died. A writer also holds the lock of every
dataset it replaces (``writing``), so two writers of one dataset take turns and neither
loses the other's work; writers of different datasets run at once.

The commit, under the store's lock: the transaction folder is renamed into
``.posestore/data/<id>/`` (files are never changed after that), then the next snapshot is
written, listing the staged files in place of the dataset's old ones and every other
dataset's as they were. Writing the snapshot (a rename) is the commit point: a crash before
leaves the old version, after it the new one. Then the Hive folders that engines other
than posestore read (``<table>/dataset=<name>/…``) are made to match, a dataset's folder
of a table at a time by an atomic exchange of two folders of hard links, and the versions
no reader holds are removed. A crash in those last steps is finished by the next writer
or ``open()``.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson

from posestore import snapshot
from posestore.errors import StoreError
from posestore.layout import (
    CATALOGS,
    DATA_DIR,
    LOCK_FILE,
    LOCKS_DIR,
    META_DIR,
    SYNCED_FILE,
    TABLES,
    TMP_DIR,
    TXN_DIR,
    has_hive_tables,
)
from posestore.parquet import fsync


def partition_dir(root: Path, table: str, dataset: str, split: str | None = None) -> Path:
    """``<root>/<table>/dataset=<dataset>[/split=<split>]``."""
    d = root / table / f"dataset={dataset}"
    return d if split is None else d / f"split={split}"


class Transactions:
    """The transactions of the store at ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.meta = root / META_DIR
        for sub in (TXN_DIR, DATA_DIR, snapshot.SNAPSHOT_DIR, TMP_DIR, LOCKS_DIR):
            (self.meta / sub).mkdir(parents=True, exist_ok=True)
        self._held: dict[Path, int] = {}  # transaction folder → its lock's descriptor
        self._trash: list[Path] = []  # moved aside under the lock, deleted after it

    # -- locks ------------------------------------------------------------------

    @contextmanager
    def locked(self) -> Iterator[None]:
        """The store's lock: one commit (or recovery) at a time."""
        with (self.meta / LOCK_FILE).open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    @contextmanager
    def writing(self, datasets: list[str], waiting=None) -> Iterator[None]:
        """Hold the lock of each dataset (sorted, so two writers never wait on each other);
        ``waiting(name)`` is called before waiting for another writer of ``name``."""
        fds = []
        try:
            for name in sorted(set(datasets)):
                fd = os.open(self.meta / LOCKS_DIR / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
                fds.append(fd)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    if waiting is not None:
                        waiting(name)
                    fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            for fd in fds:
                os.close(fd)

    # -- a transaction's life -------------------------------------------------

    def new(self) -> Path:
        """A new transaction folder, held by this process until committed or discarded."""
        while True:
            name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}"
            lock = self.meta / TXN_DIR / f"{name}.lock"
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.fstat(fd).st_nlink:  # not taken for a dead writer's by a recovery
                break
            os.close(fd)
        txn = self.meta / TXN_DIR / name
        txn.mkdir()
        self._held[txn] = fd
        return txn

    def discard(self, txn: Path) -> None:
        shutil.rmtree(txn, ignore_errors=True)
        self._let_go(txn)

    def _let_go(self, txn: Path) -> None:
        fd = self._held.pop(txn, None)
        if fd is not None:
            (txn.parent / f"{txn.name}.lock").unlink(missing_ok=True)
            os.close(fd)

    @contextmanager
    def discard_unless_committed(self, txn: Path) -> Iterator[None]:
        """On failure, drop the transaction (a committed one is gone from ``txn/`` already)."""
        try:
            yield
        except BaseException:
            self.discard(txn)
            raise

    def commit(self, txn: Path, datasets: dict[str, list[str]], partial: bool = False) -> None:
        """Make the transaction live: each dataset's staged tables replace its tables (all of
        them: a table the dataset has no longer is dropped, unless it is named in the
        dataset's list; with ``partial`` only the staged ones are replaced)."""
        with self.locked():
            base = snapshot.read(self.root, snapshot.latest_seq(self.root))
            data = self.meta / DATA_DIR / txn.name
            os.replace(txn, data)
            tables = apply(base.tables, self.root, txn.name, datasets, partial)
            seq = self._write_snapshot(base.seq + 1, tables)
            self._let_go(txn)
            self._sync_or_warn(seq, tables, datasets)
            self.vacuum()
        self._empty_trash()

    def _write_snapshot(self, seq: int, tables: dict) -> int:
        path = snapshot.snapshot_path(self.root, seq)
        tmp = self.meta / TMP_DIR / f"{path.name}.{uuid.uuid4().hex[:8]}"
        tmp.write_bytes(orjson.dumps({"seq": seq, "tables": tables}))
        fsync(tmp)
        os.replace(tmp, path)  # the commit point
        fsync(path.parent)
        return seq

    # -- the Hive folders other engines read -------------------------------------

    def sync(self, tables: dict, datasets: dict | list | None = None) -> None:
        """Make ``<table>/dataset=<name>/`` hold the snapshot's files (hard links), for the
        named datasets or all: each folder is exchanged whole, so a reader listing it sees
        the old files or the new ones."""
        names = set(datasets) if datasets is not None else None
        skipped: list[str] = []
        for table in TABLES:
            entries = tables.get(table, {})
            live_names = {
                p.name.split("=", 1)[1]
                for p in (self.root / table).glob("dataset=*")
                if names is None or p.name.split("=", 1)[1] in names
            }
            wanted = set(entries) if names is None else names & set(entries)
            for name in sorted(live_names | wanted):
                try:
                    self._sync_one(table, name, entries.get(name))
                except FileNotFoundError as e:
                    data = str(self.meta / DATA_DIR)
                    if not str(e.filename or "").startswith(data):
                        raise
                    skipped.append(f"{table}/dataset={name}")
        if skipped:  # a damaged dataset (a file gone): its folders stay, the others are synced
            import warnings

            warnings.warn(
                f"the Hive folders {', '.join(skipped)} were left as they were: a file of "
                "theirs is missing from the store (`posestore check` lists the damage)",
                stacklevel=3,
            )

    def _sync_one(self, table: str, name: str, entry: dict | None) -> None:
        live = partition_dir(self.root, table, name)
        if entry is None or not entry["files"]:
            if live.exists():
                self._throw_away(live)
            return
        source = snapshot.data_folder(self.root, entry["dir"], table, name)
        names = {f: hive_name(f, entry["dir"]) for f in entry["files"]}
        if live.is_dir() and _same_files(live, source, names):
            return
        staged = self.meta / TMP_DIR / uuid.uuid4().hex
        for f, shown in names.items():
            (staged / shown).parent.mkdir(parents=True, exist_ok=True)
            os.link(source / f, staged / shown)
        if live.exists():
            exchange(staged, live)
            self._trash.append(staged)  # now the old files
        else:
            live.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, live)

    def _sync_or_warn(self, seq: int, tables: dict, datasets: dict | None = None) -> None:
        """``sync``; past the commit point a failure is a warning, not an error: posestore's
        readers already read the new version, and the next ``open`` tries again."""
        try:
            self.sync(tables, datasets)
        except (OSError, StoreError) as e:
            import warnings

            warnings.warn(
                f"version {seq} is committed, but the Hive folders other engines read still "
                f"show an older one ({e}); the next posestore command brings them up to date",
                stacklevel=3,
            )
            return
        self._mark_synced(seq)

    def _mark_synced(self, seq: int) -> None:
        tmp = self.meta / TMP_DIR / f"{SYNCED_FILE}.{uuid.uuid4().hex[:8]}"
        tmp.write_text(str(seq))
        os.replace(tmp, self.meta / SYNCED_FILE)

    def _synced(self) -> int:
        try:
            return int((self.meta / SYNCED_FILE).read_text())
        except (FileNotFoundError, ValueError):
            return -1

    # -- cleaning up ----------------------------------------------------------------

    def vacuum(self) -> None:
        """Remove the snapshots no reader holds (never the current one), then the data
        folders no remaining snapshot lists, and leftovers of interrupted swaps."""
        seqs = snapshot.sequences(self.root)
        for seq in seqs[:-1]:
            path = snapshot.snapshot_path(self.root, seq)
            fd = os.open(path, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            path.unlink()
            os.close(fd)
        used: set[str] = set()
        for seq in snapshot.sequences(self.root):
            for entries in snapshot.read(self.root, seq).tables.values():
                used.update(e["dir"] for e in entries.values())
        for folder in (self.meta / DATA_DIR).iterdir():
            if folder.name not in used:
                self._throw_away(folder)
        for leftover in (self.meta / TMP_DIR).iterdir():
            if leftover not in self._trash:
                self._throw_away(leftover)

    def _throw_away(self, path: Path) -> None:
        """Move ``path`` aside (one rename, under the lock); ``_empty_trash`` deletes it."""
        if path.parent != self.meta / TMP_DIR:
            aside = self.meta / TMP_DIR / f"trash-{uuid.uuid4().hex}"
            os.replace(path, aside)
            path = aside
        self._trash.append(path)

    def _empty_trash(self) -> None:
        """Delete what the last commit moved aside, after the store's lock is released (file
        systems take milliseconds per folder removed; other writers need not wait)."""
        trash, self._trash = self._trash, []
        for path in trash:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    def recover(self) -> None:
        """Under the store's lock: drop the transactions of writers that died (never a live
        one), adopt a store written before snapshots existed, finish an interrupted sync of
        the Hive folders, and vacuum."""
        txn_root = self.meta / TXN_DIR
        for lock in sorted(txn_root.glob("*.lock")):
            try:
                fd = os.open(lock, os.O_RDWR)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue  # its writer is alive
            shutil.rmtree(txn_root / lock.stem, ignore_errors=True)
            lock.unlink(missing_ok=True)
            os.close(fd)
        for folder in txn_root.iterdir():  # a writer always locks before it makes the folder
            if folder.is_dir() and not (txn_root / f"{folder.name}.lock").exists():
                shutil.rmtree(folder, ignore_errors=True)
        seq = snapshot.latest_seq(self.root)
        if seq == 0 and has_hive_tables(self.root):
            seq = self._adopt()
        if self._synced() != seq:
            self._sync_or_warn(seq, snapshot.read(self.root, seq).tables)
        self.vacuum()

    def recover_and_clean(self) -> None:
        """``recover`` under the store's lock, then delete what it threw away."""
        with self.locked():
            self.recover()
        self._empty_trash()

    def _adopt(self) -> int:
        """A store from before snapshots: its Hive folders become version 1 (hard links)."""
        name = f"{time.time_ns()}-adopted"
        tables: dict[str, dict] = {}
        for table in TABLES:
            for live in sorted((self.root / table).glob("dataset=*")):
                dataset = live.name.split("=", 1)[1]
                files = sorted(
                    str(f.relative_to(live))
                    for f in live.rglob("*.parquet")
                    if (table in CATALOGS) == (f.parent == live)
                )
                target = snapshot.data_folder(self.root, name, table, dataset)
                for f in files:
                    (target / f).parent.mkdir(parents=True, exist_ok=True)
                    os.link(live / f, target / f)
                tables.setdefault(table, {})[dataset] = {
                    "dir": name,
                    "files": files,
                    "bytes": _sizes(target, files),
                }
        return self._write_snapshot(1, tables)


def apply(
    tables: dict, root: Path, txn: str, datasets: dict[str, list[str]], partial: bool
) -> dict:
    """The next version's tables: ``tables`` with the transaction ``txn``'s staged files in
    place of its datasets' (see ``Transactions.commit``)."""
    out = {table: dict(entries) for table, entries in tables.items()}
    for dataset, keep in datasets.items():
        for table in TABLES:
            folder = snapshot.data_folder(root, txn, table, dataset)
            files = sorted(str(f.relative_to(folder)) for f in folder.rglob("*.parquet"))
            entries = out.setdefault(table, {})
            if files:
                entries[dataset] = {"dir": txn, "files": files, "bytes": _sizes(folder, files)}
            elif not partial and table not in keep:
                entries.pop(dataset, None)
    return {table: entries for table, entries in out.items() if entries}


def _sizes(folder: Path, files: list[str]) -> list[int]:
    """The files' sizes, kept in the manifest: a reader finds a cut or replaced file by a stat."""
    return [os.stat(folder / f).st_size for f in files]


def hive_name(file: str, txn: str) -> str:
    """A file's name in the Hive folders: its version's transaction in front
    (``split=val/<txn>-part-00000.parquet``). A plain reader that listed a folder before
    a swap and opens a file after it then finds the file gone (a loud error), never
    the next version's file under the same name (a silent mix)."""
    folder, _, base = file.rpartition("/")
    return f"{folder}/{txn}-{base}" if folder else f"{txn}-{base}"


def _same_files(live: Path, source: Path, names: dict[str, str]) -> bool:
    have = sorted(str(f.relative_to(live)) for f in live.rglob("*") if not f.is_dir())
    if have != sorted(names.values()):
        return False
    return all(os.stat(live / n).st_ino == os.stat(source / f).st_ino for f, n in names.items())


_libc = ctypes.CDLL(None, use_errno=True)
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def exchange(a: Path, b: Path) -> None:
    """Swap two folders in one step (Linux ``renameat2(RENAME_EXCHANGE)``); where the file
    system cannot, two renames (a reader may then find ``b`` missing for a moment)."""
    renameat2 = getattr(_libc, "renameat2", None)
    if renameat2 is not None:
        if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise StoreError(f"cannot swap {b} in: {os.strerror(err)}")
    aside = a.with_name(a.name + ".old")
    os.replace(b, aside)
    os.replace(a, b)
    os.replace(aside, a)


def rename(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dst)
