"""Writers: the store's tables back to files, one module per format."""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath

import orjson

from posestore import schema
from posestore.errors import StoreError

WRITERS = ("coco", "pyskl", "fashionai")
"""Formats posestore writes (``--format``)."""


def safe_relative(path: str, out: Path) -> Path:
    """``out / path`` when ``path`` stays inside ``out``; a path that would escape it is refused."""
    p = PurePosixPath(path.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise StoreError(f"refusing to write {path!r}: it would land outside {out}")
    target = (out / Path(*p.parts)).resolve()
    if not target.is_relative_to(out.resolve()):
        raise StoreError(f"refusing to write {path!r}: it would land outside {out}")
    return target


def write_dataset(
    parts: dict[str, schema.Tables],
    info: dict,
    out: Path,
    fmt: str,
    progress=None,
    whole: bool = False,
) -> list[Path]:
    """Write each split's tables in ``fmt`` under ``out``; returns the files written.

    ``whole``: the parts are the entire dataset (no split or row selection).
    """
    if fmt not in WRITERS:
        raise StoreError(f"cannot export as {fmt!r}; posestore writes {', '.join(WRITERS)}")
    meta = info["metadata"]
    if fmt == "coco":
        return _write_coco(parts, meta, out, progress)
    if fmt == "fashionai":
        return _write_fashionai(parts, meta, out, progress)
    if fmt == "pyskl":
        return _write_pyskl(parts, meta, out, progress, whole)
    raise AssertionError(fmt)


def _write_pyskl(parts, meta: dict, out: Path, progress, whole: bool) -> list[Path]:
    from .pyskl import write_pyskl

    if meta.get("format") != "pyskl":
        raise StoreError(f"a {meta.get('format')} dataset cannot be written as a PYSKL pickle")
    if out.suffix.lower() not in (".pkl", ".pickle"):
        name = next(iter(meta.get("splits", {}).values()), {}).get("path") or "annotations.pkl"
        out = safe_relative(name, out)
    if progress:
        progress(f"writing {out.name}", -1, -1)
    return write_pyskl(parts, meta, out, whole)


def _single_file(parts: dict, out: Path, suffix: str) -> bool:
    """OUT names one file (``out.csv``): the selection must be one split."""
    if out.suffix.lower() != suffix:
        return False
    if len(parts) != 1:
        raise StoreError(
            f"{out} is one file but the dataset has {len(parts)} splits ({', '.join(parts)}); "
            "pass --split, or give a folder"
        )
    return True


def _write_fashionai(
    parts: dict[str, schema.Tables], meta: dict, out: Path, progress
) -> list[Path]:
    from .fashionai import fashionai_csv

    if meta.get("format") != "fashionai":
        raise StoreError(f"a {meta.get('format')} dataset cannot be written as FashionAI CSV")
    split_meta = meta.get("splits", {})
    written = []
    single = _single_file(parts, out, ".csv")
    for split, tables in parts.items():
        if progress:
            progress(f"writing {split}", -1, -1)
        data = fashionai_csv(tables, split_meta.get(split))
        rel = split_meta.get(split, {}).get("path") or f"{split}.csv"
        target = out if single else safe_relative(rel, out)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written.append(target)
    return written


def _write_coco(parts: dict[str, schema.Tables], meta: dict, out: Path, progress) -> list[Path]:
    from .coco import coco_document

    native = meta.get("format") == "coco"
    split_meta = meta.get("splits", {}) if native else {}
    if _single_file(parts, out, ".json"):
        ((split, tables),) = parts.items()
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(orjson.dumps(coco_document(tables, split_meta.get(split))))
        return [out]
    documents = {}
    for split, tables in parts.items():
        if progress:
            progress(f"writing {split}", -1, -1)
        rel = split_meta.get(split, {}).get("path") if native else None
        rel = rel or f"{split}.json"
        documents[rel] = orjson.dumps(coco_document(tables, split_meta.get(split)))
    if out.suffix.lower() == ".zip":
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for rel, data in documents.items():
                safe_relative(rel, out.parent)
                zf.writestr(str(PurePosixPath(rel)), data)
        return [out]
    written = []
    for rel, data in documents.items():
        target = safe_relative(rel, out)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written.append(target)
    return written
