"""Exact JSON numbers in bulk.

A JSON number is an int token (``40``) or a float token (``40.0``, ``354.69``);
parsed-value equality with types kept needs both the value and the kind back on
export. Storing a kind per value would double the keypoints table, so posestore
stores a *style* per field and file instead, and keeps the source value of the
rare record that breaks its file's style:

- ``canonical``: a value is written as an int when it is integral, else as a
  float (what JavaScript and MATLAB writers produce, and the original COCO files);
- ``float``: every value is written as a float (what Python writers produce from
  float arrays: ``[0.0, 2.0]``).

Everything here works on whole columns with NumPy: the token kinds come from
scanning the ``orjson`` serialisation of a column, not from a Python loop per value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import orjson
import pyarrow as pa

CANONICAL = "canonical"
FLOAT = "float"
STYLES = (CANONICAL, FLOAT)

_MAX_EXACT_INT = 2.0**53

_SEPARATOR = np.zeros(256, dtype=bool)
_SEPARATOR[[ord("["), ord("]"), ord(",")]] = True
_FLOATY = np.zeros(256, dtype=bool)
_FLOATY[[ord("."), ord("e"), ord("E")]] = True
_NOT_A_NUMBER = np.zeros(256, dtype=bool)  # first byte of true, false, null
_NOT_A_NUMBER[[ord("t"), ord("f"), ord("n")]] = True


def token_kinds(text: bytes, count: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Kinds of the scalar tokens of a JSON array of numbers, in document order.

    ``text`` is compact JSON of nested arrays of numbers, booleans and nulls (as
    ``orjson.dumps`` writes it); ``count``, when known, is the number of scalars.
    Returns ``(is_float, not_a_number)``, one entry per scalar token.
    """
    if count is not None and not any(c in text for c in (b".", b"e", b"E", b"t", b"f", b"n")):
        return np.zeros(count, dtype=bool), np.zeros(count, dtype=bool)  # all int tokens
    if not text:
        return np.zeros(0, bool), np.zeros(0, bool)
    b = np.frombuffer(text, dtype=np.uint8)
    sep = _SEPARATOR[b]
    start = ~sep
    start[1:] &= sep[:-1]
    starts = np.flatnonzero(start)
    not_a_number = _NOT_A_NUMBER[b[starts]]
    is_float = np.zeros(len(starts), dtype=bool)
    floaty = np.flatnonzero(_FLOATY[b])  # '.', 'e', 'E' only occur inside tokens
    is_float[np.searchsorted(starts, floaty, side="right") - 1] = True
    is_float &= ~not_a_number
    return is_float, not_a_number


@dataclass
class NumberColumn:
    """A column of numeric lists, flattened: what the store keeps and what it must restore."""

    values: np.ndarray  # float64, every scalar in document order (NaN for null)
    offsets: np.ndarray  # int64, len(records) + 1: record i owns values[offsets[i]:offsets[i+1]]
    is_float: np.ndarray  # bool per value: the source wrote a float token
    not_a_number: np.ndarray  # bool per value: true, false or null in a numeric list
    arrow: pa.Array  # the column as Arrow lists of float64 (nesting kept)


def scan_lists(records: list, depth: int = 1) -> NumberColumn:
    """Flatten a column of numeric lists (``depth`` 1: ``[1, 2.5]``; 2: ``[[1, 2], [3]]``).

    Raises ``pa.ArrowInvalid`` or ``TypeError`` when a record holds something other
    than numbers, booleans and nulls (a string, a dict); the caller names the record.
    """
    item = pa.float64()
    for _ in range(depth):
        item = pa.list_(item)
    arrow = pa.array(records, type=item)
    offsets = np.asarray(arrow.offsets, dtype=np.int64)
    values = arrow.values
    for _ in range(depth - 1):
        inner = np.asarray(values.offsets, dtype=np.int64)
        offsets = inner[offsets]
        values = values.values
    flat = values.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    is_float, not_a_number = token_kinds(orjson.dumps(records), len(flat))
    if len(is_float) != len(flat):  # a nested level deeper than expected
        raise TypeError("nested deeper than expected")
    return NumberColumn(flat, offsets, is_float, not_a_number, arrow)


def scan_scalars(values: list) -> NumberColumn:
    """Flatten a column of scalars (one per record; ``None`` for records without it)."""
    arrow = pa.array(values, type=pa.float64())
    flat = arrow.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    is_float, not_a_number = token_kinds(orjson.dumps(values))
    present = ~np.isnan(flat) | ~not_a_number
    return NumberColumn(
        flat, np.arange(len(values) + 1, dtype=np.int64), is_float & present, not_a_number, arrow
    )


_BLOCK = 1 << 22  # values checked at a time: float temporaries of 32 MB, not of the column


def style_failures(
    column: NumberColumn, style: str, a: int = 0, b: int | None = None
) -> np.ndarray:
    """Per value of ``values[a:b]``: True where writing the stored value in ``style`` would not
    give the source token."""
    v, is_float = column.values[a:b], column.is_float[a:b]
    finite = np.isfinite(v)
    unsafe_int = ~is_float & (np.abs(v) >= _MAX_EXACT_INT)
    if style == CANONICAL:
        kind_wrong = is_float == (finite & (np.floor(v) == v))
    else:
        kind_wrong = ~is_float
    return kind_wrong | unsafe_int | column.not_a_number[a:b] | ~finite


def records_failing(column: NumberColumn, value_fails: np.ndarray) -> np.ndarray:
    """Reduce a per-value mask to a per-record mask (any value fails)."""
    return records_of(column.offsets, np.flatnonzero(value_fails))


def records_of(offsets: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Per record (``offsets``: where each record's values start, and the end): whether one
    of the value ``positions`` falls in it. Costs the positions, not an index per value."""
    out = np.zeros(len(offsets) - 1, dtype=bool)
    if len(positions) and len(out):
        out[np.searchsorted(offsets, positions, side="right") - 1] = True
    return out


def choose_style(
    column: NumberColumn, present: np.ndarray | None = None, slots: np.ndarray | None = None
) -> tuple[list[str], np.ndarray]:
    """The style per slot class that fits most records, and the records it does not fit.

    ``slots`` gives each value a class (keypoints: 0 for coordinates, 1 for
    visibility), each with its own style. ``present`` restricts the vote to records
    that have the field. Returns ``(styles, failing)``: one style per class and a
    per-record mask of records whose source form the styles cannot reproduce.
    The values are checked a block at a time: what is kept is per record, not per value.
    """
    classes = 1 if slots is None else int(slots.max(initial=0)) + 1
    n = len(column.offsets) - 1
    # first pass: which styles fit every value of a class (the common case ends here)
    fits = {(c, style): True for c in range(classes) for style in STYLES}
    for _, wrong, c, style in _failures(column, slots, classes):
        fits[c, style] = fits[c, style] and not wrong.any()
    failing = np.zeros(n, dtype=bool)
    styles: list[str | None] = [None] * classes
    for c in range(classes):
        perfect = [style for style in STYLES if fits[c, style]]
        styles[c] = perfect[0] if perfect else None
    if any(s is None for s in styles):  # second pass: count the records each style fails
        fails = {(c, style): np.zeros(n, dtype=bool) for c in range(classes) for style in STYLES}
        for a, wrong, c, style in _failures(column, slots, classes):
            if styles[c] is None:
                fails[c, style] |= records_of(column.offsets, np.flatnonzero(wrong) + a)
        for c in range(classes):
            if styles[c] is not None:
                continue
            tried = [
                (s, fails[c, s] & present if present is not None else fails[c, s]) for s in STYLES
            ]
            best_style, best_fails = min(tried, key=lambda t: t[1].sum())  # the first of the fewest
            styles[c] = best_style
            failing |= best_fails
    return [s for s in styles if s is not None], failing


def _failures(column: NumberColumn, slots: np.ndarray | None, classes: int):
    """``(block start, per-value failures, class, style)`` a block of values at a time."""
    for a in range(0, len(column.values), _BLOCK):
        b = a + _BLOCK
        for style in STYLES:
            wrong = style_failures(column, style, a, b)
            for c in range(classes):
                yield a, (wrong if slots is None else wrong & (slots[a:b] == c)), c, style


def small_ints(values: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Per value: an integer in ``[lo, hi]`` (NaN and infinities are not), a block at a time."""
    out = np.empty(len(values), dtype=bool)
    for a in range(0, len(values), _BLOCK):
        v = values[a : a + _BLOCK]
        out[a : a + _BLOCK] = (v >= lo) & (v <= hi) & (np.floor(v) == v)
    return out


def f32_inexact(values: np.ndarray) -> np.ndarray:
    """Per value: True where the float32 the store keeps cannot give the source value back.

    The writer prints a float32 with its shortest repr (``354.69``), so a value
    survives exactly when that repr parses back to the source float64. Integers
    below 2**24 always do, and are not printed to check.
    """
    out = np.zeros(len(values), dtype=bool)
    for a in range(0, len(values), _BLOCK):  # a block at a time: no column-sized temporaries
        block = values[a : a + _BLOCK]
        check = np.flatnonzero(~((np.floor(block) == block) & (np.abs(block) < 2.0**24)))
        if len(check):
            v = block[check]
            with np.errstate(over="ignore"):  # beyond float32: inf, which is then not exact
                back = f32_as_f64(v.astype(np.float32))
            out[a + check] = ~((back == v) | (np.isnan(back) & np.isnan(v)))
    return out


def f32_as_f64(values: np.ndarray) -> np.ndarray:
    """float32 values as the float64 their shortest repr denotes (354.69f → 354.69)."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.float64)
    finite = np.isfinite(values)
    if finite.all():
        text = orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY)
        return np.asarray(orjson.loads(text), dtype=np.float64)
    out = values.astype(np.float64)
    out[finite] = f32_as_f64(values[finite])
    return out


def as_json_numbers(values: np.ndarray, as_float: np.ndarray | bool) -> np.ndarray:
    """Python numbers for ``orjson``: ints where integral and not ``as_float``, else floats.

    Returns an object array of the same shape, ready for ``.tolist()``.
    """
    values = np.asarray(values, dtype=np.float64)
    out = values.astype(object)
    make_int = _writes_as_int(values, as_float)
    if make_int.any():
        out[make_int] = values[make_int].astype(np.int64)
    return out


_DIGITS_AS_ZERO = bytes(48 if 48 <= i <= 57 else 32 for i in range(256))
_LONG_RUN = b"0" * 19
"""The shortest run of digits an integer beyond 64 bits has (-2**63 - 1: 19 digits)."""
_SCAN = 4 << 20
_NUMBER_BEFORE = frozenset(b"[,: \t\r\n")
_FLOAT_AFTER = frozenset(b".eE")


def wide_integer(text: bytes) -> tuple[int, str] | None:
    """The first integer token of JSON ``text`` beyond 64 bits, as (byte offset, token), or
    None. ``orjson`` reads such a token as a float, which a writer would give back as a
    float: posestore refuses it instead.

    Runs of 19 digits are rare in annotation files, so the scan is a ``translate`` and a
    ``find`` per few MB; each run found is checked to be an integer token outside strings.
    """
    strings = _StringState(text)
    pos, n = 0, len(text)
    while pos < n:
        hit = text[pos : pos + _SCAN + len(_LONG_RUN)].translate(_DIGITS_AS_ZERO).find(_LONG_RUN)
        if hit < 0:
            pos += _SCAN
            continue
        start = end = pos + hit
        while end < n and 48 <= text[end] <= 57:
            end += 1
        pos = end
        sign = start > 0 and text[start - 1] == 45  # '-'
        before = text[start - 1 - sign] if start - sign > 0 else 32
        if before not in _NUMBER_BEFORE or (end < n and text[end] in _FLOAT_AFTER):
            continue  # digits of a float, a name or a longer token
        if strings.inside(start):
            continue
        digits = end - start
        token = text[start - sign : end].decode()
        if digits > 20 or (digits >= 19 and not -(2**63) <= int(token) < 2**64):
            return start - sign, token
    return None


class _StringState:
    """Whether positions of a JSON text, asked in increasing order, are inside a string:
    unescaped quotes are counted from the last position asked, a few MB at a time."""

    def __init__(self, text: bytes) -> None:
        self.buf = np.frombuffer(text, dtype=np.uint8)
        self.counted = 0
        self.open = False

    def inside(self, position: int) -> bool:
        while self.counted < position:
            stop = min(position, self.counted + _SCAN)
            piece = self.buf[self.counted : stop]
            quotes = np.flatnonzero(piece == 34) + self.counted
            escaped = quotes[(quotes > 0) & (self.buf[np.maximum(quotes - 1, 0)] == 92)]
            unescaped = len(quotes) - sum(self._odd_backslashes(q) for q in escaped.tolist())
            self.open ^= bool(unescaped % 2)
            self.counted = stop
        return self.open

    def _odd_backslashes(self, quote: int) -> bool:
        k = quote - 1
        while k >= 0 and self.buf[k] == 92:
            k -= 1
        return (quote - 1 - k) % 2 == 1


def run_offsets(counts: np.ndarray, dtype=np.int64) -> np.ndarray:
    """Where each run starts, and the total at the end: ``[0, c0, c0 + c1, ...]``."""
    out = np.zeros(len(counts) + 1, dtype=dtype)
    np.cumsum(counts, out=out[1:])
    return out


def _writes_as_int(values: np.ndarray, as_float: np.ndarray | bool) -> np.ndarray:
    """Per value: written as an int token (integral, exact as an int, and not ``as_float``)."""
    integral = (
        np.isfinite(values) & (np.floor(values) == values) & (np.abs(values) < _MAX_EXACT_INT)
    )
    return integral & ~np.broadcast_to(np.asarray(as_float, dtype=bool), integral.shape)


def json_arrays(values: np.ndarray, offsets: np.ndarray, as_float: np.ndarray | bool) -> list:
    """Per record, its values in a form ``orjson`` (``OPT_SERIALIZE_NUMPY``) writes as the
    right JSON list: record ``r`` holds ``values[offsets[r]:offsets[r + 1]]``, each an int
    where integral and not ``as_float``, else a float (NaN is ``null``).

    A record whose tokens are all ints is an int64 view, one whose tokens are all floats
    a view of ``values`` (float32 prints by its shortest repr); only a record mixing the
    two is written to text here (an ``orjson.Fragment``). No Python object per value.
    """
    values = np.ascontiguousarray(values).ravel()
    offsets = np.asarray(offsets, dtype=np.int64)
    if len(offsets) <= 1:
        return []
    if values.dtype == np.float32 and (np.abs(values) >= 2.0**24).any():
        values = f32_as_f64(values)  # such a float32 integer is not the value its repr says
    if np.all(as_float):
        return _views(values, offsets)
    make_int = _writes_as_int(values, as_float)
    lengths = np.diff(offsets)
    running = run_offsets(make_int)
    ints = running[offsets[1:]] - running[offsets[:-1]]  # int tokens per record
    all_int = (ints == lengths) & (lengths > 0)
    if not all_int.any():
        out = _views(values, offsets)
    elif all_int.all():
        out = _views(values.astype(np.int64), offsets)
    else:
        as_ints = _views(np.where(make_int, values, 0).astype(np.int64), offsets)
        out = [i if a else f for i, f, a in zip(as_ints, _views(values, offsets), all_int.tolist())]
    mixed = np.flatnonzero((ints > 0) & (ints < lengths))
    if len(mixed):
        sizes = lengths[mixed]
        sub = run_offsets(sizes)
        take = np.repeat(offsets[mixed] - sub[:-1], sizes) + np.arange(sub[-1])
        texts = _list_texts(values[take], make_int[take], sub)
        for r, text in zip(mixed.tolist(), texts):
            out[r] = orjson.Fragment(text)
    return out


def _views(
    values: np.ndarray, offsets: np.ndarray
) -> list:  # of arrays; json_arrays adds Fragments
    lengths = np.diff(offsets)
    if len(lengths) and (lengths == lengths[0]).all() and lengths[0] > 0:
        return list(values[offsets[0] : offsets[-1]].reshape(-1, int(lengths[0])))
    return np.split(values[offsets[0] : offsets[-1]], offsets[1:-1] - offsets[0])


def _list_texts(values: np.ndarray, make_int: np.ndarray, offsets: np.ndarray) -> list[bytes]:
    """``[t, …]`` per record (record ``r``: ``values[offsets[r]:offsets[r + 1]]``), each token
    written by ``orjson`` in one call, then ``.0`` cut from the ones ``make_int`` marks."""
    text = orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY)
    b = np.frombuffer(text, dtype=np.uint8)
    bounds = np.flatnonzero(_SEPARATOR[b])  # token k is b[bounds[k] + 1 : bounds[k + 1]]
    ends = bounds[1:][make_int]
    if not ((b[ends - 2] == ord(".")) & (b[ends - 1] == ord("0"))).all():
        raise AssertionError("orjson wrote an integral float below 2**53 without '.0'")
    keep = np.ones(len(b), dtype=bool)
    keep[ends - 1] = False
    keep[ends - 2] = False
    raw, bounds = b[keep].tobytes(), bounds - 2 * run_offsets(make_int)
    starts = (bounds[offsets[:-1]] + 1).tolist()
    stops = bounds[offsets[1:]].tolist()
    return [b"[" + raw[s:e] + b"]" if e > s else b"[]" for s, e in zip(starts, stops)]
