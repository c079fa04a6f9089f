"""Tables → a COCO results file: the inverse of ``posestore.ingest.coco_results``.

The predictions' records are written as the COCO writer writes annotations (numbers in
the source's style, every extra field kept), then given back their source shape: no
``id``, no ``bbox``/``area`` where posestore derived them, ``image_id`` as the file spelt it.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from posestore.formats import RESULTS_DERIVED_KEY as DERIVED_KEY
from posestore.formats import RESULTS_SOURCE_ID_KEY as SOURCE_ID_KEY
from posestore.metadata import DatasetMeta, SplitMeta

from .coco import coco_document
from .writer import ExportOptions, SplitTables


def write(parts: SplitTables, meta: DatasetMeta, out: Path, options: ExportOptions) -> list[Path]:
    """Write the predictions as one COCO results JSON at ``out``; returns ``[out]``."""
    data = orjson.dumps(coco_results_records(parts, meta), option=orjson.OPT_SERIALIZE_NUMPY)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return [out]


def coco_results_records(parts: SplitTables, meta: DatasetMeta) -> list[dict]:
    """The predictions of every split, in the source's order, as the file had them."""
    records = []
    for split, tables in parts.items():
        # the split's metadata even where none is recorded: the records are written as they are
        split_meta = meta.splits.get(split, SplitMeta())
        annotations = coco_document(tables, split_meta)["annotations"]
        records.extend(annotations)
    records.sort(key=lambda r: r["id"])
    for r in records:
        del r["id"]
        for key in r.pop(DERIVED_KEY, ()):
            r.pop(key, None)
        if SOURCE_ID_KEY in r:
            r["image_id"] = r.pop(SOURCE_ID_KEY)
    return records
