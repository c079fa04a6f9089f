"""PYSKL skeleton pickles → Tables: 2D, 3D, and the Kinetics-400 kpfile variant.

An annotation (a clip) gives one ``images`` row (``frame_dir``, ``img_shape``,
``total_frames``, ``label``), one ``instances`` row per person track ``m`` of
its ``keypoint`` array ``[M, T, V, C]``, one ``frames`` row per frame, and dense
``keypoints`` rows (``z`` for C = 3, ``score`` from ``keypoint_score`` for 2D).
Kinetics clips carry no arrays: one instance per detected skeleton
(``frame_inds``, ``box_score``), joints from the kpfiles ``raw_file`` names
(``frame_dir → {"keypoint": [N, V, 3]}``), read by worker processes one kpfile
at a time each (``ingest/kinetics.py``).

Clips are flattened in batches with NumPy, so memory is bounded by a batch, not
by the dataset. Every field the tables do not name is kept in ``attributes``
through ``posestore.pyjson`` (tuples, float-keyed dicts, NumPy scalars), and
array dtypes are kept in the metadata, so ``queries.export.pyskl`` writes the
same pickle back.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from posestore import jsonnum, poses, pyjson, safe_pickle, schema
from posestore.errors import SourceError, ValueNotKept
from posestore.formats import (
    KINETICS_ARRAYS,
    PYSKL_DTYPES_KEY,
    PYSKL_MISSING_KEY,
    PYSKL_SHAPE_KEY,
    PYSKL_SKELETON_ARRAYS,
    PYSKL_SKELETON_CATEGORY,
    SKELETON_LAYOUTS,
    SourceWarning,
)
from posestore.metadata import DatasetMeta, PysklArrays, SplitMeta, datasets_table

NAMED = frozenset({"frame_dir", "label", "img_shape", "total_frames", *PYSKL_SKELETON_ARRAYS})
KINETICS = frozenset(KINETICS_ARRAYS)
ROWS_PER_BATCH = 2_000_000
"""Joint rows flattened at once: with two batches being written, bounds ingest memory."""
NO_SPLIT = "all"
UNASSIGNED = "unassigned"


def load_pyskl(path: str | Path) -> tuple[str, Any, list]:
    """The annotation list of a PYSKL pickle, with its layout: ``dict`` ({split, annotations}),
    ``list`` (bare annotations) or ``single`` (one annotation dict)."""
    obj = safe_pickle.load(path)
    if isinstance(obj, dict) and "annotations" in obj:
        anns = obj["annotations"]
        if not isinstance(anns, list):
            raise SourceError(path, "annotations", f"expected a list, got {type(anns).__name__}")
        return "dict", obj, anns
    if isinstance(obj, list):
        return "list", obj, obj
    if isinstance(obj, dict) and ("frame_dir" in obj or "keypoint" in obj):
        return "single", obj, [obj]
    got = (
        f"a dict with keys {sorted(map(str, obj))[:6]}"
        if isinstance(obj, dict)
        else f"a {type(obj).__name__}"
    )
    raise SourceError(
        path,
        None,
        f"not a PYSKL pickle: expected {{'split', 'annotations'}}, a list of clips or one clip dict; got {got}",
    )


def read_pyskl(
    source: str | Path,
    dataset: str,
    split: str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    workers: int | None = None,
) -> Iterator[schema.Tables]:
    """Read a PYSKL pickle (and, for Kinetics, its kpfiles) as bundles of tables.

    The first bundle carries the catalogs and the metadata; later ones add clips'
    instances, keypoints and frames batch by batch (or kpfile by kpfile).
    """
    source = Path(source)
    file = str(source)
    if progress:
        progress(f"unpickling {source.name} ({source.stat().st_size / 1e6:,.1f} MB)", -1, -1)
    layout, top, anns = load_pyskl(source)
    for i, a in enumerate(anns):
        if not isinstance(a, dict):
            raise SourceError(file, f"annotations[{i}]", f"expected a dict, got {type(a).__name__}")
        if "frame_dir" not in a:
            raise SourceError(
                file, f"annotations[{i}]", f"has no 'frame_dir' (keys: {', '.join(map(str, a))})"
            )
    n = len(anns)
    per_clip = _primary_splits(top if layout == "dict" else None, anns, split, file)
    splits = _Splits(per_clip)
    kinetics = any(a.keys() >= KINETICS for a in anns[:100]) and not any(
        "keypoint" in a for a in anns[:100]
    )
    arrays = _array_dtypes(anns, kinetics)
    labels, label_over = _labels(anns)
    image_ids = np.arange(1, n + 1, dtype=np.int64)

    three_d = arrays.channels == 3 and arrays.keypoint_score is None
    meta = DatasetMeta(
        "pyskl",
        {s: SplitMeta(path=source.name) for s in dict.fromkeys(per_clip.tolist())}
        or {split or NO_SPLIT: SplitMeta(path=source.name)},
        layout=layout,
        variant="kinetics" if kinetics else ("3d" if three_d else "2d"),
        arrays=arrays,
        key_order=list(anns[0]) if anns else [],
    )
    if layout == "dict":
        meta.top = {k: _kept(v, file, str(k)) for k, v in top.items() if k != "annotations"}
    elif layout == "single":
        meta.top = {}
    v = arrays.joints
    try:
        images = _images(anns, dataset, splits, image_ids, labels, label_over, arrays, kinetics)
    except ValueNotKept as e:
        raise SourceError(file, f"annotations[{e.args[1]}]", e.args[0]) from e
    first: schema.Tables = {
        "images": images,
        "categories": _categories(dataset, v, labels, anns),
        "datasets": datasets_table(dataset, meta),
    }
    members = _list_members(top if layout == "dict" else None, anns, image_ids, splits)
    if members is not None:
        first["split_members"] = members
    if kinetics:
        from .kinetics import read_kinetics  # imports this module: imported here, not above

        yield from read_kinetics(source, anns, dataset, splits, image_ids, first, workers, progress)
        return
    yield first
    yield from _batches(anns, file, dataset, splits, image_ids, progress)


class _Splits:
    """Each clip's split, as codes into the split names: split columns are built from codes."""

    def __init__(self, per_clip: np.ndarray) -> None:
        names, codes = np.unique(per_clip.astype(str), return_inverse=True)
        self.names = names.tolist()
        self.codes = codes.astype(np.int8 if len(names) < 128 else np.int32)
        self.per_clip = per_clip

    def column(self, clips: np.ndarray, repeats: np.ndarray | None = None) -> pa.Array:
        """The split column of rows belonging to ``clips`` (clip positions), each clip's
        row repeated ``repeats`` times when given (a repeat, not a gather per row)."""
        codes = self.codes[clips]
        return schema.coded(codes if repeats is None else np.repeat(codes, repeats), self.names)


def _primary_splits(top: dict | None, anns: list[dict], split: str | None, file: str) -> np.ndarray:
    """Each clip's partition: the first split list that names it, ``unassigned`` if none does."""
    n = len(anns)
    if top is None or "split" not in top:
        return np.full(n, split or NO_SPLIT, dtype=object)
    lists = top["split"]
    if not isinstance(lists, dict) or not all(isinstance(v, (list, tuple)) for v in lists.values()):
        raise SourceError(file, "split", "expected a dict of lists of frame_dir names")
    first: dict = {}
    for name, members in lists.items():
        for fd in members:
            first.setdefault(fd, str(name))
    out = np.array(
        [
            first.get(a["frame_dir"], UNASSIGNED) if isinstance(a["frame_dir"], str) else UNASSIGNED
            for a in anns
        ],
        dtype=object,
    )
    return out


def _kept(value: object, file: str, record: str) -> object:
    """``pyjson.encode(value)``; a value posestore cannot keep names the file and the record."""
    try:
        return pyjson.encode(value)
    except ValueNotKept as e:
        raise SourceError(file, record, str(e)) from e


def _list_members(
    top: dict | None, anns: list[dict], image_ids: np.ndarray, splits: _Splits
) -> pa.Table | None:
    """Every split list's clips as ``split_members`` rows (NTU: each clip is in an ``xsub_*``
    and an ``xview_*`` list). Names a list gives that no clip has get no row, with a warning
    counting them (the lists themselves are kept whole in the metadata for export)."""
    if top is None or not isinstance(top.get("split"), dict):
        return None
    clip_of: dict[str, int] = {}
    for i, a in enumerate(anns):
        if isinstance(a["frame_dir"], str):
            clip_of.setdefault(a["frame_dir"], i)
    names, clips = [], []
    unknown = 0
    for name, members in top["split"].items():
        found = [clip_of[fd] for fd in members if isinstance(fd, str) and fd in clip_of]
        unknown += len(members) - len(found)
        names.extend([str(name)] * len(found))
        clips.extend(found)
    if unknown:
        warnings.warn(
            SourceWarning(
                f"{unknown} names in the split lists are no clip's frame_dir: they are kept in "
                "the lists (and exported back) but have no split_members row"
            ),
            stacklevel=2,
        )
    clips_a = np.array(clips, dtype=np.int64)
    stored = np.array(splits.names, dtype=object)[splits.codes[clips_a]] if len(clips) else []
    return pa.table(
        {
            "split": pa.array(names, pa.string()),
            "image_id": pa.array(image_ids[clips_a], pa.int64()),
            "stored_in": pa.array(list(stored), pa.string()),
        }
    )


def _array_dtypes(anns: list[dict], kinetics: bool) -> PysklArrays:
    """The dataset's array dtypes and joint layout, from its first clip that has them."""
    out = PysklArrays()
    keys = KINETICS_ARRAYS if kinetics else PYSKL_SKELETON_ARRAYS
    for a in anns:
        for k in keys:
            if getattr(out, k) is None and isinstance(a.get(k), np.ndarray):
                setattr(out, k, a[k].dtype.str)
        kp = a.get("keypoint")
        if out.joints is None and isinstance(kp, np.ndarray) and kp.ndim == 4:
            out.joints, out.channels = int(kp.shape[2]), int(kp.shape[3])
        if all(getattr(out, k) is not None for k in keys) and (out.joints is not None or kinetics):
            break
    return out


def _labels(anns: list[dict]) -> tuple[np.ndarray, dict[int, object]]:
    """int64 labels; string (or numpy) labels get action ids, the source value kept per clip."""
    raw: list[Any] = [a.get("label") for a in anns]
    ints = [type(x) is int for x in raw]
    labels = np.zeros(len(raw), dtype=np.int64)
    over: dict[int, object] = {}
    taken = {x for x, ok in zip(raw, ints) if ok}
    next_id = max(taken, default=-1) + 1
    named: dict = {}
    for i, (x, ok) in enumerate(zip(raw, ints)):
        if ok:
            labels[i] = x
        elif x is None:
            labels[i] = -1
            over[i] = None
        elif isinstance(x, np.integer):
            labels[i] = int(x)
            over[i] = x
        else:
            key = pyjson.encode(x)
            k = orjson.dumps(key)
            if k not in named:
                named[k] = next_id
                next_id += 1
            labels[i] = named[k]
            over[i] = x
    return labels, over


def _categories(dataset: str, joints: int | None, labels: np.ndarray, anns: list[dict]) -> pa.Table:
    """The person skeleton (kind object) and one action category per label."""
    names: list[str] = []
    skeleton: list[list[int]] = []
    if joints in SKELETON_LAYOUTS:
        _, layout_names, bones = SKELETON_LAYOUTS[joints]
        names, skeleton = list(layout_names), [list(b) for b in bones]
    label_names: dict[int, str] = {}
    for i, lab in enumerate(labels.tolist()):
        if lab not in label_names:
            raw = anns[i].get("label")
            label_names[lab] = raw if isinstance(raw, str) else str(lab)
    ids = sorted(label_names)
    return schema.conform(
        "categories",
        {
            "dataset": [dataset] * (1 + len(ids)),
            "category_id": [PYSKL_SKELETON_CATEGORY, *ids],
            "name": ["person", *(label_names[i] for i in ids)],
            "kind": ["object", *(["action"] * len(ids))],
            "keypoints": [names, *([None] * len(ids))],
            "skeleton": [skeleton, *([None] * len(ids))],
        },
    )


def _images(anns, dataset, splits, image_ids, labels, label_over, arrays, kinetics) -> pa.Table:
    """One row per clip; a field the columns cannot hold goes to ``attributes``. A value of a
    type posestore cannot keep raises ``ValueNotKept`` with the clip's index."""
    n = len(anns)
    frame_dirs = [a["frame_dir"] for a in anns]
    shapes = [a.get("img_shape") for a in anns]
    totals = [a.get("total_frames") for a in anns]
    good_shape = [
        type(s) is tuple and len(s) == 2 and all(type(x) is int for x in s) for s in shapes
    ]
    skip = NAMED | (KINETICS if kinetics else frozenset())
    attributes = []
    for i, a in enumerate(anns):
        try:
            extra = _clip_extra(a, i in label_over, label_over.get(i), good_shape[i], arrays, skip)
        except ValueNotKept as e:
            raise ValueNotKept(str(e), i) from e
        attributes.append(orjson.dumps(extra).decode() if extra else None)
    heights = [s[0] if ok else None for s, ok in zip(shapes, good_shape)]
    widths = [s[1] if ok else None for s, ok in zip(shapes, good_shape)]
    return schema.conform(
        "images",
        {
            "dataset": schema.constant(dataset, n),
            "split": splits.column(np.arange(n)),
            "image_id": image_ids,
            "file_name": pa.array(
                [f if type(f) is str else str(f) for f in frame_dirs], pa.string()
            ),
            "width": pa.array(widths, pa.int64()),
            "height": pa.array(heights, pa.int64()),
            "num_frames": pa.array([t if type(t) is int else None for t in totals], pa.int32()),
            "label": pa.array(
                labels, mask=np.array([("label" not in a) for a in anns], dtype=bool)
            ),
            "attributes": pa.array(attributes, pa.string()),
        },
    )


def _clip_extra(
    a: dict, label_kept: bool, label: object, good_shape: bool, arrays: PysklArrays, skip: frozenset
) -> dict:
    """A clip's fields and values the columns do not hold, as ``pyjson`` values."""
    extra = {k: pyjson.encode(v) for k, v in a.items() if k not in skip}
    if type(a["frame_dir"]) is not str:
        extra["frame_dir"] = pyjson.encode(a["frame_dir"])
    if label_kept:
        extra["label"] = pyjson.encode(label)
    if "img_shape" in a and not good_shape:
        extra["img_shape"] = pyjson.encode(a["img_shape"])
    if "total_frames" in a and type(a["total_frames"]) is not int:
        extra["total_frames"] = pyjson.encode(a["total_frames"])
    missing = [k for k in ("label", "img_shape", "total_frames") if k not in a]
    if missing:
        extra[PYSKL_MISSING_KEY] = missing
    kp = a.get("keypoint")
    if isinstance(kp, np.ndarray) and kp.ndim == 4 and kp.shape[0] == 0:
        extra[PYSKL_SHAPE_KEY] = list(kp.shape)  # no person: the shape says T, V and C
    for k in (*PYSKL_SKELETON_ARRAYS, *sorted(skip - NAMED)):  # Kinetics adds its arrays
        value = a.get(k)
        if (
            isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.dtype.itemsize > 4
        ) and not np.array_equal(value.astype(np.float32), value, equal_nan=True):
            extra[k] = pyjson.encode(value)  # float32 columns cannot hold it: keep it whole
        if isinstance(value, np.ndarray) and value.dtype.str != getattr(arrays, k):
            extra.setdefault(PYSKL_DTYPES_KEY, {})[k] = value.dtype.str
        elif k in a and not isinstance(value, np.ndarray):
            extra[k] = pyjson.encode(value)
    return extra


def padding_visibility(channels: list[np.ndarray], score: np.ndarray | None) -> np.ndarray:
    """Visibility per joint: 2, except PYSKL's zero padding (every coordinate and the score
    0: a person absent from that frame), which is 0, not labelled."""
    padding = channels[0] == 0
    for values in channels[1:]:
        padding &= values == 0
    if score is not None:
        padding &= score == 0
    visibility = np.full(len(padding), 2, dtype=np.int8)
    visibility[padding] = 0
    return visibility


def _clip_arrays(a: dict, i: int, file: str):
    """A clip's keypoint array [M, T, V, C] and scores [M, T, V] (or None), checked."""
    kp = a.get("keypoint")
    if kp is None:
        return None, None
    if not isinstance(kp, np.ndarray) or kp.ndim != 4 or kp.shape[3] not in (2, 3):
        shape = getattr(kp, "shape", None)
        raise SourceError(
            file,
            f"annotations[{i}].keypoint",
            f"expected an array [M, T, V, C] with C 2 or 3, got {type(kp).__name__} {shape}",
        )
    score = a.get("keypoint_score")
    if score is not None and (not isinstance(score, np.ndarray) or score.shape != kp.shape[:3]):
        raise SourceError(
            file,
            f"annotations[{i}].keypoint_score",
            f"has shape {getattr(score, 'shape', None)}, expected {kp.shape[:3]} from keypoint",
        )
    return kp, score


def _batches(anns, file, dataset, splits, image_ids, progress) -> Iterator[schema.Tables]:
    """Instances, keypoints and frames of the clips, a batch of about ROWS_PER_BATCH joints at a time."""
    n = len(anns)
    start = 0
    next_instance = 1
    while start < n:
        stop, rows = start, 0
        while stop < n and (rows < ROWS_PER_BATCH or stop == start):
            kp = anns[stop].get("keypoint")
            rows += (
                kp.size // max(kp.shape[-1], 1)
                if isinstance(kp, np.ndarray) and kp.ndim == 4
                else 0
            )
            stop += 1
        if progress:
            progress(f"flattening clips {start + 1:,}–{stop:,} of {n:,}", start, n)
        bundle, next_instance = _flatten(
            anns, range(start, stop), file, dataset, splits, image_ids, next_instance
        )
        yield bundle
        start = stop
    if progress:
        progress("flattened", n, n)


def _flatten(anns, clips: range, file, dataset, splits, image_ids, next_instance: int):
    kps, scores, clip_of, ms, ts, vs = [], [], [], [], [], []
    frame_counts = []
    for i in clips:
        kp, score = _clip_arrays(anns[i], i, file)
        if kp is None:
            t = anns[i].get("total_frames")
            frame_counts.append(t if type(t) is int and t >= 0 else 0)
            continue
        m, t, v, _ = kp.shape
        kps.append(kp)
        scores.append(score)
        clip_of.append(i)
        ms.append(m)
        ts.append(t)
        vs.append(v)
        frame_counts.append(t)
    clip_idx = np.array(list(clips), dtype=np.int64)
    frames_per_clip = np.array(frame_counts, dtype=np.int64)
    # frames: one row per frame of every clip of the batch
    f_clip = np.repeat(clip_idx, frames_per_clip)
    f_start = jsonnum.run_offsets(frames_per_clip)[:-1]
    f_frame = np.arange(len(f_clip)) - np.repeat(f_start, frames_per_clip)
    counts = np.zeros(len(f_clip), dtype=np.int32)

    ms_a, ts_a, vs_a = (np.array(x, dtype=np.int64) for x in (ms, ts, vs))
    n_inst = int(ms_a.sum()) if len(ms_a) else 0
    inst_ids = np.arange(next_instance, next_instance + n_inst, dtype=np.int64)
    inst_clip = np.repeat(np.array(clip_of, dtype=np.int64), ms_a)
    inst_track = np.concatenate([np.arange(m) for m in ms]) if ms else np.zeros(0, np.int64)
    inst_t = np.repeat(ts_a, ms_a)
    inst_v = np.repeat(vs_a, ms_a)
    instances = schema.conform(
        "instances",
        {
            "dataset": schema.constant(dataset, n_inst),
            "split": splits.column(inst_clip),
            "instance_id": inst_ids,
            "image_id": image_ids[inst_clip],
            "category_id": np.full(n_inst, PYSKL_SKELETON_CATEGORY, dtype=np.int64),
            "track": inst_track.astype(np.int32),
            "num_joints": inst_v.astype(np.int32),
        },
    )
    keypoints = schema.empty("keypoints")
    if n_inst:
        # kept in the source dtype (float16 for HRNet pickles) until each channel is cut out:
        # one strided read straight into a contiguous float32 column, no float32 copy of all
        coords = np.concatenate([k.reshape(-1, k.shape[-1]) for k in kps])
        channels = {k.shape[-1] for k in kps}
        if len(channels) > 1:
            raise SourceError(
                file, f"annotations[{clip_of[0]}].keypoint", "clips mix 2D and 3D keypoints"
            )
        # index columns from (instance, frame) pairs, each repeated V times: no per-row division
        inst_frame_start = jsonnum.run_offsets(inst_t)[:-1]
        pair_frame = (
            np.arange(int(inst_t.sum()), dtype=np.int32) - np.repeat(inst_frame_start, inst_t)
        ).astype(np.int32)
        pair_v = np.repeat(inst_v, inst_t)
        has_score = [s is not None for s in scores]
        if any(has_score) and not all(has_score):
            k = has_score.index(False)
            raise SourceError(
                file, f"annotations[{clip_of[k]}]", "has no keypoint_score while other clips do"
            )
        score = (
            np.concatenate([s.reshape(-1) for s in scores]).astype(np.float32, copy=False)
            if all(has_score)
            else None
        )
        # each channel cut out once, as float32 (float16 arithmetic is slow in NumPy)
        planes = [coords[:, c].astype(np.float32) for c in range(coords.shape[1])]
        keypoints = poses.pose_table(
            dataset,
            splits.column(inst_clip, inst_t),
            np.repeat(image_ids[inst_clip], inst_t),
            np.repeat(inst_ids, inst_t),
            np.full(len(pair_v), PYSKL_SKELETON_CATEGORY, dtype=np.int64),
            pair_frame,
            pair_v,
            planes[0],
            planes[1],
            padding_visibility(planes, score),
            z=planes[2] if len(planes) == 3 else None,
            score=score,
        )
        # persons present in each frame: any joint scored (2D) or placed (3D)
        present = score > 0 if score is not None else np.any(coords != 0, axis=1)
        if len(pair_v) and (pair_v == pair_v[0]).all() and pair_v[0]:
            seen = present.reshape(len(pair_v), int(pair_v[0])).any(axis=1)
        else:
            person_frame = np.repeat(np.arange(len(pair_v)), pair_v)  # (instance, frame) pairs
            seen = np.bincount(person_frame[present], minlength=len(pair_v)) > 0
        clip_pos = np.searchsorted(clip_idx, inst_clip)  # clip_idx is sorted
        frame_row = np.repeat(f_start[clip_pos], inst_t) + pair_frame  # each pair's frame row
        counts = np.bincount(frame_row[seen], minlength=len(f_clip)).astype(np.int32)
    frames = schema.conform(
        "frames",
        {
            "dataset": schema.constant(dataset, len(f_clip)),
            "split": splits.column(f_clip),
            "image_id": image_ids[f_clip],
            "frame": f_frame.astype(np.int32),
            "num_instances": counts,
        },
    )
    return {
        "instances": instances,
        "keypoints": keypoints,
        "frames": frames,
    }, next_instance + n_inst
