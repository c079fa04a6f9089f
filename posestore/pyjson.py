"""Python values ↔ JSON, exactly: what pickled sources carry that JSON cannot say.

Plain JSON values (str, int, float, bool, None, lists, str-keyed dicts) stay as
they are, so ``attributes->>'num_person_raw'`` works in SQL. Everything else is
tagged: ``{"__tuple__": [...]}``, ``{"__dict__": [[key, value], ...]}`` for dicts
with non-string keys (Kinetics ``valid`` is keyed by 0.5, 0.6 …),
``{"__ndarray__": {"dtype", "shape", "data" (base64)}}`` and
``{"__scalar__": {"dtype", "data"}}`` for NumPy values, ``{"__bytes__": b64}``.
"""

from __future__ import annotations

import base64

import numpy as np

from posestore.errors import ValueNotKept

_TAGS = ("__tuple__", "__dict__", "__ndarray__", "__scalar__", "__bytes__")


JSON_INTS = (-(2**63), 2**64 - 1)
"""The integers JSON text keeps exactly through posestore (orjson reads and writes 64 bits,
signed or unsigned; a longer integer would come back a float)."""


def encode(value):
    """A JSON-ready form of ``value`` that ``decode`` turns back into an equal value of the same types.

    Raises ``ValueNotKept`` for a value JSON cannot carry back exactly: a type outside the
    ones below, an integer beyond 64 bits, text that is not valid Unicode (a lone surrogate).
    """
    t = type(value)
    if value is None or t in (float, bool):
        return value
    if t is str:
        return _text(value)
    if t is int:
        if not JSON_INTS[0] <= value <= JSON_INTS[1]:
            raise ValueNotKept(
                f"holds an integer of {value.bit_length()} bits; posestore keeps integers of "
                "at most 64 bits"
            )
        return value
    if t is list:
        return [encode(v) for v in value]
    if t is tuple:
        return {"__tuple__": [encode(v) for v in value]}
    if t is dict:
        if all(type(k) is str for k in value) and not (
            len(value) == 1 and next(iter(value), None) in _TAGS
        ):
            return {_text(k): encode(v) for k, v in value.items()}
        return {"__dict__": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            return {
                "__ndarray__": {
                    "dtype": "object",
                    "shape": list(value.shape),
                    "items": [encode(v) for v in value.ravel().tolist()],
                }
            }
        return {
            "__ndarray__": {
                "dtype": value.dtype.str,
                "shape": list(value.shape),
                "data": base64.b64encode(np.ascontiguousarray(value).tobytes()).decode(),
            }
        }
    if isinstance(value, np.generic):
        return {
            "__scalar__": {
                "dtype": value.dtype.str,
                "data": base64.b64encode(value.tobytes()).decode(),
            }
        }
    if t is bytes:
        return {"__bytes__": base64.b64encode(value).decode()}
    raise ValueNotKept(f"holds a {t.__name__}, a type posestore cannot keep")


def _text(value: str) -> str:
    """``value``, when it is valid Unicode (UTF-8 can store it)."""
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as e:
            raise ValueNotKept(
                f"holds text that is not valid Unicode (a lone surrogate at character {e.start} "
                f"of {value!r:.60})"
            ) from e
    return value


def decode(value):
    """The Python value ``encode`` was given."""
    t = type(value)
    if t is list:
        return [decode(v) for v in value]
    if t is not dict:
        return value
    if len(value) == 1:
        ((tag, body),) = value.items()
        if tag == "__tuple__":
            return tuple(decode(v) for v in body)
        if tag == "__dict__":
            return {decode(k): decode(v) for k, v in body}
        if tag == "__ndarray__":
            if body["dtype"] == "object":
                out = np.empty(len(body["items"]), dtype=object)
                out[:] = [decode(v) for v in body["items"]]
                return out.reshape(body["shape"])
            raw = base64.b64decode(body["data"])
            return np.frombuffer(raw, dtype=np.dtype(body["dtype"])).reshape(body["shape"]).copy()
        if tag == "__scalar__":
            return np.frombuffer(base64.b64decode(body["data"]), dtype=np.dtype(body["dtype"]))[0]
        if tag == "__bytes__":
            return base64.b64decode(body)
    return {k: decode(v) for k, v in value.items()}


def same(a, b) -> bool:
    """Equal values of the same types, arrays compared by dtype, shape and content."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return (
            a.dtype == b.dtype
            and a.shape == b.shape
            and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
        )
    if isinstance(a, np.generic):
        return a.dtype == b.dtype and a.tobytes() == b.tobytes()
    if isinstance(a, dict):
        return set(a) == set(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and a != a:
        return b != b
    return a == b
