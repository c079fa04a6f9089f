"""Pickles hostile in size or value end in one clean ``UnsafePickle`` line, or load.

Each hostile pickle is built here, either from objects whose ``__reduce__`` says what
to call (so ``pickle.dumps`` writes the opcodes numpy would, with a hostile argument)
or from opcodes directly. Cases whose refusal comes before anything is allocated run
in-process; memory bombs and random corruption run in a child process capped at
2 GiB of address space, so a regression fails the test instead of the machine.
"""

from __future__ import annotations

import codecs
import json
import pickle
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import real_files

from posestore import safe_pickle
from posestore.errors import PoseStoreError, UnsafePickle

_reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]
LIMIT_AS = 2 * 1024**3
PYSKL_REAL = "pyskl"


class Craft:
    """An object whose unpickling calls ``func(*args)`` and then BUILDs ``state``."""

    def __init__(self, func, args, state=None) -> None:
        self.func, self.args, self.state = func, args, state

    def __reduce__(self):
        if self.state is None:
            return self.func, self.args
        return self.func, self.args, self.state


def array_pickle(shape, dtype, data, protocol: int = 4) -> bytes:
    """An ndarray pickle as numpy writes it, with a chosen state."""
    state = (1, shape, np.dtype(dtype) if isinstance(dtype, str) else dtype, False, data)
    return pickle.dumps(Craft(_reconstruct, (np.ndarray, (0,), b"b"), state), protocol)


def clip_pickle(protocol: int = 4, n: int = 3) -> bytes:
    """A small PYSKL-like pickle: float16 arrays, float keys, tuples, strings."""
    rng = np.random.default_rng(0)
    clips = [
        {
            "frame_dir": f"clip{i}",
            "label": i,
            "img_shape": (1080, 1920),
            "keypoint": rng.normal(size=(1, 4 + i, 17, 2)).astype(np.float16),
            "keypoint_score": rng.random((1, 4 + i, 17)).astype(np.float16),
            "valid": {0.5: 3, 0.6: 2},
        }
        for i in range(n)
    ]
    return pickle.dumps({"split": {"train": ["clip0"]}, "annotations": clips}, protocol)


def assert_one_clean_line(error: BaseException, source: str) -> None:
    assert isinstance(error, PoseStoreError), type(error)
    message = str(error)
    assert "\n" not in message and message.startswith(f"{source}: "), message


def refusal(data: bytes, source: str = "hostile.pkl") -> str:
    with pytest.raises(UnsafePickle) as caught:
        safe_pickle.loads(data, source)
    assert_one_clean_line(caught.value, source)
    return str(caught.value)


# --- values the allowed globals are called with ---------------------------------------


def test_an_array_declaring_more_bytes_than_it_carries_is_refused_unallocated():
    message = refusal(array_pickle((10**9, 17), "f4", b"\0\0\0\0"))
    assert "declares 68000000000 bytes but carries 4" in message


def test_an_array_state_holding_a_list_of_objects_is_refused():
    assert "list of Python objects" in refusal(array_pickle((2,), "f4", [1.0, 2.0]))


def test_an_object_array_is_refused_at_its_dtype():
    data = pickle.dumps({"k": np.array([1, "a", None], dtype=object)}, protocol=4)
    assert "not a plain numeric, bytes or str type" in refusal(data)


@pytest.mark.parametrize("spelling", ["V1000000000", "O", "f4,i4", "(1000,1000)f8", "M8[s]"])
def test_a_dtype_other_than_plain_numbers_bytes_or_str_is_refused(spelling):
    data = pickle.dumps(Craft(np.dtype, (spelling, False, True)), protocol=4)
    assert "not a plain numeric" in refusal(data)


@pytest.mark.parametrize(
    "state",
    [
        (3, "|", None, None, None, 10**12, 1, 0),  # S1 grown to a terabyte per item
        (3, "|", None, None, None, -1, -1, 63),  # object flags: bytes read as pointers
        (3, "|", None, ("a",), {"a": None}, 1, 1, 0),  # fields
    ],
)
def test_a_dtype_state_other_than_numpys_own_is_refused(state):
    data = pickle.dumps(Craft(np.dtype, ("S1", False, True), state), protocol=4)
    assert "is not the one numpy writes" in refusal(data)


def test_a_dtype_without_size_is_refused():
    assert "has no size" in refusal(pickle.dumps(Craft(np.dtype, ("S0", False, True)), 4))


@pytest.mark.parametrize("codec", ["rot13", "hex", "utf-8", "zlib", "no-such-codec"])
def test_codecs_encode_with_a_codec_other_than_latin1_is_refused(codec):
    data = pickle.dumps({"x": Craft(codecs.encode, ("abc", codec))}, protocol=2)
    assert f"codec {codec!r}" in refusal(data)


@pytest.mark.parametrize("spelling", ["latin1", "latin-1", "iso-8859-1", "LATIN1"])
def test_codecs_encode_with_latin1_spellings_makes_bytes(spelling):
    data = pickle.dumps({"x": Craft(codecs.encode, ("\x00\xffa", spelling))}, protocol=2)
    assert safe_pickle.loads(data) == {"x": b"\x00\xffa"}


def test_codecs_encode_of_text_beyond_latin1_is_a_clean_error():
    data = pickle.dumps(Craft(codecs.encode, ("\u20ac", "latin1")), protocol=2)
    assert "UnicodeEncodeError" in refusal(data)


@pytest.mark.parametrize("cls", [np.dtype, codecs.encode, bytes])
def test_reconstruct_of_anything_but_ndarray_is_refused(cls):
    data = pickle.dumps(Craft(_reconstruct, (cls, (0,), b"b")), protocol=4)
    assert "not numpy.ndarray" in refusal(data)


def test_calling_ndarray_directly_is_refused():
    data = pickle.dumps(Craft(np.ndarray, ((10**9, 17), "f4")), protocol=4)
    assert "calls numpy.ndarray" in refusal(data)


def test_build_on_an_allowed_callable_is_refused():
    # GLOBAL '_codecs encode', EMPTY_DICT, BUILD: would set attributes on the function
    data = b"\x80\x02c_codecs\nencode\n}b."
    assert "sets state on _codecs.encode" in refusal(data)


def test_an_allowed_callable_kept_as_a_value_is_refused():
    data = pickle.dumps({"f": codecs.encode}, protocol=4)
    assert "holds a _Latin1Encode value" in refusal(data)


def test_an_array_never_given_its_data_is_refused():
    data = pickle.dumps({"a": Craft(_reconstruct, (np.ndarray, (0,), b"b"))}, protocol=4)
    assert "never given its data" in refusal(data)


def test_a_scalar_with_the_wrong_number_of_bytes_is_refused():
    data = pickle.dumps(Craft(np.int64(7).__reduce__()[0], (np.dtype("i8"), b"\0")), 4)
    assert "numpy scalar of int64 with 1 bytes" in refusal(data)


def test_one_bytes_object_copied_into_many_arrays_is_refused():
    # the memo lets 200 arrays share one 40 kB payload: 8 MB of arrays from a 40 kB file
    payload = bytes(40_000)
    arrays = [
        Craft(
            _reconstruct, (np.ndarray, (0,), b"b"), (1, (10_000,), np.dtype("f4"), False, payload)
        )
        for _ in range(200)
    ]
    assert "more than its" in refusal(pickle.dumps(arrays, protocol=4))


@pytest.mark.parametrize(
    "data",
    [
        b"\x80\x02I" + b"9" * 5000 + b"\n.",  # an int of more digits than int() parses
        b"\x80\x04\x8c\x02\xff\xfe.",  # invalid UTF-8
        b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x10.",  # a frame longer than the file
        b"\x80\x04h\x05.",  # memo get of nothing
        b"\x80\x04}]K\x01s.",  # a list as a dict key
        b"\x80\x04\x93.",  # STACK_GLOBAL on an empty stack
        b"",
        b"not a pickle at all",
    ],
    ids=["int-digits", "utf8", "frame", "memo", "unhashable-key", "empty-stack", "empty", "text"],
)
def test_malformed_bytes_are_one_clean_error(data):
    assert "not a readable pickle" in refusal(data)


def test_integers_beyond_int64_load_for_the_reader_to_judge():
    assert safe_pickle.loads(pickle.dumps({"label": 2**80, "n": "12"}, 4)) == {
        "label": 2**80,
        "n": "12",
    }


# --- shape of the object graph ----------------------------------------------------------


def shared_list_bomb(levels: int, fan: int) -> bytes:
    value: list = []
    for _ in range(levels):
        value = [value] * fan
    return pickle.dumps(value, protocol=4)


def test_lists_shared_2_to_the_40_times_are_refused_by_expansion():
    data = shared_list_bomb(40, 2)
    assert len(data) < 2000
    assert "expands to more than" in refusal(data)


def test_a_wide_shallow_sharing_bomb_is_refused_by_expansion():
    message = refusal(shared_list_bomb(10, 16))  # 16**10 == 2**40, 11 deep
    assert "expands to more than" in message


def test_sharing_within_the_bound_loads():
    shape = (1080, 1920)
    clips = [{"img_shape": shape, "label": i} for i in range(2000)]
    back = safe_pickle.loads(pickle.dumps(clips, protocol=4))
    assert back == clips and back[0]["img_shape"] is back[1]["img_shape"]


def nested_lists(depth: int) -> bytes:
    # EMPTY_LIST × depth, then APPEND × (depth - 1): pickle.dumps itself would recurse
    return b"\x80\x04" + b"]" * depth + b"a" * (depth - 1) + b"."


def test_ten_thousand_nested_lists_are_refused_without_recursion():
    assert f"more than {safe_pickle.MAX_DEPTH} deep" in refusal(nested_lists(10_000))


def test_nesting_up_to_the_limit_loads():
    value = safe_pickle.loads(nested_lists(safe_pickle.MAX_DEPTH))
    for _ in range(safe_pickle.MAX_DEPTH - 1):
        (value,) = value
    assert value == []


def test_a_list_containing_itself_is_refused():
    cycle: list = []
    cycle.append(cycle)
    assert "or in a cycle" in refusal(pickle.dumps({"a": cycle}, protocol=4))


# --- what does load comes back exactly ---------------------------------------------------


@pytest.mark.parametrize("protocol", [2, 3, 4])
def test_admitted_values_come_back_as_plain_pickle_gives_them(protocol):
    value = {
        "f2": np.arange(6, dtype=np.float16).reshape(2, 3),
        "big-endian": np.arange(4, dtype=">f4"),
        "fortran": np.asfortranarray(np.arange(6, dtype=np.int16).reshape(2, 3)),
        "empty": np.zeros((0, 17, 2), np.float32),
        "bool": np.array([True, False]),
        "bytes": np.array([b"ab", b"c"]),
        "str": np.array(["ab", "c"]),
        "complex": np.array([1 + 2j]),
        "scalar": np.int64(7),
        "dtype": np.dtype("f4"),
        "float keys": {0.5: 1, 0.6: 2},
    }
    data = pickle.dumps(value, protocol=protocol)
    back, plain = safe_pickle.loads(data), pickle.loads(data)  # trusted: built just above
    for key, want in plain.items():
        got = back[key]
        assert type(got) is type(want), key
        if isinstance(want, np.ndarray):
            assert got.dtype == want.dtype and got.shape == want.shape, key
            assert got.flags.writeable and np.array_equal(got, want), key
            assert got.flags.f_contiguous == want.flags.f_contiguous, key
        else:
            assert got == want, key


def test_arrays_in_tuples_and_at_the_root_are_put_in_place():
    a, b = np.arange(3.0), np.ones(2, np.float16)
    pair = (a, b)
    back = safe_pickle.loads(pickle.dumps({"pair": pair, "again": pair, "list": [pair]}, 4))
    assert type(back["pair"]) is tuple and type(back["pair"][0]) is np.ndarray
    assert back["pair"] is back["again"] is back["list"][0]
    assert np.array_equal(back["pair"][1], b)
    root = safe_pickle.loads(pickle.dumps(a, 4))
    assert type(root) is np.ndarray and np.array_equal(root, a)
    assert type(safe_pickle.loads(pickle.dumps((a,), 4))[0]) is np.ndarray


# --- truncation and corruption ------------------------------------------------------------


def assert_loads_or_refuses(data: bytes, source: str) -> None:
    try:
        safe_pickle.loads(data, source)
    except PoseStoreError as e:
        assert_one_clean_line(e, source)


@pytest.mark.parametrize("protocol", [2, 4])
def test_every_truncation_of_a_synthetic_pickle_is_a_clean_error(protocol):
    data = clip_pickle(protocol)
    for cut in range(len(data)):
        refusal(data[:cut], f"cut{cut}.pkl")
    assert safe_pickle.loads(data)["annotations"][2]["keypoint"].dtype == np.float16


@pytest.mark.parametrize("path", real_files(PYSKL_REAL, "*.pkl"), ids=lambda p: p.name)
def test_truncations_of_real_pickles_are_clean_errors(path):
    data = path.read_bytes()
    safe_pickle.loads(data, path.name)
    cuts = sorted({*range(0, 400), *range(0, len(data), max(1, len(data) // 150))})
    for cut in cuts:
        refusal(data[:cut], path.name)


# --- in a child capped at 2 GiB: memory bombs and random corruption ------------------------

CHILD = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
sys.path.insert(0, {tests!r})
from posestore import safe_pickle
from posestore.errors import PoseStoreError
out = []
for i, hexdata in enumerate(json.load(sys.stdin)):
    try:
        safe_pickle.loads(bytes.fromhex(hexdata), f"case{{i}}.pkl")
        out.append(["loaded", ""])
    except PoseStoreError as e:
        out.append(["refused" if str(e).startswith(f"case{{i}}.pkl: ") and "\\n" not in str(e)
                    else "bad message", str(e)])
    except BaseException as e:
        out.append([type(e).__name__, str(e)])
print(json.dumps(out))
"""


def load_in_capped_child(cases: list[bytes]) -> list[list[str]]:
    """Each case loaded in one child process whose address space is capped at 2 GiB."""
    script = CHILD.format(limit=LIMIT_AS, tests=str(Path(__file__).parent))
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps([c.hex() for c in cases]),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_memory_bombs_are_refused_within_two_gigabytes():
    cases = [
        array_pickle((10**9, 17), "f4", b"\0\0\0\0"),  # 68 GB declared
        array_pickle((2**40,), "u1", b""),
        b"\x80\x04\x8e" + struct.pack("<Q", 2**40) + b"abc.",  # BINBYTES8 of a terabyte
        b"\x80\x04\x96" + struct.pack("<Q", 2**36) + b"abc.",  # BYTEARRAY8 of 64 GiB
        b"\x80\x04\x8d" + struct.pack("<Q", 2**40) + b"abc.",  # BINUNICODE8
        b"\x80\x02\x8b" + struct.pack("<i", 2**31 - 1) + b"\x01.",  # LONG4 of 2 GiB
        shared_list_bomb(40, 2),
        nested_lists(100_000),
    ]
    outcomes = load_in_capped_child(cases)
    for case, (outcome, message) in zip(cases, outcomes):
        assert outcome == "refused", (case[:40], outcome, message)
    assert "declares 68000000000 bytes" in outcomes[0][1]


def test_an_array_of_no_elements_with_a_huge_dimension_loads_empty():
    array = safe_pickle.loads(array_pickle((0, 2**62), "f8", b""))
    assert array.size == 0 and array.shape == (0, 2**62)


def flipped(data: bytes, flips: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for position, value in flips:
        out[position % len(out)] = value
    return bytes(out)


def test_random_byte_flips_load_or_are_refused_cleanly():
    """Several hundred seeded corruptions of protocol 2 and 4 clip pickles, in the child."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    originals = [clip_pickle(2, n=2), clip_pickle(4, n=2)]
    cases: list[bytes] = []

    @settings(
        max_examples=400,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        st.sampled_from(originals),
        st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=6),
    )
    def corrupt(original, flips):
        cases.append(flipped(original, flips))

    corrupt()
    assert len(cases) >= 300
    outcomes = load_in_capped_child(cases)
    unclean = [(c[:60], o) for c, o in zip(cases, outcomes) if o[0] not in ("loaded", "refused")]
    assert unclean == []
    # the corruption is not all benign: most cases are refused
    assert sum(o[0] == "refused" for o in outcomes) > len(cases) // 2
