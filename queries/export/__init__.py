"""Writers: the store's tables back to files, one module per format, each exposing the one
``Writer`` signature (``writer.py``); ``write_dataset`` is how the store calls them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path, PurePosixPath

from posestore import schema
from posestore.errors import StoreError
from posestore.metadata import DatasetMeta
from posestore.paths import is_file, relative_inside, relative_path

from . import coco, coco_results, fashionai, pyskl, yolo_pose
from .writer import ExportOptions, SplitTables, Writer, safe_relative

__all__ = [
    "WRITERS",
    "ExportOptions",
    "Writer",
    "cannot_write",
    "formats_for",
    "prepare",
    "safe_relative",
    "write_dataset",
]

WRITERS: dict[str, Writer] = {
    "coco": coco.write,
    "pyskl": pyskl.write,
    "fashionai": fashionai.write,
    "yolo-pose": yolo_pose.write,
    "coco-results": coco_results.write,
}
"""Formats posestore writes (``--format``), each with its writer."""

STILL_FORMATS = ("coco", "yolo-pose")
"""Image formats: PYSKL clips are written to them as a still image per frame, and their poses
can be projected onto another skeleton (``--skeleton``)."""


def formats_for(source_format: str | None) -> tuple[str, ...]:
    """The formats a dataset of ``source_format`` exports to, its own first: predictions as
    COCO results only; anything with poses as COCO and YOLO pose too."""
    if source_format == "coco-results":
        return ("coco-results",)
    own = (source_format,) if source_format in WRITERS else ()
    return own + tuple(f for f in STILL_FORMATS if f not in own)


def cannot_write(fmt: str, source_format: str | None) -> StoreError:
    """The one-line refusal of a format, naming the formats this dataset can take."""
    what = (
        f"cannot export as {fmt!r}"
        if fmt not in WRITERS
        else f"a {source_format} dataset cannot be written as {fmt}"
    )
    return StoreError(
        f"{what}; a {source_format} dataset exports as {', '.join(formats_for(source_format))}"
    )


def write_dataset(
    parts: SplitTables,
    meta: DatasetMeta,
    out: Path,
    fmt: str,
    options: ExportOptions | None = None,
    skeleton: str | None = None,
    final: Path | None = None,
) -> list[Path]:
    """Write each split's tables in ``fmt`` under ``out`` with that format's writer; returns
    the files written. ``skeleton``: project every pose onto this registry skeleton (COCO and
    YOLO pose)."""
    if fmt not in formats_for(meta.format):
        raise cannot_write(fmt, meta.format)
    if skeleton is not None and fmt not in STILL_FORMATS:
        raise StoreError(f"--skeleton projects poses for coco and yolo-pose, not {fmt}")
    parts = {split: prepare(tables, meta.format, fmt, skeleton) for split, tables in parts.items()}
    return WRITERS[fmt](parts, meta, out, options or ExportOptions())


def prepare(
    tables: schema.Tables, source_format: str, fmt: str, skeleton: str | None = None
) -> schema.Tables:
    """One split's tables as the ``fmt`` writer takes them: a dataset's PYSKL clips as still
    images, and every pose projected onto ``skeleton`` (for the image formats)."""
    if source_format == "pyskl" and fmt in STILL_FORMATS:
        from .stills import clips_as_stills

        tables = clips_as_stills(tables)
    if skeleton is not None:
        from posestore.queries.project import project_tables

        tables = project_tables(tables, skeleton)
    return tables


def image_destination(fmt: str, meta: DatasetMeta, out: Path, split: str, file_name: str) -> Path:
    """Where an exported image goes: YOLO ``images/<split>/…``; otherwise the source's own layout
    (its image folder relative to the source root) beside the annotations, else ``images/<split>/…``."""
    base = out if out.suffix == "" else out.parent
    _relative_name(file_name)
    if fmt == "yolo-pose":
        return safe_relative(f"images/{split}/{file_name}", base)
    split_meta = meta.splits.get(split)
    image_root = split_meta.image_root if split_meta else None
    if fmt == meta.format and image_root:
        return safe_relative(f"{image_root}/{file_name}" if image_root != "." else file_name, base)
    return safe_relative(f"images/{split}/{file_name}", base)


def place_images(
    parts: SplitTables,
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
            if source is None or not is_file(source):
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
