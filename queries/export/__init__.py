"""Writers: the store's tables back to files, one module per format."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pyarrow as pa

from posestore import schema
from posestore.errors import StoreError
from posestore.paths import relative_inside, relative_path

WRITERS = ("coco", "pyskl", "fashionai", "yolo-pose", "coco-results")
"""Formats posestore writes (``--format``)."""


def formats_for(source_format: str | None) -> tuple[str, ...]:
    """The formats a dataset of ``source_format`` exports to, its own first: predictions as
    COCO results only; anything with poses as COCO and YOLO pose too."""
    if source_format == "coco-results":
        return ("coco-results",)
    own = (source_format,) if source_format in WRITERS else ()
    return own + tuple(f for f in ("coco", "yolo-pose") if f not in own)


def _cannot(fmt: str, meta: dict) -> StoreError:
    """The one-line refusal of a format, naming the formats this dataset can take."""
    source = meta.get("format")
    what = (
        f"cannot export as {fmt!r}"
        if fmt not in WRITERS
        else f"a {source} dataset cannot be written as {fmt}"
    )
    return StoreError(f"{what}; a {source} dataset exports as {', '.join(formats_for(source))}")


def safe_relative(path: str, out: Path) -> Path:
    """``out / path`` when ``path`` stays inside ``out``, symbolic links resolved; a path that
    would escape it is refused."""
    target = relative_inside(path, out)
    if target is None or not target.resolve().is_relative_to(out.resolve()):
        raise StoreError(f"refusing to write {path!r}: it would land outside {out}")
    return target.resolve()


def write_dataset(
    parts: dict[str, schema.Tables],
    info: dict,
    out: Path,
    fmt: str,
    progress: Callable[[str, int, int], None] | None = None,
    whole: bool = False,
    image_dirs: dict[str, Path | None] | None = None,
    skeleton: str | None = None,
) -> list[Path]:
    """Write each split's tables in ``fmt`` under ``out``; returns the files written.

    ``whole``: the parts are the entire dataset (no split or row selection).
    ``image_dirs``: per split, the folder its images are in (YOLO reads unknown sizes there).
    ``skeleton``: project every pose onto this registry skeleton (COCO and YOLO pose).
    """
    meta = info["metadata"]
    if fmt not in formats_for(meta.get("format")):
        raise _cannot(fmt, meta)
    if meta.get("format") == "pyskl" and fmt in ("coco", "yolo-pose"):
        from .stills import clips_as_stills

        parts = {split: clips_as_stills(tables) for split, tables in parts.items()}
    if skeleton is not None:
        from posestore.queries.project import project_tables

        if fmt not in ("coco", "yolo-pose"):
            raise StoreError(f"--skeleton projects poses for coco and yolo-pose, not {fmt}")
        parts = {split: project_tables(tables, skeleton) for split, tables in parts.items()}
    if fmt == "coco-results":
        from .coco_results import write_coco_results

        return write_coco_results(parts, meta, out)
    if fmt == "coco":
        if meta.get("format") != "coco":
            _warn_unsized(parts)
        return _write_coco(parts, meta, out, progress)
    if fmt == "fashionai":
        return _write_fashionai(parts, meta, out, progress)
    if fmt == "pyskl":
        return _write_pyskl(parts, meta, out, progress, whole)
    if fmt == "yolo-pose":
        return _write_yolo(parts, out, progress, image_dirs or {})
    raise AssertionError(fmt)


def _warn_unsized(parts: dict[str, schema.Tables]) -> None:
    """COCO images carry a width and height; say how many the source did not give."""
    import warnings

    import pyarrow.compute as pc

    from posestore.formats import SourceWarning

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
            stacklevel=3,
        )


def image_destination(fmt: str, meta: dict, out: Path, split: str, file_name: str) -> Path:
    """Where an exported image goes: YOLO ``images/<split>/…``; otherwise the source's own layout
    (its image folder relative to the source root) beside the annotations, else ``images/<split>/…``."""
    base = out if out.suffix == "" else out.parent
    _relative_name(file_name)
    if fmt == "yolo-pose":
        return safe_relative(f"images/{split}/{file_name}", base)
    image_root = meta.get("splits", {}).get(split, {}).get("image_root")
    if fmt == meta.get("format") and image_root:
        return safe_relative(f"{image_root}/{file_name}" if image_root != "." else file_name, base)
    return safe_relative(f"images/{split}/{file_name}", base)


def place_images(
    parts: dict[str, schema.Tables],
    image_dirs: dict[str, Path | None],
    dest: Callable[[str, str], Path],
    mode: str,
) -> tuple[int, list[str]]:
    """Copy or link each selected image to ``dest(split, file_name)``; (placed, missing)."""
    import os
    import shutil

    placed, missing = 0, []
    for split, tables in parts.items():
        src_dir = image_dirs.get(split)
        for name in tables["images"]["file_name"].to_pylist():
            target = dest(split, name)
            source = relative_inside(name, src_dir) if src_dir else None
            if source is None or not source.is_file():
                missing.append(f"{split}/{name}")
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists() or target.is_symlink():
                target.unlink()
            if mode == "copy":
                shutil.copy2(source, target)
            else:
                os.symlink(source.resolve(), target)
            placed += 1
    return placed, missing


def _relative_name(file_name: str) -> PurePosixPath:
    """An image's ``file_name`` as a relative path; one that climbs out or is absolute is refused."""
    p = relative_path(file_name)
    if p is None:
        raise StoreError(
            f"refusing image path {file_name!r}: it would land outside the export folder"
        )
    return p


def _write_yolo(
    parts: dict[str, schema.Tables], out: Path, progress, image_dirs: dict
) -> list[Path]:
    import warnings

    import numpy as np
    import pyarrow.compute as pc

    from posestore.formats import SourceWarning

    from .yolo_pose import (
        data_yaml,
        label_lines,
        label_path,
        registry_sigmas,
        yolo_classes,
        yolo_flip,
    )

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
            out, list(parts), names, joints, flip, registry_sigmas(tables0["categories"], cat_ids)
        )
    )
    return [yaml, *written]


def _with_sizes(tables: schema.Tables, split: str, folder: Path | None) -> schema.Tables:
    """The split's tables with every image's width and height, read from the image files
    where the source gave none; an image whose size stays unknown is an error (YOLO
    normalises by it)."""
    from posestore.imagesize import image_size

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


def _write_pyskl(parts, meta: dict, out: Path, progress, whole: bool) -> list[Path]:
    from .pyskl import write_pyskl

    if meta.get("format") != "pyskl":
        raise _cannot("pyskl", meta)
    if out.suffix.lower() not in (".pkl", ".pickle"):
        first_split: dict = next(iter(meta.get("splits", {}).values()), {})
        name = first_split.get("path") or "annotations.pkl"
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
        raise _cannot("fashionai", meta)
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
    from .coco import coco_json, write_coco

    native = meta.get("format") == "coco"
    split_meta = meta.get("splits", {}) if native else {}
    if _single_file(parts, out, ".json"):
        ((split, tables),) = parts.items()
        return [write_coco(tables, out, split_meta.get(split))]
    documents = {}
    for split, tables in parts.items():
        if progress:
            progress(f"writing {split}", -1, -1)
        rel = split_meta.get(split, {}).get("path") if native else None
        rel = rel or f"{split}.json"
        documents[rel] = coco_json(tables, split_meta.get(split))
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
