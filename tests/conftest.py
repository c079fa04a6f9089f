"""Shared fixtures: the real files in ../shared/data/real, temporary stores, the strict comparer."""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

REPO = Path(__file__).resolve().parent.parent
REAL = REPO.parent / "shared" / "data" / "real"
CASES = Path(__file__).parent / "cases"


def real_dir(sub: str) -> Path:
    """A folder of real files; skipped where ../shared is absent, a failure under CI=true."""
    path = REAL / sub
    if not path.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the real data folder {path} is missing")
        pytest.skip(f"real data not present at {path} (a fresh clone without ../shared)")
    return path


def real_files(sub: str, pattern: str) -> list[Path]:
    path = REAL / sub
    return sorted(path.glob(pattern)) if path.is_dir() else []


def real_params(sub: str, pattern: str):
    """Parametrize over real files; one skipped (or, under CI, failing) param when absent."""
    files = real_files(sub, pattern)
    if files:
        return [pytest.param(f, id=f.name) for f in files]
    return [pytest.param(None, id=f"{sub}-missing")]


def snapshot(root: Path) -> dict[str, str]:
    """Every file of the store (but the lock) with its hash."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "lock"
    }


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture
def cli(capsys):
    """Run ``posestore ARGS…`` in-process: (exit_code, stdout, stderr)."""
    from posestore.cli import main

    def run(*args) -> CliResult:
        capsys.readouterr()
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run


@pytest.fixture
def store(tmp_path):
    import posestore

    return posestore.open(tmp_path / "store")
