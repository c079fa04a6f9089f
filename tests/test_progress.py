"""Progress that moves: COCO parsing reports bytes, YOLO export reports label files, a log
gets one line per stage, and an export ends in one summary line."""

from __future__ import annotations

import re

import pytest

from posestore import synthetic


def _recorder():
    calls: list[tuple[str, int, int]] = []
    return calls, lambda message, done, total: calls.append((message, done, total))


def test_coco_parsing_moves_over_the_source_bytes(store, tmp_path):
    doc = synthetic.coco_keypoints(3000, seed=1, polygon_points=34)  # several 4 MB stretches
    path = synthetic.write_json(doc, tmp_path / "person_keypoints_val.json")
    size = path.stat().st_size
    calls, progress = _recorder()
    store.ingest(path, dataset="d", progress=progress)
    parsing = [done for message, done, total in calls if message.startswith("parsing")]
    assert all(total == size for message, _, total in calls if total > 0)
    assert len(set(parsing)) >= size // (4 << 20)  # a step per stretch, not one 0% line
    assert 0 < max(parsing) < size and parsing == sorted(parsing)
    measured = [done for _, done, total in calls if total > 0]
    assert measured == sorted(measured) and measured[-1] == size


@pytest.mark.filterwarnings("ignore:.*one split")
def test_yolo_export_moves_to_every_image(store, tmp_path):
    doc = synthetic.coco_keypoints(30, seed=2, crowd_fraction=0.0)
    store.ingest(synthetic.write_json(doc, tmp_path / "person_keypoints_val.json"), dataset="d")
    calls, progress = _recorder()
    store.export("d", tmp_path / "yolo", format="yolo-pose", progress=progress)
    labels = [(done, total) for message, done, total in calls if message.startswith("labels")]
    assert labels[0] == (0, len(doc["images"]))
    assert labels[-1] == (len(doc["images"]), len(doc["images"]))


def _stages(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.startswith("progress: ")]


def test_outside_a_terminal_each_stage_is_one_log_line(tmp_path, cli, monkeypatch):
    from posestore import cli as command_line

    monkeypatch.setattr(command_line, "LOG_STAGES_AFTER", 0)  # every stage, however short
    doc = synthetic.coco_keypoints(300, seed=3)
    src = synthetic.write_json(doc, tmp_path / "person_keypoints_val.json")
    store = tmp_path / "store"
    r = cli("--store", store, "ingest", src, "--dataset", "d")  # capsys: stderr is no terminal
    assert r.exit_code == 0, r.output
    lines = _stages(r.stderr)
    stage = [re.sub(r"[\d,.–-]+", "#", ln.split(" at ")[0].split(" (")[0]) for ln in lines]
    assert len(stage) == len(set(stage)), "a stage logged twice"
    assert [s.split()[1] for s in stage[:3]] == ["parsing", "flattening", "read"]
    assert any(s.startswith("progress: writing") for s in stage)
    assert all(re.search(r" at \d+\.\d s$", ln) for ln in lines)

    r = cli("--store", store, "export", "d", tmp_path / "yolo", "--format", "yolo-pose")
    assert r.exit_code == 0, r.output
    (labels,) = [ln for ln in _stages(r.stderr) if "labels for val" in ln]  # one, not per file
    assert "(0%)" in labels


def test_an_export_of_several_files_is_one_summary_line(tmp_path, cli):
    root = tmp_path / "src" / "annotations"
    for k, split in enumerate(("train", "val")):
        doc = synthetic.coco_keypoints(4, seed=k, first_image_id=1 + 10 * k)
        synthetic.write_json(doc, root / f"person_keypoints_{split}.json")
    store = tmp_path / "store"
    assert cli("--store", store, "ingest", root.parent, "--dataset", "d").exit_code == 0
    r = cli("--store", store, "export", "d", tmp_path / "out")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines() == [f"wrote 2 files under {tmp_path / 'out'} (2 .json)"]
    r = cli("--store", store, "export", "d", tmp_path / "val.json", "--split", "val")
    assert r.stdout.splitlines() == [f"wrote {tmp_path / 'val.json'}"]


def test_outside_a_terminal_a_quick_command_stays_quiet_and_a_long_stage_is_logged(
    tmp_path, cli, capsys
):
    import time

    from posestore import cli as command_line

    doc = synthetic.coco_keypoints(5, seed=3)
    src = synthetic.write_json(doc, tmp_path / "person_keypoints_val.json")
    r = cli("--store", tmp_path / "store", "ingest", src, "--dataset", "d")
    assert r.exit_code == 0 and not _stages(r.stderr)  # done before a stage lasted a second

    capsys.readouterr()
    log = command_line._StageLog(after=0.05)
    log.update("parsing big.json (1,000.0 MB)", 0, 100)
    printed: list[str] = []
    for _ in range(200):  # a stage that lasts is logged once its time is up
        printed += _stages(capsys.readouterr().err)
        if printed:
            break
        time.sleep(0.05)
    log.update("parsing big.json (1,000.0 MB)", 40, 100)  # the same stage: no second line
    log.update("flattening big.json", 60, 100)  # over before its time: never logged
    log.close()
    time.sleep(0.2)
    printed += _stages(capsys.readouterr().err)
    assert len(printed) == 1 and printed[0].startswith("progress: parsing big.json")
