"""The page's data: the shown images, their instances and their poses as flat columns.

Built in bulk from the Tables the store reads back (Arrow → NumPy), serialised once as
JSON into the page, and drawn there by a small script: one array per column, the joints
of every pose flat (``x``, ``y``, ``v``, ``s``; a pose is a ``start`` and a joint count
into them), so no Python runs per joint or per annotation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from posestore import jsonnum, poses, schema, skeleton
from posestore.skeleton import SkeletonError

from ..evaluate import ERROR_CLASSES  # the page codes them 0… in this order
from .pictures import THUMBNAIL_PX, crowd_mask, image_file, thumbnails

ROLE_TRUTH, ROLE_PREDICTION = 0, 1
"""An instance is the dataset's own (or the ground truth of a predictions dataset), or a
prediction."""


@dataclass
class ViewPart:
    """One split partition's shown images with what hangs off them, as the store reads them.

    For a predictions dataset ``instances``/``keypoints`` are its ground truth's, and
    ``predictions``/``predicted``/``errors`` its own instances, keypoints and ``eval_joints``.
    """

    split: str
    images: pa.Table
    instances: pa.Table
    keypoints: pa.Table
    image_dir: Path | None = None
    predictions: pa.Table | None = None
    predicted: pa.Table | None = None
    errors: pa.Table | None = None


@dataclass
class PageData:
    """What the page embeds (``content``, serialised as JSON) and what it draws, counted."""

    content: dict
    instances: int = 0
    joints: int = 0
    """Labelled joints of the shown poses (every frame of a clip), predictions' joints too."""
    missing: dict[str, int] = field(default_factory=dict)
    """Images without a picture, by reason (``not found``, ``unreadable``, …)."""


def page_data(
    parts: list[ViewPart],
    categories: pa.Table,
    about: dict,
    clips: bool = False,
    thumbnail: int = THUMBNAIL_PX,
) -> PageData:
    """The page's data for the shown images of ``parts`` (each in page order), the dataset's
    ``categories`` and ``about`` (what the header says: dataset, selection, counts).

    ``clips``: the images are PYSKL clips, drawn as players, with no picture to look for."""
    if not parts:  # nothing selected: the page says so, over empty columns
        parts = [ViewPart("", *(schema.empty(t) for t in ("images", "instances", "keypoints")))]
    objects, actions = category_entries(categories)
    category_ids = np.array([c["id"] for c in objects], dtype=np.int64)
    predicting = any(p.predictions is not None for p in parts)
    instances, posed = _Columns(), _Columns()
    regions: list[dict] = []
    region_of: list[np.ndarray] = []
    image_offset = 0
    for part in parts:
        image_ids = part.images["image_id"].to_numpy()
        truth = _by_image(part.instances, image_ids)
        first_truth = instances.rows
        _add_instances(instances, truth, image_ids, image_offset, category_ids, ROLE_TRUTH)
        _add_poses(posed, part.keypoints, truth, first_truth, predicting)
        region_of.append(_crowd_regions(truth, regions, thumbnail))
        if part.predictions is not None:
            predictions = _by_image(part.predictions, image_ids)
            match, err, dist = _evaluated(part.errors, truth, predictions, part.predicted)
            match = np.where(match >= 0, match + first_truth, -1)
            first = instances.rows
            _add_instances(
                instances, predictions, image_ids, image_offset, category_ids,
                ROLE_PREDICTION, match,
            )  # fmt: skip
            _add_poses(posed, part.predicted, predictions, first, predicting, err, dist)
            region_of.append(np.full(len(predictions), -1, dtype=np.int32))
        image_offset += len(image_ids)
    instance_columns = instances.arrays()
    instance_columns["region"] = (
        np.concatenate(region_of) if region_of else np.zeros(0, dtype=np.int32)
    )
    pose_arrays = posed.arrays()
    lengths = pose_arrays["n"]
    pose_columns: dict[str, np.ndarray | None] = dict(pose_arrays)
    pose_columns["start"] = jsonnum.run_offsets(lengths)[:-1]
    if not posed.scored:
        pose_columns["s"] = None  # no source gave joint scores

    image_columns, missing = _images(parts, clips, thumbnail)
    drawn = pose_arrays["v"] > 0
    if predicting:  # every joint of a prediction is drawn: its v is no visibility
        role = instance_columns["role"][pose_arrays["instance"]]
        drawn |= np.repeat(role == ROLE_PREDICTION, lengths)
    content = {
        "about": {**about, "missing": missing},
        "categories": objects,
        "actions": actions,
        "errors": list(ERROR_CLASSES),
        "images": image_columns,
        "instances": instance_columns,
        "regions": regions,
        "poses": pose_columns,
    }
    return PageData(content, len(instance_columns["id"]), int(drawn.sum()), missing)


def category_entries(categories: pa.Table) -> tuple[list[dict], dict[str, str]]:
    """The object categories as the page draws them (``id``, ``name``, ``joints`` names,
    0-based ``bones``), and the action names by label (PYSKL clips)."""
    objects, actions = [], {}
    for row in categories.to_pylist():
        if row.get("kind") == "action":
            actions[str(row["category_id"])] = row["name"]
            continue
        names = row.get("keypoints") or row.get("canonical") or []
        objects.append(
            {
                "id": row["category_id"],
                "name": row.get("name"),
                "joints": [n if n is not None else f"joint {j}" for j, n in enumerate(names)],
                "bones": bones(row),
            }
        )
    return objects, actions


def bones(category: dict) -> list[list[int]]:
    """A category's bones as 0-based joint pairs: its own ``skeleton`` (0-based when it names
    joint 0, else 1-based as COCO's: the rule ``posestore validate`` reads it by); where it has
    none, or one naming joints it lacks (CrowdPose files carry COCO's), the bones of the
    registry skeleton it matched, through the joints' canonical names."""
    joints = len(category.get("keypoints") or category.get("canonical") or [])
    given = [list(b) for b in category.get("skeleton") or [] if b and len(b) == 2]
    pairs = []
    if given:
        base = 0 if min(min(b) for b in given) == 0 else 1
        pairs = [[a - base, b - base] for a, b in given]
        if not joints or all(0 <= j < joints for pair in pairs for j in pair):
            return pairs
    return _registry_bones(category) or [
        pair for pair in pairs if all(0 <= j < joints for j in pair)
    ]


def _registry_bones(category: dict) -> list[list[int]]:
    canonical = category.get("canonical") or []
    if not category.get("registry") or not canonical:
        return []
    try:
        registry = skeleton.skeleton(category["registry"])
    except SkeletonError:
        return []
    index = {name: j for j, name in enumerate(canonical) if name is not None}
    names = registry.canonicals
    return [
        [index[names[a]], index[names[b]]]
        for a, b in registry.bones
        if names[a] in index and names[b] in index
    ]


class _Columns:
    """Named NumPy columns gathered piece by piece, concatenated once at the end."""

    def __init__(self) -> None:
        self.pieces: dict[str, list[np.ndarray]] = {}
        self.rows = 0
        self.scored = False  # whether any pose carries joint scores

    def add(self, rows: int, **columns: np.ndarray) -> None:
        for name, values in columns.items():
            self.pieces.setdefault(name, []).append(values)
        self.rows += rows

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: np.concatenate(pieces) for name, pieces in self.pieces.items()}


def _by_image(instances: pa.Table, image_ids: np.ndarray) -> pa.Table:
    """Instances in their images' page order (stored order within an image)."""
    row = schema.positions(image_ids, instances["image_id"].to_numpy())
    return instances.take(pa.array(np.argsort(row, kind="stable")))


def _add_instances(
    out: _Columns,
    instances: pa.Table,
    image_ids: np.ndarray,
    image_offset: int,
    category_ids: np.ndarray,
    role: int,
    match: np.ndarray | None = None,
) -> None:
    n = len(instances)
    category = pc.fill_null(instances["category_id"], -1).to_numpy()
    at = schema.positions(category_ids, category)
    known = category_ids[at] == category if len(category_ids) else np.zeros(n, dtype=bool)
    out.add(
        n,
        image=(schema.positions(image_ids, instances["image_id"].to_numpy()) + image_offset).astype(
            np.int32
        ),
        id=instances["instance_id"].to_numpy(),
        category=np.where(known, at, -1).astype(np.int32),
        track=pc.fill_null(instances["track"], -1).to_numpy(),
        frame=pc.fill_null(instances["frame"], -1).to_numpy(),
        crowd=pc.fill_null(instances["iscrowd"], 0).to_numpy(),
        box=np.stack(
            [_floats(instances[c]) for c in ("bbox_x", "bbox_y", "bbox_w", "bbox_h")], axis=1
        ).ravel(),
        score=_floats(instances["score"]),
        role=np.full(n, role, dtype=np.int8),
        match=np.full(n, -1, dtype=np.int32) if match is None else match.astype(np.int32),
    )


def _add_poses(
    out: _Columns,
    keypoints: pa.Table,
    instances: pa.Table,
    first_instance: int,
    predicting: bool,
    err: np.ndarray | None = None,
    dist: np.ndarray | None = None,
) -> None:
    """Pose rows (their instance's row on the page, frame, joint count) and their joints flat."""
    lengths = poses.joint_counts(keypoints)
    total = int(lengths.sum())
    instance = schema.positions(
        instances["instance_id"].to_numpy(), keypoints["instance_id"].to_numpy()
    )
    score = poses.joint_values(keypoints["score"], lengths).cast(pa.float32())
    out.scored |= score.null_count < len(score)
    columns = {
        "instance": (instance + first_instance).astype(np.int32),
        "frame": pc.fill_null(keypoints["frame"], 0).to_numpy().astype(np.int32),
        "n": lengths.astype(np.int32),
        "x": _joint_floats(keypoints["x"], lengths),
        "y": _joint_floats(keypoints["y"], lengths),
        "v": pc.fill_null(poses.joint_values(keypoints["visibility"], lengths), 0)
        .to_numpy()
        .astype(np.int8),
        "s": _floats(score).astype(np.float32),
    }
    if predicting:  # error class and distance per joint: only a matched prediction's are known
        columns["err"] = np.full(total, -1, dtype=np.int8) if err is None else err
        columns["dist"] = np.full(total, np.nan, dtype=np.float32) if dist is None else dist
    out.add(len(keypoints), **columns)


def _joint_floats(column: pa.ChunkedArray, lengths: np.ndarray) -> np.ndarray:
    return _floats(poses.joint_values(column, lengths)).astype(np.float32)


def _floats(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A numeric column as float64 NumPy, null as NaN (which the page's JSON writes as null)."""
    filled = pc.fill_null(column.cast(pa.float64()), float("nan"))
    return filled.to_numpy() if len(filled) else np.zeros(0)


def _evaluated(
    errors: pa.Table | None, truth: pa.Table, predictions: pa.Table, predicted: pa.Table
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """From ``eval_joints``: each prediction's matched ground-truth row in ``truth`` (-1: none),
    and per joint of ``predicted`` (flat, in its order) the error class code (-1: none) and
    the distance to the ground-truth joint."""
    lengths = poses.joint_counts(predicted)
    err = np.full(int(lengths.sum()), -1, dtype=np.int8)
    dist = np.full(len(err), np.nan, dtype=np.float32)
    match = np.full(len(predictions), -1, dtype=np.int64)
    if errors is None or not len(errors):
        return match, err, dist
    dt_ids, gt_ids = errors["dt_instance_id"].to_numpy(), errors["gt_instance_id"].to_numpy()
    dt_row = _rows_of(predictions["instance_id"].to_numpy(), dt_ids)
    gt_row = _rows_of(truth["instance_id"].to_numpy(), gt_ids)
    paired = (dt_row >= 0) & (gt_row >= 0)
    match[dt_row[paired]] = gt_row[paired]
    pose = _rows_of(predicted["instance_id"].to_numpy(), dt_ids)  # a prediction has one pose
    joint = errors["joint"].to_numpy().astype(np.int64)
    ok = (pose >= 0) & (joint >= 0) & (joint < lengths[pose.clip(0)] if len(lengths) else False)
    flat = jsonnum.run_offsets(lengths)[pose[ok]] + joint[ok]
    code = pc.fill_null(pc.index_in(errors["error"], pa.array(ERROR_CLASSES)), -1).to_numpy()
    err[flat] = code[ok]
    dist[flat] = _floats(errors["distance"])[ok]
    return match, err, dist


def _rows_of(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Row of each value among ``keys`` (unique), -1 where it is not there."""
    if not len(keys):
        return np.full(len(values), -1, dtype=np.int64)
    rows = schema.positions(keys, values)
    return np.where(keys[rows] == values, rows, -1)


def _crowd_regions(instances: pa.Table, regions: list[dict], thumbnail: int) -> np.ndarray:
    """Each instance's entry in ``regions`` (-1: none), appending the crowd instances'
    regions: an RLE as a mask picture, polygons as they are. Crowd instances are few (1% of
    COCO's), so each is decoded on its own."""
    index = np.full(len(instances), -1, dtype=np.int32)
    crowd = np.flatnonzero(pc.fill_null(instances["iscrowd"], 0).to_numpy() > 0)
    if not len(crowd):
        return index
    columns = ["segmentation_type", "polygons", "rle_size", "rle_counts", "rle_counts_list"]
    rows = instances.select(columns).take(pa.array(crowd)).to_pylist()
    for row, region in zip(crowd.tolist(), rows):
        entry = None
        if region["rle_size"]:
            uri = crowd_mask(
                region["rle_size"], region["rle_counts_list"], region["rle_counts"], thumbnail
            )
            if uri is not None:
                height, width = region["rle_size"]
                entry = {"mask": uri, "w": width, "h": height}
        elif region["polygons"]:
            entry = {"polygons": region["polygons"]}
        if entry is not None:
            index[row] = len(regions)
            regions.append(entry)
    return index


def _images(parts: list[ViewPart], clips: bool, thumbnail: int) -> tuple[dict, dict[str, int]]:
    """The shown images' columns (a few hundred rows: lists), their thumbnails (none for
    clips), and the images without a picture counted by reason."""
    columns: dict[str, list] = {
        name: [] for name in ("split", "id", "file", "w", "h", "frames", "label")
    }
    files: list[Path | str] = []
    for part in parts:
        images = part.images
        names = images["file_name"].to_pylist()
        columns["split"] += [part.split] * len(images)
        columns["id"] += images["image_id"].to_pylist()
        columns["file"] += names
        columns["w"] += images["width"].to_pylist()
        columns["h"] += images["height"].to_pylist()
        columns["frames"] += images["num_frames"].to_pylist()
        columns["label"] += images["label"].to_pylist()
        files += [image_file(part.image_dir, name) for name in names]
    missing: dict[str, int] = {}
    if clips:
        columns["thumb"] = columns["missing"] = [None] * len(files)
        return columns, missing
    pictures = thumbnails(files, thumbnail)
    columns["thumb"] = [p.uri for p in pictures]
    columns["missing"] = [p.problem for p in pictures]
    for r, picture in enumerate(pictures):
        if picture.problem:
            missing[picture.problem] = missing.get(picture.problem, 0) + 1
        elif picture.size and (columns["w"][r] is None or columns["h"][r] is None):
            columns["w"][r], columns["h"][r] = picture.size  # sized by its file
    return columns, missing
