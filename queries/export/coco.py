"""Tables → COCO keypoints JSON: the exact inverse of ``posestore.ingest.coco``.

Numbers come back in their file's style (``posestore.jsonnum``), fields the
source lacked stay absent, and whatever the columns cannot say is taken from
``attributes``. The numeric arrays (keypoints, polygons) go to ``orjson`` as
NumPy views of the columns (``jsonnum.json_arrays``), never as Python numbers;
the only Python loops are over records, to assemble the dicts around them.
"""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path, PurePosixPath

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from posestore import jsonnum, poses, schema
from posestore.errors import StoreError
from posestore.formats import COCO_COLUMNS, COCO_SECTIONS, SourceWarning
from posestore.metadata import DatasetMeta, SplitMeta

from .writer import ExportOptions, SplitTables, safe_relative, single_file, write_relative


def write(parts: SplitTables, meta: DatasetMeta, out: Path, options: ExportOptions) -> list[Path]:
    """Each split as a COCO JSON document: at ``out`` when it names a ``.json`` (one split),
    into the ``.zip`` it names, else under the folder ``out`` at the source's own paths (a
    source of another format: ``<split>.json``). Returns the files written."""
    native = meta.format == "coco"
    if not native:
        _warn_unsized(parts)
    merged = bool(options.merged_from)
    description = (
        f"merged by posestore from {', '.join(options.merged_from)}"
        if merged
        else "exported by posestore"
    )

    def document(split: str, tables: schema.Tables) -> bytes:
        split_meta = meta.splits.get(split) if native else None
        doc = coco_document(tables, split_meta, keep_attributes=merged, description=description)
        return orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)

    if single_file(parts, out, ".json"):
        ((split, tables),) = parts.items()
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(document(split, tables))
        return [out]
    documents = {}
    for split, tables in parts.items():
        if options.progress:
            options.progress(f"writing {split}", -1, -1)
        split_meta = meta.splits.get(split) if native else None
        rel = (split_meta.path if split_meta else None) or f"{split}.json"
        documents[rel] = document(split, tables)
    if out.suffix.lower() == ".zip":
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for rel, data in documents.items():
                safe_relative(rel, out.parent)
                zf.writestr(str(PurePosixPath(rel)), data)
        return [out]
    return [write_relative(rel, data, out) for rel, data in documents.items()]


def _warn_unsized(parts: SplitTables) -> None:
    """COCO images carry a width and height; say how many the source did not give."""
    unsized = sum(
        pc.sum(pc.or_(pc.is_null(t["images"]["width"]), pc.is_null(t["images"]["height"]))).as_py()
        or 0
        for t in parts.values()
    )
    if unsized:
        warnings.warn(
            SourceWarning(
                f"{unsized:,} images are written without width and height: the source does "
                "not give them (ingest with the images beside the source to read their sizes)"
            ),
            stacklevel=4,
        )


def coco_document(
    tables: schema.Tables,
    split_meta: SplitMeta | None = None,
    keep_attributes: bool = False,
    description: str = "exported by posestore",
) -> dict:
    """The COCO document for one split's tables, for ``orjson.dumps`` with
    ``OPT_SERIALIZE_NUMPY`` (its keypoint and polygon lists are NumPy views or
    ``orjson.Fragment``s, see ``jsonnum.json_arrays``; ``coco_json`` writes it).

    ``split_meta`` is the split's entry of the dataset metadata (``top``,
    ``key_order``, ``styles``, ``category_ids``); without it, a plain COCO
    document is written (canonical numbers, no extra top-level keys, ``description``
    in its ``info``), the records' own ``attributes`` kept only with ``keep_attributes``.
    """
    meta = split_meta if split_meta is not None else SplitMeta()
    if split_meta is None:
        tables = _as_coco(tables, keep_attributes)
    order = meta.key_order or {}
    styles = meta.styles or {}
    images = _records(tables["images"], COCO_COLUMNS["images"], order.get("images", []))
    annotations = _annotations(tables, order.get("annotations", []), styles)
    categories_table = tables["categories"]
    if meta.category_ids is not None:
        wanted = pa.array(meta.category_ids, pa.int64())
        categories_table = categories_table.filter(
            pc.is_in(categories_table["category_id"], wanted)
        )
    categories = _records(categories_table, COCO_COLUMNS["categories"], order.get("categories", []))
    sections = {"images": images, "annotations": annotations, "categories": categories}

    doc: dict = {}
    top = (
        meta.top if meta.top is not None else {"info": {"description": description}, "licenses": []}
    )
    top_order = order.get("top") or [*top, *COCO_SECTIONS]
    for key in top_order:
        if key in sections:
            doc[key] = sections[key]
        elif key in top:
            doc[key] = top[key]
    return doc


def _as_coco(tables: schema.Tables, keep_attributes: bool = False) -> schema.Tables:
    """Another format's tables as COCO expects them: boxes, areas and labelled-joint counts
    derived from the joints where the source has none, unlabelled joints at (0, 0), and
    the source format's own fields (``attributes``) left behind."""
    inst, kp = tables["instances"], poses.joint_rows(tables["keypoints"])
    kp = kp.filter(pc.equal(kp["frame"], 0)) if len(kp) else kp
    vis = kp["visibility"].fill_null(0).to_numpy(zero_copy_only=False)
    labelled = vis > 0
    zero = pa.array(np.zeros(len(kp), dtype=np.float32))
    for axis in ("x", "y"):
        kp = kp.set_column(
            kp.schema.get_field_index(axis), axis, pc.if_else(pa.array(labelled), kp[axis], zero)
        )

    n = len(inst)
    pos = schema.positions(inst["instance_id"].to_numpy(), kp["instance_id"].to_numpy()[labelled])
    x = kp["x"].to_numpy(zero_copy_only=False)[labelled].astype(np.float64)
    y = kp["y"].to_numpy(zero_copy_only=False)[labelled].astype(np.float64)
    lo_x, lo_y = np.full(n, np.inf), np.full(n, np.inf)
    hi_x, hi_y = np.full(n, -np.inf), np.full(n, -np.inf)
    np.minimum.at(lo_x, pos, x)
    np.minimum.at(lo_y, pos, y)
    np.maximum.at(hi_x, pos, x)
    np.maximum.at(hi_y, pos, y)
    has_box = np.isfinite(lo_x)
    derived = {
        "bbox_x": lo_x, "bbox_y": lo_y, "bbox_w": hi_x - lo_x, "bbox_h": hi_y - lo_y,
    }  # fmt: skip
    for name, values in derived.items():
        inst = _fill(inst, name, pa.array(np.round(values, 2), mask=~has_box))
    area = pc.multiply(inst["bbox_w"], inst["bbox_h"])
    inst = _fill(inst, "area", area)
    inst = _fill(inst, "iscrowd", pa.array(np.zeros(n, dtype=np.int8)))
    counts = np.bincount(pos, minlength=n).astype(np.int32)
    inst = _fill(inst, "num_keypoints", pa.array(counts))
    images = tables["images"]
    if not keep_attributes:  # the source format's own fields stay behind
        no_attributes = pa.nulls(n, pa.string())
        inst = inst.set_column(
            inst.schema.get_field_index("attributes"), "attributes", no_attributes
        )
        images = images.set_column(
            images.schema.get_field_index("attributes"),
            "attributes",
            pa.nulls(len(images), pa.string()),
        )
    cats = tables["categories"]
    cats = cats.set_column(
        cats.schema.get_field_index("attributes"), "attributes", pa.nulls(len(cats), pa.string())
    )
    return {**tables, "instances": inst, "keypoints": kp, "images": images, "categories": cats}


def _fill(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    """Nulls of a column filled from ``values``."""
    i = table.schema.get_field_index(name)
    column = pc.coalesce(table[name], values.cast(table.schema.field(name).type))
    return table.set_column(i, name, column)


def coco_json(tables: schema.Tables, split_meta: SplitMeta | None = None) -> bytes:
    """One split's tables as COCO JSON text."""
    return orjson.dumps(coco_document(tables, split_meta), option=orjson.OPT_SERIALIZE_NUMPY)


def _ordered_names(mapping: dict, order: list[str]) -> list[str]:
    return [k for k in order if k in mapping] + [k for k in mapping if k not in order]


def _records(
    table: pa.Table, mapping: dict, order: list[str], extra: dict | None = None
) -> list[dict]:
    """Dicts from a table: non-null mapped columns, extra ready columns, then attributes on top."""
    columns = dict(extra or {})
    missing = {}  # per key: the records where it is null, to leave it out of
    for key in _ordered_names(mapping, order):
        if key not in columns:
            column = table.column(mapping[key])
            columns[key] = column.to_pylist()
            missing[key] = column.is_null().to_numpy(zero_copy_only=False)
    for key, values in columns.items():
        if key not in missing:
            missing[key] = np.fromiter((v is None for v in values), bool, len(values))
    keys = [
        k
        for k in _ordered_names({**mapping, **columns}, order)
        if k in columns and not missing[k].all()
    ]
    records = [dict(zip(keys, row)) for row in zip(*(columns[k] for k in keys))]
    for key in keys:
        for i in np.flatnonzero(missing[key]).tolist():
            del records[i][key]
    _apply_attributes(records, table.column("attributes"))
    return records


def _apply_attributes(records: list[dict], attributes: pa.ChunkedArray) -> None:
    """Source fields the columns cannot say, or say differently, win."""
    texts = attributes.to_pylist()
    for i in np.flatnonzero(pc.is_valid(attributes).to_numpy(zero_copy_only=False)):
        records[i].update(orjson.loads(texts[i]))


def _numbers(values: np.ndarray, style: str | None) -> np.ndarray:
    return jsonnum.as_json_numbers(values, style == jsonnum.FLOAT)


def _scalar_numbers(column: pa.ChunkedArray, style: str | None) -> list:
    valid = pc.is_valid(column).to_numpy(zero_copy_only=False)
    out = _numbers(column.to_numpy(zero_copy_only=False).astype(np.float64), style)
    out[~valid] = None
    return out.tolist()


def _annotations(tables: schema.Tables, order: list[str], styles: dict) -> list[dict]:
    inst = tables["instances"]
    n = len(inst)
    if n == 0:
        return []
    columns: dict = {
        "area": _scalar_numbers(inst["area"], styles.get("annotations.area")),
        "score": _scalar_numbers(inst["score"], styles.get("annotations.score")),
        "bbox": _bbox(inst, styles.get("annotations.bbox")),
        "segmentation": _segmentation(inst, styles.get("annotations.segmentation")),
        "keypoints": _keypoint_lists(
            inst, poses.joint_rows(tables["keypoints"]), styles.get("annotations.keypoints")
        ),
    }
    return _records(inst, COCO_COLUMNS["annotations"], order, extra=columns)


def _bbox(inst: pa.Table, style: str | None) -> list:
    names = ("bbox_x", "bbox_y", "bbox_w", "bbox_h")
    xywh = np.stack(
        [inst[c].to_numpy(zero_copy_only=False).astype(np.float64) for c in names], axis=1
    )
    valid = pc.is_valid(inst["bbox_x"]).to_numpy(zero_copy_only=False).tolist()
    offsets = np.arange(0, xywh.size + 1, 4)
    boxes = jsonnum.json_arrays(xywh, offsets, style == jsonnum.FLOAT)
    return [box if ok else None for box, ok in zip(boxes, valid)]


def _segmentation(inst: pa.Table, style: str | None) -> list:
    n = len(inst)
    out: list = [None] * n
    kind = inst["segmentation_type"].to_numpy(zero_copy_only=False)
    is_poly = kind == "polygons"
    # chunk by chunk (a row group each): combining nested chunks first copies every ring
    row = 0
    for chunk in inst["polygons"].chunks if is_poly.any() else []:
        polys = np.flatnonzero(is_poly[row : row + len(chunk)]).tolist()
        if polys:
            outer = np.asarray(chunk.offsets, dtype=np.int64)  # a row's rings, into .values
            rings = chunk.values
            inner = np.asarray(rings.offsets, dtype=np.int64)[outer[0] : outer[-1] + 1]
            flat = rings.values.to_numpy(zero_copy_only=False)
            lists = jsonnum.json_arrays(flat, inner, style == jsonnum.FLOAT)
            bounds = (outer - outer[0]).tolist()  # Python ints: NumPy scalars cost more
            for i in polys:
                out[row + i] = lists[bounds[i] : bounds[i + 1]]
        row += len(chunk)
    rle = np.flatnonzero((kind == "rle") | (kind == "rle_compressed"))
    if len(rle):
        sizes = inst["rle_size"].to_pylist()
        strings = inst["rle_counts"].to_pylist()
        lists = inst["rle_counts_list"].to_pylist()
        for i in rle.tolist():
            counts = strings[i] if kind[i] == "rle_compressed" else lists[i]
            out[i] = {"counts": counts, "size": sizes[i]}
    return out


def _keypoint_lists(inst: pa.Table, keypoints: pa.Table, styles: list | None) -> list:
    """Each instance's ``[x, y, v, …]`` list, joined from the keypoints table in bulk."""
    joints = inst["num_joints"]
    has = pc.is_valid(joints).to_numpy(zero_copy_only=False)
    per = np.where(has, joints.to_numpy(zero_copy_only=False), 0).astype(np.int64)
    coord_style, vis_style = styles or (jsonnum.CANONICAL, jsonnum.CANONICAL)
    ids = inst["instance_id"].to_numpy()
    kp_ids = keypoints["instance_id"].to_numpy()
    # joints stored in instance order (as ingest writes them) need no search per row
    in_order = len(kp_ids) == per.sum() and np.array_equal(np.repeat(ids, per), kp_ids)
    pos = np.repeat(np.arange(len(ids)), per) if in_order else schema.positions(ids, kp_ids)
    rows: np.ndarray | slice = slice(None)  # as stored (instance order, then joint order)
    if len(kp_ids):
        frame = keypoints["frame"].to_numpy()
        joint = keypoints["joint"].to_numpy().astype(np.int64)
        keep = frame == 0 if in_order else (ids[pos] == kp_ids) & (frame == 0)
        key = pos * (int(joint.max()) + 1) + joint
        if not (keep.all() and (key[1:] > key[:-1]).all()):
            rows = np.flatnonzero(keep)[np.argsort(key[keep], kind="stable")]
    count = len(kp_ids) if isinstance(rows, slice) else len(rows)
    if count != per.sum():
        raise StoreError(
            f"the store's keypoints ({count} joints) disagree with instances.num_joints "
            f"({per.sum()}); run `posestore validate` on the dataset"
        )
    xyv = np.empty((count, 3), dtype=np.float32)
    xyv[:, 0] = keypoints["x"].to_numpy(zero_copy_only=False)[rows]
    xyv[:, 1] = keypoints["y"].to_numpy(zero_copy_only=False)[rows]
    vis = keypoints["visibility"].to_numpy(zero_copy_only=False)[rows]
    xyv[:, 2] = np.nan_to_num(vis.astype(np.float32))
    as_float = np.array([coord_style, coord_style, vis_style]) == jsonnum.FLOAT
    offsets = jsonnum.run_offsets(per * 3)
    lists = jsonnum.json_arrays(xyv, offsets, np.tile(as_float, count))
    return [lst if ok else None for lst, ok in zip(lists, has.tolist())]
