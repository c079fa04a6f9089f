"""The benchmark scripts run at a tiny scale, so they cannot rot (timings are never asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
