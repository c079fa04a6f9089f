"""Messages that say what to do next: DuckDB's hint kept, the splits a dataset has, the
formats it exports to, where posestore looks for a store, an example in every --help."""

from __future__ import annotations

import argparse
import re

import pytest

from posestore import synthetic
from posestore.cli import parser


@pytest.fixture
def two_splits(tmp_path, cli):
    """A store holding dataset ``d`` with splits train and val (and a FashionAI ``f``)."""
    root = tmp_path / "src" / "annotations"
    for k, split in enumerate(("train", "val")):
        doc = synthetic.coco_keypoints(4, seed=k, first_image_id=1 + 10 * k)
        synthetic.write_json(doc, root / f"person_keypoints_{split}.json")
    store = tmp_path / "store"
    assert cli("--store", store, "ingest", root.parent, "--dataset", "d").exit_code == 0
    csv = synthetic.fashionai_csv(tmp_path / "train.csv", n_rows=4, seed=1)
    assert cli("--store", store, "ingest", csv, "--dataset", "f").exit_code == 0
    return store


def _one_error_line(r) -> str:
    assert r.exit_code == 1, r.output
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("error: ")
    return line


def test_sql_errors_keep_duckdbs_hint_in_one_line(two_splits, cli):
    line = _one_error_line(cli("--store", two_splits, "sql", "SELECT count(*) FROM keypoint"))
    assert 'Did you mean "keypoints"' in line
    line = _one_error_line(cli("--store", two_splits, "sql", "SELECT visibilty FROM keypoints"))
    assert "Candidate bindings:" in line and '"visibility"' in line


@pytest.mark.parametrize(
    "command",
    [
        ("stats", "d", "--split", "nope"),
        ("export", "d", "OUT", "--split", "nope"),
        ("validate", "d", "--split", "nope"),
        ("export", "d,d", "OUT", "--split", "nope"),
    ],
    ids=["stats", "export", "validate", "export-several"],
)
def test_a_split_that_is_none_of_the_datasets_lists_its_splits(two_splits, cli, tmp_path, command):
    args = [str(tmp_path / "out") if a == "OUT" else a for a in command]
    line = _one_error_line(cli("--store", two_splits, *args))
    assert "'nope'" in line
    listed = re.search(r"\(splits: ([^)]*)\)", line)
    assert listed and sorted(listed.group(1).split(", ")) == ["train", "val"]


@pytest.mark.parametrize(
    ("dataset", "fmt", "can"),
    [
        ("d", "pyskl", ["coco", "yolo-pose"]),
        ("d", "fashionai", ["coco", "yolo-pose"]),
        ("d", "coco-results", ["coco", "yolo-pose"]),
        ("d", "parquet", ["coco", "yolo-pose"]),
        ("f", "pyskl", ["fashionai", "coco", "yolo-pose"]),
    ],
)
def test_a_format_a_dataset_cannot_take_names_those_it_can(
    two_splits, cli, tmp_path, dataset, fmt, can
):
    r = cli("--store", two_splits, "export", dataset, tmp_path / "out", "--format", fmt)
    line = _one_error_line(r)
    assert fmt in line
    assert re.search(r"exports as (.*)$", line).group(1).split(", ") == can
    assert not (tmp_path / "out").exists()


def test_predictions_export_only_as_coco_results(tmp_path, store):
    import json

    from posestore.errors import StoreError

    doc = synthetic.coco_keypoints(5, seed=1)
    store.ingest(synthetic.write_json(doc, tmp_path / "person_keypoints_val.json"), dataset="gt")
    results = tmp_path / "results.json"
    results.write_text(json.dumps(synthetic.coco_predictions(doc, seed=1)))
    store.ingest(results, format="coco-results", ground_truth="gt", dataset="p")
    with pytest.raises(StoreError, match=r"exports as coco-results$"):
        store.export("p", tmp_path / "out.json", format="coco")


@pytest.mark.parametrize("command", [("ls",), ("sql", "SELECT 1"), ("stats",), ("rm", "d")])
def test_no_store_suggests_the_store_option_and_the_variable(tmp_path, cli, command):
    missing = tmp_path / "nowhere"
    line = _one_error_line(cli("--store", missing, *command))
    assert f"no store at {missing}" in line
    assert "--store" in line and "$POSESTORE_STORE" in line
    assert not missing.exists()


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    (sub,) = [a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def test_every_help_carries_an_example(cli):
    commands = _subcommands()
    assert len(commands) >= 9
    r = cli("--help")
    assert r.exit_code == 0 and re.search(r"^  posestore \w+ ", r.stdout, flags=re.MULTILINE)
    for name in commands:
        r = cli(name, "--help")
        assert r.exit_code == 0
        assert re.search(rf"^example: posestore {name}\b", r.stdout, flags=re.MULTILINE), name
