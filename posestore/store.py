"""The store's facade: open / ingest / sql / scan / stats / validate / eval / export.

Layout (DESIGN.md): ``<store>/<table>/dataset=<name>/split=<split>/part-*.parquet``,
catalogs ``<store>/<table>/dataset=<name>/part-*.parquet``. The rooms behind it:
``posestore.transaction`` (locks, commit, recovery), ``posestore.snapshot`` (the version a
reader reads), ``posestore.parquet`` (how
parts are written), ``posestore.queries.subset`` (selections read back as Tables);
staging a source's bundles into a transaction (split partitions, catalogs, split lists)
is here.
"""

from __future__ import annotations

import errno
import functools
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from posestore import joint_meaning, parquet, schema, staging
from posestore import snapshot as snapshots
from posestore.errors import PoseStoreError, SourceError, StoreError, first_line
from posestore.layout import (  # noqa: F401 - part of this module's surface
    DEFAULT_STORE,
    LOCK_FILE,
    META_DIR,
    PART_FILE,
    TXN_DIR,
    empty_file,
    no_store,
    table_glob,
)
from posestore.metadata import DatasetMeta
from posestore.output import staged
from posestore.queries import subset
from posestore.schema import check_name  # noqa: F401 - part of this module's surface
from posestore.staging import merge_categories, split_members
from posestore.transaction import Transactions, partition_dir

if TYPE_CHECKING:
    from posestore.queries.view import PoseView

ENGINES = ("local", "ray")
"""Where an ingest reads: in this process, or as Ray tasks (``posestore[ray]``)."""

Progress = Callable[[str, int, int], None]
"""``progress(message, done, total)``: called as ingest and export advance."""


@dataclass
class Ingested:
    """What an ingest wrote: one entry per dataset."""

    dataset: str
    format: str
    counts: dict[str, int] = field(default_factory=dict)
    splits: list[str] = field(default_factory=list)
    seconds: float = 0.0
    replaced: str = "new"
    """``new`` (no such dataset before), ``dataset`` (all of it replaced) or ``splits`` (only
    the splits ingested; the others kept: ``kept``)."""
    kept: list[str] = field(default_factory=list)


def open(path: str | os.PathLike | None = None, create: bool = True) -> Store:  # noqa: A001
    """Open the store at ``path`` (default ``$POSESTORE_STORE`` or ``./posestore-data``).

    Discards the transactions of writers that died and finishes a commit a crash
    interrupted; never touches a live writer's transaction.
    """
    root = Path(path or os.environ.get("POSESTORE_STORE") or DEFAULT_STORE).expanduser()
    if not root.exists():
        if not create:
            raise StoreError(no_store(root))
        root.mkdir(parents=True)
    elif not root.is_dir():
        raise StoreError(f"{root} is not a folder")
    return Store(root)


class _Unreadable(Exception):
    """A part file of this dataset could not be read; the dataset is now marked damaged."""


def _one_version(method: Callable | None = None, *, retry: bool = True) -> Callable:
    """A read of several steps (an export, stats, a view…) reads one version throughout: the
    newest when it begins, whatever commits land meanwhile. With ``retry``, when it fails on
    a file it read (a page DuckDB cannot decode, or decoded values that make no sense), the
    files are checked: a damaged dataset is marked, and the read runs again without it, on
    the same version (a writer, which must not run twice, does not retry)."""
    if method is None:
        return functools.partial(_one_version, retry=retry)

    @functools.wraps(method)
    def read(self: Store, *args, **kwargs):
        if self._frozen:
            return method(self, *args, **kwargs)
        self.snapshot  # noqa: B018 - the newest version, bound once
        self._frozen += 1
        try:
            while True:  # ends: each retry follows a dataset newly marked, of finitely many
                try:
                    return method(self, *args, **kwargs)
                except (PoseStoreError, MemoryError):
                    raise
                except Exception as e:
                    if not retry or not self._found_damage(e, [*args, *kwargs.values()]):
                        raise
        finally:
            self._frozen -= 1

    return read


class Store:
    """A posestore folder. Use ``posestore.open(path)``."""

    _scope: tuple[str, str | None, bool] | None = None

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._txns = Transactions(self.root)
        self._con = None
        self._snap: snapshots.Snapshot | None = None
        self._previous: snapshots.Snapshot | None = None
        self._frozen = 0  # inside a read of several steps: the version stays the one it began with
        self._owns_snap = True
        for table in schema.SCHEMAS:
            if not empty_file(self.root, table).is_file():
                parquet.write_empty(self.root, table)
        self._txns.recover_and_clean()

    def __repr__(self) -> str:
        return f"posestore.Store({str(self.root)!r})"

    def _new_txn(self) -> Path:
        return self._txns.new()

    def _commit(self, txn: Path, datasets: dict[str, list[str]], partial: bool = False) -> None:
        """Make the transaction live (see ``Transactions.commit``), then see the new files."""
        self._txns.commit(txn, datasets, partial)
        self._refresh()

    @property
    def snapshot(self) -> snapshots.Snapshot:
        """The version this store reads: the current one when a read begins. The version
        before stays held too, for results still being read; ``close()`` lets both go."""
        if self._frozen and self._snap is not None:
            return self._snap
        seq = snapshots.latest_seq(self.root)
        if self._snap is None or self._snap.seq != seq:
            if self._previous is not None:
                self._previous.release()
            self._previous, self._snap = self._snap, snapshots.current(self.root)
            if self._con is not None:
                self._bind()
        return self._snap

    def close(self) -> None:
        """Let go of the versions this store holds (the store stays usable)."""
        for snap in (self._snap, self._previous):
            if snap is not None and self._owns_snap:
                snap.release()
        self._snap = self._previous = None
        if self._con is not None:
            self._con.close()
            self._con = None

    def _link_split(self, txn: Path, table: str, dataset: str, split: str) -> None:
        """Stage one split partition of the current version unchanged (hard links)."""
        for f in self.snapshot.files(table, dataset, split):
            target = partition_dir(txn, table, dataset, split) / f.name
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(f, target)

    def _writing(self, datasets: list[str], progress: Progress | None = None):
        """Hold the datasets' writer locks (another writer of one of them: wait for it)."""

        def waiting(name: str) -> None:
            if progress:
                progress(f"waiting for another writer of {name}", -1, -1)

        return self._txns.writing(datasets, waiting)

    # -- catalog --------------------------------------------------------------

    def datasets(self) -> pa.Table:
        """The ``datasets`` table (one row per dataset). A dataset with files but no catalog
        row is damaged: left out, and said (``StoreDamaged``), as is one whose files' footers
        do not read (binding the views reads every footer)."""
        self.connection  # noqa: B018 - finds them
        rows = self._read("datasets")
        snap = self.snapshot
        if snap.damaged:
            rows = rows.filter(pc.invert(pc.is_in(rows["dataset"], pa.array(list(snap.damaged)))))
        return rows

    def _damage(self, dataset: str) -> str:
        return f"dataset {dataset!r} is damaged ({self.snapshot.damaged[dataset]})"

    def dataset_names(self) -> list[str]:
        """The datasets of the current version, damaged ones left out (and said)."""
        self.connection  # noqa: B018 - binding reads every footer: finds damage
        return self.snapshot.datasets()

    def _joint_counts(self, dataset: str) -> dict[int, int]:
        """Per category of the dataset, the most joints one of its instances carries."""
        rows = self.sql(
            "SELECT category_id, max(num_joints) FROM instances WHERE dataset = ? "
            "AND num_joints > 0 AND category_id IS NOT NULL GROUP BY 1",
            params=[dataset],
        ).fetchall()
        return {int(c): int(n) for c, n in rows}

    @_one_version
    def dataset_info(self, dataset: str) -> dict:
        """The dataset's ``datasets`` row as a dict, its ``metadata`` a ``DatasetMeta``."""
        check_name(dataset)
        self.connection  # noqa: B018 - binding reads every footer: finds damage
        if dataset in self.snapshot.damaged:
            raise StoreError(
                f"{self._damage(dataset)}; `posestore check` lists the damage; re-ingest it or "
                f"`posestore rm {dataset}`"
            )
        files = self.snapshot.files("datasets", dataset)
        if not files:
            known = ", ".join(self.dataset_names()) or "none"
            raise StoreError(f"no dataset {dataset!r} in {self.root} (datasets: {known})")
        try:
            rows = self._read_file(files[0]).to_pylist()
        except _Unreadable:
            return self.dataset_info(dataset)  # now marked: says so in one line
        if len(rows) != 1 or rows[0]["dataset"] != dataset:
            self.snapshot.mark_damaged(
                dataset, "datasets", files[0], snapshots.catalog_rows(len(rows))
            )
            return self.dataset_info(dataset)
        row = rows[0]
        row["metadata"] = DatasetMeta.from_json(row["metadata"])
        return row

    def _found_damage(self, error: Exception, args: list) -> bool:
        """After a read failed with ``error``: is a dataset not known damaged before now
        found damaged (and marked)? A file the error names is checked, page by page; an
        error that names none, but is a decoder's or comes from values no healthy file
        holds, has the pages of the datasets named in ``args`` checked (all datasets when
        none is named). A query's own mistake, or a file system's error, checks nothing."""
        from posestore.check import read_pages
        from posestore.connect import damaged_file, query_error

        snap = self.snapshot
        named = damaged_file(snap, str(error))
        if named is not None:
            table, dataset, path = named
            what = read_pages(path)[1]
            if what is None:
                return False  # the file reads whole: not damage (too many open files…)
            snap.mark_damaged(dataset, table, path, what)
        elif query_error(error) or isinstance(error, OSError):
            return False
        else:
            live = snap.datasets()
            given = {a for a in args if isinstance(a, str)} | {
                x for a in args if isinstance(a, list | tuple) for x in a if isinstance(x, str)
            }
            chosen = [d for d in live if d in given] or live
            for table, dataset, path, _ in list(snap.entries()):
                if dataset in chosen and dataset not in snap.damaged:
                    what = read_pages(path)[1]
                    if what is not None:
                        snap.mark_damaged(dataset, table, path, what)
            if not any(d in snap.damaged for d in chosen):
                return False
        if self._con is not None:  # a new connection: DuckDB may have given this one up
            self._con.close()
            self._con = None
        return True

    def _read_file(self, path: Path) -> pa.Table:
        """One part file of the current version; a file that cannot be read marks its dataset
        damaged and raises ``_Unreadable`` (the caller reads again without it)."""
        try:
            return pq.read_table(path, page_checksum_verification=True)
        except (pa.ArrowException, OSError) as e:
            named = snapshots.owner(self.root, path)
            if named is None:
                raise
            what = f"cannot be read ({first_line(e)})"
            self.snapshot.mark_damaged(named[1], named[0], path, what)
            if self._con is not None:
                self._bind()  # the views leave it out too
            raise _Unreadable(named[1]) from None

    def _read(
        self,
        table: str,
        dataset: str | None = None,
        split: str | None = None,
        image_ids: pa.Array | None = None,
    ) -> pa.Table:
        """A table (or one dataset's, one split's) as Arrow, in stored order. With ``image_ids``
        each part file is filtered as it is read, so memory follows the selection."""
        while image_ids is None:
            files = self.snapshot.files(table, dataset, split)
            try:
                parts = [schema.conform(table, self._read_file(f)) for f in files]
            except _Unreadable:
                if dataset is not None:  # the dataset asked for is the damaged one
                    self.dataset_info(dataset)
                continue
            return pa.concat_tables(parts) if parts else schema.empty(table)
        files = self.snapshot.files(table, dataset, split)
        if not files:
            return schema.empty(table)
        try:
            return self._read_selected(files, table, dataset, split, image_ids)
        except Exception:  # DuckDB could not decode a part? Find which, by its checksums
            for f in files:
                try:
                    self._read_file(f)
                except _Unreadable as bad:
                    self.dataset_info(str(bad))  # one line: the dataset is damaged
            raise

    def _read_selected(
        self, files: list[Path], table: str, dataset, split, image_ids: pa.Array
    ) -> pa.Table:
        known = {"dataset": dataset, "split": split}
        known = {
            k: v for k, v in known.items() if v is not None and k in schema.SCHEMAS[table].names
        }
        return subset.read_selected(self.connection, files, table, image_ids, known)

    # -- ingest ---------------------------------------------------------------

    def ingest(
        self,
        source: str | os.PathLike | list[str | os.PathLike],
        format: str | None = None,  # noqa: A002
        dataset: str | None = None,
        split: str | None = None,
        progress: Progress | None = None,
        ground_truth: str | None = None,
        engine: str = "local",
    ) -> list[Ingested]:
        """Ingest a source file, zip or dataset root (or several: one transaction, and sources
        naming one dataset become its splits); replaces datasets of the same name atomically,
        or with ``split`` only that split of an existing dataset (``Ingested.replaced`` says
        which).

        A COCO results file (``format="coco-results"``) is ingested as predictions on the
        images of the ``ground_truth`` dataset (``split``: one of its splits).
        ``engine="ray"`` reads the source as Ray tasks (one per Kinetics kpfile, per file of a
        folder, per clip batch of a PYSKL pickle) that write their parts into the transaction
        folder, which every worker must see; this process commits them as a local ingest does.
        Returns one ``Ingested`` per dataset written (a PoseSOR root holds one per task).
        Raises ``SourceError`` naming the file and record on bad input, leaving the
        store as it was.
        """
        from posestore.ingest import sources

        given = source if isinstance(source, list) else [source]
        paths = [Path(s).expanduser() for s in given]
        if dataset is not None:
            check_name(dataset)
        for path in paths:
            if not path.exists():
                raise SourceError(path, None, "no such file or folder")
            if not (path.is_file() or path.is_dir()):  # a FIFO or a device would hang a read
                raise SourceError(path, None, "not a regular file or folder; nothing was read")
        if engine not in ENGINES:
            raise StoreError(f"unknown engine {engine!r}; engines: {', '.join(ENGINES)}")
        if engine == "ray":
            from posestore import on_ray

            on_ray.require()
        if split is not None:
            check_name(split, "split")
            if len(paths) > 1:
                raise StoreError("--split names the split of one source; give one source")
        plans = []
        for path in paths:
            if format == "coco-results" or ground_truth is not None:
                plans.append(self._results_plan(path, dataset, ground_truth, split))
            else:
                plans += sources.plan(path, format=format, dataset=dataset, split=split)
        for plan in plans:
            check_name(plan.dataset)
        plans = _chained(plans)
        source = paths[0]  # where the images are found again on export (the first source)
        described = ", ".join(map(str, paths))
        with self._writing([plan.dataset for plan in plans], progress):
            txn = self._new_txn()
            done: list[Ingested] = []
            with _disk_errors(self.root, txn), self._txns.discard_unless_committed(txn):
                for plan in plans:
                    start = time.perf_counter()
                    written = self._stage(
                        txn,
                        plan,
                        described,
                        progress,
                        root=str((source if source.is_dir() else source.parent).resolve()),
                        engine=engine,
                    )
                    if split is not None:
                        self.connection  # noqa: B018 - binding reads every footer: finds damage
                    if plan.dataset in self.snapshot.damaged and split is not None:
                        raise StoreError(
                            f"{self._damage(plan.dataset)}: its other splits cannot be kept; "
                            f"ingest the dataset whole, or `posestore rm {plan.dataset}` first"
                        )
                    if plan.dataset in (*self.dataset_names(), *self.snapshot.damaged):
                        written.replaced = "dataset"
                        if split is not None:
                            self._keep_other_splits(txn, written)
                    written.seconds = time.perf_counter() - start
                    done.append(written)
                self._commit(txn, {w.dataset: list(w.counts) for w in done})
        return done

    def _keep_other_splits(self, txn: Path, written: Ingested) -> None:
        """An ingest with an explicit split replaces that split only: the dataset's other
        splits are linked into the transaction unchanged, and its catalogs merged (the
        categories must agree), so the commit swaps in the whole dataset at once."""
        dataset = written.dataset
        info = self.dataset_info(dataset)
        if info["format"] != written.format:
            raise StoreError(
                f"dataset {dataset!r} is {info['format']}; a {written.format} split cannot join "
                "it (ingest it as a dataset of its own)"
            )
        old_meta: DatasetMeta = info["metadata"]
        kept = [s for s in old_meta.splits if s not in written.splits]
        if not kept:
            return
        for table in (*schema.SPLIT_TABLES, *schema.EVAL_TABLES):
            for s in kept:
                self._link_split(txn, table, dataset, s)
        staged = partition_dir(txn, "categories", dataset) / PART_FILE
        new_categories = pq.read_table(staged) if staged.exists() else schema.empty("categories")
        old_categories = self._read("categories", dataset)
        names = [c for c in schema.CATEGORIES.names if c not in joint_meaning.MEANING_COLUMNS]
        merged = merge_categories(
            old_categories.select(names), new_categories.select(names), f"dataset {dataset}"
        )
        counts = self._joint_counts(dataset)
        meaning = joint_meaning.annotate(merged, info["format"], counts, previous=old_categories)
        parquet.write_part(staged, meaning)
        members_file = partition_dir(txn, "split_members", dataset) / PART_FILE
        old_members = self._read("split_members", dataset)
        keep = pc.is_in(old_members["stored_in"], pa.array(kept, pa.string()))
        members = [old_members.filter(keep)]
        if members_file.exists():
            members.append(pq.read_table(members_file))
        parquet.write_part(
            members_file,
            split_members(dataset, [m.select(["split", "image_id", "stored_in"]) for m in members]),
            ("dataset",),
        )
        rows = pq.read_table(partition_dir(txn, "datasets", dataset) / PART_FILE).to_pylist()[0]
        new_meta = DatasetMeta.from_json(rows["metadata"])
        metadata = new_meta.merged(old_meta)
        metadata.splits = {**{s: old_meta.splits[s] for s in kept}, **new_meta.splits}
        for table, column in (
            ("images", "num_images"),
            ("instances", "num_instances"),
            ("keypoints", "num_keypoints"),
            ("frames", "num_frames"),
        ):
            folder = partition_dir(txn, table, dataset)
            rows[column] = (
                sum(pq.ParquetFile(f).metadata.num_rows for f in folder.rglob("*.parquet"))
                if folder.exists()
                else 0
            )
        rows["num_categories"] = len(merged)
        rows["metadata"] = metadata.to_json()
        parquet.write_part(
            partition_dir(txn, "datasets", dataset) / PART_FILE,
            schema.conform("datasets", {k: [v] for k, v in rows.items()}),
        )
        written.replaced, written.kept = "splits", kept

    def _results_plan(
        self, source: Path, dataset: str | None, ground_truth: str | None, split: str | None
    ):
        """How a COCO results file is read: against its ground truth's images and categories."""
        from functools import partial

        from posestore.ingest.coco_results import GroundTruth, read_coco_results
        from posestore.ingest.sources import Plan, default_name

        if ground_truth is None:
            raise StoreError("a COCO results file needs --ground-truth DATASET")
        info = self.dataset_info(ground_truth)
        if info["format"] == "coco-results":
            raise StoreError(f"{ground_truth!r} holds predictions, not ground truth")
        if dataset == ground_truth:
            raise StoreError(f"the predictions need a name of their own, not {ground_truth!r}")
        truth = GroundTruth(
            ground_truth,
            self._read("images", ground_truth),
            self._read("categories", ground_truth),
            self._joint_counts(ground_truth),
        )
        name = dataset or default_name(source)
        return Plan(name, "coco-results", partial(read_coco_results, source, name, truth, split))

    def _stage(
        self,
        txn: Path,
        plan,
        source: str,
        progress,
        root: str | None = None,
        engine: str = "local",
    ) -> Ingested:
        """Write the plan's tables into the transaction (here, or as Ray tasks with
        ``engine="ray"``), then its catalogs; return the counts."""
        if engine == "ray":
            from posestore import on_ray

            staged = on_ray.write_pieces(txn, plan, source, progress)
        else:
            staged = staging.write_bundles(
                txn, plan.dataset, source, plan.read(progress=progress), progress
            )
        counts = staging.write_catalogs(txn, plan.dataset, plan.format, source, staged, root)
        return Ingested(plan.dataset, plan.format, counts, staged.splits)

    def rm(self, dataset: str) -> None:
        """Remove a dataset from every table, atomically."""
        with self._writing([dataset]):
            listed = {d for entries in self.snapshot.tables.values() for d in entries}
            if dataset not in listed:  # a damaged one is removed all the same
                self.dataset_info(dataset)  # says there is no such dataset
            txn = self._new_txn()
            with _disk_errors(self.root, txn), self._txns.discard_unless_committed(txn):
                self._commit(txn, {dataset: []})

    # -- query ----------------------------------------------------------------

    @property
    def connection(self):
        """A DuckDB connection with a view per table (and the convenience views) over the
        store's current version: a query reads one version whole, whatever commits run."""
        if self._con is None:
            import duckdb

            self._con = duckdb.connect()
            self._bind()
        self.snapshot  # noqa: B018 - rebinds the views when a commit made a newer version
        return self._con

    def _refresh(self) -> None:
        self.snapshot  # noqa: B018 - rebinds the views when a commit made a newer version

    def _bind(self) -> None:
        from posestore.connect import create_views

        def empty_table(con, table: str) -> None:
            con.register(f"_empty_{table}", schema.empty(table))
            con.execute(f"CREATE OR REPLACE VIEW {table} AS SELECT * FROM _empty_{table}")

        create_views(self._con, self.snapshot, empty_table, scope=self._scope)

    def table_glob(self, table: str) -> str:
        """The glob that reads ``table`` with any engine (``read_parquet``, ``scan_parquet``):
        the Hive folders of the current version (``files`` for one version's exact list)."""
        return table_glob(self.root, table)

    def files(self, table: str) -> list[str]:
        """The files of ``table`` in the newest version. For several tables of one version
        (what another engine needs for the isolation posestore's own queries have), take
        the version once: ``snap = store.snapshot`` then ``snap.files(table)`` for each; its
        files stay until ``store.close()``."""
        return [str(f) for f in self.snapshot.files(table)]

    def sql(self, query: str, params: list | None = None):
        """Run SQL over the store's tables; returns a DuckDB relation (``.pl()``, ``.arrow()``)."""
        return self.connection.sql(query, params=params)

    def scan(self, table: str):
        """A Polars LazyFrame over one table."""
        import polars as pl

        if table not in schema.SCHEMAS:
            raise StoreError(f"no table {table!r}; tables: {', '.join(schema.SCHEMAS)}")
        files = self.files(table)
        if not files:
            return pl.from_arrow(schema.empty(table)).lazy()
        return pl.scan_parquet(files, hive_partitioning=False)

    @_one_version
    def scoped(self, dataset: str, split: str | None = None) -> Store:
        """The same store seen through one dataset (and one split partition or split list
        of it): its connection's tables and views hold only those images and what hangs off
        them, and the eval tables of predictions made on it."""
        view = Store.__new__(Store)
        view.root, view._con, view._txns = self.root, None, self._txns
        # the version of the read it serves, held by this store: one version throughout
        view._snap, view._previous, view._frozen, view._owns_snap = self.snapshot, None, 1, False
        view._scope = (dataset, split, split is None or self._check_split(dataset, split))
        return view

    @_one_version
    def stats(self, dataset: str | None = None, split: str | None = None) -> dict:
        """Statistics per dataset (all, or one; ``split``: one split or split list of it):
        see ``posestore.queries.stats``."""
        from posestore.queries.stats import dataset_stats

        if split is not None and dataset is None:
            raise StoreError("--split needs a dataset")
        if dataset is not None:
            self.dataset_info(dataset)
        source = self.scoped(dataset, split) if split and dataset else self
        return dataset_stats(source, [dataset] if dataset else None)

    def validate(
        self,
        target: str | os.PathLike,
        format: str | None = None,  # noqa: A002
        split: str | None = None,
    ) -> dict:
        """What is wrong or suspicious in a dataset of this store, or in a source file or folder.

        A source is ingested into a throwaway store (this one is not touched); what its
        reader refuses is reported as an error, what it repairs as a warning. Returns
        ``{"target", "datasets": {name: [finding, …]}, "errors", "warnings"}``.
        """
        path = Path(target)
        if path.exists():
            return validate_source(path, format)  # a scratch store: this one is not read
        return self._validate(check_name(str(target)), split)

    @_one_version
    def _validate(self, name: str, split: str | None) -> dict:
        from posestore.queries.validate import validate_dataset

        source = self.scoped(name, split) if split else self
        return _summary(name, {name: validate_dataset(source, name)})

    # -- joint meaning ----------------------------------------------------------

    def set_skeleton(
        self, dataset: str, skeleton_name: str | os.PathLike, category: int | None = None
    ) -> pa.Table:
        """Set (or correct) what a dataset's joints mean, without re-ingesting: every object
        category with joints (or ``category``) takes a registry skeleton by name, or a skeleton
        file of the user's own. Returns the new ``categories`` rows."""
        with self._writing([dataset]):
            return self._set_skeleton(dataset, skeleton_name, category)

    @_one_version(retry=False)
    def _set_skeleton(
        self, dataset: str, skeleton_name: str | os.PathLike, category: int | None
    ) -> pa.Table:
        from posestore import skeleton

        info = self.dataset_info(dataset)
        path = Path(skeleton_name)
        chosen_skeleton = (
            skeleton.load_skeleton(path)
            if path.suffix == ".json" and path.is_file()
            else skeleton.skeleton(str(skeleton_name))
        )
        categories = self._read("categories", dataset)
        counts = self._joint_counts(dataset)
        targets = [category] if category is not None else list(counts)
        unknown = [c for c in targets if c not in counts]
        if unknown:
            raise StoreError(f"dataset {dataset!r} has no category {unknown[0]} with joints")
        annotated = joint_meaning.annotate(
            categories,
            info["format"],
            counts,
            dict.fromkeys(targets, chosen_skeleton),
            previous=categories,  # the other categories keep what they mean
        )
        txn = self._new_txn()
        with _disk_errors(self.root, txn), self._txns.discard_unless_committed(txn):
            parquet.write_part(partition_dir(txn, "categories", dataset) / PART_FILE, annotated)
            self._commit(txn, {dataset: ["categories"]}, partial=True)
        return annotated

    # -- evaluation -----------------------------------------------------------

    def eval(  # noqa: A003 - the command's name
        self, predictions: str, ground_truth: str | None = None, split: str | None = None
    ) -> dict:
        """COCO keypoint evaluation of a predictions dataset against its ground truth, with the
        categories' OKS sigmas; the ten numbers equal pycocotools' ``COCOeval`` stats. Writes the
        ``eval_matches`` and ``eval_joints`` tables of the predictions (replacing earlier ones).

        Returns ``{"ground_truth", "predictions", "splits": {split: {"stats", "notes",
        "predictions", "matched"}}}``.
        """
        with self._writing([predictions]):
            return self._eval(predictions, ground_truth, split)

    @_one_version(retry=False)
    def _eval(self, predictions: str, ground_truth: str | None, split: str | None) -> dict:
        from posestore.queries.evaluate import STAT_NAMES, evaluate_keypoints

        info = self.dataset_info(predictions)
        if info["format"] != "coco-results":
            raise StoreError(
                f"{predictions!r} is a {info['format']} dataset; evaluate predictions ingested "
                "with --format coco-results --ground-truth DATASET"
            )
        truth = ground_truth or info["metadata"].ground_truth
        self.dataset_info(truth)
        if split is not None and not self._check_split(predictions, split):
            raise StoreError(
                f"evaluate a split partition of {predictions!r}, not the list {split!r}"
            )
        splits = [split] if split else list(info["metadata"].splits)
        categories = self._read("categories", truth)
        sigmas = joint_meaning.registry_sigmas(categories)
        flips = joint_meaning.registry_flips(categories)
        report: dict = {"ground_truth": truth, "predictions": predictions, "splits": {}}
        txn = self._new_txn()
        with _disk_errors(self.root, txn), self._txns.discard_unless_committed(txn):
            for s in splits:
                gt, dt = self.split_tables(truth, s), self.split_tables(predictions, s)
                posed = gt["instances"].filter(pc.greater(gt["instances"]["num_joints"], 0))
                missing = sorted(set(posed["category_id"].drop_null().to_pylist()) - set(sigmas))
                if missing:
                    raise StoreError(
                        f"no OKS sigmas for categories {missing} of {truth!r}: its skeleton is not "
                        "in the registry; set one with `posestore skeleton set`"
                    )
                result = evaluate_keypoints(
                    gt["images"], gt["instances"], gt["keypoints"],
                    dt["instances"], dt["keypoints"], sigmas, flips,
                )  # fmt: skip
                for table, rows in (
                    ("eval_matches", result.matches),
                    ("eval_joints", result.joints),
                ):
                    rows = rows.append_column("dataset", schema.constant(predictions, len(rows)))
                    rows = rows.append_column("split", schema.constant(s, len(rows)))
                    path = partition_dir(txn, table, predictions, s) / PART_FILE
                    parquet.write_part(path, schema.conform(table, rows))
                report["splits"][s] = {
                    "stats": dict(zip(STAT_NAMES, map(float, result.stats))),
                    "notes": result.notes,
                    "predictions": len(dt["instances"]),
                    "matched": pc.count_distinct(result.joints["dt_instance_id"]).as_py(),
                }
            if split:  # the other splits' results stay: linked into the transaction as they are
                for table in schema.EVAL_TABLES:
                    for other in self.split_names(predictions)[0]:
                        if other != split:
                            self._link_split(txn, table, predictions, other)
            self._commit(txn, {predictions: list(schema.EVAL_TABLES)}, partial=True)
        return report

    # -- selection and export -------------------------------------------------

    @_one_version
    def split_names(self, dataset: str) -> tuple[list[str], list[str]]:
        """The dataset's split partitions, and the other split lists its source names
        (NTU's ``xview_*`` beside its ``xsub_*`` partitions); any of them is a ``--split``."""
        partitions = list(self.dataset_info(dataset)["metadata"].splits)
        lists = []
        files = self.snapshot.files("split_members", dataset)
        if files:
            names = pa.concat_tables(pq.read_table(f, columns=["split"]) for f in files)["split"]
            lists = [n for n in dict.fromkeys(names.to_pylist()) if n not in partitions]
        return partitions, lists

    def _check_split(self, dataset: str, split: str) -> bool:
        """True when ``split`` is a partition, False when it is another split list; an unknown
        name is an error listing the dataset's splits."""
        partitions, lists = self.split_names(dataset)
        if split in partitions:
            return True
        if split in lists:
            return False
        known = ", ".join(partitions) + (f"; split lists: {', '.join(lists)}" if lists else "")
        raise StoreError(f"dataset {dataset!r} has no split {split!r} (splits: {known})")

    @_one_version
    def select_images(
        self,
        dataset: str,
        split: str | None = None,
        where: str | None = None,
        query: str | None = None,
        selection: object | None = None,
    ) -> pa.Table:
        """``(split, image_id)`` of the dataset's images that a predicate over ``images``, a
        query, or a ``selection`` frame (Polars, PyArrow or pandas) picks, within ``split``
        (a partition or any split list).

        A query or selection gives ``image_id`` alone (read within this dataset and split), or
        ``dataset``, ``split`` and ``image_id``; ids of other datasets or splits never select.
        """
        self.dataset_info(dataset)
        # the query runs where only this dataset (and split) is visible: its ids mean this
        # dataset's images, whatever tables it reads
        scoped = self.scoped(dataset, split).connection
        return subset.select_images(scoped, where, query, selection)

    @_one_version
    def split_tables(
        self, dataset: str, split: str, image_ids: pa.Array | None = None
    ) -> schema.Tables:
        """One split's tables (all of it, or the given images with everything that hangs off them)."""
        out: schema.Tables = {}
        for table in schema.SPLIT_TABLES:
            out[table] = self._read(table, dataset, split, image_ids)
        out["categories"] = self._read("categories", dataset)
        return out

    @_one_version
    def export(
        self,
        dataset: str,
        out: str | os.PathLike,
        split: str | None = None,
        format: str | None = None,  # noqa: A002
        where: str | None = None,
        query: str | None = None,
        images: str = "none",
        image_root: str | os.PathLike | None = None,
        progress: Progress | None = None,
        selection: object | None = None,
        skeleton: str | None = None,
    ) -> list[Path]:
        """Write a dataset, a split or a selection in its native format (or ``format``).

        ``split`` is a partition or any split list (``xview_val``); ``where`` is a predicate
        over ``images``; ``query`` (SQL) or ``selection`` (a Polars, PyArrow or pandas frame)
        gives ``image_id``s, or ``(dataset, split, image_id)`` rows, scoped to this dataset.
        Returns the files written. OUT is a file when one split is written to a
        single-file format (``out.json``), else a folder laid out as the source was.
        """
        import warnings

        from posestore.formats import SourceWarning
        from posestore.queries.export import ExportOptions, write_dataset

        info = self.dataset_info(dataset)
        meta: DatasetMeta = info["metadata"]
        parts = self._selected_parts(dataset, split, where, query, selection)
        whole = split is None and not (where or query or selection is not None)
        exported = sum(len(p["instances"]) for p in parts.values())
        if not exported and any(len(p["images"]) for p in parts.values()):
            images_out = sum(len(p["images"]) for p in parts.values())
            warnings.warn(
                SourceWarning(f"the export holds {images_out:,} images and no annotations"),
                stacklevel=2,
            )
        unknown = meta.unknown_keys()
        if unknown:
            warnings.warn(
                SourceWarning(
                    f"the metadata of {dataset!r} holds {len(unknown)} keys this version of "
                    f"posestore does not know ({', '.join(unknown[:5])}): kept, but no writer "
                    "reads them, so the export may differ from the source"
                ),
                stacklevel=2,
            )
        fmt = format or info["format"]
        image_dirs = {s: self.image_dir(info, s, image_root) for s in parts}
        with staged(out) as target:  # OUT appears whole, or not at all
            options = ExportOptions(
                whole=whole, image_dirs=image_dirs, progress=progress, final=target.out
            )
            written = write_dataset(parts, meta, target.path, fmt, options, skeleton)
            if images != "none":
                self._place_images(parts, info, target.path, fmt, images, image_dirs)
        return [target.final(p) for p in written]

    def _selected_parts(
        self,
        dataset: str,
        split: str | None = None,
        where: str | None = None,
        query: str | None = None,
        selection: object | None = None,
    ) -> dict[str, schema.Tables]:
        """Per split partition, the tables of a dataset, a split, or the images a selection
        picks (``select_images``): a split list reads the partitions that hold its images, in
        the dataset's split order."""
        partition = split is None or self._check_split(dataset, split)
        selected = None
        if where or query or selection is not None or not partition:
            selected = self.select_images(dataset, split, where, query, selection)
        order = list(self.dataset_info(dataset)["metadata"].splits)
        if split and partition:
            splits = [split]
        elif selected is not None:  # a split list: the partitions that hold its images
            held = set(selected["split"].to_pylist())
            splits = [s for s in order if s in held]
        else:
            splits = order
        parts = {}
        for s in splits:
            ids = None
            if selected is not None:
                ids = selected.filter(pc.equal(selected["split"], s))["image_id"].combine_chunks()
            parts[s] = self.split_tables(dataset, s, ids)
        return parts

    @_one_version
    def export_many(
        self,
        datasets: list[str],
        out: str | os.PathLike,
        split: str | None = None,
        format: str = "coco",  # noqa: A002
        skeleton: str | None = None,
        where: str | None = None,
        query: str | None = None,
        progress: Progress | None = None,
    ) -> list[Path]:
        """Several datasets exported into one file per split name (COCO) or one YOLO pose
        folder, their poses projected onto ``skeleton``: ids renumbered to be unique, each
        image and annotation keeping ``source_dataset`` and ``source_id`` beside it."""
        from posestore.metadata import MERGED
        from posestore.queries.export import ExportOptions, prepare, write_dataset
        from posestore.queries.merge import merge_tables

        if format not in ("coco", "yolo-pose"):
            raise StoreError(f"several datasets export as coco or yolo-pose, not {format}")
        metas: dict[str, DatasetMeta] = {d: self.dataset_info(d)["metadata"] for d in datasets}
        names = (
            [split] if split else list(dict.fromkeys(s for m in metas.values() for s in m.splits))
        )
        merged: dict[str, schema.Tables] = {}
        for s in names:
            parts = []
            for d, meta in metas.items():
                partitions, lists = self.split_names(d)
                if s not in partitions and s not in lists:
                    continue
                for tables in self._selected_parts(d, s, where, query).values():
                    parts.append((d, prepare(tables, meta.format, format, skeleton)))
            if parts:
                merged[s] = merge_tables(parts, prefix_files=format == "yolo-pose")
        if not merged:
            known = dict.fromkeys(s for d in datasets for part in self.split_names(d) for s in part)
            raise StoreError(
                f"none of {', '.join(datasets)} has split {split!r} (splits: {', '.join(known)})"
            )
        with staged(out) as target:  # OUT appears whole, or not at all
            options = ExportOptions(
                merged_from=tuple(datasets), progress=progress, final=target.out
            )
            written = write_dataset(merged, DatasetMeta(MERGED), target.path, format, options)
        return [target.final(p) for p in written]

    @_one_version
    def view(
        self,
        dataset: str,
        out: str | os.PathLike | None = None,
        split: str | None = None,
        where: str | None = None,
        query: str | None = None,
        selection: object | None = None,
        limit: int | None = None,
        offset: int = 0,
        image_root: str | os.PathLike | None = None,
    ) -> PoseView:
        """Draw a selection in one self-contained HTML page (written to ``out`` when given):
        images as a grid with every instance's skeleton, box and crowd region over its
        thumbnail, PYSKL clips as players, predictions over their ground truth with each
        joint's error class. Returns a ``PoseView`` (a notebook shows it inline).

        The images are selected as ``export`` selects them (``split``, ``where``, ``query``,
        ``selection``), ordered by split then id; the page shows ``limit`` of them (200
        images or 24 clips unless told) from ``offset`` and says how many the selection
        holds. ``image_root`` is where the images' ``file_name``s are (default: found at
        ingest); an image not there is drawn on a blank canvas of its size, and counted.
        """
        from posestore.queries.view import DEFAULT_LIMITS, ViewPart, in_page_order, render_view

        info = self.dataset_info(dataset)
        clips = info["format"] == "pyskl"
        limit = DEFAULT_LIMITS["clips" if clips else "images"] if limit is None else limit
        if limit < 1 or offset < 0:
            raise StoreError(
                f"--limit must be at least 1 and --offset at least 0, not {limit}, {offset}"
            )
        truth_name = info["metadata"].ground_truth if info["format"] == "coco-results" else None
        truth = self.dataset_info(truth_name) if truth_name else None
        splits = list(info["metadata"].splits)
        selected = in_page_order(
            self.select_images(dataset, split, where, query, selection), splits
        )
        shown = selected.slice(offset, limit)
        parts = []
        for s in [s for s in splits if s in set(shown["split"].to_pylist())]:
            rows = shown.filter(pc.equal(shown["split"], s))
            ids = rows["image_id"].combine_chunks()
            images = self._read("images", dataset, s, ids)
            order = schema.positions(images["image_id"].to_numpy(), ids.to_numpy())
            part = ViewPart(
                s,
                images.take(pa.array(order)),
                self._read("instances", truth_name or dataset, s, ids),
                self._read("keypoints", truth_name or dataset, s, ids),
                self.image_dir(truth or info, s, image_root),
            )
            if truth_name:
                part.predictions = self._read("instances", dataset, s, ids)
                part.predicted = self._read("keypoints", dataset, s, ids)
                part.errors = self._read("eval_joints", dataset, s, ids)
            parts.append(part)
        roots = {str(p.image_dir) for p in parts if p.image_dir is not None}
        about = {
            "dataset": dataset,
            "format": info["format"],
            "split": split,
            "splits": len({p.split for p in parts}),
            "selection": f"where {where}" if where else f"query {query}" if query else
            "a selection frame" if selection is not None else None,
            "selected": len(selected),
            "shown": len(shown),
            "offset": offset,
            "limit": limit,
            "image_root": ", ".join(sorted(roots)) or None,
            "ground_truth": truth_name,
            "evaluated": bool(truth_name) and self.sql(
                "SELECT count(*) > 0 FROM eval_matches WHERE dataset = ?", params=[dataset]
            ).fetchall()[0][0],
        }  # fmt: skip
        page = render_view(parts, self._read("categories", truth_name or dataset), about, clips)
        if out is not None:
            page.save(out)
        return page

    @staticmethod
    def image_dir(
        info: dict, split: str, image_root: str | os.PathLike | None = None
    ) -> Path | None:
        """The folder a split's ``file_name``s are relative to: ``image_root`` when given, else
        the source's own image folder when the ingest found one."""
        if image_root is not None:
            return Path(image_root)
        meta: DatasetMeta = info["metadata"]
        split_meta = meta.splits.get(split)
        rel = split_meta.image_root if split_meta else None
        return Path(meta.root) / rel if meta.root and rel else None

    def _place_images(self, parts, info, out: Path, fmt: str, mode: str, image_dirs) -> None:
        import warnings

        from posestore.formats import SourceWarning
        from posestore.queries.export import image_destination, place_images

        if mode not in ("copy", "link"):
            raise StoreError(f"--images takes copy, link or none, not {mode!r}")
        if info["format"] == "pyskl":
            raise StoreError("PYSKL clips have no image files to copy; use --images none")
        if not any(image_dirs.values()):
            raise StoreError(
                f"the images of {info['dataset']!r} were not found at ingest; pass --image-root DIR "
                "(the folder its file_name values are relative to)"
            )
        meta = info["metadata"]

        def dest(split: str, name: str) -> Path:
            return image_destination(fmt, meta, out, split, name)

        placed, missing = place_images(parts, image_dirs, dest, mode)
        if missing:
            warnings.warn(
                SourceWarning(
                    f"{len(missing)} of {placed + len(missing)} images are missing from the image folder "
                    f"(e.g. {', '.join(missing[:3])}); their annotations were exported without them"
                ),
                stacklevel=2,
            )


DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})
"""OS errors that say the store's disk takes no more (full, over quota, read-only)."""


@contextmanager
def _disk_errors(root: Path, txn: Path) -> Iterator[None]:
    """An ``OSError`` of a transaction as one line: the store's disk (full, read-only) is a
    ``StoreError``, a source that cannot be read a ``SourceError`` naming it. Put outside
    ``discard_unless_committed``, so the transaction is gone before the line is shown."""
    try:
        yield
    except OSError as e:
        name = str(e.filename or "")
        reason = e.strerror or str(e)
        if e.errno in DISK_FULL or not name or name.startswith(str(root)):
            raise StoreError(
                f"cannot write the store at {root}: {reason}; nothing was committed, the store "
                "is as it was"
            ) from e
        raise SourceError(name, None, f"cannot be read: {reason}") from e


def validate_source(path: Path, format: str | None = None) -> dict:  # noqa: A002
    """Validate a source by ingesting it into a temporary store."""
    import tempfile
    import warnings

    from posestore.queries.validate import validate_dataset

    findings: dict[str, list] = {}
    with tempfile.TemporaryDirectory(prefix="posestore-validate-") as tmp:
        scratch = Store(Path(tmp))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                done = scratch.ingest(path, format=format)
            except PoseStoreError as e:
                done = []
                findings[path.name] = [
                    {
                        "check": "unreadable",
                        "severity": "error",
                        "what": "the reader refused the source",
                        "count": 1,
                        "examples": [{"error": str(e)}],
                    }
                ]
        notes = [
            {
                "check": "repaired_on_read",
                "severity": "warning",
                "what": "what the reader repaired or skipped",
                "count": 1,
                "examples": [{"warning": str(w.message)}],
            }
            for w in caught
        ]
        for d in done:
            findings[d.dataset] = notes + validate_dataset(scratch, d.dataset)
            notes = []
        scratch._con = None
    return _summary(str(path), findings)


def _summary(target: str, findings: dict[str, list]) -> dict:
    count = {"error": 0, "warning": 0}
    for items in findings.values():
        for f in items:
            count[f["severity"]] += f["count"]
    return {
        "target": target,
        "datasets": findings,
        "errors": count["error"],
        "warnings": count["warning"],
    }


def _chained(plans: list) -> list:
    """Plans of one dataset (several sources named alike) read one after another as one."""
    from itertools import chain

    from posestore.ingest.sources import Plan

    by_name: dict[str, list] = {}
    for plan in plans:
        by_name.setdefault(plan.dataset, []).append(plan)
    out = []
    for name, group in by_name.items():
        formats = {p.format for p in group}
        if len(formats) > 1:
            raise StoreError(
                f"sources of dataset {name!r} are of several formats: {sorted(formats)}"
            )
        if len(group) == 1:
            out.append(group[0])
            continue

        def read(progress=None, group=group):
            return chain.from_iterable(p.read(progress=progress) for p in group)

        def pieces(group=group):
            return [piece for p in group for piece in p.pieces()]

        out.append(Plan(name, group[0].format, read, pieces))
    return out
