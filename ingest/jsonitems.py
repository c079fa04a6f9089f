"""Where a JSON document's top-level arrays and their items are, found without parsing it.

A COCO file's ``annotations`` array is most of the document once its numbers are cut out
(``jsonspans``), and parsed whole it costs its records as Python objects plus the parser's
own tree of them at once. ``top_level_arrays`` finds, with NumPy over the bytes, where the
arrays under chosen keys of the top-level object start and end and where their items are
separated, so the caller parses them a slice of items at a time (``item_slices``) and the
rest of the document with each array left empty.

The scan is a JSON tokenizer reduced to what the boundaries need: unescaped quotes toggle
strings, brackets and braces outside strings nest, and a comma one level inside an array
separates its items. It does not validate: every byte still goes through a real parser
(the document around the arrays and each slice), and a slice that does not parse sends the
caller back to parsing the whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

_BLOCK = 16 << 20  # bytes scanned at a time: keeps the per-byte temporaries small

_NESTING = np.zeros(256, dtype=np.int8)
_NESTING[[ord("{"), ord("[")]] = 1
_NESTING[[ord("}"), ord("]")]] = -1
_STRUCTURAL = np.zeros(256, dtype=bool)
_STRUCTURAL[[ord(b) for b in "{}[],"]] = True
_NOT_BLANK = re.compile(rb"[^ \t\n\r]")


@dataclass
class TopArray:
    """A top-level key's array: ``data[open]`` is its ``[``, ``data[close]`` its ``]``, and
    ``commas`` the positions of the commas between its items."""

    open: int
    close: int
    commas: np.ndarray


def top_level_arrays(data: bytes, keys: tuple[str, ...]) -> dict[str, TopArray]:
    """The arrays of ``keys`` in the top-level object of ``data``, by key.

    A key is left out where the document does not have it once at its top level holding an
    array (absent, repeated, another value): the caller parses it with the rest, as before.
    """
    # per key: (its opening quote, the '[' after it) wherever the text reads "key": [
    candidates = {
        k: [
            (m.start(), m.end() - 1)
            for m in re.finditer(rb'"' + re.escape(k.encode()) + rb'"\s*:\s*\[', data)
        ]
        for k in keys
    }
    candidates = {k: found for k, found in candidates.items() if found}
    if not candidates:
        return {}
    buf = np.frombuffer(data, dtype=np.uint8)
    quotes_before = 0  # unescaped quotes seen so far: odd inside a string
    depth = 0
    opens, closes, commas = [], [], []
    keyed: dict[str, list[int]] = {k: [] for k in candidates}  # '[' of a real key string
    for a, b in _blocks(data):
        c = buf[a:b]
        toggles = _unescaped_quotes(c) + a
        for k, found in candidates.items():
            for quote, bracket in found:
                if a <= quote < b:
                    i = int(np.searchsorted(toggles, quote))
                    opens_string = (i + quotes_before) % 2 == 0
                    if opens_string and i < len(toggles) and toggles[i] == quote:
                        keyed[k].append(bracket)
        flips = np.zeros(len(c), dtype=np.uint8)
        flips[toggles - a] = 1
        inside = np.bitwise_xor.accumulate(flips)  # 1 inside a string (from this block's start)
        at = np.flatnonzero(_STRUCTURAL[c] & (inside == quotes_before % 2))
        del flips, inside
        at += a
        char = buf[at]
        step = _NESTING[char].astype(np.int64)
        after = depth + np.cumsum(step)
        before = after - step
        opens.append(at[(before == 1) & (char == 0x5B)])  # '[' of a top-level key's value
        closes.append(at[(after == 1) & (char == 0x5D)])  # ']' back at the top level
        commas.append(at[(step == 0) & (before == 2)])  # between the items of such an array
        quotes_before += len(toggles)
        depth = int(after[-1]) if len(after) else depth
    top_opens = set(np.concatenate(opens).tolist())
    all_closes = np.concatenate(closes)
    all_commas = np.concatenate(commas)
    arrays: dict[str, TopArray] = {}
    for k in candidates:
        real = [bracket for bracket in keyed[k] if bracket in top_opens]
        if len(real) != 1:
            continue  # repeated (a parser keeps the last): parsed with the rest
        i = int(np.searchsorted(all_closes, real[0]))
        if i == len(all_closes):
            continue
        close = int(all_closes[i])
        lo, hi = np.searchsorted(all_commas, [real[0], close])
        arrays[k] = TopArray(real[0], close, all_commas[lo:hi])
    return arrays


def _blocks(data: bytes) -> Iterator[tuple[int, int]]:
    """``(start, end)`` pieces of about ``_BLOCK`` bytes, none starting inside a run of
    backslashes (so an escape is always seen whole)."""
    a, n = 0, len(data)
    while a < n:
        b = min(a + _BLOCK, n)
        while b < n and data[b - 1] == 0x5C:
            b += 1
        yield a, b
        a = b


def _unescaped_quotes(c: np.ndarray) -> np.ndarray:
    """Positions in ``c`` of quotes not preceded by an odd run of backslashes."""
    quotes = np.flatnonzero(c == 0x22)
    slashes = np.flatnonzero(c == 0x5C)
    if not len(slashes) or not len(quotes):
        return quotes
    starts = np.ones(len(slashes), dtype=bool)
    starts[1:] = slashes[1:] != slashes[:-1] + 1
    run_start = slashes[starts][np.cumsum(starts) - 1]  # per backslash: where its run starts
    j = np.searchsorted(slashes, quotes - 1)
    preceded = (j < len(slashes)) & (quotes > 0)
    preceded[preceded] = slashes[j[preceded]] == quotes[preceded] - 1
    run = np.zeros(len(quotes), dtype=np.int64)
    run[preceded] = quotes[preceded] - run_start[j[preceded]]
    return quotes[run % 2 == 0]


def item_slices(data: bytes, array: TopArray, items_per_slice: int) -> Iterator[bytes]:
    """The array's items as JSON arrays of up to ``items_per_slice`` items each (``[a,b,c]``),
    in order; an empty array gives none. A slice with no item in it (``[a,]``, ``[,a]``:
    invalid JSON that parsing the slices alone would accept) raises ``ValueError``."""
    if not len(array.commas) and not _NOT_BLANK.search(data, array.open + 1, array.close):
        return
    start = array.open + 1
    for cut in [*array.commas[items_per_slice - 1 :: items_per_slice].tolist(), array.close]:
        piece = data[start:cut]
        if not _NOT_BLANK.search(piece):  # '[a,]' cut here reads as '[]': valid, but wrong
            raise ValueError(f"an empty item in the array at byte {start}")
        yield b"[" + piece + b"]"
        start = cut + 1


def without_arrays(data: bytes, arrays: list[TopArray]) -> bytes:
    """``data`` with each of ``arrays`` emptied (``"key": []``): the rest of the document."""
    kept, start = [], 0
    for array in sorted(arrays, key=lambda t: t.open):
        kept.append(data[start : array.open + 1])
        start = array.close
    kept.append(data[start:])
    return b"".join(kept)
