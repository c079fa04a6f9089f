"""YOLO pose export says what it does: one split is train and val at once, images sharing a
file name share a label file (not overwrite it)."""

from __future__ import annotations

import pytest

from posestore import synthetic
from posestore.formats import SourceWarning


def test_one_split_warns_that_train_and_val_are_the_same(store, tmp_path):
    doc = synthetic.coco_keypoints(6, seed=2, crowd_fraction=0.0)
    store.ingest(synthetic.write_json(doc, tmp_path / "person_keypoints_val.json"), dataset="d")
    with pytest.warns(SourceWarning, match="train and val both name it"):
        store.export("d", tmp_path / "yolo", format="yolo-pose")


@pytest.mark.filterwarnings("ignore:.*one split")  # expected here; not what this test checks
def test_images_sharing_a_file_name_share_their_label_file(store, tmp_path):
    doc = synthetic.coco_keypoints(4, seed=3, crowd_fraction=0.0, unlabelled_fraction=0.0)
    doc["images"][1]["file_name"] = doc["images"][0]["file_name"]
    store.ingest(synthetic.write_json(doc, tmp_path / "person_keypoints_val.json"), dataset="d")
    with pytest.warns(SourceWarning, match="1 images share a file name"):
        store.export("d", tmp_path / "yolo", format="yolo-pose")
    label = (
        tmp_path / "yolo" / "labels" / "val" / doc["images"][0]["file_name"].replace(".jpg", ".txt")
    )
    expected = sum(
        1
        for a in doc["annotations"]
        if a["image_id"] in (doc["images"][0]["id"], doc["images"][1]["id"])
    )
    assert len(label.read_text().splitlines()) == expected
