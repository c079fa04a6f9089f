"""ingest → export → the same document, strictly (types kept, key and list order aside).

On every real COCO-family file in ../shared/data/real and on the edge cases in tests/cases.
"""

from __future__ import annotations

import json
import warnings
import zipfile
from pathlib import Path

import orjson
import pytest
from conftest import CASES, real_dir, real_params
from posestore.ingest.coco import read_coco
from posestore.queries.export.coco import coco_json
from strict import differences

from posestore import poses, synthetic
from posestore.errors import SourceError
from posestore.metadata import bundle_meta

REAL_COCO = real_params("coco_keypoints", "*.json") + real_params("cvat_coco", "*.json")
MALFORMED = {"handmade18kp_person_keypoints_val2017_imagekey.json"}  # 'image' instead of 'images'


def _dedupe_images(doc: dict) -> dict:
    """The document posestore promises to give back: repeated identical images once."""
    seen, images = set(), []
    for im in doc.get("images", []):
        key = orjson.dumps(im, option=orjson.OPT_SORT_KEYS)
        if key not in seen:
            seen.add(key)
            images.append(im)
    return {**doc, "images": images} if "images" in doc else doc


def _round_trip_through_store(store, path: Path) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (done,) = store.ingest(path, dataset="d")
    (written,) = store.export("d", store.root.parent / "out.json")
    return json.loads(written.read_bytes())


@pytest.mark.filterwarnings("ignore:.*the export holds")  # expected here; not what this test checks
@pytest.mark.real
@pytest.mark.parametrize("path", REAL_COCO)
def test_real_file_round_trips_through_the_store(path, store, tmp_path):
    if path is None:
        real_dir("coco_keypoints")
    if path.name in MALFORMED:
        with pytest.raises(SourceError, match="'images' is missing"):
            store.ingest(path, dataset="d")
        return
    source = _dedupe_images(json.loads(path.read_bytes()))
    back = _round_trip_through_store(store, path)
    assert differences(source, back) == []


@pytest.mark.filterwarnings("ignore:.*the export holds")  # expected here; not what this test checks
@pytest.mark.parametrize("path", sorted(CASES.glob("*.json")), ids=lambda p: p.stem)
def test_edge_case_round_trips_through_the_store(path, store):
    source = json.loads(path.read_bytes())
    back = _round_trip_through_store(store, path)
    assert differences(source, back) == []


def test_repeated_identical_images_are_kept_once_with_a_warning(tmp_path):
    doc = json.loads((CASES / "images_without_annotations.json").read_bytes())
    doc["images"] = doc["images"] + doc["images"][:2]
    path = synthetic.write_json(doc, tmp_path / "dup.json")
    with pytest.warns(UserWarning, match="repeats 2 identical entries"):
        tables = next(read_coco(path, "d"))
    assert len(tables["images"]) == 3


def test_differing_images_with_one_id_are_an_error(tmp_path):
    doc = json.loads((CASES / "images_without_annotations.json").read_bytes())
    doc["images"].append({**doc["images"][0], "width": 1})
    path = synthetic.write_json(doc, tmp_path / "dup.json")
    with pytest.raises(SourceError, match=r"images\[3\]\.id.*duplicate id 1"):
        next(read_coco(path, "d"))


def test_values_the_columns_hold_are_the_source_values(tmp_path):
    """The typed columns answer queries with the source's numbers, not just round-trip them."""
    tables = next(read_coco(CASES / "float_coordinates.json", "d"))
    kp = poses.joint_rows(tables["keypoints"]).to_pydict()
    assert kp["x"][:2] == pytest.approx([354.69, 0.1], rel=1e-7)
    assert kp["visibility"][:3] == [2, 1, 0]
    inst = tables["instances"].to_pydict()
    assert inst["num_joints"] == [3, 3, 3]
    assert inst["bbox_w"][0] == 30.25
    ids = next(read_coco(CASES / "ids_64bit.json", "d"))["instances"]["instance_id"].to_pylist()
    assert ids == [4611686018427387904, 2**31 + 7]


def test_string_ids_get_surrogates_and_references_follow():
    tables = next(read_coco(CASES / "string_ids.json", "d"))
    images = tables["images"].to_pydict()
    source_ids = [orjson.loads(a)["id"] for a in images["attributes"]]
    assert source_ids == ["03540", "3540", "x-1"]
    surrogate = dict(zip(source_ids, images["image_id"]))
    assert surrogate["03540"] == 3540  # a digit string keeps its number where it is free
    assert len(set(images["image_id"])) == 3
    inst = tables["instances"].to_pydict()
    assert inst["image_id"] == [surrogate["03540"], surrogate["x-1"]]


def test_posesor_root_gives_a_dataset_per_task_with_every_split(tmp_path, store):
    root = synthetic.posesor_root(tmp_path / "PoseSOR")
    done = store.ingest(root, dataset="psor")
    assert {d.dataset: sorted(d.splits) for d in done} == {
        "psor-assr": ["test", "train", "val"],
        "psor-irsr": ["test", "train"],
    }
    ranks = store.sql(
        "SELECT count(*) FROM instances WHERE dataset = 'psor-assr' "
        "AND (attributes::JSON->>'visiting_order')::INT >= 1"
    ).fetchall()[0][0]
    assert (
        ranks
        == store.sql("SELECT count(*) FROM instances WHERE dataset = 'psor-assr'").fetchall()[0][0]
        > 0
    )
    out = tmp_path / "out"
    written = store.export("psor-irsr", out)
    assert sorted(p.relative_to(out).as_posix() for p in written) == [
        "irsr/irsr_test.json",
        "irsr/irsr_train.json",
    ]
    for p in written:
        assert (
            differences(
                json.loads((root / p.relative_to(out)).read_bytes()), json.loads(p.read_bytes())
            )
            == []
        )
    meta = store.dataset_info("psor-assr")["metadata"]
    assert meta.flavor == "posesor"
    assert meta.splits["train"].image_root == "assr/images/train"


def test_cvat_zip_is_read_in_place_and_written_back_as_a_zip(tmp_path, store):
    z = synthetic.cvat_zip(tmp_path / "task.zip")
    (done,) = store.ingest(z, dataset="cvat")
    assert done.splits == ["default"]
    assert not any(p.suffix == ".json" for p in tmp_path.rglob("*") if "store" not in p.parts)
    (written,) = store.export("cvat", tmp_path / "back.zip")
    member = "annotations/person_keypoints_default.json"
    a = json.loads(zipfile.ZipFile(z).read(member))
    b = json.loads(zipfile.ZipFile(written).read(member))
    assert differences(a, b) == []
    occluded = store.sql(
        "SELECT count(*) FROM instances WHERE dataset='cvat' AND (attributes::JSON->'$.attributes.occluded')::BOOLEAN"
    ).fetchall()[0][0]
    assert occluded == sum(a_["attributes"]["occluded"] for a_ in a["annotations"])
    scores = store.sql(
        "SELECT list(score ORDER BY instance_id) FROM instances WHERE dataset='cvat'"
    ).fetchall()[0][0]
    assert scores == [a_["score"] for a_ in sorted(a["annotations"], key=lambda r: r["id"])]


def test_partimagenet_parts_round_trip_without_keypoints(tmp_path, store):
    doc = synthetic.partimagenet()
    path = synthetic.write_json(doc, tmp_path / "train.json")
    (done,) = store.ingest(path, dataset="pin")
    assert "keypoints" not in done.counts
    assert store.dataset_info("pin")["metadata"].flavor == "partimagenet"
    sup = store.sql(
        "SELECT supercategory, count(*) FROM categories WHERE dataset='pin' GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert sup == [("Biped", 5), ("Fish", 4), ("Quadruped", 4)]
    (written,) = store.export("pin", tmp_path / "back.json")
    assert differences(doc, json.loads(written.read_bytes())) == []


def test_reader_and_writer_meet_without_a_store():
    tables = next(read_coco(CASES / "unknown_keys_everywhere.json", "d"))
    meta = bundle_meta(tables)
    assert meta is not None and meta.unknown_keys() == []
    back = orjson.loads(coco_json(tables, meta.splits["unknown_keys_everywhere"]))
    assert (
        differences(json.loads((CASES / "unknown_keys_everywhere.json").read_bytes()), back) == []
    )
