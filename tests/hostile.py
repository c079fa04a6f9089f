"""Hostile inputs, generated: mutations of synthetic and real source files.

Each ``Case`` writes one mutated source (a truncation, a field given the wrong type, a
random byte flip, a hostile pickle, a damaged zip…) into a folder; ``ingest_or_refuse``
ingests it through the Python API into a store that holds other datasets, and checks the
promise of issue 16: the ingest either succeeds, or raises a ``PoseStoreError`` whose
message is one line naming the file, and the store's files are byte for byte as they were.
Any other exception type fails the test with its traceback.
"""

from __future__ import annotations

import codecs
import copy
import functools
import json
import os
import pickle
import shutil
import struct
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from conftest import REAL, live_files, snapshot

from posestore import synthetic
from posestore.errors import PoseStoreError

DATASET = "x"
"""The dataset every hostile source is ingested as (the store holds others beside it)."""


# -- the store and the check --------------------------------------------------------------


@contextmanager
def fast_folder() -> Iterator[Path]:
    """A scratch folder, in memory (/dev/shm) where the system has one: the suite writes and
    removes thousands of small files, which a tmpfs does ten times faster than a disk."""
    shm = Path("/dev/shm")
    base = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    folder = Path(tempfile.mkdtemp(prefix="posestore-hostile-", dir=base))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def assert_one_line(error: BaseException, names: str) -> str:
    """A ``PoseStoreError`` in one line, naming ``names`` (the file, or the member)."""
    assert isinstance(error, PoseStoreError), f"{type(error).__name__}: {error}"
    message = str(error)
    assert "\n" not in message and "\r" not in message, message
    assert names in message, f"{names!r} not named in: {message}"
    return message


def ingest_or_refuse(
    store, path: Path, names: str | None = None, accepted: Callable | None = None
) -> str | None:
    """Ingest ``path`` as ``DATASET``; the refusal's message, or None when it was accepted.

    A refusal must be one line naming ``names`` (default: the file's name), the store
    unchanged. An accepted source is checked by ``accepted(store, path)`` when given, then
    removed again, and the store must then be as it was.
    """
    before = snapshot(store.root)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            store.ingest(path, dataset=DATASET)
    except PoseStoreError as e:
        message = assert_one_line(e, names or path.name)
        assert snapshot(store.root) == before, f"the store changed: {message}"
        return message
    if accepted is not None:
        accepted(store, path)
    store.rm(DATASET)
    assert live_files(store.root) == {
        k: v for k, v in before.items() if not k.startswith(".posestore/")
    }, "an accepted source, once removed, left files"
    return None


# -- cases ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One hostile source: ``make(folder)`` writes it and returns the path to ingest;
    ``names`` is what the refusal must name when it is not the file's name."""

    id: str
    make: Callable[[Path], Path]
    names: Callable[[Path], str] | None = None

    def __str__(self) -> str:
        return self.id


def _write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def truncations(data: bytes, count: int) -> list[int]:
    """``count`` cut points spread over ``data``, the first and last bytes included."""
    cuts = {0, 1, len(data) - 1, len(data) // 2}
    cuts.update(int(k) for k in np.linspace(2, len(data) - 2, max(count - 4, 1)))
    return sorted(c for c in cuts if 0 <= c < len(data))


# COCO JSON ---------------------------------------------------------------------------------

ODD_JSON: dict[str, object] = {
    "null": None,
    "text": "12",
    "float": 1.5,
    "dict": {},
    "wide": 2**64 + 1,  # orjson reads it as a float: refused
    "mixed": [1, "a", None],
}
"""Values of the wrong JSON type (or range) put in place of a field (the suite's hypothesis
test draws any other JSON value for the fields of the real files)."""

COCO_REAL = [
    "cvat_coco/datumaro_person_keypoints_val.json",
    "cvat_coco/cvat_skeleton13_person_keypoints_default.json",
    "coco_keypoints/mmpose_test_crowdpose.json",
    "coco_keypoints/mmpose_test_ochuman.json",
    "coco_keypoints/mmpose_test_aic.json",
    "coco_keypoints/mmpose_test_posetrack18_val.json",
]
"""Small real COCO-family files (a few KB each) mutated like the synthetic one."""


@functools.cache
def coco_synthetic() -> dict:
    doc = synthetic.coco_keypoints(6, seed=3, crowd_fraction=0.2)
    doc["annotations"][0]["attributes"] = {"occluded": False}  # a CVAT-style extra field
    return doc


def real_path(rel: str) -> Path | None:
    path = REAL / rel
    return path if path.is_file() else None


@functools.cache
def coco_originals() -> dict[str, tuple[bytes, dict]]:
    """The COCO documents mutated: the synthetic one and the real ones present."""
    doc = coco_synthetic()
    out = {"synthetic": (json.dumps(doc).encode(), doc)}
    for rel in COCO_REAL:
        path = real_path(rel)
        if path is not None:
            data = path.read_bytes()
            out[path.name] = (data, json.loads(data))
    return out


def field_paths(doc: dict) -> list[tuple]:
    """Every field of the first record of each section, and each top-level key."""
    paths: list[tuple] = [(key,) for key in doc]
    for section in ("images", "annotations", "categories"):
        records = doc.get(section)
        if isinstance(records, list) and records and isinstance(records[0], dict):
            paths += [(section, 0, key) for key in records[0]]
    return paths


def with_field(doc: dict, path: tuple, value: object, drop: bool = False) -> dict:
    doc = copy.deepcopy(doc)
    node = doc
    for key in path[:-1]:
        node = node[key]
    if drop:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return doc


def coco_cases(typed: tuple[str, ...] = ("synthetic",)) -> list[Case]:
    """Truncations of every COCO original; wrong types (and removal) of every field of the
    originals named in ``typed``."""
    cases = []
    originals = coco_originals()
    for name, (data, doc) in originals.items():
        for cut in truncations(data, 20 if name == "synthetic" else 8):
            cases.append(
                Case(f"coco/{name}/cut@{cut}", lambda f, d=data, c=cut: _write(f, "t.json", d[:c]))
            )
        if name not in typed:
            continue
        for path in field_paths(doc):
            where = ".".join(map(str, path))
            for label, value in ODD_JSON.items():
                cases.append(
                    Case(
                        f"coco/{name}/{where}={label}",
                        lambda f, d=doc, p=path, v=value: _write(
                            f, "typed.json", json.dumps(with_field(d, p, v)).encode()
                        ),
                    )
                )
            cases.append(
                Case(
                    f"coco/{name}/{where}=dropped",
                    lambda f, d=doc, p=path: _write(
                        f, "dropped.json", json.dumps(with_field(d, p, None, drop=True)).encode()
                    ),
                )
            )
    return cases


# PYSKL pickles -------------------------------------------------------------------------------


class Reduce:
    """An object whose unpickling calls ``func(*args)``: how a pickle asks for code."""

    def __init__(self, func, *args) -> None:
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


_reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]


class DeclaredArray:
    """An ndarray pickle declaring ``shape`` with ``data`` bytes behind it (a size bomb)."""

    def __init__(self, shape: tuple, data: bytes) -> None:
        self.shape, self.data = shape, data

    def __reduce__(self):
        state = (1, self.shape, np.dtype("f4"), False, self.data)
        return _reconstruct, (np.ndarray, (0,), b"b"), state


def _kp() -> np.ndarray:
    return synthetic.pyskl_clips(1, seed=2, frames=(6, 6), dtype="float16")[0]["keypoint"]


ARRAY_VALUES = ("rank1", "complex", "bool-array", "str-array", "one-channel", "wide-ints",
                "empty-2^40-frames", "no-joints", "none", "text", "int70", "set")  # fmt: skip
"""What ``keypoint`` and ``keypoint_score`` are given: arrays of the wrong rank, dtype or
size, and a few values that are no array."""
SCALAR_VALUES = ("none", "text", "float", "bool", "int63", "int70", "negative", "tuple",
                 "bytes", "surrogate", "set", "scalar", "rank1")  # fmt: skip
"""What the other clip fields are given."""


def odd_python() -> dict[str, object]:
    """Values of the wrong Python type, range or array shape put in place of a clip field."""
    kp = _kp()
    return {
        "none": None,
        "text": "12",
        "float": 1.5,
        "bool": True,
        "int63": 2**63,
        "int70": 2**70,
        "negative": -1,
        "tuple": (),
        "list": [],
        "dict": {},
        "bytes": b"\xff\xfe",
        "surrogate": "a\udcff",
        "set": {1, 2},
        "rank1": np.zeros(3, "f4"),
        "complex": kp.astype(np.complex64),
        "bool-array": kp.astype(bool),
        "str-array": kp.astype("U3"),
        "one-channel": kp[..., :1].copy(),
        "wide-ints": (kp.astype(np.int64) + 2**40),
        "empty-2^40-frames": np.zeros((0, 2**40, 17, 2), "f4"),
        "no-joints": np.zeros((1, 6, 0, 2), "f4"),
        "scalar": np.float64(3.5),
    }


PYSKL_FIELDS = (
    "frame_dir",
    "label",
    "img_shape",
    "original_shape",
    "total_frames",
    "keypoint",
    "keypoint_score",
    "extra_field",
)

PYSKL_REAL = ["pyskl/wlasl_12320.pkl", "pyskl/lzx_ntu60_hrnet48637.pkl"]


def pyskl_synthetic() -> dict:
    clips = synthetic.pyskl_clips(3, seed=2, frames=(6, 9), dtype="float16")
    return {"split": {"train": [c["frame_dir"] for c in clips]}, "annotations": clips}


def _pickle(folder: Path, obj: object, name: str = "clips.pkl") -> Path:
    return _write(folder, name, pickle.dumps(obj, protocol=4))


def _clip_field(obj: dict, field: str, value: object) -> dict:
    obj = copy.deepcopy(obj)
    obj["annotations"][1][field] = value
    return obj


def pyskl_cases() -> list[Case]:
    """Every clip field given every odd value; odd split lists and top levels; hostile
    pickles (code, codecs, size bombs); truncations of the synthetic and real pickles."""
    cases = []
    base = pyskl_synthetic()
    for field in PYSKL_FIELDS:
        for label in ARRAY_VALUES if field.startswith("keypoint") else SCALAR_VALUES:
            cases.append(
                Case(
                    f"pyskl/{field}={label}",
                    lambda f, fd=field, lb=label: _pickle(
                        f, _clip_field(base, fd, odd_python()[lb])
                    ),
                )
            )
    names = base["split"]["train"]
    tops = {
        "split=None": {**base, "split": None},
        "split=text": {**base, "split": "x"},
        "split-list=text": {**base, "split": {"a": "abc"}},
        "split-name=300": {**base, "split": {"x" * 300: names}},
        "split-name=int": {**base, "split": {5: names}},
        "split-name=year": {**base, "split": {"2017": names}},
        "split-name=surrogate": {**base, "split": {"a\udcff": names}},
        "split-name=path": {**base, "split": {"../up": names}},
        "split-member=list": {**base, "split": {"a": [[1], names[0]]}},
        "split-member=int70": {**base, "split": {"a": [2**70, names[0]]}},
        "annotations=None": {**base, "annotations": None},
        "annotations=dict": {**base, "annotations": {"a": 1}},
        "annotations=ints": {**base, "annotations": [1, 2]},
        "clip-without-frame_dir": {**base, "annotations": [{"label": 1}]},
        "clip-int-key": {**base, "annotations": [{**base["annotations"][0], 5: 1}]},
        "top-int-key": {**base, 7: 1},
        "top=int": 5,
        "top=text": "abc",
        "top=empty-list": [],
        "top=other-dict": {"x": 1},
        "codec=rot13": {**base, "note": Reduce(codecs.encode, "abc", "rot13")},
        "codec=unknown": {**base, "note": Reduce(codecs.encode, "abc", "no-such-codec")},
        "global=os.system": {**base, "note": Reduce(os.system, "true")},
        "global=eval": {**base, "note": Reduce(eval, "1")},
        "bomb=13.6GB-array": {**base, "note": DeclaredArray((10**8, 17, 2), b"\0" * 8)},
    }
    for label, obj in tops.items():
        cases.append(Case(f"pyskl/{label}", lambda f, o=obj: _pickle(f, o)))
    raw: dict[str, bytes] = {
        "bomb=2^40-shared-lists": _shared_lists(40),
        "bomb=nested-100k": b"\x80\x04" + b"]" * 100_000 + b"a" * 99_999 + b".",
        "bomb=binbytes8-1TB": b"\x80\x04\x8e" + struct.pack("<Q", 2**40) + b"abc.",
        "persistent-id": b"\x80\x04\x8c\x01xQ.",
        "empty-file": b"",
        "text-file": b"not a pickle\n",
    }
    for label, data in raw.items():
        cases.append(Case(f"pyskl/{label}", lambda f, d=data: _write(f, "raw.pkl", d)))
    originals = {"synthetic": pickle.dumps(base, protocol=4)}
    for rel in PYSKL_REAL:
        path = real_path(rel)
        if path is not None:
            originals[path.name] = path.read_bytes()
    for name, data in originals.items():
        for cut in truncations(data, 10):
            cases.append(
                Case(f"pyskl/{name}/cut@{cut}", lambda f, d=data, c=cut: _write(f, "t.pkl", d[:c]))
            )
    return cases


def _shared_lists(levels: int) -> bytes:
    value: list = []
    for _ in range(levels):
        value = [value] * 2
    return pickle.dumps(value, protocol=4)


def real_pyskl_field_cases() -> list[Case]:
    """The real single-clip WLASL pickle with each of its fields given each odd value."""
    path = real_path("pyskl/wlasl_12320.pkl")
    if path is None:
        return []
    cases = []
    for field in ("frame_dir", "label", "img_shape", "total_frames", "keypoint"):
        for label in ("text", "int70", "surrogate", "complex", "set", "empty-2^40-frames"):

            def make(f, fd=field, lb=label):
                obj = pickle.loads(path.read_bytes())
                obj[fd] = odd_python()[lb]
                return _pickle(f, obj, "wlasl.pkl")

            cases.append(Case(f"pyskl/wlasl_12320/{field}={label}", make))
    return cases


# Kinetics index + kpfiles ----------------------------------------------------------------------


def kinetics_cases() -> list[Case]:
    """The synthetic Kinetics index (and its kpfiles) with one field of clip 0 spoilt."""

    def index_case(label: str, field: str, value: object, in_kpfile: bool = False) -> Case:
        def make(f: Path) -> Path:
            index = synthetic.kinetics_with_kpfiles(f / "k400", n_clips=4, per_kpfile=2)
            obj = pickle.loads(index.read_bytes())
            obj["annotations"][0][field] = value
            return _pickle(index.parent, obj, index.name)

        # a frame_dir that is no text is looked up in the kpfile, which says it has none
        names = (lambda f: "part_0.pkl") if in_kpfile else None
        return Case(f"kinetics/{field}={label}", make, names)

    def kpfile_case(label: str, spoil: Callable[[dict, str], object]) -> Case:
        def make(f: Path) -> Path:
            index = synthetic.kinetics_with_kpfiles(f / "k400", n_clips=4, per_kpfile=2)
            clip = pickle.loads(index.read_bytes())["annotations"][0]
            kpfile = index.parent / clip["raw_file"]
            content = pickle.loads(kpfile.read_bytes())
            kpfile.write_bytes(pickle.dumps(spoil(content, clip["frame_dir"]), protocol=4))
            return index

        return Case(f"kinetics/kpfile/{label}", make, names=lambda f: "part_0.pkl")

    fi = np.arange(10, dtype=np.int16)
    cases = [
        index_case("float", "frame_inds", fi.astype(np.float32)),
        index_case("wide", "frame_inds", fi.astype(np.int64) + 2**40),
        index_case("2d", "frame_inds", fi.reshape(2, 5)),
        index_case("text", "frame_inds", "x"),
        index_case("text", "box_score", "x"),
        index_case("complex", "box_score", np.zeros(10, np.complex64)),
        index_case("surrogate", "frame_dir", "a\udcff"),
        index_case("int70", "frame_dir", 2**70),
        index_case("bytes", "frame_dir", b"\xff", in_kpfile=True),
        index_case("list", "frame_dir", ["unhashable"], in_kpfile=True),
        index_case("escape", "raw_file", "../../../../etc/passwd"),
        index_case("long", "raw_file", "k" * 300 + ".pkl"),
        index_case("int", "raw_file", 5),
        index_case("set", "valid", {1, 2}),
        index_case("int70", "total_frames", 2**70),
        index_case("2^40", "total_frames", 2**40),
    ]

    def entry(content: dict, fd: str, value: object) -> dict:
        return {**content, fd: value}

    cases += [
        kpfile_case("keypoint=text", lambda c, fd: entry(c, fd, {"keypoint": "abc"})),
        kpfile_case("keypoint=rank2", lambda c, fd: entry(c, fd, {"keypoint": np.zeros((3, 17))})),
        kpfile_case(
            "keypoint=complex",
            lambda c, fd: {**c, fd: {**c[fd], "keypoint": c[fd]["keypoint"].astype(np.complex64)}},
        ),
        kpfile_case("entry=set", lambda c, fd: {**c, fd: {**c[fd], "extra": {1}}}),
        kpfile_case("missing", lambda c, fd: {k: v for k, v in c.items() if k != fd}),
        kpfile_case("kpfile=list", lambda c, fd: [1, 2]),
        kpfile_case("kpfile=global", lambda c, fd: Reduce(os.system, "true")),
    ]
    return cases


# FashionAI CSV ---------------------------------------------------------------------------------

ODD_CELLS: dict[str, str] = {
    "empty": "",
    "word": "x",
    "two-parts": "1_2",
    "four-parts": "1_2_3_4",
    "v=7": "1_2_7",
    "digits-25": "9" * 25 + "_1_1",
    "exponent": "1e5_1_1",
    "arabic-digits": "\u0661_\u0662_1",
    "blank-padded": " 1_2_1",
    "nan": "nan_nan_1",
    "nul": "1\x00_2_1",
    "quote": '"',
    "200k-chars": "a" * 200_000,
}
"""Cells put in place of an image id, a category, or a joint's ``x_y_v``."""

FASHION_REAL = [
    "fashionai/jarvisbupt_train_excerpt_14rows.csv",
    "fashionai/re3write_train_1_extra_bbox_cols.csv",
]


@functools.cache
def fashionai_originals() -> dict[str, bytes]:
    with fast_folder() as folder:
        out = {"synthetic": synthetic.fashionai_csv(folder / "train.csv", n_rows=8).read_bytes()}
    for rel in FASHION_REAL:
        path = real_path(rel)
        if path is not None:
            out[path.name] = path.read_bytes()
    return out


def _with_cell(data: bytes, row: int, column: int, cell: str) -> bytes:
    lines = data.decode().split("\n")
    cells = lines[row].split(",")
    cells[column] = cell
    lines[row] = ",".join(cells)
    return "\n".join(lines).encode()


def fashionai_cases() -> list[Case]:
    cases = []
    for name, data in fashionai_originals().items():
        for cut in truncations(data, 12 if name == "synthetic" else 6):
            cases.append(
                Case(
                    f"fashionai/{name}/cut@{cut}",
                    lambda f, d=data, c=cut: _write(f, "t.csv", d[:c]),
                )
            )
        if name != "synthetic":
            continue
        for column, what in ((0, "image_id"), (1, "category"), (5, "joint")):
            for label, cell in ODD_CELLS.items():
                cases.append(
                    Case(
                        f"fashionai/{what}={label}",
                        lambda f, d=data, c=column, v=cell: _write(
                            f, "cell.csv", _with_cell(d, 2, c, v)
                        ),
                    )
                )
        lines = data.split(b"\n")
        structural = {
            "extra-column": b"\n".join([*lines[:2], lines[2] + b",9", *lines[3:]]),
            "missing-columns": b"\n".join(
                [*lines[:2], b",".join(lines[2].split(b",")[:5]), *lines[3:]]
            ),
            "bad-utf8": data.replace(b"Images", b"Im\xffages", 1),
            "bom-mid-file": b"\n".join([*lines[:3], b"\xef\xbb\xbf" + lines[3], *lines[4:]]),
            "blank-line-mid-file": b"\n".join([*lines[:3], b"", *lines[3:]]),
            "header-only": lines[0] + b"\n",
            "newlines-only": b"\n\n\n",
            "crlf-mixed": data.replace(b"\n", b"\r\n", 3),
            "unterminated-quote": data + b'"Images/x.jpg,blouse\n',
        }
        for label, mutated in structural.items():
            cases.append(Case(f"fashionai/{label}", lambda f, m=mutated: _write(f, "s.csv", m)))
    return cases


# zips -------------------------------------------------------------------------------------------


@functools.cache
def cvat_zip_bytes() -> bytes:
    with fast_folder() as folder:
        return synthetic.cvat_zip(folder / "task.zip", n_images=3).read_bytes()


def _patched(data: bytes, edit: Callable[[bytearray, int, int], None]) -> bytes:
    """``data`` with ``edit(buffer, local_header, central_header)`` applied to its first member."""
    buf = bytearray(data)
    edit(buf, buf.find(b"PK\x03\x04"), buf.find(b"PK\x01\x02"))
    return bytes(buf)


def _set_flag(buf: bytearray, local: int, central: int) -> None:
    for at, off in ((local, 6), (central, 8)):
        struct.pack_into("<H", buf, at + off, struct.unpack_from("<H", buf, at + off)[0] | 1)


def _declare_size(buf: bytearray, local: int, central: int) -> None:
    struct.pack_into("<I", buf, local + 22, 3_000_000_000)  # uncompressed size
    struct.pack_into("<I", buf, central + 24, 3_000_000_000)


def _set_method(buf: bytearray, local: int, central: int) -> None:
    struct.pack_into("<H", buf, local + 8, 99)
    struct.pack_into("<H", buf, central + 10, 99)


def _zip_of(members: dict[str, bytes], deflate: bool = True) -> bytes:
    with fast_folder() as folder:
        path = folder / "z.zip"
        method = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
        with zipfile.ZipFile(path, "w", compression=method) as zf:
            for name, data in members.items():
                zf.writestr(zipfile.ZipInfo(name) if name.endswith("/") else name, data)
        return path.read_bytes()


def zip_cases() -> list[Case]:
    data = cvat_zip_bytes()
    member = "annotations/person_keypoints_default.json"
    stored = _zip_of({member: zipfile.ZipFile(_buffer(data)).read(member)}, deflate=False)

    def in_zip(label: str, mutated: bytes, names_member: bool = False) -> Case:
        names = (lambda f: f"z.zip!{member}") if names_member else None
        return Case(f"zip/{label}", lambda f, m=mutated: _write(f, "z.zip", m), names=names)

    cases = [in_zip(f"cut@{cut}", data[:cut]) for cut in truncations(data, 12)]
    cases += [
        in_zip("encrypted", _patched(data, _set_flag), names_member=True),
        in_zip("declares-3GB", _patched(data, _declare_size), names_member=True),
        in_zip("method-99", _patched(data, _set_method), names_member=True),
        in_zip(
            "crc",
            stored[: stored.find(b"images") + 1] + b"X" + stored[stored.find(b"images") + 2 :],
            True,
        ),
        in_zip("folder-named-json", _zip_of({f"{member}/": b"", f"{member}/x.txt": b"x"})),
        in_zip("member-not-json", _zip_of({member: b"\xff\xfe not json"}), names_member=True),
        in_zip("member-empty", _zip_of({member: b""}), names_member=True),
        in_zip("member-a-list", _zip_of({member: b"[1, 2]"}), names_member=True),
        in_zip("no-members", _zip_of({})),
        in_zip("zip-in-zip", _zip_of({"inner.zip": data})),
    ]
    return cases


def _buffer(data: bytes):
    import io

    return io.BytesIO(data)


# byte flips (hypothesis) ---------------------------------------------------------------------------


def flipped(data: bytes, flips: list[tuple[int, int]]) -> bytes:
    """``data`` with each (position, byte) written over it (positions wrap around)."""
    out = bytearray(data)
    for position, value in flips:
        out[position % len(out)] = value
    return bytes(out)
