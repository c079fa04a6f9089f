"""An unpickler that admits only the numpy and builtin types PYSKL files use.

A pickle names every callable it wants run (``GLOBAL``/``STACK_GLOBAL``); this
unpickler resolves only the allow-list below and refuses anything else
(``os.system``, ``builtins.eval``, ``subprocess.Popen``…) before it can run, so
no code of a hostile file executes. Persistent ids are refused too.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

from posestore.errors import UnsafePickle

ALLOWED: frozenset[tuple[str, str]] = frozenset(
    {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }
)
"""(module, name) a PYSKL pickle may ask for: array and dtype reconstruction, numpy
scalars, and the latin-1 codec protocol 2 uses for bytes."""


class _AllowListUnpickler(pickle.Unpickler):
    def __init__(self, file, source: str) -> None:
        super().__init__(file)
        self.source = source

    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED:
            raise UnsafePickle(
                self.source,
                None,
                f"refused: the pickle asks for {module}.{name}, which is not an array or builtin "
                "type a skeleton file needs; nothing of it was run",
            )
        return super().find_class(module, name)

    def persistent_load(self, pid):
        raise UnsafePickle(self.source, None, "refused: the pickle uses persistent ids")


def loads(data: bytes, source: str = "<bytes>") -> Any:
    """Unpickle ``data`` with the allow-list; ``UnsafePickle`` names the global it refused."""
    try:
        return _AllowListUnpickler(io.BytesIO(data), source).load()
    except UnsafePickle:
        raise
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
    ) as e:
        raise UnsafePickle(source, None, f"not a readable pickle: {type(e).__name__}: {e}") from e


def load(path: str | Path) -> Any:
    """Unpickle a file with the allow-list."""
    path = Path(path)
    return loads(path.read_bytes(), str(path))
