"""``--engine ray``: the same readers as Ray tasks on a local cluster write the same store as a
local ingest, table by table; a reader's error comes back as itself; a killed Ray ingest
leaves the store as it was; without Ray the engine says how to install it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import snapshot

import posestore
from posestore import schema, synthetic
from posestore.errors import StoreError, UnsafePickle


def assert_same_store(a: posestore.Store, b: posestore.Store, dataset: str) -> None:
    """Every table of the dataset equal, row for row in stored order (ingest time aside)."""
    for table in schema.SCHEMAS:
        left, right = a._read(table, dataset), b._read(table, dataset)
        if table == "datasets":
            left, right = (t.drop_columns(["ingested_at"]) for t in (left, right))
        assert left.equals(right), f"{table} differs"


def _fashionai_folder(root: Path) -> Path:
    for k, name in enumerate(("train", "test_a")):
        synthetic.fashionai_csv(root / f"{name}.csv", n_rows=60 + k, seed=k)
    return root


def _sources(root: Path) -> dict[str, tuple[Path, dict]]:
    sources = synthetic.demo_sources(root)
    return {
        "kinetics": (synthetic.kinetics_scale(root / "k400s", 30, 8), {}),
        "coco-folder": (sources["coco"], {}),
        "fashionai": (_fashionai_folder(root / "fashionai2"), {}),
        "ntu": (sources["ntu"], {}),
    }


@pytest.mark.slow
@pytest.mark.parametrize("name", ["kinetics", "coco-folder", "fashionai", "ntu"])
def test_ray_ingest_writes_the_local_ingest_store_table_by_table(
    ray_cluster, name, tmp_path, monkeypatch
):
    from posestore.ingest import pyskl

    monkeypatch.setattr(pyskl, "ROWS_PER_BATCH", 2_000)  # a PYSKL pickle in several batches
    source, options = _sources(tmp_path)[name]
    local, on_ray = (posestore.open(tmp_path / s) for s in ("local", "ray"))
    (a,) = local.ingest(source, dataset="d", **options)
    (b,) = on_ray.ingest(source, dataset="d", engine="ray", **options)
    assert a.counts == b.counts and a.splits == b.splits
    assert_same_store(local, on_ray, "d")
    for table in ("images", "instances", "keypoints", "categories", "datasets"):
        assert len(on_ray._read(table, "d")), f"no {table}: nothing compared"
    # the work ran as several tasks: their parts are named by piece
    parts = {
        p.name.split("-part-", 1)[1].split("-")[0]
        for p in (tmp_path / "ray" / "keypoints").rglob("*.parquet")
    }
    assert len(parts) > 1


def test_a_hostile_kpfile_is_refused_inside_the_ray_task(ray_cluster, tmp_path):
    import pickle

    index = synthetic.kinetics_scale(tmp_path / "k400", 12, 4)
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (index.parent / "kpfiles" / "k400_part_001.pkl").write_bytes(pickle.dumps(Evil()))
    store = posestore.open(tmp_path / "store")
    before = snapshot(store.root)
    with pytest.raises(UnsafePickle, match=r"k400_part_001\.pkl: refused.*it holds 4 clips"):
        store.ingest(index, dataset="k", engine="ray")
    assert not marker.exists()
    assert snapshot(store.root) == before
    assert not list((store.root / ".posestore" / "txn").iterdir())


def test_engine_ray_without_ray_says_how_to_install(tmp_path, monkeypatch, cli):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    source = synthetic.write_json(synthetic.coco_keypoints(3), tmp_path / "a.json")
    store = posestore.open(tmp_path / "store")
    with pytest.raises(StoreError, match=r"pip install 'posestore\[ray\]'"):
        store.ingest(source, engine="ray")
    result = cli("ingest", source, "--engine", "ray", "--store", tmp_path / "store")
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 1 and "pip install 'posestore[ray]'" in line
    assert store.dataset_names() == []


KILLED_INGEST = """
import sys, posestore
posestore.open(sys.argv[1]).ingest(sys.argv[2], dataset="k", engine="ray")
"""


@pytest.mark.slow
def test_killing_a_ray_ingest_midway_leaves_the_store_as_it_was(ray_cluster, tmp_path):
    index = synthetic.kinetics_scale(tmp_path / "k400", 2400, 40)  # 60 kpfiles
    store = posestore.open(tmp_path / "store")
    store.ingest(synthetic.kinetics_scale(tmp_path / "small", 10, 5), dataset="k")
    before = snapshot(store.root)
    rows = store.sql("SELECT count(*) FROM keypoints").fetchall()
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # a cluster of its own
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_INGEST, str(store.root), str(index)],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    txn = store.root / ".posestore" / "txn"
    try:
        deadline = time.monotonic() + 120
        while not any(txn.glob("*/keypoints/*/*/part-*.parquet")):
            assert proc.poll() is None, "the ingest ended before writing a part"
            assert time.monotonic() < deadline, "no part written in 120 s"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)  # the driver, midway: parts written, no commit
        proc.wait()
    finally:
        with contextlib.suppress(ProcessLookupError):  # the cluster that driver started
            os.killpg(proc.pid, signal.SIGKILL)
    time.sleep(1)
    live = {k: v for k, v in snapshot(store.root).items() if not k.startswith(".posestore/txn/")}
    assert live == before
    reopened = posestore.open(store.root)  # the dead transaction is recovered: thrown away
    assert not list(txn.iterdir())
    assert snapshot(reopened.root) == before
    assert reopened.sql("SELECT count(*) FROM keypoints").fetchall() == rows


@pytest.mark.real
def test_the_real_kinetics_index_ingests_on_ray_as_it_does_locally(ray_cluster, tmp_path):
    from conftest import real_dir

    path = real_dir("pyskl") / "mmaction2_k400_kpfile_index_sample.pkl"
    local, on_ray = (posestore.open(tmp_path / s) for s in ("local", "ray"))
    for store, engine in ((local, "local"), (on_ray, "ray")):
        with pytest.warns(UserWarning, match="100 of 100 clips name no kpfile"):
            store.ingest(path, dataset="k", engine=engine)
    assert_same_store(local, on_ray, "k")
