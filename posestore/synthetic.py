"""Seeded synthetic datasets in the source formats, for the demo, tests and benchmarks.

Shapes follow the real files: COCO person keypoints (17 joints, ~40% of persons
without labelled joints, ~1% crowd with RLE, polygons with two-decimal floats),
PoseSOR roots (``class_id``, ``visiting_order``), CVAT "COCO Keypoints" zips and
PartImageNet part segmentation.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from posestore.formats import COCO17_JOINTS, COCO17_SKELETON

INFO = {
    "description": "posestore synthetic COCO",
    "url": "https://example.org/posestore",
    "version": "1.0",
    "year": 2026,
    "contributor": "posestore",
    "date_created": "2026/11/22",
}
LICENSES = [{"url": "https://creativecommons.org/licenses/by/4.0/", "id": 1, "name": "CC BY 4.0"}]


BODY_TEMPLATE = np.array(
    [
        (0.50, 0.08), (0.54, 0.06), (0.46, 0.06), (0.58, 0.08), (0.42, 0.08),  # face
        (0.66, 0.24), (0.34, 0.24), (0.74, 0.40), (0.26, 0.40), (0.78, 0.55), (0.22, 0.55),  # arms
        (0.60, 0.56), (0.40, 0.56), (0.62, 0.76), (0.38, 0.76), (0.63, 0.95), (0.37, 0.95),  # legs
    ]
)  # fmt: skip
"""Where COCO's 17 joints sit in a standing person's box (x, y in 0..1), facing the camera."""


def person_category(category_id: int = 1) -> dict:
    return {
        "supercategory": "person",
        "id": category_id,
        "name": "person",
        "keypoints": list(COCO17_JOINTS),
        "skeleton": [list(p) for p in COCO17_SKELETON],
    }


def coco_keypoints(
    n_images: int,
    seed: int = 0,
    persons_per_image: float = 2.2,
    unlabelled_fraction: float = 0.4,
    crowd_fraction: float = 0.01,
    float_keypoints: bool = False,
    first_image_id: int = 1,
    first_annotation_id: int = 1,
    file_prefix: str = "",
    polygon_points: int = 4,
) -> dict:
    """A COCO person-keypoints document with ``n_images`` images.

    ``polygon_points`` > 4 gives each person an outline of that many vertices in its box
    (real COCO outlines have dozens, which is most of a file's size). Numbers are
    generated in bulk with NumPy; the dicts are assembled per record.
    """
    rng = np.random.default_rng(seed)
    widths = rng.choice([640, 480, 500, 427, 612], size=n_images)
    heights = rng.choice([480, 640, 375, 427, 333], size=n_images)
    image_ids = np.arange(first_image_id, first_image_id + n_images)
    images = [
        {
            "license": 1,
            "file_name": f"{file_prefix}{iid:012d}.jpg",
            "coco_url": f"http://images.example.org/val/{iid:012d}.jpg",
            "height": int(h),
            "width": int(w),
            "date_captured": "2013-11-14 17:02:52",
            "flickr_url": f"http://farm.example.org/{iid}.jpg",
            "id": int(iid),
        }
        for iid, w, h in zip(image_ids.tolist(), widths, heights)
    ]
    per_image = rng.poisson(persons_per_image, size=n_images)
    n = int(per_image.sum())
    owner = np.repeat(np.arange(n_images), per_image)
    w = widths[owner].astype(np.float64)
    h = heights[owner].astype(np.float64)
    bw = np.round(rng.uniform(0.05, 0.6, n) * w, 2)
    bh = np.round(rng.uniform(0.1, 0.9, n) * h, 2)
    bx = np.round(rng.uniform(0, 1, n) * (w - bw), 2)
    by = np.round(rng.uniform(0, 1, n) * (h - bh), 2)
    crowd = rng.random(n) < crowd_fraction
    labelled = (rng.random(n) >= unlabelled_fraction) & ~crowd
    vis = rng.choice([0, 1, 2], size=(n, 17), p=[0.25, 0.15, 0.6]) * labelled[:, None]
    u = np.clip(BODY_TEMPLATE[:, 0] + rng.normal(0, 0.04, (n, 17)), 0, 1)
    v = np.clip(BODY_TEMPLATE[:, 1] + rng.normal(0, 0.03, (n, 17)), 0, 1)
    kx = bx[:, None] + u * bw[:, None]
    ky = by[:, None] + v * bh[:, None]
    if float_keypoints:
        kx, ky = np.round(kx, 2), np.round(ky, 2)
    else:
        kx, ky = np.floor(kx).astype(np.int64), np.floor(ky).astype(np.int64)
    kx = np.where(vis > 0, kx, 0)
    ky = np.where(vis > 0, ky, 0)
    kps = np.stack([kx, ky, vis], axis=2).reshape(n, 51).astype(object)
    if not float_keypoints:
        kps = kps.astype(np.int64)
    kps_lists = kps.tolist()
    num_kp = (vis > 0).sum(axis=1).tolist()
    area = np.round(bw * bh * rng.uniform(0.4, 0.9, n), 4)
    outlines = None
    if polygon_points > 4:
        angle = np.linspace(0, 2 * np.pi, polygon_points, endpoint=False)
        radius = 0.5 + 0.45 * rng.random((n, polygon_points))
        px = bx[:, None] + bw[:, None] * (0.5 + 0.5 * radius * np.cos(angle))
        py = by[:, None] + bh[:, None] * (0.5 + 0.5 * radius * np.sin(angle))
        outlines = np.round(np.stack([px, py], axis=2).reshape(n, -1), 2).tolist()
    annotations = []
    for i in range(n):
        x, y, ww, hh = float(bx[i]), float(by[i]), float(bw[i]), float(bh[i])
        if crowd[i]:
            hgt, wid = int(h[i]), int(w[i])
            counts = _rle_counts(rng, hgt * wid)
            seg: object = {"counts": counts, "size": [hgt, wid]}
        else:
            seg = [outlines[i]] if outlines is not None else [
                [round(x, 2), round(y, 2), round(x + ww, 2), round(y, 2),
                 round(x + ww, 2), round(y + hh, 2), round(x, 2), round(y + hh, 2)]
            ]  # fmt: skip
        annotations.append(
            {
                "segmentation": seg,
                "num_keypoints": num_kp[i],
                "area": float(area[i]),
                "iscrowd": int(crowd[i]),
                "keypoints": kps_lists[i],
                "image_id": int(image_ids[owner[i]]),
                "bbox": [x, y, ww, hh],
                "category_id": 1,
                "id": first_annotation_id + i,
            }
        )
    return {
        "info": dict(INFO),
        "licenses": [dict(x) for x in LICENSES],
        "images": images,
        "annotations": annotations,
        "categories": [person_category()],
    }


def coco_predictions(doc: dict, seed: int = 0) -> list[dict]:
    """A model's seeded COCO results for a keypoints document: each non-crowd person with
    joints predicted with noise scaled by its size (some with left and right wrists swapped),
    some persons missed, some invented; float32-exact coordinates, scores in [0.05, 1]."""
    rng = np.random.default_rng(seed)
    out = []

    def add(image_id: int, category_id: int, x: np.ndarray, y: np.ndarray) -> None:
        xy = np.stack([x, y], axis=1).astype(np.float32).astype(np.float64)
        kp = np.concatenate([xy, np.ones((len(xy), 1))], axis=1).ravel().tolist()
        score = float(np.round(rng.uniform(0.05, 1.0), 3))
        out.append(
            {"image_id": image_id, "category_id": category_id, "keypoints": kp, "score": score}
        )

    for a in doc["annotations"]:
        if a.get("iscrowd") or not a.get("num_keypoints") or rng.random() < 0.1:
            continue
        kp = np.asarray(a["keypoints"], dtype=np.float64).reshape(-1, 3)
        bx, by, bw, bh = a["bbox"]
        noise = np.sqrt(max(a.get("area") or bw * bh, 1.0)) * rng.choice([0.02, 0.05, 0.15])
        x = np.where(kp[:, 2] > 0, kp[:, 0], bx + rng.random(len(kp)) * bw)
        y = np.where(kp[:, 2] > 0, kp[:, 1], by + rng.random(len(kp)) * bh)
        if len(kp) == 17 and rng.random() < 0.1:  # the model confuses left and right wrists
            x[[9, 10]], y[[9, 10]] = x[[10, 9]], y[[10, 9]]
        add(
            a["image_id"],
            a["category_id"],
            x + rng.normal(0, noise, len(kp)),
            y + rng.normal(0, noise, len(kp)),
        )
    joints = len(doc["annotations"][0]["keypoints"]) // 3 if doc["annotations"] else 17
    for im in doc["images"]:
        for _ in range(rng.poisson(0.3)):
            cx, cy = rng.uniform(0, im["width"]), rng.uniform(0, im["height"])
            s = rng.uniform(10, 100)
            add(im["id"], 1, cx + rng.normal(0, s, joints), cy + rng.normal(0, s, joints))
    return out


def _rle_counts(rng: np.random.Generator, total: int) -> list[int]:
    runs = rng.integers(1, max(2, total // 20), size=12)
    runs = runs[np.cumsum(runs) < total]
    return [*runs.tolist(), int(total - runs.sum())]


def write_json(doc: dict, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(doc))
    return path


def posesor_root(
    root: str | Path, n_images: int = 12, seed: int = 1, shared_ids: bool = False
) -> Path:
    """A PoseSOR dataset root: ``assr/assr_{train,val,test}.json``, ``irsr/irsr_{train,test}.json``.

    ``shared_ids``: every split numbers its images and annotations from 1 (ids repeat
    across splits, as per-split exports write them)."""
    root = Path(root)
    layout = {"assr": ("train", "val", "test"), "irsr": ("train", "test")}
    for t, (task, splits) in enumerate(layout.items()):
        for s, split in enumerate(splits):
            doc = coco_keypoints(
                n_images,
                seed=seed + 10 * t + s,
                first_image_id=1 if shared_ids else 1 + 1000 * s,
                first_annotation_id=1 if shared_ids else 1 + 100000 * s,
                file_prefix=f"COCO_{split}2014_",
            )
            rng = np.random.default_rng(seed + 100 * t + s)
            by_image: dict[int, list[dict]] = {}
            for a in doc["annotations"]:
                by_image.setdefault(a["image_id"], []).append(a)
            for anns in by_image.values():
                order = rng.permutation(len(anns)) + 1
                for a, rank in zip(anns, order.tolist()):
                    a["class_id"] = 1
                    a["visiting_order"] = rank
            write_json(doc, root / task / f"{task}_{split}.json")
            (root / task / "images" / split).mkdir(parents=True, exist_ok=True)
    return root


def roboflow_root(root: str | Path, n_images: int = 8, seed: int = 11) -> Path:
    """A Roboflow COCO keypoints export: ``train/``, ``valid/``, ``test/``, each with
    ``_annotations.coco.json`` and its images; ids restart at 0 in every split, and category
    0 is Roboflow's placeholder superclass, without keypoints."""
    root = Path(root)
    for s, split in enumerate(("train", "valid", "test")):
        doc = coco_keypoints(
            n_images, seed=seed + s, first_image_id=0, first_annotation_id=0, crowd_fraction=0.0
        )
        doc["categories"] = [
            {"id": 0, "name": "persons", "supercategory": "none"},
            {**doc["categories"][0], "supercategory": "persons"},
        ]
        folder = root / split
        for image in doc["images"]:
            target = folder / image["file_name"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(image_header_bytes(image["width"], image["height"]))
        write_json(doc, folder / "_annotations.coco.json")
    return root


def cvat_zip(path: str | Path, n_images: int = 6, seed: int = 2) -> Path:
    """A CVAT "COCO Keypoints 1.0" export zip: ``annotations/person_keypoints_default.json``."""
    doc = coco_keypoints(n_images, seed=seed, float_keypoints=True, crowd_fraction=0.0)
    doc["licenses"] = [{"name": "", "id": 0, "url": ""}]
    doc["info"] = {
        k: "" for k in ("contributor", "date_created", "description", "url", "version", "year")
    }
    for im in doc["images"]:
        im.update(flickr_url="", coco_url="", date_captured=0)
    for i, a in enumerate(doc["annotations"]):
        a["attributes"] = {"occluded": bool(i % 3 == 0), "keyframe": True, "track_id": i % 4}
        a["score"] = round(0.5 + (i % 10) / 20, 2)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("annotations/person_keypoints_default.json", orjson.dumps(doc))
    return path


PART_CATEGORIES = [
    ("Quadruped", ("Head", "Body", "Foot", "Tail")),
    ("Biped", ("Head", "Body", "Hand", "Foot", "Tail")),
    ("Fish", ("Head", "Body", "Fin", "Tail")),
]


def partimagenet(n_images: int = 8, seed: int = 3) -> dict:
    """A PartImageNet-style document: part categories with ``supercategory``, polygons, no keypoints."""
    rng = np.random.default_rng(seed)
    categories: list[dict] = []
    for sup, parts in PART_CATEGORIES:
        for part in parts:
            categories.append(
                {"id": len(categories), "name": f"{sup} {part}", "supercategory": sup}
            )
    images: list[dict] = []
    annotations: list[dict] = []
    for i in range(n_images):
        images.append(
            {"file_name": f"n0{1440764 + i}_{i}.JPEG", "height": 375, "width": 500, "id": i}
        )
        for _ in range(int(rng.integers(1, 5))):
            x, y = (float(v) for v in np.round(rng.uniform(0, 300, 2), 2))
            ww, hh = (float(v) for v in np.round(rng.uniform(10, 150, 2), 2))
            annotations.append(
                {
                    "id": len(annotations),
                    "image_id": i,
                    "category_id": int(rng.integers(0, len(categories))),
                    "segmentation": [[x, y, x + ww, y, x + ww, y + hh, x, y + hh]],
                    "area": round(ww * hh, 3),
                    "bbox": [x, y, ww, hh],
                    "iscrowd": 0,
                }
            )
    return {"images": images, "annotations": annotations, "categories": categories}


def fashionai_rows(n_rows: int, seed: int = 4, kind: str = "train") -> list[list[str]]:
    """FashionAI CSV rows (no header): image path, category, and 24 ``x_y_v`` cells for train."""
    from posestore.formats import FASHIONAI_ABSENT_CELL, FASHIONAI_CATEGORIES, FASHIONAI_JOINTS

    rng = np.random.default_rng(seed)
    names = list(FASHIONAI_CATEGORIES)
    cats = rng.integers(0, len(names), size=n_rows)
    xy = rng.integers(0, 512, size=(n_rows, len(FASHIONAI_JOINTS), 2))
    vis = rng.choice([1, 0], size=(n_rows, len(FASHIONAI_JOINTS)), p=[0.8, 0.2])
    rows = []
    for i in range(n_rows):
        name = names[cats[i]]
        row = [f"Images/{name}/{rng.bytes(16).hex()}.jpg", name]
        if kind == "train":
            defined = set(FASHIONAI_CATEGORIES[name])
            for j, joint in enumerate(FASHIONAI_JOINTS):
                row.append(
                    f"{xy[i, j, 0]}_{xy[i, j, 1]}_{vis[i, j]}"
                    if joint in defined
                    else FASHIONAI_ABSENT_CELL
                )
        rows.append(row)
    return rows


def fashionai_csv(
    path: str | Path,
    n_rows: int = 20,
    seed: int = 4,
    kind: str = "train",
    header: bool = True,
    newline: str = "\n",
    bom: bool = False,
    images: bool = False,
) -> Path:
    """Write a FashionAI CSV; with ``images``, tiny JPEG/PNG files (headers only) beside it."""
    from posestore.formats import FASHIONAI_ID_COLUMNS, FASHIONAI_JOINTS

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = fashionai_rows(n_rows, seed, kind)
    lines = []
    if header:
        lines.append(
            ",".join([*FASHIONAI_ID_COLUMNS, *(FASHIONAI_JOINTS if kind == "train" else ())])
        )
    lines += [",".join(r) for r in rows]
    text = newline.join(lines) + newline
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    if images:
        rng = np.random.default_rng(seed)
        for i, r in enumerate(rows):
            w, h = (int(v) for v in rng.integers(200, 800, size=2))
            target = path.parent / r[0]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(image_header_bytes(w, h, png=i % 2 == 1))
    return path


def image_header_bytes(width: int, height: int, png: bool = False) -> bytes:
    """The first bytes of a JPEG (APP0 + SOF0) or PNG (IHDR) of the given size: enough to read its size."""
    import struct

    if png:
        ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
        return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + b"\x00\x00\x00\x00"
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof0 + b"\xff\xd9"


def pyskl_clips(
    n_clips: int,
    seed: int = 5,
    joints: int = 17,
    channels: int = 2,
    persons: tuple[int, ...] = (1, 2),
    frames: tuple[int, int] = (10, 40),
    dtype: str = "float32",
    n_labels: int = 10,
    padding: float = 0.0,
) -> list[dict]:
    """PYSKL clips: ``keypoint`` [M, T, V, C] (+ ``keypoint_score`` [M, T, V] for 2D).

    ``padding``: the share of (person, frame) pairs zeroed, coordinates and scores, as PYSKL
    pads a person absent from a frame."""
    rng = np.random.default_rng(seed)
    clips = []
    for i in range(n_clips):
        m = int(rng.choice(persons))
        t = int(rng.integers(frames[0], frames[1] + 1))
        h, w = (1080, 1920) if i % 2 else (480, 640)
        kp = (rng.random((m, t, joints, channels)) * [w, h, 3][:channels]).astype(dtype)
        clip: dict[str, Any] = {
            "frame_dir": f"S{i // 40 + 1:03d}C001P{i % 40 + 1:03d}R001A{i % n_labels + 1:03d}",
            "label": int(i % n_labels),
            "img_shape": (h, w),
            "original_shape": (h, w),
            "total_frames": t,
            "keypoint": kp,
        }
        if channels == 2:
            clip["keypoint_score"] = rng.random((m, t, joints)).astype(dtype)
        if padding:
            absent = rng.random((m, t)) < padding
            kp[absent] = 0
            if channels == 2:
                clip["keypoint_score"][absent] = 0
        clips.append(clip)
    return clips


def pyskl_pickle(
    path: str | Path, clips: list[dict], splits: dict[str, list[str]] | None = None
) -> Path:
    """A PYSKL annotation pickle: ``{split, annotations}`` when ``splits`` is given, else a bare list."""
    import pickle

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    obj: object = {"split": splits, "annotations": clips} if splits is not None else clips
    path.write_bytes(pickle.dumps(obj, protocol=4))
    return path


def kinetics_with_kpfiles(
    root: str | Path, n_clips: int = 12, seed: int = 6, per_kpfile: int = 5
) -> Path:
    """A Kinetics-style index (``raw_file``, ``frame_inds``, ``box_score``, ``valid``) with float16
    kpfiles (``frame_dir → {"keypoint": [N, 17, 3]}``) sharded under ``kpfiles/``."""
    import pickle

    rng = np.random.default_rng(seed)
    root = Path(root)
    clips: list[dict] = []
    shards: dict[str, dict] = {}
    for i in range(n_clips):
        total = int(rng.integers(30, 80))
        boxes = int(rng.integers(total // 2, total + total // 2))
        frame_inds = np.sort(rng.integers(0, total, size=boxes)).astype(np.int16)
        rel = f"kpfiles/part_{i // per_kpfile}.pkl"
        fd = f"{rng.bytes(6).hex()}_{i:03d}"
        clips.append(
            {
                "frame_dir": fd,
                "label": int(rng.integers(0, 400)),
                "img_shape": (340, 256 + 2 * i),
                "original_shape": (340, 256 + 2 * i),
                "total_frames": total,
                "raw_file": rel,
                "frame_inds": frame_inds,
                "box_score": rng.random(boxes).astype(np.float16),
                "valid": {0.5: int(boxes * 0.9), 0.7: int(boxes * 0.6)},
            }
        )
        kp = np.concatenate(
            [rng.random((boxes, 17, 2)) * [256, 340], rng.random((boxes, 17, 1))], axis=2
        )
        shards.setdefault(rel, {})[fd] = {"keypoint": kp.astype(np.float16)}
    for rel, content in shards.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(pickle.dumps(content, protocol=4))
    split = {
        "train": [c["frame_dir"] for c in clips[: n_clips // 2]],
        "val": [c["frame_dir"] for c in clips[n_clips // 2 :]],
    }
    return pyskl_pickle(root / "k400_index.pkl", clips, split)


def kinetics_scale(
    root: str | Path, n_clips: int, clips_per_kpfile: int = 1000, seed: int = 9
) -> Path:
    """A Kinetics-400-style index with its kpfiles, shaped like PYSKL's ``k400_hrnet.pkl``
    and the mmaction2 sample of it (``data/real/pyskl``): clips of 160-302 frames,
    detections on every second frame, 0-6 of them per frame in uneven runs (about 360 a clip; the sample has 469) (so ``frame_inds``
    is often longer than ``total_frames``), int16 ``frame_inds``, float16 ``box_score``,
    ``valid`` with float keys, and float16 kpfiles ``frame_dir → {"keypoint": [N, 17, 3]}``
    (x, y, score) of ``clips_per_kpfile`` clips each under ``kpfiles/``. Clip 1 has no
    detection (``keypoint`` [0, 17, 3]). Returns the index path; memory stays within one
    kpfile however many clips are made."""
    import pickle

    rng = np.random.default_rng(seed)
    root = Path(root)
    (root / "kpfiles").mkdir(parents=True, exist_ok=True)
    clips: list[dict] = []
    shards = -(-n_clips // clips_per_kpfile)
    for shard in range(shards):
        rel = f"kpfiles/k400_part_{shard:03d}.pkl"
        first, stop = shard * clips_per_kpfile, min((shard + 1) * clips_per_kpfile, n_clips)
        content: dict[str, dict] = {}
        for i in range(first, stop):
            total = int(rng.integers(160, 303))
            # persons per odd frame: a scene's crowd size, drifting in runs, absent in gaps
            crowd = rng.choice([1, 2, 3, 3, 4, 4, 5, 6])
            per_frame = np.clip(crowd + rng.integers(-1, 2, size=total // 2), 0, 6)
            gap = int(rng.integers(0, total // 2))
            per_frame[gap : gap + int(rng.integers(0, total // 8))] = 0  # a stretch with no one
            if i == 1:
                per_frame[:] = 0
            frame_inds = np.repeat(np.arange(1, total, 2)[: len(per_frame)], per_frame)
            boxes = len(frame_inds)
            h, w = 320, int(rng.choice([426, 568, 570]))
            xy = rng.random((boxes, 17, 2), dtype=np.float32) * np.array([w, h], dtype=np.float32)
            score = rng.random((boxes, 17, 1), dtype=np.float32)
            fd = rng.bytes(8).hex()[:11]
            clips.append(
                {
                    "frame_dir": fd,
                    "label": int(rng.integers(0, 400)),
                    "img_shape": (h, w),
                    "original_shape": (h, w),
                    "total_frames": total,
                    "raw_file": rel,
                    "frame_inds": frame_inds.astype(np.int16),
                    "box_score": (0.5 + rng.random(boxes) / 2).astype(np.float16),
                    "valid": {t: int(boxes * (1.4 - t)) // 2 for t in (0.5, 0.6, 0.7, 0.8, 0.9)},
                }
            )
            content[fd] = {"keypoint": np.concatenate([xy, score], axis=2).astype(np.float16)}
        (root / rel).write_bytes(pickle.dumps(content, protocol=4))
        del content
    cut = n_clips * 4 // 5
    split = {
        "train": [c["frame_dir"] for c in clips[:cut]],
        "val": [c["frame_dir"] for c in clips[cut:]],
    }
    return pyskl_pickle(root / "k400_index.pkl", clips, split)


def demo_sources(root: str | Path) -> dict[str, Path]:
    """One small synthetic source of each format posestore reads, under ``root``
    (what ``make demo`` and the notebooks ingest)."""
    root = Path(root)
    coco = root / "coco"
    write_json(
        coco_keypoints(400, seed=1),
        coco / "annotations" / "person_keypoints_val2017.json",
    )
    write_json(
        coco_keypoints(600, seed=2, first_image_id=100_000, first_annotation_id=1_000_000),
        coco / "annotations" / "person_keypoints_train2017.json",
    )
    clips = pyskl_clips(60, n_labels=6)
    names = [c["frame_dir"] for c in clips]
    return {
        "coco": coco,
        "posesor": posesor_root(root / "PoseSOR", n_images=40),
        "cvat": cvat_zip(root / "cvat_task.zip", n_images=25),
        "partimagenet": write_json(partimagenet(30), root / "PartImageNet" / "train.json"),
        "fashionai": fashionai_csv(root / "fashionai" / "train.csv", n_rows=200, images=True),
        "ntu": pyskl_pickle(
            root / "ntu60_2d.pkl", clips, {"xsub_train": names[:45], "xsub_val": names[45:]}
        ),
        "k400": kinetics_with_kpfiles(root / "k400", n_clips=20),
    }
