"""Tables → FashionAI keypoint CSV: the inverse of ``posestore.ingest.fashionai``.

Cells are built column by column with Arrow string kernels; the file's own
layout (header, line endings, final newline, trailing blank lines, BOM) comes
from the split's metadata, so a whole split comes back byte for byte.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from posestore import jsonnum, poses, schema
from posestore.errors import StoreError
from posestore.formats import (
    FASHIONAI_ABSENT_CELL,
    FASHIONAI_CATEGORIES,
    FASHIONAI_ID_COLUMNS,
    FASHIONAI_JOINTS,
)
from posestore.metadata import CsvLayout, DatasetMeta, SplitMeta

from .writer import ExportOptions, SplitTables, single_file, write_relative

_BOM = "\ufeff"


def write(parts: SplitTables, meta: DatasetMeta, out: Path, options: ExportOptions) -> list[Path]:
    """Each split as a FashionAI CSV: at ``out`` when it names a ``.csv`` (one split), else
    under the folder ``out`` at the source's own paths. Returns the files written."""
    if meta.format != "fashionai":
        raise StoreError(f"a {meta.format} dataset cannot be written as FashionAI CSV")
    single = single_file(parts, out, ".csv")
    written = []
    for split, tables in parts.items():
        if options.progress:
            options.progress(f"writing {split}", -1, -1)
        split_meta = meta.splits.get(split)
        data = fashionai_csv(tables, split_meta)
        if single:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)
            return [out]
        rel = (split_meta.path if split_meta else None) or f"{split}.csv"
        written.append(write_relative(rel, data, out))
    return written


def fashionai_csv(tables: schema.Tables, split_meta: SplitMeta | None = None) -> bytes:
    """The CSV bytes of one split's tables (a whole split, or a selection of its rows)."""
    meta = split_meta if split_meta is not None else SplitMeta()
    images = tables["images"].sort_by("image_id")
    n = len(images)
    names = _category_per_image(images, tables["instances"], tables["categories"])
    kind = meta.kind or ("train" if len(tables["keypoints"]) else "test")
    columns: list[list[str]] = [images["file_name"].to_pylist(), names]
    if kind == "train":
        cells = _joint_cells(
            images, tables["instances"], poses.joint_rows(tables["keypoints"]), tables["categories"]
        )
        columns += [cells[:, j].tolist() for j in range(len(FASHIONAI_JOINTS))]
    rows = [list(r) for r in zip(*columns)] if n else []
    _apply_overrides(rows, images["attributes"], kind)

    layout = meta.csv or CsvLayout(
        [*FASHIONAI_ID_COLUMNS, *(FASHIONAI_JOINTS if kind == "train" else ())]
    )
    newline = layout.newline
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator=newline)
    if layout.header is not None:
        writer.writerow(layout.header)
    writer.writerows(rows)
    text = buf.getvalue()
    if not layout.final_newline and text.endswith(newline):
        text = text[: -len(newline)]
    text += newline * layout.trailing_blank_lines
    if layout.bom:
        text = _BOM + text
    return text.encode("utf-8")


def _category_per_image(images: pa.Table, instances: pa.Table, categories: pa.Table):
    """The garment category name of each image (via its one instance)."""
    cat_names = dict(zip(categories["category_id"].to_pylist(), categories["name"].to_pylist()))
    unknown = set(cat_names.values()) - set(FASHIONAI_CATEGORIES)
    by_image = dict(zip(instances["image_id"].to_pylist(), instances["category_id"].to_pylist()))
    ids = images["image_id"].to_pylist()
    missing = [i for i in ids if i not in by_image]
    if missing:
        raise StoreError(f"image {missing[0]} has no garment instance; FashionAI needs one per row")
    names = [cat_names[by_image[i]] for i in ids]
    if unknown & set(names):
        raise StoreError(
            f"categories {sorted(unknown & set(names))} are not FashionAI garments; export as coco instead"
        )
    return names


def _joint_cells(
    images: pa.Table, instances: pa.Table, keypoints: pa.Table, categories: pa.Table
) -> np.ndarray:
    """(images, 24) object array of ``x_y_v`` cells, absent where the category has no such joint."""
    n = len(images)
    cells = np.full((n, len(FASHIONAI_JOINTS)), FASHIONAI_ABSENT_CELL, dtype=object)
    if not len(keypoints):
        return cells
    # joint index within a category → CSV column
    column_of: dict[tuple[int, int], int] = {}
    for cid, joints in zip(
        categories["category_id"].to_pylist(), categories["keypoints"].to_pylist()
    ):
        for j, name in enumerate(joints or []):
            column_of[(cid, j)] = FASHIONAI_JOINTS.index(name)
    image_ids = images["image_id"].to_numpy()
    inst_ids = instances["instance_id"].to_numpy()
    inst_cat = instances["category_id"].to_numpy()
    kp_inst = keypoints["instance_id"].to_numpy()
    cat = inst_cat[schema.positions(inst_ids, kp_inst)]
    joint = keypoints["joint"].to_numpy().astype(np.int64)
    lookup = np.full((int(cat.max()) + 1, int(joint.max()) + 1), -1, dtype=np.int64)
    for (cid, j), col in column_of.items():
        if cid < lookup.shape[0] and j < lookup.shape[1]:
            lookup[cid, j] = col
    col = lookup[cat, joint]
    row = schema.positions(image_ids, keypoints["image_id"].to_numpy())
    text = _cell_text(keypoints)
    keep = col >= 0
    cells[row[keep], col[keep]] = np.asarray(text, dtype=object)[keep]
    return cells


def _cell_text(keypoints: pa.Table) -> list[str]:
    """``x_y_v`` per keypoint row: each coordinate with its float32 shortest repr (``12``, ``354.69``)."""
    vis = keypoints["visibility"].fill_null(0).cast(pa.int64())
    v = pc.subtract(vis, 1).cast(pa.string())  # COCO 0/1/2 → FashionAI -1/0/1
    x, y = (
        pa.array(jsonnum.f32_as_f64(keypoints[axis].to_numpy(zero_copy_only=False))).cast(
            pa.string()
        )
        for axis in ("x", "y")
    )
    return pc.binary_join_element_wise(x, y, v, "_").to_pylist()


def _apply_overrides(rows: list[list[str]], attributes: pa.ChunkedArray, kind: str) -> None:
    """Cells the columns cannot say (non-canonical text, filled non-category joints), extra columns."""
    texts = attributes.to_pylist()
    joint_col = {j: 2 + i for i, j in enumerate(FASHIONAI_JOINTS)}
    for i in np.flatnonzero(pc.is_valid(attributes).to_numpy(zero_copy_only=False)):
        extra = orjson.loads(texts[i])
        if kind == "train":
            for joint, cell in extra.get("cells", {}).items():
                rows[i][joint_col[joint]] = cell
        rows[i].extend(extra.get("extra_cells", []))
