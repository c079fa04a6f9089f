"""Finding a top-level array's items without parsing: parsed a slice at a time they are the
items the whole parse gives, whatever strings, escapes, nesting and blanks surround them."""

from __future__ import annotations

import json
from unittest.mock import patch

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from posestore.ingest import jsonitems
from posestore.ingest.jsonitems import item_slices, top_level_arrays

_tricky = st.sampled_from(
    ['"annotations": [', "],[", "{", "}", "\\", '\\"', ",", "\\\\", "annotations"]
)
_text = st.lists(st.one_of(_tricky, st.text(max_size=3)), max_size=5).map("".join)
_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-9, 9), _text),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(_text, st.just("annotations")), inner, max_size=4),
    ),
    max_leaves=20,
)


def _slices(data: bytes, key: str, per: int) -> list:
    found = top_level_arrays(data, (key,))
    assert key in found
    items: list = []
    for piece in item_slices(data, found[key], per):
        items += orjson.loads(piece)
    return items


@settings(max_examples=300, deadline=None)
@given(
    items=st.lists(_json, max_size=8),
    around=st.dictionaries(_text.filter(lambda k: k != "annotations"), _json, max_size=3),
    per=st.integers(1, 4),
    indent=st.booleans(),
    block=st.integers(1, 64),
)
def test_items_parsed_a_slice_at_a_time_are_the_items(items, around, per, indent, block):
    doc = {**around, "annotations": items, "after": around}
    data = json.dumps(doc, indent=1).encode() if indent else orjson.dumps(doc)
    with patch.object(jsonitems, "_BLOCK", block):  # scanned in blocks of a few bytes
        assert _slices(data, "annotations", per) == items
        span = top_level_arrays(data, ("annotations",))["annotations"]
    rest = orjson.loads(data[: span.open + 1] + data[span.close :])
    assert rest == {**doc, "annotations": []}


@pytest.mark.parametrize(
    "data",
    [
        b'{"annotations": [1,]}',
        b'{"annotations": [,1]}',
        b'{"annotations": [1,\n ,2]}',
    ],
)
def test_an_empty_item_is_refused_not_skipped(data):
    with pytest.raises(ValueError, match="empty item"):
        _slices(data, "annotations", 1)


@pytest.mark.parametrize(
    "data",
    [
        b'[{"annotations": [1]}]',  # not at the top level
        b'{"a": {"annotations": [1]}}',
        b'{"a": "\\"annotations\\": [1]"}',  # inside a string
        b'{"annotations": [1], "annotations": [2]}',  # repeated: a parser keeps the last
        b'{"annotations": 5}',
    ],
)
def test_no_top_level_array_means_parse_it_whole(data):
    assert top_level_arrays(data, ("annotations",)) == {}
