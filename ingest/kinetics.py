"""PYSKL's Kinetics-400 variant → Tables: an index pickle of clips without arrays, joints in kpfiles.

A clip carries ``frame_inds`` and ``box_score`` (one detected skeleton each) and
names its kpfile in ``raw_file`` (or ``filename``), a pickle beside the index
holding ``frame_dir → {"keypoint": [N, V, 3]}``. Kpfiles are read by worker
processes, one kpfile in flight per worker, and yielded kpfile by kpfile, so
memory is bounded by a kpfile. ``read_pyskl`` calls ``read_kinetics`` once the
index is loaded and its catalogs are built.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa

from posestore import jsonnum, poses, pyjson, safe_pickle, schema
from posestore.errors import SourceError
from posestore.formats import KPFILE_DTYPE_KEY, PYSKL_SKELETON_CATEGORY, SourceWarning
from posestore.metadata import DatasetMeta, PysklArrays, datasets_table
from posestore.paths import relative_inside

from .pyskl import _categories, _Splits, padding_visibility

_DIRECT = "__direct__"
"""A worker's mark on a kpfile that is one clip's entry itself (``kpfile_layout: direct``)."""


def _kpfile_of(a: dict) -> str | None:
    path = a.get("raw_file", a.get("filename"))
    return path if isinstance(path, str) else None


def read_kinetics(
    source: Path,
    anns: list[dict],
    dataset: str,
    splits: _Splits,
    image_ids: np.ndarray,
    first: schema.Tables,
    workers: int | None,
    progress: Callable[[str, int, int], None] | None,
) -> Iterator[schema.Tables]:
    """The Kinetics index's tables (``first``, completed with the clips without joints), then
    each kpfile's instances, keypoints and frames as it is read."""
    file = str(source)
    n = len(anns)
    frame_inds, box_scores = [], []
    for i, a in enumerate(anns):
        fi, bs = a.get("frame_inds"), a.get("box_score")
        if (
            not isinstance(fi, np.ndarray)
            or not isinstance(bs, np.ndarray)
            or fi.shape != bs.shape
            or fi.ndim != 1
        ):
            raise SourceError(
                file,
                f"annotations[{i}]",
                "frame_inds and box_score must be 1-D arrays of one length",
            )
        frame_inds.append(fi)
        box_scores.append(bs)
    boxes = np.array([len(f) for f in frame_inds], dtype=np.int64)
    inst_base = np.concatenate(([1], 1 + np.cumsum(boxes)[:-1])) if n else np.zeros(0, np.int64)

    groups: dict[str, list[int]] = {}
    without: list[int] = []
    root = source.parent
    for i, a in enumerate(anns):
        rel = _kpfile_of(a)
        path = relative_inside(rel, root) if rel else None
        if rel and path is not None and path.is_file():
            groups.setdefault(rel, []).append(i)
        else:
            without.append(i)
    if without:
        reason = (
            "name no kpfile"
            if all(_kpfile_of(anns[i]) is None for i in without)
            else "have no kpfile beside the annotation file"
        )
        warnings.warn(
            SourceWarning(
                f"{file}: {len(without)} of {n} clips {reason}; they are ingested without joints"
            ),
            stacklevel=2,
        )
    clip = _KineticsClips(dataset, splits, image_ids, inst_base, frame_inds, box_scores, anns)
    first = dict(first)
    if groups and not len(first["categories"]["keypoints"][0]):
        # the joint layout is only in the kpfiles: look at the first skeleton of the first one
        rel, idxs = next(iter(groups.items()))
        _, _, sample = _read_kpfile(
            (
                str(relative_inside(rel, root)),
                rel,
                [(idxs[0], anns[idxs[0]]["frame_dir"], len(frame_inds[idxs[0]]))],
            )
        )
        joints = next(iter(sample.values()))[0].shape[1]
        labels = first["images"]["label"].fill_null(-1).to_numpy()
        first["categories"] = _categories(dataset, joints, labels, anns)
    first.update(clip.tables(without, {}))
    yield first
    if not groups:
        return
    tasks = [
        (
            str(relative_inside(rel, root)),
            rel,
            [(i, anns[i]["frame_dir"], len(frame_inds[i])) for i in idxs],
        )
        for rel, idxs in groups.items()
    ]
    total = len(tasks)
    for k, (rel, idxs, result) in enumerate(_run_kpfiles(tasks, workers)):
        if progress:
            progress(f"kpfile {rel}", k + 1, total)
        yield clip.tables(idxs, result)


class _KineticsClips:
    """Tables of Kinetics clips: one instance per detected skeleton, joints from kpfile results."""

    def __init__(self, dataset, splits, image_ids, inst_base, frame_inds, box_scores, anns):
        self.dataset, self.splits, self.image_ids = dataset, splits, image_ids
        self.inst_base, self.frame_inds, self.box_scores, self.anns = (
            inst_base,
            frame_inds,
            box_scores,
            anns,
        )

    def tables(self, clips: list[int], kp: dict) -> schema.Tables:
        """``kp``: {clip: (keypoint array [N, V, 3] as float32, extra kpfile keys)} for clips with joints."""
        idx = np.array(sorted(clips), dtype=np.int64)
        boxes = np.array([len(self.frame_inds[i]) for i in idx], dtype=np.int64)
        inst_clip = np.repeat(idx, boxes)
        inst_ids = (
            np.concatenate([self.inst_base[i] + np.arange(len(self.frame_inds[i])) for i in idx])
            if len(idx)
            else np.zeros(0, np.int64)
        )
        frame = (
            np.concatenate([self.frame_inds[i] for i in idx]).astype(np.int32)
            if len(idx)
            else np.zeros(0, np.int32)
        )
        score = (
            np.concatenate([self.box_scores[i].astype(np.float64) for i in idx])
            if len(idx)
            else np.zeros(0)
        )
        joints = np.array([kp[i][0].shape[1] if i in kp else -1 for i in idx], dtype=np.int64)
        inst_joints = np.repeat(joints, boxes)
        n = len(inst_ids)
        split_of = self.splits.column(inst_clip)
        instances = schema.conform(
            "instances",
            {
                "dataset": schema.constant(self.dataset, n),
                "split": split_of,
                "instance_id": inst_ids,
                "image_id": self.image_ids[inst_clip],
                "category_id": np.full(n, PYSKL_SKELETON_CATEGORY, dtype=np.int64),
                "frame": frame,
                "score": score,
                "num_joints": pa.array(inst_joints.astype(np.int32), mask=inst_joints < 0),
            },
        )
        keypoints = schema.empty("keypoints")
        with_kp = [i for i in idx.tolist() if i in kp]
        labelled_inst = np.zeros(n, dtype=bool)
        if with_kp:
            arrays = [kp[i][0] for i in with_kp]
            v = np.repeat([a.shape[1] for a in arrays], [a.shape[0] for a in arrays])
            flat = np.concatenate([a.reshape(-1, 3) for a in arrays])
            sel = np.isin(inst_clip, with_kp)
            keypoints = poses.pose_table(
                self.dataset,
                self.splits.column(inst_clip[sel]),
                self.image_ids[inst_clip[sel]],
                inst_ids[sel],
                np.full(int(sel.sum()), PYSKL_SKELETON_CATEGORY, dtype=np.int64),
                frame[sel],
                v,
                flat[:, 0],
                flat[:, 1],
                padding_visibility([flat[:, 0], flat[:, 1]], flat[:, 2]),
                score=flat[:, 2],
            )
            labelled = (
                np.bincount(
                    np.repeat(np.arange(sel.sum()), v)[flat[:, 2] > 0], minlength=int(sel.sum())
                )
                > 0
            )
            labelled_inst[np.flatnonzero(sel)] = labelled
        # frames: total_frames rows per clip, counting skeletons with a scored joint
        totals = np.array([self._total(i) for i in idx], dtype=np.int64)
        f_clip = np.repeat(idx, totals)
        f_start = jsonnum.run_offsets(totals)[:-1]
        f_frame = np.arange(len(f_clip)) - np.repeat(f_start, totals)
        pos = {c: k for k, c in enumerate(idx.tolist())}
        inst_row = (
            f_start[[pos[c] for c in inst_clip.tolist()]] + frame if n else np.zeros(0, np.int64)
        )
        ok = labelled_inst & (frame >= 0) & (frame < np.repeat(totals, boxes))
        counts = np.bincount(inst_row[ok], minlength=len(f_clip)).astype(np.int32)
        frames = schema.conform(
            "frames",
            {
                "dataset": schema.constant(self.dataset, len(f_clip)),
                "split": self.splits.column(f_clip),
                "image_id": self.image_ids[f_clip],
                "frame": f_frame.astype(np.int32),
                "num_instances": counts,
            },
        )
        out: schema.Tables = {"instances": instances, "keypoints": keypoints, "frames": frames}
        if with_kp:
            out["datasets"] = self._kpfile_metadata({i: kp[i][1] for i in with_kp})
        return out

    def _kpfile_metadata(self, extras: dict[int, dict]) -> pa.Table:
        """What the kpfiles say beyond the joints: their dtype and layout, and any other keys."""
        first = next(iter(extras.values()))
        odd = {}
        for i, extra in extras.items():
            rest = {k: v for k, v in extra.items() if k not in (KPFILE_DTYPE_KEY, _DIRECT)}
            if extra[KPFILE_DTYPE_KEY] != first[KPFILE_DTYPE_KEY]:
                rest[KPFILE_DTYPE_KEY] = extra[KPFILE_DTYPE_KEY]
            if rest:
                odd[str(int(self.image_ids[i]))] = rest
        meta = DatasetMeta(
            "pyskl",
            arrays=PysklArrays(kpfile_keypoint=first[KPFILE_DTYPE_KEY]),
            kpfile_layout="direct" if first.get(_DIRECT) else "by_frame_dir",
            kpfile_extra=odd or None,
        )
        return datasets_table(self.dataset, meta)

    def _total(self, i: int) -> int:
        t = self.anns[i].get("total_frames")
        return t if type(t) is int and t >= 0 else 0


def _run_kpfiles(tasks: list, workers: int | None) -> Iterator[tuple[str, list[int], dict]]:
    """Read kpfiles in worker processes, at most one kpfile in flight per worker."""
    workers = workers or min(len(tasks), os.cpu_count() or 1)
    if workers <= 1 or len(tasks) == 1:
        for task in tasks:
            yield _read_kpfile(task)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending = []
        it = iter(tasks)
        for task in it:
            pending.append(pool.submit(_read_kpfile, task))
            if len(pending) >= workers:
                break
        while pending:
            result = pending.pop(0).result()
            nxt = next(it, None)
            if nxt is not None:
                pending.append(pool.submit(_read_kpfile, nxt))
            yield result


def _read_kpfile(task) -> tuple[str, list[int], dict]:
    """One kpfile: each clip's [N, V, 3] skeletons as float32, checked against its index entry."""
    path, rel, clips = task
    data = safe_pickle.load(path)
    if not isinstance(data, dict):
        raise SourceError(
            path,
            None,
            f"a kpfile must be a dict (frame_dir → {{'keypoint': …}}), got {type(data).__name__}",
        )
    direct = "keypoint" in data and len(clips) == 1
    out = {}
    for i, frame_dir, boxes in clips:
        entry = data if direct else data.get(frame_dir)
        if not isinstance(entry, dict) or not isinstance(entry.get("keypoint"), np.ndarray):
            raise SourceError(path, frame_dir, "has no 'keypoint' array for this clip")
        kp = entry["keypoint"]
        if kp.ndim != 3 or kp.shape[2] != 3 or kp.shape[0] != boxes:
            raise SourceError(
                path,
                frame_dir,
                f"keypoint has shape {kp.shape}, expected ({boxes}, V, 3) from the clip's frame_inds",
            )
        extra = {k: pyjson.encode(v) for k, v in entry.items() if k != "keypoint"}
        extra[KPFILE_DTYPE_KEY] = kp.dtype.str
        if direct:
            extra[_DIRECT] = True
        out[i] = (kp.astype(np.float32), extra)
    return rel, [c[0] for c in clips], out
