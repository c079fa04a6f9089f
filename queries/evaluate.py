"""COCO keypoint evaluation in bulk: pycocotools' numbers, per-match rows and per-joint errors.

``evaluate_keypoints`` takes the store's v2 tables of a ground truth and of a predictions
set as Arrow tables and returns an ``Evaluation``:

- ``stats``: the ten numbers of ``COCOeval(gt, dt, "keypoints")`` after
  ``evaluate(); accumulate(); summarize()`` (AP, AP50, AP75, AP medium, AP large, AR, AR50,
  AR75, AR medium, AR large), computed by the same rules;
- ``matches``: one row per prediction and OKS threshold (the ``eval_matches`` table);
- ``joints``: one row per matched pair at OKS 0.5 and joint, with the error class of
  Ronchi & Perona, ICCV 2017 (the ``eval_joints`` table).

pycocotools' rules, as this module applies them
------------------------------------------------
- Matching is per (image, category). Images are the ground truth's images; a prediction on
  another image is an error (pycocotools' ``loadRes`` refuses it).
- A ground truth is ignored if it is crowd or has ``num_keypoints == 0``, and, per area
  range, if its ``area`` is outside the range. ``num_keypoints`` that is null is the count
  of joints with visibility > 0.
- A prediction's area is the area of its joints' extent, ``(max x - min x)·(max y - min y)``
  over all its joints, as ``loadRes`` sets it for keypoint results.
- Per image and category the predictions are ranked by score (stable: ties keep the input
  row order, as pycocotools keeps the results list's order) and only the first 20 take part.
- OKS: ``e = d² / (2σ)² / (area + eps) / 2`` per joint, the mean of ``exp(-e)`` over the
  ground truth's joints with visibility > 0; for a ground truth with none, the distance to
  the box grown by its size on every side, averaged over all joints. The sums are done in
  the order and grouping NumPy uses for pycocotools' per-pair arrays, so OKS values are
  bit-identical to ``COCOeval.ious``.
- Greedy matching per OKS threshold and area range: each prediction in rank order takes the
  free ground truth with the highest OKS ≥ threshold (a crowd one is never used up), taking
  a non-ignored one if any qualifies; ties go to the later ground truth in input order.
  Instead of pycocotools' loop per image, the loop runs over the 20 ranks and every image,
  threshold and area range is handled at once per rank.
- A matched ground truth whose id is 0 counts as unmatched in the precision/recall
  accumulation, as it does in pycocotools (its match array uses 0 for "none").

Row order matters only for ties (equal scores, equal OKS), exactly as the order of the JSON
lists does for pycocotools: pass the tables in the source's order.

Ground truth without ``area`` (CrowdPose, AI Challenger) is given its box area
``bbox_w · bbox_h``, as xtcocotools does with ``use_area=False``; ``Evaluation.notes`` says
how many.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from posestore import schema
from posestore.errors import PoseStoreError

OKS_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
"""The ten OKS thresholds 0.50:0.05:0.95, built as pycocotools builds them (linspace, so that
0.5 and 0.75 compare equal to the literals)."""
RECALL_THRESHOLDS = np.linspace(0.0, 1.0, int(np.round((1.0 - 0.0) / 0.01)) + 1, endpoint=True)
"""The 101 recall points at which precision is sampled."""
AREA_RANGES: dict[str, tuple[float, float]] = {
    "all": (0.0**2, 1e5**2),
    "medium": (32.0**2, 96.0**2),
    "large": (96.0**2, 1e5**2),
}
"""COCO keypoint area ranges (pixels², inclusive at both ends)."""
MAX_DETS = 20
"""Predictions per image and category that take part (COCO keypoints' maxDets)."""
STAT_NAMES = (
    "AP",
    "AP50",
    "AP75",
    "AP_medium",
    "AP_large",
    "AR",
    "AR50",
    "AR75",
    "AR_medium",
    "AR_large",
)
"""Names of ``Evaluation.stats``, in pycocotools' order."""
GOOD_KS = 0.85
"""A joint with keypoint similarity at least this is ``good`` (Ronchi & Perona)."""
NEAR_KS = 0.5
"""Keypoint similarity from which a joint counts as near a location (jitter, inversion, swap)."""
ERROR_CLASSES = ("good", "jitter", "inversion", "swap", "miss")
"""The values of ``joints.error``."""

_EPS = np.spacing(1)
_PAIR_CHUNK = 1 << 18  # (dt, gt) pairs per OKS block: bounds memory at a few hundred MB for V=17


class EvaluationError(PoseStoreError):
    """The tables cannot be evaluated (missing columns, joint counts, sigmas, areas, images)."""


@dataclass
class Evaluation:
    """What ``evaluate_keypoints`` returns.

    ``stats`` holds the ten numbers of pycocotools' ``COCOeval.stats`` for keypoints (names in
    ``STAT_NAMES``; -1 where pycocotools gives -1). ``precision`` is ``[T, R, K, A]`` and
    ``recall`` ``[T, K, A]`` as in ``COCOeval.eval`` (maxDets axis dropped), with ``K``
    following ``category_ids`` and ``A`` following ``AREA_RANGES``. ``matches`` and ``joints``
    are the ``eval_matches`` and ``eval_joints`` rows; ``notes`` says what was assumed.
    """

    stats: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    category_ids: np.ndarray
    matches: pa.Table
    joints: pa.Table
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        """The ten stats by name (``{"AP": 0.71, "AP50": ...}``)."""
        return {name: float(v) for name, v in zip(STAT_NAMES, self.stats)}


MATCHES_SCHEMA = pa.schema([f for f in schema.EVAL_MATCHES if f.name not in ("dataset", "split")])
"""``matches``: one row per prediction (within the top 20 of its image and category) and OKS
threshold, for area range "all". ``gt_instance_id`` is null when unmatched; ``oks`` is the
matched pair's OKS, else the best OKS against any ground truth of the image and category, else
null (none there); ``gt_iscrowd`` is null when unmatched; ``ignored`` is pycocotools'
``dtIgnore`` (matched to an ignored ground truth, or unmatched and outside the area range)."""

JOINTS_SCHEMA = pa.schema([f for f in schema.EVAL_JOINTS if f.name not in ("dataset", "split")])
"""``joints``: one row per joint of every pair matched at OKS 0.5 (area range "all") whose
ground truth is not crowd. ``dx, dy`` = prediction − ground truth; ``normalised`` =
``distance / sqrt(gt area)`` (the object scale s of the OKS); ``oks_term`` =
``exp(-d² / (2 s² (2σ)²))``, the joint's keypoint similarity ks. Joints the ground truth does
not label (visibility 0) keep their row with null measures and a null ``error``.

``error`` follows Ronchi & Perona (ICCV 2017, Sec. 3.1), tested in this order: ``good``
(ks ≥ 0.85), ``jitter`` (0.5 ≤ ks < 0.85), ``inversion`` (ks ≥ 0.5 against the same person's
mirror joint, from ``flip``; its own sigma and the person's area), ``swap`` (ks ≥ 0.5 against
the same joint of another ground truth of the image and category, with that person's area),
``miss`` (none of these). coco-analyze's code differs in two details: it classes a joint by
whichever candidate location scores highest (so a joint nearer its mirror than itself is an
inversion even with ks ≥ 0.5) and counts another person's mirror joint as a swap."""


def evaluate_keypoints(
    gt_images: pa.Table,
    gt_instances: pa.Table,
    gt_keypoints: pa.Table,
    dt_instances: pa.Table,
    dt_keypoints: pa.Table,
    sigmas: Mapping[int, np.ndarray],
    flip: Mapping[int, np.ndarray] | None = None,
) -> Evaluation:
    """Evaluate predictions against ground truth as pycocotools' ``COCOeval`` keypoints does.

    Parameters
    ----------
    gt_images
        The ground truth's images (``image_id``); they are the images evaluated.
    gt_instances, gt_keypoints
        The ground truth's ``instances`` and v2 ``keypoints`` tables (one row per pose; rows of
        ``frame`` other than 0 are not used). An instance without a keypoints row has no
        labelled joints (crowd regions).
    dt_instances, dt_keypoints
        The predictions in the same shape; every prediction needs a ``score`` and joints.
    sigmas
        Per category id, the per-joint OKS sigmas; their length is the category's joint count.
    flip
        Per category id, the index of each joint's mirror joint; without it no joint is
        classed ``inversion``.

    Returns
    -------
    Evaluation
        ``stats`` (pycocotools' ten numbers), ``matches``, ``joints``, ``notes``.
    """
    notes: list[str] = []
    image_ids = np.unique(_ints(gt_images, "image_id", "gt_images"))
    gt = _Side.read(gt_instances, gt_keypoints, "ground truth", predictions=False)
    dt = _Side.read(dt_instances, dt_keypoints, "predictions", predictions=True)

    gt_pos = np.searchsorted(image_ids, gt.image_id).clip(max=max(len(image_ids) - 1, 0))
    gt_known = image_ids[gt_pos] == gt.image_id if len(image_ids) else np.zeros(gt.n, bool)
    if not gt_known.all():
        # pycocotools evaluates the images of the images list only
        notes.append(f"{int((~gt_known).sum())} ground-truth instances on unlisted images skipped")
    dt_pos = np.searchsorted(image_ids, dt.image_id).clip(max=max(len(image_ids) - 1, 0))
    dt_known = image_ids[dt_pos] == dt.image_id if len(image_ids) else np.zeros(dt.n, bool)
    if not dt_known.all():
        bad = dt.image_id[~dt_known][0]
        raise EvaluationError(
            f"{int((~dt_known).sum())} predictions are on images the ground truth does not have "
            f"(image_id {bad})"
        )
    gt.image = gt_pos
    dt.image = dt_pos
    gt = gt.subset(np.flatnonzero(gt_known))

    boxed = np.isnan(gt.area)
    if boxed.any():
        box_area = gt.bbox[:, 2] * gt.bbox[:, 3]
        if np.isnan(box_area[boxed]).any():
            bad = gt.instance_id[boxed & np.isnan(box_area)][0]
            raise EvaluationError(f"ground-truth instance {bad} has neither area nor bbox")
        gt.area = np.where(boxed, box_area, gt.area)
        notes.append(
            f"{int(boxed.sum())} ground-truth instances have no area: their box area "
            "bbox_w*bbox_h is used (as xtcocotools' use_area=False)"
        )

    gt_cats = np.unique(gt.category_id)
    categories = []
    for c in np.unique(np.concatenate([gt_cats, dt.category_id])):
        if int(c) in sigmas:
            categories.append(int(c))
        elif c in gt_cats:
            raise EvaluationError(f"no OKS sigmas for category {int(c)}")
        else:
            notes.append(
                f"predictions of category {int(c)} skipped: no such ground truth, no sigmas"
            )

    per_category = []
    for c in categories:
        s = np.asarray(sigmas[c], dtype=np.float64)
        f = None if flip is None or c not in flip else np.asarray(flip[c], dtype=np.int64)
        if f is not None and (
            f.shape != s.shape or f.min(initial=0) < 0 or f.max(initial=0) >= len(s)
        ):
            raise EvaluationError(f"flip of category {c} is not {len(s)} joint indices")
        per_category.append(
            _evaluate_category(
                c,
                gt.subset(np.flatnonzero(gt.category_id == c)).with_joints(len(s)),
                dt.subset(np.flatnonzero(dt.category_id == c)).with_joints(len(s)),
                s,
                f,
                image_ids,
            )
        )

    T, R, A = len(OKS_THRESHOLDS), len(RECALL_THRESHOLDS), len(AREA_RANGES)
    K = len(per_category)
    precision = -np.ones((T, R, K, A))
    recall = -np.ones((T, K, A))
    for k, res in enumerate(per_category):
        precision[:, :, k, :] = res.precision
        recall[:, k, :] = res.recall
    stats = _summarize(precision, recall)
    matches = (
        pa.concat_tables([r.matches for r in per_category])
        if per_category
        else MATCHES_SCHEMA.empty_table()
    )
    joints = (
        pa.concat_tables([r.joints for r in per_category])
        if per_category
        else JOINTS_SCHEMA.empty_table()
    )
    return Evaluation(
        stats, precision, recall, np.array(categories, np.int64), matches, joints, notes
    )


# -- reading the tables -------------------------------------------------------------------


def _column(table: pa.Table, name: str, what: str) -> pa.ChunkedArray:
    if name not in table.column_names:
        raise EvaluationError(f"{what}: no column {name!r}")
    return table.column(name)


def _ints(table: pa.Table, name: str, what: str) -> np.ndarray:
    col = _column(table, name, what)
    if col.null_count:
        raise EvaluationError(f"{what}: {col.null_count} null values in {name!r}")
    return col.cast(pa.int64()).to_numpy()


def _floats(table: pa.Table, name: str) -> np.ndarray:
    """The column as float64 with NaN for nulls; all NaN where the table has no such column."""
    if name not in table.column_names:
        return np.full(table.num_rows, np.nan)
    return pc.fill_null(table.column(name).cast(pa.float64()), np.nan).to_numpy()


@dataclass
class _Side:
    """One side's instances (in input order) with where their keypoints row is."""

    what: str
    image_id: np.ndarray
    instance_id: np.ndarray
    category_id: np.ndarray
    iscrowd: np.ndarray
    area: np.ndarray
    bbox: np.ndarray  # (n, 4) x, y, w, h; NaN where null
    num_keypoints: np.ndarray  # float, NaN where null
    score: np.ndarray
    kp_row: np.ndarray  # row of the keypoints table, -1 for none
    keypoints: pa.Table
    image: np.ndarray | None = None  # index into the sorted image ids
    x: np.ndarray | None = None
    y: np.ndarray | None = None
    v: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.instance_id)

    @classmethod
    def read(cls, instances: pa.Table, keypoints: pa.Table, what: str, predictions: bool) -> _Side:
        image_id = _ints(instances, "image_id", f"{what} instances")
        instance_id = _ints(instances, "instance_id", f"{what} instances")
        category_id = _ints(instances, "category_id", f"{what} instances")
        if "iscrowd" in instances.column_names:
            iscrowd = pc.fill_null(instances.column("iscrowd").cast(pa.int64()), 0).to_numpy()
        else:
            iscrowd = np.zeros(instances.num_rows, np.int64)
        score = _floats(instances, "score")
        if predictions and np.isnan(score).any():
            bad = instance_id[np.isnan(score)][0]
            raise EvaluationError(f"{what}: instance {bad} has no score")
        bbox = np.stack([_floats(instances, f"bbox_{k}") for k in "xywh"], axis=1)
        if "frame" in keypoints.column_names:
            keypoints = keypoints.filter(pc.equal(keypoints.column("frame"), 0))
        kp_row = _locate(
            image_id,
            instance_id,
            _ints(keypoints, "image_id", f"{what} keypoints"),
            _ints(keypoints, "instance_id", f"{what} keypoints"),
            what,
        )
        if predictions and (kp_row < 0).any():
            bad = instance_id[kp_row < 0][0]
            raise EvaluationError(f"{what}: instance {bad} has no keypoints row")
        return cls(
            what,
            image_id,
            instance_id,
            category_id,
            iscrowd,
            _floats(instances, "area"),
            bbox,
            _floats(instances, "num_keypoints"),
            score,
            kp_row,
            keypoints,
        )

    def subset(self, rows: np.ndarray) -> _Side:
        def take(a):
            return None if a is None else a[rows]

        return _Side(
            self.what,
            self.image_id[rows],
            self.instance_id[rows],
            self.category_id[rows],
            self.iscrowd[rows],
            self.area[rows],
            self.bbox[rows],
            self.num_keypoints[rows],
            self.score[rows],
            self.kp_row[rows],
            self.keypoints,
            take(self.image),
            take(self.x),
            take(self.y),
            take(self.v),
        )

    def with_joints(self, n_joints: int) -> _Side:
        """This side with ``x, y, v`` as (n, V) float64 blocks (zeros where no keypoints row)."""
        self.x = _joint_block(self.keypoints, "x", self.kp_row, n_joints, self.what)
        self.y = _joint_block(self.keypoints, "y", self.kp_row, n_joints, self.what)
        self.v = _joint_block(self.keypoints, "visibility", self.kp_row, n_joints, self.what)
        return self


def _locate(
    image_id: np.ndarray,
    instance_id: np.ndarray,
    kp_image: np.ndarray,
    kp_instance: np.ndarray,
    what: str,
) -> np.ndarray:
    """For each instance, its row in the keypoints table (by image and instance id), or -1."""
    n = len(instance_id)
    ids, id_code = np.unique(np.concatenate([instance_id, kp_instance]), return_inverse=True)
    _, image_code = np.unique(np.concatenate([image_id, kp_image]), return_inverse=True)
    # one int64 per (image, instance): dense codes keep the product far below 2**63
    key = image_code.astype(np.int64) * max(len(ids), 1) + id_code
    inst_key, kp_key = key[:n], key[n:]
    if len(np.unique(inst_key)) != n:
        raise EvaluationError(f"{what}: an (image_id, instance_id) pair repeats in instances")
    order = np.argsort(kp_key, kind="stable")
    sorted_key = kp_key[order]
    if (sorted_key[1:] == sorted_key[:-1]).any():
        raise EvaluationError(f"{what}: an instance has more than one keypoints row for frame 0")
    if not len(sorted_key):
        return np.full(n, -1, np.int64)
    pos = np.searchsorted(sorted_key, inst_key).clip(max=len(sorted_key) - 1)
    return np.where(sorted_key[pos] == inst_key, order[pos], -1)


def _joint_block(
    keypoints: pa.Table, name: str, rows: np.ndarray, n_joints: int, what: str
) -> np.ndarray:
    out = np.zeros((len(rows), n_joints))
    have = np.flatnonzero(rows >= 0)
    if not len(have):
        return out
    lists = (
        _column(keypoints, name, f"{what} keypoints").take(pa.array(rows[have])).combine_chunks()
    )
    lengths = pc.list_value_length(lists).to_numpy(zero_copy_only=False)
    bad = np.isnan(lengths.astype(np.float64)) | (lengths != n_joints)
    if bad.any():
        raise EvaluationError(
            f"{what}: keypoints.{name} of {int(bad.sum())} instances is not a list of "
            f"{n_joints} values (the category's sigmas), e.g. {lengths[bad][0]}"
        )
    values = pc.fill_null(lists.flatten().cast(pa.float64()), np.nan).to_numpy()
    out[have] = values.reshape(-1, n_joints)
    return out


# -- one category ---------------------------------------------------------------------------


@dataclass
class _CategoryResult:
    precision: np.ndarray  # (T, R, A)
    recall: np.ndarray  # (T, A)
    matches: pa.Table
    joints: pa.Table


def _evaluate_category(
    category: int,
    gt: _Side,
    dt: _Side,
    sigma: np.ndarray,
    flip: np.ndarray | None,
    image_ids: np.ndarray,
) -> _CategoryResult:
    variances = (sigma * 2) ** 2
    T, A = len(OKS_THRESHOLDS), len(AREA_RANGES)

    # ground truth grouped by image, input order kept inside an image
    g_order = np.argsort(gt.image, kind="stable")
    gt = gt.subset(g_order)
    labelled = np.count_nonzero(gt.v > 0, axis=1)
    num_kp = np.where(np.isnan(gt.num_keypoints), labelled, gt.num_keypoints)
    crowd = gt.iscrowd != 0
    ignore = crowd | (num_kp == 0)
    ranges = np.array(list(AREA_RANGES.values()))
    gt_ignored = (
        ignore[None, :] | (gt.area[None, :] < ranges[:, :1]) | (gt.area[None, :] > ranges[:, 1:])
    )
    no_box = (labelled == 0) & np.isnan(gt.bbox).any(axis=1)
    if no_box.any():
        raise EvaluationError(
            f"ground-truth instance {gt.instance_id[no_box][0]} has no labelled joints and no bbox"
        )

    # predictions: by image, then score (stable), the first MAX_DETS of each image
    d_order = np.argsort(-dt.score, kind="stable")
    d_order = d_order[np.argsort(dt.image[d_order], kind="stable")]
    dt = dt.subset(d_order)
    first = np.searchsorted(dt.image, dt.image, side="left")
    rank = np.arange(dt.n) - first
    keep = rank < MAX_DETS
    # rank-major order: the greedy match walks ranks, all images at once
    d_order = np.flatnonzero(keep)
    d_order = d_order[np.lexsort((dt.image[d_order], rank[d_order]))]
    dt = dt.subset(d_order)
    rank = rank[d_order]
    dt_area = (dt.x.max(axis=1, initial=-np.inf) - dt.x.min(axis=1, initial=np.inf)) * (
        dt.y.max(axis=1, initial=-np.inf) - dt.y.min(axis=1, initial=np.inf)
    )
    D, G = dt.n, gt.n

    # all (prediction, ground truth) pairs of an image; pairs of one prediction are contiguous
    # and in ground-truth order, and the pairs of one rank are contiguous
    g_start = np.searchsorted(gt.image, dt.image, side="left")
    g_count = np.searchsorted(gt.image, dt.image, side="right") - g_start
    p_start = np.concatenate([[0], np.cumsum(g_count)])
    P = int(p_start[-1])
    pair_dt = np.repeat(np.arange(D), g_count)
    pair_gt = np.repeat(g_start - p_start[:-1], g_count) + np.arange(P)
    oks = _pair_oks(dt, gt, pair_dt, pair_gt, labelled, variances)

    # greedy matching: tier 2 = free non-ignored gt above threshold, 1 = such an ignored gt
    matched_gt = np.full((A, T, D), -1, np.int64)
    matched_pair = np.full((A, T, D), -1, np.int64)
    taken = np.zeros((A, T, G), bool)
    thresholds = OKS_THRESHOLDS[None, :, None]
    rank_start = np.searchsorted(rank, np.arange(MAX_DETS + 1))
    for r in range(MAX_DETS):
        dets = np.arange(rank_start[r], rank_start[r + 1])
        dets = dets[g_count[dets] > 0]
        if not len(dets):
            continue
        p0, p1 = p_start[dets[0]], p_start[dets[-1] + 1]
        seg = p_start[dets] - p0
        g = pair_gt[p0:p1]
        o = oks[p0:p1]
        free = ~taken[:, :, g] | crowd[g]
        above = free & (o >= thresholds)
        tier = np.where(above, np.where(gt_ignored[:, None, g], 1, 2), 0).astype(np.int8)
        best_tier = np.maximum.reduceat(tier, seg, axis=2)
        counts = g_count[dets]
        in_tier = (tier == np.repeat(best_tier, counts, axis=2)) & (tier > 0)
        best_oks = np.maximum.reduceat(np.where(in_tier, o, -1.0), seg, axis=2)
        at_best = in_tier & (o == np.repeat(best_oks, counts, axis=2))
        # ties: pycocotools keeps the later ground truth (it replaces on >=)
        best = np.maximum.reduceat(np.where(at_best, np.arange(p0, p1), -1), seg, axis=2)
        hit = best_tier > 0
        matched_pair[:, :, dets] = np.where(hit, best, -1)
        best_gt = np.where(hit, pair_gt[best.clip(min=0)], -1)
        matched_gt[:, :, dets] = best_gt
        a_idx, t_idx, d_idx = np.nonzero(hit)
        taken[a_idx, t_idx, best_gt[a_idx, t_idx, d_idx]] = True

    matched = matched_gt >= 0
    if G:
        mg = matched_gt.clip(min=0)
        counted = matched & (gt.instance_id[mg] != 0)
        on_ignored = matched & gt_ignored[np.arange(A)[:, None, None], mg]
    else:
        counted = on_ignored = np.zeros_like(matched)
    dt_outside = (dt_area[None, :] < ranges[:, :1]) | (dt_area[None, :] > ranges[:, 1:])
    # unmatched predictions outside the area range do not count against precision
    dt_ignored = on_ignored | (~counted & dt_outside[:, None, :])

    precision, recall = _accumulate(dt.score, dt.image, rank, counted, dt_ignored, gt_ignored)

    has_pairs = g_count > 0
    best_any = np.full(D, np.nan)
    if P:
        best_any[has_pairs] = np.maximum.reduceat(oks, p_start[:-1][has_pairs])
    matches = _matches_table(
        category, dt, gt, image_ids, matched_gt[0], matched_pair[0], oks, best_any, dt_ignored[0]
    )
    at_half = matched_gt[0, 0]
    pairs = np.flatnonzero((at_half >= 0) & ~crowd[at_half.clip(min=0)])
    joints = _joints_table(
        category, dt, gt, image_ids, pairs, at_half[pairs], g_start, g_count, variances, sigma, flip
    )
    return _CategoryResult(precision, recall, matches, joints)


def _pair_oks(
    dt: _Side,
    gt: _Side,
    pair_dt: np.ndarray,
    pair_gt: np.ndarray,
    labelled: np.ndarray,
    variances: np.ndarray,
) -> np.ndarray:
    """OKS of each (prediction, ground truth) pair, bit-identical to pycocotools' ``computeOks``."""
    P, V = len(pair_dt), len(variances)
    oks = np.empty(P)
    # pycocotools sums exp(-e) over the labelled joints only, as a compact array: sum the
    # same compact rows (labelled joints first, in joint order) so NumPy's pairwise sum
    # groups the terms the same way
    compact = np.argsort(gt.v <= 0, axis=1, kind="stable")
    n_terms = np.where(labelled > 0, labelled, V)
    x0 = gt.bbox[:, 0] - gt.bbox[:, 2]
    x1 = gt.bbox[:, 0] + gt.bbox[:, 2] * 2
    y0 = gt.bbox[:, 1] - gt.bbox[:, 3]
    y1 = gt.bbox[:, 1] + gt.bbox[:, 3] * 2
    for c0 in range(0, P, _PAIR_CHUNK):
        d = pair_dt[c0 : c0 + _PAIR_CHUNK]
        g = pair_gt[c0 : c0 + _PAIR_CHUNK]
        xd, yd = dt.x[d], dt.y[d]
        boxed = (labelled[g] == 0)[:, None]
        # a ground truth without labelled joints: distance to its box grown by its size
        dx = np.where(
            boxed,
            np.maximum(0, x0[g, None] - xd) + np.maximum(0, xd - x1[g, None]),
            xd - gt.x[g],
        )
        dy = np.where(
            boxed,
            np.maximum(0, y0[g, None] - yd) + np.maximum(0, yd - y1[g, None]),
            yd - gt.y[g],
        )
        e = (dx**2 + dy**2) / variances / (gt.area[g, None] + _EPS) / 2
        terms = np.exp(-e)
        terms = np.take_along_axis(terms, compact[g], axis=1)
        n = n_terms[g]
        out = np.empty(len(d))
        for k in np.unique(n):
            rows = np.flatnonzero(n == k)
            out[rows] = np.ascontiguousarray(terms[rows, :k]).sum(axis=1) / k
        oks[c0 : c0 + _PAIR_CHUNK] = out
    return oks


def _accumulate(
    score: np.ndarray,
    image: np.ndarray,
    rank: np.ndarray,
    counted: np.ndarray,
    dt_ignored: np.ndarray,
    gt_ignored: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Precision (T, R, A) and recall (T, A) of one category, as ``COCOeval.accumulate``."""
    T, R, A = len(OKS_THRESHOLDS), len(RECALL_THRESHOLDS), len(AREA_RANGES)
    precision = -np.ones((T, R, A))
    recall = -np.ones((T, A))
    # pycocotools concatenates images in id order, each in rank order, then sorts by score
    # with a stable sort: score, then image, then rank
    order = np.lexsort((rank, image, -score))
    nd = len(order)
    for a in range(A):
        npig = np.count_nonzero(~gt_ignored[a])
        if npig == 0:
            continue
        if nd == 0:
            precision[:, :, a] = 0
            recall[:, a] = 0
            continue
        ig = dt_ignored[a][:, order]
        hit = counted[a][:, order]
        tp = np.cumsum(hit & ~ig, axis=1).astype(float)
        fp = np.cumsum(~hit & ~ig, axis=1).astype(float)
        rc = tp / npig
        pr = tp / (fp + tp + _EPS)
        recall[:, a] = rc[:, -1]
        # precision made non-increasing from the right, as the interpolated PR curve
        pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]
        for t in range(T):
            at = np.searchsorted(rc[t], RECALL_THRESHOLDS, side="left")
            q = np.zeros(R)
            inside = at < nd
            q[inside] = pr[t, at[inside]]
            precision[t, :, a] = q
    return precision, recall


def _summarize(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    """The ten keypoint stats from precision [T,R,K,A] and recall [T,K,A], as ``summarize``."""
    labels = list(AREA_RANGES)

    def mean(ap: bool, threshold: float | None = None, area: str = "all") -> float:
        s = precision if ap else recall
        if threshold is not None:
            s = s[np.where(threshold == OKS_THRESHOLDS)[0]]
        s = s[..., labels.index(area)]
        kept = s[s > -1]
        return -1.0 if len(kept) == 0 else float(np.mean(kept))

    return np.array(
        [
            mean(True),
            mean(True, 0.5),
            mean(True, 0.75),
            mean(True, area="medium"),
            mean(True, area="large"),
            mean(False),
            mean(False, 0.5),
            mean(False, 0.75),
            mean(False, area="medium"),
            mean(False, area="large"),
        ]
    )


# -- output tables --------------------------------------------------------------------------


def _matches_table(
    category: int,
    dt: _Side,
    gt: _Side,
    image_ids: np.ndarray,
    matched_gt: np.ndarray,
    matched_pair: np.ndarray,
    oks: np.ndarray,
    best_any: np.ndarray,
    ignored: np.ndarray,
) -> pa.Table:
    """Rows for area range "all": matched_gt, matched_pair, ignored are (T, D)."""
    T, D = matched_gt.shape
    # dt-major rows in (image, rank) order, thresholds inside
    order = np.lexsort((np.arange(D), dt.image))
    hit = matched_gt[:, order].T.ravel()
    pair = matched_pair[:, order].T.ravel()
    has = hit >= 0
    g = hit.clip(min=0)
    gt_ids = gt.instance_id[g] if gt.n else np.zeros(T * D, np.int64)
    gt_crowd = gt.iscrowd[g] if gt.n else np.zeros(T * D, np.int64)
    row_oks = np.where(
        has, oks[pair.clip(min=0)] if len(oks) else np.nan, np.repeat(best_any[order], T)
    )
    return pa.table(
        {
            "dt_instance_id": np.repeat(dt.instance_id[order], T),
            "image_id": np.repeat(image_ids[dt.image[order]], T),
            "category_id": np.full(T * D, category, np.int64),
            "threshold": np.tile(OKS_THRESHOLDS, D),
            "gt_instance_id": pa.array(gt_ids, mask=~has),
            "oks": pa.array(row_oks, mask=np.isnan(row_oks)),
            "gt_iscrowd": pa.array(gt_crowd.astype(np.int8), mask=~has),
            "ignored": ignored[:, order].T.ravel(),
            "score": np.repeat(dt.score[order], T),
        },
        schema=MATCHES_SCHEMA,
    )


def _joints_table(
    category: int,
    dt: _Side,
    gt: _Side,
    image_ids: np.ndarray,
    dets: np.ndarray,
    gts: np.ndarray,
    g_start: np.ndarray,
    g_count: np.ndarray,
    variances: np.ndarray,
    sigma: np.ndarray,
    flip: np.ndarray | None,
) -> pa.Table:
    """Per-joint rows of the pairs (dets[i], gts[i]) with Ronchi & Perona's error classes."""
    V = len(sigma)
    n = len(dets)
    xd, yd = dt.x[dets], dt.y[dets]
    xg, yg, vg = gt.x[gts], gt.y[gts], gt.v[gts]
    area = gt.area[gts][:, None]
    dx, dy = xd - xg, yd - yg
    d2 = dx**2 + dy**2
    ks = np.exp(-d2 / variances / (area + _EPS) / 2)
    labelled = vg > 0

    if flip is not None:
        mx, my, mv = xg[:, flip], yg[:, flip], vg[:, flip]
        ks_mirror = np.exp(-((xd - mx) ** 2 + (yd - my) ** 2) / variances / (area + _EPS) / 2)
        ks_mirror = np.where(mv > 0, ks_mirror, -1.0)
    else:
        ks_mirror = np.full((n, V), -1.0)

    # the same joint of every other ground truth of the image: one row per (pair, gt of image)
    ks_other = np.full((n, V), -1.0)
    counts = g_count[dets]
    if n and counts.sum():
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        owner = np.repeat(np.arange(n), counts)
        other = np.repeat(g_start[dets] - starts, counts) + np.arange(int(counts.sum()))
        ko = np.exp(
            -((xd[owner] - gt.x[other]) ** 2 + (yd[owner] - gt.y[other]) ** 2)
            / variances
            / (gt.area[other, None] + _EPS)
            / 2
        )
        valid = (gt.v[other] > 0) & (other != gts[owner])[:, None]
        ks_other = np.maximum.reduceat(np.where(valid, ko, -1.0), starts, axis=0)

    error = np.select(
        [ks >= GOOD_KS, ks >= NEAR_KS, ks_mirror >= NEAR_KS, ks_other >= NEAR_KS],
        [0, 1, 2, 3],
        default=4,
    ).astype(np.int8)
    mask = ~labelled.ravel()
    distance = np.sqrt(d2)
    error_col = pa.DictionaryArray.from_arrays(
        pa.array(error.ravel(), mask=mask), pa.array(ERROR_CLASSES)
    ).cast(pa.string())
    return pa.table(
        {
            "gt_instance_id": np.repeat(gt.instance_id[gts], V),
            "dt_instance_id": np.repeat(dt.instance_id[dets], V),
            "image_id": np.repeat(image_ids[dt.image[dets]], V),
            "category_id": np.full(n * V, category, np.int64),
            "joint": np.tile(np.arange(V, dtype=np.int32), n),
            "dx": pa.array(dx.ravel(), mask=mask),
            "dy": pa.array(dy.ravel(), mask=mask),
            "distance": pa.array(distance.ravel(), mask=mask),
            "normalised": pa.array((distance / np.sqrt(area)).ravel(), mask=mask),
            "oks_term": pa.array(ks.ravel(), mask=mask),
            "sigma": np.tile(sigma, n),
            "gt_visibility": vg.ravel().astype(np.int8),
            "error": error_col,
        },
        schema=JOINTS_SCHEMA,
    )
