"""Joints that mean something: each category's joints get their canonical name, part, mirror
and sigma from the registry at ingest, and one SQL compares datasets joint by joint."""

from __future__ import annotations

import json

import pytest
from conftest import real_dir

from posestore import synthetic

# where each dataset puts its left wrist, from the datasets' own documentation (not from
# posestore): COCO-17 and Halpe (its first 17 joints are COCO's) at 9, CrowdPose at 4, AIC at 5
LEFT_WRIST = {
    "person_keypoints_val2017.json": 9,
    "mmpose_test_crowdpose.json": 4,
    "mmpose_test_aic.json": 5,
    "mmpose_test_halpe.json": 9,
}
REGISTRY = {
    "person_keypoints_val2017.json": "coco17",
    "mmpose_test_crowdpose.json": "crowdpose14",
    "mmpose_test_aic.json": "aic14",
    "mmpose_test_halpe.json": "halpe136",
}


def _labelled(doc: dict, joint: int) -> int:
    return sum(
        1 for a in doc["annotations"] if a.get("keypoints") and a["keypoints"][3 * joint + 2] > 0
    )


@pytest.mark.real
def test_left_wrists_labelled_per_dataset_across_skeletons(store):
    folder = real_dir("coco_keypoints")
    expected = {}
    for i, (name, joint) in enumerate(LEFT_WRIST.items()):
        doc = json.loads((folder / name).read_bytes())
        store.ingest(folder / name, dataset=f"d{i}")
        expected[f"d{i}"] = _labelled(doc, joint)
    got = dict(
        store.sql(
            "SELECT dataset, count(*) FILTER (WHERE visibility > 0) FROM joints "
            "WHERE canonical = 'left_wrist' GROUP BY ALL"
        ).fetchall()
    )
    assert got == expected and all(expected.values())
    matched = dict(
        store.sql(
            "SELECT dataset, registry FROM categories WHERE kind = 'object' AND registry IS NOT NULL"
        ).fetchall()
    )
    assert matched == {f"d{i}": REGISTRY[name] for i, name in enumerate(LEFT_WRIST)}


@pytest.mark.real
def test_mirror_joints_follow_names_not_order(store):
    folder = real_dir("coco_keypoints")
    store.ingest(folder / "mmpose_test_crowdpose.json", dataset="crowd")
    store.ingest(folder / "mmpose_test_aic.json", dataset="aic")
    rows = {
        d: dict(zip(names, (names[f] for f in flip)))
        for d, names, flip in store.sql(
            "SELECT dataset, canonical, flip FROM categories WHERE kind = 'object'"
        ).fetchall()
    }
    for d in ("crowd", "aic"):
        assert (
            rows[d]["left_wrist"] == "right_wrist" and rows[d]["right_shoulder"] == "left_shoulder"
        )
        assert rows[d]["head_top"] == "head_top"


def test_synthetic_skeletons_compare_joint_by_joint(store, tmp_path):
    """COCO-17 and a CrowdPose-14 relabelling of the same persons: one query, per canonical joint."""
    coco = synthetic.coco_keypoints(20, seed=5)
    store.ingest(synthetic.write_json(coco, tmp_path / "coco.json"), dataset="coco")
    crowd_names = [
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
        "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
        "right_ankle", "head", "neck",
    ]  # fmt: skip
    from_coco = [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0, 0]  # head and neck: nose stands in
    crowd = json.loads(json.dumps(coco))
    crowd["categories"][0]["keypoints"] = crowd_names
    crowd["categories"][0]["skeleton"] = []
    for a in crowd["annotations"]:
        k = a["keypoints"]
        a["keypoints"] = [v for j in from_coco for v in k[3 * j : 3 * j + 3]]
    store.ingest(synthetic.write_json(crowd, tmp_path / "crowd.json"), dataset="crowd")
    rows = store.sql(
        "SELECT canonical, dataset, count(*) FILTER (WHERE visibility > 0) FROM joints "
        "WHERE canonical IN ('left_wrist', 'right_knee') GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    expected = []
    for canonical, joint in (("left_wrist", 9), ("right_knee", 14)):
        n = _labelled(coco, joint)
        expected += [(canonical, "coco", n), (canonical, "crowd", n)]
    assert rows == sorted(expected)
    registry = dict(store.sql("SELECT dataset, registry FROM categories").fetchall())
    assert registry == {"coco": "coco17", "crowd": "crowdpose14"}
    # stats of several datasets: per-joint rates by canonical name, dataset beside dataset
    stats = store.stats()
    for dataset in ("coco", "crowd"):
        rates = {r["canonical"]: r for r in stats[dataset]["canonical_joints"]}
        n = _labelled(coco, 9)
        assert rates["left_wrist"]["rows"] == sum(
            1 for a in coco["annotations"] if a.get("keypoints")
        )
        assert rates["left_wrist"]["labelled_rate"] == round(n / rates["left_wrist"]["rows"], 4)


# SOURCES.md: the lzx and WLASL pickles hold COCO-17 HRNet joints; the 48637 variant 11
# joints of no published layout; the Kinetics index samples carry no joints at all
PYSKL_REGISTRY = {
    "lzx_ntu60_hrnet.pkl": "coco17",
    "lzx_ntu60_hrnet48637.pkl": None,
    "wlasl_test_combined.pkl": "coco17",
    "wlasl_12320.pkl": "coco17",
    "wlasl_12320_GL00003.pkl": "coco17",
}


@pytest.mark.real
@pytest.mark.parametrize("name", sorted(PYSKL_REGISTRY))
def test_real_pyskl_files_match_the_skeleton_their_source_describes(store, name):
    store.ingest(real_dir("pyskl") / name, dataset="p")
    ((registry,),) = store.sql("SELECT registry FROM categories WHERE kind = 'object'").fetchall()
    assert registry == PYSKL_REGISTRY[name]
    if registry is None:  # reported, not guessed
        report = store.validate("p")
        assert any(f["check"] == "unknown_skeleton" for f in report["datasets"]["p"])


def test_a_skeleton_file_of_ones_own_sets_the_meaning(store, tmp_path):
    doc = synthetic.coco_keypoints(4, seed=1)
    doc["categories"][0]["keypoints"] = ["a", "b", "c"]
    for a in doc["annotations"]:
        a["keypoints"] = a["keypoints"][:9]
    store.ingest(synthetic.write_json(doc, tmp_path / "tri.json"), dataset="tri")
    mine = {
        "name": "tri3",
        "title": "three points",
        "description": "a user's own",
        "sources": [{"what": "all", "from": "the user"}],
        "bones": [[0, 1], [1, 2]],
        "joints": [
            {"name": "a", "canonical": "left_wrist", "part": "hand", "flip": "c", "sigma": 0.05},
            {"name": "b", "canonical": "nose", "part": "face", "flip": "b", "sigma": 0.03},
            {"name": "c", "canonical": "right_wrist", "part": "hand", "flip": "a", "sigma": 0.05},
        ],
    }
    path = tmp_path / "tri3.json"
    path.write_text(json.dumps(mine))
    store.set_skeleton("tri", path)
    row = store.sql("SELECT registry, canonical, flip, sigmas FROM categories").fetchall()[0]
    assert row == ("tri3", ["left_wrist", "nose", "right_wrist"], [2, 1, 0], [0.05, 0.03, 0.05])
