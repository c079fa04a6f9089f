"""How long ``posestore view`` takes on a large selection, how big the page is, how fast it opens.

    python benchmarks/view.py [--images 10000] [--out DIR] [--no-pictures] [--no-browser]

Builds a synthetic COCO split of ``--images`` images, writes stand-in JPEGs (of each image's
size) for the images the page shows, then times, each in a fresh process, ``posestore view``
of the whole split with the default limit: without an image folder (blank canvases) and with
one (thumbnails). With chromium installed, also the time headless chromium takes to open and
draw each page (its start-up on an empty page subtracted).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from posestore.queries.view import DEFAULT_LIMITS

import posestore
from posestore import synthetic


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def chromium_seconds(page: Path, profile: Path) -> float:
    """Wall time of ``chromium --dump-dom`` on the page (scripts run, DOM built)."""
    return timed(
        [
            "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            f"--user-data-dir={profile}", "--dump-dom", page.resolve().as_uri(),
        ]
    )  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=10_000)
    ap.add_argument("--out", type=Path, default=None, help="keep the store and pages here")
    ap.add_argument("--no-pictures", action="store_true", help="skip the run with thumbnails")
    ap.add_argument("--no-browser", action="store_true", help="do not open the pages")
    args = ap.parse_args()
    work = args.out or Path(tempfile.mkdtemp(prefix="posestore-view-bench-"))
    work.mkdir(parents=True, exist_ok=True)

    doc = synthetic.coco_keypoints(args.images, seed=0, polygon_points=24)
    source = synthetic.write_json(doc, work / "person_keypoints_val2017.json")
    store_dir = work / "store"
    shutil.rmtree(store_dir, ignore_errors=True)
    store = posestore.open(store_dir)
    store.ingest(source, dataset="coco")
    limit = DEFAULT_LIMITS["images"]
    print(
        f"{args.images:,} images, {len(doc['annotations']):,} annotations in one split; "
        f"the page shows {limit} (the default limit)"
    )

    posestore_cli = [sys.executable, "-m", "posestore.cli", "--store", str(store_dir), "view"]
    runs = {"blank canvases": (work / "blank.html", [])}
    if not args.no_pictures:
        from PIL import Image

        shown = sorted(doc["images"], key=lambda im: im["id"])[:limit]
        folder = work / "images"
        for im in shown:
            target = folder / im["file_name"]
            target.parent.mkdir(parents=True, exist_ok=True)
            gradient = Image.linear_gradient("L").resize((im["width"], im["height"]))
            Image.merge("RGB", (gradient, gradient.transpose(Image.Transpose.ROTATE_90).resize(
                gradient.size), gradient)).save(target, quality=90)  # fmt: skip
        runs["thumbnails"] = (work / "thumbnails.html", ["--image-root", str(folder)])
    empty = work / "empty.html"
    empty.write_text("<!doctype html><title>empty</title>")
    profile = Path(tempfile.mkdtemp(prefix="posestore-view-chromium-"))
    browser = not args.no_browser and shutil.which("chromium") is not None
    baseline = chromium_seconds(empty, profile) if browser else 0.0
    for name, (page, extra) in runs.items():
        seconds = timed([*posestore_cli, "coco", str(page), *extra])
        size = page.stat().st_size
        line = f"{name:15} posestore view {seconds:5.2f} s (fresh process), page {size / 2**20:5.2f} MiB"
        if browser:
            opened = min(chromium_seconds(page, profile) for _ in range(2)) - baseline
            line += f", chromium opens and draws it in {opened:4.2f} s"
        print(line)
    if browser:
        print(f"(chromium's own start-up on an empty page, subtracted: {baseline:.2f} s)")
    shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
