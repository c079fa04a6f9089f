"""Format vocabulary as data: record keys, joint layouts, visibility maps."""

from __future__ import annotations


class SourceWarning(UserWarning):
    """Something in a source was repaired or is suspicious, but nothing was lost."""


COCO_SECTIONS = frozenset({"images", "annotations", "categories"})
"""Top-level COCO keys that become tables; every other top-level key is kept verbatim."""

COCO_RECORD_KEYS = {
    "images": frozenset(
        {"id", "file_name", "width", "height", "license", "coco_url", "flickr_url", "date_captured"}
    ),
    "annotations": frozenset(
        {
            "id",
            "image_id",
            "category_id",
            "iscrowd",
            "area",
            "bbox",
            "num_keypoints",
            "keypoints",
            "score",
            "segmentation",
        }
    ),
    "categories": frozenset({"id", "name", "supercategory", "keypoints", "skeleton"}),
}
"""COCO record keys that have columns; the rest go to ``attributes``."""

COCO17_JOINTS = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
COCO17_SKELETON = (
    (16, 14),
    (14, 12),
    (17, 15),
    (15, 13),
    (12, 13),
    (6, 12),
    (7, 13),
    (6, 7),
    (6, 8),
    (7, 9),
    (8, 10),
    (9, 11),
    (2, 3),
    (1, 2),
    (1, 3),
    (2, 4),
    (3, 5),
    (4, 6),
    (5, 7),
)
"""COCO's 17 person joints and its 1-based skeleton."""
