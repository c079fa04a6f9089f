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
    """Every file of the store with its hash, but the empty lock files (the store's, and the
    writer locks of the datasets an ingest named)."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "lock" and p.parent.name != "locks"
    }


def live_files(root: Path) -> dict[str, str]:
    """The files every engine reads (the tables' Hive folders) with their hashes: what a
    store holds, whatever versions its bookkeeping went through to get there."""
    return {k: v for k, v in snapshot(root).items() if not k.startswith(".posestore/")}


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


def ray_module():
    """Ray, or a skip where it is not installed (a failure under CI, whose dev extra has it)."""
    try:
        import ray
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but ray is not installed (the dev extra installs it)")
        pytest.skip("ray is not installed: pip install 'posestore[ray]'")
    return ray


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray cluster of two CPUs for the module (a few seconds to start)."""
    ray = ray_module()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    # Ray Data's groupby shuffles through 200 hash partitions by default: minutes on a test
    # store; tasks that sort and pull take seconds
    context = ray.data.DataContext.get_current()
    context.shuffle_strategy = ray.data.context.ShuffleStrategy.SORT_SHUFFLE_PULL_BASED
    context.default_hash_shuffle_parallelism = 2
    yield ray
    ray.shutdown()
