"""Store v2 keys: ids are unique within a split, not within a dataset (Roboflow, PoseSOR and
CVAT write every split from 0 or 1), and split lists are queryable (``split_members``)."""

from __future__ import annotations

import json
import pickle

import duckdb
import numpy as np
import polars as pl
import pytest
from conftest import real_dir
from strict import differences

from posestore import pyjson, safe_pickle, synthetic
from posestore.errors import SourceError


def test_roboflow_root_is_one_dataset_whose_splits_are_its_folders(store, tmp_path):
    root = synthetic.roboflow_root(tmp_path / "rf")
    (done,) = store.ingest(root, dataset="rf")
    assert done.dataset == "rf" and sorted(done.splits) == ["test", "train", "valid"]
    for split in ("train", "valid", "test"):
        doc = json.loads((root / split / "_annotations.coco.json").read_bytes())
        counts = store.sql(
            "SELECT (SELECT count(*) FROM images WHERE dataset = 'rf' AND split = $1),"
            " (SELECT count(*) FROM instances WHERE dataset = 'rf' AND split = $1)",
            params=[split],
        ).fetchall()[0]
        assert counts == (len(doc["images"]), len(doc["annotations"]))
        assert min(im["id"] for im in doc["images"]) == 0  # every split numbers from 0
    # the whole dataset back in the same layout, every file equal to its source
    out = tmp_path / "back"
    store.export("rf", out)
    for split in ("train", "valid", "test"):
        source = json.loads((root / split / "_annotations.coco.json").read_bytes())
        back = json.loads((out / split / "_annotations.coco.json").read_bytes())
        assert differences(source, back) == []
    # one split to a file equal to its source
    (one,) = store.export("rf", tmp_path / "valid.json", split="valid")
    source = json.loads((root / "valid" / "_annotations.coco.json").read_bytes())
    assert differences(source, json.loads(one.read_bytes())) == []


def test_roboflow_split_file_alone_is_named_by_its_folder(store, tmp_path):
    root = synthetic.roboflow_root(tmp_path / "rf")
    (done,) = store.ingest(root / "valid" / "_annotations.coco.json", dataset="v")
    assert done.splits == ["valid"]


def test_posesor_root_whose_splits_reuse_ids_ingests_as_one_dataset_per_task(store, tmp_path):
    root = synthetic.posesor_root(tmp_path / "posesor", shared_ids=True)
    done = store.ingest(root, dataset="sor")
    assert {d.dataset: sorted(d.splits) for d in done} == {
        "sor-assr": ["test", "train", "val"],
        "sor-irsr": ["test", "train"],
    }
    out = tmp_path / "back"
    store.export("sor-assr", out)
    for split in ("train", "val", "test"):
        source = json.loads((root / "assr" / f"assr_{split}.json").read_bytes())
        back = json.loads((out / "assr" / f"assr_{split}.json").read_bytes())
        assert differences(source, back) == []
    # joins use the split too: each instance finds exactly its own image
    orphans, doubles = store.sql(
        """SELECT count(*) FILTER (WHERE i.image_id IS NULL), count(*) - count(DISTINCT (n.split, n.instance_id))
           FROM instances n LEFT JOIN images i USING (dataset, split, image_id)
           WHERE n.dataset = 'sor-assr'"""
    ).fetchall()[0]
    assert (orphans, doubles) == (0, 0)
    report = store.validate("sor-assr")
    assert report["errors"] == 0


def test_ids_repeated_inside_one_split_file_are_still_an_error(store, tmp_path):
    doc = synthetic.coco_keypoints(5, seed=1)
    doc["annotations"][1]["id"] = doc["annotations"][0]["id"]
    path = synthetic.write_json(doc, tmp_path / "person_keypoints_val.json")
    with pytest.raises(SourceError, match=r"annotations\[1\]\.id"):
        store.ingest(path, dataset="d")
    assert store.dataset_names() == []


def _ntu_lists(clips: list[dict]) -> dict[str, list[str]]:
    """NTU's layout: every clip in one xsub_* and one xview_* list."""
    names = [c["frame_dir"] for c in clips]
    return {
        "xsub_train": names[: len(names) * 2 // 3],
        "xsub_val": names[len(names) * 2 // 3 :],
        "xview_train": names[1::2],
        "xview_val": names[0::2],
    }


def test_overlapping_split_lists_are_queryable_and_export_by_list(store, tmp_path):
    clips = synthetic.pyskl_clips(18, seed=3)
    lists = _ntu_lists(clips)
    path = synthetic.pyskl_pickle(tmp_path / "ntu.pkl", clips, lists)
    store.ingest(path, dataset="ntu")
    members = dict(
        store.sql(
            "SELECT split, count(*) FROM split_members WHERE dataset = 'ntu' GROUP BY 1"
        ).fetchall()
    )
    assert members == {name: len(fds) for name, fds in lists.items()}
    partitions, other = store.split_names("ntu")
    assert partitions == ["xsub_train", "xsub_val"] and other == ["xview_train", "xview_val"]

    (written,) = store.export("ntu", tmp_path / "xview_val.pkl", split="xview_val")
    back = safe_pickle.load(written)
    # an independent filter of the source: the list's clips, in source order, lists cut to them
    keep = set(lists["xview_val"])
    expected_clips = [c for c in clips if c["frame_dir"] in keep]
    assert [a["frame_dir"] for a in back["annotations"]] == [c["frame_dir"] for c in expected_clips]
    for a, c in zip(back["annotations"], expected_clips):
        assert pyjson.same(a, c), a["frame_dir"]
    assert back["split"] == {k: [fd for fd in v if fd in keep] for k, v in lists.items()}

    stats = store.stats("ntu", split="xview_val")["ntu"]
    assert sum(r["images"] for r in stats["splits"]) == len(keep)
    with pytest.raises(Exception, match=r"no split 'nope'.*xview_val"):
        store.export("ntu", tmp_path / "x.pkl", split="nope")


def test_split_members_mirror_the_partitions_where_there_are_no_lists(store, tmp_path):
    doc = synthetic.coco_keypoints(7, seed=2)
    store.ingest(synthetic.write_json(doc, tmp_path / "person_keypoints_val.json"), dataset="c")
    rows = store.sql("SELECT split, image_id, stored_in FROM split_members ORDER BY 2").fetchall()
    assert rows == [("val", im["id"], "val") for im in sorted(doc["images"], key=lambda i: i["id"])]


def _lists_without_posestore(root, table: str) -> tuple[int, set[int]]:
    """(rows, list lengths) of a table read by plain DuckDB and by Polars, which must agree."""
    glob = f"{root}/{table}/*/*/*.parquet"
    rows, x_lengths, v_lengths = duckdb.sql(
        f"SELECT count(*), list(DISTINCT len(x)), list(DISTINCT len(visibility)) "
        f"FROM read_parquet('{glob}', hive_partitioning = true)"
    ).fetchall()[0]
    lazy = pl.scan_parquet(f"{root}/{table}/", hive_partitioning=True)
    lengths = lazy.select(pl.col("x").list.len()).collect()["x"]
    assert len(lengths) == rows and set(x_lengths) == set(v_lengths) == set(lengths.to_list())
    return rows, set(x_lengths)


def test_plain_engines_read_one_row_per_pose_with_joint_lists(store, tmp_path):
    doc = synthetic.coco_keypoints(25, seed=4)
    store.ingest(synthetic.write_json(doc, tmp_path / "person_keypoints_val.json"), dataset="c")
    clips = synthetic.pyskl_clips(6, seed=2, joints=25, channels=3)
    store.ingest(synthetic.pyskl_pickle(tmp_path / "ntu3d.pkl", clips), dataset="n")
    rows, lengths = _lists_without_posestore(store.root, "keypoints")
    posed = [a for a in doc["annotations"] if a.get("keypoints")]
    assert rows == len(posed) + sum(c["keypoint"].shape[0] * c["keypoint"].shape[1] for c in clips)
    assert lengths == {17, 25}
    # the joints view counts per joint what the source JSON says
    got = dict(
        store.sql(
            "SELECT joint_name, count(*) FILTER (WHERE visibility = 2) FROM joints "
            "WHERE dataset = 'c' GROUP BY 1"
        ).fetchall()
    )
    names = doc["categories"][0]["keypoints"]
    expected = {n: sum(a["keypoints"][3 * j + 2] == 2 for a in posed) for j, n in enumerate(names)}
    assert got == expected


def test_pyskl_padding_is_unlabelled_and_exports_bit_exact(store, tmp_path):
    clips = synthetic.pyskl_clips(10, seed=7, padding=0.2, dtype="float16")
    path = synthetic.pyskl_pickle(
        tmp_path / "pad.pkl", clips, {"train": [c["frame_dir"] for c in clips]}
    )
    store.ingest(path, dataset="pad")
    padding = sum(
        int(((c["keypoint"] == 0).all(axis=-1) & (c["keypoint_score"] == 0)).sum()) for c in clips
    )
    joints = sum(
        c["keypoint"].shape[0] * c["keypoint"].shape[1] * c["keypoint"].shape[2] for c in clips
    )
    hidden, visible = store.sql(
        "SELECT count(*) FILTER (WHERE visibility = 0), count(*) FILTER (WHERE visibility = 2) FROM joints"
    ).fetchall()[0]
    assert hidden == padding > 0 and visible == joints - padding
    (written,) = store.export("pad", tmp_path / "back.pkl")
    assert pickle.loads(written.read_bytes())["annotations"][0]["keypoint"].dtype == np.float16
    for a, c in zip(safe_pickle.load(written)["annotations"], clips):
        assert pyjson.same(a, c)


@pytest.mark.real
def test_real_ntu_keypoints_are_pose_rows_read_by_plain_engines(store):
    path = real_dir("pyskl") / "lzx_ntu60_hrnet.pkl"
    src = safe_pickle.load(path)
    store.ingest(path, dataset="ntu")
    rows, lengths = _lists_without_posestore(store.root, "keypoints")
    assert rows == sum(a["keypoint"].shape[0] * a["keypoint"].shape[1] for a in src["annotations"])
    assert lengths == {17}
    members = dict(store.sql("SELECT split, count(*) FROM split_members GROUP BY 1").fetchall())
    assert members == {k: len(v) for k, v in src["split"].items()}


def test_list_names_of_no_clip_are_counted_and_kept(store, tmp_path):
    from posestore.formats import SourceWarning

    clips = synthetic.pyskl_clips(4, seed=3)
    lists = {"train": [c["frame_dir"] for c in clips] + ["ghost_1", "ghost_2"]}
    path = synthetic.pyskl_pickle(tmp_path / "ghosts.pkl", clips, lists)
    with pytest.warns(SourceWarning, match="2 names in the split lists are no clip's"):
        store.ingest(path, dataset="g")
    assert store.sql("SELECT count(*) FROM split_members").fetchall() == [(4,)]
    (back,) = store.export("g", tmp_path / "back.pkl")
    assert safe_pickle.load(back)["split"] == lists
