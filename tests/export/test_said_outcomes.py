"""Exports and checks say what a reader would otherwise miss: no annotations, images
without sizes, thousands of label files in one line."""

from __future__ import annotations

import pytest
from conftest import real_dir

from posestore import synthetic
from posestore.formats import SourceWarning


def _no_annotations(tmp_path):
    doc = synthetic.coco_keypoints(5, seed=1)
    doc["annotations"] = []
    return synthetic.write_json(doc, tmp_path / "person_keypoints_val.json")


def test_an_export_without_annotations_says_so(store, tmp_path):
    store.ingest(_no_annotations(tmp_path), dataset="d")
    with pytest.warns(SourceWarning, match="5 images and no annotations"):
        store.export("d", tmp_path / "out.json", split="val")


def test_validate_reports_a_split_without_annotations(store, tmp_path):
    report = store.validate(_no_annotations(tmp_path))
    (findings,) = report["datasets"].values()
    found = [f for f in findings if f["check"] == "no_annotations"]
    assert found and found[0]["examples"][0]["images"] == 5


@pytest.mark.real
def test_validate_reports_the_real_cvat_export_without_annotations(store):
    path = real_dir("cvat_coco") / "cvat_pointlabels_noanns_person_keypoints_train.json"
    report = store.validate(path)
    (findings,) = report["datasets"].values()
    (found,) = [f for f in findings if f["check"] == "no_annotations"]
    assert found["examples"][0]["images"] == 87


def test_fashionai_as_coco_says_its_images_have_no_size(store, tmp_path):
    path = synthetic.fashionai_csv(tmp_path / "train.csv", n_rows=6, seed=2)
    store.ingest(path, dataset="f")
    with pytest.warns(SourceWarning, match="6 images are written without width and height"):
        store.export("f", tmp_path / "f.json", format="coco")


def test_many_label_files_are_one_summary_line(store, tmp_path, cli):
    doc = synthetic.coco_keypoints(12, seed=5, crowd_fraction=0.0)
    src = synthetic.write_json(doc, tmp_path / "person_keypoints_val.json")
    assert cli("--store", store.root, "ingest", src, "--dataset", "d").exit_code == 0
    r = cli("--store", store.root, "export", "d", tmp_path / "yolo", "--format", "yolo-pose")
    assert r.exit_code == 0, r.output
    assert r.stdout.strip().splitlines() == [
        f"wrote 13 files under {tmp_path / 'yolo'} (12 .txt, 1 .yaml)"
    ]
