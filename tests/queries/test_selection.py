"""A selection is scoped to its dataset and split: ids of other datasets never select."""

from __future__ import annotations

import json

import polars as pl
import pytest

from posestore import synthetic
from posestore.errors import SelectionError


@pytest.fixture
def two_datasets(store, tmp_path):
    """Two datasets whose image ids coincide, one with wide images, one with narrow ones."""
    narrow = synthetic.coco_keypoints(12, seed=1)
    wide = synthetic.coco_keypoints(12, seed=2)
    for im in narrow["images"]:
        im["width"] = 640
    for im in wide["images"]:
        im["width"] = 1920
    store.ingest(
        synthetic.write_json(narrow, tmp_path / "person_keypoints_val.json"), dataset="narrow"
    )
    store.ingest(
        synthetic.write_json(wide, tmp_path / "wide_val.json"), dataset="wide", split="val"
    )
    assert {im["id"] for im in narrow["images"]} == {im["id"] for im in wide["images"]}
    return store, narrow


def test_a_query_over_another_dataset_selects_nothing_here(two_datasets, tmp_path):
    store, narrow = two_datasets
    (out,) = store.export(
        "narrow",
        tmp_path / "q.json",
        split="val",
        query="SELECT image_id FROM images WHERE width > 1000",
    )
    assert json.loads(out.read_bytes())["images"] == []
    picked = store.select_images(
        "narrow", "val", query="SELECT image_id FROM images WHERE width < 1000"
    )
    assert sorted(picked["image_id"].to_pylist()) == sorted(im["id"] for im in narrow["images"])


def test_a_query_may_name_dataset_split_and_image(two_datasets):
    store, narrow = two_datasets
    first = narrow["images"][0]["id"]
    picked = store.select_images(
        "narrow",
        query=f"SELECT 'wide' AS dataset, 'val' AS split, {first} AS image_id "
        f"UNION ALL SELECT 'narrow', 'val', {first}",
    )
    assert picked.to_pylist() == [{"split": "val", "image_id": first}]
    other = store.select_images(
        "narrow", query=f"SELECT 'wide' AS dataset, 'val' AS split, {first} AS image_id"
    )
    assert len(other) == 0


def test_a_polars_frame_of_ids_is_a_selection(two_datasets, tmp_path):
    store, narrow = two_datasets
    ids = [im["id"] for im in narrow["images"][:3]]
    (out,) = store.export(
        "narrow", tmp_path / "f.json", split="val", selection=pl.DataFrame({"image_id": ids})
    )
    assert sorted(im["id"] for im in json.loads(out.read_bytes())["images"]) == sorted(ids)


def test_a_query_without_image_id_is_one_clear_error(two_datasets, tmp_path):
    store, _ = two_datasets
    with pytest.raises(SelectionError, match="must give image_id"):
        store.select_images("narrow", query="SELECT 1 AS x")


def test_an_image_id_alone_is_refused_where_splits_reuse_ids(store, tmp_path):
    root = synthetic.roboflow_root(tmp_path / "rf")  # ids restart at 0 in every split
    store.ingest(root, dataset="rf")
    with pytest.raises(SelectionError, match="reuse image ids"):
        store.select_images("rf", query="SELECT image_id FROM images WHERE image_id = 0")
    one = store.select_images("rf", "valid", query="SELECT image_id FROM images WHERE image_id = 0")
    assert one.to_pylist() == [{"split": "valid", "image_id": 0}]
    both = store.select_images(
        "rf", query="SELECT split, image_id FROM images WHERE image_id = 0 AND split <> 'test'"
    )
    assert sorted(both["split"].to_pylist()) == ["train", "valid"]
