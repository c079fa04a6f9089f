"""posestore: a columnar analytics store for pose datasets.

>>> import posestore
>>> store = posestore.open("my-store")
>>> store.ingest("person_keypoints_val2017.json", dataset="coco")
>>> store.sql("SELECT count(*) FROM instances WHERE dataset = 'coco'").pl()

The names below are imported on first use, so that ``posestore --help`` does not
pay for importing PyArrow, DuckDB and Polars.
"""

from __future__ import annotations

from posestore.errors import PoseStoreError, SelectionError, SourceError, StoreError, UnsafePickle

__all__ = [
    "Ingested",
    "PoseStoreError",
    "SelectionError",
    "SourceError",
    "Store",
    "StoreError",
    "UnsafePickle",
    "open",
]
__version__ = "0.1.0"


def __getattr__(name: str):
    if name in ("open", "Store", "Ingested"):
        from posestore import store

        return getattr(store, name)
    raise AttributeError(f"module 'posestore' has no attribute {name!r}")
