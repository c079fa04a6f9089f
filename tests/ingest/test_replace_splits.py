"""Re-ingesting one split replaces that split only, atomically, and says so; several
sources ingest as one dataset; nothing is dropped without a word."""

from __future__ import annotations

import json

from strict import differences

from posestore import synthetic


def _two_splits(tmp_path):
    val = synthetic.coco_keypoints(8, seed=1)
    train = synthetic.coco_keypoints(12, seed=2, first_image_id=500, first_annotation_id=9000)
    return (
        synthetic.write_json(val, tmp_path / "person_keypoints_val2017.json"),
        synthetic.write_json(train, tmp_path / "person_keypoints_train2017.json"),
    )


def test_several_sources_are_one_dataset_with_a_split_each(store, tmp_path):
    val, train = _two_splits(tmp_path)
    (done,) = store.ingest([val, train], dataset="coco")
    assert sorted(done.splits) == ["train2017", "val2017"] and done.replaced == "new"
    out = tmp_path / "back"
    store.export("coco", out)
    for path in (val, train):
        assert (
            differences(json.loads(path.read_bytes()), json.loads((out / path.name).read_bytes()))
            == []
        )


def test_an_explicit_split_replaces_only_that_split(store, tmp_path, cli):
    val, train = _two_splits(tmp_path)
    store.ingest([val, train], dataset="coco")
    new_train = synthetic.coco_keypoints(5, seed=7, first_image_id=700, first_annotation_id=7000)
    path = synthetic.write_json(new_train, tmp_path / "new" / "train.json")
    r = cli("--store", store.root, "ingest", path, "--dataset", "coco", "--split", "train2017")
    assert r.exit_code == 0, r.output
    assert "replaced split train2017 of coco; kept val2017" in r.stdout
    assert "5 images" in r.stdout  # what this ingest read, not the whole dataset
    counts = dict(store.sql("SELECT split, count(*) FROM images GROUP BY 1").fetchall())
    assert counts == {"val2017": 8, "train2017": 5}
    (info,) = store.datasets().to_pylist()
    assert info["num_images"] == 13
    members = dict(store.sql("SELECT split, count(*) FROM split_members GROUP BY 1").fetchall())
    assert members == counts
    # the kept split exports exactly as before; the new one is the new file
    (back,) = store.export("coco", tmp_path / "val.json", split="val2017")
    assert differences(json.loads(val.read_bytes()), json.loads(back.read_bytes())) == []
    (back,) = store.export("coco", tmp_path / "train.json", split="train2017")
    assert differences(new_train, json.loads(back.read_bytes())) == []


def test_without_a_split_the_whole_dataset_is_replaced_and_said(store, tmp_path, cli):
    val, train = _two_splits(tmp_path)
    store.ingest([val, train], dataset="coco")
    r = cli("--store", store.root, "ingest", val, "--dataset", "coco")
    assert r.exit_code == 0 and "replaced dataset coco (all its splits)" in r.stdout
    assert store.sql("SELECT DISTINCT split FROM images").fetchall() == [("val2017",)]


def test_names_engines_would_type_as_numbers_are_refused(store, tmp_path, cli):
    val, _ = _two_splits(tmp_path)
    for args in (("--dataset", "42"), ("--dataset", "c", "--split", "2017"), ("--split", "007")):
        r = cli("--store", store.root, "ingest", val, *args)
        assert r.exit_code == 1 and "would be read as a number" in r.stderr, args
    r = cli("--store", store.root, "ingest", val, "--dataset", "x" * 300)
    assert r.exit_code == 1 and "at most 200" in r.stderr
    assert store.dataset_names() == []


def test_every_file_of_a_folder_is_read_or_named(store, tmp_path):
    import os

    import pytest

    from posestore.formats import SourceWarning

    root = tmp_path / "annotations"
    synthetic.write_json(
        synthetic.coco_keypoints(4, seed=1), root / "person_keypoints_val2017.json"
    )
    synthetic.write_json(synthetic.coco_keypoints(3, seed=2), root / "instances_val2017.json")
    synthetic.write_json(
        synthetic.coco_keypoints(5, seed=3), root / "cvat_person_keypoints_extra.json"
    )
    os.mkfifo(root / "stuck.json")  # a FIFO would block a read forever
    with pytest.warns(SourceWarning) as caught:
        (done,) = store.ingest(tmp_path, dataset="c")
    said = " ".join(str(w.message) for w in caught)
    assert "instances_val2017.json" in said and "stuck.json" in said
    assert sorted(done.splits) == ["cvat_person_keypoints_extra", "val2017"]
    with pytest.raises(Exception, match="not a regular file"):
        store.ingest(root / "stuck.json", dataset="s")


def test_a_split_of_another_format_cannot_join_a_dataset(store, tmp_path):
    val, _ = _two_splits(tmp_path)
    store.ingest(val, dataset="coco")
    csv = synthetic.fashionai_csv(tmp_path / "train.csv", n_rows=4)
    import pytest

    with pytest.raises(Exception, match="is coco; a fashionai split cannot join"):
        store.ingest(csv, dataset="coco", split="train")
    assert store.sql("SELECT DISTINCT split FROM images").fetchall() == [("val2017",)]
