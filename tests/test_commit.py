"""The commit protocol: readers see one version whole, writers never lose each other's work,
a crash at any step leaves the old version or the new one, and nothing touches a live
writer's transaction."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import duckdb
import pytest

import posestore
from posestore import snapshot, synthetic, transaction
from posestore.layout import DATA_DIR, META_DIR, TXN_DIR


def coco(tmp_path, name: str, n: int, seed: int):
    return synthetic.write_json(synthetic.coco_keypoints(n, seed=seed), tmp_path / f"{name}.json")


def hive_images(root) -> dict:
    """Image rows per dataset read by plain DuckDB from the Hive folders."""
    rows = duckdb.sql(
        f"SELECT dataset, count(*) FROM read_parquet('{root}/images/*/*/*.parquet', "
        "hive_partitioning = true) GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    return dict(rows)


def source_counts(path) -> tuple[int, int]:
    doc = json.loads(path.read_bytes())
    return len(doc["images"]), len(doc["annotations"])


def consistent(store, dataset: str) -> tuple[int, int]:
    """One query reading four tables of one version: the catalog's counts, and the rows."""
    row = store.sql(
        "SELECT (SELECT num_images FROM datasets WHERE dataset = $d),"
        " (SELECT count(*) FROM images WHERE dataset = $d),"
        " (SELECT num_instances FROM datasets WHERE dataset = $d),"
        " (SELECT count(*) FROM keypoints WHERE dataset = $d)",
        params={"d": dataset},
    ).fetchall()[0]
    assert row[0] == row[1] and row[2] == row[3], f"a mix of two versions: {row}"
    return row[1], row[3]


class Crash(BaseException):
    pass


def test_a_crash_before_the_snapshot_leaves_the_old_version(store, tmp_path, monkeypatch):
    old = coco(tmp_path, "old", 10, 1)
    store.ingest(old, dataset="d")
    monkeypatch.setattr(
        transaction.Transactions, "_write_snapshot", lambda *a: (_ for _ in ()).throw(Crash)
    )
    with pytest.raises(Crash):
        store.ingest(coco(tmp_path, "new", 25, 2), dataset="d")
    monkeypatch.undo()
    reopened = posestore.open(store.root)
    assert consistent(reopened, "d") == source_counts(old)
    assert hive_images(store.root) == {"d": 10}
    # the orphaned files of the failed commit are gone: one data folder, the live one
    assert len(list((store.root / META_DIR / DATA_DIR).iterdir())) == 1


def test_a_crash_in_the_middle_of_the_hive_sync_is_finished_on_next_open(
    store, tmp_path, monkeypatch
):
    store.ingest(coco(tmp_path, "old", 10, 1), dataset="d")
    new = coco(tmp_path, "new", 25, 2)
    real = transaction.Transactions._sync_one
    calls = {"n": 0}

    def crashing(self, *args):
        calls["n"] += 1
        if calls["n"] == 4:  # some tables' folders swapped, others not
            raise Crash
        real(self, *args)

    monkeypatch.setattr(transaction.Transactions, "_sync_one", crashing)
    with pytest.raises(Crash):
        store.ingest(new, dataset="d")
    monkeypatch.undo()
    # the snapshot was written: posestore's readers see the new version whole at once,
    # even one that runs no recovery (the CLI's `sql`)
    from posestore.connect import connect

    con = connect(store.root)
    assert con.sql("SELECT count(*) FROM images").fetchall()[0][0] == 25
    assert consistent(store, "d") == source_counts(new)
    reopened = posestore.open(store.root)
    assert hive_images(store.root) == {"d": 25}
    assert consistent(reopened, "d") == source_counts(new)


def test_a_reader_keeps_its_version_while_a_commit_replaces_it(store, tmp_path):
    old, new = coco(tmp_path, "old", 10, 1), coco(tmp_path, "new", 25, 2)
    store.ingest(old, dataset="d")
    reader = posestore.open(store.root)
    files = reader.files("images")
    assert consistent(reader, "d") == source_counts(old)
    store.ingest(new, dataset="d")
    assert all(os.path.exists(f) for f in files), "a held version's files were removed"
    assert duckdb.sql(f"SELECT count(*) FROM read_parquet({files})").fetchall()[0][0] == 10
    # the next query sees the new version; closing lets the old one go at the next commit
    assert consistent(reader, "d") == source_counts(new)
    reader.close()
    store.close()  # the writer held it too: the version before its current one
    store.ingest(old, dataset="e")
    assert not any(os.path.exists(f) for f in files)


def test_open_never_touches_a_live_transaction(store, tmp_path):
    txns = transaction.Transactions(store.root)
    txn = txns.new()
    (txn / "images").mkdir()
    (txn / "images" / "marker").write_text("x")
    posestore.open(store.root)  # recovery runs here
    assert (txn / "images" / "marker").exists()
    txns.discard(txn)
    assert list((store.root / META_DIR / TXN_DIR).iterdir()) == []


DEAD_WRITER = """
import os, sys
from pathlib import Path
from posestore import transaction
txn = transaction.Transactions(Path(sys.argv[1])).new()
(txn / "images").mkdir()
os._exit(0)  # dies without discarding: its lock is released by the kernel
"""


def test_open_removes_the_transaction_of_a_writer_that_died(store):
    subprocess.run([sys.executable, "-c", DEAD_WRITER, str(store.root)], check=True)
    txn_root = store.root / META_DIR / TXN_DIR
    assert len(list(txn_root.iterdir())) == 2  # its folder and its lock
    posestore.open(store.root)
    assert list(txn_root.iterdir()) == []


INGEST = """
import sys, posestore
args = sys.argv[1:]
posestore.open(args[0]).ingest(args[1], dataset=args[2], split=args[3] if len(args) > 3 else None)
"""


def ingest_process(root, source, dataset, split=None):
    args = [str(root), str(source), dataset] + ([split] if split else [])
    return subprocess.Popen([sys.executable, "-c", INGEST, *args], stderr=subprocess.PIPE)


@pytest.mark.slow
def test_two_writers_of_different_datasets_both_land(store, tmp_path):
    a, b = coco(tmp_path, "a", 300, 1), coco(tmp_path, "b", 200, 2)
    for _ in range(3):
        procs = [ingest_process(store.root, a, "a"), ingest_process(store.root, b, "b")]
        for p in procs:
            assert p.wait() == 0, p.stderr.read().decode()
        assert consistent(store, "a") == source_counts(a)
        assert consistent(store, "b") == source_counts(b)
    assert hive_images(store.root) == {"a": 300, "b": 200}


@pytest.mark.slow
def test_two_writers_of_one_dataset_take_turns_and_keep_both_splits(store, tmp_path):
    first = coco(tmp_path, "first", 5, 9)
    store.ingest(first, dataset="d", split="test")
    train, val = coco(tmp_path, "train", 300, 1), coco(tmp_path, "val", 200, 2)
    procs = [
        ingest_process(store.root, train, "d", "train"),
        ingest_process(store.root, val, "d", "val"),
    ]
    for p in procs:
        assert p.wait() == 0, p.stderr.read().decode()
    rows = store.sql("SELECT split, count(*) FROM images GROUP BY 1 ORDER BY 1").fetchall()
    assert rows == [("test", 5), ("train", 300), ("val", 200)]
    assert consistent(store, "d") == (505, sum(source_counts(f)[1] for f in (first, train, val)))
    assert sorted(store.dataset_info("d")["metadata"].splits) == ["test", "train", "val"]


def test_readers_never_see_a_mix_while_a_dataset_is_re_ingested(store, tmp_path):
    versions = [coco(tmp_path, f"v{k}", 20 + 15 * k, k) for k in range(3)]
    expected = {source_counts(v) for v in versions}
    store.ingest(versions[0], dataset="d")
    stop = threading.Event()
    seen: list = []
    errors: list = []

    def read() -> None:
        reader = posestore.open(store.root)
        while not stop.is_set():
            try:
                seen.append(consistent(reader, "d"))
            except Exception as e:  # noqa: BLE001 - any failure is what the test counts
                errors.append(e)
        reader.close()

    thread = threading.Thread(target=read)
    thread.start()
    writer = posestore.open(store.root)
    for k in range(9):
        writer.ingest(versions[k % 3], dataset="d")
    stop.set()
    thread.join()
    assert errors == []
    assert seen and set(seen) <= expected
    # held versions stay (each store holds its current one and the one before) until let go
    writer.close()
    store.close()
    writer.ingest(versions[0], dataset="d")
    writer.close()
    posestore.open(store.root)  # recovery removes what no one holds
    assert len(snapshot.sequences(store.root)) == 1
    assert len(list((store.root / META_DIR / DATA_DIR).iterdir())) == 1


def test_a_store_from_before_versions_is_adopted_whole(store, tmp_path, cli):
    src = coco(tmp_path, "a", 30, 1)
    store.ingest(src, dataset="d")
    meta = store.root / META_DIR
    import shutil

    # the layout of a store written before versions: Hive folders, no snapshots, no data/
    store.close()
    for sub in ("snapshots", DATA_DIR, "synced"):
        path = meta / sub
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    assert hive_images(store.root) == {"d": 30}
    result = cli("--store", store.root, "sql", "SELECT count(*) AS n FROM images", "--csv")
    assert result.exit_code == 0 and result.stdout.split() == ["n", "30"]
    assert consistent(posestore.open(store.root), "d") == source_counts(src)
    assert snapshot.sequences(store.root) == [1]


def test_a_refused_swap_after_the_commit_point_is_a_warning_and_is_retried(
    store, tmp_path, monkeypatch
):
    store.ingest(coco(tmp_path, "old", 10, 1), dataset="d")
    new = coco(tmp_path, "new", 25, 2)

    def refused(a, b):
        raise PermissionError(13, "Permission denied", str(b))

    monkeypatch.setattr(transaction, "exchange", refused)
    with pytest.warns(UserWarning, match="version .* is committed, but the Hive folders"):
        store.ingest(new, dataset="d")
    assert consistent(store, "d") == source_counts(new)
    assert hive_images(store.root) == {"d": 10}  # the old folders, whole
    with pytest.warns(UserWarning, match="committed"):
        posestore.open(store.root)  # still refused: still a warning, never a traceback
    monkeypatch.undo()
    posestore.open(store.root)
    assert hive_images(store.root) == {"d": 25}


def test_an_export_reads_one_version_while_a_commit_lands_midway(store, tmp_path, monkeypatch):
    src = tmp_path / "src"
    for name, n, seed in (("train", 30, 1), ("val", 20, 2)):
        synthetic.write_json(
            synthetic.coco_keypoints(n, seed=seed), src / f"person_keypoints_{name}.json"
        )
    store.ingest(src, dataset="d")
    reference = store.export("d", tmp_path / "reference")
    writer = posestore.open(store.root)
    real = posestore.Store.split_tables
    calls = {"n": 0}

    def split_tables_then_commit(self, *args, **kwargs):
        tables = real(self, *args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 1:  # between the first split's read and the second's
            writer.ingest(coco(tmp_path, "other", 7, 9), dataset="d", split="val")
        return tables

    monkeypatch.setattr(posestore.Store, "split_tables", split_tables_then_commit)
    written = store.export("d", tmp_path / "during")
    assert calls["n"] == 2
    assert sorted(p.name for p in written) == sorted(p.name for p in reference)
    for a, b in zip(sorted(written), sorted(reference)):
        assert a.read_bytes() == b.read_bytes(), f"{a.name} is not the version the export began"
    monkeypatch.undo()
    assert store.sql("SELECT count(*) FROM images WHERE split = 'val'").fetchall() == [(7,)]
