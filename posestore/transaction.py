"""The store's transactions: every new file is written in ``.posestore/txn/<id>/`` (laid
out like the store), then a journal is written and the transaction's partition folders
are swapped in by renames under the store's lock; a crash in the middle is finished by the
next recovery, and a transaction without a journal is thrown away."""

from __future__ import annotations

import fcntl
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson

from posestore import schema
from posestore.layout import JOURNAL, LOCK_FILE, META_DIR, TXN_DIR
from posestore.parquet import fsync


def partition_dir(root: Path, table: str, dataset: str, split: str | None = None) -> Path:
    """``<root>/<table>/dataset=<dataset>[/split=<split>]``."""
    d = root / table / f"dataset={dataset}"
    return d if split is None else d / f"split={split}"


class Transactions:
    """The transactions of the store at ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / META_DIR / TXN_DIR).mkdir(parents=True, exist_ok=True)

    @contextmanager
    def locked(self) -> Iterator[None]:
        with (self.root / META_DIR / LOCK_FILE).open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def recover(self) -> None:
        for txn in sorted((self.root / META_DIR / TXN_DIR).iterdir()):
            journal = txn / JOURNAL
            if journal.exists():
                self.apply(txn, orjson.loads(journal.read_bytes()))
            shutil.rmtree(txn, ignore_errors=True)

    def apply(self, txn: Path, journal: dict) -> None:
        """Swap the transaction's partitions in; idempotent, so recovery can run it again.

        A dataset's tables the transaction does not write are removed, except for the
        datasets listed under ``partial`` (eval tables, a corrected skeleton), whose other
        tables stay as they are."""
        trash = txn / "trash"
        partial = set(journal.get("partial", ()))
        for dataset, tables in journal["datasets"].items():
            for table in schema.SCHEMAS:
                live = partition_dir(self.root, table, dataset)
                staged = partition_dir(txn, table, dataset)
                if staged.exists():
                    if live.exists():
                        rename(live, partition_dir(trash, table, dataset))
                    rename(staged, live)
                elif table not in tables and dataset not in partial and live.exists():
                    rename(live, partition_dir(trash, table, dataset))

    def commit(self, txn: Path, datasets: dict[str, list[str]], partial: bool = False) -> None:
        """Make the transaction live: each dataset's staged tables replace its tables (all of
        them; with ``partial`` only the staged ones)."""
        journal = txn / JOURNAL
        tmp = txn / (JOURNAL + ".tmp")
        entry = {"datasets": datasets, "partial": list(datasets) if partial else []}
        tmp.write_bytes(orjson.dumps(entry))
        fsync(tmp)
        with self.locked():
            os.replace(tmp, journal)
            fsync(txn)  # the journal's rename reaches the disk
            self.apply(txn, entry)
        shutil.rmtree(txn, ignore_errors=True)

    def new(self) -> Path:
        txn = self.root / META_DIR / TXN_DIR / f"{time.time_ns()}-{uuid.uuid4().hex[:8]}"
        txn.mkdir(parents=True)
        return txn

    @contextmanager
    def discard_unless_committed(self, txn: Path) -> Iterator[None]:
        """On failure, drop a transaction that has no journal; one with a journal is finished
        by the next recovery, as after a crash."""
        try:
            yield
        except BaseException:
            if not (txn / JOURNAL).exists():
                shutil.rmtree(txn, ignore_errors=True)
            raise


def rename(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dst)
