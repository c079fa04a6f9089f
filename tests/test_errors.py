"""Errors posestore raises on bad input are PoseStoreErrors that keep what caused them."""

import pytest
from posestore.ingest.coco import parse_json
from posestore.ingest.fashionai import read_fashionai

from posestore import safe_pickle
from posestore.errors import PoseStoreError, SourceError, UnsafePickle
from posestore.skeleton import skeleton


def test_invalid_json_keeps_the_decoder_error_as_its_cause():
    with pytest.raises(SourceError, match="not valid JSON") as got:
        parse_json(b'{"images": [', "x.json")
    assert isinstance(got.value.__cause__, ValueError)  # orjson.JSONDecodeError


def test_an_unreadable_pickle_keeps_the_unpickler_error_as_its_cause():
    with pytest.raises(UnsafePickle, match="not a readable pickle") as got:
        safe_pickle.loads(b"\x80\x04", "x.pkl")
    assert got.value.__cause__ is not None


def test_a_csv_that_is_not_utf8_keeps_the_decode_error_as_its_cause(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"image_id,image_category\n\xff\xfe,blouse\n")
    with pytest.raises(SourceError, match="not UTF-8") as got:
        list(read_fashionai(path, "f"))
    assert isinstance(got.value.__cause__, UnicodeDecodeError)


def test_an_unknown_skeleton_is_a_posestore_error_with_its_cause():
    with pytest.raises(PoseStoreError, match="unknown skeleton") as got:
        skeleton("no-such-skeleton")
    assert isinstance(got.value.__cause__, KeyError)
