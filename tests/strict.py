"""Strict equality of parsed JSON: types kept (int is not float, bool is not int), key order aside."""

from __future__ import annotations


def differences(a, b, path: str = "$", limit: int = 10) -> list[str]:
    """Where two parsed JSON values differ, as JSON paths (at most ``limit``)."""
    out: list[str] = []
    _walk(a, b, path, out, limit)
    return out


def _walk(a, b, path, out, limit):
    if len(out) >= limit:
        return
    if type(a) is not type(b):
        out.append(f"{path}: {type(a).__name__} {a!r:.60} != {type(b).__name__} {b!r:.60}")
    elif isinstance(a, dict):
        for k in a.keys() | b.keys():
            if k not in b:
                out.append(f"{path}.{k}: missing on the right")
            elif k not in a:
                out.append(f"{path}.{k}: missing on the left")
            else:
                _walk(a[k], b[k], f"{path}.{k}", out, limit)
    elif isinstance(a, list):
        if len(a) != len(b):
            out.append(f"{path}: length {len(a)} != {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            _walk(x, y, f"{path}[{i}]", out, limit)
    elif a != b and not (a != a and b != b):
        out.append(f"{path}: {a!r} != {b!r}")
