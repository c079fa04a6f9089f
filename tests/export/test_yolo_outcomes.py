"""YOLO pose export says what it does: one split is train and val at once, images sharing a
file name share a label file (not overwrite it), what is left out is counted; flip_idx pairs
names however they are spelt; labels are where Ultralytics looks for them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import real_dir

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


# -- what is left out is counted -----------------------------------------------------------


def _empty_once_clipped(doc: dict) -> int:
    """Independently: non-crowd annotations whose box, clipped to its image, has no area."""
    size = {im["id"]: (im["width"], im["height"]) for im in doc["images"]}
    empty = 0
    for a in doc["annotations"]:
        if a.get("iscrowd"):
            continue
        w, h = size[a["image_id"]]
        x, y, bw, bh = a["bbox"]
        x0, x1 = min(max(x, 0), w), min(max(x + bw, 0), w)
        y0, y1 = min(max(y, 0), h), min(max(y + bh, 0), h)
        empty += not (x1 > x0 and y1 > y0)
    return empty


def _label_line_count(out) -> int:
    return sum(len(p.read_text().splitlines()) for p in (out / "labels").rglob("*.txt"))


@pytest.mark.filterwarnings("ignore:.*one split")
def test_instances_whose_clipped_box_is_empty_are_counted(store, tmp_path):
    doc = synthetic.coco_keypoints(10, seed=4, crowd_fraction=0.0)
    size = {im["id"]: im["width"] for im in doc["images"]}
    for a in doc["annotations"][::3]:  # moved past the image's right edge
        a["bbox"][0] = size[a["image_id"]] + 5.0
    expected = _empty_once_clipped(doc)
    assert expected == len(doc["annotations"][::3])
    store.ingest(synthetic.write_json(doc, tmp_path / "person_keypoints_val.json"), dataset="d")
    with pytest.warns(SourceWarning, match=f"{expected} instances whose box is empty"):
        store.export("d", tmp_path / "yolo", format="yolo-pose")
    assert _label_line_count(tmp_path / "yolo") == len(doc["annotations"]) - expected


@pytest.mark.real
@pytest.mark.filterwarnings("ignore:.*one split")
def test_the_real_cvat_track_export_counts_its_empty_boxes(store, tmp_path):
    path = real_dir("cvat_coco") / "cvat_tracks_3skeletons_person_keypoints_Train.json"
    doc = json.loads(path.read_text())
    expected = _empty_once_clipped(doc)  # 68 of 756, as SOURCES.md's file has them
    assert expected > 0
    store.ingest(path, dataset="cvat")
    with pytest.warns(SourceWarning, match=f"{expected} instances whose box is empty"):
        store.export("cvat", tmp_path / "yolo", format="yolo-pose")
    crowd = sum(1 for a in doc["annotations"] if a.get("iscrowd"))
    assert _label_line_count(tmp_path / "yolo") == len(doc["annotations"]) - expected - crowd


# -- flip_idx --------------------------------------------------------------------------------


def _flip_idx(out) -> list[int]:
    (line,) = [ln for ln in (out / "data.yaml").read_text().splitlines() if ln.startswith("flip")]
    return json.loads(line.split(":", 1)[1])


@pytest.mark.filterwarnings("ignore:.*one split")
def test_flip_idx_pairs_joint_names_spelt_with_a_space(store, tmp_path):
    doc = synthetic.coco_keypoints(4, seed=6, crowd_fraction=0.0)
    names = doc["categories"][0]["keypoints"]
    spelt = [n.replace("_", " ") if n.startswith("left") else n for n in names]
    spelt = [n.replace("right_", "Right-") if "knee" in n else n for n in spelt]
    doc["categories"][0]["keypoints"] = spelt
    # a second category makes the export pair names across a shared joint space
    doc["categories"].append({**doc["categories"][0], "id": 2, "name": "other"})
    doc["annotations"][0]["category_id"] = 2
    store.ingest(synthetic.write_json(doc, tmp_path / "person_keypoints_val.json"), dataset="d")
    store.export("d", tmp_path / "yolo", format="yolo-pose")

    def side(name: str) -> str:
        return name.lower().replace(" ", "_").replace("-", "_")

    expected = []
    for n in spelt:  # independent: the same joint name with left and right swapped
        key = side(n)
        other = key.replace("left", "@").replace("right", "left").replace("@", "right")
        expected.append(next(i for i, m in enumerate(spelt) if side(m) == other))
    flip = _flip_idx(tmp_path / "yolo")
    assert flip == expected
    assert flip[spelt.index("left elbow")] == spelt.index("right_elbow")


@pytest.mark.real
@pytest.mark.filterwarnings("ignore:.*one split", "ignore:.*left out", "ignore:.*as 0 0 0")
def test_the_real_cvat_skeleton_with_left_elbow_flips_to_right_elbow(store, tmp_path):
    path = real_dir("cvat_coco") / "cvat_tracks_3skeletons_person_keypoints_Train.json"
    store.ingest(path, dataset="cvat")
    store.export("cvat", tmp_path / "yolo", format="yolo-pose")
    names = json.loads(path.read_text())["categories"][0]["keypoints"]  # the first 15 columns
    flip = _flip_idx(tmp_path / "yolo")
    assert flip[names.index("left elbow")] == names.index("right_elbow")
    assert flip[names.index("right_elbow")] == names.index("left elbow")
    assert all(flip[flip[j]] == j for j in range(len(flip)))


# -- where Ultralytics looks for labels ------------------------------------------------------


def img2label_paths(img_paths: list[str]) -> list[str]:
    """Ultralytics' rule for where an image's label is (``img2label_paths`` in
    ultralytics/data/utils.py, as in YOLOv5 before it): the image path's last ``/images/``
    becomes ``/labels/`` and what follows its last ``.`` becomes ``txt``. Re-implemented here
    from that behaviour; ultralytics is no dependency."""
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    return [sb.join(x.rsplit(sa, 1)).rsplit(".", 1)[0] + ".txt" for x in img_paths]


def _ultralytics_finds_every_label(out, doc: dict) -> None:
    yaml = (out / "data.yaml").read_text().splitlines()
    (val,) = [json.loads(ln.split(":", 1)[1]) for ln in yaml if ln.startswith("val:")]
    per_image: dict = {}
    for a in doc["annotations"]:
        if not a.get("iscrowd"):
            per_image[a["image_id"]] = per_image.get(a["image_id"], 0) + 1
    images = [str(out / val / im["file_name"]) for im in doc["images"]]
    for im, label in zip(doc["images"], img2label_paths(images)):
        assert Path(label).is_file(), f"Ultralytics looks for {label}"
        assert len(Path(label).read_text().splitlines()) == per_image.get(im["id"], 0)


@pytest.mark.filterwarnings("ignore:.*one split", "ignore:.*left out", "ignore:.*as 0 0 0")
def test_file_names_holding_images_folders_get_labels_where_ultralytics_looks(store, tmp_path):
    doc = synthetic.coco_keypoints(5, seed=8, crowd_fraction=0.0)
    for k, im in enumerate(doc["images"]):  # PoseTrack's own naming, and a plain one
        im["file_name"] = f"images/val/{k:06d}_mpii_test/000000.jpg" if k else "plain.jpg"
    store.ingest(synthetic.write_json(doc, tmp_path / "person_keypoints_val.json"), dataset="d")
    store.export("d", tmp_path / "yolo", format="yolo-pose")
    _ultralytics_finds_every_label(tmp_path / "yolo", doc)


@pytest.mark.real
@pytest.mark.filterwarnings("ignore:.*one split", "ignore:.*left out", "ignore:.*as 0 0 0")
def test_the_real_posetrack_file_gets_labels_where_ultralytics_looks(store, tmp_path):
    path = real_dir("coco_keypoints") / "mmpose_test_posetrack18_val.json"
    store.ingest(path, dataset="pt")
    store.export("pt", tmp_path / "yolo", format="yolo-pose")
    _ultralytics_finds_every_label(tmp_path / "yolo", json.loads(path.read_text()))
