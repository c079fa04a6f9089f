"""The one check that a path named inside a file stays below the folder it is joined to.

Names read from annotation files (an image's ``file_name``, a kpfile's ``raw_file``, a
split file's path kept in the metadata) are joined to a folder posestore reads from or
writes to. A name that is absolute or climbs with ``..`` could reach any file on the
machine, so every such join goes through ``relative_path``. Backslashes count as
separators: files written on Windows spell ``images\\a.jpg``, and ``..\\x`` must be
caught too.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath


def relative_path(path: str) -> PurePosixPath | None:
    """``path`` as a relative POSIX path, or None when it is absolute, climbs (``..``) or is empty."""
    p = PurePosixPath(path.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts or not p.parts:
        return None
    return p


def relative_inside(path: str, root: Path) -> Path | None:
    """``root / path`` when ``path`` stays below ``root`` (see ``relative_path``), else None.

    The check is on the name alone: a symbolic link under ``root`` is not followed here
    (``queries.export.safe_relative`` resolves one before writing through it).
    """
    p = relative_path(path)
    return None if p is None else root / Path(*p.parts)


def is_file(path: Path) -> bool:
    """``path.is_file()``; False too where the system refuses the name (a data-given name
    longer than the file system allows cannot be a file there)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def is_dir(path: Path) -> bool:
    """``path.is_dir()``; False where the system refuses the name (see ``is_file``)."""
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False
