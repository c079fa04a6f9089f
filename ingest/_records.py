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


class Records:
    """JSON objects held by key, one Python list of values per key, instead of a dict each.

    A million COCO annotations as dicts are most of a large file's parsed size; as columns
    they are a list slot per key and record. Built a parsed slice at a time (``extend``),
    so the dicts of one slice exist at once. ``head`` keeps the first records as they were
    (key order, flavour). A value equal to ``shared`` (a placeholder string) under the keys
    ``shared_in`` is kept as that one object, not a copy per record.
    """

    HEAD = 1000

    def __init__(self, shared: str | None = None, shared_in: tuple[str, ...] = ()) -> None:
        self.n = 0
        self.columns: dict[str, list] = {}
        self.head: list[dict] = []
        self.not_an_object: tuple[int, str] | None = None  # the first record that is not
        self.shared = shared
        self._shared_in = frozenset(shared_in)

    @classmethod
    def of(cls, records: list) -> Records:
        built = cls()
        built.extend(records)
        return built

    def extend(self, records: list) -> None:
        """Append parsed records (a record that is not an object counts as one without keys,
        and is remembered in ``not_an_object``)."""
        is_dict = type_mask(records, dict)
        if not is_dict.all():
            if self.not_an_object is None:
                i = int(np.flatnonzero(~is_dict)[0])
                self.not_an_object = (self.n + i, type(records[i]).__name__)
            records = [r if ok else {} for r, ok in zip(records, is_dict)]
        if len(self.head) < self.HEAD:
            self.head += records[: self.HEAD - len(self.head)]
        for key in set().union(*records) - set(self.columns) if records else ():
            self.columns[key] = [MISSING] * self.n
        shared = self.shared
        for key, column in self.columns.items():
            if key in self._shared_in:  # the placeholders as one object, not a copy each
                column += [shared if (v := r.get(key, MISSING)) == shared else v for r in records]
            else:
                column += [r.get(key, MISSING) for r in records]
        self.n += len(records)

    def __len__(self) -> int:
        return self.n

    def values(self, key: str) -> list:
        """The values of ``key``, ``MISSING`` where a record lacks it (the column itself)."""
        column = self.columns.get(key)
        return column if column is not None else [MISSING] * self.n

    def record(self, index: int) -> dict:
        """Record ``index`` as a dict (its keys in column order, not necessarily the source's)."""
        return {k: col[index] for k, col in self.columns.items() if col[index] is not MISSING}

    def take(self, indices: list[int]) -> Records:
        """The records at ``indices`` (ascending), as new ``Records``."""
        out = Records(self.shared, tuple(self._shared_in))
        out.n = len(indices)
        out.columns = {k: [col[i] for i in indices] for k, col in self.columns.items()}
        out.head = [self.head[i] for i in indices if i < len(self.head)]
        return out

    def get(self, index: int, key: str) -> object:
        return self.columns[key][index]

    def set(self, index: int, key: str, value: object) -> None:
        self.columns[key][index] = value

    def count_shared(self, key: str) -> int:
        """How many records hold the ``shared`` value under ``key``."""
        shared = self.shared
        return sum(1 for v in self.columns.get(key, ()) if v is shared)


def values(records: list[dict] | Records, key: str) -> list:
    """The values of one key across records, ``MISSING`` where absent."""
    if isinstance(records, Records):
        return records.values(key)
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


def unknown_keys(records: list[dict] | Records, known: frozenset) -> list[tuple[int, str]]:
    """(record index, key) for every key outside ``known``, record by record."""
    if isinstance(records, Records):
        found = [
            (i, k)
            for k in records.columns
            if k not in known
            for i, v in enumerate(records.columns[k])
            if v is not MISSING
        ]
        return sorted(found, key=lambda ik: ik[0])  # stable: a record's keys in column order
    seen = set().union(*records) if records else set()
    extra = seen - known
    if not extra:
        return []
    return [(i, k) for i, r in enumerate(records) for k in r if k in extra]


def key_order(records: list[dict] | Records, limit: int = 1000) -> list[str]:
    """Keys in the order the first records give them (for writing records back alike)."""
    order: dict[str, None] = {}
    first = records.head if isinstance(records, Records) else records
    for r in first[:limit]:
        order.update(dict.fromkeys(r))
    return list(order)
