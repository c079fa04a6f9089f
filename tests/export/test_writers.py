"""One writer signature and one module per format: every writer is the ``Writer`` protocol's
``write``, the store reaches writers only through ``write_dataset``, and a reader's bundle with
its typed metadata is all a writer needs (no store in between)."""

from __future__ import annotations

import importlib
import inspect
import json
from pathlib import Path

import pytest
from posestore.ingest.coco import read_coco
from posestore.ingest.fashionai import read_fashionai
from posestore.queries.export import WRITERS, ExportOptions, Writer
from strict import differences
from test_house import MODULES, imported

from posestore import synthetic
from posestore.metadata import DatasetMeta, bundle_meta

WRITER_MODULES = {fmt: f"posestore.queries.export.{fmt.replace('-', '_')}" for fmt in WRITERS}


@pytest.mark.parametrize("fmt", list(WRITERS))
def test_each_format_is_one_module_whose_write_has_the_protocols_signature(fmt):
    module = importlib.import_module(WRITER_MODULES[fmt])
    assert WRITERS[fmt] is module.write
    expected = inspect.signature(Writer.__call__).parameters
    got = inspect.signature(module.write).parameters
    assert list(got) == [p for p in expected if p != "self"]
    assert {n: p.annotation for n, p in got.items()} == {
        n: p.annotation for n, p in expected.items() if n != "self"
    }
    assert inspect.signature(module.write).return_annotation == "list[Path]"


def test_nothing_outside_the_export_package_imports_a_writer_module():
    writer_modules = set(WRITER_MODULES.values())
    for name, path in MODULES.items():
        if name.startswith("posestore.queries.export"):
            continue
        assert not imported(name, path) & writer_modules, name


def _bundles_by_split(bundles) -> tuple[dict, DatasetMeta]:
    parts, meta = {}, None
    for tables in bundles:
        got = bundle_meta(tables)
        assert got is not None
        meta = got if meta is None else meta.merged(got)
        (split,) = got.splits
        parts[split] = tables
    assert meta is not None
    return parts, meta


def test_a_coco_reader_bundle_is_all_the_writer_needs(tmp_path):
    val = synthetic.coco_keypoints(7, seed=1, float_keypoints=True)
    train = synthetic.coco_keypoints(9, seed=2, first_image_id=100, first_annotation_id=500)
    root = tmp_path / "src"
    synthetic.write_json(val, root / "annotations" / "person_keypoints_val2017.json")
    synthetic.write_json(train, root / "annotations" / "person_keypoints_train2017.json")
    parts, meta = _bundles_by_split(read_coco(root, "d"))
    out = tmp_path / "out"
    written = WRITERS["coco"](parts, meta, out, ExportOptions(whole=True))
    assert sorted(p.relative_to(out).as_posix() for p in written) == [
        "annotations/person_keypoints_train2017.json",
        "annotations/person_keypoints_val2017.json",
    ]
    for doc, name in ((val, "val2017"), (train, "train2017")):
        back = json.loads((out / "annotations" / f"person_keypoints_{name}.json").read_bytes())
        assert differences(doc, back) == []


def test_a_fashionai_reader_bundle_is_all_the_writer_needs(tmp_path):
    source = synthetic.fashionai_csv(tmp_path / "train.csv", n_rows=12, newline="\r\n", bom=True)
    parts, meta = _bundles_by_split(read_fashionai(source, "f"))
    (out,) = WRITERS["fashionai"](parts, meta, tmp_path / "back.csv", ExportOptions())
    assert Path(out).read_bytes() == source.read_bytes()
