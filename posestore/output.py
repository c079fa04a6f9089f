"""Files posestore writes outside the store (exports, reports) appear whole or not at all.

A writer is given a staging path inside a hidden temporary folder beside OUT
(``.posestore-export-<pid>-<id>``, on OUT's file system) and writes there as if it were
OUT, companions beside it included (a pickle's kpfiles, a JSON's images). Only when it
has finished are the companions moved into place and then OUT itself renamed onto its
name, so a failed or killed export never leaves a half-written OUT: OUT is absent (or as
it was) or complete. An export into a folder that already exists puts its files in that
folder one by one, each whole, keeping the folder's other files. A temporary folder left
by a killed export is removed by the next export beside it.

Targets that cannot be written are one ``StoreError`` line, and nothing is left behind:
OUT an existing file where the export makes a folder (or the reverse), a device such as
``/dev/full``, a folder inside ``/proc``, a full disk, a path with a NUL byte.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from posestore.errors import StoreError

TEMP_PREFIX = ".posestore-export-"
_TEMP = re.compile(re.escape(TEMP_PREFIX) + r"(\d+)-[0-9a-f]+")


class Staging:
    """Where a writer writes OUT (``path``) and where each file it wrote lands (``final``)."""

    def __init__(self, out: Path, temp: Path, into_folder: bool) -> None:
        self.out = out
        self.temp = temp
        self.path = temp / out.name
        self._into_folder = into_folder  # OUT is an existing folder: files merged into it

    def final(self, written: Path) -> Path:
        """Where a file written under the staging path is once the export is in place."""
        for base in (self.temp, self.temp.resolve()):
            try:
                rel = Path(written).relative_to(base)
            except ValueError:
                continue
            if self._into_folder:
                return self.out / Path(*rel.parts[1:])
            return self.out.parent / rel
        return Path(written)


@contextmanager
def staged(out: str | os.PathLike) -> Iterator[Staging]:
    """Stage what is written for ``out``; put it in place when the block ends without error,
    remove it otherwise. An ``OSError`` of the block (a full disk) becomes a ``StoreError``."""
    out = _checked(out)
    into_folder = out.is_dir()
    root = out if into_folder else out.parent
    made = _make_parents(root, out)
    _remove_abandoned(root)
    temp = root / f"{TEMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        temp.mkdir()
        staging = Staging(out, temp, into_folder)
        yield staging
        _put_in_place(staging)
    except OSError as e:
        raise StoreError(_cannot_write(out, e, Staging(out, temp, into_folder))) from e
    finally:
        shutil.rmtree(temp, ignore_errors=True)
        if not out.exists():
            for folder in made:  # the folders made for OUT, when nothing landed in them
                try:
                    folder.rmdir()
                except OSError:
                    break


def _checked(out: str | os.PathLike) -> Path:
    text = os.fspath(out)
    if "\0" in str(text):
        raise StoreError(f"cannot write {str(text)!r}: the path holds a NUL byte")
    path = Path(os.path.abspath(Path(text).expanduser()))
    if path.is_symlink():
        path = path.resolve()  # write where the link points, as writing through it would
    if path.exists() and not (path.is_file() or path.is_dir()):
        raise StoreError(
            f"cannot write {path}: it is not a regular file or folder (a device, FIFO or socket)"
        )
    if path.name in ("", ".", ".."):
        raise StoreError(f"cannot write {path}: name a file or folder")
    return path


def _make_parents(root: Path, out: Path) -> list[Path]:
    """Create ``root`` and its missing parents; the ones made, deepest first."""
    missing = []
    folder = root
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    if not folder.is_dir():
        raise StoreError(f"cannot write {out}: {folder} is not a folder")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StoreError(_cannot_write(out, e)) from e
    return missing


def _remove_abandoned(root: Path) -> None:
    """Temporary folders of exports whose process is gone (killed midway)."""
    try:
        entries = [p for p in root.iterdir() if p.name.startswith(TEMP_PREFIX)]
    except OSError:
        return
    for entry in entries:
        match = _TEMP.fullmatch(entry.name)
        if match and not _alive(int(match.group(1))):
            shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _put_in_place(staging: Staging) -> None:
    """Companions first, OUT last: when OUT appears, what it refers to is there."""
    out, stage, temp = staging.out, staging.path, staging.temp
    if not stage.exists() and not stage.is_symlink():
        return  # nothing written for OUT itself
    if staging._into_folder:
        if not stage.is_dir():
            raise StoreError(
                f"cannot write {out}: it is an existing folder and this export writes one file; "
                f"name a file (e.g. {out / stage.name})"
            )
        _refuse_conflicts(stage, out)
        _merge(stage, out)
        return
    if stage.is_dir() and out.exists() and not out.is_dir():
        raise StoreError(
            f"cannot write {out}: it is an existing file and this export writes a folder; "
            "name a folder"
        )
    companions = [p for p in temp.iterdir() if p.name != out.name]
    for entry in companions:
        _refuse_conflicts(entry, out.parent / entry.name)
    for entry in companions:
        _move(entry, out.parent / entry.name)
    os.replace(stage, out)  # a file over a file, or a folder onto a name that is free


def _refuse_conflicts(src: Path, dst: Path) -> None:
    """A folder where a file is (or the reverse) is refused before anything moves."""
    if not (dst.exists() or dst.is_symlink()):
        return
    src_dir = src.is_dir() and not src.is_symlink()
    dst_dir = dst.is_dir() and not dst.is_symlink()
    if src_dir != dst_dir:
        what = "a folder" if src_dir else "a file"
        raise StoreError(
            f"cannot write {dst}: the export writes {what} there, and it exists as "
            f"{'a file' if src_dir else 'a folder'}"
        )
    if src_dir:
        for entry in src.iterdir():
            _refuse_conflicts(entry, dst / entry.name)


def _move(src: Path, dst: Path) -> None:
    if src.is_dir() and not src.is_symlink() and dst.is_dir():
        _merge(src, dst)
    else:
        os.replace(src, dst)


def _merge(src: Path, dst: Path) -> None:
    """Move ``src``'s entries into the folder ``dst``, each file whole; folders merged."""
    for entry in list(src.iterdir()):
        _move(entry, dst / entry.name)


def _cannot_write(out: Path, e: OSError, staging: Staging | None = None) -> str:
    """One line: OUT, the file that failed (where it would have landed) when it is not OUT,
    and why."""
    name = Path(os.fsdecode(e.filename)) if e.filename else None
    if name is not None and staging is not None:
        name = None if name in (staging.temp, staging.temp.resolve()) else staging.final(name)
    where = f" ({name})" if name is not None and name != out else ""
    reason = e.strerror or str(e)
    return f"cannot write {out}{where}: {reason}; nothing was written there"
