"""posestore ingest next to pycocotools.coco.COCO on the same COCO files, each in a fresh process.

    python benchmarks/coco_ingest.py FILE_OR_FOLDER [...] [--repeat 3]

Prints the median wall time and peak RSS of each side, and their ratio. A folder
means every ``*.json`` in it (files that fail to load are reported and skipped).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

POSESTORE = """
import sys, warnings, posestore
warnings.simplefilter("ignore")
store = posestore.open(sys.argv[1])
for i, f in enumerate(sys.argv[2:]):
    store.ingest(f, dataset=f"d{i}")
"""
PYCOCOTOOLS = """
import sys, contextlib, io
from pycocotools.coco import COCO
for f in sys.argv[1:]:
    with contextlib.redirect_stdout(io.StringIO()):
        COCO(f)
"""


def run(code: str, args: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of a fresh Python process."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise RuntimeError(f"failed: {' '.join(args)[:200]}")
    return wall, usage.ru_maxrss * 1024


def loadable(files: list[Path]) -> list[Path]:
    """The files both sides accept (posestore refuses malformed files that pycocotools skims)."""
    ok = []
    for f in files:
        try:
            run(PYCOCOTOOLS, [str(f)])
            with tempfile.TemporaryDirectory() as tmp:
                run(POSESTORE, [str(Path(tmp) / "store"), str(f)])
            ok.append(f)
        except RuntimeError:
            print(f"skipped (not loadable by both): {f.name}", file=sys.stderr)
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sources", nargs="+", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    files: list[Path] = []
    for s in args.sources:
        files += sorted(s.glob("*.json")) if s.is_dir() else [s]
    files = loadable(files) if len(files) > 1 else files
    size = sum(f.stat().st_size for f in files)
    rows = []
    for name, code in (("pycocotools COCO(file)", PYCOCOTOOLS), ("posestore ingest", POSESTORE)):
        walls, peaks = [], []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                extra = [str(Path(tmp) / "store")] if code is POSESTORE else []
                wall, peak = run(code, extra + [str(f) for f in files])
            walls.append(wall)
            peaks.append(peak)
        rows.append((name, statistics.median(walls), max(peaks)))
    print(f"{len(files)} files, {size / 1e6:.1f} MB, median of {args.repeat} fresh processes")
    print(f"{'':28} {'wall s':>8} {'peak MiB':>9}")
    for name, wall, peak in rows:
        print(f"{name:28} {wall:8.2f} {peak / 2**20:9.0f}")
    (_, w0, p0), (_, w1, p1) = rows
    print(f"{'posestore / pycocotools':28} {w1 / w0:8.2f} {p1 / p0:9.2f}")


if __name__ == "__main__":
    main()
