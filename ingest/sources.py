"""What a source is: its format, and the datasets an ingest of it writes."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from posestore import schema
from posestore.errors import SourceError

FORMATS = ("coco", "pyskl", "fashionai")
"""Formats posestore reads (``--format``)."""


Piece = Callable[[], Iterator[schema.Tables]]
"""One independent part of a source's work (a file, a kpfile, a clip batch): called anywhere,
in any order, it yields its bundles of tables. Picklable, so it can run as a Ray task."""


@dataclass
class Plan:
    """One dataset an ingest writes: its name, format, and how to read its tables."""

    dataset: str
    format: str
    read: Callable[..., Iterator[schema.Tables]]  # read(progress=None)
    pieces: Callable[[], list[Piece]] | None = None
    """The same bundles as ``read`` yields, cut into independent pieces: piece k's bundles
    follow piece k-1's in ``read``'s order. Without it the source is one piece."""

    def __post_init__(self) -> None:
        if self.pieces is None:
            self.pieces = partial(_whole, self.read)


def _whole(read: Callable[..., Iterator[schema.Tables]]) -> list[Piece]:
    return [read]


def default_name(source: Path) -> str:
    """A dataset name from a source path: ``person_keypoints_val2017.json`` → ``person_keypoints_val2017``."""
    stem = source.name if source.is_dir() else source.name.split(".", 1)[0]
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("._-")
    return name or "dataset"


def detect_format(source: Path) -> str:
    """The format of a file, zip or folder, from its names and first bytes."""
    if source.is_dir():
        if any(source.rglob("*.json")):
            return "coco"
        if any(source.rglob("*.csv")):
            return "fashionai"
        if any(source.glob("*.pkl")):
            raise SourceError(
                source,
                None,
                "a PYSKL dataset is one annotation pickle: point ingest at the .pkl file",
            )
        raise SourceError(
            source, None, "found no annotation files (COCO .json, FashionAI .csv) in this folder"
        )
    suffix = source.suffix.lower()
    if suffix in (".json", ".zip") or zipfile.is_zipfile(source):
        return "coco"  # a zip is a CVAT export: its reader says when it is not a readable zip
    if suffix == ".csv":
        return "fashionai"
    if suffix in (".pkl", ".pickle"):
        return "pyskl"
    raise SourceError(
        source,
        None,
        f"cannot tell the format of {source.name!r}; pass --format ({', '.join(FORMATS)})",
    )


def plan(
    source: Path, format: str | None = None, dataset: str | None = None, split: str | None = None
) -> list[Plan]:  # noqa: A002
    """The datasets an ingest of ``source`` writes."""
    fmt = format or detect_format(source)
    if fmt not in FORMATS:
        raise SourceError(
            source, None, f"unknown format {fmt!r}; posestore reads {', '.join(FORMATS)}"
        )
    name = dataset or default_name(source)
    if fmt == "coco":
        from posestore.ingest.coco import coco_tasks, read_coco

        tasks = coco_tasks(source) if source.is_dir() else [None]
        names = [name] if len(tasks) == 1 else [f"{name}-{task}" for task in tasks]
        from posestore.ingest.coco import coco_pieces

        return [
            Plan(
                n,
                fmt,
                partial(read_coco, source, n, split, task=task),
                partial(coco_pieces, source, n, split, task=task),
            )
            for n, task in zip(names, tasks)
        ]
    if fmt == "pyskl":
        from posestore.ingest.pyskl import read_pyskl

        if source.is_dir():
            raise SourceError(
                source,
                None,
                "a PYSKL dataset is one annotation pickle: point ingest at the .pkl file",
            )
        from posestore.ingest.pyskl import pyskl_pieces

        return [
            Plan(
                name,
                fmt,
                partial(read_pyskl, source, name, split),
                partial(pyskl_pieces, source, name, split),
            )
        ]
    if fmt == "fashionai":
        from posestore.ingest.fashionai import fashionai_pieces, read_fashionai

        return [
            Plan(
                name,
                fmt,
                partial(read_fashionai, source, name, split),
                partial(fashionai_pieces, source, name, split),
            )
        ]
    raise AssertionError(fmt)
