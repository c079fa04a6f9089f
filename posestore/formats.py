"""Format vocabulary as data: record keys, joint layouts, visibility maps."""

from __future__ import annotations


class SourceWarning(UserWarning):
    """Something in a source was repaired or is suspicious, but nothing was lost."""


COCO_SECTIONS = ("images", "annotations", "categories")
"""Top-level COCO keys that become tables, in the order a document without a recorded key
order gets them; every other top-level key is kept verbatim."""

COCO_COLUMNS = {
    "images": {
        "id": "image_id",
        "file_name": "file_name",
        "width": "width",
        "height": "height",
        "license": "license",
        "coco_url": "coco_url",
        "flickr_url": "flickr_url",
        "date_captured": "date_captured",
    },
    "annotations": {
        "id": "instance_id",
        "image_id": "image_id",
        "category_id": "category_id",
        "iscrowd": "iscrowd",
        "num_keypoints": "num_keypoints",
    },
    "categories": {
        "id": "category_id",
        "name": "name",
        "supercategory": "supercategory",
        "keypoints": "keypoints",
        "skeleton": "skeleton",
    },
}
"""COCO record key → the column holding its value as it is (the reader fills the column, the
writer names the key again from it), in the order a record without a recorded order gets them."""

COCO_IMAGE_INTS = ("width", "height", "license")
"""Image keys held as integers; the other image keys but ``id`` are text."""
COCO_IMAGE_TEXT = tuple(k for k in COCO_COLUMNS["images"] if k not in ("id", *COCO_IMAGE_INTS))

COCO_ANNOTATION_BUILT = ("area", "score", "bbox", "segmentation", "keypoints")
"""Annotation keys whose value is rebuilt from several columns (``bbox_x``…, the
segmentation columns, the pose row) in the style the source wrote them."""

COCO_RECORD_KEYS = {
    "images": frozenset(COCO_COLUMNS["images"]),
    "annotations": frozenset(COCO_COLUMNS["annotations"]) | frozenset(COCO_ANNOTATION_BUILT),
    "categories": frozenset(COCO_COLUMNS["categories"]),
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

PYSKL_SKELETON_ARRAYS = ("keypoint", "keypoint_score")
"""A skeleton clip's arrays: ``keypoint`` [M, T, V, C] and ``keypoint_score`` [M, T, V]."""
KINETICS_ARRAYS = ("frame_inds", "box_score")
"""A Kinetics clip's arrays: per detected skeleton, its frame and its box score."""
PYSKL_DEFAULT_DTYPES = {
    "keypoint": "<f4",
    "keypoint_score": "<f4",
    "frame_inds": "<i2",
    "box_score": "<f2",
    "kpfile_keypoint": "<f4",
}
"""The dtype (``numpy.dtype.str``) an array is written with where the metadata records none."""

PYSKL_MISSING_KEY = "__missing__"
"""Kept in a clip's ``attributes``: the named keys (``label``, ``img_shape``…) it lacked."""
PYSKL_DTYPES_KEY = "__dtypes__"
"""Kept in a clip's ``attributes``: its arrays' dtypes where they differ from the dataset's."""
PYSKL_SHAPE_KEY = "__shape__"
"""Kept in a clip's ``attributes``: the ``keypoint`` shape of a clip without persons."""
KPFILE_DTYPE_KEY = "__dtype__"
"""Kept in the metadata's ``kpfile_extra``: a kpfile's keypoint dtype, where it differs."""

PYSKL_SKELETON_CATEGORY = 1
"""category_id of the person skeleton (kind ``object``); action labels are categories of kind
``action`` with ``category_id = label``. In PYSKL datasets a category is keyed by (kind, category_id)."""
