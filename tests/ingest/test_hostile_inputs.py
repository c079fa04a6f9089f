"""Hostile and malformed sources, generated (issue 16): several hundred mutations of the
synthetic sources and of the real files in ../shared/data/real — truncations at many
offsets, every field given a value of the wrong type or range, random byte flips, hostile
pickles (code, codecs, size bombs), damaged zips, odd CSV cells — each ingested into a
store holding other datasets. Each ends in one ``PoseStoreError`` line naming the file,
with the store byte for byte as it was; or it is accepted, and then exports back exactly.
Never another exception type.

Most cases run in-process through the Python API (``tests/hostile.py`` builds them); a
handful run through the real command line for exit code 1 and one line on stderr.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pickle
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from conftest import real_dir
from hostile import (
    DATASET,
    Case,
    coco_cases,
    coco_originals,
    cvat_zip_bytes,
    fashionai_cases,
    fashionai_originals,
    fast_folder,
    field_paths,
    flipped,
    ingest_or_refuse,
    kinetics_cases,
    pyskl_cases,
    pyskl_synthetic,
    real_pyskl_field_cases,
    snapshot,
    with_field,
    zip_cases,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strict import differences

import posestore
from posestore import pyjson, synthetic

CASES: list[Case] = [
    *coco_cases(),
    *pyskl_cases(),
    *real_pyskl_field_cases(),
    *kinetics_cases(),
    *fashionai_cases(),
    *zip_cases(),
]

FLIPS = settings(
    max_examples=25,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def hostile_store():
    """A store with a COCO, a PYSKL and a FashionAI dataset, in memory where possible."""
    with fast_folder() as folder:
        store = posestore.open(folder / "store")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            coco = synthetic.write_json(synthetic.coco_keypoints(5, seed=1), folder / "d.json")
            store.ingest(coco, dataset="d")
            clips = synthetic.pyskl_clips(3, seed=4)
            names = [c["frame_dir"] for c in clips]
            store.ingest(
                synthetic.pyskl_pickle(folder / "n.pkl", clips, {"a": names}), dataset="ntu"
            )
            store.ingest(synthetic.fashionai_csv(folder / "fa.csv", n_rows=4), dataset="fa")
        yield store, folder


@pytest.fixture
def case_folder(hostile_store):
    """An empty folder for the case's files; the store without the hostile dataset, even
    after a case before failed half-way."""
    store, folder = hostile_store
    if DATASET in store.dataset_names():
        store.rm(DATASET)
    case = folder / "case"
    shutil.rmtree(case, ignore_errors=True)
    case.mkdir()
    return case


def exports_back_exactly(store, source: Path) -> None:
    """An accepted source exports back as it was: JSON as parsed values with their types,
    pickles array by array, CSV cell by cell."""
    info = store.dataset_info(DATASET)
    splits = list(info["metadata"].splits)
    out = source.parent / f"exported{source.suffix}"
    one_split = splits[0] if len(splits) == 1 and source.suffix in (".json", ".csv") else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        store.export(DATASET, out, split=one_split)
    if source.suffix == ".json":
        assert differences(json.loads(source.read_bytes()), json.loads(out.read_bytes())) == []
    elif source.suffix == ".pkl":
        assert pyjson.same(pickle.loads(source.read_bytes()), pickle.loads(out.read_bytes()))
    elif source.suffix == ".csv":
        assert cells(source.read_bytes()) == cells(out.read_bytes())


def cells(data: bytes) -> list[list[str]]:
    text = data.decode("utf-8-sig")
    return [row for row in csv.reader(io.StringIO(text, newline="")) if row]


def refused_or_exact(store, path: Path, names: str | None = None) -> str | None:
    """``ingest_or_refuse``, an accepted source checked to export back exactly."""
    return ingest_or_refuse(store, path, names, accepted=exports_back_exactly)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_hostile_source_is_one_line_and_store_unchanged_or_exported_back_exactly(
    hostile_store, case_folder, case
):
    store, _ = hostile_store
    path = case.make(case_folder)
    names = case.names(case_folder) if case.names else None
    if path.suffix == ".zip" or "kinetics" in case.id:
        ingest_or_refuse(store, path, names)  # a zip or a kpfile layout exports otherwise
    else:
        refused_or_exact(store, path, names)


def test_the_suite_is_several_hundred_cases_of_every_kind():
    kinds = {case.id.split("/")[0] for case in CASES}
    assert kinds == {"coco", "pyskl", "kinetics", "fashionai", "zip"}
    assert len(CASES) + 5 * FLIPS.max_examples >= 400


def test_real_files_are_mutated_too():
    """The real files are part of the suite where ../shared is present (else skipped, and
    under CI=true a failure)."""
    real_dir("coco_keypoints")
    assert any("/mmpose_test_crowdpose.json/" in case.id for case in CASES)
    assert any(case.id.startswith("pyskl/wlasl_12320") for case in CASES)
    assert any(case.id.startswith("fashionai/jarvisbupt") for case in CASES)


# -- random byte flips, with hypothesis ---------------------------------------------------------

flips = st.lists(st.tuples(st.integers(0, 10**7), st.integers(0, 255)), min_size=1, max_size=6)


@FLIPS
@given(original=st.sampled_from(sorted(coco_originals())), changes=flips)
def test_byte_flips_of_coco_files(hostile_store, original, changes):
    store, folder = hostile_store
    data, _ = coco_originals()[original]
    path = folder / "flipped.json"
    path.write_bytes(flipped(data, changes))
    refused_or_exact(store, path)


@FLIPS
@given(changes=flips)
def test_byte_flips_of_a_pyskl_pickle(hostile_store, changes):
    store, folder = hostile_store
    path = folder / "flipped.pkl"
    path.write_bytes(flipped(pickle.dumps(pyskl_synthetic(), protocol=2), changes))
    ingest_or_refuse(store, path)  # a flip can make a legal pickle of other values


@FLIPS
@given(original=st.sampled_from(sorted(fashionai_originals())), changes=flips)
def test_byte_flips_of_fashionai_csvs(hostile_store, original, changes):
    store, folder = hostile_store
    path = folder / "flipped.csv"
    path.write_bytes(flipped(fashionai_originals()[original], changes))
    ingest_or_refuse(store, path)  # a flip can make a new legal file of other cells


@FLIPS
@given(changes=flips)
def test_byte_flips_of_a_cvat_zip(hostile_store, changes):
    store, folder = hostile_store
    path = folder / "flipped.zip"
    path.write_bytes(flipped(cvat_zip_bytes(), changes))
    ingest_or_refuse(store, path, names="flipped.zip")


@FLIPS
@given(data=st.data())
def test_wrong_types_in_fields_of_real_coco_files(hostile_store, data):
    """A field of a real file (any present) given a value of another JSON type."""
    store, folder = hostile_store
    originals = coco_originals()
    name = data.draw(st.sampled_from(sorted(originals)))
    _, doc = originals[name]
    path_ = data.draw(st.sampled_from(field_paths(doc)))
    value = data.draw(
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(-(2**70), 2**70),
            st.floats(allow_nan=False, allow_infinity=False),
            st.text(max_size=5),
            st.lists(st.integers(-5, 5), max_size=4),
            st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
        )
    )
    path = folder / "typed.json"
    path.write_bytes(json.dumps(with_field(doc, path_, value)).encode())
    refused_or_exact(store, path)


# -- the same through the command line: exit code 1, one line, the store unchanged -------------

CLI_CASES = ["coco/synthetic/cut@", "pyskl/bomb=13.6GB-array", "zip/declares-3GB",
             "fashionai/joint=200k-chars"]  # fmt: skip


@pytest.mark.parametrize("prefix", CLI_CASES)
def test_cli_prints_one_line_exits_1_and_leaves_the_store(hostile_store, case_folder, prefix):
    store, _ = hostile_store
    case = next(c for c in CASES if c.id.startswith(prefix))
    path = case.make(case_folder)
    store.close()
    posestore.open(store.root)  # removes the versions no one holds, as the CLI's open would
    before = snapshot(store.root)
    done = subprocess.run(
        [sys.executable, "-m", "posestore.cli", "ingest", str(path), "--dataset", DATASET],
        capture_output=True,
        text=True,
        env={**os.environ, "POSESTORE_STORE": str(store.root)},
        timeout=120,
        check=False,
    )
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 1, done.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: ") and path.name in lines[0], lines
    assert snapshot(store.root) == before
