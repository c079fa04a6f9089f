"""validate is keypoint-aware: left/right swaps, joints outside the box, unknown skeletons,
num_keypoints that disagrees with the flags; each finding names the instance."""

from __future__ import annotations

import numpy as np

from posestore import synthetic


def _person(cx: float, cy: float, scale: float = 1.0) -> list:
    """A frontal COCO-17 stick figure (its left on the image's right), every joint visible."""
    layout = {
        0: (0, -60), 1: (5, -65), 2: (-5, -65), 3: (10, -62), 4: (-10, -62),
        5: (20, -40), 6: (-20, -40), 7: (28, -10), 8: (-28, -10), 9: (32, 15), 10: (-32, 15),
        11: (12, 20), 12: (-12, 20), 13: (14, 55), 14: (-14, 55), 15: (15, 90), 16: (-15, 90),
    }  # fmt: skip
    return [v for j in range(17) for v in (cx + layout[j][0] * scale, cy + layout[j][1] * scale, 2)]


def _doc(swapped: set[int]) -> dict:
    doc = synthetic.coco_keypoints(12, seed=3, crowd_fraction=0.0)
    rng = np.random.default_rng(0)
    for a in doc["annotations"]:
        k = _person(rng.uniform(150, 450), rng.uniform(150, 300), rng.uniform(0.8, 1.5))
        if a["id"] in swapped:  # left and right wrists, elbows and shoulders exchanged
            for left, right in ((5, 6), (7, 8), (9, 10)):
                k[3 * left : 3 * left + 3], k[3 * right : 3 * right + 3] = (
                    k[3 * right : 3 * right + 3],
                    k[3 * left : 3 * left + 3],
                )
        a["keypoints"], a["num_keypoints"] = k, 17
        xs, ys = k[0::3], k[1::3]
        a["bbox"] = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
    return doc


def _finding(report: dict, dataset: str, check: str) -> dict | None:
    return next((f for f in report["datasets"][dataset] if f["check"] == check), None)


def test_injected_swaps_are_found_by_instance(store, tmp_path):
    doc = _doc(set())
    swapped = {doc["annotations"][2]["id"], doc["annotations"][7]["id"]}
    doc = _doc(swapped)
    store.ingest(synthetic.write_json(doc, tmp_path / "person_keypoints_val.json"), dataset="d")
    found = _finding(store.validate("d"), "d", "suspected_left_right_swap")
    assert found is not None
    assert {e["instance_id"] for e in found["examples"]} == swapped == set() | swapped
    assert found["count"] == len(swapped)


def test_joints_outside_the_box_and_num_keypoints_are_reported(store, tmp_path):
    doc = _doc(set())
    a = doc["annotations"][0]
    a["keypoints"][0] = a["bbox"][0] + a["bbox"][2] + 40  # the nose far right of the box
    doc["annotations"][1]["num_keypoints"] = 3
    store.ingest(synthetic.write_json(doc, tmp_path / "person_keypoints_val.json"), dataset="d")
    report = store.validate("d")
    outside = _finding(report, "d", "joint_outside_box")
    assert outside["count"] == 1 and outside["examples"][0]["instance_id"] == a["id"]
    assert outside["examples"][0]["joint_name"] == "nose"
    disagree = _finding(report, "d", "num_keypoints_disagrees")
    assert disagree["examples"][0]["instance_id"] == doc["annotations"][1]["id"]


def test_a_skeleton_the_registry_does_not_know_is_a_warning(store, tmp_path):
    doc = _doc(set())
    doc["categories"][0]["keypoints"] = [f"point {i}" for i in range(1, 14)]  # CVAT's "1".."13"
    doc["categories"][0]["skeleton"] = []
    for a in doc["annotations"]:
        a["keypoints"] = a["keypoints"][: 3 * 13]
    store.ingest(synthetic.write_json(doc, tmp_path / "person_keypoints_val.json"), dataset="d")
    unknown = _finding(store.validate("d"), "d", "unknown_skeleton")
    assert unknown is not None and unknown["examples"][0]["category_id"] == 1
    assert (
        "unknown" in store.sql("SELECT coalesce(registry, 'unknown') FROM categories").fetchall()[0]
    )
