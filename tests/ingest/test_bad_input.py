"""Bad input: a one-line error naming the file and the record, exit non-zero, store unchanged."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CASES, snapshot

import posestore
from posestore import synthetic
from posestore.errors import SourceError, StoreError


@pytest.fixture
def filled(tmp_path):
    """A store holding one dataset 'd', and a good source document to spoil."""
    store = posestore.open(tmp_path / "store")
    doc = synthetic.coco_keypoints(20, seed=11)
    good = synthetic.write_json(doc, tmp_path / "good.json")
    store.ingest(good, dataset="d")
    return store, doc, tmp_path


def run_cli(*args: str, store: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "POSESTORE_STORE": str(store)}
    return subprocess.run(
        [sys.executable, "-m", "posestore.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def spoil(doc: dict, how: str) -> dict:
    doc = json.loads(json.dumps(doc))
    anns = doc["annotations"]
    if how == "keypoints_length":
        anns[1]["keypoints"] = anns[1]["keypoints"][:50]
    elif how == "keypoints_not_numbers":
        anns[2]["keypoints"][4] = "12"
    elif how == "missing_image":
        anns[3]["image_id"] = 999999
    elif how == "duplicate_annotation_id":
        anns[5]["id"] = anns[4]["id"]
    elif how == "duplicate_image_id":
        doc["images"][6] = {**doc["images"][7], "width": 1}
    elif how == "no_images":
        doc["image"] = doc.pop("images")
    return doc


EXPECTED = {
    "keypoints_length": r"annotations\[1\]\.keypoints: has 50 values, expected a multiple of 3",
    "keypoints_not_numbers": r"annotations\[2\]\.keypoints: holds values that are not numbers",
    "missing_image": r"annotations\[3\]\.image_id: refers to image 999999, which the file does not have",
    "duplicate_annotation_id": r"annotations\[5\]\.id: duplicate id \d+ \(also annotations\[4\]\)",
    "duplicate_image_id": r"images\[7\]\.id: duplicate id \d+ \(also images\[6\]\) with different fields",
    "no_images": r"the top-level key 'images' is missing \(found 'image'",
}


@pytest.mark.parametrize("how", sorted(EXPECTED))
def test_bad_document_is_refused_naming_the_record_and_the_store_is_unchanged(filled, how):
    store, doc, tmp = filled
    bad = synthetic.write_json(spoil(doc, how), tmp / f"{how}.json")
    before = snapshot(store.root)
    with pytest.raises(SourceError, match=EXPECTED[how]) as err:
        store.ingest(bad, dataset="d")
    assert str(bad) in str(err.value)
    assert snapshot(store.root) == before
    assert store.sql("SELECT count(*) FROM images WHERE dataset = 'd'").fetchall() == [(20,)]


def test_wrong_length_within_a_category_names_the_expected_count(tmp_path):
    doc = json.loads((CASES / "float_coordinates.json").read_bytes())
    doc["annotations"][1]["keypoints"] = [1, 2, 2, 3, 4, 2]
    doc["annotations"].append({**doc["annotations"][0], "id": 99})
    path = synthetic.write_json(doc, tmp_path / "bad.json")
    with pytest.raises(SourceError, match=r"annotations\[1\]\.keypoints: has 6 values, expected 9"):
        posestore.open(tmp_path / "s").ingest(path, dataset="d")


def test_cli_truncated_json_is_one_line_without_traceback(filled):
    store, doc, tmp = filled
    text = json.dumps(doc)
    bad = tmp / "truncated.json"
    bad.write_text(text[: len(text) // 2])
    before = snapshot(store.root)
    r = run_cli("ingest", str(bad), "--dataset", "d", store=store.root)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(bad) in lines[0]
    assert "not valid JSON" in lines[0]
    assert snapshot(store.root) == before


@pytest.mark.parametrize("how", sorted(EXPECTED))
def test_cli_bad_document_is_one_line_naming_file_and_record(filled, how):
    store, doc, tmp = filled
    bad = synthetic.write_json(spoil(doc, how), tmp / f"{how}.json")
    before = snapshot(store.root)
    r = run_cli("ingest", str(bad), "--dataset", "d", store=store.root)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {bad}")
    assert re.search(EXPECTED[how], lines[0])
    assert snapshot(store.root) == before


@pytest.mark.parametrize("name", ["../x", "/abs", "a/b", ".hidden", "", "x y"])
def test_dataset_names_that_are_paths_are_refused(filled, name):
    store, doc, tmp = filled
    good = tmp / "good.json"
    before = snapshot(store.root)
    with pytest.raises(StoreError, match="invalid dataset name"):
        store.ingest(good, dataset=name)
    r = run_cli("ingest", str(good), "--dataset", name, store=store.root)
    assert r.returncode == 1 and "Traceback" not in r.stderr and "invalid dataset name" in r.stderr
    assert snapshot(store.root) == before
    assert not (tmp / "x").exists()


def test_export_refuses_a_split_path_that_leaves_out(filled):
    """A split path in the metadata (from the source's layout) never escapes OUT."""
    store, doc, tmp = filled
    from posestore.queries.export import safe_relative

    for bad in ("../evil.json", "/etc/evil.json", "a/../../evil.json"):
        with pytest.raises(StoreError, match="outside"):
            safe_relative(bad, tmp / "out")
    assert (
        safe_relative("annotations/x.json", tmp / "out")
        == (tmp / "out" / "annotations" / "x.json").resolve()
    )


def test_a_file_of_unknown_format_is_refused_clearly(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(SourceError, match="cannot tell the format"):
        posestore.open(tmp_path / "s").ingest(path)
