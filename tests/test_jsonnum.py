"""The exact-number scan: token kinds, styles, float32 exactness (properties with hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from posestore import jsonnum


def test_token_kinds_tell_ints_floats_and_non_numbers():
    is_float, nan = jsonnum.token_kinds(orjson.dumps([[1, 2.0, 1e20], [True, None, -3], []]))
    assert is_float.tolist() == [False, True, True, False, False, False]
    assert nan.tolist() == [False, False, False, True, True, False]


def test_styles_pick_the_majority_and_flag_the_rest():
    col = jsonnum.scan_lists([[0.0, 1.0], [2.0, 3.5], [4, 5.5]])
    (style,), failing = jsonnum.choose_style(col)
    assert style == jsonnum.FLOAT
    assert failing.tolist() == [False, False, True]


def test_float32_exactness_keeps_short_decimals_and_flags_long_ones():
    values = np.array([354.69, 0.1, 1024.0, 1 / 3, 16777217.0])
    assert jsonnum.f32_inexact(values).tolist() == [False, False, False, True, True]
    assert jsonnum.f32_as_f64(np.float32([354.69, 0.1])).tolist() == [354.69, 0.1]


numbers = st.one_of(
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(numbers, max_size=8), max_size=8))
def test_writing_in_the_chosen_style_gives_the_source_back_except_flagged_records(records):
    col = jsonnum.scan_lists(records)
    (style,), failing = jsonnum.choose_style(col)
    arrays = jsonnum.json_arrays(col.values, col.offsets, style == jsonnum.FLOAT)
    rebuilt = orjson.loads(orjson.dumps(arrays, option=orjson.OPT_SERIALIZE_NUMPY))
    for source, back, bad in zip(records, rebuilt, failing):
        if bad:
            continue
        assert [type(v) for v in back] == [type(v) for v in source]
        assert all(a == b or (math.isnan(a) and math.isnan(b)) for a, b in zip(back, source))


json_values = st.sampled_from(
    [0.0, 1.0, -3.0, 2.5, 354.69, 0.1, 1e-7, 1e15, 1e17, 16777217.0, 2.0**53, math.nan]
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(json_values, max_size=6), max_size=6),
    st.sampled_from([np.float32, np.float64]),
    st.one_of(st.booleans(), st.just("per value")),
    st.randoms(use_true_random=False),
)
def test_json_arrays_write_what_python_numbers_would(records, dtype, as_float, rnd):
    """NumPy views and fragments for orjson give the same parsed values and kinds as
    Python numbers from ``as_json_numbers`` (a float32 by its shortest repr)."""
    offsets = np.cumsum([0] + [len(r) for r in records])
    values = np.array([v for r in records for v in r], dtype=dtype)
    if as_float == "per value":
        as_float = np.array([rnd.random() < 0.4 for _ in values], dtype=bool)
    got = orjson.dumps(
        jsonnum.json_arrays(values, offsets, as_float), option=orjson.OPT_SERIALIZE_NUMPY
    )
    exact = jsonnum.f32_as_f64(values) if dtype == np.float32 else values
    python = jsonnum.as_json_numbers(exact, as_float)
    expected = orjson.dumps([python[a:b].tolist() for a, b in zip(offsets[:-1], offsets[1:])])
    assert repr(orjson.loads(got)) == repr(orjson.loads(expected))
