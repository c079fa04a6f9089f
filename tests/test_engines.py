"""The store is plain Hive Parquet: Daft and Ray Data read it as it is and count what posestore
counts, and README's per-joint query gives posestore's answer in DuckDB, Polars, Daft and Ray
Data (the Spark block is marked untested: Spark is not installed here)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import posestore
from posestore import synthetic

README = Path(__file__).resolve().parent.parent / "README.md"
PER_JOINT = (
    "SELECT dataset, joint, count(*) FILTER (WHERE visibility > 0) AS labelled "
    "FROM joints GROUP BY ALL ORDER BY ALL"
)


def engine_blocks() -> dict[str, str]:
    """README's python blocks marked ``<!-- engine: NAME -->``, by engine."""
    text = README.read_text(encoding="utf-8")
    found = re.findall(r"<!-- engine: (\w+)[^>]*-->\n```python\n(.*?)```", text, flags=re.S)
    return dict(found)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> posestore.Store:
    """COCO (two splits), an NTU-style PYSKL pickle and a Kinetics index with kpfiles."""
    root = tmp_path_factory.mktemp("engines")
    sources = synthetic.demo_sources(root / "sources")
    store = posestore.open(root / "store")
    store.ingest(sources["coco"], dataset="coco")
    store.ingest(sources["ntu"], dataset="ntu")
    store.ingest(synthetic.kinetics_scale(root / "k400", 20, 6), dataset="k400")
    return store


def posestore_sql(cli, store, query: str) -> list[tuple]:
    result = cli("sql", query, "--json", "--store", store.root)
    assert result.exit_code == 0, result.stderr
    return [tuple(row.values()) for row in json.loads(result.stdout)]


def test_readme_shows_the_query_in_five_engines():
    assert set(engine_blocks()) == {"duckdb", "polars", "daft", "ray", "spark"}
    assert 'spark.read.parquet(store + "/keypoints")' in engine_blocks()["spark"]


@pytest.mark.parametrize("engine", ["duckdb", "polars", "daft", "ray"])
def test_readme_per_joint_query_answers_as_posestore_does(engine, store, cli, request):
    if engine == "ray":
        request.getfixturevalue("ray_cluster")
    else:
        pytest.importorskip(engine)
    scope: dict = {"store": str(store.root)}
    exec(engine_blocks()[engine], scope)
    rows = [tuple(r.values()) if isinstance(r, dict) else tuple(r) for r in scope["rows"]]
    expected = posestore_sql(cli, store, PER_JOINT)
    assert {r[0] for r in expected} == {"coco", "ntu", "k400"}
    assert rows == expected


def test_daft_counts_what_posestore_counts(store, cli):
    daft = pytest.importorskip("daft")
    keypoints = daft.read_parquet(str(store.root / "keypoints" / "*" / "*" / "*.parquet"))
    rows = keypoints.groupby("dataset", "split").count("instance_id").sort(["dataset", "split"])
    got = [tuple(r.values()) for r in rows.to_pylist()]
    assert got == posestore_sql(
        cli, store, "SELECT dataset, split, count(*) FROM keypoints GROUP BY ALL ORDER BY ALL"
    )
    images = daft.read_parquet(str(store.root / "images" / "*" / "*" / "*.parquet"))
    assert images.count_rows() == store.sql("SELECT count(*) FROM images").fetchall()[0][0]
    assert images.schema()["split"].dtype == daft.DataType.string()


def test_ray_data_counts_what_posestore_counts(ray_cluster, store, cli):
    import ray

    keypoints = ray.data.read_parquet(str(store.root / "keypoints"))
    rows = keypoints.groupby(["dataset", "split"]).count().sort(["dataset", "split"]).take_all()
    got = [(r["dataset"], r["split"], r["count()"]) for r in rows]
    assert got == posestore_sql(
        cli, store, "SELECT dataset, split, count(*) FROM keypoints GROUP BY ALL ORDER BY ALL"
    )
    assert str(keypoints.schema().base_schema.field("split").type) == "string"
