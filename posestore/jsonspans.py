"""Cut the big numeric arrays out of a JSON document before parsing it.

A COCO keypoints file is mostly numbers: 51 per ``keypoints`` list, dozens per
polygon. Parsed with ``orjson`` each becomes a Python object (24+ bytes, an
allocation, later a conversion back to NumPy): that is where a JSON loader
spends its time and memory. posestore finds the arrays of chosen keys
(``"keypoints": [...]``, ``"segmentation": [[...]]``, ``"bbox": [...]``) with
one regular-expression pass, parses their numbers in bulk straight into NumPy
(token boundaries, JSON number grammar and int-vs-float kind checked with array
operations, the conversion done by Arrow's string → float64 cast), and hands
``orjson`` the rest of the document with each array replaced by a placeholder
string. The placeholders of one key, in document order, are that key's arrays in
document order.

Only arrays that are certainly plain numeric JSON are cut out; the grammar check
rejects anything else (then the caller parses the whole document as before, and
gets the same result or the same error).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from posestore import jsonnum, memory

PLACEHOLDER = "\ue000"  # a private-use character: never in a real annotation file
_PLACEHOLDER_JSON = orjson.dumps(PLACEHOLDER)
_PLACEHOLDER_ESCAPED = re.compile(rb"\\u[eE]000")

_CHUNK = 4 << 20  # bytes of source per bulk step: keeps temporaries small and reused
_MIN_SIZE = 1 << 20  # smaller documents are parsed whole: nothing to gain


@dataclass
class _KeyArrays:
    """The arrays of one key, in document order: per-stretch pieces until first asked for."""

    depth: list[np.ndarray]  # per array: 1 or 2
    starts: list[np.ndarray]  # per array: where its text starts in the source
    ends: list[np.ndarray]
    lists: list[np.ndarray]  # per array: how many innermost lists
    tokens: list[np.ndarray]  # per list: how many numbers
    values: list[np.ndarray]  # float64 per number
    is_float: list[np.ndarray]  # bool per number: written with '.', 'e' or 'E'

    def joined(self) -> _KeyArrays:
        """The pieces as one array per field (the per-stretch pieces are dropped)."""
        for name in ("depth", "starts", "ends", "lists", "tokens", "values", "is_float"):
            parts = getattr(self, name)
            if len(parts) != 1:
                setattr(self, name, [np.concatenate(parts)])
        return self


class NumericArrays:
    """The arrays cut out of one document, kept per key.

    A depth-1 array is one list of numbers, a depth-2 array one list per inner
    array. The source text is only needed again for an array the caller gives
    back verbatim (``value``); ``reload`` lets the caller free it meanwhile.
    """

    def __init__(self, keys: list[str], source: bytes) -> None:
        self.keys = keys
        self._by_key = {k: _KeyArrays([], [], [], [], [], [], []) for k in keys}
        self._source: bytes | None = source
        self._reload: Callable[[], bytes] | None = None

    def add(self, key: int, depth, starts, ends, lists, tokens, values, is_float) -> None:
        part = self._by_key[self.keys[key]]
        for name, piece in zip(
            ("depth", "starts", "ends", "lists", "tokens", "values", "is_float"),
            (depth, starts, ends, lists, tokens, values, is_float),
        ):
            getattr(part, name).append(piece)

    def release_source(self, reload: Callable[[], bytes]) -> None:
        """Drop the source text; ``reload()`` gives it back if ``value`` needs it."""
        self._source, self._reload = None, reload

    def joined(self, key: str) -> _KeyArrays:
        return self._by_key[key].joined()

    def count(self, key: str) -> int:
        return sum(len(d) for d in self._by_key[key].depth)

    def column(self, key: str, depth: int) -> jsonnum.NumberColumn | None:
        """The arrays of ``key`` in document order as one column, or None if one is not ``depth`` deep."""
        part = self._by_key[key].joined()
        if (part.depth[0] != depth).any():
            return None
        values, is_float = part.values[0], part.is_float[0]
        list_offsets = _offsets(part.tokens[0])
        arrow: pa.Array = pa.ListArray.from_arrays(pa.array(list_offsets), pa.array(values))
        if depth == 1:
            offsets = list_offsets
        else:
            outer = _offsets(part.lists[0])
            arrow = pa.ListArray.from_arrays(pa.array(outer), arrow)
            offsets = list_offsets[outer]
        return jsonnum.NumberColumn(
            values, offsets, is_float, np.zeros(len(values), dtype=bool), arrow
        )

    def value(self, key: str, rank: int) -> list:
        """The ``rank``-th array of ``key`` as the Python value orjson would give."""
        part = self._by_key[key].joined()
        if self._source is None:
            self._source = self._reload()
        start, end = int(part.starts[0][rank]), int(part.ends[0][rank])
        return orjson.loads(self._source[start:end])


def cut(data: bytes, keys: tuple[str, ...]) -> tuple[bytes, NumericArrays] | None:
    """``(document with placeholders, arrays)``, or None where cutting does not apply.

    The document is scanned in stretches of about 4 MB (cut at a ``{``, which no
    numeric array contains): the regular expression runs on one stretch while
    two threads parse the numbers of the ones before (NumPy and Arrow release
    the GIL) and sort them by key.
    """
    if len(data) < _MIN_SIZE or PLACEHOLDER.encode() in data or _PLACEHOLDER_ESCAPED.search(data):
        return None
    pattern = _pattern(keys, spaced=_spaced(data))
    buf = np.frombuffer(data, dtype=np.uint8)
    spans: list[tuple[np.ndarray, np.ndarray]] = []
    jobs = []
    with ThreadPoolExecutor(2, thread_name_prefix="posestore-json") as pool:
        for a, b in _stretches(data):
            matches = list(pattern.finditer(data, a, b))
            if not matches:
                continue
            group = np.fromiter((m.lastindex for m in matches), np.int8, len(matches)) - 1
            found = np.array([m.span(m.lastindex) for m in matches], dtype=np.int64)
            starts, ends = found[:, 0].copy(), found[:, 1].copy()
            key_of, depth = group // 2, (2 - group % 2).astype(np.int8)
            spans.append((starts, ends))
            jobs.append(pool.submit(_parse_chunk, buf, starts, ends, depth, key_of, len(keys)))
        arrays = NumericArrays(list(keys), data)
        for job in jobs:
            parsed = job.result()
            if parsed is None:
                return None
            for k, piece in enumerate(parsed):
                arrays.add(k, *piece)
        jobs.clear()  # the futures hold the pieces too
    if not spans:
        return None
    starts, ends = (np.concatenate(parts) for parts in zip(*spans))
    gaps = np.empty(2 * len(starts) + 2, dtype=np.int64)
    gaps[0], gaps[1:-1:2], gaps[2:-1:2], gaps[-1] = 0, starts, ends, len(data)
    bounds = gaps.tolist()
    skeleton = _PLACEHOLDER_JSON.join(
        [data[bounds[i] : bounds[i + 1]] for i in range(0, len(bounds), 2)]
    )
    for key in keys:  # one array per field now, not thousands of pieces in worker arenas
        arrays.joined(key)
    memory.release()
    return skeleton, arrays


def _pattern(keys: tuple[str, ...], spaced: bool) -> re.Pattern:
    """Group 2k+1 matches a nested array of ``keys[k]``, group 2k+2 a flat one."""
    blank = rb"\s*" if spaced else b""
    numbers = rb"[-0-9.eE+,\s]*+" if spaced else rb"[-0-9.eE+,]*+"
    flat = rb"\[" + blank + rb"[-0-9]" + numbers + rb"\]"
    inner = rb"\[" + numbers + rb"\]"
    nested = rb"\[" + blank + inner + rb"(?:" + blank + b"," + blank + inner + rb")*+" + blank + rb"\]"
    value = rb"(?:(" + nested + rb")|(" + flat + rb"))"
    alternatives = [
        rb'"' + re.escape(k.encode()) + rb'"' + blank + b":" + blank + value for k in keys
    ]
    return re.compile(rb"(?<!\\)(?:" + b"|".join(alternatives) + b")")


def _spaced(data: bytes) -> bool:
    """Whether the document puts blanks between tokens (Python's json.dump does: ``", "``).

    Judged on its first megabyte: an array the compact pattern misses is only
    parsed by orjson with the rest, never misread.
    """
    head = data[: 1 << 20]
    return re.search(rb"[,:\[]\s", head) is not None


def _stretches(data: bytes) -> Iterator[tuple[int, int]]:
    """``(start, end)`` pieces of about ``_CHUNK`` bytes, each ending before a ``{``."""
    a = 0
    while a < len(data):
        b = data.find(b"{", a + _CHUNK)
        b = len(data) if b < 0 else b
        yield a, b
        a = b


def _digit(c: np.ndarray) -> np.ndarray:
    return (c >= 48) & (c <= 57)


def _parse_chunk(
    buf: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    depth: np.ndarray,
    key_of: np.ndarray,
    nkeys: int,
):
    """Parse consecutive arrays of one stretch of the document.

    Returns, per key, ``(depth, starts, ends, lists per array, tokens per list,
    values, is_float)`` of its arrays, or None when an array is not plain numeric
    JSON. The regular expression has fixed the brackets and the alphabet; this
    checks the numbers and the commas.
    """
    base = int(starts[0])
    c = buf[base : int(ends[-1])]
    s, e = starts - base, ends - base
    bounds = np.empty(2 * len(s) + 1, dtype=np.int64)
    bounds[0], bounds[1::2], bounds[2::2] = 0, s, e
    runs = np.diff(bounds, append=len(c))  # gap, array, gap, array, ..., gap
    inside = np.repeat(np.arange(len(runs)) % 2 == 1, runs)

    space = (c <= 32) & inside
    if space.any():  # "[1, 2]" as Python writes it: drop the blanks between tokens
        blanks = np.flatnonzero(space)
        before = np.count_nonzero(_heads(inside & ~space & (c != 44) & (c != 91) & (c != 93)))
        keep = ~space
        c, inside = c[keep], inside[keep]
        s = s - np.searchsorted(blanks, s)
        e = e - np.searchsorted(blanks, e)
    token = inside & (c != 44) & (c != 91) & (c != 93)
    t0 = np.flatnonzero(_heads(token))
    tail = token.copy()
    tail[:-1] &= ~token[1:]
    t1 = np.flatnonzero(tail) + 1
    if space.any() and len(t0) != before:
        return None  # "1 2": two numbers without a comma

    inner = (c == 91) & inside
    inner[s[depth == 2]] = False  # the outer '[' of [[..], [..]]
    lists = np.flatnonzero(inner)
    closes = np.flatnonzero((c == 93) & inside)
    list_end = closes[np.searchsorted(closes, lists)]
    tokens_per_list = np.searchsorted(t0, list_end) - np.searchsorted(t0, lists)
    lists_per_array = np.searchsorted(lists, e) - np.searchsorted(lists, s)

    # every number between '[' or ',' and ',' or ']', and one comma between items
    before, after = c[t0 - 1], c[t1]
    if not (((before == 44) | (before == 91)).all() and ((after == 44) | (after == 93)).all()):
        return None
    commas = np.count_nonzero((c == 44) & inside)
    between_lists = (lists_per_array - 1)[depth == 2].sum()
    if commas != np.maximum(tokens_per_list - 1, 0).sum() + between_lists:
        return None

    lengths = (t1 - t0).astype(np.int32)
    offsets = np.zeros(len(t0) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    digits = c[token]
    if not _numbers_ok(digits, offsets):
        return None
    strings = pa.StringArray.from_buffers(
        len(t0), pa.py_buffer(offsets), pa.py_buffer(digits.tobytes())
    )
    try:  # Arrow's parser is strict about the rest of the grammar (1.2.3, 1e, 1-2)
        values = pc.cast(strings, pa.float64()).to_numpy()
    except pa.ArrowInvalid:
        return None
    floaty = (digits == 46) | ((digits | 32) == 101)
    is_float = np.logical_or.reduceat(floaty, offsets[:-1]) if len(t0) else floaty[:0]
    list_key = np.repeat(key_of, lists_per_array)
    token_key = np.repeat(list_key, tokens_per_list)
    out = []
    for k in range(nkeys):
        mine, lists_k, tokens_k = key_of == k, list_key == k, token_key == k
        out.append(
            (
                depth[mine], starts[mine], ends[mine], lists_per_array[mine],
                tokens_per_list[lists_k], values[tokens_k], is_float[tokens_k],
            )  # fmt: skip
        )
    return out


def _heads(token: np.ndarray) -> np.ndarray:
    """Per byte: the first byte of a run of token bytes."""
    head = token.copy()
    head[1:] &= ~token[:-1]
    return head


def _numbers_ok(digits: np.ndarray, offsets: np.ndarray) -> bool:
    """What JSON forbids in a number and Arrow's float parser allows: +1, 01, 1., .5."""
    first, end = offsets[:-1], offsets[1:]
    lead = first + (digits[first] == 45)  # past a minus sign
    if not (lead < end).all():
        return False  # a lone '-'
    lead_char = digits[lead]
    if not _digit(lead_char).all():
        return False  # '+1', '.5', '-.5'
    zeros = np.flatnonzero(lead_char == 48)
    if len(zeros):
        nxt = lead[zeros] + 1
        long = nxt < end[zeros]
        if _digit(digits[nxt[long]]).any():
            return False  # a leading zero: 01
    dots = np.flatnonzero(digits == 46)  # never first: the lead check saw to that
    if len(dots):
        nxt = dots + 1
        at_end = np.zeros(len(digits) + 1, dtype=bool)
        at_end[end] = True
        if at_end[nxt].any():
            return False  # '1.'
        if not (_digit(digits[nxt]) & _digit(digits[dots - 1])).all():
            return False  # '1.e5'
    return True


def _offsets(counts: np.ndarray) -> np.ndarray:
    out = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=out[1:])
    return out
