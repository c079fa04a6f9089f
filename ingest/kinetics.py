"""PYSKL's Kinetics-400 variant → Tables: an index pickle of clips without arrays, joints in kpfiles.

A clip carries ``frame_inds`` and ``box_score`` (one detected skeleton each) and
names its kpfile in ``raw_file`` (or ``filename``), a pickle beside the index
holding ``frame_dir → {"keypoint": [N, V, 3]}``. The index is planned once
(``plan_kinetics``): its catalogs, and one ``KpfileTask`` per kpfile carrying the
index entries of that kpfile's clips. A task is self-contained and picklable: it is
read here, one kpfile at a time (memory bounded by the largest kpfile, whatever the
number of clips), in worker processes, or as a Ray task (``posestore.on_ray``).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from posestore import jsonnum, poses, pyjson, safe_pickle, schema
from posestore.errors import PoseStoreError, SourceError, UnsafePickle, ValueNotKept
from posestore.formats import (
    KPFILE_DTYPE_KEY,
    KPFILE_JOINTS_KEY,
    PYSKL_SKELETON_CATEGORY,
    SourceWarning,
)
from posestore.metadata import DatasetMeta, PysklArrays, datasets_table
from posestore.paths import is_file, relative_inside

from .pyskl import INT32, NUMBER_KINDS, _categories, _Splits, padding_visibility

_DIRECT = "__direct__"
"""A worker's mark on a kpfile that is one clip's entry itself (``kpfile_layout: direct``)."""

EXAMPLES = 3
"""Clips named in a message about a kpfile (the count says how many it held)."""


def _kpfile_of(a: dict) -> str | None:
    path = a.get("raw_file", a.get("filename"))
    return path if isinstance(path, str) else None


@dataclass
class KineticsClips:
    """Index entries of some clips, in index order: all that their tables need."""

    dataset: str
    split_names: list[str]
    split_codes: np.ndarray
    image_ids: np.ndarray
    inst_base: np.ndarray
    """Instance id of each clip's first detection (ids run over the whole index)."""
    frame_dirs: list
    frame_inds: list[np.ndarray]
    box_scores: list[np.ndarray]
    totals: np.ndarray

    def named(self) -> str:
        """``N clips (a, b, c, …)``: for messages about the kpfile that holds them."""
        shown = ", ".join(str(f) for f in self.frame_dirs[:EXAMPLES])
        more = ", …" if len(self.frame_dirs) > EXAMPLES else ""
        return f"{len(self.frame_dirs):,} clips ({shown}{more})"

    def tables(self, kp: dict[int, tuple[np.ndarray, dict]] | None = None) -> schema.Tables:
        """Instances, keypoints and frames of these clips. ``kp``: for clips with joints (by
        position in this slice), their [N, V, 3] skeletons and the kpfile's other keys."""
        kp = kp or {}
        n_clips = len(self.frame_dirs)
        boxes = np.array([len(f) for f in self.frame_inds], dtype=np.int64)
        n = int(boxes.sum())
        inst_clip = np.repeat(np.arange(n_clips), boxes)
        inst_ids = np.repeat(self.inst_base, boxes) + (
            np.arange(n) - np.repeat(jsonnum.run_offsets(boxes)[:-1], boxes)
        )
        frame = np.concatenate(self.frame_inds).astype(np.int32) if n else np.zeros(0, np.int32)
        score = np.concatenate(self.box_scores).astype(np.float64) if n else np.zeros(0, np.float64)
        joints = np.array(
            [kp[i][0].shape[1] if i in kp else -1 for i in range(n_clips)], dtype=np.int64
        )
        inst_joints = np.repeat(joints, boxes)
        instances = schema.conform(
            "instances",
            {
                "dataset": schema.constant(self.dataset, n),
                "split": self._split(inst_clip),
                "instance_id": inst_ids,
                "image_id": self.image_ids[inst_clip],
                "category_id": np.full(n, PYSKL_SKELETON_CATEGORY, dtype=np.int64),
                "frame": frame,
                "score": score,
                "num_joints": pa.array(inst_joints.astype(np.int32), mask=inst_joints < 0),
            },
        )
        keypoints = schema.empty("keypoints")
        labelled_inst = np.zeros(n, dtype=bool)
        with_kp = sorted(kp)
        if with_kp:
            arrays = [kp[i][0] for i in with_kp]
            v = np.repeat([a.shape[1] for a in arrays], [a.shape[0] for a in arrays])
            # kept in the kpfile's dtype (float16) until each channel is cut out as float32
            flat = np.concatenate([a.reshape(-1, 3) for a in arrays])
            x, y, s = (flat[:, c].astype(np.float32) for c in range(3))
            del flat
            sel = joints[inst_clip] >= 0
            keypoints = poses.pose_table(
                self.dataset,
                self._split(inst_clip[sel]),
                self.image_ids[inst_clip[sel]],
                inst_ids[sel],
                np.full(int(sel.sum()), PYSKL_SKELETON_CATEGORY, dtype=np.int64),
                frame[sel],
                v,
                x,
                y,
                padding_visibility([x, y], s),
                score=s,
            )
            rows = int(sel.sum())
            if rows and (v == v[0]).all():  # one skeleton layout: a row per pose, no repeat
                labelled = (s.reshape(rows, int(v[0])) > 0).any(axis=1)
            else:
                labelled = np.bincount(np.repeat(np.arange(rows), v)[s > 0], minlength=rows) > 0
            labelled_inst[np.flatnonzero(sel)] = labelled
        # frames: total_frames rows per clip, counting skeletons with a scored joint
        totals = self.totals
        f_start = jsonnum.run_offsets(totals)[:-1]
        f_clip = np.repeat(np.arange(n_clips), totals)
        f_frame = np.arange(len(f_clip)) - np.repeat(f_start, totals)
        inst_row = np.repeat(f_start, boxes) + frame
        ok = labelled_inst & (frame >= 0) & (frame < np.repeat(totals, boxes))
        counts = np.bincount(inst_row[ok], minlength=len(f_clip)).astype(np.int32)
        frames = schema.conform(
            "frames",
            {
                "dataset": schema.constant(self.dataset, len(f_clip)),
                "split": self._split(f_clip),
                "image_id": self.image_ids[f_clip],
                "frame": f_frame.astype(np.int32),
                "num_instances": counts,
            },
        )
        out: schema.Tables = {"instances": instances, "keypoints": keypoints, "frames": frames}
        if with_kp:
            out["datasets"] = self._kpfile_metadata({i: kp[i][1] for i in with_kp})
        return out

    def _split(self, clips: np.ndarray) -> pa.Array:
        return schema.coded(self.split_codes[clips], self.split_names)

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


@dataclass
class KpfileTask:
    """One kpfile and the index entries of the clips it holds."""

    path: str
    rel: str
    clips: KineticsClips


@dataclass
class KineticsPlan:
    """The index's own tables (``first``: catalogs, clips, clips without joints) and a task
    per kpfile, in the order a local ingest reads them."""

    first: schema.Tables
    tasks: list[KpfileTask]

    def read(
        self, progress: Callable[[str, int, int], None] | None, workers: int | None = None
    ) -> Iterator[schema.Tables]:
        """``first``, then each kpfile's tables as it is read: here one kpfile at a time, or
        with ``workers`` > 1 in that many processes, one kpfile in flight each."""
        yield self.first
        total = sum(len(t.clips.frame_dirs) for t in self.tasks)
        done = 0
        for k, (task, tables) in enumerate(_run_kpfiles(self.tasks, workers)):
            done += len(task.clips.frame_dirs)
            if progress:
                progress(
                    f"kpfile {k + 1:,} of {len(self.tasks):,} ({task.rel}): "
                    f"{done:,} of {total:,} clips",
                    done,
                    total,
                )
            yield tables


def plan_kinetics(
    source: Path,
    anns: list[dict],
    dataset: str,
    splits: _Splits,
    image_ids: np.ndarray,
    first: schema.Tables,
) -> KineticsPlan:
    """Check the index, find its kpfiles and plan one task per kpfile.

    An index whose kpfiles are all absent (the index downloaded alone) is ingested without
    joints, with a warning; a kpfile missing where others are present is an error naming it
    and the clips it holds."""
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
        if fi.dtype.kind not in "iu" or (
            len(fi) and not INT32[0] <= fi.min() <= fi.max() <= INT32[1]
        ):
            raise SourceError(
                file,
                f"annotations[{i}].frame_inds",
                f"expected frame numbers (integers of at most 32 bits), got {fi.dtype} "
                + (f"from {fi.min()} to {fi.max()}" if len(fi) and fi.dtype.kind in "iuf" else ""),
            )
        if bs.dtype.kind not in NUMBER_KINDS:
            raise SourceError(
                file, f"annotations[{i}].box_score", f"has dtype {bs.dtype}; expected numbers"
            )
        frame_inds.append(fi)
        box_scores.append(bs)
    boxes = np.array([len(f) for f in frame_inds], dtype=np.int64)
    inst_base = np.concatenate(([1], 1 + np.cumsum(boxes)[:-1])) if n else np.zeros(0, np.int64)
    totals = np.array(
        [t if type(t := a.get("total_frames")) is int and t >= 0 else 0 for a in anns],
        dtype=np.int64,
    )

    def clips(idxs: list[int]) -> KineticsClips:
        at = np.array(idxs, dtype=np.int64)
        return KineticsClips(
            dataset,
            splits.names,
            splits.codes[at],
            image_ids[at],
            inst_base[at],
            [anns[i]["frame_dir"] for i in idxs],
            [frame_inds[i] for i in idxs],
            [box_scores[i] for i in idxs],
            totals[at],
        )

    root = source.parent
    groups: dict[str, list[int]] = {}
    without: list[int] = []
    for i, a in enumerate(anns):
        rel = _kpfile_of(a)
        if rel is None:
            without.append(i)
        else:
            groups.setdefault(rel, []).append(i)
    paths = {rel: relative_inside(rel, root) for rel in groups}
    present = [rel for rel, p in paths.items() if p is not None and is_file(p)]
    if groups and not present:  # the index without its kpfiles
        without = sorted(without + [i for idxs in groups.values() for i in idxs])
        groups = {}
    for rel, path in paths.items():
        if rel not in groups or rel in present:
            continue
        problem = "names a kpfile outside the index's folder" if path is None else "no such kpfile"
        raise SourceError(
            root / rel if path is None else path,
            None,
            f"{problem}; the index {source.name} names it for {clips(groups[rel]).named()} "
            f"(other kpfiles are there: {len(present):,} of {len(groups):,}); nothing was ingested",
        )
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
            stacklevel=3,
        )
    tasks = [KpfileTask(str(paths[rel]), rel, clips(idxs)) for rel, idxs in groups.items()]
    first = dict(first)
    if tasks and not len(first["categories"]["keypoints"][0]):
        # the joint layout is only in the kpfiles: the first skeleton of the first one says it
        task = tasks[0]
        sample = _load_kpfile(task)
        joints = _clip_array(sample, task, 0, direct=_direct(sample, task)).shape[1]
        del sample
        labels = first["images"]["label"].fill_null(-1).to_numpy()
        first["categories"] = _categories(dataset, joints, labels, anns)
    first.update(clips(without).tables())
    return KineticsPlan(first, tasks)


def read_kpfile(task: KpfileTask) -> schema.Tables:
    """One kpfile's instances, keypoints and frames, its clips checked against the index.

    Any problem with the kpfile (absent, unreadable, refused, a clip missing or of another
    shape) is a ``SourceError`` naming the kpfile and the clips it holds."""
    data = _load_kpfile(task)
    direct = _direct(data, task)
    kp = {}
    for k, frame_dir in enumerate(task.clips.frame_dirs):
        array = _clip_array(data, task, k, direct)
        entry = data if direct else data[frame_dir]
        record = _record(frame_dir)
        if any(type(key) is not str for key in entry):
            raise SourceError(task.path, record, "has a key that is not a string")
        try:
            extra = {
                pyjson.encode(key): pyjson.encode(v)
                for key, v in entry.items()
                if key != "keypoint"
            }
        except ValueNotKept as e:
            raise SourceError(task.path, record, str(e)) from e
        extra[KPFILE_DTYPE_KEY] = array.dtype.str
        if not len(array):  # no detection: no instance carries V, the metadata does
            extra[KPFILE_JOINTS_KEY] = int(array.shape[1])
        if direct:
            extra[_DIRECT] = True
        kp[k] = (array, extra)
    del data
    return task.clips.tables(kp)


def _load_kpfile(task: KpfileTask) -> dict:
    held = f"it holds {task.clips.named()}"
    try:
        data = safe_pickle.load(task.path)
    except UnsafePickle as e:
        raise UnsafePickle(e.file, e.record, f"{e.problem}; {held}") from e
    except PoseStoreError as e:
        raise SourceError(task.path, None, f"{e}; {held}") from e
    except OSError as e:
        raise SourceError(task.path, None, f"cannot be read ({e.strerror}); {held}") from e
    if not isinstance(data, dict):
        raise SourceError(
            task.path,
            None,
            f"a kpfile must be a dict (frame_dir → {{'keypoint': …}}), got "
            f"{type(data).__name__}; {held}",
        )
    return data


def _direct(data: dict, task: KpfileTask) -> bool:
    """A per-video kpfile (the 2021 layout) is the clip's entry itself."""
    return "keypoint" in data and len(task.clips.frame_dirs) == 1


def _clip_array(data: dict, task: KpfileTask, k: int, direct: bool) -> np.ndarray:
    frame_dir = task.clips.frame_dirs[k]
    entry = data if direct else data.get(frame_dir) if isinstance(frame_dir, Hashable) else None
    if not isinstance(entry, dict) or not isinstance(entry.get("keypoint"), np.ndarray):
        raise SourceError(
            task.path,
            _record(frame_dir),
            f"has no 'keypoint' array for this clip, one of the {task.clips.named()} "
            "the index puts in this kpfile",
        )
    kp = entry["keypoint"]
    boxes = len(task.clips.frame_inds[k])
    if kp.ndim != 3 or kp.shape[2] != 3 or kp.shape[0] != boxes:
        raise SourceError(
            task.path,
            _record(frame_dir),
            f"keypoint has shape {kp.shape}, expected ({boxes}, V, 3) from the clip's frame_inds",
        )
    if kp.dtype.kind not in NUMBER_KINDS:
        raise SourceError(
            task.path,
            _record(frame_dir),
            f"keypoint has dtype {kp.dtype}; expected floats or integers",
        )
    return kp


def _record(frame_dir: object) -> str:
    return frame_dir if type(frame_dir) is str else repr(frame_dir)


def _run_kpfiles(
    tasks: list[KpfileTask], workers: int | None
) -> Iterator[tuple[KpfileTask, schema.Tables]]:
    """Each task's tables in order: read here (the default: a kpfile's tables are built
    faster than they are written, and memory holds one kpfile), or in ``workers`` processes
    with at most one kpfile in flight per worker."""
    workers = min(workers or 1, len(tasks), os.cpu_count() or 1)
    if workers <= 1:
        for task in tasks:
            yield task, read_kpfile(task)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending = []
        it = iter(tasks)
        for task in it:
            pending.append((task, pool.submit(read_kpfile, task)))
            if len(pending) >= workers:
                break
        while pending:
            task, future = pending.pop(0)
            result = future.result()
            nxt = next(it, None)
            if nxt is not None:
                pending.append((nxt, pool.submit(read_kpfile, nxt)))
            yield task, result
