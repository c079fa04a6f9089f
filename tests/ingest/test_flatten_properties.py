"""Property tests of the flatten/unflatten pairs: any COCO instances and any PYSKL
``[M, T, V, C]`` arrays come back exactly through pose rows (ingest → export)."""

from __future__ import annotations

import json
import pickle
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from strict import differences

import posestore
from posestore import pyjson, safe_pickle

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# a float32-exact coordinate as a JSON writer gives it: an int, or a float with few digits
coordinate = st.one_of(
    st.integers(-50, 4000),
    st.integers(-2000, 400000).map(lambda k: k / 4),
)


@st.composite
def coco_documents(draw):
    joints = draw(st.sampled_from([3, 14, 17]))
    n_images = draw(st.integers(1, 4))
    images = [
        {"id": i + 1, "file_name": f"{i:04d}.jpg", "width": 640, "height": 480}
        for i in range(n_images)
    ]
    annotations = []
    for k in range(draw(st.integers(0, 8))):
        kp = []
        for _ in range(joints):
            kp += [draw(coordinate), draw(coordinate), draw(st.sampled_from([0, 1, 2]))]
        record = {
            "id": k + 1,
            "image_id": draw(st.integers(1, n_images)),
            "category_id": 1,
            "keypoints": kp if draw(st.booleans()) or k else [],
            "num_keypoints": sum(v > 0 for v in kp[2::3]),
            "iscrowd": 0,
        }
        if draw(st.booleans()):
            record["bbox"] = [draw(coordinate) for _ in range(4)]
        annotations.append(record)
    names = [f"joint_{j}" for j in range(joints)]
    categories = [{"id": 1, "name": "person", "keypoints": names, "skeleton": [[1, 2]]}]
    return {"images": images, "annotations": annotations, "categories": categories}


ALL_EMPTY = {  # found by this test: a file whose every keypoints list is empty
    "images": [{"id": 1, "file_name": "0000.jpg", "width": 640, "height": 480}],
    "annotations": [
        {"id": 1, "image_id": 1, "category_id": 1, "keypoints": [], "num_keypoints": 0,
         "iscrowd": 0}
    ],
    "categories": [{"id": 1, "name": "person", "keypoints": ["a", "b", "c"], "skeleton": []}],
}  # fmt: skip


@pytest.mark.filterwarnings("ignore:.*the export holds")  # expected here; not what this test checks
@SETTINGS
@given(doc=coco_documents())
@example(doc=ALL_EMPTY)
def test_coco_instances_round_trip_through_pose_rows(doc):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "person_keypoints_val.json"
        path.write_text(json.dumps(doc))
        store = posestore.open(Path(tmp) / "store")
        store.ingest(path, dataset="d")
        (back,) = store.export("d", Path(tmp) / "back.json", split="val")
        assert differences(doc, json.loads(back.read_bytes())) == []
        rows = store.sql("SELECT count(*) FROM keypoints").fetchall()[0][0]
        assert rows == sum(1 for a in doc["annotations"] if a["keypoints"])


@st.composite
def pyskl_clips(draw):
    dtype = draw(st.sampled_from(["float16", "float32"]))
    joints = draw(st.sampled_from([11, 17, 25]))
    channels = draw(st.sampled_from([2, 3]))
    clips = []
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    for i in range(draw(st.integers(1, 4))):
        m, t = draw(st.integers(0, 3)), draw(st.integers(1, 6))
        kp = (rng.random((m, t, joints, channels)) * 500 - 50).astype(dtype)
        absent = rng.random((m, t)) < 0.3  # PYSKL's zero padding
        kp[absent] = 0
        clip = {"frame_dir": f"clip{i}", "label": i, "img_shape": (480, 640), "total_frames": t,
                "keypoint": kp}  # fmt: skip
        if channels == 2:
            score = rng.random((m, t, joints)).astype(dtype)
            score[absent] = 0
            clip["keypoint_score"] = score
        clips.append(clip)
    return clips


@pytest.mark.filterwarnings("ignore:.*the export holds")  # expected here; not what this test checks
@SETTINGS
@given(clips=pyskl_clips())
def test_pyskl_arrays_round_trip_through_pose_rows(clips):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clips.pkl"
        path.write_bytes(pickle.dumps(clips, protocol=4))
        store = posestore.open(Path(tmp) / "store")
        store.ingest(path, dataset="p")
        (back,) = store.export("p", Path(tmp) / "back.pkl")
        got = safe_pickle.load(back)
        assert len(got) == len(clips)
        for a, b in zip(got, clips):
            assert pyjson.same(a, b), a["frame_dir"]
        poses = store.sql("SELECT count(*) FROM keypoints").fetchall()[0][0]
        assert poses == sum(c["keypoint"].shape[0] * c["keypoint"].shape[1] for c in clips)
