"""Why posestore commits through its own manifest of live files and not Delta Lake's log.

DESIGN v2 asks for an existing commit protocol where one gives what the store promises:
a reader sees one version of the store whole (never new instances with old keypoints),
never an error, and plain Hive readers still read the current version. This measures both
candidates on the same work: one dataset (its ``images`` and ``keypoints`` tables, from
three synthetic COCO versions of different sizes) re-ingested in a loop while a reader
thread reads both tables.

- **posestore**: this package (``posestore/snapshot.py``, ``posestore/transaction.py``).
- **Delta Lake** through ``deltalake``: one Delta table per store table, partitioned by
  dataset; a re-ingest overwrites the dataset's partition of each table
  (``write_deltalake(mode="overwrite", predicate=...)``), a reader opens each table's
  latest version.

Reported: answers of each protocol's own reader that mix two versions, reader errors, the
rows a plain Hive reader (DuckDB over ``<table>/*/*.parquet``) counts after the loop, the
time of a commit (posestore: ``Transactions.commit`` alone, the files already written;
Delta: the two ``write_deltalake`` calls, which also write the files) and of a read
opening the store afresh. ``deltalake`` is not a dependency of posestore:
``pip install deltalake`` to run this (the result is quoted in README).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

import duckdb
import pyarrow.compute as pc

import posestore
from posestore import synthetic

MIX_SQL = (
    "SELECT (SELECT count(*) FROM images WHERE dataset = 'd'),"
    " (SELECT count(*) FROM keypoints WHERE dataset = 'd')"
)


def versions(tmp: Path) -> list[Path]:
    return [
        synthetic.write_json(synthetic.coco_keypoints(200 + 300 * k, seed=k), tmp / f"v{k}.json")
        for k in range(3)
    ]


def loop(write, read, known: set, seconds: float) -> dict:
    """Re-ingest with ``write(k)`` for ``seconds`` while a thread calls ``read()``."""
    stop = threading.Event()
    answers: list = []
    errors: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                answers.append(read())
            except Exception as e:  # noqa: BLE001 - every failure is counted
                errors.append(f"{type(e).__name__}: {e}"[:200])

    thread = threading.Thread(target=reader)
    thread.start()
    commits: list[float] = []
    end, k = time.monotonic() + seconds, 1
    while time.monotonic() < end:
        start = time.perf_counter()
        write(k % 3)
        commits.append(time.perf_counter() - start)
        k += 1
    stop.set()
    thread.join()
    return {
        "reads": len(answers),
        "mixed": sum(a not in known for a in answers),
        "errors": len(errors),
        "first_error": errors[0] if errors else "",
        "commits": len(commits),
        "ms_per_commit": 1000 * statistics.median(commits),
    }


def hive_rows(root: Path, table: str, depth: str) -> int:
    glob = f"{root}/{table}/{depth}/*.parquet"
    return duckdb.sql(f"SELECT count(*) FROM read_parquet('{glob}')").fetchall()[0][0]


def posestore_side(tmp: Path, sources: list[Path], seconds: float) -> dict:
    store = posestore.open(tmp / "posestore")
    known = set()
    for src in sources:
        store.ingest(src, dataset="d")
        known.add(store.sql(MIX_SQL).fetchall()[0])
    reader = posestore.open(store.root)
    commit, spent = store._txns.commit, []

    def timed_commit(*args, **kwargs) -> None:  # the protocol's share of an ingest
        start = time.perf_counter()
        commit(*args, **kwargs)
        spent.append(time.perf_counter() - start)

    store._txns.commit = timed_commit  # type: ignore[method-assign]
    result = loop(
        lambda k: store.ingest(sources[k], dataset="d"),
        lambda: reader.sql(MIX_SQL).fetchall()[0],
        known,
        seconds,
    )
    result["ms_per_commit"] = 1000 * statistics.median(spent)
    now = store.sql(MIX_SQL).fetchall()[0]
    result["hive_rows"] = (hive_rows(store.root, "images", "*/*"), now[0])
    start = time.perf_counter()
    posestore.open(store.root).sql(MIX_SQL).fetchall()
    result["ms_cold_read"] = 1000 * (time.perf_counter() - start)
    return result


def delta_side(tmp: Path, sources: list[Path], seconds: float) -> dict:
    from deltalake import DeltaTable, write_deltalake

    staging = posestore.open(tmp / "staging")
    tables = []
    for k, src in enumerate(sources):
        staging.ingest(src, dataset=f"v{k}")
        tables.append(
            {
                t: staging.sql(f"SELECT * REPLACE ('d' AS dataset) FROM {t} WHERE dataset = 'v{k}'")
                .arrow()
                .read_all()
                for t in ("images", "keypoints")
            }
        )
    known = {(len(t["images"]), len(t["keypoints"])) for t in tables}
    root = tmp / "delta"

    def write(k: int) -> None:
        for name in ("images", "keypoints"):
            path = root / name
            if not path.exists():
                write_deltalake(path, tables[k][name], partition_by=["dataset"])
            else:
                write_deltalake(path, tables[k][name], mode="overwrite", predicate="dataset = 'd'")

    def read() -> tuple[int, int]:
        counts = []
        for name in ("images", "keypoints"):
            ds = DeltaTable(root / name).to_pyarrow_dataset()
            counts.append(ds.count_rows(filter=pc.field("dataset") == "d"))
        return tuple(counts)

    write(0)
    result = loop(write, read, known, seconds)
    now = read()
    result["hive_rows"] = (hive_rows(root, "images", "*"), now[0])
    start = time.perf_counter()
    read()
    result["ms_cold_read"] = 1000 * (time.perf_counter() - start)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        sources = versions(tmp)
        rows = {"posestore (manifest)": posestore_side(tmp, sources, args.seconds)}
        try:
            import deltalake

            rows[f"Delta Lake (deltalake {deltalake.__version__})"] = delta_side(
                tmp, sources, args.seconds
            )
        except ImportError:
            print("deltalake is not installed: `pip install deltalake` to compare")
    print(
        "| protocol | reads | mixed | errors | commits | ms/commit | ms/cold read "
        "| plain Hive reader's image rows (true) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(
            f"| {name} | {r['reads']} | {r['mixed']} | {r['errors']} | {r['commits']} "
            f"| {r['ms_per_commit']:.0f} | {r['ms_cold_read']:.0f} "
            f"| {r['hive_rows'][0]} ({r['hive_rows'][1]}) |"
        )
        if r["first_error"]:
            print(f"  first error: {r['first_error']}")


if __name__ == "__main__":
    main()
