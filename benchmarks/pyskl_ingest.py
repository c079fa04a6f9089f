"""posestore ingest of a PYSKL 2D pickle next to plain ``pickle.load`` of it, each in a fresh process.

    python benchmarks/pyskl_ingest.py [--clips 56578] [--frames 70] [--repeat 3] [--data DIR]

Generates (once, seeded) an NTU-60-sized 2D pickle — float16 ``keypoint`` [M, T, 17, 2] and
``keypoint_score`` [M, T, 17], one or two persons moving smoothly as tracked poses do, T around
``--frames`` — then prints median
wall time and peak RSS of both, their ratio, and the store's size on disk next to the pickle's.
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

LOAD = "import pickle, sys; pickle.load(open(sys.argv[1], 'rb'))"
INGEST = "import sys, posestore; posestore.open(sys.argv[2]).ingest(sys.argv[1], dataset='ntu')"


def make(path: Path, clips: int, frames: int, seed: int = 0) -> Path:
    """An NTU-60-like 2D pickle (xsub split), written in one go."""
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    anns = []
    for i in range(clips):
        m = 2 if rng.random() < 0.25 else 1
        t = int(np.clip(rng.normal(frames, frames / 3), 20, 300))
        kp, score = _tracks(rng, m, t)
        anns.append(
            {
                "frame_dir": f"S{i % 17 + 1:03d}C{i % 3 + 1:03d}P{i % 40 + 1:03d}R{i % 2 + 1:03d}A{i % 60 + 1:03d}_{i}",
                "label": i % 60,
                "img_shape": (1080, 1920),
                "original_shape": (1080, 1920),
                "total_frames": t,
                "keypoint": kp,
                "keypoint_score": score,
            }
        )
    names = [a["frame_dir"] for a in anns]
    split = {"xsub_train": names[: int(clips * 0.7)], "xsub_val": names[int(clips * 0.7) :]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps({"split": split, "annotations": anns}, protocol=4))
    return path


# a standing person's 17 COCO joints around the hip centre, in body heights
_BODY = np.array(
    [[0, -0.45], [-0.03, -0.47], [0.03, -0.47], [-0.06, -0.45], [0.06, -0.45],
     [-0.12, -0.3], [0.12, -0.3], [-0.16, -0.12], [0.16, -0.12], [-0.17, 0.04], [0.17, 0.04],
     [-0.08, 0.0], [0.08, 0.0], [-0.09, 0.25], [0.09, 0.25], [-0.09, 0.48], [0.09, 0.48]]
)  # fmt: skip


def _tracks(rng: np.random.Generator, m: int, t: int) -> tuple[np.ndarray, np.ndarray]:
    """``m`` persons over ``t`` frames as a pose estimator tracks them: a body that drifts,
    limbs that move a little each frame, detection jitter, scores that wander around a
    per-joint level. Float16, as PYSKL's own HRNet pickles store them."""
    height = rng.uniform(300, 900, (m, 1, 1, 1))
    centre = rng.uniform((300, 400), (1620, 700), (m, 1, 1, 2))
    drift = np.cumsum(rng.normal(0, 2.0, (m, t, 1, 2)), axis=1)
    limbs = np.cumsum(rng.normal(0, 0.004, (m, t, 17, 2)), axis=1)
    kp = centre + drift + (_BODY + limbs) * height + rng.normal(0, 1.5, (m, t, 17, 2))
    level = rng.uniform(0.4, 0.95, (m, 1, 17))
    score = np.clip(level + rng.normal(0, 0.05, (m, t, 17)), 0, 1)
    return kp.astype(np.float16), score.astype(np.float16)


def run(code: str, args: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of a fresh Python process."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code, *args])
    _, status, usage = os.wait4(proc.pid, 0)
    if status:
        raise RuntimeError(f"failed: {code}")
    return time.perf_counter() - start, usage.ru_maxrss * 1024


def size_of(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=56_578)
    ap.add_argument("--frames", type=int, default=70)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--data", type=Path, default=Path(__file__).parent / "data")
    ap.add_argument("--make-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    path = args.data / f"ntu_2d_{args.clips}x{args.frames}.pkl"
    if args.make_only:
        make(path, args.clips, args.frames)
        return
    if not path.exists():
        # generated in a child: a fork of a big parent would report the parent's peak as the child's
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--make-only",
                "--clips",
                str(args.clips),
                "--frames",
                str(args.frames),
                "--data",
                str(args.data),
            ],
            check=True,
        )
    rows = []
    store_size = 0
    for name, code in (("pickle.load", LOAD), ("posestore ingest", INGEST)):
        walls, peaks = [], []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                wall, peak = run(code, [str(path), str(Path(tmp) / "store")])
                if code is INGEST:
                    store_size = size_of(Path(tmp) / "store")
            walls.append(wall)
            peaks.append(peak)
        rows.append((name, statistics.median(walls), max(peaks)))
    print(
        f"{path.name}: {args.clips:,} clips, {path.stat().st_size / 1e6:,.0f} MB; median of {args.repeat} fresh processes"
    )
    print(f"{'':22} {'wall s':>8} {'peak MiB':>9}")
    for name, wall, peak in rows:
        print(f"{name:22} {wall:8.2f} {peak / 2**20:9.0f}")
    (_, w0, p0), (_, w1, p1) = rows
    print(f"{'posestore / pickle':22} {w1 / w0:8.2f} {p1 / p0:9.2f}")
    print(
        f"store on disk {store_size / 1e6:,.0f} MB = {store_size / path.stat().st_size:.2f} x the pickle"
    )


if __name__ == "__main__":
    main()
