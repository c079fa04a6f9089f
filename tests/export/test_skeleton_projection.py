"""export --skeleton projects poses onto a registry skeleton; several datasets merge into one
file per split with unique ids and each record's dataset and original id beside it."""

from __future__ import annotations

import contextlib
import io
import json

import pytest
from conftest import real_dir

from posestore import synthetic

# CrowdPose-14 → COCO-17, from the two datasets' documented joint orders (not from posestore):
# COCO joint j takes CrowdPose joint CROWD_TO_COCO[j]; None: CrowdPose has no such joint
CROWD_TO_COCO = [None, None, None, None, None, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
COCO17 = [
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
]  # fmt: skip


def _project_independently(keypoints: list) -> list:
    out = []
    for source in CROWD_TO_COCO:
        out += [0, 0, 0] if source is None else keypoints[3 * source : 3 * source + 3]
    return out


def _crowdpose_doc(n: int = 12) -> dict:
    """A CrowdPose-style document made from synthetic COCO persons (joint for joint)."""
    doc = synthetic.coco_keypoints(n, seed=8)
    names = [
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
        "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
        "right_ankle", "head", "neck",
    ]  # fmt: skip
    doc["categories"][0]["keypoints"] = names
    doc["categories"][0]["skeleton"] = []
    for a in doc["annotations"]:
        k = a["keypoints"]
        a["keypoints"] = [v for j in [*range(5, 17), 0, 0] for v in k[3 * j : 3 * j + 3]]
    return doc


def _check_projection(store, doc, tmp_path):
    (out,) = store.export("crowd", tmp_path / "as_coco.json", skeleton="coco17")
    got = json.loads(out.read_bytes())
    assert got["categories"][0]["keypoints"] == COCO17
    by_id = {a["id"]: a for a in got["annotations"]}
    for a in doc["annotations"]:
        if not a.get("keypoints"):
            continue
        expected = _project_independently(a["keypoints"])
        assert by_id[a["id"]]["keypoints"] == expected, a["id"]
        assert by_id[a["id"]]["num_keypoints"] == sum(v > 0 for v in expected[2::3])
    return got


def test_synthetic_crowdpose_projects_onto_coco17_joint_by_joint(store, tmp_path):
    doc = _crowdpose_doc()
    store.ingest(synthetic.write_json(doc, tmp_path / "crowd.json"), dataset="crowd")
    _check_projection(store, doc, tmp_path)


@pytest.mark.real
def test_real_crowdpose_projects_onto_coco17_joint_by_joint(store, tmp_path):
    path = real_dir("coco_keypoints") / "mmpose_test_crowdpose.json"
    store.ingest(path, dataset="crowd")
    _check_projection(store, json.loads(path.read_bytes()), tmp_path)


def _check_merged(store, names: list[str], docs: list[dict], tmp_path, split: str):
    from pycocotools.coco import COCO

    (out,) = store.export_many(names, tmp_path / "merged.json", split=split, skeleton="coco17")
    got = json.loads(out.read_bytes())
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(out))
    assert len(coco.getImgIds()) == sum(len({i["id"] for i in d["images"]}) for d in docs)
    assert len(coco.getAnnIds()) == sum(len(d["annotations"]) for d in docs)
    assert len({a["id"] for a in got["annotations"]}) == len(got["annotations"])
    sources = {(a["source_dataset"], a["source_id"]) for a in got["annotations"]}
    assert sources == {(n, a["id"]) for n, d in zip(names, docs) for a in d["annotations"]}
    assert {im["source_dataset"] for im in got["images"]} == set(names)
    return got


def _coco_and_crowd(store, tmp_path, n_coco: int, n_crowd: int) -> tuple[dict, dict]:
    """A COCO-17 dataset and a CrowdPose-14 one, both with a split ``val``."""
    coco = synthetic.coco_keypoints(n_coco, seed=1)
    crowd = _crowdpose_doc(n_crowd)
    store.ingest(synthetic.write_json(coco, tmp_path / "person_keypoints_val.json"), dataset="coco")
    store.ingest(
        synthetic.write_json(crowd, tmp_path / "crowd_val.json"), dataset="crowd", split="val"
    )
    return coco, crowd


def test_synthetic_datasets_merge_into_one_file_with_unique_ids(store, tmp_path):
    coco, crowd = _coco_and_crowd(store, tmp_path, 10, 8)
    got = _check_merged(store, ["coco", "crowd"], [coco, crowd], tmp_path, "val")
    crowd_ann = next(a for a in got["annotations"] if a["source_dataset"] == "crowd")
    source = next(a for a in crowd["annotations"] if a["id"] == crowd_ann["source_id"])
    assert crowd_ann["keypoints"] == _project_independently(source["keypoints"])


def test_merging_different_skeletons_without_a_target_is_refused(store, tmp_path):
    store.ingest(
        synthetic.write_json(synthetic.coco_keypoints(4), tmp_path / "a_val.json"),
        dataset="a",
        split="val",
    )
    store.ingest(
        synthetic.write_json(_crowdpose_doc(4), tmp_path / "b_val.json"), dataset="b", split="val"
    )
    with pytest.raises(Exception, match="different skeletons.*--skeleton"):
        store.export_many(["a", "b"], tmp_path / "m.json", split="val")


@pytest.mark.real
def test_real_coco_crowdpose_and_aic_merge_and_load_in_pycocotools(store, tmp_path):
    folder = real_dir("coco_keypoints")
    files = {
        "coco": "person_keypoints_val2017.json",
        "crowd": "mmpose_test_crowdpose.json",
        "aic": "mmpose_test_aic.json",
    }
    docs = []
    for name, file in files.items():
        store.ingest(folder / file, dataset=name, split="val")
        docs.append(json.loads((folder / file).read_bytes()))
    _check_merged(store, list(files), docs, tmp_path, "val")


@pytest.mark.filterwarnings("ignore:.*one split")  # expected here; not what this test checks
def test_yolo_flip_and_sigmas_come_from_the_registry(store, tmp_path):
    doc = _crowdpose_doc(6)
    store.ingest(synthetic.write_json(doc, tmp_path / "crowd.json"), dataset="crowd")
    out = tmp_path / "yolo"
    store.export("crowd", out, format="yolo-pose")
    yaml = (out / "data.yaml").read_text()
    # CrowdPose order: shoulders 0/1, elbows 2/3, …, head 12 and neck 13 are their own mirrors
    assert "flip_idx: [1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 12, 13]" in yaml
    assert "kpt_oks_sigmas: [0.079, 0.079, 0.072" in yaml


@pytest.mark.filterwarnings("ignore:.*crowd annotations left out")
@pytest.mark.filterwarnings("ignore:.*one split")  # expected here; not what this test checks
def test_synthetic_datasets_merge_into_one_yolo_pose_folder(store, tmp_path):
    coco, crowd = _coco_and_crowd(store, tmp_path, 5, 4)
    out = tmp_path / "yolo"
    store.export_many(["coco", "crowd"], out, split="val", format="yolo-pose", skeleton="coco17")
    labels = sorted(
        p.relative_to(out / "labels" / "val").parts[0] for p in (out / "labels").rglob("*.txt")
    )
    assert set(labels) == {"coco", "crowd"}  # each dataset's images under its own folder
    assert len(labels) == len(coco["images"]) + len(crowd["images"])
    yaml = (out / "data.yaml").read_text()
    assert "kpt_shape: [17, 3]" in yaml and "flip_idx: [0, 2, 1, 4, 3" in yaml
