"""Columns from lists of JSON records, checked in bulk, with the exact source kept.

A reader hands each helper the values of one field across all records
(``MISSING`` where a record lacks the key). Values the typed column cannot
reproduce exactly are reported back as *overrides*: ``{record index: source
value}``, which the reader stores in the record's ``attributes`` so that the
writer gives the source back. Python touches each value once (``map(type, …)``);
the checks and conversions are NumPy.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import numpy as np

from posestore.errors import SourceError

MISSING = object()
"""Placeholder for a key a record does not have."""


class Overrides:
    """Source values the typed columns cannot reproduce, by record index then key."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.by_record: dict[int, dict] = defaultdict(dict)
        self.resolvers: dict[str, tuple[object, Callable[[int], object]]] = {}

    def resolve(self, key: str, placeholder: object, source: Callable[[int], object]) -> None:
        """Values of ``key`` equal to ``placeholder`` stand for ``source(record index)``."""
        self.resolvers[key] = (placeholder, source)

    def add(self, key: str, raw: list, mask: np.ndarray) -> None:
        for i in np.flatnonzero(mask):
            self.by_record[int(i)][key] = raw[i]

    def add_value(self, index: int, key: str, value: object) -> None:
        self.by_record[index][key] = value

    def json_column(self, dumps) -> list:
        """One JSON text (or None) per record."""
        out: list = [None] * self.n
        for i, d in self.by_record.items():
            for key, (placeholder, source) in self.resolvers.items():
                if type(d.get(key)) is type(placeholder) and d[key] == placeholder:
                    d[key] = source(i)
            out[i] = dumps(d).decode()
        return out


def first_true(mask: np.ndarray) -> int | None:
    """Index of the first True in ``mask`` (the record an error names), or None."""
    hits = np.flatnonzero(mask)
    return int(hits[0]) if len(hits) else None


def values(records: list[dict], key: str) -> list:
    """The values of one key across records, ``MISSING`` where absent."""
    return [r.get(key, MISSING) for r in records]


def type_mask(vals: list, *types: type) -> np.ndarray:
    """Per value: its type is exactly one of ``types`` (bool is not int)."""
    n = len(vals)
    present = set(map(type, vals))
    if present <= set(types):
        return np.ones(n, dtype=bool)
    if present.isdisjoint(types):
        return np.zeros(n, dtype=bool)
    wanted = frozenset(types)
    return np.fromiter((type(v) in wanted for v in vals), dtype=bool, count=n)


def present_mask(vals: list) -> np.ndarray:
    if MISSING not in vals:
        return np.ones(len(vals), dtype=bool)
    return np.fromiter((v is not MISSING for v in vals), dtype=bool, count=len(vals))


def string_column(vals: list, key: str, overrides: Overrides) -> np.ndarray:
    """Object array of str/None; non-string present values become overrides."""
    ok = type_mask(vals, str)
    present = present_mask(vals)
    overrides.add(key, vals, present & ~ok)
    out = np.empty(len(vals), dtype=object)
    out[:] = vals
    out[~ok] = None
    return out


def int_column(
    vals: list, key: str, overrides: Overrides, dtype=np.int64, bool_as_int: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(values, valid) for an integer field; other present values become overrides.

    With ``bool_as_int`` a boolean gives 0/1 in the column and is kept as an override
    (``iscrowd: false``). Integers outside ``dtype`` are kept as overrides only.
    """
    n = len(vals)
    bools = type_mask(vals, bool) if bool_as_int else np.zeros(n, dtype=bool)
    usable = type_mask(vals, int) | bools
    out = np.zeros(n, dtype=dtype)
    idx = np.flatnonzero(usable)
    if len(idx):
        picked = vals if len(idx) == n else [vals[i] for i in idx]
        try:
            wide = np.array(picked, dtype=np.int64)
            fits64 = np.ones(len(idx), dtype=bool)
        except OverflowError:
            fits64 = np.fromiter(
                (-(2**63) <= v < 2**63 for v in picked), dtype=bool, count=len(idx)
            )
            wide = np.array([v if ok else 0 for v, ok in zip(picked, fits64)], dtype=np.int64)
        info = np.iinfo(dtype)
        fits = fits64 & (wide >= info.min) & (wide <= info.max)
        out[idx[fits]] = wide[fits]
        usable[idx[~fits]] = False
    overrides.add(key, vals, present_mask(vals) & (~usable | bools))
    return out, usable


def ids_column(vals: list, file: str, where: str, key: str, overrides: Overrides):
    """int64 ids; string ids get surrogates, the source string kept as an override.

    Returns ``(ids, lookup)`` where ``lookup`` maps a source id (int or str) to its
    int64 id for resolving references.
    """
    n = len(vals)
    ints = type_mask(vals, int)
    strs = type_mask(vals, str)
    bad = ~(ints | strs)
    if (i := first_true(bad)) is not None:
        got = "missing" if vals[i] is MISSING else f"{type(vals[i]).__name__} {vals[i]!r}"
        raise SourceError(
            file, f"{where}[{i}].{key}", f"expected an integer or string id, got {got}"
        )
    ids = np.zeros(n, dtype=np.int64)
    if ints.any():
        try:
            ids[ints] = np.array([v for v, ok in zip(vals, ints) if ok], dtype=np.int64)
        except OverflowError as e:
            i = next(i for i, v in enumerate(vals) if ints[i] and not -(2**63) <= v < 2**63)
            raise SourceError(
                file, f"{where}[{i}].{key}", f"id {vals[i]} does not fit in a signed 64-bit integer"
            ) from e
    lookup: dict[str, int] | None = None
    if strs.any():
        taken: set[int] = set(ids[ints].tolist())
        lookup = {}
        next_free = (max(taken) + 1) if taken else 1
        for i in np.flatnonzero(strs).tolist():
            s = vals[i]
            if s in lookup:
                ids[i] = lookup[s]
                continue
            candidate = int(s) if s.isascii() and s.isdigit() and len(s) < 18 else None
            if candidate is None or candidate in taken:
                while next_free in taken:
                    next_free += 1
                candidate = next_free
            taken.add(candidate)
            lookup[s] = candidate
            ids[i] = candidate
        overrides.add(key, vals, strs)
    return ids, lookup


def resolve_refs(
    vals: list, lookup: dict | None, file: str, where: str, key: str, overrides: Overrides
):
    """int64 references (``image_id``) through the referenced table's string-id lookup."""
    if lookup is None:
        return ids_column(vals, file, where, key, overrides)[0]
    out = np.zeros(len(vals), dtype=np.int64)
    strs = type_mask(vals, str)
    ints = type_mask(vals, int)
    for i in np.flatnonzero(strs).tolist():
        if vals[i] not in lookup:
            raise SourceError(
                file, f"{where}[{i}].{key}", f"refers to {vals[i]!r}, which no record has"
            )
        out[i] = lookup[vals[i]]
    if ints.any():
        out[ints] = np.array([v for v, ok in zip(vals, ints) if ok], dtype=np.int64)
    bad = ~(ints | strs)
    if (first_bad := first_true(bad)) is not None:
        raise SourceError(
            file, f"{where}[{first_bad}].{key}", f"expected an id, got {vals[first_bad]!r}"
        )
    overrides.add(key, vals, strs)
    return out


def unknown_keys(records: list[dict], known: frozenset) -> list[tuple[int, str]]:
    """(record index, key) for every key outside ``known``."""
    seen = set().union(*records) if records else set()
    extra = seen - known
    if not extra:
        return []
    return [(i, k) for i, r in enumerate(records) for k in r if k in extra]


def key_order(records: list[dict], limit: int = 1000) -> list[str]:
    """Keys in the order the first records give them (for writing records back alike)."""
    order: dict[str, None] = {}
    for r in records[:limit]:
        order.update(dict.fromkeys(r))
    return list(order)
