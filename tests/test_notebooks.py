"""Every notebook runs top to bottom on a store it builds, shows at least one plot, and leaves
no temporary folder behind; notebook 02 says so when the store has no PoseSOR dataset."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from posestore import synthetic

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
NO_POSESOR = "no PoseSOR dataset in this store"


def test_there_are_notebooks():
    assert [p.stem for p in NOTEBOOKS] == [
        "01_tour",
        "02_cross_dataset",
        "03_subset_for_an_experiment",
    ]


def _run(path: Path, tmp_path: Path, monkeypatch) -> nbformat.NotebookNode:
    """Execute a notebook with its own temporary folder (TMPDIR) in ``tmp_path / "tmp"``."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))  # the kernel's tempfile.mkdtemp lands here
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
        "outputs belong out of git"
    )
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    return nb


def _outputs(nb: nbformat.NotebookNode) -> list:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def _printed(nb: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for o in _outputs(nb) if o.get("output_type") == "stream")


def _plots(nb: nbformat.NotebookNode) -> int:
    return sum("image/png" in o.get("data", {}) for o in _outputs(nb))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_plots_and_cleans_up(path, tmp_path, monkeypatch):
    monkeypatch.delenv("POSESTORE_STORE", raising=False)
    nb = _run(path, tmp_path, monkeypatch)
    assert _plots(nb), f"{path.name} shows no plot"
    assert not [o for o in _outputs(nb) if o.get("output_type") == "error"]
    assert NO_POSESOR not in _printed(nb)  # the demo store has PoseSOR
    left = list((tmp_path / "tmp").iterdir())
    assert not left, f"{path.name} left {left}"


@pytest.mark.slow
def test_cross_dataset_notebook_says_when_there_is_no_posesor(tmp_path, monkeypatch):
    import posestore

    store = tmp_path / "mine"
    doc = synthetic.coco_keypoints(20, seed=1)
    source = synthetic.write_json(doc, tmp_path / "person_keypoints_val.json")
    posestore.open(store).ingest(source, dataset="coco")
    monkeypatch.setenv("POSESTORE_STORE", str(store))
    (path,) = [p for p in NOTEBOOKS if p.stem == "02_cross_dataset"]
    nb = _run(path, tmp_path, monkeypatch)
    assert NO_POSESOR in _printed(nb)
    assert _plots(nb) == 1  # joint coverage only: no empty rank plot
    assert not [o for o in _outputs(nb) if o.get("output_type") == "error"]
    assert not list((tmp_path / "tmp").iterdir())
    assert (store / "images").is_dir()  # the user's own store stays
