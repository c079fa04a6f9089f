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

# -- COCO results (predictions) ------------------------------------------------

RESULTS_DERIVED_KEY = "__derived__"
"""Kept in a prediction's ``attributes``: the fields posestore derived (``bbox``, ``area``) as
``loadRes`` does; the writer leaves them out."""
RESULTS_SOURCE_ID_KEY = "__image_id__"
"""Kept in a prediction's ``attributes``: a string ``image_id`` as the file wrote it."""

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

# -- PYSKL skeletons ---------------------------------------------------------

NTU25_JOINTS = (
    "spine_base", "spine_mid", "neck", "head", "left_shoulder", "left_elbow", "left_wrist",
    "left_hand", "right_shoulder", "right_elbow", "right_wrist", "right_hand", "left_hip",
    "left_knee", "left_ankle", "left_foot", "right_hip", "right_knee", "right_ankle",
    "right_foot", "spine_shoulder", "left_hand_tip", "left_thumb", "right_hand_tip", "right_thumb",
)  # fmt: skip
NTU25_SKELETON = (
    (0, 1), (1, 20), (2, 20), (3, 2), (4, 20), (5, 4), (6, 5), (7, 6), (8, 20), (9, 8),
    (10, 9), (11, 10), (12, 0), (13, 12), (14, 13), (15, 14), (16, 0), (17, 16), (18, 17),
    (19, 18), (21, 22), (22, 7), (23, 24), (24, 11),
)  # fmt: skip
"""Kinect v2 joints of NTU RGB+D and its bones, 0-based as PYSKL's graph has them."""

OPENPOSE18_JOINTS = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
    "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip",
    "left_knee", "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear",
)  # fmt: skip
OPENPOSE18_SKELETON = (
    (0, 1), (1, 2), (2, 3), (3, 4), (1, 5), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10),
    (1, 11), (11, 12), (12, 13), (0, 14), (14, 16), (0, 15), (15, 17),
)  # fmt: skip

SKELETON_LAYOUTS = {
    17: ("coco", COCO17_JOINTS, tuple((a - 1, b - 1) for a, b in COCO17_SKELETON)),
    25: ("ntu", NTU25_JOINTS, NTU25_SKELETON),
    18: ("openpose", OPENPOSE18_JOINTS, OPENPOSE18_SKELETON),
}
"""Joint layouts by joint count (V): name, joint names, 0-based bones. Other counts get no names."""

PYSKL_SKELETON_CATEGORY = 1
"""category_id of the person skeleton (kind ``object``); action labels are categories of kind
``action`` with ``category_id = label``. In PYSKL datasets a category is keyed by (kind, category_id)."""
