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


def encode(value):
    """A JSON-ready form of ``value`` that ``decode`` turns back into an equal value of the same types."""
    t = type(value)
    if value is None or t in (str, int, float, bool):
        return value
    if t is list:
        return [encode(v) for v in value]
    if t is tuple:
        return {"__tuple__": [encode(v) for v in value]}
    if t is dict:
        if all(type(k) is str for k in value) and not (
            len(value) == 1 and next(iter(value), None) in _TAGS
        ):
            return {k: encode(v) for k, v in value.items()}
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
