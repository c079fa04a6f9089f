"""The reader↔writer contract (posestore/metadata.py): every key a reader writes is a field, the
typed view gives back the stored JSON, keys of another version are kept and said, and a bundle's
metadata merges as the store always merged it."""

from __future__ import annotations

import json

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import real_dir
from strict import differences

from posestore import synthetic
from posestore.errors import PoseStoreError
from posestore.metadata import DatasetMeta, PysklArrays, SplitMeta


def _stored_metadata(store) -> dict[str, str]:
    """Each dataset's ``metadata`` text as plain DuckDB reads it."""
    return dict(store.sql("SELECT dataset, metadata FROM datasets").fetchall())


@pytest.fixture(scope="module")
def every_reader(tmp_path_factory):
    """A store holding a dataset of every reader and flavour (and a header-less FashionAI CSV,
    and predictions against the COCO ground truth)."""
    import posestore

    root = tmp_path_factory.mktemp("sources")
    store = posestore.open(root / "store")
    for name, path in synthetic.demo_sources(root).items():
        store.ingest(path, dataset=name)
    bare = synthetic.fashionai_csv(root / "bare" / "test.csv", n_rows=5, kind="test", header=False)
    store.ingest(bare, dataset="bare")
    clips = synthetic.pyskl_clips(3, channels=3)
    store.ingest(synthetic.pyskl_pickle(root / "one.pkl", clips[0]), dataset="single")
    store.ingest(synthetic.pyskl_pickle(root / "list3d.pkl", clips), dataset="list3d")
    gt = synthetic.coco_keypoints(10, seed=3)
    gt_path = synthetic.write_json(gt, root / "person_keypoints_val2017.json")
    store.ingest(gt_path, dataset="gt")
    preds = synthetic.write_json(synthetic.coco_predictions(gt), root / "results.json")
    store.ingest(preds, format="coco-results", ground_truth="gt", dataset="pred")
    return store


def test_every_key_a_reader_writes_is_a_field_and_comes_back_as_stored(every_reader):
    stored = _stored_metadata(every_reader)
    formats = dict(every_reader.sql("SELECT dataset, format FROM datasets").fetchall())
    assert set(formats.values()) == {"coco", "pyskl", "fashionai", "coco-results"}
    for dataset, text in stored.items():
        meta = DatasetMeta.from_json(text)
        assert meta.unknown_keys() == [], dataset
        assert differences(json.loads(text), meta.to_dict()) == [], dataset
        assert meta.format == formats[dataset]
        assert meta == every_reader.dataset_info(dataset)["metadata"]


def test_the_typed_view_reads_what_each_reader_recorded(every_reader, tmp_path):
    info = {d: every_reader.dataset_info(d)["metadata"] for d in every_reader.dataset_names()}
    assert info["cvat"].flavor == "cvat" and info["cvat"].container
    assert info["posesor-assr"].flavor == "posesor"
    assert info["ntu"].layout == "dict" and info["ntu"].variant == "2d"
    assert info["ntu"].arrays == PysklArrays(
        keypoint="<f4", keypoint_score="<f4", joints=17, channels=2
    )
    assert info["list3d"].layout == "list" and info["list3d"].variant == "3d"
    assert info["single"].layout == "single" and info["single"].top == {}
    assert info["k400"].variant == "kinetics" and info["k400"].kpfile_layout == "by_frame_dir"
    assert info["k400"].arrays is not None and info["k400"].arrays.kpfile_keypoint == "<f2"
    assert info["pred"].ground_truth == "gt" and info["pred"].splits["val2017"].top is None
    (bare,) = info["bare"].splits.values()
    assert bare.csv is not None and bare.csv.header is None and bare.columns == 2
    (fashion,) = info["fashionai"].splits.values()
    assert fashion.kind == "train" and fashion.csv is not None and fashion.csv.header
    assert fashion.image_root == "." and info["fashionai"].root


REAL = {"coco_keypoints": "*.json", "cvat_coco": "*.json", "fashionai": "*.csv", "pyskl": "*.pkl"}
REFUSED = {"handmade18kp_person_keypoints_val2017_imagekey.json"}  # tests/ingest say why


@pytest.mark.real
@pytest.mark.filterwarnings("ignore::posestore.formats.SourceWarning")  # not what this checks
@pytest.mark.parametrize("folder", list(REAL))
def test_real_files_record_only_known_keys(folder, store):
    files = [f for f in sorted(real_dir(folder).glob(REAL[folder])) if f.name not in REFUSED]
    assert files
    for path in files:
        store.ingest(path, dataset="real")
        (text,) = _stored_metadata(store).values()
        meta = DatasetMeta.from_json(text)
        assert meta.unknown_keys() == [], path.name
        assert differences(json.loads(text), meta.to_dict()) == [], path.name


def _edit_stored_metadata(store, dataset: str, edit) -> None:
    """Change a dataset's stored metadata JSON in place, as another version of posestore
    would have written it."""
    part = next((store.root / "datasets" / f"dataset={dataset}").glob("*.parquet"))
    table = pq.read_table(part)
    meta = orjson.loads(table["metadata"][0].as_py())
    edit(meta)
    i = table.schema.get_field_index("metadata")
    table = table.set_column(i, "metadata", pa.array([orjson.dumps(meta).decode()]))
    pq.write_table(table, part)


def test_keys_of_another_version_are_kept_said_and_left_unread(store, tmp_path):
    val = synthetic.coco_keypoints(6, seed=1)
    train = synthetic.coco_keypoints(8, seed=2, first_image_id=100, first_annotation_id=900)
    val_path = synthetic.write_json(val, tmp_path / "person_keypoints_val2017.json")
    train_path = synthetic.write_json(train, tmp_path / "person_keypoints_train2017.json")
    store.ingest([val_path, train_path], dataset="c")

    def add_keys(meta: dict) -> None:
        meta["made_by"] = {"tool": "posestore 9"}
        meta["splits"]["val2017"]["checksum"] = "abc"

    _edit_stored_metadata(store, "c", add_keys)
    meta = store.dataset_info("c")["metadata"]
    assert meta.unknown == {"made_by": {"tool": "posestore 9"}}
    assert meta.splits["val2017"].unknown == {"checksum": "abc"}
    with pytest.warns(UserWarning, match=r"holds 2 keys .*made_by, splits\.val2017\.checksum"):
        (out,) = store.export("c", tmp_path / "val.json", split="val2017")
    assert differences(val, json.loads(out.read_bytes())) == []  # nothing reads them
    # a re-ingest of one split keeps the other split's metadata, unknown keys and all
    new_train = synthetic.coco_keypoints(3, seed=5, first_image_id=700, first_annotation_id=7000)
    store.ingest(
        synthetic.write_json(new_train, tmp_path / "new" / "train.json"),
        dataset="c",
        split="train2017",
    )
    kept = json.loads(_stored_metadata(store)["c"])
    assert kept["made_by"] == {"tool": "posestore 9"}
    assert kept["splits"]["val2017"]["checksum"] == "abc"
    assert "checksum" not in kept["splits"]["train2017"]


def test_a_merge_keeps_the_first_value_and_joins_objects_key_by_key():
    first = DatasetMeta(
        "pyskl",
        {"train": SplitMeta(path="a.pkl")},
        arrays=PysklArrays(frame_inds="<i2"),
        kpfile_extra={"1": {"x": 1}},
    )
    later = DatasetMeta(
        "pyskl",
        {"val": SplitMeta(path="b.pkl"), "train": SplitMeta(path="other.pkl", kind="k")},
        layout="dict",
        arrays=PysklArrays(frame_inds="<i4", kpfile_keypoint="<f2"),
        kpfile_extra={"1": {"y": 2}, "2": {"z": 3}},
    )
    merged = first.merged(later)
    assert list(merged.splits) == ["train", "val"]
    assert merged.splits["train"] == SplitMeta(path="a.pkl", kind="k")
    assert merged.layout == "dict"
    assert merged.arrays == PysklArrays(frame_inds="<i2", kpfile_keypoint="<f2")
    assert merged.kpfile_extra == {"1": {"x": 1, "y": 2}, "2": {"z": 3}}


@pytest.mark.parametrize(
    "text",
    ["not json", "[1, 2]", '{"format": "coco", "splits": [1]}', '{"arrays": 3}'],
)
def test_unreadable_metadata_is_a_posestore_error(text):
    with pytest.raises(PoseStoreError, match="dataset metadata"):
        DatasetMeta.from_json(text)
