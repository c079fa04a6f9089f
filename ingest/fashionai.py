"""FashionAI keypoint CSV → Tables.

A row is an image with one garment: ``image_id`` (a path like
``Images/blouse/<md5>.jpg``), ``image_category``, then 24 ``x_y_v`` cells (v = 1
visible, 0 occluded, -1 absent; an absent joint is ``-1_-1_-1``). The test CSV
has only the first two columns; prediction files have no header; user files may
carry extra trailing columns. Each garment category is a category whose
``keypoints`` are the joints it defines; a row gives one instance with dense
keypoints over those joints, visibility mapped to COCO's 0/1/2.

The file's layout (header, line endings, final newline, trailing blank lines,
BOM) and any cell the columns cannot give back exactly (a joint outside the
category that is not absent, ``12.0`` for ``12``) are kept, so that the writer
returns the file cell for cell (and byte for byte).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from posestore import poses, schema
from posestore.errors import SourceError
from posestore.formats import (
    FASHIONAI_ABSENT_CELL,
    FASHIONAI_CATEGORIES,
    FASHIONAI_ID_COLUMNS,
    FASHIONAI_JOINTS,
    FASHIONAI_SUPERCATEGORY,
)
from posestore.imagesize import image_size
from posestore.metadata import CsvLayout, DatasetMeta, SplitMeta, datasets_table
from posestore.paths import relative_inside

from ._records import first_true

_CELL = r"^-?\d+(?:\.\d+)?_-?\d+(?:\.\d+)?_-?\d+$"
_CANONICAL_CELL = r"^(?:0|-?[1-9]\d{0,6})_(?:0|-?[1-9]\d{0,6})_(?:-1|0|1)$"
_BOM = b"\xef\xbb\xbf"
CATEGORY_NAMES = tuple(FASHIONAI_CATEGORIES)


def fashionai_categories(dataset: str) -> pa.Table:
    """The five garment categories (ids 1..5) with the joints each defines."""
    names = list(FASHIONAI_CATEGORIES)
    return schema.conform(
        "categories",
        {
            "dataset": [dataset] * len(names),
            "category_id": list(range(1, len(names) + 1)),
            "name": names,
            "supercategory": [FASHIONAI_SUPERCATEGORY] * len(names),
            "kind": ["object"] * len(names),
            "keypoints": [list(FASHIONAI_CATEGORIES[n]) for n in names],
        },
    )


def fashionai_files(root: Path) -> list[Path]:
    """The CSV files of a FashionAI root (outside image folders)."""
    return sorted(
        p
        for p in root.rglob("*.csv")
        if not any(
            part.startswith(".") or part == "Images" for part in p.relative_to(root).parts[:-1]
        )
    )


def read_fashionai(
    source: str | Path,
    dataset: str,
    split: str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> Iterator[schema.Tables]:
    """Read a FashionAI CSV, or every CSV of a folder (one split each)."""
    source = Path(source)
    files = fashionai_files(source) if source.is_dir() else [source]
    if not files:
        raise SourceError(source, None, "no FashionAI CSV files found in this folder")
    root = source if source.is_dir() else source.parent
    total = sum(f.stat().st_size for f in files)
    done = 0
    for f in files:
        if progress:
            progress(f"reading {f.name}", done, total)
        name = split if (split and len(files) == 1) else _split_name(f)
        yield read_fashionai_csv(
            f.read_bytes(),
            str(f),
            dataset,
            name,
            f.relative_to(root).as_posix(),
            f.parent,
            image_root=f.parent.relative_to(root).as_posix(),
        )
        done += f.stat().st_size


def _split_name(path: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", path.stem).lstrip("._-")
    return name or "default"


def read_fashionai_csv(
    data: bytes,
    file: str,
    dataset: str,
    split: str,
    path: str,
    folder: Path | None = None,
    image_root: str | None = None,
) -> schema.Tables:
    """Flatten one FashionAI CSV (its bytes) into the store's tables.

    ``folder`` is where the CSV lies: when the images are beside it, their width
    and height are read from the file headers. ``image_root``: where ``file_name`` values
    are relative to, from the source root (the CSV's folder), for image export.
    """
    layout, rows = _parse(data, file)
    header = layout.header
    names = header or _positional_names(rows)
    if [n.strip().lower() for n in names[:2]] != list(FASHIONAI_ID_COLUMNS):
        raise SourceError(
            file,
            "line 1",
            f"expected the columns {', '.join(FASHIONAI_ID_COLUMNS)} first, got {names[:2]}",
        )
    joint_at = {n: i for i, n in enumerate(names) if n in FASHIONAI_JOINTS}
    if joint_at and len(joint_at) != len(FASHIONAI_JOINTS):
        missing = [j for j in FASHIONAI_JOINTS if j not in joint_at]
        raise SourceError(file, "line 1", f"missing joint column(s) {', '.join(missing)}")
    width = len(names)
    first_line = 2 if header else 1
    short = [i for i, r in enumerate(rows) if len(r) < width]
    if short:
        i = short[0]
        raise SourceError(
            file, f"line {first_line + i}", f"has {len(rows[i])} columns, expected {width}"
        )

    n = len(rows)
    columns = list(zip(*(r[:width] for r in rows))) if n else [()] * width
    overrides: list[dict] = [{} for _ in range(n)]
    extras = [(i, r[width:]) for i, r in enumerate(rows) if len(r) > width]
    for i, cells in extras:
        overrides[i]["extra_cells"] = cells

    file_names = pa.array(columns[0], pa.string())
    category_col = pa.array(columns[1], pa.string())
    cat_index = pc.index_in(category_col, pa.array(CATEGORY_NAMES)).to_numpy(zero_copy_only=False)
    unknown = np.isnan(cat_index.astype(np.float64))
    if (bad := first_true(unknown)) is not None:
        raise SourceError(
            file,
            f"line {first_line + bad}, column image_category",
            f"unknown category {columns[1][bad]!r}; expected one of {', '.join(CATEGORY_NAMES)}",
        )
    cat_index = cat_index.astype(np.int64)
    image_ids = np.arange(1, n + 1, dtype=np.int64)

    kind = "train" if joint_at else "test"
    keypoints = schema.empty("keypoints")
    num_joints = pa.nulls(n, pa.int32())
    num_keypoints = pa.nulls(n, pa.int32())
    labelled = np.zeros(n, dtype=bool)
    if joint_at:
        xyv = np.zeros((n, len(FASHIONAI_JOINTS), 3), dtype=np.float64)
        for j, joint in enumerate(FASHIONAI_JOINTS):
            cells = pa.array(columns[joint_at[joint]], pa.string())
            xyv[:, j] = _cells(cells, file, joint, first_line)
            _keep_inexact_cells(cells, joint, j, cat_index, overrides)
        keypoints, per_row = _keypoints(dataset, split, image_ids, cat_index, xyv)
        num_joints = pa.array(
            [len(FASHIONAI_CATEGORIES[c]) for c in CATEGORY_NAMES], pa.int32()
        ).take(pa.array(cat_index))
        num_keypoints = pa.array(per_row.astype(np.int32))
        labelled = per_row > 0

    widths, heights = _image_sizes(columns[0], folder)
    attributes = [orjson.dumps(o).decode() if o else None for o in overrides]
    images = schema.conform(
        "images",
        {
            "dataset": schema.constant(dataset, n),
            "split": schema.constant(split, n),
            "image_id": image_ids,
            "file_name": file_names,
            "width": pa.array(widths, pa.int64()),
            "height": pa.array(heights, pa.int64()),
            "num_frames": np.ones(n, dtype=np.int32),
            "attributes": pa.array(attributes, pa.string()),
        },
    )
    instances = schema.conform(
        "instances",
        {
            "dataset": schema.constant(dataset, n),
            "split": schema.constant(split, n),
            "instance_id": image_ids,
            "image_id": image_ids,
            "category_id": cat_index + 1,
            "num_keypoints": num_keypoints,
            "num_joints": num_joints,
        },
    )
    frames = schema.conform(
        "frames",
        {
            "dataset": schema.constant(dataset, n),
            "split": schema.constant(split, n),
            "image_id": image_ids,
            "frame": np.zeros(n, dtype=np.int32),
            "num_instances": labelled.astype(np.int32),
        },
    )
    split_meta = SplitMeta(
        path=path,
        image_root=image_root,
        kind=kind,
        csv=layout,
        columns=width if header is None else None,
    )
    return {
        "images": images,
        "instances": instances,
        "keypoints": keypoints,
        "frames": frames,
        "categories": fashionai_categories(dataset),
        "datasets": datasets_table(dataset, DatasetMeta("fashionai", {split: split_meta})),
    }


def _positional_names(rows: list[list[str]]) -> list[str]:
    """Column names of a header-less file, by position: a test file has 2, a train file 26."""
    test = all(len(r) <= 2 for r in rows)
    return list(FASHIONAI_ID_COLUMNS) if test else [*FASHIONAI_ID_COLUMNS, *FASHIONAI_JOINTS]


def _parse(data: bytes, file: str) -> tuple[CsvLayout, list[list[str]]]:
    """The rows of the CSV and the layout the writer needs to give the same bytes back."""
    bom = data.startswith(_BOM)
    try:
        text = data[len(_BOM) if bom else 0 :].decode("utf-8")
    except UnicodeDecodeError as e:
        raise SourceError(file, None, f"not UTF-8 text (byte {e.start})") from e
    newline = "\r\n" if "\r\n" in text else "\n"
    rows = list(csv.reader(io.StringIO(text, newline="")))
    trailing = 0
    while rows and not rows[-1]:
        rows.pop()
        trailing += 1
    blank = [i for i, r in enumerate(rows) if not r]
    if blank:
        raise SourceError(file, f"line {blank[0] + 1}", "is empty in the middle of the file")
    header = None
    if rows and rows[0] and rows[0][0].strip().lower() == "image_id":
        header = rows.pop(0)
    layout = CsvLayout(header, newline, text.endswith(newline), trailing, bom)
    return layout, rows


def _cells(cells: pa.Array, file: str, joint: str, first_line: int) -> np.ndarray:
    """(n, 3) float64 x, y, v of one joint column, each cell checked in bulk."""
    ok = pc.match_substring_regex(cells, _CELL).to_numpy(zero_copy_only=False)
    if (i := first_true(~ok)) is not None:
        raise SourceError(
            file,
            f"line {first_line + i}, column {joint}",
            f"{cells[i].as_py()!r} is not an x_y_v cell",
        )
    parts = pc.split_pattern(cells, "_").flatten().cast(pa.float64()).to_numpy().reshape(-1, 3)
    bad_v = ~np.isin(parts[:, 2], (-1, 0, 1))
    if (i := first_true(bad_v)) is not None:
        raise SourceError(
            file,
            f"line {first_line + i}, column {joint}",
            f"{cells[i].as_py()!r}: v must be -1 (absent), 0 (occluded) or 1 (visible)",
        )
    return parts


def _keep_inexact_cells(
    cells: pa.Array, joint: str, j: int, cat_index: np.ndarray, overrides: list[dict]
) -> None:
    """Cells the columns cannot give back: non-canonical text, or a joint outside the category
    that is not absent (predictions fill every cell)."""
    defined = np.array([joint in FASHIONAI_CATEGORIES[c] for c in CATEGORY_NAMES])[cat_index]
    canonical = pc.match_substring_regex(cells, _CANONICAL_CELL).to_numpy(zero_copy_only=False)
    absent = pc.equal(cells, FASHIONAI_ABSENT_CELL).to_numpy(zero_copy_only=False)
    keep = (defined & ~canonical) | (~defined & ~absent)
    if keep.any():
        texts = cells.to_pylist()
        for i in np.flatnonzero(keep):
            overrides[i].setdefault("cells", {})[joint] = texts[i]


def _keypoints(
    dataset: str, split: str, image_ids: np.ndarray, cat_index: np.ndarray, xyv: np.ndarray
):
    """Dense keypoint rows over each row's category joints, and labelled joints per row."""
    blocks = []
    for c, name in enumerate(CATEGORY_NAMES):
        rows = np.flatnonzero(cat_index == c)
        if not len(rows):
            continue
        cols = [FASHIONAI_JOINTS.index(j) for j in FASHIONAI_CATEGORIES[name]]
        block = xyv[rows][:, cols]  # (rows, joints, 3)
        k = len(cols)
        blocks.append((np.repeat(rows, k), np.tile(np.arange(k), len(rows)), block.reshape(-1, 3)))
    if not blocks:
        return schema.empty("keypoints"), np.zeros(len(image_ids), dtype=np.int64)
    row = np.concatenate([b[0] for b in blocks])
    joint = np.concatenate([b[1] for b in blocks])
    values = np.concatenate([b[2] for b in blocks])
    order = np.lexsort((joint, row))
    row, joint, values = row[order], joint[order], values[order]
    visibility = values[:, 2].astype(np.int8) + 1  # FashionAI -1/0/1 → COCO 0/1/2
    per_row = np.bincount(row[visibility > 0], minlength=len(image_ids))
    joints = np.bincount(row, minlength=len(image_ids))
    posed = np.flatnonzero(joints)
    table = poses.pose_table(
        dataset, split, image_ids[posed], image_ids[posed], cat_index[posed] + 1, None,
        joints[posed], values[:, 0], values[:, 1], visibility,
    )  # fmt: skip
    return table, per_row


def _image_sizes(file_names: tuple, folder: Path | None) -> tuple[list, list]:
    """Width and height from each image's header when the images are beside the CSV."""
    n = len(file_names)
    if folder is None or not n or not (folder / PurePosixPath(file_names[0]).parts[0]).is_dir():
        return [None] * n, [None] * n
    widths, heights = [], []
    for name in file_names:
        path = relative_inside(name, folder)
        size = None if path is None else image_size(path)
        widths.append(size[0] if size else None)
        heights.append(size[1] if size else None)
    return widths, heights
