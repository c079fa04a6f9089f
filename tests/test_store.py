"""The store: Hive layout readable without posestore, atomic replacement, crash recovery, rm."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import real_dir
from posestore.queries import subset

import posestore
from posestore import parquet, schema, synthetic
from posestore import store as store_module


def counts_without_posestore(root) -> dict:
    """Row counts per (dataset, split) read by plain DuckDB with Hive partitioning."""
    rows = duckdb.sql(
        f"SELECT dataset, split, count(*) FROM read_parquet('{root}/images/*/*/*.parquet', "
        "hive_partitioning = true) GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    return {(d, s): n for d, s, n in rows}


def test_tables_follow_the_hive_layout_and_read_without_posestore(store, tmp_path):
    a = synthetic.write_json(
        synthetic.coco_keypoints(30, seed=1), tmp_path / "src" / "person_keypoints_val2017.json"
    )
    synthetic.write_json(
        synthetic.coco_keypoints(20, seed=2, first_image_id=5000, first_annotation_id=90000),
        tmp_path / "src" / "person_keypoints_train2017.json",
    )
    store.ingest(a.parent, dataset="coco")
    # each file named by the version that wrote it (``<txn>-part-00000.parquet``)
    for table in schema.SPLIT_TABLES:
        for split in ("train2017", "val2017"):
            folder = store.root / table / "dataset=coco" / f"split={split}"
            assert [p.name.split("-", 2)[2] for p in folder.iterdir()] == ["part-00000.parquet"]
    (catalog,) = (store.root / "categories" / "dataset=coco").iterdir()
    assert catalog.name.endswith("-part-00000.parquet")
    assert counts_without_posestore(store.root) == {
        ("coco", "train2017"): 20,
        ("coco", "val2017"): 30,
    }
    lf = pl.scan_parquet(str(store.root / "keypoints"), hive_partitioning=True)
    by_split = lf.group_by("split").agg(pl.len()).sort("split").collect()
    assert by_split["len"].to_list() == [
        store.sql(f"SELECT count(*) FROM keypoints WHERE split = '{s}'").fetchall()[0][0]
        for s in ("train2017", "val2017")
    ]
    described = {
        row[0]: row[1]
        for row in duckdb.sql(
            f"DESCRIBE SELECT * FROM read_parquet('{store.root}/instances/*/*/*.parquet', hive_partitioning = true)"
        ).fetchall()
    }
    assert described["dataset"] == "VARCHAR" and described["instance_id"] == "BIGINT"
    # one row per pose, the joints as lists of one length per category
    assert lf.select(pl.col("x").list.len().unique()).collect()["x"].to_list() == [17]
    assert lf.select(
        pl.col("x").list.eval(pl.element().cast(pl.Float64)).list.sum().sum()
    ).collect().item() == pytest.approx(store.sql("SELECT sum(x) FROM joints").fetchall()[0][0])


def test_detector_coordinates_are_written_as_byte_streams(store, tmp_path):
    clips = synthetic.pyskl_clips(20, seed=4)  # float32 noise: nearly every value distinct
    store.ingest(synthetic.pyskl_pickle(tmp_path / "clips.pkl", clips), dataset="ntu")
    encodings = _encodings(store.root / "keypoints/dataset=ntu")
    assert "BYTE_STREAM_SPLIT" in encodings["x.list.element"]
    assert "BYTE_STREAM_SPLIT" in encodings["score.list.element"]
    assert "BYTE_STREAM_SPLIT" not in encodings["visibility.list.element"]
    got = pl.scan_parquet(str(store.root / "keypoints"), hive_partitioning=True)
    total = sum(float(c["keypoint"][..., 0].astype(np.float64).sum()) for c in clips)
    sums = pl.col("x").list.eval(pl.element().cast(pl.Float64)).list.sum().sum()
    assert got.select(sums).collect().item() == pytest.approx(total)


@pytest.mark.real
def test_pixel_coordinates_are_written_as_dictionary_pages(store):
    path = real_dir("coco_keypoints") / "hrnetpe_person_keypoints_train2017.json"
    store.ingest(path, dataset="hrnet")  # integer pixels: a few hundred distinct values
    encodings = _encodings(store.root / "keypoints/dataset=hrnet")
    x = encodings["x.list.element"]
    assert "RLE_DICTIONARY" in x and "BYTE_STREAM_SPLIT" not in x
    outlines = _encodings(store.root / "instances/dataset=hrnet")
    assert "RLE_DICTIONARY" in outlines["polygons.list.element.list.element"]


@pytest.mark.real
def test_float16_pose_columns_get_the_encodings_that_suit_them(store):
    path = real_dir("pyskl") / "lzx_ntu60_hrnet.pkl"  # HRNet output kept as float16
    store.ingest(path, dataset="lzx")
    folder = store.root / "keypoints/dataset=lzx"
    encodings = _encodings(folder)
    # 2-5k distinct values per 128k: byte streams (smaller and faster to write than
    # dictionaries at zstd's fastest level, and scanned about as fast)
    for column in ("x", "y", "score"):
        leaf = encodings[f"{column}.list.element"]
        assert "BYTE_STREAM_SPLIT" in leaf and "RLE_DICTIONARY" not in leaf
    assert "RLE_DICTIONARY" in encodings["visibility.list.element"]
    assert "DELTA_BINARY_PACKED" in encodings["instance_id"]
    assert "DELTA_BINARY_PACKED" in encodings["image_id"]
    for part in folder.rglob("*.parquet"):
        group = pq.ParquetFile(part).metadata.row_group(0)
        stats = {
            group.column(i).path_in_schema: group.column(i).is_stats_set
            for i in range(group.num_columns)
        }
        assert not stats["dataset"] and not stats["split"] and stats["instance_id"]
        assert stats["x.list.element"]
    # what other engines read back from those pages is what posestore's SQL sees
    lf = pl.scan_parquet(str(store.root / "keypoints"), hive_partitioning=True)
    polars_sums = (
        lf.select(
            pl.col("instance_id").sum(),
            pl.col("x").list.len().cast(pl.Int64).sum().alias("joints"),
            pl.col("x").list.eval(pl.element().cast(pl.Float64)).list.sum().sum(),
        )
        .collect()
        .row(0)
    )
    duck_sums = store.sql(
        "SELECT sum(instance_id), sum(len(x)), sum(list_sum(x)::DOUBLE) FROM keypoints"
    ).fetchall()[0]
    assert polars_sums[:2] == duck_sums[:2] and polars_sums[2] == pytest.approx(duck_sums[2])


@pytest.mark.parametrize("table", sorted(schema.SCHEMAS))
def test_leaf_paths_name_every_parquet_column(table, tmp_path):
    empty = schema.empty(table)
    pq.write_table(empty, tmp_path / "t.parquet")
    written = pq.ParquetFile(tmp_path / "t.parquet").schema
    want = [written.column(i).path for i in range(len(written))]
    assert [p for field in empty.schema for p in parquet.leaf_paths(field)] == want


def _encodings(folder) -> dict[str, set]:
    """Parquet page encodings per column, over every part under ``folder``."""
    out: dict[str, set] = {}
    for path in folder.rglob("*.parquet"):
        meta = pq.ParquetFile(path).metadata
        for g in range(meta.num_row_groups):
            for c in map(meta.row_group(g).column, range(meta.num_columns)):
                out.setdefault(c.path_in_schema, set()).update(c.encodings)
    return out


def test_scan_and_sql_agree(store, tmp_path):
    store.ingest(
        synthetic.write_json(synthetic.coco_keypoints(40, seed=3), tmp_path / "a.json"), dataset="a"
    )
    visible = (
        store.scan("keypoints")
        .select(pl.col("visibility").explode())
        .filter(pl.col("visibility") == 2)
        .select(pl.len())
        .collect()
        .item()
    )
    assert (
        visible
        == store.sql("SELECT count(*) FROM joints WHERE visibility = 2").fetchall()[0][0]
        > 0
    )


def test_reingest_replaces_the_whole_dataset(store, tmp_path):
    src = tmp_path / "src"
    synthetic.write_json(synthetic.coco_keypoints(10, seed=1), src / "person_keypoints_val.json")
    synthetic.write_json(
        synthetic.coco_keypoints(5, seed=2, first_image_id=100, first_annotation_id=1000),
        src / "person_keypoints_train.json",
    )
    store.ingest(src, dataset="d")
    assert counts_without_posestore(store.root) == {("d", "train"): 5, ("d", "val"): 10}
    one = synthetic.write_json(
        synthetic.coco_keypoints(7, seed=3), tmp_path / "person_keypoints_val.json"
    )
    store.ingest(one, dataset="d")
    assert counts_without_posestore(store.root) == {("d", "val"): 7}
    assert not (store.root / "images" / "dataset=d" / "split=train").exists()
    assert list((store.root / store_module.META_DIR / store_module.TXN_DIR).iterdir()) == []


def test_rm_removes_the_dataset_from_every_table(store, tmp_path):
    store.ingest(
        synthetic.write_json(synthetic.coco_keypoints(5, seed=1), tmp_path / "a.json"), dataset="a"
    )
    store.ingest(
        synthetic.write_json(synthetic.coco_keypoints(5, seed=2), tmp_path / "b.json"), dataset="b"
    )
    store.rm("a")
    assert store.dataset_names() == ["b"]
    for table in schema.SCHEMAS:
        assert not (store.root / table / "dataset=a").exists()
    assert store.sql("SELECT DISTINCT dataset FROM keypoints").fetchall() == [("b",)]
    with pytest.raises(posestore.StoreError, match="no dataset 'a'"):
        store.rm("a")


KILL_SCRIPT = """
import sys, posestore
posestore.open(sys.argv[1]).ingest(sys.argv[2], dataset="d")
"""


@pytest.mark.slow
def test_ingest_killed_midway_leaves_the_previous_version_whole(store, tmp_path):
    old = synthetic.write_json(synthetic.coco_keypoints(50, seed=1), tmp_path / "old.json")
    store.ingest(old, dataset="d")
    before = counts_without_posestore(store.root)
    big = tmp_path / "big"
    for k in range(6):
        synthetic.write_json(
            synthetic.coco_keypoints(
                6000, seed=10 + k, first_image_id=1 + k * 10**6, first_annotation_id=1 + k * 10**7
            ),
            big / f"person_keypoints_part{k}.json",
        )
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(store.root), str(big)])
    txn_root = store.root / store_module.META_DIR / store_module.TXN_DIR
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if any(txn_root.rglob("*.parquet")):
            break
        time.sleep(0.005)
    assert proc.poll() is None, "the ingest finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert any(txn_root.rglob("*.parquet")), "the kill came before any file was staged"
    # queries that do not go through posestore see the old version, whole
    assert counts_without_posestore(store.root) == before
    reopened = posestore.open(store.root)
    assert list(txn_root.iterdir()) == []
    assert reopened.sql("SELECT count(*) FROM images WHERE dataset = 'd'").fetchall() == [(50,)]
    assert reopened.sql("SELECT count(*) FROM joints WHERE dataset = 'd'").fetchall()[0][0] == (
        sum(len(a["keypoints"]) // 3 for a in json.loads(old.read_bytes())["annotations"])
    )


def test_default_store_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("POSESTORE_STORE", str(tmp_path / "envstore"))
    s = posestore.open()
    assert s.root == tmp_path / "envstore" and s.root.is_dir()


@pytest.mark.parametrize(
    "row_numbers",
    [
        [5, 6, 7, 0, 1, 2, 3, 4],
        [0, 2, 4, 1, 3],
        [3, 2, 1, 0],
        [0, 1, 2],
        [],
        list(range(300, 400)) + list(range(100)) + list(range(100, 300)),
        [(k * 7919) % 20011 for k in range(20011)],
    ],
    ids=["runs", "interleaved", "descending", "in order", "empty", "long ranges", "scattered"],
)
def test_selected_rows_come_back_in_stored_order(row_numbers):
    """A parallel DuckDB join interleaves its threads' runs; the reader puts them back."""
    rows = pa.table(
        {
            "_place": pa.array(row_numbers, pa.int64()),
            "value": pa.array([f"row {n}" for n in row_numbers], pa.string()),
        }
    )
    back = subset.in_stored_order(rows)
    assert back.column_names == ["value"]
    assert back["value"].to_pylist() == [f"row {n}" for n in sorted(row_numbers)]


def test_background_writer_waits_only_for_unfinished_parts(monkeypatch, tmp_path):
    """A big part still being written must not hold up the caller while the small parts
    queued after it are done: that serialised the PYSKL writes (keypoints part, then
    instances and frames parts, then the next keypoints part)."""
    import threading

    release = threading.Event()
    big_finished = threading.Event()

    def fake_write(path, table):
        if path.name == "big":
            release.wait(timeout=10)
            big_finished.set()

    monkeypatch.setattr(parquet, "write_part", fake_write)
    table = schema.empty("frames")
    with parquet.BackgroundWriter(threads=2, waiting=2) as writer:
        writer.write(tmp_path / "big", table)
        for name in ("a", "b", "c", "d"):
            writer.write(tmp_path / name, table)
            time.sleep(0.05)  # let the small write finish before the next call counts it
        assert not big_finished.is_set()  # four calls came back while it was still running
        release.set()
    assert big_finished.is_set()  # and leaving the block waited for it


def test_conform_keeps_coded_partition_columns_and_casts_the_rest():
    n = 5
    table = pa.table(
        {
            "frame": pa.array(np.arange(n), pa.int64()),  # the schema says int32
            "split": schema.constant("train", n),
            "dataset": schema.constant("ntu", n),
            "image_id": np.arange(n),
        }
    )
    got = schema.conform("frames", table)
    assert got.column_names == schema.SCHEMAS["frames"].names
    assert pa.types.is_dictionary(got["split"].type) and pa.types.is_dictionary(got["dataset"].type)
    assert got["frame"].type == schema.SCHEMAS["frames"].field("frame").type
    assert got["split"].to_pylist() == ["train"] * n
    assert got["num_instances"].null_count == n
    plain = schema.conform(
        "frames",
        got.cast(
            pa.schema(
                [
                    f.with_type(pa.string()) if f.name in ("dataset", "split") else f
                    for f in got.schema
                ]
            )
        ),
    )
    assert plain["split"].type == pa.string()


@pytest.mark.parametrize("kind", [pytest.param("real", marks=pytest.mark.real), "synthetic"])
def test_a_selection_reads_the_same_rows_as_the_whole_split(kind, store, tmp_path):
    if kind == "real":
        source = real_dir("pyskl") / "lzx_ntu60_hrnet.pkl"
    else:
        clips = synthetic.pyskl_clips(30, padding=0.1)
        names = [c["frame_dir"] for c in clips]
        splits = {"xsub_train": names[:20], "xsub_val": names[20:]}
        source = synthetic.pyskl_pickle(tmp_path / "ntu.pkl", clips, splits)
    store.ingest(source, dataset="lzx")
    for split in store.dataset_info("lzx")["metadata"].splits:
        images = store._read("images", "lzx", split)
        ids = images["image_id"].filter(pc.equal(pc.bit_wise_and(images["image_id"], 1), 1))
        assert 0 < len(ids) < len(images)
        for table in schema.SPLIT_TABLES:
            whole = store._read(table, "lzx", split)
            want = whole.filter(pc.is_in(whole["image_id"], ids))
            got = store._read(table, "lzx", split, ids)
            assert got.column_names == want.column_names
            assert got["split"].to_pylist() == [split] * len(want)
            assert got.to_pylist() == want.to_pylist(), table


def test_open_expands_a_home_relative_path(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    store = posestore.open("~/stores/pose")
    assert store.root == tmp_path / "stores" / "pose" and store.root.is_dir()
    assert "~" not in store.root.parts  # not a folder literally named "~"
