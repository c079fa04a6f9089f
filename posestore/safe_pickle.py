"""An unpickler that admits only the numpy and builtin values PYSKL files use, in sizes the file can hold.

A pickle names every callable it wants run (``GLOBAL``/``STACK_GLOBAL``); this
unpickler resolves only the allow-list below and refuses anything else
(``os.system``, ``builtins.eval``, ``subprocess.Popen``…) before it can run, so
no code of a hostile file executes. Persistent ids are refused too.

Admitting only harmless callables is not enough: a 120-byte pickle can ask
numpy for a 13.6 GB array, and a 1.6 KB one can reference one list from
another 2**40 times. So the allowed callables are never handed out themselves;
``find_class`` returns checks around them, and:

- ``_codecs.encode`` runs only with the latin-1 codec on a ``str`` (how protocol 2
  spells bytes), ``numpy.dtype`` only for plain numeric, bool, bytes and str
  dtypes with the state numpy itself writes, ``numpy.core.multiarray.scalar`` only
  with such a dtype and exactly its bytes;
- ``_reconstruct`` only builds an ``ndarray`` and returns a placeholder; its BUILD
  state is checked (declared shape × itemsize equal to the bytes carried, those
  bytes within the file's budget) before numpy allocates anything, and only then
  is the real array made;
- after loading, one walk over the object graph puts the real arrays in place of
  the placeholders and refuses a graph that is cyclic, nested deeper than
  ``MAX_DEPTH``, or whose size *as a reader expands it* (each shared container
  counted once per reference) exceeds ``expansion_budget(file size)``.

Whatever the bytes, ``loads`` ends in a value or in one ``UnsafePickle`` whose message
is a single line naming the file.

One allocation is outside this module's reach: CPython's C unpickler reserves the
declared length of a ``BINBYTES``/``BINBYTES8``/``BYTEARRAY8`` before reading it. The
reservation is untouched virtual memory (a truncated file fails on the read and frees
it; an impossible size fails as ``MemoryError``), so it costs no resident memory.

Protocol 5 arrays (``numpy._core.numeric._frombuffer``) are not on the allow-list;
PYSKL files are written with protocols 2 and 4.
"""

from __future__ import annotations

import functools
import io
import math
import operator
import pickle
from collections import Counter, deque
from itertools import chain, compress, repeat
from pathlib import Path
from typing import Any

import numpy as np

from posestore.errors import UnsafePickle

MAX_DEPTH = 32
"""Deepest nesting of containers a pickle may have. PYSKL files nest 4 deep (a dict of a
list of dicts of tuples); 32 leaves a recursive consumer that spends up to 30 frames per
level under CPython's default recursion limit of 1000."""

EXPANSION_PER_BYTE = 16
EXPANSION_SLACK = 1_000_000
"""The expanded size of a pickle's object graph may be at most
``EXPANSION_PER_BYTE × file bytes + EXPANSION_SLACK``.

The expanded size is what a reader touches when it follows every reference: each
reference to an object counts 1, plus the characters of a string or bytes and the
elements of an array. Without shared references a pickle costs at least one byte per
unit of that size (one opcode per container slot, one byte per character, at least
one byte per array element), so an honest file sits below 1 unit per byte: the real
PYSKL files measure 0.18–0.51. Sharing through the memo is what lets a small file
expand without limit (2 bytes per extra reference to an arbitrarily large subgraph).
A factor of 16 admits files that share freely, while bounding a reader's work to 16
times what an unshared file of the same size could demand; the slack admits tiny
files that legitimately repeat a small value (a label table shared by every clip)."""

MAX_DTYPE_TEXT = 16
"""Longest dtype spelling ``numpy.dtype`` is asked to parse ('<f4', 'S64', 'U128')."""

PLAIN_KINDS = frozenset("biufcSU")
"""numpy dtype kinds admitted: bool, signed and unsigned ints, floats, complex, bytes,
str. Not object (``O``: arbitrary Python objects), void (``V``: structured records and
raw blobs of any itemsize), datetimes (PYSKL has none)."""

LATIN1_SPELLINGS = frozenset({"latin1", "latin-1", "iso-8859-1", "iso8859-1"})
"""Codec names under which a pickle may ask ``_codecs.encode`` for bytes: CPython
writes 'latin1'; the others are the codec's other spellings. Every other codec
(rot13, hex, zlib, unknown names) is refused."""


def expansion_budget(file_bytes: int) -> int:
    """The largest expanded object-graph size admitted for a pickle of ``file_bytes``."""
    return EXPANSION_PER_BYTE * file_bytes + EXPANSION_SLACK


class _Load:
    """One load's context: the file named in errors, its size, and bytes made so far.

    Bytes produced by ``_codecs.encode`` and bytes copied into arrays and scalars are
    counted separately; each total may reach the file's size (an honest protocol-2
    file encodes each array's data once and copies it once) but no more, so one memo'd
    string or bytes object reused for many arrays cannot multiply itself in memory
    while loading, before the graph walk could see it.
    """

    def __init__(self, source: str, file_bytes: int) -> None:
        self.source = source
        self.file_bytes = file_bytes
        self.encoded = 0
        self.copied = 0

    def refuse(self, problem: str) -> UnsafePickle:
        return UnsafePickle(self.source, None, f"refused: {problem}")

    def charge_encoded(self, n: int) -> None:
        self.encoded += n
        if self.encoded > self.file_bytes:
            raise self.refuse(
                f"the pickle decodes {self.encoded} bytes of strings, more than its "
                f"{self.file_bytes} bytes hold"
            )

    def charge_copied(self, n: int) -> None:
        self.copied += n
        if self.copied > self.file_bytes:
            raise self.refuse(
                f"the pickle's arrays and numpy scalars need {self.copied} bytes, more than "
                f"its {self.file_bytes} bytes hold"
            )


class _Global:
    """What ``find_class`` hands the unpickler in place of an allowed callable.

    Each subclass's ``__call__`` is the check for one callable. BUILD is refused,
    since it would let a pickle set attributes on the stand-in, and the graph walk
    refuses a stand-in as a value, since no PYSKL file stores a function or class.
    """

    __slots__ = ("_load", "name")

    def __init__(self, load: _Load, name: str) -> None:
        self._load = load
        self.name = name

    def __call__(self, *args: Any) -> Any:
        raise self._load.refuse(f"the pickle calls {self.name}, which it may only name")

    def __setstate__(self, state: object) -> None:
        raise self._load.refuse(f"the pickle sets state on {self.name}")


class _NdarrayClass(_Global):
    """``numpy.ndarray``: only an argument of ``_reconstruct``; calling it would allocate."""

    __slots__ = ()


class _Reconstruct(_Global):
    """``_reconstruct(ndarray, shape, code)``: a placeholder, nothing allocated."""

    __slots__ = ()

    def __call__(self, cls: object, shape: object, code: object) -> _PendingArray:
        # numpy writes (0,) and b'b' and replaces both on BUILD, so they are not used; the
        # class must be numpy.ndarray as find_class handed it out, not a subclass
        if type(cls) is not _NdarrayClass:
            raise self._load.refuse(f"_reconstruct of {cls!r:.60}, not numpy.ndarray")
        return _PendingArray(self._load)


class _Dtype(_Global):
    """``numpy.dtype(spelling, align, copy)``: a placeholder of a plain dtype."""

    __slots__ = ()

    def __call__(self, *args: Any) -> _PendingDtype:
        flags = args[1:]
        if not 1 <= len(args) <= 3 or not all(
            type(a) in (bool, int) and a in (0, 1) for a in flags
        ):
            raise self._load.refuse(f"numpy.dtype with arguments {args!r:.80}")
        text = args[0]
        if type(text) is not str or len(text) > MAX_DTYPE_TEXT:
            raise self._load.refuse(f"numpy.dtype asked for {text!r:.40}, not a short dtype name")
        plain = _plain_dtype(text)
        if type(plain) is str:
            raise self._load.refuse(plain)
        return _PendingDtype(self._load, *plain)


class _Scalar(_Global):
    """``scalar(dtype, data)``: a numpy scalar of a plain dtype from exactly its bytes."""

    __slots__ = ()

    def __call__(self, *args: Any) -> np.generic:
        load = self._load
        if len(args) != 2 or type(args[0]) is not _PendingDtype or type(args[1]) is not bytes:
            raise load.refuse(f"numpy scalar with arguments {args!r:.80}")
        dtype, data = args[0].resolve(), args[1]
        if len(data) != dtype.itemsize:
            raise load.refuse(f"numpy scalar of {dtype} with {len(data)} bytes")
        load.charge_copied(len(data))
        return np.frombuffer(data, dtype)[0]


class _Latin1Encode(_Global):
    """``_codecs.encode(text, 'latin1')``: how protocol 2 spells bytes, and nothing else."""

    __slots__ = ()

    def __call__(self, *args: Any) -> bytes:
        load = self._load
        if len(args) != 2 or type(args[0]) is not str or type(args[1]) is not str:
            raise load.refuse(f"_codecs.encode with arguments {args!r:.80}")
        text, codec = args
        if codec.lower() not in LATIN1_SPELLINGS:
            raise load.refuse(f"_codecs.encode with codec {codec!r:.40}; only latin-1 makes bytes")
        load.charge_encoded(len(text))
        return text.encode("latin-1")


class _EmptyBytes(_Global):
    """``bytes()``: how protocol 2 spells b'' (the data of an empty array)."""

    __slots__ = ()

    def __call__(self, *args: Any) -> bytes:
        if args:
            raise self._load.refuse(f"bytes with arguments {args!r:.80}")
        return b""


@functools.lru_cache(maxsize=64)
def _plain_dtype(text: str) -> tuple[np.dtype, tuple] | str:
    """The dtype a short spelling names and the BUILD state numpy writes for it, or why not.

    Cached by spelling: protocol 4 files memoize one dtype per file, but protocol 2
    files ask for it once per array.
    """
    dtype = np.dtype(text)
    if dtype.kind not in PLAIN_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        return f"numpy.dtype asked for {dtype}, not a plain numeric, bytes or str type"
    if dtype.itemsize == 0:
        # 'S0' arrays would declare any number of elements with no bytes behind them
        return f"numpy.dtype asked for {dtype}, which has no size"
    return dtype, tuple(dtype.__reduce__()[2])


class _PendingDtype:
    """``numpy.dtype(...)`` as pickled: checked spelling now, byte order from its BUILD.

    numpy's own ``dtype.__setstate__`` would take any item size and flags (flags 63 on
    a float32 makes numpy treat its bytes as object pointers), so BUILD lands here.
    """

    __slots__ = ("_load", "_base", "_expected", "final")
    __hash__ = None  # type: ignore[assignment]  # a real dtype could be a key; a placeholder must not hide in one

    def __init__(self, load: _Load, base: np.dtype, expected: tuple) -> None:
        self._load = load
        self._base = base
        self._expected = expected
        self.final: np.dtype | None = None

    def __setstate__(self, state: object) -> None:
        if self.final is not None:
            raise self._load.refuse("the pickle sets a dtype's state twice or after its use")
        expected = self._expected
        # numpy writes exactly this state, with the byte order as the one free field
        if (
            type(state) is not tuple
            or len(state) != len(expected)
            or state[:1] + state[2:] != expected[:1] + expected[2:]
        ):
            raise self._load.refuse(
                f"the state {state!r:.80} of dtype {self._base} is not the one numpy writes"
            )
        order = state[1]
        if order == expected[1]:
            self.final = self._base
        elif order in ("<", ">", "=") and expected[1] in ("<", ">", "="):
            self.final = self._base.newbyteorder(order)
        else:
            raise self._load.refuse(f"byte order {order!r:.10} for dtype {self._base}")

    def resolve(self) -> np.dtype:
        if self.final is None:
            self.final = self._base
        return self.final


_INT = frozenset({int})
_BYTE = np.dtype("b")


class _PendingArray:
    """``_reconstruct(ndarray, ...)`` as pickled: no array until its BUILD state checks out."""

    __slots__ = ("_load", "array", "size")
    __hash__ = None  # type: ignore[assignment]  # ndarrays are unhashable; so is their placeholder

    def __init__(self, load: _Load) -> None:
        self._load = load
        self.array: np.ndarray | None = None
        self.size = 0

    def __setstate__(self, state: object) -> None:
        load = self._load
        # numpy writes (1, shape, dtype, is_fortran, data); data a list only for object arrays
        if (
            self.array is not None
            or type(state) is not tuple
            or len(state) != 5
            or state[0] != 1
            or type(state[1]) is not tuple
            or type(state[2]) is not _PendingDtype
            or type(state[3]) is not bool
            or type(state[4]) is not bytes
        ):
            raise load.refuse(_odd_array_state(state, self.array is not None))
        _, shape, pending, is_fortran, data = state
        if not set(map(type, shape)) <= _INT or min(shape, default=0) < 0 or len(shape) > 32:
            raise load.refuse(f"array shape {shape!r:.80} is not a tuple of at most 32 sizes")
        dtype = pending.resolve()
        size = math.prod(shape)
        declared = size * dtype.itemsize
        if declared != len(data):
            raise load.refuse(
                f"array of shape {shape} and dtype {dtype} declares {declared} bytes "
                f"but carries {len(data)}"
            )
        load.charge_copied(declared)
        array = np.ndarray.__new__(np.ndarray, (0,), _BYTE)
        array.__setstate__((1, shape, dtype, is_fortran, data))
        self.array = array
        self.size = size


def _odd_array_state(state: object, again: bool) -> str:
    """Why an array's BUILD state is refused."""
    if again:
        return "the pickle sets an array's state twice"
    if type(state) is tuple and len(state) == 5 and type(state[4]) is list:
        return "an array carries a list of Python objects (an object array), not bytes"
    if type(state) is tuple and len(state) == 5 and type(state[4]) is not bytes:
        return f"array data is a {type(state[4]).__name__}, not bytes"
    if type(state) is tuple and len(state) == 5 and type(state[2]) is not _PendingDtype:
        return f"array dtype {state[2]!r:.60} was not made by numpy.dtype"
    return f"array state {state!r:.80} is not numpy's (1, shape, dtype, is_fortran, bytes)"


CHECKS: dict[tuple[str, str], type[_Global]] = {
    ("numpy.core.multiarray", "_reconstruct"): _Reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _Reconstruct,
    ("numpy.core.multiarray", "scalar"): _Scalar,
    ("numpy._core.multiarray", "scalar"): _Scalar,
    ("numpy", "ndarray"): _NdarrayClass,
    ("numpy", "dtype"): _Dtype,
    ("_codecs", "encode"): _Latin1Encode,
    ("__builtin__", "bytes"): _EmptyBytes,
    ("builtins", "bytes"): _EmptyBytes,
}
"""(module, name) a PYSKL pickle may ask for, and the checked stand-in it gets: array and
dtype reconstruction, numpy scalars, and the latin-1 codec and ``bytes()`` protocol 2
uses for bytes."""

ALLOWED: frozenset[tuple[str, str]] = frozenset(CHECKS)
"""The globals a pickle may name; all others are refused unrun."""


class _AllowListUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, load: _Load) -> None:
        super().__init__(file)
        self._load = load

    def find_class(self, module: str, name: str) -> _Global:
        stand_in = CHECKS.get((module, name))
        if stand_in is None:
            raise UnsafePickle(
                self._load.source,
                None,
                f"refused: the pickle asks for {module}.{name}, which is not an array or builtin "
                "type a skeleton file needs; nothing of it was run",
            )
        return stand_in(self._load, f"{module}.{name}")

    def persistent_load(self, pid: object) -> Any:
        raise UnsafePickle(self._load.source, None, "refused: the pickle uses persistent ids")


_TEXTS = frozenset({str, bytes, bytearray})
_MUTABLE = frozenset({list, dict})
_ARRAY_OF = operator.attrgetter("array")
_SIZE_OF = operator.attrgetter("size")
_CONTAINERS = frozenset({list, tuple, dict, set, frozenset})
_PLACEHOLDERS = frozenset({_PendingArray, _PendingDtype})
_KNOWN = (
    frozenset({type(None), bool, int, float, complex, np.ndarray})
    | _TEXTS
    | _CONTAINERS
    | _PLACEHOLDERS
)
"""Types a loaded PYSKL object graph is made of, besides numpy scalars (real arrays
appear once a level of the walk has put them in place of their placeholders)."""


def _settle(root: Any, load: _Load) -> Any:
    """Put real arrays and dtypes in place of placeholders; refuse depth, cycles, expansion.

    The walk goes level by level: level ``d`` holds each distinct container reachable by
    a path of ``d - 1`` references, with the number of such paths. The references out
    of a level, weighted by those path counts, are what a reader following every
    reference would meet, so their running sum is the expanded size, computed without
    expanding anything. A level past ``MAX_DEPTH`` means nesting too deep or a cycle.
    Each level's references are gathered, typed and counted by ``chain``/``map``/
    ``compress`` rather than a Python loop over values (which would cost more than the
    C unpickler's whole load); Python runs once per placeholder and per distinct path
    count.
    """
    if type(root) not in _CONTAINERS:
        return _settle_leaf(root, load)
    budget = expansion_budget(load.file_bytes)
    expanded = 1  # the reference to the root
    frontier: dict[int, Any] = {id(root): root}
    paths: Counter[int] = Counter({id(root): 1})
    in_tuples = False  # a placeholder sits in a tuple, which cannot be changed in place
    depth = 0
    while frontier:
        depth += 1
        if depth > MAX_DEPTH:
            raise load.refuse(
                f"the pickle nests containers more than {MAX_DEPTH} deep, or in a cycle"
            )
        next_frontier: dict[int, Any] = {}
        next_paths: Counter[int] = Counter()
        for count, group in _by_path_count(frontier, paths):
            units, children, in_tuple = _settle_group(group, load)
            in_tuples = in_tuples or in_tuple
            expanded += count * units
            if expanded > budget:
                raise load.refuse(
                    f"the pickle expands to more than {budget} values when its shared "
                    f"references are followed ({load.file_bytes} bytes admit "
                    f"{EXPANSION_PER_BYTE} per byte + {EXPANSION_SLACK})"
                )
            ids = list(map(id, children))
            next_frontier.update(zip(ids, children))
            if count == 1:
                next_paths.update(ids)
            else:
                for key, n in Counter(ids).items():
                    next_paths[key] += n * count
        frontier, paths = next_frontier, next_paths
    return _rebuild_tuples(root, {}) if in_tuples else root


def _by_path_count(frontier: dict[int, Any], paths: Counter[int]) -> Any:
    """The level's containers grouped by how many paths reach them (one group in a tree)."""
    counts = list(map(paths.__getitem__, frontier))
    distinct = set(counts)
    if len(distinct) <= 8:
        # a few shared containers (a (1080, 1920) image shape memoized once per file)
        nodes = list(frontier.values())
        for count in distinct:
            yield count, list(compress(nodes, map(count.__eq__, counts)))
        return
    groups: dict[int, list[Any]] = {}
    for count, node in zip(counts, frontier.values()):
        groups.setdefault(count, []).append(node)
    yield from groups.items()


def _settle_group(group: list[Any], load: _Load) -> tuple[int, list[Any], bool]:
    """One group of containers: (units their references weigh, containers they reference,
    whether a placeholder in a tuple is left to rebuild). Placeholders in lists and dict
    values are replaced here."""
    is_dict = list(map(operator.is_, map(type, group), repeat(dict)))
    dicts = list(compress(group, is_dict))
    others = list(compress(group, map(operator.not_, is_dict)))
    # one flat list: the items of lists, tuples and sets, then dict keys, then dict values
    items = list(chain.from_iterable(others))
    keys = list(chain.from_iterable(dicts))
    values = list(chain.from_iterable(map(dict.values, dicts)))
    refs = items + keys + values
    types = list(map(type, refs))
    kinds = set(types)
    if not kinds <= _KNOWN:
        for kind in kinds - _KNOWN:
            # numpy scalars; dtypes once a level has put them in place of placeholders
            if not issubclass(kind, (np.generic, np.dtype)):
                raise load.refuse(
                    f"the pickle holds a {kind.__name__} value, which a skeleton file does not"
                )
    units = len(refs)
    if not kinds.isdisjoint(_TEXTS):
        units += sum(map(len, compress(refs, map(_TEXTS.__contains__, types))))
    in_tuple = False
    if not kinds.isdisjoint(_PLACEHOLDERS):
        # placeholders are unhashable, so never set items or dict keys: each sits in a
        # list, tuple or dict value, whose owner and slot are lined up beside it
        flags = list(map(_PLACEHOLDERS.__contains__, types))
        value_flags = flags[len(items) + len(keys) :]
        owners = list(compress(chain.from_iterable(map(repeat, others, map(len, others))), flags))
        owners += compress(chain.from_iterable(map(repeat, dicts, map(len, dicts))), value_flags)
        slots = list(compress(chain.from_iterable(map(range, map(len, others))), flags))
        slots += compress(keys, value_flags)
        placeholders = list(compress(refs, flags))
        if _PendingDtype in kinds or not set(map(type, owners)) <= _MUTABLE:
            more, in_tuple = _settle_slowly(placeholders, owners, slots, load)
            units += more
        else:
            reals = list(map(_ARRAY_OF, placeholders))
            if any(map(operator.is_, reals, repeat(None))):
                raise load.refuse("an array was never given its data")
            units += sum(map(_SIZE_OF, placeholders))
            deque(map(operator.setitem, owners, slots, reals), maxlen=0)
    if np.ndarray in kinds:
        # arrays put in place at a shallower level, met again through a shared container
        units += sum(map(_SIZE_OF, compress(refs, map(operator.is_, types, repeat(np.ndarray)))))
    children = list(compress(refs, map(_CONTAINERS.__contains__, types)))
    return units, children, in_tuple


def _settle_slowly(
    placeholders: list[Any], owners: list[Any], slots: list[Any], load: _Load
) -> tuple[int, bool]:
    """Placeholders among which a dtype or one in a tuple: (units of their arrays, whether
    a tuple is left for ``_rebuild_tuples``); the others are replaced in place."""
    units, in_tuple = 0, False
    for placeholder, owner, slot in zip(placeholders, owners, slots):
        real = _settle_placeholder(placeholder, load)
        units += real.size if type(real) is np.ndarray else 0
        if type(owner) is tuple:
            in_tuple = True
        else:
            owner[slot] = real
    return units, in_tuple


def _settle_placeholder(placeholder: Any, load: _Load) -> Any:
    """The real array or dtype a placeholder stands for."""
    if type(placeholder) is _PendingDtype:
        return placeholder.resolve()
    if placeholder.array is None:
        raise load.refuse("an array was never given its data")
    return placeholder.array


def _settle_leaf(root: Any, load: _Load) -> Any:
    """A pickle whose whole value is not a container."""
    if type(root) in _PLACEHOLDERS:
        return _settle_placeholder(root, load)
    if type(root) not in _KNOWN and not isinstance(root, np.generic):
        raise load.refuse(f"the pickle holds a {type(root).__name__} value")
    return root


def _rebuild_tuples(node: Any, done: dict[int, Any]) -> Any:
    """``node`` with tuples holding placeholders rebuilt, each once, and put in its place.

    Rare (numpy pickles put arrays in dicts and lists), so plain recursion: the walk has
    already refused nesting deeper than ``MAX_DEPTH``, and cycles.
    """
    kind = type(node)
    if kind in _PLACEHOLDERS:
        return _settle_placeholder(node, node._load)
    if kind not in _CONTAINERS or kind in (set, frozenset):
        return node  # sets hold only hashable values: no placeholders
    if id(node) in done:
        return done[id(node)]
    done[id(node)] = node
    if kind is dict:
        for key, value in node.items():
            node[key] = _rebuild_tuples(value, done)
    elif kind is list:
        node[:] = [_rebuild_tuples(x, done) for x in node]
    else:
        items = tuple(_rebuild_tuples(x, done) for x in node)
        if any(map(operator.is_not, items, node)):
            done[id(node)] = items
            return items
    return node


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def loads(data: bytes, source: str = "<bytes>") -> Any:
    """Unpickle ``data`` with the allow-list and the size bounds.

    Returns the unpickled value, with real ``numpy.ndarray`` arrays. Raises
    ``UnsafePickle`` naming ``source`` for a refused global, a value out of proportion to
    the file, or bytes that are not a pickle at all; never another exception type.
    """
    load = _Load(source, len(data))
    try:
        value = _AllowListUnpickler(io.BytesIO(data), load).load()
        return _settle(value, load)
    except UnsafePickle:
        raise
    except Exception as e:  # noqa: BLE001 - any failure of hostile bytes is one clean error
        # the cause is kept without its traceback, whose frames hold the half-built value
        raise UnsafePickle(
            source, None, _one_line(f"not a readable pickle: {type(e).__name__}: {e}")
        ) from e.with_traceback(None)


def load(path: str | Path) -> Any:
    """Unpickle a file with the allow-list and the size bounds (see ``loads``)."""
    path = Path(path)
    return loads(path.read_bytes(), str(path))
