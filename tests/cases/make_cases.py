"""Rebuild the tiny COCO edge-case files in this folder: ``python tests/cases/make_cases.py``.

Each file isolates what real files do to readers; the round-trip tests read them all.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).parent

CATEGORY = {
    "supercategory": "person",
    "id": 1,
    "name": "person",
    "keypoints": ["nose", "left_eye", "right_eye"],
    "skeleton": [[1, 2], [1, 3]],
}


def doc(images, annotations, categories=None, **top):
    return {
        **top,
        "images": images,
        "annotations": annotations,
        "categories": categories or [CATEGORY],
    }


def image(i, **extra):
    return {"id": i, "file_name": f"{i:0>6}.jpg", "width": 640, "height": 480, **extra}


def ann(i, image_id, kps, **extra):
    return {
        "id": i,
        "image_id": image_id,
        "category_id": 1,
        "iscrowd": 0,
        "area": 1200.5,
        "bbox": [10.5, 20, 30.25, 40],
        "num_keypoints": sum(1 for v in kps[2::3] if v > 0),
        "keypoints": kps,
        "segmentation": [[10.5, 20, 40.75, 20, 40.75, 60, 10.5, 60]],
        **extra,
    }


CASES = {
    "float_coordinates": doc(
        [image(1)],
        [
            ann(1, 1, [354.69, 120.5, 2, 0.1, 1e-3, 1, 0, 0, 0]),
            ann(2, 1, [100.0, 200.0, 2, 333.3333333333333, 0.30000000000000004, 2, 12, 13, 1]),
            ann(3, 1, [12, 13.5, 2.0, 7, 8, 1.0, 0, 0, 0.0]),
        ],
    ),
    "ids_64bit": doc(
        [image(2000000006746), image(9007199254740993)],
        [
            ann(4611686018427387904, 2000000006746, [1, 2, 2, 3, 4, 2, 5, 6, 2]),
            ann(2**31 + 7, 9007199254740993, [1, 2, 2, 3, 4, 2, 5, 6, 2]),
        ],
        categories=[{**CATEGORY, "id": 3000000000}],
    )
    | {
        "annotations": [
            {
                **ann(4611686018427387904, 2000000006746, [1, 2, 2, 3, 4, 2, 5, 6, 2]),
                "category_id": 3000000000,
            },
            {
                **ann(2**31 + 7, 9007199254740993, [1, 2, 2, 3, 4, 2, 5, 6, 2]),
                "category_id": 3000000000,
            },
        ]
    },
    "unicode_file_names": doc(
        [
            image(1, file_name="图片/猫_ü é.jpg"),
            image(2, file_name="Ωmega ☃.png", coco_url="http://x/ü"),
        ],
        [ann(1, 1, [1, 2, 2, 0, 0, 0, 3, 4, 1])],
        info={"description": "données — 数据", "year": 2024},
    ),
    "images_without_annotations": doc(
        [image(1), image(2), image(3)], [ann(1, 2, [1, 2, 2, 0, 0, 0, 0, 0, 0])]
    ),
    "no_annotations_key": {"images": [image(1)], "categories": [CATEGORY]},
    "unknown_keys_everywhere": doc(
        [
            image(
                1,
                vid_id="000342",
                ignore_regions_x=[[1.5, 2], []],
                crowdIndex=0.25,
                is_labeled=True,
            )
        ],
        [
            ann(
                1,
                1,
                [1, 2, 2, 3, 4, 2, 5, 6, 2],
                track_id=7,
                foot_kpts=[1.5, 2, 0.9] * 6,
                bbox_head=[1, 2, 3, 4.5],
                scores=[],
                attributes={"occluded": False, "note": None},
                face_valid=False,
            )
        ],
        categories=[{**CATEGORY, "color": "#fc56cc", "metadata": {}, "keypoint_colors": []}],
        info={"description": "x", "extra": {"nested": [1, 2.5, None, True]}},
        licenses=[],
        custom_top_level={"anything": ["goes", 1, 2.0]},
    ),
    "crowd_rle": doc(
        [image(1, width=5, height=10)],
        [
            {
                **ann(1, 1, [0, 0, 0, 0, 0, 0, 0, 0, 0]),
                "iscrowd": 1,
                "segmentation": {"counts": [0, 20, 30], "size": [10, 5]},
                "area": 20,
            },
            {
                **ann(2, 1, [1, 2, 2, 3, 4, 2, 5, 6, 2]),
                "iscrowd": 1,
                "segmentation": {"counts": "0d1;1O0O100O10000O1", "size": [10, 5]},
                "area": 20.0,
            },
        ],
    ),
    "odd_types_and_missing_fields": doc(
        [
            image(1, date_captured=0, license=0, flickr_url="", coco_url=""),
            {"id": 2, "file_name": "b.jpg"},
        ],
        [
            {
                **ann(1, 1, [1, 2, 2, 3, 4, 2, 5, 6, 2]),
                "iscrowd": False,
                "area": 2.0,
                "bbox": [0.0, 0.0, 1.0, 2.0],
            },
            {"id": 2, "image_id": 2, "category_id": 1, "keypoints": [], "num_keypoints": 0},
            {
                "id": 3,
                "image_id": 2,
                "category_id": 0,
                "bbox": [1, 2, 3, 4],
                "segmentation": [],
                "area": None,
            },
            {
                "id": 4,
                "image_id": 1,
                "category_id": 1,
                "keypoints": [1, 2, 2, 3, 4, 2, 5, 6, 2],
                "iscrowd": 1,
                "area": 1e20,
                "score": 0.875,
                "bbox": [1, 2],
            },
        ],
        info={"year": "", "version": "", "description": ""},
    ),
    "string_ids": doc(
        [image("03540"), image("3540"), image("x-1")],
        [
            ann("00001", "03540", [1, 2, 2, 3, 4, 2, 5, 6, 2]),
            ann("2", "x-1", [1, 2, 2, 3, 4, 2, 5, 6, 2]),
        ],
        license=[{"id": 0}],
        info=[{"version": 0, "description": None}],
    ),
    "varying_joint_counts": doc(
        [image(1)],
        [
            {**ann(1, 1, [1, 2, 2] * 136), "category_id": 1},
            {**ann(2, 1, [1, 2, 2] * 4), "category_id": 2},
        ],
        categories=[
            {**CATEGORY, "keypoints": []},
            {**CATEGORY, "id": 2, "name": "poles", "keypoints": [], "skeleton": [[0, 1]]},
        ],
    ),
}


def main() -> None:
    for name, document in CASES.items():
        (HERE / f"{name}.json").write_text(
            json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )


if __name__ == "__main__":
    main()
