"""Cutting numeric arrays out before parsing changes nothing but speed.

Every COCO file read with its arrays cut out (``jsonspans``) gives the very
tables the plain ``orjson`` parse gives; numbers, kinds and nesting come back as
orjson reads them; invalid JSON inside an array is refused as before.
"""

from __future__ import annotations

import warnings

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from conftest import CASES, real_params
from hypothesis import given, settings
from hypothesis import strategies as st
from posestore.ingest import coco, jsonspans
from posestore.ingest.coco import parse_document, parse_json, read_coco_document

from posestore import synthetic
from posestore.errors import SourceError

KEYS = ("keypoints", "segmentation", "bbox")
REAL = real_params("coco_keypoints", "*.json") + real_params("cvat_coco", "*.json")


@pytest.fixture(autouse=True)
def cut_small_documents(monkeypatch):
    monkeypatch.setattr(jsonspans, "_MIN_SIZE", 0)
    monkeypatch.setattr(jsonspans, "_CHUNK", 4096)  # many stretches even in small files
    monkeypatch.setattr(coco, "_SLICE", 3)  # annotations parsed a few records at a time


def _tables(data: bytes, cut: bool) -> dict:
    if cut:
        doc, arrays = parse_document(data, "f.json")
    else:
        doc, arrays = parse_json(data, "f.json"), None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tables = read_coco_document(doc, "f.json", "d", "s", "f.json", arrays=arrays)
    return tables, arrays


def _assert_same_tables(data: bytes, expect_cut: bool = True) -> None:
    plain, _ = _tables(data, cut=False)
    cut, arrays = _tables(data, cut=True)
    assert (arrays is not None) == expect_cut
    for name, table in plain.items():
        assert cut[name].schema == table.schema, name
        for column in table.column_names:
            assert _same(cut[name][column], table[column]), f"{name}.{column}"


def _same(a, b) -> bool:
    """Equal columns, NaN equal to NaN (a keypoint ``null`` is NaN in both readings); list
    columns (a pose's joints) compare their offsets, then their values."""
    if isinstance(a, pa.ChunkedArray):
        a, b = a.combine_chunks(), b.combine_chunks()
    if pa.types.is_list(a.type):
        same_rows = a.is_null().equals(b.is_null()) and pc.list_value_length(a).equals(
            pc.list_value_length(b)
        )
        return same_rows and _same(pc.list_flatten(a), pc.list_flatten(b))
    if not pa.types.is_floating(a.type):
        return a.equals(b)
    same_nulls = np.array_equal(a.is_null().to_numpy(False), b.is_null().to_numpy(False))
    fill = pa.scalar(0.0, a.type)
    values = (x.fill_null(fill).to_numpy(zero_copy_only=False) for x in (a, b))
    return same_nulls and np.array_equal(*values, equal_nan=True)


@pytest.mark.real
@pytest.mark.parametrize("path", REAL)
def test_real_files_give_the_same_tables_cut_or_not(path):
    if path is None:
        pytest.skip("no real data")
    data = path.read_bytes()
    try:
        doc = parse_json(data, str(path))
    except SourceError:
        return
    anns = doc.get("annotations") or []
    has_arrays = any(isinstance(a, dict) and a.get("keypoints") for a in anns)
    if "images" not in doc:
        with pytest.raises(SourceError):
            _tables(data, cut=True)
        return
    _assert_same_tables(data, expect_cut=has_arrays)


@pytest.mark.parametrize("path", sorted(CASES.glob("*.json")), ids=lambda p: p.stem)
def test_edge_cases_give_the_same_tables_cut_or_not(path):
    data = path.read_bytes()
    doc = orjson.loads(data)
    has_arrays = any(a.get("keypoints") or a.get("bbox") for a in doc.get("annotations", []))
    _assert_same_tables(data, expect_cut=has_arrays)


def _document(**changes) -> dict:
    doc = synthetic.coco_keypoints(n_images=12, seed=3)
    for i, change in changes.items():
        doc["annotations"][int(i[1:])].update(change)
    return doc


@pytest.mark.parametrize(
    "doc, expect_cut",
    [
        (_document(), True),
        (_document(a0={"keypoints": [0, None, 2] * 17}), True),  # left in the document
        (_document(a1={"segmentation": [1.5, 2, 3]}), True),  # one level too shallow
        (_document(a2={"bbox": [1, 2, 3]}), True),  # three numbers
        (_document(a3={"attributes": {"bbox": [1, 2, 3, 4]}}), False),  # an array elsewhere
        (_document(a0={"num_keypoints": "\ue000"}), False),  # the placeholder itself
    ],
    ids=["plain", "null-in-keypoints", "flat-polygon", "short-bbox", "nested-bbox", "marker"],
)
def test_documents_that_break_the_pattern_read_the_same(doc, expect_cut):
    _assert_same_tables(orjson.dumps(doc), expect_cut)
    _assert_same_tables(_python_style(doc), expect_cut)


def test_the_source_is_read_again_only_for_an_array_given_back_verbatim():
    reads = []

    def reload(data):
        reads.append(1)
        return data

    for doc, again in [(_document(), 0), (_document(a1={"segmentation": [1.5, 2, 3]}), 1)]:
        data = orjson.dumps(doc)
        reads.clear()
        parsed, arrays = parse_document(data, "f.json", reload=lambda d=data: reload(d))
        assert arrays is not None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tables = read_coco_document(parsed, "f.json", "d", "s", "f.json", arrays=arrays)
        assert len(reads) == again
        plain, _ = _tables(data, cut=False)
        assert tables["instances"].equals(plain["instances"])


def _python_style(doc: dict) -> bytes:
    import json

    return json.dumps(doc, indent=1).encode()  # blanks and newlines everywhere


@pytest.mark.parametrize(
    "bad",
    ["01", "1.", ".5", "+1", "-", "1e", "1.e5", "1e5.5", "--1", "1 2", "1,,2", ",1", "1,"],
)
def test_invalid_numbers_in_an_array_are_refused_as_invalid_json(bad):
    doc = orjson.dumps(_document()).replace(b'"bbox":[', b'"bbox":[' + bad.encode() + b",", 1)
    with pytest.raises(SourceError, match="not valid JSON"):
        parse_document(doc, "f.json")


_number = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.floats(-1e6, 1e6, allow_nan=False).map(repr),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda v: orjson.dumps(v).decode()),
    st.sampled_from(["0", "-0", "0.0", "1E5", "1e-7", "2.5E+3", "-0.5e-3", "123456789012345678"]),
)
_blank = st.sampled_from(["", " ", "\n  ", "\t"])


@settings(max_examples=150, deadline=None)
@given(
    arrays=st.lists(st.lists(st.lists(_number, min_size=1, max_size=6), min_size=1, max_size=3),
                    min_size=1, max_size=6),
    blank=_blank,
)  # fmt: skip
def test_numbers_come_back_as_orjson_reads_them(arrays, blank):
    sep = "," + blank
    records = []
    for polygon in arrays:
        inner = sep.join("[" + blank + sep.join(p) + blank + "]" for p in polygon)
        records.append('{"segmentation":' + blank + "[" + inner + "]}")
    text = ('{"annotations":[' + ",".join(records) + "]}").encode()
    got = jsonspans.cut(text, KEYS)
    assert got is not None
    skeleton, cut = got
    assert orjson.loads(skeleton) == {"annotations": [{"segmentation": "\ue000"}] * len(arrays)}
    polygons = [orjson.loads(r)["segmentation"] for r in records]
    flat = [x for polygon in polygons for ring in polygon for x in ring]
    col = cut.column("segmentation", 2)
    assert col.values.tolist() == [float(x) for x in flat]
    assert col.is_float.tolist() == [type(x) is float for x in flat]
    assert np.diff(col.offsets).tolist() == [sum(map(len, p)) for p in polygons]
    assert col.arrow.to_pylist() == [[[float(x) for x in ring] for ring in p] for p in polygons]
    assert cut.value("segmentation", len(arrays) - 1) == orjson.loads(records[-1])["segmentation"]


_tricky_text = st.lists(
    st.sampled_from([*'{}[]",:\\ 0-1.e', *KEYS, '"bbox":[1]', "]]"]), max_size=6
).map("".join)
_numbers = st.lists(_number.map(orjson.loads), max_size=4)
_json = st.recursive(
    st.one_of(st.none(), st.booleans(), _number.map(orjson.loads), _tricky_text,
              _numbers, st.lists(_numbers, max_size=3)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from([*KEYS, "a", '"bbox', '"bbox":[1]', "x\\"]), inner, max_size=4),
    ),
    max_leaves=25,
)  # fmt: skip


def _put_back(value, arrays, rank: dict):
    """``value`` with each placeholder replaced by the array it stands for, in document order."""
    if isinstance(value, list):
        return [_put_back(v, arrays, rank) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for k, v in value.items():
        if v == jsonspans.PLACEHOLDER:
            out[k] = arrays.value(k, rank[k])
            rank[k] += 1
        else:
            out[k] = _put_back(v, arrays, rank)
    return out


@settings(max_examples=300, deadline=None)
@given(doc=_json, indent=st.booleans())
def test_any_document_cut_and_put_back_is_the_document(doc, indent):
    import json

    data = json.dumps(doc, indent=1).encode() if indent else orjson.dumps(doc)
    got = jsonspans.cut(data, KEYS)
    if got is None:
        return
    skeleton, arrays = got
    rank = dict.fromkeys(KEYS, 0)
    assert _put_back(orjson.loads(skeleton), arrays, rank) == orjson.loads(data)
    assert rank == {k: arrays.count(k) for k in KEYS}
