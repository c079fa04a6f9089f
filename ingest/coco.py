"""COCO keypoints JSON → Tables, and the COCO family as flavours of one reader.

Flavours (``metadata.flavor``): plain COCO, PoseSOR (``class_id``,
``visiting_order`` per annotation), CVAT "COCO Keypoints" exports (a ``.zip`` read
in place, or the bare JSON; per-annotation ``attributes``), PartImageNet (part
categories, segmentation only). They differ only in which fields they carry; every
field the tables do not name is kept in ``attributes`` or the dataset metadata,
so that ``queries.export.coco`` writes the same document back.
"""

from __future__ import annotations

import errno
import os
import re
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath

import numpy as np
import orjson
import pyarrow as pa

from posestore import jsonnum, poses, schema
from posestore.errors import SourceError
from posestore.formats import (
    COCO_IMAGE_INTS,
    COCO_IMAGE_TEXT,
    COCO_RECORD_KEYS,
    COCO_SECTIONS,
    SourceWarning,
)
from posestore.metadata import DatasetMeta, SplitMeta, datasets_table

from . import jsonitems, jsonspans, memory
from ._records import (
    MISSING,
    Overrides,
    Records,
    first_true,
    ids_column,
    int_column,
    key_order,
    present_mask,
    resolve_refs,
    string_column,
    type_mask,
    unknown_keys,
    values,
)

_SPLIT_PREFIXES = ("person_keypoints_", "instances_", "image_info_", "keypoints_")

ROBOFLOW_FILE = "_annotations.coco.json"
"""Roboflow's COCO export: ``train/``, ``valid/``, ``test/``, each with this file and its images."""


def split_name(path: str, task: str | None = None) -> str:
    """The split a COCO file holds, from its name: ``person_keypoints_val2017.json`` → ``val2017``;
    a Roboflow split file (``valid/_annotations.coco.json``) is named by its folder."""
    p = PurePosixPath(path)
    if p.name == ROBOFLOW_FILE and len(p.parts) > 1:
        return re.sub(r"[^A-Za-z0-9_.-]", "_", p.parent.name).lstrip("._-") or "default"
    stem = p.name.rsplit(".", 1)[0]
    for prefix in (*_SPLIT_PREFIXES, *((f"{task}_",) if task else ())):
        if stem.startswith(prefix) and len(stem) > len(prefix):
            stem = stem[len(prefix) :]
            break
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", stem).lstrip("._-")
    return name or "default"


_CUT_KEYS = ("keypoints", "segmentation", "bbox")


def parse_json(data: bytes, file: str) -> dict:
    """Parse a COCO document; a syntax error names the file and the byte where it broke, an
    integer beyond 64 bits names its field."""
    try:
        doc = orjson.loads(data if isinstance(data, (bytes, str)) else memoryview(data))
    except orjson.JSONDecodeError as e:
        _raise_if_out_of_memory(e)
        raise SourceError(file, None, f"not valid JSON: {e}") from e
    if not isinstance(doc, dict):
        raise SourceError(
            file, None, f"expected a JSON object at the top, got {type(doc).__name__}"
        )
    _refuse_wide_integers(data, doc, file)
    return doc


def _refuse_wide_integers(text: bytes, doc: dict, file: str) -> None:
    """An integer of more than 64 bits (orjson reads it as a float, so an export would write a
    float back) is refused, naming its field."""
    found = jsonnum.wide_integer(text)
    if found is None:
        return
    offset, token = found
    shown = token if len(token) <= 30 else f"{token[:27]}…"
    record = _path_of_float(doc, float(token)) or f"byte {offset}"
    raise SourceError(
        file,
        record,
        f"the integer {shown} ({len(token.lstrip('-'))} digits) does not fit in 64 bits; "
        "posestore keeps integers of at most 64 bits",
    )


def _path_of_float(doc: object, value: float) -> str | None:
    """The path (``images[3].width``) of the first float equal to ``value`` in ``doc``, in
    document order; only looked for when a document is refused."""
    stack: list[tuple[str, object]] = [("", doc)]
    while stack:
        path, node = stack.pop()
        if type(node) is float and node == value:
            return path
        if type(node) is dict:
            stack.extend((f"{path}.{k}" if path else str(k), v) for k, v in reversed(node.items()))
        elif type(node) is list:
            stack.extend((f"{path}[{i}]", v) for i, v in reversed(list(enumerate(node))))
    return None


def parse_document(
    data: bytes, file: str, reload: Callable[[], bytes] | None = None
) -> tuple[dict, jsonspans.NumericArrays | None]:
    """Parse a COCO document with its annotations' number arrays cut out (see ``jsonspans``).

    Returns the document, whose annotation ``keypoints``/``segmentation``/``bbox``
    may be ``jsonspans.PLACEHOLDER``, and the arrays they stand for. Where cutting
    does not apply, or cut arrays turn up anywhere but there, the whole document is
    parsed as before and the arrays are None. ``reload`` reads ``data`` again where an
    array must be given back verbatim.
    """
    return load_document(lambda: data, file, reload)


def load_document(
    load: Callable[[], bytes],
    file: str,
    reload: Callable[[], bytes] | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[dict, jsonspans.NumericArrays | None]:
    """``parse_document`` of ``load()``'s bytes, which are let go as soon as the arrays are
    cut out, before the rest is parsed (the bytes, the arrays and the parsed records
    never all at once); ``reload`` (default ``load``) reads them again where needed.
    ``progress(bytes_done)`` is told as the arrays are cut."""
    reload = reload or load
    data = load()
    got = jsonspans.cut_pieces(data, _CUT_KEYS, progress)
    if got is None:
        return parse_json(data, file), None
    del data
    pieces, arrays = got
    del got
    arrays.release_source(reload)
    skeleton = b"".join(pieces)
    del pieces[:]
    arrays.join_all()
    doc = _parse_skeleton(skeleton)
    if jsonnum.wide_integer(skeleton) is not None:  # the arrays cut out have no long integers
        _refuse_wide_integers(skeleton, orjson.loads(skeleton), file)
    del skeleton
    memory.release()
    anns = doc.get("annotations") if isinstance(doc, dict) else None
    if isinstance(anns, (list, Records)) and all(
        arrays.count(key) == _count_placeholders(anns, key) for key in _CUT_KEYS
    ):
        return doc, arrays  # type: ignore[return-value]
    del doc, anns, arrays  # the plain parse: its error carries the source's byte offsets
    return parse_json(reload(), file), None


_SLICE = 50_000  # annotations parsed at a time: their dicts, and the parser's tree, at once


def _parse_skeleton(skeleton: bytes) -> object:
    """The document with placeholders, parsed; its ``images`` and ``annotations`` as
    ``Records`` built a slice of records at a time where their arrays can be found without
    parsing (else with the rest, at once). None where it is not valid JSON."""
    found = jsonitems.top_level_arrays(skeleton, ("images", "annotations"))
    try:
        doc = orjson.loads(jsonitems.without_arrays(skeleton, list(found.values())))
        if not isinstance(doc, dict):
            return doc
        for key, span in found.items():
            records = Records(jsonspans.PLACEHOLDER, _CUT_KEYS if key == "annotations" else ())
            for piece in jsonitems.item_slices(skeleton, span, _SLICE):
                records.extend(orjson.loads(piece))
            doc[key] = records
        return doc
    except orjson.JSONDecodeError as e:
        _raise_if_out_of_memory(e)
        return None
    except ValueError:
        return None


def _raise_if_out_of_memory(e: orjson.JSONDecodeError) -> None:
    """orjson reports a failed allocation as a decode error; it is no fault of the file."""
    if str(e).startswith("Not enough memory"):
        raise MemoryError(str(e)) from e


def _count_placeholders(records: list | Records, key: str) -> int:
    mark = jsonspans.PLACEHOLDER
    if isinstance(records, Records):
        return records.count_shared(key)
    return sum(1 for r in records if type(r) is dict and r.get(key) == mark)


OTHER_COCO_TASKS = ("instances_", "captions_", "image_info_", "stuff_", "panoptic_")
"""COCO's other annotation tasks: beside ``person_keypoints_*`` files they are left out, by name."""


def coco_files(root: Path) -> list[tuple[str, str | None]]:
    """COCO JSON files under a dataset root, as (path relative to the root, task folder).

    A PoseSOR root (``assr/assr_train.json``, ``irsr/irsr_test.json``) has one task per
    folder; a COCO root (``annotations/person_keypoints_val2017.json``) has one, ``None``.
    Every JSON file is read, except COCO's other tasks (``instances_*``, ``captions_*``)
    beside ``person_keypoints_*`` files: those are left out with a warning naming them.
    Files that are not regular files (a FIFO) are never opened: they are named too.
    """
    found: list[Path] = []
    irregular: list[Path] = []
    for p in sorted(root.rglob("*.json")):
        rel = p.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or "images" in rel.parts[:-1]:
            continue
        (found if p.is_file() else irregular).append(p)
    keypoint_folders = {p.parent for p in found if p.name.startswith("person_keypoints_")}
    out, skipped = [], []
    for p in found:
        if p.parent in keypoint_folders and p.name.startswith(OTHER_COCO_TASKS):
            skipped.append(p.relative_to(root).as_posix())
            continue
        folder = p.parent.relative_to(root).as_posix()
        if p.name == ROBOFLOW_FILE:  # a split folder: the task is the folder above it
            folder = p.parent.parent.relative_to(root).as_posix() if folder != "." else "."
        out.append(
            (p.relative_to(root).as_posix(), None if folder in (".", "annotations") else folder)
        )
    if skipped:
        warnings.warn(
            SourceWarning(
                f"{root}: {len(skipped)} files of other COCO tasks left out beside the "
                f"person_keypoints files: {', '.join(skipped[:5])}"
                + (" …" if len(skipped) > 5 else "")
            ),
            stacklevel=2,
        )
    if irregular:
        names = ", ".join(p.relative_to(root).as_posix() for p in irregular[:5])
        warnings.warn(
            SourceWarning(
                f"{root}: {len(irregular)} entries are not regular files, not read: {names}"
            ),
            stacklevel=2,
        )
    return out


def coco_tasks(root: Path) -> list[str | None]:
    """The task folders of a dataset root (``[None]`` for a plain COCO root)."""
    tasks = sorted({task for _, task in coco_files(root)}, key=lambda t: (t is not None, t or ""))
    if not tasks:
        raise SourceError(root, None, "no COCO JSON files found in this folder")
    return tasks


@dataclass
class _Document:
    """One COCO JSON of a source, not read yet."""

    where: str  # for messages: the file, or zip!member
    path: str  # relative to the source root (what export lays out again)
    split: str
    size: int
    load: Callable[[], bytes]
    image_root: str | None = None
    container: str | None = None


def read_coco(
    source: str | Path,
    dataset: str,
    split: str | None = None,
    flavor: str | None = None,
    task: str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> Iterator[schema.Tables]:
    """Read a COCO-family source: a JSON file, a CVAT ``.zip``, or a dataset root folder.

    Yields one bundle of tables per split file: ``images``, ``instances``,
    ``keypoints``, ``frames``, ``categories`` and a one-row ``datasets`` whose
    ``metadata`` describes that split. ``split`` names the split of a single file;
    ``task`` picks one task folder of a root that has several (PoseSOR ``assr``).
    ``progress(message, bytes_done, bytes_total)`` is told as each file is read.
    """
    source = Path(source)
    if not source.is_dir() and (zipfile.is_zipfile(source) or source.suffix.lower() == ".zip"):
        with _open_zip(source) as zf:
            yield from _read_documents(
                _zip_documents(source, zf, split), dataset, flavor or "cvat", progress
            )
    else:
        yield from _read_documents(_documents(source, split, task), dataset, flavor, progress)


def coco_pieces(
    source: str | Path,
    dataset: str,
    split: str | None = None,
    flavor: str | None = None,
    task: str | None = None,
) -> list[Callable[[], Iterator[schema.Tables]]]:
    """``read_coco``'s work as independent pieces: one per JSON file of a folder (a file or
    a zip is one piece)."""
    source = Path(source)
    if source.is_dir():
        return [
            partial(_read_documents, [d], dataset, flavor, None)
            for d in _documents(source, split, task)
        ]
    return [partial(read_coco, source, dataset, split, flavor, task)]


def _read_documents(
    docs: list[_Document], dataset: str, flavor: str | None, progress
) -> Iterator[schema.Tables]:
    total = sum(d.size for d in docs)
    done = 0
    for d in docs:
        parsing = f"parsing {d.path} ({d.size / 1e6:,.1f} MB)"
        told = None
        if progress:
            progress(parsing, done, total)
            # cutting the arrays is about half the work on a file, the rest of the parse a tenth
            told = partial(_told, progress, parsing, done, d.size, total)
        try:
            doc, arrays = load_document(d.load, d.where, progress=told)
            if progress:
                progress(f"flattening {d.path}", done + d.size * 6 // 10, total)
            tables = read_coco_document(
                doc,
                d.where,
                dataset,
                d.split,
                d.path,
                flavor,
                image_root=d.image_root,
                container=d.container,
                arrays=arrays,
            )
            del doc, arrays
        except MemoryError:
            raise SourceError(d.where, None, _out_of_memory(d.size)) from None
        except OSError as e:  # a file mapping refused for want of memory
            if e.errno != errno.ENOMEM:
                raise
            raise SourceError(d.where, None, _out_of_memory(d.size)) from None
        done += d.size
        if progress:
            progress(f"read {d.path}", done, total)
        yield tables


def _out_of_memory(size: int) -> str:
    return (
        f"ran out of memory reading it ({size / 1e6:,.0f} MB; a COCO ingest needs up to about "
        "3 times a file's size): free memory or raise the limit, and ingest it again"
    )


def _told(progress, message: str, done: int, size: int, total: int, cut: int) -> None:
    """Bytes cut out of a file of ``size``, told as progress over all files' ``total``."""
    progress(message, done + cut // 2, total)


def map_file(path: Path) -> bytes:
    """A file's bytes, mapped rather than read where it is large: the cut lets each stretch's
    pages go once it is done with them (``jsonspans``), so the whole file is never in memory
    at once. (An ``mmap`` reads as ``bytes`` everywhere the readers use it.)"""
    import mmap

    with path.open("rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size < jsonspans.MAP_FROM:
            return fh.read()
        return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)  # type: ignore[return-value]


def _documents(source: Path, split: str | None, task: str | None) -> list[_Document]:
    if not source.is_dir():
        return [
            _Document(
                str(source),
                source.name,
                split or split_name(source.as_posix()),
                source.stat().st_size,
                partial(map_file, source),
            )
        ]
    files = [rel for rel, t in coco_files(source) if t == task]
    if not files:
        raise SourceError(source, None, "no COCO JSON files found in this folder")
    docs = []
    for rel in files:
        path = source / rel
        name = (
            split
            if (split and len(files) == 1)
            else split_name(rel, task.rsplit("/", 1)[-1] if task else None)
        )
        docs.append(
            _Document(
                str(path),
                rel,
                name,
                path.stat().st_size,
                partial(map_file, path),
                _image_root(source, task, name),
            )
        )
    return docs


ZIP_RATIO = 200
"""Most bytes a zip member may inflate to per compressed byte (real COCO JSON deflates 2–50
times; a zip bomb a thousand times), beyond ``ZIP_FLOOR``."""
ZIP_FLOOR = 64 << 20
"""Members declaring at most this many bytes are inflated whatever their ratio."""
ZIP_METHODS = frozenset(
    {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
)

_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError)
"""What ``zipfile`` raises on damaged bytes (CRC, deflate stream, truncation, lzma, bz2)."""


def _open_zip(source: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(source)
    except _ZIP_ERRORS as e:
        raise SourceError(
            source, None, f"not a readable zip file (truncated or damaged?): {e}"
        ) from e


def _zip_documents(source: Path, zf: zipfile.ZipFile, split: str | None) -> list[_Document]:
    names = zf.namelist()
    members = sorted(n for n in names if n.endswith(".json") and not n.startswith("__MACOSX"))
    if not members:
        raise SourceError(source, None, "the zip holds no JSON annotation file")
    for m in members:
        _check_member(zf.getinfo(m), f"{source}!{m}")
    image_root = "images" if any(n.startswith("images/") for n in names) else None
    return [
        _Document(
            f"{source}!{m}",
            m,
            split if (split and len(members) == 1) else split_name(m),
            zf.getinfo(m).file_size,
            partial(_read_member, zf, m, f"{source}!{m}"),
            image_root,
            "zip",
        )
        for m in members
    ]


def _check_member(info: zipfile.ZipInfo, where: str) -> None:
    """A member posestore can inflate: not encrypted, a method zipfile has, and a declared
    size in proportion to its compressed bytes (a zip bomb is refused before inflating)."""
    if info.flag_bits & 0x1:
        raise SourceError(
            where, None, "is encrypted; unzip it with its password and ingest the JSON"
        )
    if info.compress_type not in ZIP_METHODS:
        raise SourceError(
            where,
            None,
            f"uses compression method {info.compress_type}, which posestore cannot read",
        )
    if info.file_size > max(ZIP_RATIO * info.compress_size, ZIP_FLOOR):
        raise SourceError(
            where,
            None,
            f"declares {info.file_size:,} bytes inflated from {info.compress_size:,} "
            f"({info.file_size / max(info.compress_size, 1):,.0f} times): more than the "
            f"{ZIP_RATIO} times posestore inflates (a zip bomb?)",
        )


def _read_member(zf: zipfile.ZipFile, member: str, where: str) -> bytes:
    """A member's bytes; damage (a bad CRC, a truncated stream) is one ``SourceError``."""
    try:
        return zf.read(member)
    except _ZIP_ERRORS as e:
        raise SourceError(where, None, f"cannot be read from the zip: {e}") from e


def _image_root(root: Path, task: str | None, split: str) -> str | None:
    """Where a split's images are, relative to the root, when they are there."""
    base = root / task if task else root
    for candidate in (
        base / "images" / split,
        root / "images" / split,
        base / split,
        base / "images",
    ):
        if candidate.is_dir():
            return candidate.relative_to(root).as_posix()
    return None


def detect_flavor(doc: dict) -> str:
    """Which member of the COCO family a document looks like."""
    anns = doc.get("annotations") or []
    anns = anns.head if isinstance(anns, Records) else anns
    first = anns[0] if anns and isinstance(anns[0], dict) else {}
    if "visiting_order" in first or "class_id" in first:
        return "posesor"
    licenses = doc.get("licenses")
    if (
        isinstance(licenses, list) and licenses == [{"name": "", "id": 0, "url": ""}]
    ) or "attributes" in first:
        return "cvat"
    if anns and not any("keypoints" in a for a in anns[:1000] if isinstance(a, dict)):
        cats = doc.get("categories") or []
        if cats and all(isinstance(c, dict) and "keypoints" not in c for c in cats):
            return "partimagenet" if any(c.get("supercategory") for c in cats) else "coco-detection"
    return "coco"


def _records(section: list | Records) -> Records:
    return section if isinstance(section, Records) else Records.of(section)


def _section(doc: dict, key: str, file: str) -> list:
    value = doc.get(key, MISSING)
    if isinstance(value, Records):
        if value.not_an_object is not None:
            at, kind = value.not_an_object
            raise SourceError(file, f"{key}[{at}]", f"expected an object, got {kind}")
        return value  # type: ignore[return-value]
    if value is MISSING:
        if key == "images":
            near = [k for k in doc if k.rstrip("s") == "image" or k.lower() == "images"]
            hint = f" (found {near[0]!r}; COCO names it 'images')" if near else ""
            raise SourceError(file, None, f"the top-level key 'images' is missing{hint}")
        return []
    if not isinstance(value, list):
        raise SourceError(file, key, f"expected a list, got {type(value).__name__}")
    bad = ~type_mask(value, dict)
    if (i := first_true(bad)) is not None:
        raise SourceError(file, f"{key}[{i}]", f"expected an object, got {type(value[i]).__name__}")
    return value


def read_coco_document(
    doc: dict,
    file: str,
    dataset: str,
    split: str,
    path: str,
    flavor: str | None = None,
    image_root: str | None = None,
    container: str | None = None,
    arrays: jsonspans.NumericArrays | None = None,
) -> schema.Tables:
    """Flatten one parsed COCO document into the store's tables (pure, no I/O).

    ``arrays`` holds the annotation arrays ``parse_document`` cut out of it.
    """
    images_raw = _dedupe_images(_records(_section(doc, "images", file)), file)
    anns = _records(_section(doc, "annotations", file))
    cats = _section(doc, "categories", file)
    styles: dict[str, list[str]] = {}

    images, image_lookup, image_ids = _images(images_raw, file, dataset, split)
    categories = _categories(cats, file, dataset, styles)
    instances, keypoints, labelled = _annotations(
        anns, file, dataset, split, image_ids, image_lookup, categories, styles, arrays
    )
    frames = _frames(dataset, split, image_ids, instances["image_id"].to_numpy(), labelled)

    split_meta = SplitMeta(
        path=path,
        image_root=image_root or None,
        top={k: v for k, v in doc.items() if k not in COCO_SECTIONS},
        key_order={
            "top": list(doc),
            "images": key_order(images_raw),
            "annotations": key_order(anns),
            "categories": key_order(cats),
        },
        styles=styles,
        category_ids=categories.column("category_id").to_pylist(),
    )
    flavor = flavor or detect_flavor(doc)
    meta = DatasetMeta("coco", {split: split_meta}, flavor=flavor, container=container or None)
    return {
        "images": images,
        "instances": instances,
        "keypoints": keypoints,
        "frames": frames,
        "categories": categories,
        "datasets": datasets_table(dataset, meta),
    }


def _dedupe_images(images: Records, file: str) -> Records:
    """Drop repeated identical image entries (with a warning); differing repeats are an error."""
    ids = [None if v is MISSING else v for v in images.values("id")]
    try:
        if len(set(ids)) == len(ids):
            return images
    except TypeError:  # an unhashable id: compare them the slow way
        pass
    first: dict = {}
    keep = []
    for i, key in enumerate(map(_hashable, ids)):
        if key not in first:
            first[key] = i
            keep.append(i)
            continue
        j = first[key]
        if orjson.dumps(images.record(i), option=orjson.OPT_SORT_KEYS) != orjson.dumps(
            images.record(j), option=orjson.OPT_SORT_KEYS
        ):
            raise SourceError(
                file,
                f"images[{i}].id",
                f"duplicate id {ids[i]!r} (also images[{j}]) with different fields",
            )
    warnings.warn(
        SourceWarning(
            f"{file}: images repeats {len(ids) - len(keep)} identical entries; each image is "
            "kept once"
        ),
        stacklevel=2,
    )
    return images.take(keep)


def _hashable(v: object) -> object:
    return (type(v).__name__, v) if isinstance(v, (int, str, float, bool, type(None))) else repr(v)


def _check_unique(ids: np.ndarray, file: str, where: str) -> None:
    if len(ids) < 2:
        return
    order = np.argsort(ids, kind="stable")
    same = ids[order][1:] == ids[order][:-1]
    if (k := first_true(same)) is not None:
        i, j = sorted((int(order[k]), int(order[k + 1])))
        raise SourceError(file, f"{where}[{j}].id", f"duplicate id {ids[j]} (also {where}[{i}])")


def _dumps(d: dict) -> bytes:
    return orjson.dumps(d)


def _images(images: Records, file: str, dataset: str, split: str):
    n = len(images)
    over = Overrides(n)
    ids, lookup = ids_column(values(images, "id"), file, "images", "id", over)
    _check_unique(ids, file, "images")
    cols: dict = {
        "dataset": schema.constant(dataset, n),
        "split": schema.constant(split, n),
        "image_id": ids,
    }
    for key in COCO_IMAGE_TEXT:
        cols[key] = string_column(values(images, key), key, over)
    for key in COCO_IMAGE_INTS:
        v, ok = int_column(values(images, key), key, over)
        cols[key] = pa.array(v, mask=~ok)
    cols["num_frames"] = np.ones(n, dtype=np.int32)
    for i, k in unknown_keys(images, COCO_RECORD_KEYS["images"]):
        over.add_value(i, k, images.get(i, k))
    cols["attributes"] = over.json_column(_dumps)
    return schema.conform("images", cols), lookup, ids


def _categories(cats: list[dict], file: str, dataset: str, styles: dict) -> pa.Table:
    n = len(cats)
    over = Overrides(n)
    ids, _ = ids_column(values(cats, "id"), file, "categories", "id", over)
    _check_unique(ids, file, "categories")
    cols: dict = {"dataset": [dataset] * n, "category_id": ids, "kind": ["object"] * n}
    for key in ("name", "supercategory"):
        cols[key] = string_column(values(cats, key), key, over)

    names = values(cats, "keypoints")
    is_list = type_mask(names, list)
    good = is_list & np.fromiter(
        (ok and all(type(s) is str for s in v) for v, ok in zip(names, is_list)),
        dtype=bool,
        count=n,
    )
    over.add("keypoints", names, present_mask(names) & ~good)
    cols["keypoints"] = pa.array(
        [v if ok else None for v, ok in zip(names, good)], type=pa.list_(pa.string())
    )

    skel = values(cats, "skeleton")
    cols["skeleton"] = _int_pairs(skel, "skeleton", over)
    for i, k in unknown_keys(cats, COCO_RECORD_KEYS["categories"]):
        over.add_value(i, k, cats[i][k])
    cols["attributes"] = over.json_column(_dumps)
    return schema.conform("categories", cols)


def _int_pairs(vals: list, key: str, over: Overrides) -> pa.Array:
    """A skeleton: a list of integer pairs; anything else is kept as an override."""
    is_list = type_mask(vals, list)
    out: list = [None] * len(vals)
    for i in np.flatnonzero(is_list):
        v = vals[i]
        if all(type(p) is list and all(type(j) is int for j in p) for p in v):
            out[i] = v
    good = np.array([o is not None for o in out], dtype=bool)
    over.add(key, vals, present_mask(vals) & ~good)
    try:
        return pa.array(out, type=pa.list_(pa.list_(pa.int64())))
    except (pa.ArrowInvalid, OverflowError):
        over.add(key, vals, good)
        return pa.nulls(len(vals), pa.list_(pa.list_(pa.int64())))


def _numeric_lists(vals: list, mask: np.ndarray, depth: int, key: str, over: Overrides):
    """Scan the records in ``mask`` as numeric lists; records that are not are overrides.

    Returns ``(column, index)``: the scanned column and the record index of each of
    its rows, or ``(None, empty)``.
    """
    idx = np.flatnonzero(mask)
    if not len(idx):
        return None, idx
    subset = [vals[i] for i in idx]
    try:
        return jsonnum.scan_lists(subset, depth), idx
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        good = np.zeros(len(idx), dtype=bool)
        for k, v in enumerate(subset):
            try:
                jsonnum.scan_lists([v], depth)
                good[k] = True
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
                pass
        over.add(key, vals, _scatter(len(vals), idx[~good]))
        if not good.any():
            return None, idx[:0]
        return jsonnum.scan_lists([subset[k] for k in np.flatnonzero(good)], depth), idx[good]


def _scatter(n: int, idx: np.ndarray) -> np.ndarray:
    m = np.zeros(n, dtype=bool)
    m[idx] = True
    return m


def _numeric_scalars(vals: list, key: str, over: Overrides, styles: dict, style_key: str):
    """A float column with its style; records it cannot reproduce become overrides."""
    numeric = type_mask(vals, int, float)
    present = present_mask(vals)
    over.add(key, vals, present & ~numeric)
    col = jsonnum.scan_scalars([v if ok else None for v, ok in zip(vals, numeric)])
    (style,), failing = jsonnum.choose_style(col, present=numeric)
    if numeric.any():
        styles[style_key] = style
    over.add(key, vals, failing & numeric)
    return pa.array(col.values, mask=~numeric)


def _annotations(anns, file, dataset, split, image_ids, image_lookup, categories, styles, arrays):
    n = len(anns)
    over = Overrides(n)
    cut = {key: _cut_column(anns, key, depth, arrays, over) for key, depth in _CUT_DEPTHS.items()}
    ids, _ = ids_column(values(anns, "id"), file, "annotations", "id", over)
    _check_unique(ids, file, "annotations")

    image_ref = values(anns, "image_id")
    if (i := first_true(~present_mask(image_ref))) is not None:
        raise SourceError(file, f"annotations[{i}]", "has no image_id")
    img = resolve_refs(image_ref, image_lookup, file, "annotations", "image_id", over)
    known = np.isin(img, image_ids)
    if (i := first_true(~known)) is not None:
        raise SourceError(
            file,
            f"annotations[{i}].image_id",
            f"refers to image {image_ref[i]!r}, which the file does not have",
        )
    cat_raw = values(anns, "category_id")
    cat, cat_ok = int_column(cat_raw, "category_id", over)
    cols: dict = {
        "dataset": schema.constant(dataset, n),
        "split": schema.constant(split, n),
        "instance_id": ids,
        "image_id": img,
        "category_id": pa.array(cat, mask=~cat_ok),
    }
    crowd, crowd_ok = int_column(
        values(anns, "iscrowd"), "iscrowd", over, np.int8, bool_as_int=True
    )
    cols["iscrowd"] = pa.array(crowd, mask=~crowd_ok)
    nk, nk_ok = int_column(values(anns, "num_keypoints"), "num_keypoints", over, np.int32)
    cols["num_keypoints"] = pa.array(nk, mask=~nk_ok)
    cols["area"] = _numeric_scalars(values(anns, "area"), "area", over, styles, "annotations.area")
    cols["score"] = _numeric_scalars(
        values(anns, "score"), "score", over, styles, "annotations.score"
    )
    cols.update(_bbox(values(anns, "bbox"), over, styles, cut.pop("bbox")))
    _drop_numbers(arrays, "bbox")
    cols.update(_segmentation(values(anns, "segmentation"), over, styles, cut.pop("segmentation")))
    _drop_numbers(arrays, "segmentation")  # the polygons column keeps the values it needs
    kp_cols, keypoints, labelled = _keypoints(
        anns, file, dataset, split, ids, img, cols["category_id"], over, styles,
        cut.pop("keypoints"),
    )  # fmt: skip
    _drop_numbers(arrays, "keypoints")
    cols.update(kp_cols)
    for i, k in unknown_keys(anns, COCO_RECORD_KEYS["annotations"]):
        over.add_value(i, k, anns.get(i, k))
    cols["attributes"] = over.json_column(_dumps)
    return schema.conform("instances", cols), keypoints, labelled


_CUT_DEPTHS = {"keypoints": 1, "segmentation": 2, "bbox": 1}


def _drop_numbers(arrays: jsonspans.NumericArrays | None, key: str) -> None:
    """A key's cut numbers are in its columns now: let them go (a large file's biggest part)."""
    if arrays is not None and arrays.count(key):
        arrays.drop_numbers(key)
        memory.release()


def _cut_column(anns: Records, key: str, depth: int, arrays, over: Overrides):
    """The column of a field whose arrays were all cut out before parsing, as ``(column, records)``.

    Where that does not hold (a record's array was left in the document, a
    depth other than ``depth``, a bbox without 4 numbers), the cut arrays are put
    back into the records as Python lists and the field is read the general way:
    returns None.
    """
    if arrays is None or not arrays.count(key):
        return None
    vals = values(anns, key)
    mark = jsonspans.PLACEHOLDER
    cut = np.fromiter((type(v) is str and v == mark for v in vals), bool, count=len(vals))
    idx = np.flatnonzero(cut)
    col = arrays.column(key, depth)
    fits = col is not None and not (type_mask(vals, list) & ~cut).any()
    if fits and key == "bbox":
        fits = bool((np.diff(col.offsets) == 4).all())
    if not fits:
        for rank, i in enumerate(idx):
            anns.set(int(i), key, arrays.value(key, rank))
        return None
    ranks = np.cumsum(cut) - 1
    over.resolve(key, mark, lambda i: arrays.value(key, int(ranks[i])))
    return col, idx, cut


def _bbox(vals: list, over: Overrides, styles: dict, cut=None) -> dict:
    n = len(vals)
    is_list = type_mask(vals, list)
    four = is_list & np.fromiter(
        (ok and len(v) == 4 for v, ok in zip(vals, is_list)), bool, count=n
    )
    if cut is not None:
        four |= cut[2]
    over.add("bbox", vals, present_mask(vals) & ~four)
    col, idx = cut[:2] if cut is not None else _numeric_lists(vals, four, 1, "bbox", over)
    out = {k: np.full(n, np.nan) for k in ("bbox_x", "bbox_y", "bbox_w", "bbox_h")}
    valid = np.zeros(n, dtype=bool)
    if col is not None:
        (style,), failing = jsonnum.choose_style(col)
        styles["annotations.bbox"] = style
        over.add("bbox", vals, _scatter(n, idx[failing]))
        xywh = col.values.reshape(-1, 4)
        for j, k in enumerate(out):
            out[k][idx] = xywh[:, j]
        valid[idx] = True
    return {k: pa.array(v, mask=~valid) for k, v in out.items()}


def _segmentation(vals: list, over: Overrides, styles: dict, cut=None) -> dict:
    n = len(vals)
    present = present_mask(vals)
    is_poly = type_mask(vals, list) | (cut[2] if cut is not None else False)
    is_dict = type_mask(vals, dict)
    seg_type = np.full(n, None, dtype=object)
    size: list = [None] * n
    counts_str: list = [None] * n
    counts_list: list = [None] * n

    col, idx = (
        cut[:2] if cut is not None else _numeric_lists(vals, is_poly, 2, "segmentation", over)
    )
    if col is not None:
        (style,), failing = jsonnum.choose_style(col)
        styles["annotations.segmentation"] = style
        over.add("segmentation", vals, _scatter(n, idx[failing]))
        seg_type[idx] = "polygons"
        polygons_arr = _take_into(col.arrow, idx, n)
    else:
        polygons_arr = pa.nulls(n, pa.list_(pa.list_(pa.float64())))

    rle_ok = np.zeros(n, dtype=bool)
    for i in np.flatnonzero(is_dict):
        rle = vals[i]
        s, c = rle.get("size"), rle.get("counts")
        if (
            set(rle) == {"size", "counts"}
            and type(s) is list
            and len(s) == 2
            and all(type(x) is int for x in s)
        ):
            if type(c) is str:
                seg_type[i], size[i], counts_str[i] = "rle_compressed", s, c
                rle_ok[i] = True
            elif type(c) is list and all(type(x) is int for x in c):
                seg_type[i], size[i], counts_list[i] = "rle", s, c
                rle_ok[i] = True
    over.add("segmentation", vals, present & ~(is_poly | rle_ok))
    return {
        "segmentation_type": seg_type,
        "polygons": polygons_arr,
        "rle_size": pa.array(size, type=pa.list_(pa.int64())),
        "rle_counts": pa.array(counts_str, type=pa.large_string()),
        "rle_counts_list": pa.array(counts_list, type=pa.large_list(pa.int64())),
    }


def _take_into(arr: pa.ListArray, idx: np.ndarray, n: int) -> pa.ListArray:
    """A list array of length ``n`` with ``arr[k]`` at ``idx[k]`` (``idx`` ascending), nulls elsewhere.

    Only new offsets are written: the lists' contents are shared with ``arr``.
    """
    lengths = np.zeros(n, dtype=np.int32)
    lengths[idx] = np.diff(arr.offsets.to_numpy())
    offsets = jsonnum.run_offsets(lengths, np.int32) + arr.offsets[0].as_py()
    absent = np.ones(n, dtype=bool)
    absent[idx] = False
    return pa.ListArray.from_arrays(
        pa.array(offsets), arr.values, type=arr.type, mask=pa.array(absent)
    )


def _keypoints(
    anns,
    file,
    dataset,
    split,
    ids,
    img,
    category: pa.Array,
    over: Overrides,
    styles: dict,
    cut=None,
):
    """The ``num_joints`` column, one pose row per annotation with joints, and which
    annotations have a labelled joint."""
    n = len(anns)
    cat = category.fill_null(-1).to_numpy()
    vals = values(anns, "keypoints")
    is_list = type_mask(vals, list) | (cut[2] if cut is not None else False)
    present = present_mask(vals)
    if (i := first_true(present & ~is_list)) is not None:
        raise SourceError(
            file, f"annotations[{i}].keypoints", f"expected a list, got {type(vals[i]).__name__}"
        )
    num_joints = np.zeros(n, dtype=np.int32)
    col, idx = cut[:2] if cut is not None else _numeric_lists(vals, is_list, 1, "keypoints", over)
    if len(idx) != is_list.sum():
        bad = sorted(set(np.flatnonzero(is_list)) - set(idx.tolist()))[0]
        huge = [v for v in vals[bad] if type(v) is int and abs(v) >= 2**63]
        raise SourceError(
            file,
            f"annotations[{bad}].keypoints",
            f"holds the integer {huge[0]}, beyond what a coordinate can hold"
            if huge
            else "holds values that are not numbers",
        )
    labelled = np.zeros(n, dtype=bool)
    if col is None:
        return (
            {"num_joints": pa.array(num_joints, mask=~present)},
            schema.empty("keypoints"),
            labelled,
        )

    lengths = np.diff(col.offsets)
    not3 = lengths % 3 != 0
    if not3.any():
        i = int(idx[np.flatnonzero(not3)[0]])
        raise SourceError(
            file,
            f"annotations[{i}].keypoints",
            f"has {lengths[not3][0]} values, expected a multiple of 3 (x, y, v per joint)",
        )
    _check_lengths_per_category(lengths, cat[idx], idx, file)
    num_joints[idx] = lengths // 3
    if not len(col.values):  # every list empty: records without joints, no number to style
        return (
            {"num_joints": pa.array(num_joints, mask=~present)},
            schema.empty("keypoints"),
            labelled,
        )

    slots = np.zeros(len(col.values), dtype=np.int8)  # records are whole triples
    slots[2::3] = 1
    (coord_style, vis_style), failing = jsonnum.choose_style(col, slots=slots)
    del slots
    xyv = col.values.reshape(-1, 3)
    inexact = jsonnum.f32_inexact(xyv[:, 0]) | jsonnum.f32_inexact(xyv[:, 1])
    vis = xyv[:, 2]
    vis_ok = jsonnum.small_ints(vis, -128, 127)
    joint_offsets = jsonnum.run_offsets(lengths // 3)  # per record: its first joint
    bad_joint = inexact | ~vis_ok
    del inexact
    failing |= jsonnum.records_of(joint_offsets, np.flatnonzero(bad_joint))
    over.add("keypoints", vals, _scatter(n, idx[failing]))
    styles["annotations.keypoints"] = [coord_style, vis_style]

    per = lengths // 3
    posed = per > 0  # an empty list is a record without joints, not a pose
    visibility = np.zeros(len(vis), dtype=np.int8)
    np.copyto(visibility, vis, casting="unsafe", where=vis_ok)  # no float temporary
    keypoints = poses.pose_table(
        dataset, split, img[idx[posed]], ids[idx[posed]], category.take(idx[posed]), None,
        per[posed], xyv[:, 0].astype(np.float32), xyv[:, 1].astype(np.float32),
        pa.array(visibility, mask=~vis_ok),
    )  # fmt: skip
    labelled[idx] = jsonnum.records_of(joint_offsets, np.flatnonzero(vis_ok & (vis > 0)))
    return {"num_joints": pa.array(num_joints, mask=~present)}, keypoints, labelled


def _check_lengths_per_category(
    lengths: np.ndarray, cats: np.ndarray, idx: np.ndarray, file: str
) -> None:
    """Within a category every non-empty keypoints list has the same length (the most common one)."""
    nonempty = lengths > 0
    for c in np.unique(cats[nonempty]):
        mine = nonempty & (cats == c)
        values_, counts = np.unique(lengths[mine], return_counts=True)
        if len(values_) > 1:
            expected = values_[np.argmax(counts)]
            k = int(np.flatnonzero(mine & (lengths != expected))[0])
            raise SourceError(
                file,
                f"annotations[{idx[k]}].keypoints",
                f"has {lengths[k]} values, expected {expected}",
            )


def _frames(
    dataset: str,
    split: str,
    image_ids: np.ndarray,
    instance_images: np.ndarray,
    labelled: np.ndarray,
) -> pa.Table:
    """One frame row per still image, counting its instances with a labelled joint."""
    n = len(image_ids)
    counts = np.zeros(n, dtype=np.int32)
    if labelled.any():
        pos = schema.positions(image_ids, instance_images[labelled])
        counts = np.bincount(pos, minlength=n).astype(np.int32)
    return schema.conform(
        "frames",
        {
            "dataset": schema.constant(dataset, n),
            "split": schema.constant(split, n),
            "image_id": image_ids,
            "frame": np.zeros(n, dtype=np.int32),
            "num_instances": counts,
        },
    )
