"""The reader↔writer contract: what a writer needs from a dataset's metadata to rebuild its source.

A reader describes what it read as a ``DatasetMeta`` (a ``SplitMeta`` per split) and hands it on
in the one-row ``datasets`` table of its bundle (``datasets_table``); the store merges the
bundles' (``DatasetMeta.merged``) and keeps the result as JSON in ``datasets.metadata``, where
plain SQL reads it too; a writer gets it back typed (``Store.dataset_info(name)["metadata"]``).
Every key is a field here, spelt once, with what it means; its JSON name is the field's name.

A key this version does not know (a store written by another version, a hand edit) is kept in
the ``unknown`` of the object it was found in: it survives merges and single-split re-ingests
unchanged, no writer reads it, and ``unknown_keys`` names it so an export can say so.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from posestore import schema
from posestore.errors import StoreError
from posestore.formats import PYSKL_DEFAULT_DTYPES

MERGED = "merged"
"""The ``format`` of several datasets exported as one (``Store.export_many``); never stored."""


@dataclass
class CsvLayout:
    """FashionAI: how a split's CSV was laid out, so a whole split comes back byte for byte.
    In JSON its fields stand beside the split's other keys."""

    header: list[str] | None
    """The header row as the file had it; None: the file had none."""
    newline: str = "\n"
    """The line ending, ``\\n`` or ``\\r\\n``."""
    final_newline: bool = True
    """The last row ended with a line ending."""
    trailing_blank_lines: int = 0
    bom: bool = False
    """The file began with a UTF-8 byte order mark."""


@dataclass
class PysklArrays:
    """PYSKL: the dtypes (``numpy.dtype.str``: ``<f2``) and shape of a dataset's arrays, from
    its first clip that has them; a clip that differs keeps its own in its ``attributes``
    (``formats.PYSKL_DTYPES_KEY``)."""

    keypoint: str | None = None
    """``keypoint`` [M, T, V, C]."""
    keypoint_score: str | None = None
    """``keypoint_score`` [M, T, V]; None: the clips have none (3D)."""
    frame_inds: str | None = None
    """Kinetics: each detected skeleton's frame."""
    box_score: str | None = None
    """Kinetics: each detected skeleton's box score."""
    kpfile_keypoint: str | None = None
    """Kinetics: the keypoints of the kpfiles beside the index pickle."""
    joints: int | None = None
    """V of ``keypoint``."""
    channels: int | None = None
    """C of ``keypoint``: 2 (x, y; the score apart) or 3 (x, y, z)."""
    unknown: dict[str, Any] = field(default_factory=dict)

    def dtype(self, name: str) -> np.dtype:
        """The dtype of array ``name`` (a field above), else the one PYSKL writes by default."""
        return np.dtype(getattr(self, name) or PYSKL_DEFAULT_DTYPES[name])


@dataclass
class SplitMeta:
    """What one split's source file needs beyond its rows."""

    path: str | None = None
    """The split's file relative to the source root (``annotations/person_keypoints_val2017.json``);
    a folder export writes it there again."""
    image_root: str | None = None
    """The folder its ``file_name``s are relative to, from the source root, where the ingest
    found the images."""
    top: dict[str, Any] | None = None
    """COCO: the document's top-level keys other than its sections (``info``, ``licenses``…),
    verbatim; None: a plain COCO ``info`` and ``licenses`` are written."""
    key_order: dict[str, list[str]] | None = None
    """COCO: the order of the document's keys (``top``) and, per section (``images``,
    ``annotations``, ``categories``), of its records' keys."""
    styles: dict[str, Any] | None = None
    """COCO: how numbers were written, per ``section.key`` (``annotations.bbox``: a
    ``posestore.jsonnum`` style; ``annotations.keypoints``: [coordinates, visibility])."""
    category_ids: list[int] | None = None
    """COCO: the categories this file lists (the dataset's catalog is the union of its files')."""
    kind: str | None = None
    """FashionAI: ``train`` (the 24 joint columns) or ``test`` (image and category only)."""
    csv: CsvLayout | None = None
    """FashionAI: the file's layout."""
    columns: int | None = None
    """FashionAI: the width of a file without a header."""
    unknown: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SplitMeta:
        d = dict(d)
        csv = None
        if "header" in d:  # the FashionAI reader writes the whole layout or none of it
            csv = _build(CsvLayout, {k: d.pop(k) for k in _names(CsvLayout) if k in d})
        known, unknown = _known(cls, d, nested=("csv",))
        return cls(**known, csv=csv, unknown=unknown)

    def to_dict(self) -> dict[str, Any]:
        out = _plain(self, skip=("csv",))
        if self.csv is not None:
            out.update(dataclasses.asdict(self.csv))
        return {**out, **self.unknown}


@dataclass
class DatasetMeta:
    """Everything a writer needs to rebuild a dataset's source files, beside its tables."""

    format: str
    """coco, pyskl, fashionai or coco-results (``MERGED`` for a merged export)."""
    splits: dict[str, SplitMeta] = field(default_factory=dict)
    """Per split partition, in the source's order."""
    flavor: str | None = None
    """COCO: the member of the family the documents look like (``coco``, ``posesor``, ``cvat``,
    ``partimagenet``, ``coco-detection``, ``coco-results``)."""
    container: str | None = None
    """COCO: the ``.zip`` the documents were read from in place (CVAT)."""
    root: str | None = None
    """The source's folder, absolute: where the images are found again on export (the store
    sets it)."""
    ground_truth: str | None = None
    """coco-results: the dataset the predictions were made on."""
    layout: str | None = None
    """PYSKL: the pickle's shape, ``dict`` ({split, annotations}), ``list`` or ``single`` (one clip)."""
    variant: str | None = None
    """PYSKL: ``2d``, ``3d`` or ``kinetics`` (an index of clips, the joints in kpfiles)."""
    arrays: PysklArrays | None = None
    key_order: list[Any] | None = None
    """PYSKL: the keys of a clip's dict, in the order the first clip has them."""
    top: dict[str, Any] | None = None
    """PYSKL ``dict`` layout: the pickle's top-level keys but ``annotations`` (the split lists
    among them), each as ``posestore.pyjson`` encodes it."""
    kpfile_layout: str | None = None
    """Kinetics: ``direct`` (a kpfile is one clip's entry) or ``by_frame_dir`` (a dict of them)."""
    kpfile_extra: dict[str, dict[str, Any]] | None = None
    """Kinetics: per clip (its ``image_id`` as text) the kpfile keys beyond ``keypoint``
    (``posestore.pyjson``), and ``formats.KPFILE_DTYPE_KEY`` where its dtype differs."""
    unknown: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DatasetMeta:
        d = dict(d)
        splits = d.pop("splits", {})
        arrays = d.pop("arrays", None)
        if not isinstance(splits, dict) or not all(isinstance(s, dict) for s in splits.values()):
            raise StoreError(
                f"dataset metadata: 'splits' is not an object of objects: {splits!r:.80}"
            )
        if arrays is not None and not isinstance(arrays, dict):
            raise StoreError(f"dataset metadata: 'arrays' is not an object: {arrays!r:.80}")
        known, unknown = _known(cls, d, nested=("splits", "arrays"))
        known.setdefault("format", "")
        return cls(
            **known,
            splits={name: SplitMeta.from_dict(s) for name, s in splits.items()},
            arrays=_build(PysklArrays, arrays) if arrays is not None else None,
            unknown=unknown,
        )

    def to_dict(self) -> dict[str, Any]:
        out = _plain(self, skip=("splits", "arrays"))
        out["splits"] = {name: s.to_dict() for name, s in self.splits.items()}
        if self.arrays is not None:
            out["arrays"] = {**_plain(self.arrays), **self.arrays.unknown}
        return {**out, **self.unknown}

    @classmethod
    def from_json(cls, text: str | bytes | None) -> DatasetMeta:
        """The metadata of a ``datasets`` row (``{}`` or null: nothing recorded)."""
        try:
            d = orjson.loads(text or "{}")
        except orjson.JSONDecodeError as e:
            raise StoreError(f"dataset metadata is not JSON: {e}") from e
        if not isinstance(d, dict):
            raise StoreError(f"dataset metadata is not a JSON object: {d!r:.80}")
        return cls.from_dict(d)

    def to_json(self) -> str:
        return orjson.dumps(self.to_dict()).decode()

    def merged(self, later: DatasetMeta) -> DatasetMeta:
        """This metadata with what a later bundle of the same source adds: objects merge key by
        key (splits, arrays, kpfile extras), and a key's first value stays."""
        return DatasetMeta.from_dict(_merge_dicts(self.to_dict(), later.to_dict()))

    def unknown_keys(self) -> list[str]:
        """The keys no field names, as paths (``arrays.x``, ``splits.val.x``)."""
        keys = list(self.unknown)
        if self.arrays is not None:
            keys += [f"arrays.{k}" for k in self.arrays.unknown]
        for name, s in self.splits.items():
            keys += [f"splits.{name}.{k}" for k in s.unknown]
        return keys


def datasets_table(dataset: str, meta: DatasetMeta) -> pa.Table:
    """The one-row ``datasets`` table a reader's bundle carries its metadata in."""
    return schema.conform(
        "datasets", {"dataset": [dataset], "format": [meta.format], "metadata": [meta.to_json()]}
    )


def bundle_meta(tables: schema.Tables) -> DatasetMeta | None:
    """The metadata a reader's bundle carries, or None when it carries none."""
    if "datasets" not in tables or not len(tables["datasets"]):
        return None
    return DatasetMeta.from_json(tables["datasets"]["metadata"][0].as_py())


def _names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.name != "unknown"]


def _known(
    cls: type, d: dict[str, Any], nested: tuple[str, ...] = ()
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``d``'s keys that are fields of ``cls`` (but the ``nested`` ones, which the caller
    builds), and the keys no field names."""
    names = set(_names(cls)) - set(nested)
    known = {k: v for k, v in d.items() if k in names}
    return known, {k: v for k, v in d.items() if k not in names}


def _build(cls: type, d: dict[str, Any]) -> Any:
    known, unknown = _known(cls, d)
    if any(f.name == "unknown" for f in dataclasses.fields(cls)):
        return cls(**known, unknown=unknown)
    return cls(**known)  # CsvLayout: given its own keys only


def _plain(obj: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields of ``obj`` that hold a value (a field left at None is no key)."""
    return {
        name: getattr(obj, name)
        for name in _names(type(obj))
        if name not in skip and getattr(obj, name) is not None
    }


def _merge_dicts(have: dict, new: dict) -> dict:
    merged = dict(have)
    for key, value in new.items():
        if key in merged and isinstance(merged[key], dict) and isinstance(value, dict):
            merged[key] = _merge_dicts(merged[key], value)
        else:
            merged.setdefault(key, value)
    return merged
