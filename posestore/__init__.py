"""posestore: a columnar analytics store for pose datasets.

>>> import posestore
>>> store = posestore.open("my-store")
>>> store.ingest("person_keypoints_val2017.json", dataset="coco")
>>> store.sql("SELECT count(*) FROM instances WHERE dataset = 'coco'").pl()
"""

from posestore.errors import PoseStoreError, SelectionError, SourceError, StoreError, UnsafePickle
from posestore.store import Ingested, Store, open  # noqa: A004

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
