"""Tables → Ultralytics YOLO pose: ``labels/<split>/<image>.txt`` and ``data.yaml``.

A label line is ``class cx cy w h`` then ``x y v`` per joint, all normalised by the
image size; ``data.yaml`` carries ``kpt_shape: [K, 3]``, ``flip_idx`` (left/right
joints swapped by name) and the class names. Categories with fewer joints than
the widest one are padded with ``0 0 0``; crowd annotations are left out (as
Ultralytics' own converter does); joints outside the image are written as
``0 0 0`` and boxes clipped to it, because YOLO refuses values outside [0, 1].
Lines are formatted column by column with Arrow; Python loops over image files.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from posestore import poses, schema
from posestore.errors import StoreError
from posestore.formats import SourceWarning
from posestore.imagesize import image_size
from posestore.metadata import DatasetMeta
from posestore.paths import relative_inside

from .writer import ExportOptions, SplitTables, safe_relative

DECIMALS = 6


def write(parts: SplitTables, meta: DatasetMeta, out: Path, options: ExportOptions) -> list[Path]:
    """``labels/<split>/…txt`` for every image and ``data.yaml`` under the folder ``out``, for
    a dataset of any format (image sizes missing from the tables are read from the image files
    in ``options.image_dirs``). Returns the files written, ``data.yaml`` first."""
    progress, image_dirs = options.progress, options.image_dirs
    if out.suffix:
        raise StoreError(
            f"YOLO pose is a folder (labels/, images/, data.yaml); {out} looks like a file"
        )
    tables0 = next(iter(parts.values()))
    cat_ids, names, joint_names, where = yolo_classes(
        tables0["categories"], [p["instances"] for p in parts.values()]
    )
    widest = max((pc.max(p["instances"]["num_joints"]).as_py() or 0) for p in parts.values())
    joints = max(widest, len(joint_names))
    if not joints:
        raise StoreError("nothing to export as YOLO pose: no instance carries keypoints")
    flip = yolo_flip(tables0["categories"], cat_ids, joint_names, where, joints)
    class_of = {c: i for i, c in enumerate(cat_ids)}
    written = []
    total = sum(len(t["images"]) for t in parts.values())
    done = 0
    for split, tables in parts.items():
        if progress:
            progress(f"labels for {split}", done, total)
        tables = _with_sizes(tables, split, image_dirs.get(split))
        labels = label_lines(tables, class_of, joints, where)
        order = np.argsort(labels.image_id, kind="stable")
        line_image = labels.image_id[order]
        lines = [labels.lines[k] for k in order]
        files = tables["images"]["file_name"].to_pylist()
        ids = tables["images"]["image_id"].to_numpy()
        starts = np.searchsorted(line_image, ids, side="left")
        stops = np.searchsorted(line_image, ids, side="right")
        # images that share a file name share its label file: their lines go together
        # (one written after the other would overwrite it)
        by_target: dict[Path, list[str]] = {}
        for name, a, b in zip(files, starts, stops):
            target = safe_relative(label_path(split, name), out)
            by_target.setdefault(target, []).extend(lines[a:b])
        shared = len(files) - len(by_target)
        for k, (target, label) in enumerate(by_target.items(), 1):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("".join(line + "\n" for line in label))
            written.append(target)
            if progress and k % 2000 == 0:
                progress(f"labels for {split}", done + k, total)
        done += len(files)
        if progress:
            progress(f"labels for {split}", done, total)
        if shared:
            warnings.warn(
                SourceWarning(
                    f"split {split}: {shared} images share a file name with another image; "
                    "their labels are written together in one label file"
                ),
                stacklevel=2,
            )
        if said := labels.left_out():
            warnings.warn(SourceWarning(f"split {split}: {said}"), stacklevel=2)
    if len(parts) == 1:
        warnings.warn(
            SourceWarning(
                f"one split ({next(iter(parts))}): data.yaml's train and val both name it, so a "
                "model would validate on its training data; export the other splits too"
            ),
            stacklevel=2,
        )
    yaml = out / "data.yaml"
    yaml.write_text(
        data_yaml(
            options.final or out,
            list(parts),
            names,
            joints,
            flip,
            registry_sigmas(tables0["categories"], cat_ids),
        )
    )
    return [yaml, *written]


def _with_sizes(tables: schema.Tables, split: str, folder: Path | None) -> schema.Tables:
    """The split's tables with every image's width and height, read from the image files
    where the source gave none; an image whose size stays unknown is an error (YOLO
    normalises by it)."""
    images = tables["images"]
    widths = images["width"].to_pylist()
    heights = images["height"].to_pylist()
    files = images["file_name"].to_pylist()
    unknown = [i for i, (w, h) in enumerate(zip(widths, heights)) if not w or not h]
    for i in unknown:  # sizes from the image headers, where the images are known
        path = relative_inside(files[i], folder) if folder else None
        size = image_size(path) if path else None
        if size:
            widths[i], heights[i] = size
    still = [files[i] for i in unknown if not widths[i] or not heights[i]]
    if still:
        raise StoreError(
            f"YOLO normalises by image size, and {len(still)} images of split {split!r} have none "
            f"(e.g. {still[0]!r}); pass --image-root so posestore can read it from the image files"
        )
    for column, value in (("width", widths), ("height", heights)):
        images = images.set_column(
            images.schema.get_field_index(column), column, pa.array(value, pa.int64())
        )
    return {**tables, "images": images}


def flip_index(names: list[str]) -> list[int]:
    """For each joint, the index of its mirror image (``left_wrist`` ↔ ``right_wrist``), or itself.

    Names are compared with case, spaces and hyphens aside, so ``left elbow`` pairs with
    ``right_elbow`` (a real CVAT skeleton spells them so)."""
    index = {_plain(n): i for i, n in enumerate(names)}
    out = []
    for i, name in enumerate(names):
        mirrored = re.sub(r"(?i)(left|right)", lambda m: _swap(m.group(0)), name)
        out.append(index.get(_plain(mirrored), i))
    return out


def _plain(name: str) -> str:
    return re.sub(r"[\s_-]+", "_", name.strip().lower())


def yolo_flip(
    categories: pa.Table,
    category_ids: list[int],
    joint_names: list[str],
    where: dict[int, np.ndarray],
    joints: int,
) -> list[int]:
    """``flip_idx`` over the shared joint space: each category's mirror joints from the
    registry where it knows them (placed at the category's columns of the space), else
    mirrors found by joint name; a joint with neither is its own mirror."""
    from posestore.joint_meaning import registry_flips

    flip = flip_index(joint_names) if len(joint_names) == joints else list(range(joints))
    flips = registry_flips(categories)
    for c in category_ids:
        mirror = flips.get(c)
        if mirror is None:
            continue
        columns = where.get(c, np.arange(len(mirror)))  # unnamed joints stay positional
        if len(columns) != len(mirror) or len(columns) > joints:
            continue
        for j, f in enumerate(mirror):
            flip[int(columns[j])] = int(columns[f])
    return flip


def registry_sigmas(categories: pa.Table, category_ids: list[int]) -> list[float] | None:
    """The OKS sigmas of the one exported category, where the registry knows them."""
    from posestore.joint_meaning import registry_sigmas as known

    sigmas = known(categories)
    return sigmas.get(category_ids[0]) if len(category_ids) == 1 else None


def _swap(word: str) -> str:
    target = "right" if word.lower() == "left" else "left"
    return (
        target.upper() if word.isupper() else target.capitalize() if word[0].isupper() else target
    )


def yolo_classes(
    categories: pa.Table, instances: list[pa.Table]
) -> tuple[list[int], list[str], list[str], dict[int, np.ndarray]]:
    """Classes and one joint space for all of them.

    Returns the category ids in class order, their names, the joint names of the
    shared space (the union of the categories' joint names, in order of first
    appearance: FashionAI's five garments share 24 named joints) and, per category, the
    position of each of its joints in that space. Unnamed joints stay positional.
    """
    used = set()
    for inst in instances:
        used |= set(pc.unique(inst["category_id"]).to_pylist())
    cats = (
        categories.filter(pc.equal(categories["kind"], "object")).sort_by("category_id").to_pylist()
    )
    cats = [c for c in cats if c["category_id"] in used]
    if not cats:
        raise StoreError("nothing to export: no instance has a known category")
    space: dict[str, int] = {}
    for c in cats:
        for name in c["keypoints"] or []:
            space.setdefault(name, len(space))
    where = {
        c["category_id"]: np.array([space[n] for n in c["keypoints"]], dtype=np.int64)
        for c in cats
        if c["keypoints"]
    }
    return [c["category_id"] for c in cats], [c["name"] for c in cats], list(space), where


@dataclass
class Labels:
    """A split's label lines, and what was left out of them (each reported with its count)."""

    image_id: np.ndarray  # per line: the image it belongs to
    lines: list[str]
    crowd: int  # crowd annotations (Ultralytics' own converter leaves them out too)
    empty_box: int  # boxes empty once clipped to the image (or none, and no labelled joint)
    unknown_category: int  # instances of a category the dataset does not declare
    outside: int  # labelled joints outside their image, written as 0 0 0

    def left_out(self) -> str:
        """What was left out, in words: '' when nothing was."""
        parts = [
            f"{n:,} {what}"
            for n, what in (
                (self.crowd, "crowd annotations"),
                (self.empty_box, "instances whose box is empty once clipped to the image"),
                (self.unknown_category, "instances of an undeclared category"),
            )
            if n
        ]
        said = f"{', '.join(parts)} left out" if parts else ""
        if self.outside:
            said += ("; " if said else "") + (
                f"{self.outside:,} joints outside their image written as 0 0 0"
            )
        return said


def label_lines(
    tables: schema.Tables,
    class_of: dict[int, int],
    joints: int,
    where: dict[int, np.ndarray] | None = None,
) -> Labels:
    """The label lines of a split's instances, and the counts of what was left out.

    ``where[category_id][j]`` is the column of the category's joint ``j`` in the shared space."""
    inst = tables["instances"]
    images = tables["images"]
    if len(inst):
        inst = inst.filter(pc.invert(pc.fill_null(pc.equal(inst["iscrowd"], 1), False)))
    crowd = len(tables["instances"]) - len(inst)
    n = len(inst)
    if n == 0:
        return Labels(np.zeros(0, np.int64), [], crowd, 0, 0, 0)
    pos = schema.positions(images["image_id"].to_numpy(), inst["image_id"].to_numpy())
    width = images["width"].to_numpy(zero_copy_only=False).astype(np.float64)[pos]
    height = images["height"].to_numpy(zero_copy_only=False).astype(np.float64)[pos]

    # joints: (n, joints, 3) x, y, v in pixels; padding stays 0 0 0
    kp = poses.joint_rows(tables["keypoints"])
    kp = kp.filter(pc.equal(kp["frame"], 0)) if len(kp) else kp
    xyv = np.zeros((n, joints, 3))
    if len(kp):
        ids = inst["instance_id"].to_numpy()
        kp_ids = kp["instance_id"].to_numpy()
        row = schema.positions(ids, kp_ids)
        j = kp["joint"].to_numpy().astype(np.int64)
        if where:
            cat = inst["category_id"].to_numpy()[row]
            mapped = np.full(len(j), -1, dtype=np.int64)
            for c, to_columns in where.items():
                mine = (cat == c) & (j < len(to_columns))
                mapped[mine] = to_columns[j[mine]]
            j = np.where(np.isin(cat, list(where)), mapped, j)
        keep = (ids[row] == kp_ids) & (j >= 0) & (j < joints)
        j = j[keep]
        r = row[keep]
        xyv[r, j, 0] = kp["x"].to_numpy(zero_copy_only=False)[keep]
        xyv[r, j, 1] = kp["y"].to_numpy(zero_copy_only=False)[keep]
        xyv[r, j, 2] = kp["visibility"].fill_null(0).to_numpy(zero_copy_only=False)[keep]
    labelled = xyv[:, :, 2] > 0
    inside = (
        (xyv[:, :, 0] >= 0)
        & (xyv[:, :, 1] >= 0)
        & (xyv[:, :, 0] <= width[:, None])
        & (xyv[:, :, 1] <= height[:, None])
    )
    outside = int((labelled & ~inside).sum())
    keep_joint = labelled & inside
    xyv[~keep_joint] = 0

    box = np.stack(
        [
            inst[c].to_numpy(zero_copy_only=False).astype(np.float64)
            for c in ("bbox_x", "bbox_y", "bbox_w", "bbox_h")
        ],
        axis=1,
    )
    missing = np.isnan(box).any(axis=1)
    if missing.any():  # no box in the source: the labelled joints' extent
        lo_x = np.where(keep_joint, xyv[:, :, 0], np.inf).min(axis=1)
        hi_x = np.where(keep_joint, xyv[:, :, 0], -np.inf).max(axis=1)
        lo_y = np.where(keep_joint, xyv[:, :, 1], np.inf).min(axis=1)
        hi_y = np.where(keep_joint, xyv[:, :, 1], -np.inf).max(axis=1)
        extent = np.stack([lo_x, lo_y, hi_x - lo_x, hi_y - lo_y], axis=1)
        extent[~np.isfinite(extent).all(axis=1)] = np.nan  # no labelled joint: no box
        box[missing] = extent[missing]
    x0 = np.clip(box[:, 0], 0, width)
    y0 = np.clip(box[:, 1], 0, height)
    x1 = np.clip(box[:, 0] + box[:, 2], 0, width)
    y1 = np.clip(box[:, 1] + box[:, 3], 0, height)
    has_box = np.isfinite(x0 + y0 + x1 + y1) & (x1 > x0) & (y1 > y0)

    cls = np.array([class_of.get(c, -1) for c in inst["category_id"].to_pylist()])
    ok = has_box & (cls >= 0)
    norm = np.empty((n, 4 + joints * 3))
    norm[:, 0] = (x0 + x1) / 2 / width
    norm[:, 1] = (y0 + y1) / 2 / height
    norm[:, 2] = (x1 - x0) / width
    norm[:, 3] = (y1 - y0) / height
    norm[:, 4::3] = xyv[:, :, 0] / width[:, None]
    norm[:, 5::3] = xyv[:, :, 1] / height[:, None]
    norm[:, 6::3] = xyv[:, :, 2]
    norm = np.round(norm[ok], DECIMALS)
    columns = [pa.array(cls[ok]).cast(pa.string())]
    columns += [pa.array(norm[:, k]).cast(pa.string()) for k in range(norm.shape[1])]
    lines = pc.binary_join_element_wise(*columns, " ").to_pylist()
    unknown = cls < 0
    return Labels(
        inst["image_id"].to_numpy()[ok],
        lines,
        crowd,
        int((~has_box & ~unknown).sum()),
        int(unknown.sum()),
        outside,
    )


def label_path(split: str, file_name: str) -> str:
    """Where Ultralytics looks for the label of the image exported to
    ``images/<split>/<file_name>``, relative to OUT.

    Ultralytics' ``img2label_paths`` (ultralytics/data/utils.py) swaps the image path's
    *last* ``/images/`` for ``/labels/`` and what follows its last ``.`` for ``.txt``; so
    ``labels/<split>/…`` mirrors ``images/<split>/…`` unless the file name holds an
    ``images/`` folder itself (PoseTrack: ``images/val/000342/000000.jpg``), whose label then
    sits beside it under ``images/<split>/…/labels/``, where Ultralytics reads it.
    """
    from . import _relative_name

    image = f"/images/{split}/{_relative_name(file_name).as_posix()}"
    head, _, tail = image.rpartition("/images/")
    return (f"{head}/labels/{tail}".rsplit(".", 1)[0] + ".txt").lstrip("/")


def data_yaml(
    out: Path,
    splits: list[str],
    names: list[str],
    joints: int,
    flip: list[int],
    sigmas: list[float] | None = None,
) -> str:
    """``data.yaml`` text (JSON-quoted scalars are valid YAML); ``kpt_oks_sigmas`` where the
    registry knows the skeleton's sigmas."""
    role = {}
    for s in splits:
        for key in ("train", "val", "test"):
            if key in s.lower() and key not in role:
                role[key] = s
    role.setdefault("train", splits[0])
    role.setdefault("val", role["train"])
    lines = [
        f"# written by posestore from splits {', '.join(splits)}",
        f"path: {json.dumps(str(out.resolve()))}",
    ]
    for key in ("train", "val", "test"):
        if key in role:
            lines.append(f"{key}: {json.dumps('images/' + role[key])}")
    lines.append(f"kpt_shape: [{joints}, 3]")
    lines.append(f"flip_idx: [{', '.join(map(str, flip))}]")
    if sigmas and len(sigmas) == joints:
        lines.append(f"kpt_oks_sigmas: [{', '.join(repr(float(s)) for s in sigmas)}]")
    lines.append("names:")
    lines += [f"  {i}: {json.dumps(n)}" for i, n in enumerate(names)]
    return "\n".join(lines) + "\n"
