"""``posestore check``: find what is damaged in a store, by hand or by a disk.

Checks the current version's manifest, every file it lists (there, the size it was committed
at, a readable footer, and with ``deep`` every page decoded and its checksum verified), the
catalog (one row per dataset, its counts equal to the rows the tables hold) and the Hive
folders other engines read (the current version's files, nothing else). Reads a file at a
time and a row group at a time: memory follows the largest row group, not the store.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from posestore import snapshot as snapshots
from posestore.errors import StoreError, first_line
from posestore.layout import COUNTED, TABLES


@dataclass(frozen=True)
class Damage:
    """One thing wrong: in which dataset and table (None: the whole store), which file."""

    dataset: str | None
    table: str | None
    path: str | None
    what: str
    hive: bool = False
    """Only the Hive folders other engines read are wrong (``relink`` repairs it)."""

    def line(self) -> str:
        where = [f"dataset {self.dataset!r}" if self.dataset else "the store"]
        if self.table:
            where.append(f"table {self.table}")
        if self.path:
            where.append(self.path)
        return f"{', '.join(where)}: {self.what}"


@dataclass
class Checked:
    """What ``check`` read, and what it found."""

    root: Path
    version: int = 0
    datasets: int = 0
    files: int = 0
    bytes: int = 0
    rows: int = 0
    deep: bool = True
    damage: list[Damage] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.damage


def check(
    root: Path,
    deep: bool = True,
    datasets: list[str] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> Checked:
    """Check the store at ``root`` (only ``datasets``, when named) and say what is damaged."""
    import warnings

    import pyarrow.parquet as pq

    from posestore.errors import StoreDamaged
    from posestore.layout import META_DIR, no_store

    root = Path(root)
    if not (root / META_DIR).is_dir():
        raise StoreError(no_store(root))
    out = Checked(root, deep=deep)
    seq = snapshots.latest_seq(root)
    out.version = seq
    if seq == 0:
        return out
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StoreDamaged)  # reported here, each one
            held = snapshots.current(root)  # its files stay while they are checked
    except StoreError as e:
        out.damage.append(
            Damage(None, None, _rel(root, snapshots.snapshot_path(root, seq)), str(e))
        )
        return out
    out.version = held.seq
    snap = snapshots.Snapshot(root, held.seq, held.tables)  # every dataset, none left out
    names = sorted({d for entries in snap.tables.values() for d in entries})
    unknown = sorted(set(datasets or []) - set(names))
    if unknown:
        raise StoreError(f"no dataset {unknown[0]!r} in {root} (datasets: {', '.join(names)})")
    chosen = set(datasets or names)
    out.datasets = len(chosen)
    entries = [e for e in snap.entries() if e[1] in chosen]
    rows: dict[tuple[str, str], int] = {}
    bad: set[tuple[str, str]] = set()
    for i, (table, dataset, path, size) in enumerate(entries):
        if progress:
            progress("checking files", i, len(entries))
        found = _check_file(root, table, dataset, path, size, deep, out)
        if found is None:
            bad.add((table, dataset))
        else:
            rows[(table, dataset)] = rows.get((table, dataset), 0) + found
    if progress:
        progress("checking files", len(entries), len(entries))
    for dataset in sorted(chosen):
        out.damage.extend(_check_catalog(snap, dataset, rows, bad, pq))
    out.damage.extend(check_hive(root, None if not datasets else chosen))
    held.release()
    return out


def check_hive(root: Path, datasets: set[str] | None = None) -> list[Damage]:
    """The Hive folders against the current version, under the store's lock (a commit
    syncs them under it too). A sync still to finish (after a crash) is not damage: the
    next command finishes it."""
    from posestore.transaction import Transactions

    txns = Transactions(Path(root))
    with txns.locked():
        seq = snapshots.latest_seq(Path(root))
        if seq == 0 or txns._synced() != seq:
            return []
        snap = snapshots.read(Path(root), seq)
        names = {d for entries in snap.tables.values() for d in entries}
        return _check_hive(Path(root), snap, datasets or names, strays=datasets is None)


def _check_file(root, table, dataset, path: Path, size, deep, out: Checked) -> int | None:
    """The file's rows, or None when it is damaged (said in ``out``)."""
    where = _rel(root, path)
    what = snapshots.size_damage(path, size)
    if what != "is missing":
        out.files += 1
        out.bytes += os.stat(path).st_size
    if what is not None:
        out.damage.append(Damage(dataset, table, where, what))
        return None
    n, what = read_pages(path, deep)
    if what is not None:
        out.damage.append(Damage(dataset, table, where, what))
        return None
    out.rows += n
    return n


def read_pages(path: Path, deep: bool = True) -> tuple[int, str | None]:
    """A part file's rows, and what is wrong with it (None: nothing): its footer read and,
    with ``deep``, every page decoded and its checksum verified, a row group at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        part = pq.ParquetFile(path, page_checksum_verification=True)
        n = part.metadata.num_rows
        if deep:
            for g in range(part.num_row_groups):
                part.read_row_group(g)
    except (MemoryError, pa.ArrowMemoryError):
        raise  # the machine's trouble, not the file's
    except Exception as e:  # noqa: BLE001 - whatever the decoder says is the damage
        return 0, f"cannot be read ({first_line(e)})"
    return n, None


def _check_catalog(
    snap, dataset: str, rows: dict[tuple[str, str], int], bad: set[tuple[str, str]], pq
) -> list[Damage]:
    """The dataset's one catalog row, and its counts against the rows its tables hold."""
    if "datasets" not in snap.tables or dataset not in snap.tables["datasets"]:
        what = snapshots.no_catalog_row(snap.tables_of(dataset))
        return [Damage(dataset, "datasets", None, what)]
    if ("datasets", dataset) in bad:
        return []  # its catalog file is damaged, said already
    files = snap.files("datasets", dataset)
    catalog = [r for f in files for r in pq.read_table(f).to_pylist()]
    if len(catalog) != 1 or catalog[0]["dataset"] != dataset:
        where = _rel(snap.root, files[0]) if files else None
        return [Damage(dataset, "datasets", where, snapshots.catalog_rows(len(catalog)))]
    found = []
    for table, column in COUNTED.items():
        said = catalog[0][column] or 0
        if (table, dataset) in bad:
            continue  # a damaged file of the table, said already
        have = rows.get((table, dataset), 0)
        if have != said:
            found.append(Damage(dataset, table, None, snapshots.rows_disagree(have, said)))
    return found


def _check_hive(root: Path, snap, chosen: set[str], strays: bool) -> list[Damage]:
    """Each Hive folder holds the current version's files (hard links) and nothing else; with
    ``strays``, no folder is of a dataset the version does not have."""
    from posestore.transaction import hive_name, partition_dir

    found = []
    for table in TABLES:
        entries = snap.tables.get(table, {})
        on_disk = {p.name.split("=", 1)[1] for p in (root / table).glob("dataset=*")}
        for dataset in sorted((on_disk | set(entries)) & (chosen | (on_disk if strays else set()))):
            live = partition_dir(root, table, dataset)
            entry = entries.get(dataset)
            if entry is None:
                found.append(Damage(dataset, table, _rel(root, live), _STRAY, hive=True))
                continue
            source = snapshots.data_folder(root, entry["dir"], table, dataset)
            want = {hive_name(f, entry["dir"]): source / f for f in entry["files"]}
            have = (
                {str(f.relative_to(live)): f for f in live.rglob("*") if not f.is_dir()}
                if live.is_dir()
                else {}
            )
            wrong = [n for n in want if n not in have or not _same_file(have[n], want[n])]
            extra = sorted(set(have) - set(want))
            if wrong or extra:
                what = (
                    f"the Hive folder other engines read differs from the current version "
                    f"({len(wrong)} of {len(want)} files missing or other, {len(extra)} extra); "
                    "`posestore check --relink` links it again"
                )
                found.append(Damage(dataset, table, _rel(root, live), what, hive=True))
    return found


_STRAY = (
    "a Hive folder of a dataset the current version does not have in this table; "
    "`posestore check --relink` removes it"
)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.stat(a).st_ino == os.stat(b).st_ino
    except FileNotFoundError:
        return False


def relink(root: Path) -> None:
    """Make the Hive folders hold the current version's files again (under the store's
    lock, each folder exchanged whole, as a commit does)."""
    from posestore.transaction import Transactions

    txns = Transactions(Path(root))
    with txns.locked():
        seq = snapshots.latest_seq(Path(root))
        try:
            txns.sync(snapshots.read(Path(root), seq).tables if seq else {})
        except FileNotFoundError as e:
            raise StoreError(
                f"cannot link the Hive folders again: {e.filename} is missing (a damaged "
                "dataset: re-ingest it or `posestore rm` it first)"
            ) from None
        txns._mark_synced(seq)
    txns._empty_trash()


def _rel(root: Path, path: Path) -> str:
    return os.path.relpath(path, root)
