"""Ingest as Ray tasks: ``posestore ingest SOURCE --engine ray``.

The source's plan is cut into pieces (``Plan.pieces``: a task per Kinetics kpfile, per
file of a COCO or FashionAI folder, per clip batch of a PYSKL pickle). Each piece runs
the same reader in a Ray task, which writes its parts straight into the transaction
folder under a prefix of its own (``part-<piece>-<k>.parquet``, so the parts sort in
source order) and returns what it staged; the driver merges those summaries in source
order, writes the catalogs and commits, exactly as a local ingest does. The transaction
folder must be on storage every worker sees (one machine, or a shared file system).

``ray.init()`` connects to ``RAY_ADDRESS`` when it is set (Ray's own convention) or starts
a local cluster of this machine's cores.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from posestore import staging
from posestore.errors import PoseStoreError, StoreError

if TYPE_CHECKING:
    from posestore.ingest.sources import Piece, Plan

INSTALL = "pip install 'posestore[ray]'"


def require() -> None:
    """Raise a one-line ``StoreError`` saying how to install Ray when it is missing."""
    try:
        import ray  # noqa: F401
    except ImportError as e:
        raise StoreError(f"--engine ray needs Ray, which is not installed: {INSTALL}") from e


def connect() -> None:
    """Join the cluster ``RAY_ADDRESS`` names, or start a local one (once per process)."""
    import ray

    if ray.is_initialized():
        return
    if os.environ.get("RAY_ADDRESS"):
        ray.init()
    else:
        import logging

        ray.init(include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)


def write_pieces(
    txn: Path, plan: Plan, source: str, progress: Callable[[str, int, int], None] | None
) -> staging.Staged:
    """Run the plan's pieces as Ray tasks writing into ``txn``; their summaries merged in
    source order. A task's error is raised here as the reader raised it, after every other
    task has stopped (so nothing writes into the transaction once it is discarded)."""
    import ray

    require()
    connect()
    if progress:
        progress(f"planning {plan.dataset}", -1, -1)
    assert plan.pieces is not None  # every Plan has pieces (the whole source is one)
    pieces = plan.pieces()
    task = ray.remote(_write_piece)
    # a few pieces per core in flight: memory holds their inputs, not the whole source
    window = 2 * max(int(ray.cluster_resources().get("CPU", 1)), 1)
    results: dict[int, staging.Staged] = {}
    running: dict = {}
    queue = list(enumerate(pieces))
    try:
        while queue or running:
            while queue and len(running) < window:
                k, piece = queue.pop(0)
                ref = task.remote(str(txn), plan.dataset, source, piece, f"part-{k:05d}-")
                running[ref] = k
            ready, _ = ray.wait(list(running), num_returns=1)
            for ref in ready:
                k = running.pop(ref)
                results[k] = _result(ref)
                if progress:
                    progress(
                        f"{plan.dataset}: {len(results):,} of {len(pieces):,} tasks done",
                        len(results),
                        len(pieces),
                    )
    except BaseException:
        for ref in running:
            ray.cancel(ref, force=True)
        ray.wait(list(running), num_returns=len(running), timeout=60)
        raise
    staged = staging.Staged()
    for k in range(len(pieces)):
        staged.then(results[k], source)
    return staged


def _write_piece(
    txn: str, dataset: str, source: str, piece: Piece, prefix: str
) -> tuple[staging.Staged, list[tuple[type[Warning], str]]]:
    """In a Ray task: read one piece and write its parts into the transaction; what it
    staged, and the warnings the reader gave (the driver shows them)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        staged = staging.write_bundles(Path(txn), dataset, source, piece(), None, prefix)
    return staged, [(w.category, str(w.message)) for w in caught]


def _result(ref) -> staging.Staged:
    """A task's summary, its warnings given again here; a posestore error raised in the task
    is raised here as itself."""
    import ray
    from ray.exceptions import RayTaskError

    try:
        staged, caught = ray.get(ref)
        for category, message in caught:
            warnings.warn(category(message), stacklevel=2)
        return staged
    except RayTaskError as e:
        cause = e.cause
        if isinstance(cause, PoseStoreError):
            raise cause from None
        raise StoreError(f"a Ray task failed: {type(cause).__name__}: {cause}") from e
