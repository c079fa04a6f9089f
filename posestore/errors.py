"""posestore's exceptions: each names the file, the record and what was expected."""

from __future__ import annotations

_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(32), 127)}


def one_line(text: object) -> str:
    """``text`` as one printable line: control characters (a newline in a file name or a
    record) escaped, text that is not valid Unicode (a lone surrogate) backslash-escaped."""
    line = str(text).translate(_CONTROLS)
    return line.encode("utf-8", "backslashreplace").decode("utf-8")


def first_line(e: BaseException) -> str:
    """An exception's first non-blank line (an engine's message often runs to several)."""
    return next((ln.strip() for ln in str(e).splitlines() if ln.strip()), type(e).__name__)


class PoseStoreError(ValueError):
    """Base of every error posestore raises on purpose; the CLI prints it in one line."""


class SourceError(PoseStoreError):
    """A source file is malformed.

    ``file`` is the file (or ``zip!member``), ``record`` the path to the field
    (``annotations[1043].keypoints``) or the row (``row 12, column neckline_left``),
    ``problem`` what is wrong and what was expected.
    """

    def __init__(self, file: object, record: str | None, problem: str) -> None:
        self.file = str(file)
        self.record = record
        self.problem = problem
        where = f"{self.file}: {record}" if record else self.file
        super().__init__(one_line(where) + ": " + one_line(" ".join(problem.split())))

    def __reduce__(self):
        # raised in worker processes (kpfiles) and re-raised in the parent
        return (type(self), (self.file, self.record, self.problem))


class UnsafePickle(SourceError):
    """A pickle asked for a global outside the allow-list; none of its code ran."""


class ValueNotKept(PoseStoreError):
    """A source value of a type posestore cannot keep (a pickled ``set``); readers re-raise it
    as a ``SourceError`` naming the file and the record."""


class StoreError(PoseStoreError):
    """The store cannot do what was asked (unknown dataset, bad name, locked...)."""


class SelectionError(PoseStoreError):
    """A --where predicate or --query did not select images (bad SQL, wrong columns)."""


class StoreDamaged(UserWarning):
    """A dataset of the store is damaged (a file gone, cut or unreadable, its catalog row
    missing): it is left out of every answer, and the others are served."""

    def __init__(self, message: str, dataset: str) -> None:
        super().__init__(message)
        self.dataset = dataset
