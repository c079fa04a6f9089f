"""Issue 16's concurrency and crash targets, measured on synthetic COCO data.

    .venv/bin/python benchmarks/concurrency.py [--seconds 60] [--rounds-different 50]
        [--rounds-same 20] [--kills 50] [--out FILE.md] [--parts 1,2,3] [--keep]

1. Readers during re-ingests: one process re-ingests dataset ``d`` in a loop, cycling through
   three versions of different sizes (each a folder of ``train.json`` and ``val.json``), while
   readers in other processes ask, in one query over five tables, for the catalog's
   num_images and num_instances of ``d`` beside the rows of images, instances and keypoints.
   An answer that is not one version's five numbers is a mix. Readers: the CLI
   (``posestore sql``, a process per query, ``--json`` and ``--csv`` in turn), the Python API
   (one ``Store``), plain DuckDB and Polars over the Hive folders (promised only that each
   table's folder of a dataset changes at once: a mix across tables is counted apart from
   a count no version has), plain DuckDB on ``images`` alone, DuckDB over the lists
   one held version's files (``store.snapshot.files(table)``), and ``Store.export`` in a loop (each
   OUT must equal one version's export, made beforehand from a store of its own).
2. Concurrent writers: rounds of two ``posestore ingest`` processes of different datasets into
   one store (each round alternates between two versions of each), then rounds of two of
   the same dataset (whole-dataset ingests and ``--split`` ingests): every exit 0 or one
   clean ``error:`` line, and the final state one of the serial orders of the ingests that
   exited 0, whole (catalog counts = rows) through posestore and through the Hive folders.
3. SIGKILL at random moments (uniform in the operation's median duration, measured first) of
   ``ingest`` (a larger version over a small one), ``rm`` and ``export`` (to a folder, and to
   one file). After each kill, before any recovery, ``posestore sql`` must read the old
   version or the new one, whole; after the next ``posestore.open()`` the API and the Hive
   folders must agree on it, with nothing left over; an export's OUT must be absent or
   byte-for-byte the reference export made beforehand.

Correctness, not timing: the counts are the result, the seconds are context. The Markdown
table is printed and written to ``--out``. Exit code 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import multiprocessing as mp
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from queue import Empty

HERE = Path(__file__).resolve().parent
FIRST = 3  # examples kept per kind of failure

Row = tuple  # (num_images, images, num_instances, instances, keypoints) of one dataset


def cli() -> list[str]:
    """The ``posestore`` command of this interpreter's environment."""
    script = Path(sys.executable).with_name("posestore")
    return [str(script)] if script.exists() else [sys.executable, "-m", "posestore.cli"]


def command(root: Path, *args: str | Path) -> list[str]:
    return [*cli(), "--store", str(root), *map(str, args)]


# -- sources --------------------------------------------------------------------------


@dataclass
class Source:
    """A synthetic COCO source (a file, or a folder of split files) and its counts per split."""

    path: Path
    splits: dict[str, tuple[int, int]]  # split → (images, annotations), read back from the JSON

    @property
    def row(self) -> Row:
        images = sum(i for i, _ in self.splits.values())
        annotations = sum(a for _, a in self.splits.values())
        return (images, images, annotations, annotations, annotations)


def coco_file(path: Path, images: int, seed: int) -> tuple[int, int]:
    """Write a synthetic COCO file; its (images, annotations) counted from what was written."""
    from posestore import synthetic

    first = 1 + 100_000 * seed
    doc = synthetic.coco_keypoints(
        images, seed=seed, first_image_id=first, first_annotation_id=10 * first
    )
    synthetic.write_json(doc, path)
    written = json.loads(path.read_bytes())
    return len(written["images"]), len(written["annotations"])


def coco_folder(path: Path, sizes: dict[str, int], seed: int) -> Source:
    splits = {
        split: coco_file(path / f"{split}.json", n, seed * 10 + k)
        for k, (split, n) in enumerate(sizes.items())
    }
    return Source(path, splits)


def single(path: Path, images: int, seed: int, split: str | None = None) -> Source:
    return Source(path, {split or path.stem: coco_file(path, images, seed)})


# -- reading a dataset's row ------------------------------------------------------------

ROW_SQL = """SELECT
  (SELECT num_images FROM {datasets} WHERE dataset = '{d}') AS num_images,
  (SELECT count(*) FROM {images} WHERE dataset = '{d}') AS images,
  (SELECT num_instances FROM {datasets} WHERE dataset = '{d}') AS num_instances,
  (SELECT count(*) FROM {instances} WHERE dataset = '{d}') AS instances,
  (SELECT count(*) FROM {keypoints} WHERE dataset = '{d}') AS keypoints"""
ROW_TABLES = ("datasets", "images", "instances", "keypoints")


def row_sql(dataset: str, scans: dict[str, str] | None = None) -> str:
    """The five numbers of ``dataset`` in one query (``scans``: table → FROM expression)."""
    scans = scans or {t: t for t in ROW_TABLES}
    return ROW_SQL.format(d=dataset, **scans)


def hive_scan(root: Path, table: str) -> str:
    from posestore.layout import table_glob

    return f"read_parquet('{table_glob(root, table)}', hive_partitioning = true)"


def hive_sql(root: Path, dataset: str) -> str:
    return row_sql(dataset, {t: hive_scan(root, t) for t in ROW_TABLES})


def hive_row(root: Path, dataset: str) -> Row:
    """What plain DuckDB reads from the Hive folders."""
    import duckdb

    con = duckdb.connect()
    try:
        return tuple(con.sql(hive_sql(root, dataset)).fetchall()[0])
    finally:
        con.close()


def cli_row(root: Path, dataset: str, fmt: str = "--json") -> Row:
    """What ``posestore sql`` (which runs no recovery) prints; raises with its stderr."""
    r = subprocess.run(
        command(root, "sql", row_sql(dataset), fmt), capture_output=True, text=True, timeout=600
    )
    if r.returncode != 0:
        raise RuntimeError(f"exit {r.returncode}: {r.stderr.strip()[-500:]}")
    if fmt == "--json":
        (record,) = json.loads(r.stdout)
        return tuple(record.values())
    header, values = list(csv.reader(io.StringIO(r.stdout)))
    return tuple(int(v) if v else None for v in values)


ABSENT: Row = (None, 0, None, 0, 0)


def split_state(store, dataset: str) -> dict[str, tuple[int, int]]:
    """Per split partition of ``dataset``: (images, instances) rows, read by posestore."""
    rows = store.sql(
        "SELECT split, (SELECT count(*) FROM images i WHERE i.dataset = $d AND i.split = s.split),"
        " (SELECT count(*) FROM instances n WHERE n.dataset = $d AND n.split = s.split)"
        " FROM (SELECT DISTINCT split FROM images WHERE dataset = $d"
        "       UNION SELECT DISTINCT split FROM instances WHERE dataset = $d) s",
        params={"d": dataset},
    ).fetchall()
    return {s: (i, n) for s, i, n in rows}


def leftovers(root: Path) -> list[str]:
    """What a recovery left behind: transaction folders and locks, temporary files, old
    snapshots, data folders no snapshot lists (none of them with no reader running)."""
    from posestore import snapshot
    from posestore.layout import DATA_DIR, META_DIR, TMP_DIR, TXN_DIR

    meta = root / META_DIR
    found = [f"txn/{p.name}" for p in (meta / TXN_DIR).iterdir()]
    found += [f"tmp/{p.name}" for p in (meta / TMP_DIR).iterdir()]
    seqs = snapshot.sequences(root)
    found += [f"snapshot {s}" for s in seqs[:-1]]
    used = {
        e["dir"] for s in seqs for t in snapshot.read(root, s).tables.values() for e in t.values()
    }
    found += [f"data/{p.name}" for p in (meta / DATA_DIR).iterdir() if p.name not in used]
    return found


# -- running commands ----------------------------------------------------------------


def clean_exit(returncode: int, stderr: str) -> str | None:
    """None when a command ended as promised (exit 0, or exit 1 with one ``error:`` line);
    else what was wrong."""
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    other = [ln for ln in lines if not ln.startswith("warning: ")]
    if returncode == 0 and not other:
        return None
    if returncode == 1 and len(other) == 1 and other[0].startswith("error: "):
        return None
    return f"exit {returncode}: " + " | ".join(other)[-600:]


def run_ok(args: list[str]) -> str:
    r = subprocess.run(args, capture_output=True, text=True, timeout=1800)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(args[-6:])}: exit {r.returncode}: {r.stderr[-800:]}")
    return r.stdout


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    run_ok(args)
    return time.perf_counter() - start


@dataclass
class Tally:
    """Counts of one kind of check, with the first few examples of each failure."""

    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, what: str, example: str | None = None, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n
        if example is not None and len(self.examples.setdefault(what, [])) < FIRST:
            self.examples[what].append(" ".join(str(example).split())[:600])

    def __getitem__(self, what: str) -> int:
        return self.counts.get(what, 0)


# -- 1. readers during re-ingests ---------------------------------------------------------

READERS = {
    "cli": "(a) CLI `posestore sql` (a process per query, --json/--csv)",
    "api": "(b) Python API, one `Store`, `store.sql()`",
    "duckdb": "(c) plain DuckDB over the Hive folders (5 tables, one query)",
    "duckdb-images": "(d) plain DuckDB over the Hive folders (`images` alone)",
    "polars": "(c') plain Polars over the Hive folders (5 tables, `collect_all`)",
    "files": "(e) DuckDB over one held version's files (`store.snapshot.files(table)`)",
    "export": "(f) `Store.export('d', OUT)` in a loop, one `Store`: OUT equals one version's export",
}
HIVE_READERS = ("duckdb", "polars")
"""Readers promised a dataset's folder of one table at a time, not several tables at once."""


def _reader(
    kind: str, root: str, seconds: float, known: list[Row], exports: list[dict], queue
) -> None:
    """Read ``d`` for ``seconds`` and judge every answer against the versions ``known``
    (an export: against each version's export, ``exports``)."""
    import warnings

    warnings.simplefilter("ignore")
    root_path = Path(root)
    tally = Tally()
    per_column = [{k[i] for k in known} for i in range(5)]
    read: Callable[[], Row]
    stores: list = []

    def opened(store):
        stores.append(store)
        return store

    if kind == "cli":
        turn = [0]

        def read() -> Row:
            turn[0] += 1
            return cli_row(root_path, "d", "--json" if turn[0] % 2 else "--csv")

    elif kind == "api":
        import posestore

        store = opened(posestore.open(root_path))
        query = row_sql("d")

        def read() -> Row:
            return tuple(store.sql(query).fetchall()[0])

    elif kind in ("duckdb", "duckdb-images"):
        import duckdb

        con = duckdb.connect()
        query = (
            hive_sql(root_path, "d")
            if kind == "duckdb"
            else f"SELECT count(*) FROM {hive_scan(root_path, 'images')} WHERE dataset = 'd'"
        )

        def read() -> Row:
            return tuple(con.sql(query).fetchall()[0])

    elif kind == "polars":
        os.environ["RUST_BACKTRACE"] = "0"  # a panic is counted, not printed at length
        import polars as pl

        def scan(table: str):
            return pl.scan_parquet(f"{root_path}/{table}/", hive_partitioning=True).filter(
                pl.col("dataset") == "d"
            )

        def read() -> Row:
            catalog, images, instances, keypoints = pl.collect_all(
                [
                    scan("datasets").select("num_images", "num_instances"),
                    scan("images").select(pl.len()),
                    scan("instances").select(pl.len()),
                    scan("keypoints").select(pl.len()),
                ]
            )
            c = catalog.rows()[0] if len(catalog) == 1 else (None, None)
            return (c[0], images.item(), c[1], instances.item(), keypoints.item())

    elif kind == "files":
        import duckdb

        import posestore

        store = opened(posestore.open(root_path))
        con = duckdb.connect()

        def read() -> Row:
            snap = store.snapshot  # one version for every table of the query
            scans = {t: f"read_parquet({[str(f) for f in snap.files(t)]})" for t in ROW_TABLES}
            return tuple(con.sql(row_sql("d", scans)).fetchall()[0])

    elif kind == "export":
        import posestore

        store = opened(posestore.open(root_path))
        out = root_path.parent / "export-reader"

        def read() -> Row:
            shutil.rmtree(out, ignore_errors=True)
            store.export("d", out)
            got = tree(out) or {}
            if got in exports:
                return known[exports.index(got)]
            same = {f: [k for k, e in enumerate(exports) if e.get(f) == h] for f, h in got.items()}
            return ("no version's export; per file, the versions it equals:", same)

    else:
        raise ValueError(kind)

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        tally.add("queries")
        try:
            row = read()
        except KeyboardInterrupt:
            raise
        except BaseException as e:  # noqa: BLE001 - every failure is counted (Polars panics
            # raise a BaseException)
            tally.add("errors", f"{type(e).__name__}: {str(e)[:400]}")
            continue
        if kind == "duckdb-images":
            if row[0] not in per_column[1]:
                tally.add("mixed", f"images {row[0]}, versions have {sorted(per_column[1])}")
        elif row not in known:
            within = any(row[i] not in per_column[i] for i in range(5))
            if kind in HIVE_READERS and not within:
                tally.add("cross-table", str(row))
            else:
                tally.add("mixed", str(row))
    for store in stores:
        store.close()
    queue.put((kind, tally.counts, tally.examples))


def _rewriter(root: str, versions: list[str], seconds: float, queue) -> None:
    """Re-ingest ``d`` in a loop, cycling through the versions, through one ``Store``."""
    import warnings

    import posestore

    warnings.simplefilter("ignore")
    tally = Tally()
    store = posestore.open(root)
    deadline = time.monotonic() + seconds
    k = 1
    while time.monotonic() < deadline:
        try:
            store.ingest(versions[k % len(versions)], dataset="d")
            tally.add("ingests")
        except Exception as e:  # noqa: BLE001
            tally.add("errors", f"{type(e).__name__}: {e}")
        k += 1
    store.close()
    queue.put(("writer", tally.counts, tally.examples))


def readers_during_reingest(work: Path, seconds: float, readers: list[str]) -> dict:
    import posestore

    root = work / "store1"
    sizes = [(300, 100), (700, 250), (1200, 400)]
    versions = [
        coco_folder(work / f"v{k}", {"train": t, "val": v}, seed=k + 1)
        for k, (t, v) in enumerate(sizes)
    ]
    known = [v.row for v in versions]
    assert len(set(known)) == 3
    exports = []  # each version's export, from a store of its own
    for k, v in enumerate(versions):
        scratch = posestore.open(work / f"reference{k}")
        scratch.ingest(v.path, dataset="d")
        scratch.export("d", work / f"reference{k}-export")
        scratch.close()
        exports.append(tree(work / f"reference{k}-export"))
    assert len({json.dumps(e, sort_keys=True) for e in exports}) == 3
    store = posestore.open(root)
    store.ingest(versions[0].path, dataset="d")
    store.close()
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_reader, args=(kind, str(root), seconds, known, exports, queue))
        for kind in readers
    ]
    procs.append(
        ctx.Process(
            target=_rewriter, args=(str(root), [str(v.path) for v in versions], seconds, queue)
        )
    )
    for p in procs:
        p.start()
    results = {}
    for _ in procs:  # plain dicts cross the queue: classes of a __main__ do not unpickle
        try:
            kind, counts, found = queue.get(timeout=seconds + 600)
        except Empty:
            break
        results[kind] = Tally(counts, found)
    for kind, p in zip([*readers, "writer"], procs):
        p.join()
        if kind not in results:
            results[kind] = Tally({"died": 1}, {"died": [f"exit code {p.exitcode}"]})
    final = Tally()
    store = posestore.open(root)
    row = tuple(store.sql(row_sql("d")).fetchall()[0])
    store.close()
    if row not in known:
        final.add("final not a version", str(row))
    if hive_row(root, "d") != row:
        final.add("final Hive differs", f"{hive_row(root, 'd')} vs {row}")
    posestore.open(root).close()  # recovery, with no reader left
    for what in leftovers(root):
        final.add("leftovers", what)
    return {"known": known, "results": results, "final": final}


# -- 2. concurrent writers -------------------------------------------------------------


def two_ingests(root: Path, a: list[str | Path], b: list[str | Path]) -> list[tuple[int, str]]:
    procs = [
        subprocess.Popen(
            command(root, "ingest", *args),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in (a, b)
    ]
    out = []
    for p in procs:
        _, err = p.communicate(timeout=1800)
        out.append((p.returncode, err))
    return out


def check_dataset(store, root: Path, dataset: str, expected: Row, tally: Tally, where: str) -> None:
    row = tuple(store.sql(row_sql(dataset)).fetchall()[0])
    if row != expected:
        tally.add("lost or not whole", f"{where}: {dataset} reads {row}, expected {expected}")
    hive = hive_row(root, dataset)
    if hive != row:
        tally.add("Hive differs", f"{where}: {dataset} Hive {hive}, posestore {row}")


def writers_of_different_datasets(work: Path, rounds: int) -> Tally:
    import posestore

    root = work / "store2"
    versions = {
        name: [single(work / f"{name}{k}.json", n + 500 * k, seed=30 + 2 * i + k) for k in (0, 1)]
        for i, (name, n) in enumerate((("a", 2500), ("b", 2000)))
    }
    tally = Tally()
    current: dict[str, Row] = {"a": ABSENT, "b": ABSENT}
    for r in range(rounds):
        k = r % 2
        ran = two_ingests(
            root,
            [versions["a"][k].path, "--dataset", "a"],
            [versions["b"][k].path, "--dataset", "b"],
        )
        tally.add("rounds")
        for name, (code, err) in zip(("a", "b"), ran):
            wrong = clean_exit(code, err)
            if wrong:
                tally.add("unclean exit", f"round {r} {name}: {wrong}")
            elif code == 0:
                tally.add("exit 0")
                current[name] = versions[name][k].row
            else:
                tally.add("one clean error line", f"round {r} {name}: {err.strip()}")
        store = posestore.open(root)
        lost_before = tally["lost or not whole"]
        for name in ("a", "b"):
            check_dataset(store, root, name, current[name], tally, f"round {r}")
        store.close()
        if tally["lost or not whole"] > lost_before:
            tally.add("rounds failed")
    return tally


@dataclass
class Op:
    """An ingest of dataset ``d``: a whole dataset (all its splits) or one ``--split``."""

    label: str
    args: list[str | Path]
    source: Source
    split: str | None = None

    def apply(self, state: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
        if self.split is None:
            return dict(self.source.splits)
        return {**state, self.split: next(iter(self.source.splits.values()))}


def writers_of_one_dataset(work: Path, rounds: int) -> Tally:
    import posestore

    root = work / "store3"
    w1 = coco_folder(work / "w1", {"train": 1400, "val": 610}, seed=50)
    w2 = coco_folder(work / "w2", {"train": 1430, "val": 620, "test": 190}, seed=51)
    ops = {
        "W1": Op("whole w1", [w1.path], w1),
        "W2": Op("whole w2", [w2.path], w2),
    }
    for label, split, n, seed in (
        ("T1", "train", 1460, 52),
        ("T2", "train", 1490, 53),
        ("V", "val", 630, 54),
        ("S", "test", 200, 55),
    ):
        src = single(work / f"s_{label}.json", n, seed, split)
        ops[label] = Op(f"--split {split} ({label})", [src.path, "--split", split], src, split)
    pairs = [
        ("W1", "V"), ("T1", "S"), ("W2", "W1"), ("T1", "T2"), ("S", "W2"),
        ("V", "T2"), ("W1", "T1"), ("V", "S"), ("W2", "V"), ("T2", "T1"),
    ]  # fmt: skip
    tally = Tally()
    run_ok(command(root, "ingest", w1.path, "--dataset", "d"))
    state = dict(w1.splits)
    for r in range(rounds):
        a, b = ops[pairs[r % len(pairs)][0]], ops[pairs[r % len(pairs)][1]]
        ran = two_ingests(root, [*a.args, "--dataset", "d"], [*b.args, "--dataset", "d"])
        tally.add("rounds")
        landed = []
        for op, (code, err) in zip((a, b), ran):
            wrong = clean_exit(code, err)
            if wrong:
                tally.add("unclean exit", f"round {r} {op.label}: {wrong}")
            elif code == 0:
                tally.add("exit 0")
                landed.append(op)
            else:
                tally.add("one clean error line", f"round {r} {op.label}: {err.strip()}")
        orders = [[]] if not landed else [landed, landed[::-1]]
        allowed = []
        for order in orders:
            s = dict(state)
            for op in order:
                s = op.apply(s)
            allowed.append(s)
        store = posestore.open(root)
        seen = split_state(store, "d")
        row = tuple(store.sql(row_sql("d")).fetchall()[0])
        meta_splits = sorted(store.dataset_info("d")["metadata"].splits)
        store.close()
        failed = False
        if seen not in allowed:
            failed = True
            tally.add(
                "lost or not whole",
                f"round {r} ({a.label} ∥ {b.label}): splits {seen}, a serial order gives "
                f"{' or '.join(map(str, allowed))}",
            )
        images = sum(i for i, _ in seen.values())
        instances = sum(n for _, n in seen.values())
        if row != (images, images, instances, instances, instances):
            failed = True
            tally.add("lost or not whole", f"round {r}: catalog vs rows {row}")
        if meta_splits != sorted(seen):
            failed = True
            tally.add("lost or not whole", f"round {r}: catalog splits {meta_splits}, rows {seen}")
        hive = hive_row(root, "d")
        if hive != row:
            failed = True
            tally.add("Hive differs", f"round {r}: Hive {hive}, posestore {row}")
        tally.add("rounds failed", n=int(failed))
        state = seen  # the next round starts from what is there
    return tally


# -- 3. SIGKILL at random moments ---------------------------------------------------------


def tree(path: Path) -> dict[str, str] | None:
    """Every file under ``path`` (or ``path`` itself) with its SHA-256; None when absent."""
    if not path.exists():
        return None
    if path.is_file():
        return {"": hashlib.sha256(path.read_bytes()).hexdigest()}
    return {
        str(f.relative_to(path)): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(path.rglob("*"))
        if f.is_file()
    }


@dataclass
class Crash:
    """One kind of operation to kill: how to run it, how to judge and undo its effect."""

    name: str
    args: list[str | Path]
    dataset: str
    old: Row
    new: Row
    restore: Callable[[], None]
    out: Path | None = None
    reference: dict[str, str] | None = None
    trigger: Callable[[], Callable[[], bool]] | None = None
    """Kill within ``AFTER_TRIGGER`` s of a condition turning true (the condition made fresh
    before each run), not at a moment uniform in the whole run."""


AFTER_TRIGGER = 0.02
"""A triggered kill lands uniformly within this many seconds after its trigger fires."""


def kill_runs(
    root: Path, crash: Crash, kills: int, rng: random.Random, watched: dict[str, Row]
) -> tuple[float | None, Tally]:
    """The operation's median duration over 3 runs, then ``kills`` runs killed at a moment
    uniform in it (or when its trigger fires), each judged before and after recovery."""
    import posestore

    typical = None
    if crash.trigger is None:
        durations = []
        for _ in range(3):
            durations.append(timed(command(root, *crash.args)))
            crash.restore()
        typical = statistics.median(durations)
    tally = Tally()
    for k in range(kills):
        fired = crash.trigger() if crash.trigger is not None else None
        proc = subprocess.Popen(
            command(root, *crash.args),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        start = time.perf_counter()
        if fired is None:
            assert typical is not None
            time.sleep(rng.uniform(0, typical))
        else:
            while proc.poll() is None and not fired():
                time.sleep(0.0002)
            time.sleep(rng.uniform(0, AFTER_TRIGGER))
        delay = time.perf_counter() - start
        killed = proc.poll() is None
        if killed:
            proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=1800)
        tally.add("kills")
        where = f"kill {k} at {delay:.3f} s"
        if not killed:
            tally.add("finished before the kill")
            if proc.returncode != 0:
                tally.add("failed without a kill", f"{where}: exit {proc.returncode}: {err[-400:]}")
        # before any recovery: the CLI's sql runs none
        try:
            before = cli_row(root, crash.dataset)
        except Exception as e:  # noqa: BLE001
            tally.add("reader error before recovery", f"{where}: {e}")
            before = None
        if before is not None and before not in (crash.old, crash.new):
            tally.add("not old or new before recovery", f"{where}: {before}")
        hive_before: Row | str
        try:
            hive_before = hive_row(root, crash.dataset)
        except Exception as e:  # noqa: BLE001
            hive_before = f"{type(e).__name__}: {str(e).splitlines()[0]}"
        if hive_before != before:
            kind = "behind" if hive_before in (crash.old, crash.new) else "mixed"
            tally.add(f"Hive {kind} before recovery (informational)", f"{where}: {hive_before}")
        # after the next open (recovery)
        store = posestore.open(root)
        after = tuple(store.sql(row_sql(crash.dataset)).fetchall()[0])
        others = {d: tuple(store.sql(row_sql(d)).fetchall()[0]) for d in watched}
        store.close()
        if after not in (crash.old, crash.new):
            tally.add("not old or new after open()", f"{where}: {after}")
        if before is not None and after != before:
            tally.add("version changed by recovery", f"{where}: {before} → {after}")
        for d, row in others.items():
            if row != watched[d]:
                tally.add("another dataset changed", f"{where}: {d} {row}, was {watched[d]}")
        hive_after = hive_row(root, crash.dataset)
        if hive_after != after:
            tally.add("Hive differs after open()", f"{where}: Hive {hive_after}, posestore {after}")
        left = leftovers(root)
        if left:
            tally.add("leftovers after open()", f"{where}: {', '.join(left[:5])}")
        if after == crash.new and crash.new != crash.old:
            tally.add("new version")
        if crash.out is not None:
            judge_export(crash, tally, where)
        crash.restore()
    return typical, tally


def judge_export(crash: Crash, tally: Tally, where: str) -> None:
    assert crash.out is not None
    got = tree(crash.out)
    if got is None:
        tally.add("OUT absent")
    elif got == crash.reference:
        tally.add("OUT complete")
    else:
        assert crash.reference is not None
        missing = sorted(set(crash.reference) - set(got))
        differ = sorted(f for f in got if f in crash.reference and got[f] != crash.reference[f])
        tally.add(
            "OUT half-written",
            f"{where}: {len(got)} of {len(crash.reference)} files; missing {missing[:3]}, "
            f"different bytes {differ[:3]}",
        )
    litter = [p.name for p in crash.out.parent.iterdir() if p != crash.out]
    if litter:
        tally.add("litter beside OUT (informational)", f"{where}: {litter[:3]}")


def sigkills(
    work: Path, kills: int, kill_images: int, seed: int
) -> dict[str, tuple[float | None, Tally]]:
    import posestore
    from posestore import snapshot

    root = work / "store4"
    rng = random.Random(seed)
    small = single(work / "small.json", 300, seed=60)
    big = single(work / "big.json", kill_images, seed=61)
    other = single(work / "other.json", 200, seed=62)
    removable = single(work / "r.json", max(kill_images // 4, 100), seed=63)
    exported = coco_folder(
        work / "e",
        {"train": max(kill_images // 2, 100), "val": kill_images // 6, "test": kill_images // 12},
        seed=64,
    )
    for src, name in ((other, "other"), (small, "d"), (removable, "r"), (exported, "e")):
        run_ok(command(root, "ingest", src.path, "--dataset", name))
    watched = {"other": other.row, "e": exported.row}

    def ensure(dataset: str, source: Source) -> Callable[[], None]:
        def restore() -> None:
            store = posestore.open(root)
            row = tuple(store.sql(row_sql(dataset)).fetchall()[0])
            store.close()
            if row != source.row:
                run_ok(command(root, "ingest", source.path, "--dataset", dataset))

        return restore

    outs = work / "exports"
    out_dir, out_file = outs / "folder" / "OUT", outs / "file" / "OUT.json"

    def clear(out: Path) -> Callable[[], None]:
        def restore() -> None:
            for p in out.parent.iterdir() if out.parent.exists() else []:
                shutil.rmtree(p) if p.is_dir() else p.unlink()

        return restore

    reference_dir, reference_file = work / "reference", work / "reference.json"
    run_ok(command(root, "export", "e", reference_dir))
    run_ok(command(root, "export", "e", reference_file, "--split", "train"))

    def committed() -> Callable[[], bool]:
        seq = snapshot.latest_seq(root)
        return lambda: snapshot.latest_seq(root) > seq

    def appears(out: Path) -> Callable[[], Callable[[], bool]]:
        return lambda: out.exists

    crashes = [
        Crash(
            "ingest", ["ingest", big.path, "--dataset", "d"], "d", small.row, big.row,
            ensure("d", small),
        ),
        Crash("rm", ["rm", "r"], "r", removable.row, ABSENT, ensure("r", removable)),
        Crash(
            "export, a folder", ["export", "e", out_dir], "e", exported.row, exported.row,
            clear(out_dir), out_dir, tree(reference_dir),
        ),
        Crash(
            "export, one file", ["export", "e", out_file, "--split", "train"], "e",
            exported.row, exported.row, clear(out_file), out_file, tree(reference_file),
        ),
    ]  # fmt: skip
    # the same, killed at the moment most likely to hurt: as the commit's snapshot appears
    # (the Hive folders not yet synced), as OUT appears (its files being written)
    crashes += [
        replace(c, name=f"{c.name}: killed at its commit", trigger=committed)
        if c.out is None
        else replace(c, name=f"{c.name}: killed as OUT appears", trigger=appears(c.out))
        for c in crashes
    ]
    for c in crashes:
        assert c.out is None or c.reference, f"empty reference export for {c.name}"
        if c.out is not None:
            c.out.parent.mkdir(parents=True, exist_ok=True)
    results = {}
    for c in crashes:
        own = {d: r for d, r in watched.items() if d != c.dataset}
        results[c.name] = kill_runs(root, c, kills, rng, own)
        print(f"  {c.name}: {results[c.name][1].counts}", flush=True)
    return results


# -- the report ---------------------------------------------------------------------------


def examples(tally: Tally, skip: tuple[str, ...] = ()) -> list[str]:
    return [
        f"  - {what}: {example}"
        for what, found in tally.examples.items()
        if what not in skip
        for example in found
    ]


def report(args, part1, part2, part3, elapsed: float) -> tuple[str, list[str]]:
    """The Markdown report, and the targets missed."""
    from importlib import metadata

    missed: list[str] = []
    lines = [
        "# posestore: concurrency and crash measurement (issue 16)",
        "",
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC · posestore {metadata.version('posestore')}"
        f" ({git_head()}) · DuckDB {metadata.version('duckdb')} · Polars "
        f"{metadata.version('polars')} · Python {platform.python_version()} · "
        f"{os.cpu_count()} CPUs shared with other work · {elapsed / 60:.1f} min",
        "",
        f"`benchmarks/concurrency.py --seconds {args.seconds:g} --rounds-different "
        f"{args.rounds_different} --rounds-same {args.rounds_same} --kills {args.kills} "
        f"--kill-images {args.kill_images} --seed {args.seed}`",
    ]
    notes: list[str] = []
    if part1:
        writer = part1["results"]["writer"]
        sizes = ", ".join(f"{k[1]:,}/{k[3]:,}" for k in part1["known"])
        lines += [
            "",
            f"## 1. Readers during {args.seconds:g} s of re-ingests",
            "",
            f"One process re-ingested `d` {writer['ingests']} times ({writer['errors']} errors), "
            f"cycling through 3 versions (images/instances: {sizes}; splits train and val). "
            "A mix: an answer that is not one version's catalog counts and rows. For the Hive "
            "readers, a *cross-table* mix (each table one version's count, the tables from "
            "different versions) is counted apart from a count no version has.",
            "",
            "| reader | queries | errors | mixed | cross-table mix | target |",
            "|---|---:|---:|---:|---:|---|",
        ]
        for kind in [k for k in READERS if k in part1["results"]]:
            t = part1["results"][kind]
            hive = kind in HIVE_READERS
            target = "0 errors, 0 mixed" + ("; cross-table not promised" if hive else "")
            ok = t["errors"] == 0 and t["mixed"] == 0 and t["died"] == 0
            lines.append(
                f"| {READERS[kind]} | {t['queries']:,} | {t['errors']} | {t['mixed']} | "
                f"{t['cross-table'] if hive else '-'} | {target}: {'met' if ok else '**missed**'} |"
            )
            if not ok:
                missed.append(f"readers: {kind}")
            notes += [f"- {READERS[kind]}:", *examples(t)] if t.examples else []
        final = part1["final"]
        if writer.examples:
            notes += ["- the writer:", *examples(writer)]
        if final.counts:
            missed.append("readers: final state")
            notes += ["- after the run:", *examples(final)]
        else:
            lines += ["", "After the run: `d` is one version whole, the Hive folders agree, "
                      "and an `open()` with no reader left leaves nothing behind."]  # fmt: skip
    if part2:
        lines += [
            "",
            "## 2. Concurrent writers (`posestore ingest` processes)",
            "",
            "| case | rounds | exits 0 | one clean error line | unclean exits | rounds losing work "
            "or not whole | Hive differs | target |",
            "|---|---:|---:|---:|---:|---:|---:|---|",
        ]
        for case, t in part2.items():
            ok = not (t["unclean exit"] or t["rounds failed"] or t["Hive differs"])
            lines.append(
                f"| {case} | {t['rounds']} | {t['exit 0']} | {t['one clean error line']} | "
                f"{t['unclean exit']} | {t['rounds failed']} | {t['Hive differs']} | "
                f"nothing lost, clean exits: {'met' if ok else '**missed**'} |"
            )
            if not ok:
                missed.append(f"writers: {case}")
            notes += [f"- {case}:", *examples(t)] if t.examples else []
    if part3:
        lines += [
            "",
            "## 3. SIGKILL at random moments",
            "",
            "A kill lands uniformly within the operation's median duration (a CLI process, "
            "start-up included; most land before anything is written), or, in the rows *killed "
            f"at its commit* / *as OUT appears*, uniformly within {AFTER_TRIGGER * 1000:.0f} ms "
            "after the new snapshot or OUT appears (polled), where a crash can hurt most. *Before "
            "recovery*: `posestore sql`, which runs none. "
            "*After open()*: the Python API and plain DuckDB over the Hive folders, and what "
            "recovery left behind.",
            "",
            "| operation | median s | kills | done before kill | new version | reader errors "
            "before recovery | not old/new whole | Hive differs after open() | leftovers | "
            "OUT absent / complete / half-written | target |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
        ]
        after: list[str] = []
        for name, (typical, t) in part3.items():
            wrong = (
                t["not old or new before recovery"]
                + t["not old or new after open()"]
                + t["version changed by recovery"]
                + t["another dataset changed"]
            )
            out = (
                f"{t['OUT absent']} / {t['OUT complete']} / {t['OUT half-written']}"
                if name.startswith("export")
                else "-"
            )
            bad = (
                wrong
                + t["reader error before recovery"]
                + t["Hive differs after open()"]
                + t["leftovers after open()"]
                + t["OUT half-written"]
                + t["failed without a kill"]
            )
            lines.append(
                f"| {name} | {'-' if typical is None else f'{typical:.2f}'} | {t['kills']} | {t['finished before the kill']} | "
                f"{t['new version']} | {t['reader error before recovery']} | {wrong} | "
                f"{t['Hive differs after open()']} | {t['leftovers after open()']} | {out} | "
                f"{'met' if not bad else '**missed**'} |"
            )
            if bad:
                missed.append(f"kills: {name}")
            behind = t["Hive behind before recovery (informational)"]
            mixed = t["Hive mixed before recovery (informational)"]
            litter = t["litter beside OUT (informational)"]
            if behind or mixed:
                after.append(
                    f"- {name}: before recovery, the Hive folders showed another version than "
                    f"posestore's after {behind + mixed} of {t['kills']} kills, a mix of the "
                    f"two (some tables old, some new) after {mixed} (a sync the kill "
                    "interrupted; the next `open()` finishes it)."
                )
            if litter:
                after.append(f"- {name}: {litter} of {t['kills']} kills left files beside OUT.")
            notes += [f"- {name}:", *examples(t)] if t.examples else []
        lines += ["", *after] if after else []
    if notes:
        lines += ["", "### First examples", "", *notes]
    lines += [
        "",
        "**Targets: " + ("all met**" if not missed else f"missed: {', '.join(missed)}**"),
        "",
    ]
    return "\n".join(lines), missed


def git_head() -> str:
    r = subprocess.run(
        ["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return r.stdout.strip() or "unknown commit"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60, help="re-ingest time of part 1 [60]")
    ap.add_argument("--rounds-different", type=int, default=50, help="part 2, two datasets [50]")
    ap.add_argument("--rounds-same", type=int, default=20, help="part 2, one dataset [20]")
    ap.add_argument("--kills", type=int, default=50, help="part 3, kills per operation [50]")
    ap.add_argument(
        "--kill-images", type=int, default=12000, help="images of the killed ingest [12000]"
    )
    ap.add_argument("--readers", default=",".join(READERS), help="part 1's readers")
    ap.add_argument("--parts", default="1,2,3", help="which parts to run [1,2,3]")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, help="scratch folder [a temporary one]")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder")
    ap.add_argument("--out", type=Path, help="write the Markdown report here too")
    args = ap.parse_args()
    parts = {int(p) for p in args.parts.split(",") if p}
    work = args.work or Path(tempfile.mkdtemp(prefix="posestore-concurrency-"))
    work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    part1 = part2 = part3 = None
    try:
        if 1 in parts:
            print(f"1. readers during {args.seconds:g} s of re-ingests …", flush=True)
            part1 = readers_during_reingest(work, args.seconds, args.readers.split(","))
        if 2 in parts:
            print(f"2. concurrent writers: {args.rounds_different} + {args.rounds_same} rounds …")
            part2 = {
                "two datasets at once": writers_of_different_datasets(work, args.rounds_different),
                "one dataset, whole and --split ingests": writers_of_one_dataset(
                    work, args.rounds_same
                ),
            }
        if 3 in parts:
            print(f"3. SIGKILL, {args.kills} per operation …", flush=True)
            part3 = sigkills(work, args.kills, args.kill_images, args.seed)
    finally:
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)
        elif args.keep:
            print(f"scratch kept in {work}")
    text, missed = report(args, part1, part2, part3, time.perf_counter() - start)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
