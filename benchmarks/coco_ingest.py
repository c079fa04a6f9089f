"""posestore ingest next to pycocotools.coco.COCO on the same COCO files, each in a fresh process.

    python benchmarks/coco_ingest.py FILE_OR_FOLDER [...] [--repeat 3]
    python benchmarks/coco_ingest.py --make-mb 1000 [--data benchmarks/data]

Prints the median wall time and peak RSS of each side, and their ratio. A folder
means every ``*.json`` in it (files that fail to load are reported and skipped).
``--make-mb`` writes (once) a seeded COCO person-keypoints file of about that many MB,
generated and written a slice at a time, so making a 1 GB file needs little memory;
it prints the file's path.
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


BYTES_PER_IMAGE = 1880  # synthetic.coco_keypoints(polygon_points=34): 222 MB per 118,287 images
SLICE = 20_000  # images generated and written at a time


def make_large(data: Path, megabytes: int) -> Path:
    """A seeded COCO keypoints file of about ``megabytes`` MB under ``data`` (kept: made once).

    Slices of ``SLICE`` images (ids continuing from slice to slice) are generated one at
    a time; their images and annotations go to two files that are joined at the end.
    """
    import orjson

    from posestore import synthetic

    n_images = max(1, megabytes * 1_000_000 // BYTES_PER_IMAGE)
    path = data / f"person_keypoints_large_{n_images}.json"
    if path.exists():
        return path
    data.mkdir(parents=True, exist_ok=True)
    parts = {k: path.with_suffix(f".{k}.part") for k in ("images", "annotations")}
    top: dict = {}
    next_image = next_annotation = 1
    with parts["images"].open("wb") as images, parts["annotations"].open("wb") as anns:
        for k, first in enumerate(range(0, n_images, SLICE)):
            doc = synthetic.coco_keypoints(
                min(SLICE, n_images - first),
                seed=2017 + k,
                polygon_points=34,
                first_image_id=next_image,
                first_annotation_id=next_annotation,
            )
            top = top or {key: v for key, v in doc.items() if key not in parts}
            for key, out in (("images", images), ("annotations", anns)):
                if doc[key]:
                    out.write((b"," if first else b"") + orjson.dumps(doc[key])[1:-1])
            next_image += len(doc["images"])
            next_annotation += len(doc["annotations"])
    with path.with_suffix(".tmp").open("wb") as out:
        out.write(orjson.dumps(top)[:-1])
        for key, part in parts.items():
            out.write(f',"{key}":['.encode())
            with part.open("rb") as fh:
                while block := fh.read(64 << 20):
                    out.write(block)
            out.write(b"]")
            part.unlink()
        out.write(b"}")
    path.with_suffix(".tmp").rename(path)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sources", nargs="*", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--make-mb", type=int, help="write a generated file of about this many MB")
    ap.add_argument("--data", type=Path, default=Path(__file__).parent / "data")
    args = ap.parse_args()
    if args.make_mb:
        print(make_large(args.data, args.make_mb))
        return
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
