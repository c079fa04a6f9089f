"""README's SQL and Python run as written, on a store and files holding what its examples
name; what README says `posestore sql` may do, it does."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from posestore import synthetic

README = Path(__file__).resolve().parent.parent / "README.md"


def _sql_statements() -> list[str]:
    blocks = re.findall(r"```sql\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    statements = []
    for block in blocks:
        text = "\n".join(line for line in block.splitlines() if not line.startswith("--"))
        statements += [s.strip() for s in text.split(";") if s.strip()]
    return statements


@pytest.fixture(scope="module")
def example_store(tmp_path_factory):
    import posestore

    tmp = tmp_path_factory.mktemp("readme")
    store = posestore.open(tmp / "store")
    doc = synthetic.coco_keypoints(30, seed=3)
    store.ingest(synthetic.write_json(doc, tmp / "person_keypoints_val2017.json"), dataset="coco")
    results = tmp / "results.json"
    results.write_text(json.dumps(synthetic.coco_predictions(doc, seed=2)))
    store.ingest(results, format="coco-results", ground_truth="coco", dataset="hrnet")
    store.eval("hrnet")
    return store


def test_readme_has_sql_examples():
    assert len(_sql_statements()) >= 8


@pytest.mark.parametrize("statement", _sql_statements(), ids=lambda s: s.split("\n")[0][:40])
def test_readme_sql_runs(example_store, statement):
    example_store.sql(statement).fetchall()


def _python_blocks() -> list[str]:
    """README's Python blocks, but those marked ``<!-- engine: … -->``: their ``store`` is a
    folder, and tests/test_engines.py runs them on a store of their own."""
    text = README.read_text(encoding="utf-8")
    return re.findall(r"(?<!-->\n)```python\n(.*?)```", text, flags=re.S)


@pytest.fixture
def readme_folder(tmp_path, monkeypatch):
    """A working folder (and $HOME) holding what README's Python names: the COCO file (with
    images 139 and 785), a predictions file, a store at ./store, and ~/pose-store holding
    the PYSKL dataset ``ntu``."""
    import posestore

    doc = synthetic.coco_keypoints(800, seed=3)
    source = synthetic.write_json(doc, tmp_path / "person_keypoints_val2017.json")
    (tmp_path / "results.json").write_text(json.dumps(synthetic.coco_predictions(doc, seed=2)))
    posestore.open(tmp_path / "store").ingest(source, dataset="coco")
    clips = synthetic.pyskl_pickle(tmp_path / "ntu.pkl", synthetic.pyskl_clips(12, seed=1))
    posestore.open(tmp_path / "pose-store").ingest(clips, dataset="ntu")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("POSESTORE_STORE", raising=False)
    return tmp_path


def test_readme_has_python_examples():
    assert len(_python_blocks()) >= 2


@pytest.mark.filterwarnings("ignore::posestore.formats.SourceWarning")
def test_readme_python_runs_in_order(readme_folder):
    """Each block as written, in README's order, in one namespace (a later block uses the
    ``store`` an earlier one opened, as a reader typing them would)."""
    namespace: dict = {"__name__": "readme"}
    for k, block in enumerate(_python_blocks()):
        first = next(ln for ln in block.splitlines() if ln.strip())
        try:
            exec(compile(block, f"README.md python block {k + 1}", "exec"), namespace)
        except Exception as e:
            raise AssertionError(f"README python block {k + 1} ({first!r}) fails: {e!r}") from e


def test_sql_runs_any_duckdb_sql_but_parquet_stays_out_of_the_store(example_store, tmp_path, cli):
    """README: COPY … TO, ATTACH and reading any file are a local tool's right; --parquet
    refuses a file inside the store."""
    root = example_store.root
    out = tmp_path / "copied.csv"
    assert cli("--store", root, "sql", f"COPY (SELECT 41 + 1 AS x) TO '{out}'").exit_code == 0
    assert out.read_text().splitlines() == ["x", "42"]
    r = cli("--store", root, "sql", f"SELECT x FROM read_csv('{out}')", "--csv")
    assert r.exit_code == 0 and r.stdout.splitlines() == ["x", "42"]
    other = tmp_path / "other.duckdb"
    r = cli("--store", root, "sql", f"ATTACH '{other}' AS other", "--csv")
    assert r.exit_code == 0 and other.is_file()
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    for target in (root / "images" / "x.parquet", root / "mine.parquet", root):
        r = cli("--store", root, "sql", "SELECT 1 AS x", "--parquet", target)
        assert r.exit_code == 1 and "inside the store" in r.stderr
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
