"""Suspected left/right swaps: persons whose left and right joints look mirrored.

A swap (an annotator's left wrist that is the person's right wrist) leaves every joint where a
joint is, so no single joint looks wrong; what breaks is the pose's own geometry. Two cues are
measured per left/right pair, both antisymmetric (a swap flips their sign):

- **chirality**: the pair's offset left − right along the body's lateral axis, the normal of the
  torso axis (shoulder midpoint → hip midpoint, so tilted and lying persons work; image
  vertical where the torso is missing), in torso lengths. The person's facing is the weighted
  vote of every pair (shoulders and hips count most); a pair pointing the other way is
  suspect. Legs are left out (walking and crossed legs point either way in real files).
- **chain**: ``log(crossed / straight)`` for a pair and the pair it hangs on (wrist → elbow,
  elbow → shoulder, shoulder → hip, ankle → knee, knee → hip, ear → eye): the summed
  distances left→left + right→right against left→right + right→left. A wrist nearer the other
  elbow than its own makes it negative.

The final rule (``method="combined"``, measured by ``benchmarks/swaps.py`` on real COCO-family
files with injected swaps; the numbers are in the report of that script): a limb pair (elbows,
wrists, knees, ankles) is suspect where its chain says swapped by more than ``margin`` and its
chirality does not disagree; a torso or face pair (shoulders, hips, eyes, ears) where its
chirality disagrees by more than ``tau`` torso lengths and its chain does not disagree. A
person whose pairs all agree but whose body faces away while its nose and both eyes are
labelled (a frontal face) is suspect of a whole-body swap. Only persons with at least
``min_pairs`` pairs labelled on both sides are judged.

Everything is NumPy over the whole ``[N, V]`` block: no Python loop per person or joint.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from posestore.errors import StoreError

BODY_PAIRS: dict[str, tuple[str, str | None]] = {
    "eye": ("face", None),
    "ear": ("face", "eye"),
    "shoulder": ("torso", "hip"),
    "hip": ("torso", None),
    "elbow": ("arm", "shoulder"),
    "wrist": ("arm", "elbow"),
    "knee": ("leg", "hip"),
    "ankle": ("leg", "knee"),
}
"""The left/right pairs judged, by canonical stem: (group, parent stem on the same side)."""

GROUP_WEIGHT = {"torso": 2.0, "face": 1.0, "arm": 0.5, "leg": 0.5}
"""Weight of a pair's vote for the person's facing."""

METHODS = ("combined", "chirality", "chain")
"""``combined`` is the final heuristic; the other two are the single cues, kept for measuring."""

Method = Literal["combined", "chirality", "chain"]


@dataclass(frozen=True)
class PairLayout:
    """The left/right pairs a joint layout has: per pair its stem, joints, group and parent."""

    stems: tuple[str, ...]
    left: np.ndarray
    right: np.ndarray
    group: tuple[str, ...]
    parent: np.ndarray
    """Index (in this layout) of the pair each pair hangs on; -1 where none or absent."""
    top: int
    """A midline joint standing in for the shoulder midpoint (neck, thorax…), or -1."""
    bottom: int
    """A midline joint standing in for the hip midpoint (pelvis), or -1."""
    face: tuple[int, ...]
    """Nose, left eye, right eye: all labelled means a frontal face; empty when absent."""


def pair_layout(canonical: Sequence[str | None], flip: Sequence[int | None]) -> PairLayout:
    """The pairs of ``BODY_PAIRS`` a layout has, from its canonical names and mirror indices.

    A pair counts where both ``left_<stem>`` and ``right_<stem>`` are named and ``flip`` (where
    given) maps one onto the other.
    """
    index = {c: i for i, c in enumerate(canonical) if c is not None}
    stems: list[str] = []
    left: list[int] = []
    right: list[int] = []
    for stem in BODY_PAIRS:
        li, ri = index.get(f"left_{stem}"), index.get(f"right_{stem}")
        if li is None or ri is None:
            continue
        if (flip[li] is not None and flip[li] != ri) or (flip[ri] is not None and flip[ri] != li):
            continue
        stems.append(stem)
        left.append(li)
        right.append(ri)
    parent = [stems.index(p) if (p := BODY_PAIRS[s][1]) in stems else -1 for s in stems]
    top = next(
        (index[c] for c in ("neck", "thorax", "upper_neck", "head_bottom") if c in index), -1
    )
    face = ("nose", "left_eye", "right_eye")
    return PairLayout(
        tuple(stems),
        np.asarray(left, dtype=np.int64),
        np.asarray(right, dtype=np.int64),
        tuple(BODY_PAIRS[s][0] for s in stems),
        np.asarray(parent, dtype=np.int64),
        top,
        index.get("pelvis", -1),
        tuple(index[c] for c in face) if all(c in index for c in face) else (),
    )


@dataclass(frozen=True, eq=False)  # holds arrays
class SwapFindings:
    """Per person (N rows): whether a left/right swap is suspected, why, and which pairs.

    ``score`` is the strongest evidence in units of its threshold (≥ 1 where suspected, 0 where
    nothing was judged or nothing points to a swap); ``reason`` a short text (``""`` where not
    suspected), e.g. ``"wrist: chain"`` or ``"whole body: frontal face, body faces away"``;
    ``pairs`` the pair stems, ``swapped[n, p]`` True where pair ``p`` looks swapped;
    ``facing`` +1 where the body faces the camera, -1 away, 0 unknown; ``judged`` False where
    too few pairs are labelled to say anything.
    """

    suspected: np.ndarray
    score: np.ndarray
    reason: np.ndarray
    pairs: tuple[str, ...]
    swapped: np.ndarray
    facing: np.ndarray
    judged: np.ndarray


def _midpoint(x, y, lab, i: int, j: int, fallback: int) -> tuple[np.ndarray, np.ndarray]:
    """Midpoint of joints i and j where both are labelled, else joint ``fallback``, else NaN."""
    mx = np.full(x.shape[0], np.nan)
    my = np.full(x.shape[0], np.nan)
    if fallback >= 0:
        ok = lab[:, fallback]
        mx[ok], my[ok] = x[ok, fallback], y[ok, fallback]
    if i >= 0 and j >= 0:
        ok = lab[:, i] & lab[:, j]
        mx[ok] = (x[ok, i] + x[ok, j]) / 2
        my[ok] = (y[ok, i] + y[ok, j]) / 2
    return mx, my


def pair_cues(x, y, v, layout: PairLayout) -> dict[str, np.ndarray]:
    """The raw cues per person and pair: ``lateral`` (left − right along the lateral axis, in
    torso lengths; NaN unless both are labelled), ``chain`` (log crossed/straight distances to
    the parent pair; NaN where not measurable), ``both`` (pair labelled on both sides) and
    ``labelled`` ([N, V])."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    lab = (np.asarray(v) > 0) & np.isfinite(x) & np.isfinite(y)
    L, R = layout.left, layout.right
    where = dict(zip(layout.stems, range(len(layout.stems))))
    s, h = where.get("shoulder", -1), where.get("hip", -1)
    tx, ty = _midpoint(x, y, lab, L[s] if s >= 0 else -1, R[s] if s >= 0 else -1, layout.top)
    bx, by = _midpoint(x, y, lab, L[h] if h >= 0 else -1, R[h] if h >= 0 else -1, layout.bottom)
    ux, uy = bx - tx, by - ty
    torso = np.hypot(ux, uy)
    axis = np.isfinite(torso) & (torso > 0)
    xm, ym = np.where(lab, x, np.nan), np.where(lab, y, np.nan)
    with np.errstate(all="ignore"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            extent = np.fmax(
                np.nanmax(xm, 1) - np.nanmin(xm, 1), np.nanmax(ym, 1) - np.nanmin(ym, 1)
            )
        ux = np.where(axis, ux / torso, 0.0)
        uy = np.where(axis, uy / torso, 1.0)  # no torso: image down
    extent = np.nan_to_num(extent)
    scale = np.where(axis, np.fmax(torso, 0.1 * extent), 0.35 * extent)
    scale = np.where(scale > 0, scale, 1.0)
    # lateral axis: the torso axis turned so that a frontal upright person's left is +x
    nx, ny = uy, -ux
    both = lab[:, L] & lab[:, R]
    lateral = ((x[:, L] - x[:, R]) * nx[:, None] + (y[:, L] - y[:, R]) * ny[:, None]) / scale[
        :, None
    ]
    lateral = np.where(both, lateral, np.nan)
    has_parent = layout.parent >= 0
    q = np.where(has_parent, layout.parent, 0)
    lp, rp = L, R
    lq, rq = L[q] if len(q) else L, R[q] if len(q) else R
    straight = np.hypot(x[:, lp] - x[:, lq], y[:, lp] - y[:, lq]) + np.hypot(
        x[:, rp] - x[:, rq], y[:, rp] - y[:, rq]
    )
    crossed = np.hypot(x[:, lp] - x[:, rq], y[:, lp] - y[:, rq]) + np.hypot(
        x[:, rp] - x[:, lq], y[:, rp] - y[:, lq]
    )
    measurable = both & both[:, q] & has_parent[None, :] & (straight + crossed > 0)
    with np.errstate(all="ignore"):
        chain = np.log(np.fmax(crossed, 1e-9) / np.fmax(straight, 1e-9))
    chain = np.where(measurable, chain, np.nan)
    return {"lateral": lateral, "chain": chain, "both": both, "labelled": lab}


def suspected_swaps(
    x: np.ndarray,
    y: np.ndarray,
    v: np.ndarray,
    canonical: Sequence[str | None],
    flip: Sequence[int | None],
    *,
    method: Method = "combined",
    tau: float = 0.25,
    margin: float = 0.3,
    face_tau: float = 0.4,
    min_pairs: int = 2,
) -> SwapFindings:
    """Flag persons whose left and right joints look mirrored against the pose's own geometry.

    ``x``, ``y``, ``v`` are ``[N, V]`` (N persons of one category; ``v`` 0 unlabelled, 1
    occluded, 2 visible); ``canonical`` and ``flip`` per joint as
    :func:`posestore.skeleton.match_category` gives them. ``tau`` is the chirality threshold in
    torso lengths, ``margin`` the chain threshold (log ratio), ``face_tau`` the torso width
    (torso lengths) from which a back-facing body with a labelled frontal face is flagged;
    ``method`` picks the final rule or one cue alone (see the module docstring).

    >>> x = [[55, 45, 70, 30, 60, 40]]; y = [[0, 0, 100, 100, 20, 20]]; v = [[2] * 6]
    >>> names = ["left_shoulder", "right_shoulder", "left_wrist", "right_wrist",
    ...          "left_elbow", "right_elbow"]
    >>> flip = [1, 0, 3, 2, 5, 4]
    >>> bool(suspected_swaps(x, y, v, names, flip, min_pairs=2).suspected[0])
    False
    """
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    v = np.atleast_2d(np.asarray(v))
    if method not in METHODS:
        raise StoreError(f"method {method!r}: one of {', '.join(METHODS)}")
    layout = pair_layout(canonical, flip)
    n, P = x.shape[0], len(layout.stems)
    if P == 0:
        empty = np.zeros(n, dtype=bool)
        return SwapFindings(
            empty,
            np.zeros(n),
            np.full(n, "", dtype=object),
            (),
            np.zeros((n, 0), dtype=bool),
            np.zeros(n, dtype=np.int8),
            empty,
        )
    cues = pair_cues(x, y, v, layout)
    lateral, chain, both = cues["lateral"], cues["chain"], cues["both"]
    group = np.asarray(layout.group)
    weight = np.asarray([GROUP_WEIGHT[g] for g in layout.group])
    facing = np.sign(np.nansum(np.tanh(np.nan_to_num(lateral) / 0.1) * weight, axis=1))
    agree = lateral * facing[:, None]  # > 0: the pair points the way the body faces
    has_c = np.isfinite(agree) & (facing[:, None] != 0)
    has_r = np.isfinite(chain)
    c = np.nan_to_num(agree)
    r = np.nan_to_num(chain)
    limb = np.isin(group, ["arm", "leg"])[None, :]
    legs = (group == "leg")[None, :]
    by_chirality = has_c & (c < -tau) & ~legs
    by_chain = has_r & (r < -margin)
    if method == "chirality":
        swapped = by_chirality
    elif method == "chain":
        swapped = by_chain
    else:
        swapped = np.where(limb, by_chain & (~has_c | (c < 0)), by_chirality & (~has_r | (r < 0)))
    judged = both.sum(1) >= min_pairs
    swapped &= judged[:, None]
    # whole body: every pair agrees, the body faces away, but the face is frontal and labelled
    whole = np.zeros(n, dtype=bool)
    width = np.zeros(n)
    torso = np.isin(group, ["torso"])
    if method != "chain" and layout.face and torso.any():
        frontal_face = cues["labelled"][:, list(layout.face)].all(1)
        with np.errstate(all="ignore"):
            t = lateral[:, torso]
            width = np.where(
                np.isfinite(t).any(1), np.nansum(t, 1) / np.fmax(np.isfinite(t).sum(1), 1), 0.0
            )
        whole = judged & frontal_face & (width < -face_tau) & ~swapped.any(1)
    suspected = swapped.any(1) | whole
    # score: the strongest evidence, in units of its threshold
    evidence = np.fmax(np.where(has_c & ~legs, -c / tau, 0.0), np.where(has_r, -r / margin, 0.0))
    evidence = np.where(swapped, evidence, 0.0)
    score = np.where(whole, -width / face_tau, evidence.max(1))
    strongest = evidence.argmax(1)
    cue = (
        np.where(limb[0][strongest], "chain", "chirality")
        if method == "combined"
        else np.full(n, method)
    )
    stems = np.asarray(layout.stems, dtype=object)
    reason = np.where(
        swapped.any(1),
        stems[strongest] + ": " + cue.astype(object),
        np.where(whole, "whole body: frontal face, body faces away", ""),
    ).astype(object)
    more = swapped.sum(1) - 1
    reason = np.where(
        more > 0, reason + " (+" + more.astype(str).astype(object) + " pairs)", reason
    )
    return SwapFindings(
        suspected, score, reason, layout.stems, swapped, facing.astype(np.int8), judged
    )
