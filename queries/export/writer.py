"""What every writer is: one signature (``Writer``), the options a writer may use, and the
path checks writers share. Each format's module (``coco``, ``pyskl``, ``fashionai``,
``yolo_pose``, ``coco_results``) exposes ``write``, and ``write_dataset`` calls it only so."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from posestore import schema
from posestore.errors import StoreError
from posestore.metadata import DatasetMeta
from posestore.paths import relative_inside

SplitTables = dict[str, schema.Tables]
"""One bundle of tables per split, in the order the splits are written."""


@dataclass
class ExportOptions:
    """What an export asks beyond the tables and the metadata; each writer reads what it needs."""

    whole: bool = False
    """The tables are the entire dataset (no split or row selection): PYSKL writes its split
    lists as they were, instead of filtering them to the selected clips."""
    image_dirs: dict[str, Path | None] = field(default_factory=dict)
    """Per split, the folder its images are in (YOLO pose reads unknown sizes there)."""
    merged_from: tuple[str, ...] = ()
    """The datasets a merged export joins (COCO keeps each record's ``source_dataset`` and
    ``source_id`` and names them in ``info``)."""
    progress: Callable[[str, int, int], None] | None = None
    """``progress(message, done, total)``, told as each file is written."""


class Writer(Protocol):
    """A format's writer: ``parts`` (a split's tables each, as the format takes them) and the
    dataset's metadata written at ``out`` (a file or a folder); returns the files written."""

    def __call__(
        self, parts: SplitTables, meta: DatasetMeta, out: Path, options: ExportOptions
    ) -> list[Path]: ...


def safe_relative(path: str, out: Path) -> Path:
    """``out / path`` when ``path`` stays inside ``out``, symbolic links resolved; a path that
    would escape it is refused."""
    target = relative_inside(path, out)
    if target is None or not target.resolve().is_relative_to(out.resolve()):
        raise StoreError(f"refusing to write {path!r}: it would land outside {out}")
    return target.resolve()


def single_file(parts: SplitTables, out: Path, suffix: str) -> bool:
    """OUT names one file (``out.csv``): the selection must be one split."""
    if out.suffix.lower() != suffix:
        return False
    if len(parts) != 1:
        raise StoreError(
            f"{out} is one file but the dataset has {len(parts)} splits ({', '.join(parts)}); "
            "pass --split, or give a folder"
        )
    return True


def write_relative(rel: str, data: bytes, out: Path) -> Path:
    """``data`` written at ``rel`` under the folder ``out`` (a path that would leave it is
    refused); returns the file."""
    target = safe_relative(rel, out)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return target
