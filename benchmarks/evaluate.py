"""posestore's evaluate_keypoints next to pycocotools' COCOeval on train2017-scale data.

    python benchmarks/evaluate.py [--images 64115] [--persons 150000] [--predictions 250000]

Generates (seeded, NumPy) ground truth and predictions, then in two fresh processes times
``evaluate_keypoints`` (from Arrow tables to stats and tables) and pycocotools'
``evaluate() + accumulate()`` (loading and ``loadRes`` not timed). Prints both times, their
ratio, each side's peak RSS during the timed call, and the largest difference of the ten stats.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

COCO_SIGMAS = np.array([0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62])
COCO_SIGMAS = np.concatenate([COCO_SIGMAS, [1.07, 1.07, 0.87, 0.87, 0.89, 0.89]]) / 10.0
V = 17
WIDTH, HEIGHT = 640.0, 480.0


def generate(n_images: int, n_persons: int, n_predictions: int, seed: int) -> dict[str, np.ndarray]:
    """Ground truth and predictions as flat arrays (joints float32, as the store keeps them)."""
    rng = np.random.default_rng(seed)
    # persons per image: mostly one to three, a long tail of crowded images, as in COCO
    per_image = np.minimum(rng.geometric(n_images / n_persons, n_images), 30)
    image_ids = np.sort(rng.choice(600_000, n_images, replace=False)).astype(np.int64)
    g_image = np.repeat(image_ids, per_image)
    G = len(g_image)
    w = rng.uniform(8, 300, G)
    h = np.minimum(w * rng.uniform(1.2, 2.5, G), HEIGHT - 1)
    bx, by = rng.uniform(0, WIDTH - w), rng.uniform(0, HEIGHT - h)
    crowd = rng.random(G) < 0.01
    v = rng.choice(np.array([0, 1, 2], np.int8), (G, V), p=[0.3, 0.2, 0.5])
    v[crowd | (rng.random(G) < 0.08)] = 0
    gx = (
        np.where(v > 0, bx[:, None] + rng.random((G, V)) * w[:, None], 0).round().astype(np.float32)
    )
    gy = (
        np.where(v > 0, by[:, None] + rng.random((G, V)) * h[:, None], 0).round().astype(np.float32)
    )
    area = (w * h * rng.uniform(0.4, 0.8, G)).round(2)

    # predictions: jittered persons (noise scaled by sqrt(area)), then invented ones
    found = np.flatnonzero(~crowd & (rng.random(G) < 0.85))[:n_predictions]
    scale = np.sqrt(area[found]) * rng.choice([0.01, 0.03, 0.08, 0.2], len(found))
    guess_x = bx[found, None] + rng.random((len(found), V)) * w[found, None]
    guess_y = by[found, None] + rng.random((len(found), V)) * h[found, None]
    jx = (
        np.where(v[found] > 0, gx[found], guess_x)
        + rng.normal(0, 1, (len(found), V)) * scale[:, None]
    )
    jy = (
        np.where(v[found] > 0, gy[found], guess_y)
        + rng.normal(0, 1, (len(found), V)) * scale[:, None]
    )
    n_false = n_predictions - len(found)
    centre = rng.uniform([0, 0], [WIDTH, HEIGHT], (n_false, 2))
    spread = rng.uniform(10, 150, n_false)[:, None]
    fx = centre[:, :1] + rng.normal(0, 1, (n_false, V)) * spread
    fy = centre[:, 1:] + rng.normal(0, 1, (n_false, V)) * spread
    return {
        "image_ids": image_ids,
        "g_image": g_image,
        "g_crowd": crowd.astype(np.int8),
        "g_area": area,
        "g_bbox": np.stack([bx, by, w, h], axis=1).round(2),
        "g_x": gx,
        "g_y": gy,
        "g_v": v,
        "d_image": np.concatenate([g_image[found], rng.choice(image_ids, n_false)]),
        "d_x": np.concatenate([jx, fx]).astype(np.float32),
        "d_y": np.concatenate([jy, fy]).astype(np.float32),
        "d_score": rng.uniform(0, 1, n_predictions).round(3),
    }


def _list_column(block: np.ndarray):
    import pyarrow as pa

    n, v = block.shape
    return pa.ListArray.from_arrays(
        np.arange(0, n * v + 1, v, dtype=np.int32), pa.array(block.ravel())
    )


def run_posestore(data: dict) -> tuple[float, np.ndarray]:
    import pyarrow as pa
    from posestore.queries.evaluate import evaluate_keypoints

    G, D = len(data["g_image"]), len(data["d_image"])
    gt_ids = np.arange(1, G + 1, dtype=np.int64)
    dt_ids = np.arange(1, D + 1, dtype=np.int64)
    b = data["g_bbox"]
    gt_instances = pa.table(
        {
            "image_id": data["g_image"],
            "instance_id": gt_ids,
            "category_id": np.ones(G, np.int64),
            "iscrowd": data["g_crowd"],
            "area": data["g_area"],
            "bbox_x": b[:, 0],
            "bbox_y": b[:, 1],
            "bbox_w": b[:, 2],
            "bbox_h": b[:, 3],
            "num_keypoints": (data["g_v"] > 0).sum(axis=1).astype(np.int32),
            "score": pa.nulls(G, pa.float64()),
        }
    )
    has_joints = data["g_crowd"] == 0  # crowd regions get no keypoints row
    gt_keypoints = pa.table(
        {
            "image_id": data["g_image"][has_joints],
            "instance_id": gt_ids[has_joints],
            "frame": np.zeros(int(has_joints.sum()), np.int32),
            "x": _list_column(data["g_x"][has_joints]),
            "y": _list_column(data["g_y"][has_joints]),
            "visibility": _list_column(data["g_v"][has_joints]),
        }
    )
    dt_instances = pa.table(
        {
            "image_id": data["d_image"],
            "instance_id": dt_ids,
            "category_id": np.ones(D, np.int64),
            "score": data["d_score"],
        }
    )
    dt_keypoints = pa.table(
        {
            "image_id": data["d_image"],
            "instance_id": dt_ids,
            "frame": np.zeros(D, np.int32),
            "x": _list_column(data["d_x"]),
            "y": _list_column(data["d_y"]),
            "visibility": _list_column(np.full((D, V), 2, np.int8)),
        }
    )
    images = pa.table({"image_id": data["image_ids"]})
    _reset_peak()
    start = time.perf_counter()
    result = evaluate_keypoints(
        images, gt_instances, gt_keypoints, dt_instances, dt_keypoints, {1: COCO_SIGMAS}
    )
    return time.perf_counter() - start, result.stats


def run_pycocotools(data: dict) -> tuple[float, np.ndarray]:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    def triplets(x, y, v):
        return np.stack([x, y, v], axis=2).reshape(len(x), -1).tolist()

    gkp = triplets(data["g_x"].astype(np.float64), data["g_y"].astype(np.float64), data["g_v"])
    anns = [
        {
            "id": i + 1,
            "image_id": int(img),
            "category_id": 1,
            "iscrowd": int(c),
            "area": float(a),
            "bbox": bb,
            "num_keypoints": sum(1 for s in kp[2::3] if s > 0),
            "keypoints": kp,
        }
        for i, (img, c, a, bb, kp) in enumerate(
            zip(data["g_image"], data["g_crowd"], data["g_area"], data["g_bbox"].tolist(), gkp)
        )
    ]
    dkp = triplets(
        data["d_x"].astype(np.float64), data["d_y"].astype(np.float64), np.ones(data["d_x"].shape)
    )
    results = [
        {"image_id": int(img), "category_id": 1, "keypoints": kp, "score": float(s)}
        for img, kp, s in zip(data["d_image"], dkp, data["d_score"])
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {
            "images": [{"id": int(i)} for i in data["image_ids"]],
            "annotations": anns,
            "categories": [{"id": 1, "name": "person"}],
        }
        gt.createIndex()
        dt = gt.loadRes(results)
        E = COCOeval(gt, dt, "keypoints")
        E.params.kpt_oks_sigmas = COCO_SIGMAS
        _reset_peak()
        start = time.perf_counter()
        E.evaluate()
        E.accumulate()
        elapsed = time.perf_counter() - start
        E.summarize()
    return elapsed, np.asarray(E.stats)


def _reset_peak() -> None:
    """Restart the kernel's peak-RSS counter, so VmHWM covers the timed call only."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def child(side: str, args: argparse.Namespace) -> None:
    data = generate(args.images, args.persons, args.predictions, args.seed)
    elapsed, stats = (run_posestore if side == "posestore" else run_pycocotools)(data)
    print(json.dumps({"seconds": elapsed, "peak": _peak_rss(), "stats": stats.tolist()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64_115)
    parser.add_argument("--persons", type=int, default=150_000)
    parser.add_argument("--predictions", type=int, default=250_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="end with one JSON line of results")
    parser.add_argument("--side", choices=["posestore", "pycocotools"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        child(args.side, args)
        return

    data = generate(args.images, args.persons, args.predictions, args.seed)
    print(
        f"ground truth: {len(data['image_ids']):,} images, {len(data['g_image']):,} persons; "
        f"predictions: {len(data['d_image']):,}"
    )
    del data
    out = {}
    for side in ("posestore", "pycocotools"):
        # each side in a fresh process, so neither inherits the other's heap
        proc = subprocess.run(
            [sys.executable, __file__, *sys.argv[1:], "--side", side],
            capture_output=True,
            text=True,
            check=True,
        )
        out[side] = json.loads(proc.stdout.strip().splitlines()[-1])
        print(
            f"{side:>12}: {out[side]['seconds']:8.2f} s   peak RSS {out[side]['peak'] / 2**20:8.0f} MiB"
        )
    ratio = out["posestore"]["seconds"] / out["pycocotools"]["seconds"]
    diff = np.abs(np.subtract(out["posestore"]["stats"], out["pycocotools"]["stats"])).max()
    print(f"posestore / pycocotools: {ratio:.3f}x time (target <= 0.25x)")
    print(f"largest |stats difference|: {diff:.3g}; AP = {out['posestore']['stats'][0]:.4f}")
    if args.json:
        print(json.dumps({"sides": out, "ratio": ratio, "stats_difference": float(diff)}))


if __name__ == "__main__":
    main()
