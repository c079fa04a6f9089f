"""Tables → a PYSKL pickle (and Kinetics kpfiles): the inverse of ``posestore.ingest.pyskl``.

Joint rows become ``[M, T, V, C]`` arrays in bulk (one reshape of the whole
column, then a view per clip) and are cast back to the dtypes the source had;
the Python loop is over clips, to assemble their dicts.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa

from posestore import jsonnum, poses, pyjson
from posestore.errors import StoreError
from posestore.formats import KPFILE_DTYPE_KEY, PYSKL_DTYPES_KEY, PYSKL_MISSING_KEY, PYSKL_SHAPE_KEY
from posestore.metadata import DatasetMeta, PysklArrays

from .writer import ExportOptions, SplitTables, safe_relative, write_relative

PROTOCOL = 4
"""Pickle protocol written: readable by every Python PYSKL runs on."""


def write(parts: SplitTables, meta: DatasetMeta, out: Path, options: ExportOptions) -> list[Path]:
    """The annotation pickle at ``out`` (or, for a folder, at the source's file name in it) and
    the Kinetics kpfiles beside it under their relative paths. Returns the files written."""
    if meta.format != "pyskl":
        raise StoreError(f"a {meta.format} dataset cannot be written as a PYSKL pickle")
    if out.suffix.lower() not in (".pkl", ".pickle"):
        first_split = next(iter(meta.splits.values()), None)
        out = safe_relative((first_split.path if first_split else None) or "annotations.pkl", out)
    if options.progress:
        options.progress(f"writing {out.name}", -1, -1)
    obj, kpfiles = pyskl_objects(parts, meta, options.whole)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(pickle.dumps(obj, protocol=PROTOCOL))
    written = [out]
    for rel, content in kpfiles.items():
        written.append(write_relative(rel, pickle.dumps(content, protocol=PROTOCOL), out.parent))
    return written


def pyskl_objects(
    parts: SplitTables, meta: DatasetMeta, whole: bool = True
) -> tuple[object, dict[str, dict]]:
    """The annotation object (as the source laid it out) and the kpfiles, by relative path.

    ``whole``: the parts are the entire dataset, so the split lists are written as they
    were; for a selection they keep only the selected clips.
    """
    images = pa.concat_tables([p["images"] for p in parts.values()]).sort_by("image_id")
    instances = pa.concat_tables([p["instances"] for p in parts.values()]).sort_by("instance_id")
    keypoints = pa.concat_tables([p["keypoints"] for p in parts.values()])
    arrays = meta.arrays or PysklArrays()
    clips = _clip_dicts(images)
    kpfiles: dict[str, dict] = {}
    if meta.variant == "kinetics":
        kpfiles = _kinetics(clips, images, instances, keypoints, meta)
    else:
        _skeleton_arrays(clips, images, instances, keypoints, arrays)
    anns = [_ordered(c.values, meta.key_order or []) for c in clips]
    layout = meta.layout or "list"
    if layout == "single":
        if len(anns) != 1:
            raise StoreError(f"the source was one clip; the selection has {len(anns)}")
        return anns[0], kpfiles
    if layout == "list":
        return anns, kpfiles
    top = {k: pyjson.decode(v) for k, v in (meta.top or {}).items()}
    if "split" in top and isinstance(top["split"], dict) and not whole:
        chosen = {c.values.get("frame_dir") for c in clips}
        top["split"] = {k: [fd for fd in v if fd in chosen] for k, v in top["split"].items()}
    out = {}
    for key in top:
        out[key] = top[key]
        if key == "split" and "annotations" not in top:
            out["annotations"] = anns
    out.setdefault("annotations", anns)
    return out, kpfiles


class _Clip:
    """One clip being rebuilt: its values and what its attributes said."""

    __slots__ = ("values", "extra", "missing", "dtypes")

    def __init__(self, values: dict, extra: dict) -> None:
        self.values = values
        self.extra = extra
        self.missing = set(extra.pop(PYSKL_MISSING_KEY, []))
        self.dtypes = extra.pop(PYSKL_DTYPES_KEY, {})


def _clip_dicts(images: pa.Table) -> list[_Clip]:
    cols = {
        c: images[c].to_pylist()
        for c in ("file_name", "label", "width", "height", "num_frames", "attributes")
    }
    clips = []
    for fd, label, w, h, t, attrs in zip(*cols.values()):
        extra = orjson.loads(attrs) if attrs else {}
        values: dict = {"frame_dir": fd, "label": label, "img_shape": (h, w), "total_frames": t}
        clip = _Clip(values, extra)
        for key in list(clip.extra):
            if not key.startswith("__"):
                values[key] = pyjson.decode(clip.extra[key])
        for key in clip.missing:
            values.pop(key, None)
        clips.append(clip)
    return clips


def _ordered(values: dict, order: list[str]) -> dict:
    return {
        **{k: values[k] for k in order if k in values},
        **{k: v for k, v in values.items() if k not in order},
    }


def _joint_columns(
    keypoints: pa.Table, instances: pa.Table, names: tuple[str, ...]
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The pose lists' values flat, one per joint in (instance, frame, joint) order, and each
    joint's instance position. Pose rows come in that order as ingest writes them; only
    rows out of order are gathered."""
    ids = instances["instance_id"].to_numpy()
    pos = np.searchsorted(ids, keypoints["instance_id"].to_numpy()).astype(np.int64)
    frame = keypoints["frame"].to_numpy().astype(np.int64)
    lengths = poses.joint_counts(keypoints)
    values = {
        name: poses.joint_values(keypoints[name], lengths).to_numpy(zero_copy_only=False)
        for name in names
    }
    key = (pos << 32) | frame
    if len(key) and not np.all(key[1:] >= key[:-1]):
        order = np.argsort(key, kind="stable")
        starts = (np.cumsum(lengths) - lengths)[order]
        counts = lengths[order]
        within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        rows = np.repeat(starts, counts) + within
        values = {name: column[rows] for name, column in values.items()}
        return values, np.repeat(pos[order], counts)
    return values, np.repeat(pos, lengths)


def _skeleton_arrays(clips, images, instances, keypoints, arrays: PysklArrays) -> None:
    """``keypoint`` [M, T, V, C] and ``keypoint_score`` [M, T, V] of every clip, in the source dtypes."""
    image_ids = images["image_id"].to_numpy()
    inst_image = instances["image_id"].to_numpy()
    inst_joints = instances["num_joints"].to_numpy(zero_copy_only=False)
    channels = 3 if keypoints["z"].null_count < len(keypoints) else 2
    axes = ("x", "y", "z")[:channels]
    has_score = arrays.keypoint_score is not None
    flat, row_inst = _joint_columns(
        keypoints, instances, (*axes, *(("score",) if has_score else ()))
    )
    per_inst = np.bincount(row_inst, minlength=len(instances))
    coords = np.stack([flat[a] for a in axes], axis=1)
    scores = flat["score"] if has_score else None
    kp_dtype = arrays.dtype("keypoint")
    sc_dtype = arrays.dtype("keypoint_score")
    coords_cast = coords.astype(kp_dtype)
    scores_cast = scores.astype(sc_dtype) if scores is not None else None
    inst_start = jsonnum.run_offsets(per_inst)[:-1]
    clip_pos = np.searchsorted(image_ids, inst_image)
    first_inst = np.searchsorted(clip_pos, np.arange(len(images)))
    last_inst = np.searchsorted(clip_pos, np.arange(len(images)), side="right")
    for k, clip in enumerate(clips):
        a, b = first_inst[k], last_inst[k]
        shape = clip.extra.get(PYSKL_SHAPE_KEY)
        if a == b and shape is None:
            continue
        if a == b:
            m, t, v, c = shape
            clip.values["keypoint"] = np.zeros(
                (0, t, v, c), dtype=np.dtype(clip.dtypes.get("keypoint", kp_dtype))
            )
            if has_score:
                clip.values["keypoint_score"] = np.zeros(
                    (0, t, v), dtype=np.dtype(clip.dtypes.get("keypoint_score", sc_dtype))
                )
            continue
        v = int(inst_joints[a])
        start, stop = inst_start[a], inst_start[b - 1] + per_inst[b - 1]
        m = b - a
        t = (stop - start) // (m * v)
        if "keypoint" in clip.values:
            pass  # kept whole in attributes (float64 that float32 cannot hold)
        elif "keypoint" in clip.dtypes:
            block = coords[start:stop].astype(np.dtype(clip.dtypes["keypoint"]))
            clip.values["keypoint"] = block.reshape(m, t, v, channels)
        else:
            clip.values["keypoint"] = coords_cast[start:stop].reshape(m, t, v, channels)
        if scores is not None and scores_cast is not None and "keypoint_score" not in clip.values:
            sblock = (
                scores[start:stop].astype(np.dtype(clip.dtypes["keypoint_score"]))
                if "keypoint_score" in clip.dtypes
                else scores_cast[start:stop]
            )
            clip.values["keypoint_score"] = sblock.reshape(m, t, v)


def _kinetics(clips, images, instances, keypoints, meta: DatasetMeta) -> dict[str, dict]:
    """``frame_inds`` and ``box_score`` per clip, and the kpfiles under their ``raw_file`` paths."""
    arrays = meta.arrays or PysklArrays()
    image_ids = images["image_id"].to_numpy()
    inst_image = instances["image_id"].to_numpy()
    frame = instances["frame"].to_numpy(zero_copy_only=False)
    score = instances["score"].to_numpy(zero_copy_only=False)
    joints = instances["num_joints"].to_numpy(zero_copy_only=False)
    clip_pos = np.searchsorted(image_ids, inst_image)
    first = np.searchsorted(clip_pos, np.arange(len(images)))
    last = np.searchsorted(clip_pos, np.arange(len(images)), side="right")
    flat, row_inst = _joint_columns(keypoints, instances, ("x", "y", "score"))
    per_inst = np.bincount(row_inst, minlength=len(instances))
    xys = np.stack([flat[a] for a in ("x", "y", "score")], axis=1)
    inst_start = jsonnum.run_offsets(per_inst)[:-1]
    kp_dtype = arrays.dtype("kpfile_keypoint")
    extras = meta.kpfile_extra or {}
    direct = meta.kpfile_layout == "direct"
    kpfiles: dict[str, dict] = {}
    for k, clip in enumerate(clips):
        a, b = first[k], last[k]
        fi_dtype = np.dtype(clip.dtypes.get("frame_inds") or arrays.dtype("frame_inds"))
        bs_dtype = np.dtype(clip.dtypes.get("box_score") or arrays.dtype("box_score"))
        clip.values["frame_inds"] = frame[a:b].astype(fi_dtype)
        clip.values["box_score"] = score[a:b].astype(bs_dtype)
        if a == b or np.isnan(joints[a].astype(np.float64)):
            continue
        rel = clip.values.get("raw_file", clip.values.get("filename"))
        if not isinstance(rel, str):
            continue
        v = int(joints[a])
        start, stop = inst_start[a], inst_start[b - 1] + per_inst[b - 1]
        extra = {
            key: pyjson.decode(val)
            for key, val in extras.get(str(int(image_ids[k])), {}).items()
            if not key.startswith("__")
        }
        dtype = np.dtype(extras.get(str(int(image_ids[k])), {}).get(KPFILE_DTYPE_KEY, kp_dtype))
        entry = {"keypoint": xys[start:stop].astype(dtype).reshape(b - a, v, 3), **extra}
        if direct:
            kpfiles[rel] = entry
        else:
            kpfiles.setdefault(rel, {})[clip.values["frame_dir"]] = entry
    return kpfiles
