"""Export targets that cannot be written are one line, leave nothing behind and the store as it
was; an export is staged beside OUT and put in place whole, so a failed or killed export never
leaves a half-written OUT (posestore/output.py)."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hostile import assert_one_line, snapshot

from posestore import synthetic
from posestore.errors import StoreError
from posestore.output import TEMP_PREFIX


@pytest.fixture
def two(store, tmp_path):
    """A store with a two-split COCO dataset 'd' (a folder export) and what it looked like."""
    root = tmp_path / "coco" / "annotations"
    for split, seed in (("val", 1), ("train", 2)):
        doc = synthetic.coco_keypoints(6, seed=seed, first_image_id=seed * 100)
        synthetic.write_json(doc, root / f"person_keypoints_{split}.json")
    store.ingest(tmp_path / "coco", dataset="d")
    return store, snapshot(store.root)


def listing(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def lines(text: str) -> int:
    return len([line for line in text.splitlines() if line.strip()])


def refused_export(store, before, out, match: str, **options) -> str:
    with pytest.raises(StoreError) as caught:
        store.export("d", out, **options)
    message = assert_one_line(caught.value, "cannot write")
    assert re.search(match, message), message
    assert snapshot(store.root) == before
    return message


def test_an_existing_file_where_the_export_writes_a_folder_is_one_line(two, tmp_path):
    store, before = two
    out = tmp_path / "out"
    out.write_text("mine")
    refused_export(store, before, out, "is an existing file and this export writes a folder")
    assert out.read_text() == "mine" and listing(tmp_path).count("out") == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(TEMP_PREFIX)]


def test_an_existing_folder_where_the_export_writes_a_file_is_one_line(two, tmp_path):
    store, before = two
    out = tmp_path / "subset.json"
    (out / "inside").mkdir(parents=True)
    refused_export(
        store, before, out, "is an existing folder and this export writes one file", split="val"
    )
    assert listing(out) == ["inside"]


def test_a_file_where_a_parent_folder_should_be_is_one_line(two, tmp_path):
    store, before = two
    (tmp_path / "plain").write_text("x")
    refused_export(
        store, before, tmp_path / "plain" / "out.json", "plain is not a folder", split="val"
    )


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
@pytest.mark.parametrize("target", ["/dev/full", "/dev/full/out.json"])
def test_a_device_as_out_is_one_line_and_stays_a_device(two, target):
    store, before = two
    refused_export(
        store, before, Path(target), "not a regular file or folder|is not a folder", split="val"
    )
    assert Path("/dev/full").is_char_device()


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="no /proc here")
@pytest.mark.parametrize("target", ["/proc/posestore-out.json", "/proc/posestore-out"])
def test_out_inside_proc_is_one_line(two, target):
    store, before = two
    refused_export(store, before, Path(target), "nothing was written there", split="val")


def test_a_path_with_a_nul_byte_is_one_line(two, tmp_path):
    store, before = two
    files = listing(tmp_path)
    refused_export(store, before, f"{tmp_path}/out\0.json", "holds a NUL byte", split="val")
    assert listing(tmp_path) == files


def test_the_cli_prints_an_unwritable_out_in_one_line(two, cli, tmp_path):
    store, before = two
    (tmp_path / "taken").write_text("x")
    r = cli("--store", store.root, "export", "d", tmp_path / "taken")
    assert r.exit_code == 1 and lines(r.stderr) == 1 and "error: cannot write" in r.stderr
    r = cli("--store", store.root, "stats", "d", "--html", "/dev/full")
    assert r.exit_code == 1 and lines(r.stderr) == 1, r.stderr
    r = cli("--store", store.root, "sql", "SELECT 1", "--parquet", tmp_path / "taken" / "x.pq")
    assert r.exit_code == 1 and lines(r.stderr) == 1 and "is not a folder" in r.stderr
    r = cli("--store", store.root, "sql", "SELECT * FROM nope", "--parquet", tmp_path / "q.pq")
    assert r.exit_code == 1 and not (tmp_path / "q.pq").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(TEMP_PREFIX)]
    assert snapshot(store.root) == before


def test_a_finished_export_leaves_only_out_and_reports_where_its_files_landed(two, tmp_path):
    store, _ = two
    written = store.export("d", tmp_path / "out")
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == [
        "out/annotations/person_keypoints_train.json",
        "out/annotations/person_keypoints_val.json",
    ]
    assert all(p.is_file() for p in written)
    assert listing(tmp_path / "out") == [
        "annotations",
        "annotations/person_keypoints_train.json",
        "annotations/person_keypoints_val.json",
    ]


def test_an_export_into_an_existing_folder_replaces_its_files_and_keeps_the_others(two, tmp_path):
    store, _ = two
    out = tmp_path / "out"
    (out / "notes").mkdir(parents=True)
    (out / "notes" / "mine.txt").write_text("keep me")
    (out / "annotations").mkdir()
    (out / "annotations" / "person_keypoints_val.json").write_text("old")
    store.export("d", out)
    assert (out / "notes" / "mine.txt").read_text() == "keep me"
    assert json.loads((out / "annotations" / "person_keypoints_val.json").read_bytes())["images"]
    assert not [p for p in out.iterdir() if p.name.startswith(TEMP_PREFIX)]


def test_a_file_export_replaces_an_existing_file_whole(two, tmp_path):
    store, _ = two
    out = tmp_path / "val.json"
    out.write_text("old")
    store.export("d", out, split="val")
    assert len(json.loads(out.read_bytes())["images"]) == 6


def test_yolo_data_yaml_names_the_folder_the_export_lands_in(two, tmp_path):
    store, _ = two
    with pytest.warns(UserWarning):
        store.export("d", tmp_path / "yolo", format="yolo-pose")
    text = (tmp_path / "yolo" / "data.yaml").read_text()
    assert f"path: {json.dumps(str((tmp_path / 'yolo').resolve()))}" in text
    assert TEMP_PREFIX not in text


def test_a_pickle_export_lands_with_its_kpfiles_beside_it(store, tmp_path):
    index = synthetic.kinetics_with_kpfiles(tmp_path / "k400", n_clips=6, per_kpfile=2)
    store.ingest(index, dataset="k")
    written = store.export("k", tmp_path / "out" / "k.pkl")
    assert (tmp_path / "out" / "k.pkl").is_file()
    kpfiles = sorted(p.relative_to(tmp_path / "out").as_posix() for p in written[1:])
    assert kpfiles == ["kpfiles/part_0.pkl", "kpfiles/part_1.pkl", "kpfiles/part_2.pkl"]
    assert all((tmp_path / "out" / k).is_file() for k in kpfiles)


def test_a_failed_export_removes_the_folders_it_made_for_out(two, tmp_path):
    store, before = two
    with pytest.raises(StoreError, match="2 splits"):
        store.export("d", tmp_path / "a" / "b" / "one.json")  # one file, two splits
    assert not (tmp_path / "a").exists()
    assert snapshot(store.root) == before


# -- a full disk --------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs (root only; skipped elsewhere)."""
    folder = tmp_path / "small"
    folder.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],
        capture_output=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)  # lazy: a held file waits


def test_an_export_to_a_full_disk_is_one_line_and_leaves_nothing(store, tmp_path, small_disk):
    doc = synthetic.coco_keypoints(3000, seed=3)
    store.ingest(synthetic.write_json(doc, tmp_path / "big.json"), dataset="d")
    before = snapshot(store.root)
    message = refused_export(
        store, before, small_disk / "big.json", "No space left on device", split="big"
    )
    assert "nothing was written there" in message
    assert listing(small_disk) == []


# -- killed midway ------------------------------------------------------------------------------

EXPORT = "from posestore.cli import main; import sys; sys.exit(main(sys.argv[1:]))"


def contents(out: Path) -> dict[str, bytes]:
    """A file's bytes, or every file of a folder by its path inside."""
    if out.is_file():
        return {"": out.read_bytes()}
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["out.json", "out"], ids=["file", "folder"])
def test_an_export_killed_midway_leaves_out_absent_or_complete(store, tmp_path, name):
    """SIGKILL while the export writes (its temporary folder exists): OUT is absent, or as a
    finished export writes it; the next export removes what the killed one left."""
    doc = synthetic.coco_keypoints(4000, seed=4, polygon_points=16)
    store.ingest(synthetic.write_json(doc, tmp_path / "person_keypoints_big.json"), dataset="d")
    store.export("d", tmp_path / "reference" / name)
    reference = contents(tmp_path / "reference" / name)
    rng = random.Random(16)
    outcomes = []
    for round_ in range(3):
        runs = tmp_path / f"run{round_}"
        runs.mkdir()
        out = runs / name
        child = subprocess.Popen(
            [sys.executable, "-c", EXPORT, "--store", str(store.root), "export", "d", str(out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and child.poll() is None:
            if any(p.name.startswith(TEMP_PREFIX) for p in runs.iterdir()):
                time.sleep(rng.uniform(0, 0.05))
                break
            time.sleep(0.002)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        if out.exists():
            assert contents(out) == reference
            outcomes.append("complete")
        else:
            outcomes.append("absent")
        leftovers = [p for p in runs.iterdir() if p.name.startswith(TEMP_PREFIX)]
        store.export("d", runs / name)  # the next export beside it: whole, and tidies up
        assert contents(runs / name) == reference
        assert not [p for p in leftovers if p.exists()]
    assert "absent" in outcomes  # the kill did land while the export was writing


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="no /proc here")
def test_a_store_folder_that_cannot_be_made_is_one_line(cli):
    r = cli("--store", "/proc/posestore-store", "ls")
    assert r.exit_code == 1 and lines(r.stderr) == 1, r.stderr
