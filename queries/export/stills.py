"""Clips as still images, for writers of image formats (COCO, YOLO pose).

Each frame of a clip becomes an image (``<frame_dir>/img_00001.jpg``, the name
PYSKL's frame extraction gives frames), each person in it an instance, its joints
that frame's joints. Joints with a zero score (PYSKL's padding) become unlabelled.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from posestore import poses, schema

_FRAME_BITS = 24


def clips_as_stills(tables: schema.Tables) -> schema.Tables:
    """The same data with one image per clip frame and one instance per person and frame."""
    images, frames, kp, inst = (
        tables["images"],
        tables["frames"],
        tables["keypoints"],
        tables["instances"],
    )
    frames = frames.sort_by([("image_id", "ascending"), ("frame", "ascending")])
    clip = frames["image_id"].to_numpy()
    frame = frames["frame"].to_numpy().astype(np.int64)
    key = (clip << _FRAME_BITS) | frame
    n = len(frames)
    clip_ids = images["image_id"].to_numpy()
    clip_pos = schema.positions(clip_ids, clip)
    names = pc.binary_join_element_wise(
        images["file_name"].take(pa.array(clip_pos)),
        pa.array([f"img_{t + 1:05d}.jpg" for t in frame.tolist()], pa.string()),
        "/",
    )
    stills = schema.conform(
        "images",
        {
            "dataset": frames["dataset"],
            "split": frames["split"],
            "image_id": np.arange(1, n + 1, dtype=np.int64),
            "file_name": names,
            "width": images["width"].take(pa.array(clip_pos)),
            "height": images["height"].take(pa.array(clip_pos)),
            "num_frames": np.ones(n, dtype=np.int32),
        },
    )
    if not len(kp):
        empty = {"instances": schema.empty("instances"), "keypoints": kp}
        return {
            **tables,
            "images": stills,
            **empty,
            "frames": _frames_of(stills),
            "categories": _objects(tables),
        }
    # a pose row is a person in a frame: one instance of that frame's still image
    pair = (kp["instance_id"].to_numpy() << _FRAME_BITS) | kp["frame"].to_numpy().astype(np.int64)
    order = np.argsort(pair, kind="stable")
    kp = kp.take(pa.array(order))
    pair = pair[order]
    kp_key = (kp["image_id"].to_numpy() << _FRAME_BITS) | kp["frame"].to_numpy().astype(np.int64)
    kp_image = np.searchsorted(key, kp_key) + 1
    source_instance = pair >> _FRAME_BITS
    inst_ids = inst["instance_id"].to_numpy()
    inst_pos = schema.positions(inst_ids, source_instance)
    n_poses = len(kp)
    lengths = poses.joint_counts(kp)
    visibility = poses.joint_values(kp["visibility"], lengths)
    score = poses.joint_values(kp["score"], lengths)
    if score.null_count < len(score):  # 2D: a zero score is PYSKL's padding, not a joint
        visibility = pc.if_else(
            pc.fill_null(pc.greater(score, 0), True), visibility, pa.scalar(0, pa.int8())
        )
    instances = schema.conform(
        "instances",
        {
            "dataset": inst["dataset"].take(pa.array(inst_pos)),
            "split": inst["split"].take(pa.array(inst_pos)),
            "instance_id": np.arange(1, n_poses + 1, dtype=np.int64),
            "image_id": kp_image,
            "category_id": inst["category_id"].take(pa.array(inst_pos)),
            "track": inst["track"].take(pa.array(inst_pos)),
            "num_joints": lengths.astype(np.int32),
        },
    )
    columns = {
        "image_id": pa.array(kp_image, pa.int64()),
        "instance_id": pa.array(np.arange(1, n_poses + 1, dtype=np.int64)),
        "frame": pa.array(np.zeros(n_poses, dtype=np.int32)),
        "visibility": poses.joint_lists(lengths, visibility, pa.int8()),
    }
    keypoints = kp
    for name, column in columns.items():
        keypoints = keypoints.set_column(keypoints.schema.get_field_index(name), name, column)
    return {
        **tables,
        "images": stills,
        "instances": instances,
        "keypoints": keypoints,
        "frames": _frames_of(stills),
        "categories": _objects(tables),
    }


def _objects(tables: schema.Tables) -> pa.Table:
    cats = tables["categories"]
    return cats.filter(pc.equal(cats["kind"], "object"))


def _frames_of(images: pa.Table) -> pa.Table:
    n = len(images)
    return schema.conform(
        "frames",
        {
            "dataset": images["dataset"],
            "split": images["split"],
            "image_id": images["image_id"],
            "frame": np.zeros(n, dtype=np.int32),
            "num_instances": np.zeros(n, dtype=np.int32),
        },
    )
