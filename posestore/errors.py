"""posestore's exceptions: each names the file, the record and what was expected."""

from __future__ import annotations


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
        super().__init__(f"{where}: {problem}")

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
