"""Kinetics-400 at scale: a generated index + float16 kpfiles (several kpfiles, detections
spread unevenly over frames, a clip without detections) ingested kpfile by kpfile, exported
back bit for bit under the same relative paths; a missing or unreadable kpfile is one error
naming it and its clips, and the store stays as it was."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import snapshot

import posestore
from posestore import safe_pickle, synthetic
from posestore.errors import SourceError


@pytest.fixture(scope="module")
def kinetics(tmp_path_factory) -> Path:
    """30 clips, 8 to a kpfile: four kpfiles, the last one shorter."""
    return synthetic.kinetics_scale(tmp_path_factory.mktemp("k400") / "k400", 30, 8)


def test_the_generated_index_is_shaped_like_kinetics(kinetics):
    index = safe_pickle.load(kinetics)
    clips = index["annotations"]
    boxes = np.array([len(c["frame_inds"]) for c in clips])
    totals = np.array([c["total_frames"] for c in clips])
    assert (boxes == 0).sum() == 1  # a clip without detections
    assert (boxes > totals).any() and (boxes < totals).any()  # several a frame, or gaps
    per_frame = np.bincount(clips[0]["frame_inds"])
    assert len(set(per_frame[1::2].tolist())) > 1  # uneven over the frames
    assert clips[0]["frame_inds"].dtype == np.int16 and clips[0]["box_score"].dtype == np.float16
    kpfiles = sorted({c["raw_file"] for c in clips})
    assert len(kpfiles) == 4
    first = safe_pickle.load(kinetics.parent / kpfiles[0])
    assert first[clips[0]["frame_dir"]]["keypoint"].shape == (boxes[0], 17, 3)
    assert first[clips[0]["frame_dir"]]["keypoint"].dtype == np.float16


def test_kinetics_round_trips_bit_exact_under_the_same_paths(kinetics, store, tmp_path):
    (done,) = store.ingest(kinetics, dataset="k")
    index = safe_pickle.load(kinetics)
    clips = index["annotations"]
    boxes = sum(len(c["frame_inds"]) for c in clips)
    assert done.counts["instances"] == boxes == done.counts["keypoints"]
    assert done.counts["frames"] == sum(c["total_frames"] for c in clips)
    written = store.export("k", tmp_path / "out")
    rels = sorted(p.relative_to(tmp_path / "out").as_posix() for p in written)
    assert rels == ["k400_index.pkl", *sorted({c["raw_file"] for c in clips})]
    back = safe_pickle.load(tmp_path / "out" / "k400_index.pkl")
    assert back["split"] == index["split"]
    for a, b in zip(index["annotations"], back["annotations"]):
        assert list(a) == list(b)
        for key, value in a.items():
            if isinstance(value, np.ndarray):
                assert value.dtype == b[key].dtype and value.tobytes() == b[key].tobytes()
            else:
                assert type(value) is type(b[key]) and value == b[key]
    for rel in rels[1:]:
        source, exported = (
            safe_pickle.load(root / rel) for root in (kinetics.parent, tmp_path / "out")
        )
        assert list(source) == list(exported)
        for frame_dir, entry in source.items():
            got = exported[frame_dir]["keypoint"]
            assert got.dtype == np.float16 and got.shape == entry["keypoint"].shape
            assert got.tobytes() == entry["keypoint"].tobytes()


def test_progress_counts_kpfiles_and_clips(kinetics, store):
    seen = []
    store.ingest(kinetics, dataset="k", progress=lambda m, d, t: seen.append((m, d, t)))
    kpfile_lines = [s for s in seen if s[0].startswith("kpfile ")]
    assert [m.split(" (")[0] for m, _, _ in kpfile_lines] == [
        f"kpfile {k} of 4" for k in (1, 2, 3, 4)
    ]
    assert [d for _, d, _ in kpfile_lines] == [8, 16, 24, 30]
    assert kpfile_lines[-1][0].endswith("30 of 30 clips") and kpfile_lines[-1][2] == 30


def _copy(kinetics: Path, to: Path) -> Path:
    import shutil

    shutil.copytree(kinetics.parent, to)
    return to / kinetics.name


def test_a_missing_kpfile_is_one_error_naming_it_and_its_clips(kinetics, tmp_path, cli):
    index = _copy(kinetics, tmp_path / "k400")
    store = posestore.open(tmp_path / "store")
    store.ingest(kinetics, dataset="k")
    before = snapshot(store.root)
    clips = [
        c for c in safe_pickle.load(index)["annotations"] if c["raw_file"].endswith("_002.pkl")
    ]
    (index.parent / clips[0]["raw_file"]).unlink()
    with pytest.raises(SourceError) as caught:
        store.ingest(index, dataset="k")
    message = str(caught.value)
    assert "k400_part_002.pkl: no such kpfile" in message
    assert f"{len(clips)} clips ({clips[0]['frame_dir']}, {clips[1]['frame_dir']}" in message
    assert "3 of 4" in message and "nothing was ingested" in message
    assert snapshot(store.root) == before
    result = cli("ingest", index, "--dataset", "k", "--store", store.root)
    assert result.exit_code == 1
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("error: ") and "k400_part_002.pkl" in line
    assert snapshot(store.root) == before


def test_an_unreadable_kpfile_is_one_error_naming_it_and_its_clips(kinetics, tmp_path):
    index = _copy(kinetics, tmp_path / "k400")
    store = posestore.open(tmp_path / "store")
    before = snapshot(store.root)
    broken = index.parent / "kpfiles" / "k400_part_003.pkl"
    broken.write_bytes(broken.read_bytes()[:1000])
    clips = [
        c for c in safe_pickle.load(index)["annotations"] if c["raw_file"].endswith("_003.pkl")
    ]
    with pytest.raises(SourceError, match=r"k400_part_003\.pkl: .*not a readable pickle") as caught:
        store.ingest(index, dataset="k")
    assert f"it holds {len(clips)} clips ({clips[0]['frame_dir']}" in str(caught.value)
    assert snapshot(store.root) == before


def test_a_clip_missing_from_its_kpfile_names_the_clip(kinetics, tmp_path):
    import pickle

    index = _copy(kinetics, tmp_path / "k400")
    path = index.parent / "kpfiles" / "k400_part_001.pkl"
    content = safe_pickle.load(path)
    gone = next(iter(content))
    del content[gone]
    path.write_bytes(pickle.dumps(content))
    store = posestore.open(tmp_path / "store")
    with pytest.raises(SourceError, match=rf"k400_part_001\.pkl: {gone}: has no 'keypoint' array"):
        store.ingest(index, dataset="k")
    assert store.dataset_names() == []


def test_an_index_without_any_of_its_kpfiles_ingests_clips_without_joints(kinetics, tmp_path):
    import shutil

    index = _copy(kinetics, tmp_path / "k400")
    shutil.rmtree(index.parent / "kpfiles")
    store = posestore.open(tmp_path / "store")
    with pytest.warns(UserWarning, match="30 of 30 clips have no kpfile beside"):
        (done,) = store.ingest(index, dataset="k")
    assert "keypoints" not in done.counts and done.counts["images"] == 30


@pytest.mark.real
def test_the_real_kinetics_index_with_kpfiles_for_its_clips_round_trips(tmp_path, store):
    """The mmaction2 sample index as it is (int16 frame_inds up to 3,703 boxes a clip, float16
    box scores, ``valid`` with float keys), given a raw_file and float16 kpfiles of the shapes
    its frame_inds ask for."""
    import pickle

    from conftest import real_dir

    index = safe_pickle.load(real_dir("pyskl") / "mmaction2_k400_kpfile_index_sample.pkl")
    rng = np.random.default_rng(0)
    kpfiles: dict[str, dict] = {}
    for i, clip in enumerate(index["annotations"]):
        clip["raw_file"] = f"kpfiles/part_{i // 30}.pkl"
        kp = rng.random((len(clip["frame_inds"]), 17, 3)) * [570, 320, 1]
        kpfiles.setdefault(clip["raw_file"], {})[clip["frame_dir"]] = {
            "keypoint": kp.astype(np.float16)
        }
    root = tmp_path / "k400"
    for rel, content in kpfiles.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(pickle.dumps(content, protocol=4))
    path = synthetic.pyskl_pickle(root / "index.pkl", index["annotations"], index["split"])
    (done,) = store.ingest(path, dataset="k")
    assert done.counts["keypoints"] == sum(len(c["frame_inds"]) for c in index["annotations"])
    store.export("k", tmp_path / "out")
    back = safe_pickle.load(tmp_path / "out" / "index.pkl")
    assert back["split"] == index["split"] and len(back["annotations"]) == 100
    for a, b in zip(index["annotations"], back["annotations"]):
        assert a["frame_inds"].tobytes() == b["frame_inds"].tobytes()
        assert a["box_score"].tobytes() == b["box_score"].tobytes() and a["valid"] == b["valid"]
    for rel, content in kpfiles.items():
        exported = safe_pickle.load(tmp_path / "out" / rel)
        assert list(exported) == list(content)
        for frame_dir, entry in content.items():
            got = exported[frame_dir]["keypoint"]
            assert got.dtype == np.float16 and got.tobytes() == entry["keypoint"].tobytes()
