"""README's SQL runs as written, on a store holding what its examples name."""

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
