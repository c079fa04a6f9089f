"""The benchmark scripts run at a tiny scale, so they cannot rot (timings are never asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import REAL

from posestore import synthetic

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def test_coco_ingest_benchmark_runs(tmp_path):
    path = synthetic.write_json(synthetic.coco_keypoints(50, seed=1), tmp_path / "tiny.json")
    r = subprocess.run(
        [sys.executable, str(BENCH / "coco_ingest.py"), str(path), "--repeat", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert "posestore / pycocotools" in r.stdout


def test_coco_ingest_benchmark_makes_a_large_file_a_slice_at_a_time(tmp_path, monkeypatch):
    import json

    sys.path.insert(0, str(BENCH))
    monkeypatch.setattr(sys, "path", sys.path)
    import coco_ingest

    monkeypatch.setattr(coco_ingest, "SLICE", 150)  # several slices even in a small file
    path = coco_ingest.make_large(tmp_path, 1)
    doc = json.loads(path.read_bytes())
    images = [im["id"] for im in doc["images"]]
    assert images == list(range(1, len(images) + 1)) and len(images) > 300
    assert {a["image_id"] for a in doc["annotations"]} <= set(images)
    ids = [a["id"] for a in doc["annotations"]]
    assert ids == list(range(1, len(ids) + 1))
    assert 0.5e6 < path.stat().st_size < 2e6
    assert coco_ingest.make_large(tmp_path, 1) == path  # made once


def test_pyskl_ingest_benchmark_runs(tmp_path):
    r = subprocess.run(
        [
            sys.executable,
            str(BENCH / "pyskl_ingest.py"),
            "--clips",
            "30",
            "--frames",
            "12",
            "--repeat",
            "1",
            "--data",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert "posestore / pickle" in r.stdout and "store on disk" in r.stdout


def test_benchmark_runner_writes_results_at_a_tiny_scale(tmp_path):
    out = tmp_path / "RESULTS.md"
    r = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--scale", "0.001", "--repeat", "1",
         "--data", str(tmp_path / "data"), "--out", str(out)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    text = out.read_text()
    for task in ("1. COCO ingest", "2. selective query", "3. per-joint visibility", "4. 10% subset",
                 "5. PYSKL ingest", "6. keypoint evaluation", "| COCO |",
                 "| PYSKL (the same pickle in float32) |"):  # fmt: skip
        assert task in text
    assert "machine:" in text and "duckdb" in text
    assert "## Kinetics at scale" in text and "ray / local" in text
    assert "| 1. COCO ingest, peak memory ÷ file size | the JSON file |" in text
    if (REAL / "pyskl").is_dir():  # the store's size on real PYSKL files, beside the generated one
        assert "| PYSKL, real: wlasl_test_combined.pkl |" in text


def test_view_benchmark_runs(tmp_path):
    r = subprocess.run(
        [sys.executable, str(BENCH / "view.py"), "--images", "30", "--out", str(tmp_path),
         "--no-browser"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "blank canvases" in r.stdout and "thumbnails" in r.stdout and "MiB" in r.stdout
