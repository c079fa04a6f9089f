"""Cut the big numeric arrays out of a JSON document before parsing it.

A COCO keypoints file is mostly numbers: 51 per ``keypoints`` list, dozens per
polygon. Parsed with ``orjson`` each becomes a Python object (24+ bytes, an
allocation, later a conversion back to NumPy): that is where a JSON loader
spends its time and memory. posestore finds the arrays of chosen keys
(``"keypoints": [...]``, ``"segmentation": [[...]]``, ``"bbox": [...]``) and
parses their numbers with array operations over the bytes: key positions, bracket
nesting, token boundaries, JSON number grammar and int-vs-float kind are NumPy
steps, the conversion is Arrow's string → float64 cast; ``orjson`` gets the rest
of the document with each array replaced by a placeholder string. NumPy and Arrow
release the GIL, so two threads share the work. The placeholders of one key, in
document order, are that key's arrays in document order.

Only arrays that are certainly plain numeric JSON are cut out; the grammar check
rejects anything else (then the caller parses the whole document as before, and
gets the same result or the same error).
"""

from __future__ import annotations

import mmap
import re
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, fields

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from posestore import jsonnum

from . import memory

PLACEHOLDER = "\ue000"  # a private-use character: never in a real annotation file
_PLACEHOLDER_JSON = orjson.dumps(PLACEHOLDER)
_PLACEHOLDER_ESCAPED = re.compile(rb"\\u[eE]000")

_CHUNK = 4 << 20  # bytes of source per bulk step: keeps temporaries small and reused
_MIN_SIZE = 1 << 20  # smaller documents are parsed whole: nothing to gain
MAP_FROM = 64 << 20
"""Files from this size are mapped, not read (their pages let go as they are cut)."""
_RELEASE_EVERY = 8  # stretches between two hand-backs of freed memory (a 1 GB file: 1.5 GB kept)


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
        """The pieces as one array per field, each piece let go as soon as it is copied (a
        field's pieces and its whole never both at once)."""
        for name in _FIELDS:
            parts = getattr(self, name)
            if len(parts) == 1:
                continue
            whole = np.empty(sum(len(p) for p in parts), dtype=parts[0].dtype)
            at = 0
            for i, piece in enumerate(parts):
                whole[at : at + len(piece)] = piece
                at += len(piece)
                parts[i] = piece = None
                if i % 64 == 63:
                    memory.release()
            setattr(self, name, [whole])
        return self


_FIELDS = tuple(f.name for f in fields(_KeyArrays))


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
        for name, piece in zip(_FIELDS, (depth, starts, ends, lists, tokens, values, is_float)):
            getattr(part, name).append(piece)

    def release_source(self, reload: Callable[[], bytes]) -> None:
        """Drop the source text; ``reload()`` gives it back if ``value`` needs it."""
        self._source, self._reload = None, reload

    def join_all(self) -> None:
        """One array per field of every key now, not hundreds of per-stretch pieces (freed
        memory handed back after each key, so the joins' extra is one key's at a time)."""
        for key in self.keys:
            self._by_key[key].joined()
            memory.release()

    def drop_numbers(self, key: str) -> None:
        """Let go of the numbers of ``key`` once its column is built (``value`` still works:
        it reads the source again)."""
        part = self._by_key[key].joined()
        empty = np.zeros(0, dtype=np.int64)
        part.lists, part.tokens = [empty], [empty]
        part.values, part.is_float = [empty.astype(float)], [empty.astype(bool)]

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
        list_offsets = jsonnum.run_offsets(part.tokens[0])
        arrow: pa.Array = pa.ListArray.from_arrays(pa.array(list_offsets), pa.array(values))
        if depth == 1:
            offsets = list_offsets
        else:
            outer = jsonnum.run_offsets(part.lists[0])
            arrow = pa.ListArray.from_arrays(pa.array(outer), arrow)
            offsets = list_offsets[outer]
        return jsonnum.NumberColumn(
            values, offsets, is_float, np.zeros(len(values), dtype=bool), arrow
        )

    def value(self, key: str, rank: int) -> list:
        """The ``rank``-th array of ``key`` as the Python value orjson would give."""
        part = self._by_key[key].joined()
        source = self._source
        if source is None:
            if self._reload is None:
                raise AssertionError("the source text was dropped without a way to read it again")
            source = self._source = self._reload()
        start, end = int(part.starts[0][rank]), int(part.ends[0][rank])
        return orjson.loads(source[start:end])


def cut(data: bytes, keys: tuple[str, ...]) -> tuple[bytes, NumericArrays] | None:
    """``(document with placeholders, arrays)``, or None where cutting does not apply.

    The document is read in stretches of about 4 MB (cut at a ``{``, which no
    numeric array contains), two at a time in threads: finding the arrays and
    parsing their numbers are NumPy and Arrow steps, which release the GIL.
    """
    got = cut_pieces(data, keys)
    if got is None:
        return None
    pieces, arrays = got
    skeleton = b"".join(pieces)
    del pieces[:]
    arrays.join_all()
    return skeleton, arrays


def cut_pieces(
    data: bytes, keys: tuple[str, ...], progress: Callable[[int], None] | None = None
) -> tuple[list[bytes], NumericArrays] | None:
    """``cut``, its document still in per-stretch pieces and its arrays not joined: a caller
    that can let ``data`` go joins them after, so the two never meet (on a 1 GB file the
    joins need 1.5 GB more). ``progress(bytes_done)`` is told as each stretch is cut."""
    # find, not `in`: a mapped file's `in` is a byte-at-a-time loop (5 s for 222 MB)
    placeholder = data.find(PLACEHOLDER.encode()) >= 0
    if len(data) < _MIN_SIZE or placeholder or _PLACEHOLDER_ESCAPED.search(data):
        return None
    buf = np.frombuffer(data, dtype=np.uint8)
    names = tuple(k.encode() for k in keys)
    arrays = NumericArrays(list(keys), data)
    pieces: list[bytes] = []
    with ThreadPoolExecutor(2, thread_name_prefix="posestore-json") as pool:
        bounds = list(_stretches(data))
        try:
            jobs: list[Future | None] = [
                pool.submit(_stretch, data, buf, a, b, names) for a, b in bounds
            ]
        except RuntimeError as e:  # no memory left for a thread's stack
            raise MemoryError(f"cannot start a thread: {e}") from e
        for done, job in enumerate(list(jobs), 1):
            got = job.result() if job else None
            if got is None:
                for rest in jobs:
                    if rest:
                        rest.cancel()
                return None
            piece, parsed = got
            pieces.append(piece)
            for k, arrays_of_key in enumerate(parsed):
                arrays.add(k, *arrays_of_key)
            jobs[done - 1] = job = None  # its pieces are ours now
            _let_go(data, bounds[done - 1][1])
            if progress:
                progress(bounds[done - 1][1])
            if done % _RELEASE_EVERY == 0:  # the stretches' temporaries, freed but kept by malloc
                memory.release()
        jobs.clear()  # the futures hold the pieces too
    if not any(arrays.count(key) for key in keys):
        return None
    memory.release()
    return pieces, arrays


def _let_go(data: bytes, upto: int) -> None:
    """A mapped file's pages before ``upto`` are cut: out of memory (read again if needed)."""
    if isinstance(data, mmap.mmap):
        upto -= upto % mmap.PAGESIZE
        if upto > 0:
            data.madvise(mmap.MADV_DONTNEED, 0, upto)


def _stretch(data: bytes, buf: np.ndarray, a: int, b: int, names: tuple[bytes, ...]):
    """One stretch ``data[a:b]``: its text with placeholders, and its arrays per key.

    None when an array that looks numeric is not valid JSON.
    """
    c = buf[a:b]
    starts, ends, depth, key_of = _find(c, names)
    if not len(starts):
        return data[a:b], [_nothing() for _ in names]
    parsed = _parse_chunk(c, starts, ends, depth, key_of, len(names))
    if parsed is None:
        return None
    bounds = np.empty(2 * len(starts) + 2, dtype=np.int64)
    bounds[0], bounds[1:-1:2], bounds[2:-1:2], bounds[-1] = 0, starts, ends, len(c)
    bounds += a
    cuts = bounds.tolist()
    piece = _PLACEHOLDER_JSON.join([data[cuts[i] : cuts[i + 1]] for i in range(0, len(cuts), 2)])
    for part in parsed:  # positions in the document, for ``NumericArrays.value``
        part[1] += a
        part[2] += a
    return piece, parsed


def _nothing() -> list[np.ndarray]:
    none = np.zeros(0, dtype=np.int64)
    return [none.astype(np.int8), none, none, none, none, none.astype(float), none.astype(bool)]


_BLANK = np.zeros(256, dtype=bool)
_BLANK[list(b" \t\n\r")] = True


def _find(c: np.ndarray, names: tuple[bytes, ...]):
    """``(starts, ends, depth, key)`` of the plain numeric arrays under ``names`` in ``c``.

    An array is ``"name": [numbers]`` (depth 1, first item a number) or
    ``"name": [[numbers], ...]`` (depth 2), blanks allowed between tokens, its
    opening quote not escaped. Its end is its first ``]`` (depth 1) or first
    ``]`` followed by ``]`` (depth 2); one that holds another kind of JSON value,
    or whose brackets do not nest that way, is left in the text.
    """
    n = len(c)
    all_quotes = np.flatnonzero(c == 34)
    quotes = all_quotes[all_quotes > 0]
    quotes = quotes[c[quotes - 1] != 92]  # not \" inside a string
    at, key_of = [], []
    for k, name in enumerate(names):
        text = name + b'"'
        found = quotes[quotes + len(text) < n]
        for j, byte in enumerate(text, 1):
            found = found[c[found + j] == byte]
        at.append(found + len(text) + 1)
        key_of.append(np.full(len(found), k, dtype=np.int8))
    pos, key = np.concatenate(at), np.concatenate(key_of)
    order = np.argsort(pos, kind="stable")
    pos, key = _past_blanks(c, pos[order]), key[order]
    pos, key = _expect(c, pos, key, 58)  # ':'
    start, key = _expect(c, _past_blanks(c, pos + 1), key, 91)  # '['
    first = _past_blanks(c, start + 1)
    head = np.zeros(len(first), dtype=np.uint8)
    head[first < n] = c[first[first < n]]
    nested = head == 91
    keep = nested | (head == 45) | ((head >= 48) & (head <= 57))  # '[', '-' or a digit
    start, key, nested = start[keep], key[keep], nested[keep]

    closes = np.flatnonzero(c == 93)
    after = _past_blanks(c, closes + 1)
    double = np.zeros(len(closes), dtype=bool)
    double[after < n] = c[after[after < n]] == 93
    ends_flat, ends_nested = closes + 1, after[double] + 1
    end = np.zeros(len(start), dtype=np.int64)
    for sel, candidates in ((~nested, ends_flat), (nested, ends_nested)):
        i = np.searchsorted(candidates, start[sel])
        got = i < len(candidates)
        end[np.flatnonzero(sel)[got]] = candidates[i[got]]
    keep = end > 0
    # a string, object, true, false or null in the array: it stays in the text (other
    # bytes no number has are invalid JSON, which the number check refuses)
    for other in (all_quotes, np.flatnonzero(c > 101)):  # '"'; '{', 'f', 'n', 't', ...
        keep[keep] = np.searchsorted(other, end[keep]) == np.searchsorted(other, start[keep])
    start, end, key, depth = start[keep], end[keep], key[keep], np.where(nested[keep], 2, 1)
    keep = _nesting_ok(c, start, end, depth)
    return start[keep], end[keep], depth[keep].astype(np.int8), key[keep]


def _nesting_ok(c: np.ndarray, start: np.ndarray, end: np.ndarray, depth: np.ndarray):
    """Per array: its brackets open and close within ``depth`` levels, closing at its end.

    The arrays hold number bytes only (no quotes, no colons), so they do not overlap.
    """
    if not len(start):
        return np.zeros(0, dtype=bool)
    brackets = np.flatnonzero((c == 91) | (c == 93))
    lo, hi = np.searchsorted(brackets, start), np.searchsorted(brackets, end)
    count = hi - lo  # at least 2: start is a '[', end - 1 a ']'
    first = jsonnum.run_offsets(count)[:-1]
    at = np.repeat(lo - first, count) + np.arange(int(count.sum()))
    level = np.cumsum(np.where(c[brackets[at]] == 91, 1, -1))
    level -= np.repeat(level[first] - 1, count)  # 1 after each array's opening bracket
    last = first + count - 1
    closed = level[last] == 0
    level[last] = 1
    return (
        closed
        & (np.minimum.reduceat(level, first) >= 1)
        & (np.maximum.reduceat(level, first) <= depth)
    )


def _past_blanks(c: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Each position moved past the blanks there (``len(c)`` where the text ends)."""
    pos = np.minimum(pos, len(c))
    todo = np.flatnonzero(pos < len(c))
    todo = todo[_BLANK[c[pos[todo]]]]
    while len(todo):
        pos[todo] += 1
        todo = todo[pos[todo] < len(c)]
        todo = todo[_BLANK[c[pos[todo]]]]
    return pos


def _expect(c: np.ndarray, pos: np.ndarray, key: np.ndarray, byte: int):
    ok = pos < len(c)
    ok[ok] = c[pos[ok]] == byte
    return pos[ok], key[ok]


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
    c: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    depth: np.ndarray,
    key_of: np.ndarray,
    nkeys: int,
):
    """Parse consecutive arrays of one stretch of the document.

    Returns, per key, ``(depth, starts, ends, lists per array, tokens per list,
    values, is_float)`` of its arrays, or None when an array is not plain numeric
    JSON. ``_find`` has checked the brackets; this checks the numbers and the commas.
    """
    c = c[: int(ends[-1])]
    s, e = starts, ends
    bounds = np.empty(2 * len(s) + 1, dtype=np.int64)
    bounds[0], bounds[1::2], bounds[2::2] = 0, s, e
    runs = np.diff(bounds, append=len(c))  # gap, array, gap, array, ..., gap
    inside = np.repeat(np.arange(len(runs)) % 2 == 1, runs)

    space = (c <= 32) & inside
    if space.any():  # "[1, 2]" as Python writes it: drop the blanks between tokens
        blanks = np.flatnonzero(space)
        tokens_before = np.count_nonzero(
            _heads(inside & ~space & (c != 44) & (c != 91) & (c != 93))
        )
        keep = ~space
        c, inside = c[keep], inside[keep]
        s = s - np.searchsorted(blanks, s)
        e = e - np.searchsorted(blanks, e)
    token = inside & (c != 44) & (c != 91) & (c != 93)
    t0 = np.flatnonzero(_heads(token))
    tail = token.copy()
    tail[:-1] &= ~token[1:]
    t1 = np.flatnonzero(tail) + 1
    if space.any() and len(t0) != tokens_before:
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

    offsets = jsonnum.run_offsets(t1 - t0, np.int32)  # Arrow's string offsets
    is_float = _number_kinds(c, inside, t0, t1)
    if is_float is None or ((t1 - t0 >= 19) & ~is_float).any():
        return None  # not plain JSON numbers, or an integer float64 may not hold: parsed whole
    strings = pa.StringArray.from_buffers(len(t0), pa.py_buffer(offsets), pa.py_buffer(c[token]))
    try:  # Arrow's parser is strict about the rest of the grammar (1.2.3, 1e, 1-2)
        values = pc.cast(strings, pa.float64()).to_numpy()
    except pa.ArrowInvalid:
        return None
    list_key = np.repeat(key_of, lists_per_array)
    token_key = np.repeat(list_key, tokens_per_list)
    out = []
    for k in range(nkeys):
        mine, lists_k, tokens_k = key_of == k, list_key == k, token_key == k
        out.append(
            [depth[mine], starts[mine], ends[mine], lists_per_array[mine]]
            + [tokens_per_list[lists_k], values[tokens_k], is_float[tokens_k]]
        )
    return out


def _heads(token: np.ndarray) -> np.ndarray:
    """Per byte: the first byte of a run of token bytes."""
    head = token.copy()
    head[1:] &= ~token[:-1]
    return head


def _number_kinds(c: np.ndarray, inside: np.ndarray, t0: np.ndarray, t1: np.ndarray):
    """Per number (``c[t0:t1]``, each between separators): written with '.', 'e' or 'E'.

    None where JSON forbids what Arrow's float parser allows: +1, 01, 1., .5.
    """
    lead = t0 + (c[t0] == 45)  # past a minus sign
    if not (lead < t1).all():
        return None  # a lone '-'
    lead_char = c[lead]
    if not _digit(lead_char).all():
        return None  # '+1', '.5', '-.5'
    if _digit(c[lead[lead_char == 48] + 1]).any():
        return None  # a leading zero: 01 (a number is followed by ',' or ']')
    dots = np.flatnonzero(c == 46)
    dots = dots[inside[dots]]
    if not (_digit(c[dots - 1]) & _digit(c[dots + 1])).all():
        return None  # '1.', '1.e5'
    exponents = np.flatnonzero((c | 32) == 101)
    exponents = exponents[inside[exponents]]
    is_float = np.zeros(len(t0), dtype=bool)
    is_float[np.searchsorted(t0, dots, "right") - 1] = True
    is_float[np.searchsorted(t0, exponents, "right") - 1] = True
    return is_float
