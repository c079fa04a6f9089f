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

# -- FashionAI ---------------------------------------------------------------

FASHIONAI_JOINTS = (
    "neckline_left", "neckline_right", "center_front", "shoulder_left", "shoulder_right",
    "armpit_left", "armpit_right", "waistline_left", "waistline_right",
    "cuff_left_in", "cuff_left_out", "cuff_right_in", "cuff_right_out",
    "top_hem_left", "top_hem_right", "waistband_left", "waistband_right",
    "hemline_left", "hemline_right", "crotch",
    "bottom_left_in", "bottom_left_out", "bottom_right_in", "bottom_right_out",
)  # fmt: skip
"""The 24 joint columns of a FashionAI CSV, in column order."""

FASHIONAI_ID_COLUMNS = ("image_id", "image_category")

FASHIONAI_CATEGORIES = {
    "blouse": (
        "neckline_left", "neckline_right", "center_front", "shoulder_left", "shoulder_right",
        "armpit_left", "armpit_right", "cuff_left_in", "cuff_left_out", "cuff_right_in",
        "cuff_right_out", "top_hem_left", "top_hem_right",
    ),
    "outwear": (
        "neckline_left", "neckline_right", "shoulder_left", "shoulder_right", "armpit_left",
        "armpit_right", "waistline_left", "waistline_right", "cuff_left_in", "cuff_left_out",
        "cuff_right_in", "cuff_right_out", "top_hem_left", "top_hem_right",
    ),
    "trousers": (
        "waistband_left", "waistband_right", "crotch", "bottom_left_in", "bottom_left_out",
        "bottom_right_in", "bottom_right_out",
    ),
    "skirt": ("waistband_left", "waistband_right", "hemline_left", "hemline_right"),
    "dress": (
        "neckline_left", "neckline_right", "center_front", "shoulder_left", "shoulder_right",
        "armpit_left", "armpit_right", "waistline_left", "waistline_right", "cuff_left_in",
        "cuff_left_out", "cuff_right_in", "cuff_right_out", "hemline_left", "hemline_right",
    ),
}  # fmt: skip
"""Each garment category with the joints it defines (its ``keypoints``), in CSV column order.
Category ids are 1..5 in this order."""

FASHIONAI_SUPERCATEGORY = "garment"

FASHIONAI_TO_COCO_VISIBILITY = {-1: 0, 0: 1, 1: 2}
"""FashionAI v (−1 absent, 0 occluded, 1 visible) → COCO v (0, 1, 2); the writer inverts it."""

FASHIONAI_ABSENT_CELL = "-1_-1_-1"
