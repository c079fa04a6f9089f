"""When memory runs out anyway, ingest fails in one line and the store is as it was: the
process's address space is limited (RLIMIT_AS) in a child, after its imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import snapshot

from posestore import synthetic

CHILD = """
import resource, sys
import duckdb, numpy, orjson, polars, pyarrow, pyarrow.parquet  # imported before the limit
import posestore.cli, posestore.ingest.coco, posestore.ingest.sources, posestore.store

def address_space():
    for line in open("/proc/self/status"):
        if line.startswith("VmSize"):
            return int(line.split()[1]) * 1024

limit = address_space() + int(sys.argv[1]) * 2**20
resource.setrlimit(resource.RLIMIT_AS, (limit, resource.RLIM_INFINITY))
sys.exit(posestore.cli.main(sys.argv[2:]))
"""


def _snapshot(root: Path) -> dict[str, str]:
    """The store's files and their hashes, the writers' lock files aside (empty, kept for the
    next writer by the commit protocol)."""
    return {k: v for k, v in snapshot(root).items() if not k.startswith(".posestore/locks/")}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc: Linux")
@pytest.mark.parametrize("headroom_mb", [5, 40])
def test_coco_ingest_out_of_memory_is_one_line_and_the_store_unchanged(tmp_path, headroom_mb):
    import posestore

    store = tmp_path / "store"
    small = synthetic.write_json(synthetic.coco_keypoints(5, seed=1), tmp_path / "keep.json")
    posestore.open(store).ingest(small, dataset="keep")
    big = synthetic.coco_keypoints(4000, seed=2, polygon_points=34)  # ~7 MB: its arrays are cut
    source = synthetic.write_json(big, tmp_path / "person_keypoints_val.json")
    before = _snapshot(store)

    r = subprocess.run(
        [sys.executable, "-c", CHILD, str(headroom_mb), "--store", str(store), "ingest",
         str(source), "--dataset", "big"],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "memory" in errors[0], r.stderr
    assert _snapshot(store) == before
    assert posestore.open(store).dataset_names() == ["keep"]
