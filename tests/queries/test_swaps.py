"""Suspected left/right swaps: synthetic stick figures, and swaps injected into the real files."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import real_dir
from posestore.queries.swaps import suspected_swaps

from posestore.skeleton import skeleton

COCO = skeleton("coco17")
CANON, FLIP = COCO.canonicals, COCO.flip_index
J = {c: i for i, c in enumerate(CANON)}
# a person facing the camera, upright, in its own frame (x right in the image, y down):
# its left side is on the image's right
FRONT = {
    "nose": (0, -62),
    "left_eye": (5, -66),
    "right_eye": (-5, -66),
    "left_ear": (10, -63),
    "right_ear": (-10, -63),
    "left_shoulder": (20, -40),
    "right_shoulder": (-20, -40),
    "left_elbow": (26, -15),
    "right_elbow": (-26, -15),
    "left_wrist": (28, 10),
    "right_wrist": (-28, 10),
    "left_hip": (12, 10),
    "right_hip": (-12, 10),
    "left_knee": (15, 45),
    "right_knee": (-15, 45),
    "left_ankle": (25, 80),
    "right_ankle": (-25, 80),
}
SWAPS = {
    "wrists": ("wrist",),
    "ankles": ("ankle",),
    "arm": ("shoulder", "elbow", "wrist"),
    "all": ("eye", "ear", "shoulder", "elbow", "wrist", "hip", "knee", "ankle"),
}


def figures(n: int, facing: str, angle_deg: float, seed: int = 0):
    """n noisy stick figures, rotated by ``angle_deg``; ``back`` mirrors them and hides the face."""
    rng = np.random.default_rng(seed)
    base = np.array([FRONT[c] for c in CANON], dtype=np.float64)
    if facing == "back":
        base[:, 0] *= -1
    size = rng.uniform(0.5, 3.0, n)
    pts = base[None] * size[:, None, None] + rng.normal(0, 1.5, (n, len(CANON), 2))
    a = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    pts = pts @ rot.T + rng.uniform(100, 500, (n, 1, 2))
    v = np.full((n, len(CANON)), 2, dtype=np.int8)
    if facing == "back":
        v[:, [J["nose"], J["left_eye"], J["right_eye"]]] = 0
    return pts[..., 0], pts[..., 1], v


def swap(x, y, v, stems):
    x, y, v = x.copy(), y.copy(), v.copy()
    li = [J[f"left_{s}"] for s in stems]
    ri = [J[f"right_{s}"] for s in stems]
    for a in (x, y, v):
        a[:, li], a[:, ri] = a[:, ri].copy(), a[:, li].copy()
    return x, y, v


POSES = [
    ("front", 0),
    ("back", 0),
    ("front", 30),
    ("back", -35),
    ("front", 90),  # lying
    ("back", -90),
    ("front", 180),  # upside down
]


@pytest.mark.parametrize(("facing", "angle"), POSES)
def test_untouched_figures_are_not_flagged(facing, angle):
    x, y, v = figures(50, facing, angle)
    found = suspected_swaps(x, y, v, CANON, FLIP)
    assert not found.suspected.any(), found.reason[found.suspected]
    assert (found.facing == (1 if facing == "front" else -1)).all()
    assert (found.reason == "").all() and (found.score == 0).all()


@pytest.mark.parametrize(("facing", "angle"), POSES)
@pytest.mark.parametrize("kind", list(SWAPS))
def test_injected_swaps_are_found(facing, angle, kind):
    x, y, v = swap(*figures(50, facing, angle, seed=1), SWAPS[kind])
    found = suspected_swaps(x, y, v, CANON, FLIP)
    if kind == "all" and facing == "back":
        # a whole back-facing person mirrored is a frontal person with a hidden face: no cue
        assert not found.suspected.any()
        return
    assert found.suspected.all(), (kind, found.reason[~found.suspected])
    assert (found.score[found.suspected] >= 1).all()
    if kind == "all":
        assert (found.reason == "whole body: frontal face, body faces away").all()
    else:
        pairs = [found.pairs.index(s) for s in SWAPS[kind]]
        hits = found.swapped[:, pairs].any(1)
        assert hits.all() or (kind == "arm"), found.reason
        assert all(r.split(":")[0] in found.pairs for r in found.reason)


def test_few_labelled_pairs_are_not_judged_and_no_pairs_is_harmless():
    x, y, v = swap(*figures(5, "front", 0), ("wrist",))
    keep = [J["left_wrist"], J["right_wrist"], J["left_elbow"], J["right_elbow"]]
    v2 = np.zeros_like(v)
    v2[:, keep] = 2
    found = suspected_swaps(x, y, v2, CANON, FLIP, min_pairs=3)
    assert not found.suspected.any() and not found.judged.any()
    none = suspected_swaps(x[:, :1], y[:, :1], v[:, :1], ["nose"], [0])
    assert none.pairs == () and not none.suspected.any()
    with pytest.raises(ValueError, match="method"):
        suspected_swaps(x, y, v, CANON, FLIP, method="nope")  # type: ignore[arg-type]


def test_alternative_methods_see_what_their_cue_sees():
    x, y, v = swap(*figures(20, "front", 0), ("wrist",))
    assert suspected_swaps(x, y, v, CANON, FLIP, method="chain").suspected.all()
    x, y, v = swap(*figures(20, "front", 0), ("shoulder", "elbow", "wrist"))
    assert suspected_swaps(x, y, v, CANON, FLIP, method="chirality").suspected.all()


def _bench():
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "swaps.py"
    spec = importlib.util.spec_from_file_location("bench_swaps", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


# measured by benchmarks/swaps.py (seed 0, 20% injected): recall 56.2%, false alarms 2.8%
RECALL_FLOOR = 0.46
FALSE_ALARM_CEILING = 0.05


@pytest.mark.real
def test_injected_swaps_in_real_files_recall_and_false_alarms():
    root = real_dir("coco_keypoints").parent
    bench = _bench()
    result = bench.measure(0.2, 0, root)
    total = bench.overall(result, "combined")
    assert total.injected > 500 and total.untouched > 2000
    recall = total.found / total.injected
    alarms = total.alarms / total.untouched
    assert recall >= RECALL_FLOOR, bench.table(result)
    assert alarms <= FALSE_ALARM_CEILING, bench.table(result)
    # the combined rule beats each cue alone on recall without more false alarms than either
    for single in ("chirality", "chain"):
        other = bench.overall(result, single)
        assert total.found >= other.found or total.alarms < other.alarms
