"""A store damaged by hand or by a disk: queries and ``ls`` name the damaged dataset and
table and serve the others; ``posestore check`` reports the damage; ``rm`` or a re-ingest
repairs it. Each kind of damage on a synthetic pair of datasets (a COCO file and a PYSKL
pickle) and on a real one (val2017 and the NTU pickle of SOURCES.md)."""

from __future__ import annotations

import json
import os
import pickle
import warnings
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import real_dir

import posestore
from posestore import snapshot as snapshots
from posestore import synthetic
from posestore.errors import StoreDamaged, StoreError

HEALTHY, DAMAGED = "people", "clips"


@pytest.fixture(params=["synthetic", pytest.param("real", marks=pytest.mark.real)])
def pair(request, tmp_path_factory, monkeypatch):
    """A store with a COCO dataset (kept whole) and a PYSKL one (to be damaged); the COCO
    source's counts, read from its JSON."""
    base = tmp_path_factory.mktemp("pair")
    if request.param == "real":
        coco = real_dir("coco_keypoints") / "person_keypoints_val2017.json"
        clips = real_dir("pyskl") / "lzx_ntu60_hrnet.pkl"
    else:
        coco = synthetic.write_json(synthetic.coco_keypoints(25, seed=3), base / "people.json")
        clips = synthetic.pyskl_pickle(base / "clips.pkl", synthetic.pyskl_clips(6, seed=3))
    store = posestore.open(base / "store")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # what the readers repair is tested elsewhere
        store.ingest(coco, dataset=HEALTHY)
        store.ingest(clips, dataset=DAMAGED)
    store.close()
    doc = json.loads(coco.read_bytes())
    monkeypatch.setenv("POSESTORE_STORE", str(base / "store"))
    return base / "store", {"images": len(doc["images"]), "instances": len(doc["annotations"])}


def current(root: Path) -> snapshots.Snapshot:
    return snapshots.read(root, snapshots.latest_seq(root))


def a_file(root: Path, table: str) -> Path:
    return current(root).files(table, DAMAGED)[0]


def rewrite_manifest(root: Path, change) -> None:
    path = snapshots.snapshot_path(root, snapshots.latest_seq(root))
    doc = orjson.loads(path.read_bytes())
    change(doc["tables"])
    path.write_text(json.dumps(doc))  # json: writes integers beyond 64 bits too


def cut(root: Path) -> str:
    f = a_file(root, "keypoints")
    os.truncate(f, f.stat().st_size // 2)
    return "keypoints"


def deleted(root: Path) -> str:
    f = a_file(root, "instances")
    f.unlink()
    return "instances"


def garbage_of_the_same_size(root: Path) -> str:
    """Stat cannot tell: the engine's first read of the footer finds it."""
    f = a_file(root, "images")
    size = f.stat().st_size
    with f.open("r+b") as fh:
        fh.write(b"\xa5" * size)
    return "images"


def no_catalog_entry(root: Path) -> str:
    rewrite_manifest(root, lambda tables: tables["datasets"].pop(DAMAGED))
    return "datasets"


def rewrite_part(root: Path, table: str, change) -> None:
    """Write the damaged dataset's first file of ``table`` again, its rows ``change``d, and
    record its new size in the manifest: only what the rows say can tell."""
    f = a_file(root, table)
    pq.write_table(change(pq.read_table(f)), f, write_page_checksum=True)

    def resize(tables):
        entry = tables[table][DAMAGED]
        entry["bytes"] = [p.stat().st_size for p in current(root).files(table, DAMAGED)]

    rewrite_manifest(root, resize)


def an_empty_catalog_file(root: Path) -> str:
    """The catalog file holds no row."""
    rewrite_part(root, "datasets", lambda rows: rows.slice(0, 0))
    return "datasets"


def an_empty_categories_file(root: Path) -> str:
    """Only the catalog's count (read from the footers) tells."""
    assert pq.read_metadata(a_file(root, "categories")).num_rows > 0
    rewrite_part(root, "categories", lambda rows: rows.slice(0, 0))
    return "categories"


def a_doubled_catalog_row(root: Path) -> str:
    rewrite_part(root, "datasets", lambda rows: pa.concat_tables([rows, rows]))
    return "datasets"


def garbage_catalog(root: Path) -> str:
    """Found when a footer is read, in the one file every command reads first."""
    f = a_file(root, "datasets")
    with f.open("r+b") as fh:
        fh.write(b"\x5a" * f.stat().st_size)
    return "datasets"


def flipped_page(root: Path) -> str:
    """A flipped bit inside a data page of ``instances``: the footer reads, the checksum
    does not match (whether DuckDB's decoder notices depends on the byte)."""
    f = a_file(root, "instances")
    meta = pq.ParquetFile(f).metadata
    column = meta.row_group(0).column(meta.num_columns - 1)
    start = column.dictionary_page_offset if column.has_dictionary_page else None
    at = (start or column.data_page_offset) + column.total_compressed_size - 2
    data = bytearray(f.read_bytes())
    data[at] ^= 0x10
    f.write_bytes(bytes(data))
    return "instances"


KINDS = [
    cut,
    deleted,
    garbage_of_the_same_size,
    no_catalog_entry,
    an_empty_catalog_file,
    an_empty_categories_file,
    a_doubled_catalog_row,
]
EVERY_KIND = [*KINDS, garbage_catalog, flipped_page]


def one_warning(stderr: str, table: str) -> None:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("warning: store damaged"), stderr
    assert f"dataset {DAMAGED!r}" in lines[0] and f"({table}:" in lines[0], stderr


@pytest.mark.parametrize("damage", KINDS, ids=lambda f: f.__name__)
def test_queries_and_ls_name_the_damage_and_serve_the_other_datasets(pair, cli, damage, tmp_path):
    root, counts = pair
    table = damage(root)

    r = cli("ls")
    assert r.exit_code == 0 and HEALTHY in r.stdout and DAMAGED not in r.stdout
    one_warning(r.stderr, table)

    r = cli("sql", "SELECT dataset, count(*) AS n FROM instances GROUP BY 1", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout) == [{"dataset": HEALTHY, "n": counts["instances"]}]
    one_warning(r.stderr, table)

    r = cli("export", HEALTHY, tmp_path / "out.json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads((tmp_path / "out.json").read_bytes())
    assert (len(doc["images"]), len(doc["annotations"])) == (counts["images"], counts["instances"])

    before = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())
    r = cli("export", DAMAGED, tmp_path / "clips.pkl")
    assert r.exit_code == 1 and not (tmp_path / "clips.pkl").exists()
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), r.stderr
    assert f"dataset {DAMAGED!r} is damaged ({table}:" in lines[0]
    assert sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file()) == before

    r = cli("check")
    assert r.exit_code == 1
    said = [ln for ln in r.stdout.splitlines() if ln.startswith("damaged:")]
    assert said and all(f"dataset {DAMAGED!r}" in ln for ln in said), r.stdout
    assert any(f"table {table}" in ln for ln in said), r.stdout

    assert cli("rm", DAMAGED).exit_code == 0
    r = cli("check")
    assert r.exit_code == 0 and "nothing damaged" in r.stdout, r.stdout


@pytest.mark.parametrize("damage", KINDS, ids=lambda f: f.__name__)
def test_the_python_api_warns_and_serves_the_other_datasets(pair, damage):
    root, counts = pair
    table = damage(root)
    store = posestore.open(root)
    with pytest.warns(StoreDamaged, match=rf"dataset '{DAMAGED}' .*\({table}:"):
        rows = store.sql("SELECT dataset, count(*) FROM images GROUP BY 1").fetchall()
        names = store.datasets()["dataset"].to_pylist()
    assert rows == [(HEALTHY, counts["images"])] and names == [HEALTHY]
    assert store.dataset_names() == [HEALTHY]
    with pytest.raises(StoreError, match=f"dataset '{DAMAGED}' is damaged"):
        store.export(DAMAGED, root.parent / "clips.pkl")
    store.close()


@pytest.mark.parametrize("damage", KINDS, ids=lambda f: f.__name__)
def test_a_whole_re_ingest_repairs_and_a_split_ingest_is_refused(pair, cli, damage, tmp_path):
    root, _ = pair
    damage(root)
    clips = synthetic.pyskl_pickle(tmp_path / "again.pkl", synthetic.pyskl_clips(4, seed=9))
    r = cli("ingest", clips, "--dataset", DAMAGED, "--split", "extra")
    assert r.exit_code == 1 and f"dataset {DAMAGED!r} is damaged" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = cli("ingest", clips, "--dataset", DAMAGED)
    assert r.exit_code == 0, r.stderr
    assert cli("check").exit_code == 0
    top = pickle.loads(clips.read_bytes())  # written above by the synthetic module
    clips_in = len(top["annotations"] if isinstance(top, dict) else top)
    r = cli("sql", f"SELECT count(*) AS n FROM images WHERE dataset = '{DAMAGED}'", "--json")
    assert json.loads(r.stdout) == [{"n": clips_in}] and "warning" not in r.stderr


def test_a_flipped_bit_in_a_page_is_found_by_its_checksum(pair, cli):
    """The footer is whole, so reads that skip the page serve; ``check`` decodes every page
    and verifies its CRC (written by the store), ``--quick`` reads footers only."""
    root, counts = pair
    f = a_file(root, "images")
    meta = pq.ParquetFile(f).metadata
    column = meta.row_group(0).column(meta.num_columns - 1)
    start = column.dictionary_page_offset if column.has_dictionary_page else None
    start = start or column.data_page_offset
    at = start + column.total_compressed_size - 2  # the last page's data, not a header
    data = bytearray(f.read_bytes())
    data[at] ^= 0x10
    f.write_bytes(bytes(data))
    assert cli("check", "--quick").exit_code == 0
    r = cli("check")
    assert r.exit_code == 1
    assert f"dataset {DAMAGED!r}, table images" in r.stdout and "CRC" in r.stdout, r.stdout
    r = cli("check", HEALTHY)
    assert r.exit_code == 0 and "1 dataset," in r.stdout


def test_catalog_counts_that_disagree_with_the_rows_are_reported(pair, cli):
    root, _ = pair
    total = sum(pq.read_metadata(p).num_rows for p in current(root).files("images", DAMAGED))
    rewrite_part(root, "images", lambda rows: rows.slice(1))
    r = cli("check")
    assert r.exit_code == 1
    assert (
        f"dataset {DAMAGED!r}, table images: holds {total - 1:,} rows, "
        f"the catalog says {total:,}" in r.stdout
    ), r.stdout


def test_a_garbage_manifest_is_one_line_for_every_command(pair, cli):
    root, _ = pair
    path = snapshots.snapshot_path(root, snapshots.latest_seq(root))
    path.write_bytes(b'{"seq": 3, "tables": {"images": [1, 2')
    for args in (["ls"], ["sql", "SELECT 1 FROM images"], ["export", HEALTHY, "x.json"]):
        r = cli(*args)
        lines = r.stderr.strip().splitlines()
        assert r.exit_code == 1 and len(lines) == 1, (args, r.stderr)
        assert "not a readable manifest" in lines[0] and path.name in lines[0]
    r = cli("check")
    assert r.exit_code == 1 and path.name in r.stdout and "not a readable manifest" in r.stdout


def test_hive_folders_out_of_date_are_reported_and_relinked(pair, cli):
    root, counts = pair
    link = next((root / "images" / f"dataset={HEALTHY}").rglob("*.parquet"))
    link.unlink()
    (root / "images" / "dataset=stray").mkdir()
    r = cli("sql", "SELECT count(*) AS n FROM images WHERE dataset = 'people'", "--json")
    assert json.loads(r.stdout) == [{"n": counts["images"]}]  # posestore reads its version
    r = cli("check")
    said = [ln for ln in r.stdout.splitlines() if ln.startswith("damaged:")]
    assert r.exit_code == 1 and len(said) == 2, r.stdout
    assert any(f"dataset {HEALTHY!r}, table images" in ln and "Hive" in ln for ln in said)
    assert any("dataset 'stray', table images" in ln for ln in said)
    r = cli("check", "--relink")
    assert r.exit_code == 0 and "linked the Hive folders again" in r.stderr, r.output
    assert "nothing damaged" in r.stdout
    import duckdb

    glob = str(root / "images" / "**" / "*.parquet")
    n = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{glob}', hive_partitioning = true) "
        f"WHERE dataset = '{HEALTHY}'"
    ).fetchall()[0][0]
    assert n == counts["images"] and not (root / "images" / "dataset=stray").exists()


def test_check_of_a_whole_store_reads_every_row(pair, cli):
    """The rows ``check`` read equal the rows the tables hold, counted by DuckDB alone."""
    root, _ = pair
    import duckdb

    total = sum(
        duckdb.sql(f"SELECT count(*) FROM read_parquet('{f}')").fetchall()[0][0]
        for _, _, f, _ in current(root).entries()
    )
    r = cli("check", "--json")
    doc = json.loads(r.stdout)
    assert r.exit_code == 0 and doc["damage"] == [] and doc["rows"] == total
    assert doc["files"] == len(list(current(root).entries()))


@pytest.mark.parametrize("damage", EVERY_KIND, ids=lambda f: f.__name__)
def test_every_command_is_one_line_or_serves_the_others(pair, cli, damage, tmp_path):
    """No traceback, whatever the command and the damage: a command on the damaged dataset
    is one error line (or, for a page only ``check`` reads, a right answer); one over the
    whole store serves the others."""
    root, counts = pair
    damage(root)
    runs = {
        "stats": ["stats", "--json"],
        "stats damaged": ["stats", DAMAGED, "--json"],
        "export damaged": ["export", DAMAGED, tmp_path / "c.pkl"],
        "export damaged where": ["export", DAMAGED, tmp_path / "w.pkl", "--where", "true"],
        "view damaged": ["view", DAMAGED, tmp_path / "v.html"],
        "validate damaged": ["validate", DAMAGED],
        "sql damaged": ["sql", f"SELECT count(*) FROM instances WHERE dataset = '{DAMAGED}'"],
    }
    for name, args in runs.items():
        r = cli(*args)
        assert "Traceback" not in r.output, (name, r.output)
        errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
        if r.exit_code == 1:
            assert len(errors) == 1 and r.stderr.strip().splitlines()[-1] == errors[0], name
        else:
            assert r.exit_code == 0 and not errors, (name, r.output)
        if name == "stats":
            assert r.exit_code == 0
            assert list(json.loads(r.stdout)) in ([HEALTHY], [DAMAGED, HEALTHY]), name
            people = json.loads(r.stdout)[HEALTHY]
            assert json.dumps(people).count(str(counts["images"])) >= 1
        elif damage is not flipped_page and name != "sql damaged":
            assert r.exit_code == 1 and f"dataset {DAMAGED!r}" in errors[0], (name, r.output)


def test_a_manifest_with_values_of_the_wrong_type_is_one_line(pair, cli):
    root, _ = pair
    rewrite_manifest(root, lambda tables: tables["images"][HEALTHY].update(files=[1]))
    for args in (["ls"], ["check"]):
        r = cli(*args)
        assert r.exit_code == 1 and "Traceback" not in r.output, r.output
        assert "not a readable manifest" in r.output and "not a string" in r.output


def test_a_damaged_dataset_does_not_keep_the_others_hive_folders_behind(pair, cli):
    """A sync (after a crash: ``synced`` behind) links every dataset it can, leaves the
    damaged one's folders as they were, and says which."""
    root, counts = pair
    a_file(root, "keypoints").unlink()
    import shutil

    shutil.rmtree(root / "images" / f"dataset={HEALTHY}")
    (root / ".posestore" / "synced").write_text("0")
    r = cli("ls")
    assert r.exit_code == 0 and HEALTHY in r.stdout
    assert f"keypoints/dataset={DAMAGED}" in r.stderr and "were left as they were" in r.stderr
    import duckdb

    glob = str(root / "images" / f"dataset={HEALTHY}" / "*" / "*.parquet")
    n = duckdb.sql(f"SELECT count(*) FROM read_parquet('{glob}')").fetchall()[0][0]
    assert n == counts["images"]


def test_check_names_a_folder_that_is_no_store_and_relink_keeps_json_clean(pair, cli, tmp_path):
    r = cli("--store", tmp_path, "check")
    assert r.exit_code == 1 and "no store" in r.stderr
    root, _ = pair
    link = next((root / "keypoints" / f"dataset={HEALTHY}").rglob("*.parquet"))
    link.unlink()
    r = cli("check", "--relink", "--json")
    doc = json.loads(r.stdout)
    assert r.exit_code == 0 and doc["damage"] == [] and "linked" in r.stderr


def flip(path: Path, at: int, bit: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 1 << bit
    path.write_bytes(bytes(data))


def test_pages_the_engine_cannot_decode_are_one_line_and_the_others_are_served(
    tmp_path_factory, cli, monkeypatch
):
    """Bits flipped at seeded random places in the pages of every table of a dataset: DuckDB
    fails in many ways (``Out of buffer``, a bad encoding, a short read) or decodes garbage.
    Whatever it does, store-wide stats serve the healthy dataset with its counts, and a
    command on the damaged one is an answer or one error line naming it."""
    import random
    import shutil

    base = tmp_path_factory.mktemp("flips")
    coco = synthetic.write_json(synthetic.coco_keypoints(25, seed=3), base / "people.json")
    clips = synthetic.pyskl_pickle(base / "clips.pkl", synthetic.pyskl_clips(6, seed=3))
    whole = base / "whole"
    store = posestore.open(whole)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        store.ingest(coco, dataset=HEALTHY)
        store.ingest(clips, dataset=DAMAGED)
    store.close()
    rng = random.Random(16)
    places = []
    for table in ("images", "instances", "keypoints", "frames", "categories"):
        f = current(whole).files(table, DAMAGED)[0]
        meta = pq.ParquetFile(f).metadata
        for i in rng.sample(range(meta.num_columns), min(3, meta.num_columns)):
            c = meta.row_group(0).column(i)
            start = (c.dictionary_page_offset if c.has_dictionary_page else None) or (
                c.data_page_offset
            )
            places.append((f.relative_to(whole), start + rng.randrange(c.total_compressed_size)))
    root = base / "store"
    monkeypatch.setenv("POSESTORE_STORE", str(root))
    named = 0
    for rel, at in places:
        shutil.rmtree(root, ignore_errors=True)
        shutil.copytree(whole, root)
        flip(root / rel, at, rng.randrange(8))
        r = cli("stats", "--json")
        assert r.exit_code == 0 and "Traceback" not in r.output, (rel, at, r.output)
        people = json.loads(r.stdout)[HEALTHY]
        assert sum(s["images"] for s in people["splits"]) == 25, (rel, at)
        if DAMAGED not in json.loads(r.stdout):  # left out, and said once
            one_warning(r.stderr, rel.parts[3])
        for args in (
            ["validate", DAMAGED],
            ["stats", DAMAGED],
            ["export", DAMAGED, base / "o.pkl"],
        ):
            r = cli(*args)
            assert "Traceback" not in r.output, (rel, at, args, r.output)
            errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
            if r.exit_code == 1:
                assert len(errors) == 1 and f"dataset {DAMAGED!r}" in errors[0], (rel, at, r.stderr)
                named += 1
            else:
                assert r.exit_code == 0 and not errors, (rel, at, args, r.output)
            if (base / "o.pkl").exists():
                (base / "o.pkl").unlink()
    assert named >= 1, "some flips are found by the reads, not only by check"


@pytest.mark.parametrize("where", ["store", "dataset"])
def test_a_read_that_fails_without_naming_a_file_checks_the_pages(pair, monkeypatch, where):
    """An engine error that names no file (``Out of buffer``), or garbage values a query
    trips over: the read checks its files' pages, marks the damaged dataset and runs again
    without it; on a healthy store the error is the read's own and goes through as it is."""
    import duckdb
    from posestore.queries import stats

    root, counts = pair
    real_one = stats._one

    def trips(store, d):
        if d == DAMAGED:
            raise duckdb.Error("Out of buffer")
        return real_one(store, d)

    monkeypatch.setattr(stats, "_one", trips)
    store = posestore.open(root)
    with pytest.raises(duckdb.Error, match="Out of buffer"):
        store.stats(DAMAGED if where == "dataset" else None)
    assert store.dataset_names() == sorted([HEALTHY, DAMAGED])  # nothing marked
    store.close()

    f = a_file(root, "instances")
    meta = pq.ParquetFile(f).metadata
    c = meta.row_group(0).column(meta.num_columns - 1)
    start = (c.dictionary_page_offset if c.has_dictionary_page else None) or c.data_page_offset
    flip(f, start + c.total_compressed_size - 2, 4)
    store = posestore.open(root)
    with pytest.warns(StoreDamaged, match=rf"dataset '{DAMAGED}' .*\(instances:.*CRC"):
        if where == "store":
            result = store.stats()
            assert list(result) == [HEALTHY]
            assert sum(s["images"] for s in result[HEALTHY]["splits"]) == counts["images"]
        else:
            with pytest.raises(StoreError, match=f"dataset '{DAMAGED}' is damaged"):
                store.stats(DAMAGED)
    store.close()


def test_query_errors_are_not_taken_for_damage():
    import duckdb

    from posestore.connect import query_error, reading_failed

    mistakes = [
        "SELEC 1",
        "SELECT nope FROM range(1)",
        "SELECT * FROM no_table",
        "SELECT 'a'::INT",
        "SELECT regexp_matches('a', '[')",
        "SELECT json_extract('a', '$.x')",
        "SELECT (SELECT range FROM range(2))",
        "SELECT * FROM read_csv('/no/such/ids.csv')",
        "SELECT error('mine')",
    ]
    for sql in mistakes:
        with pytest.raises(duckdb.Error) as caught:
            duckdb.sql(sql).fetchall()
        assert query_error(caught.value) and not reading_failed(caught.value), sql
    assert reading_failed(duckdb.Error("Out of buffer"))
    assert reading_failed(
        duckdb.InvalidInputException("Failed to read file: ZSTD Decompression failure")
    )
    assert not reading_failed(ValueError("Out of buffer"))


@pytest.mark.parametrize(
    "where",
    [
        "no_such_column > 1",
        "regexp_matches(file_name, '[')",
        "json_extract(file_name, '$.x') IS NULL",
        "image_id IN (SELECT * FROM read_csv('/no/such/ids.csv'))",
    ],
)
def test_a_query_mistake_is_one_line_and_reads_no_page(pair, cli, tmp_path, monkeypatch, where):
    from posestore import check

    def no_page(*_):
        raise AssertionError("a query's mistake must not check the store's pages")

    monkeypatch.setattr(check, "read_pages", no_page)
    r = cli("export", HEALTHY, tmp_path / "o.json", "--where", where)
    lines = r.stderr.strip().splitlines()
    assert r.exit_code == 1 and len(lines) == 1 and lines[0].startswith("error:"), r.output
    assert "damaged" not in r.stderr and "could not be read" not in r.stderr, r.stderr
    r = cli("sql", f"SELECT count(*) FROM images WHERE {where}")
    lines = r.stderr.strip().splitlines()
    assert r.exit_code == 1 and len(lines) == 1 and "could not be read" not in r.stderr, r.output


def test_a_healthy_store_of_every_kind_is_never_taken_for_damaged(tmp_path, cli, monkeypatch):
    """Every format, a split re-ingest, a skeleton set, predictions and their evaluation:
    the catalog's counts agree with the footers, and no read marks anything."""
    store = posestore.open(tmp_path / "store")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, path in synthetic.demo_sources(tmp_path / "sources").items():
            store.ingest(path, dataset=name)
        doc = synthetic.coco_keypoints(20, seed=5)
        val = synthetic.write_json(doc, tmp_path / "person_keypoints_val2017.json")
        store.ingest(val, dataset="coco", split="val2017")
        results = tmp_path / "results.json"
        results.write_text(json.dumps(synthetic.coco_predictions(doc, seed=2)))
        store.ingest(results, format="coco-results", ground_truth="coco", dataset="hrnet")
        store.eval("hrnet")
        store.set_skeleton("cvat", "coco17")
    store.close()
    store = posestore.open(tmp_path / "store")
    with warnings.catch_warnings():
        warnings.simplefilter("error", StoreDamaged)
        names = store.dataset_names()
        assert len(names) == 9 and store.datasets().num_rows == 9  # posesor: two
        assert set(store.stats()) == set(names)
    store.close()
    monkeypatch.setenv("POSESTORE_STORE", str(tmp_path / "store"))
    r = cli("check")
    assert r.exit_code == 0 and "nothing damaged" in r.stdout, r.stdout
    r = cli("sql", "SELECT count(DISTINCT dataset) AS n FROM images", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout) == [{"n": 9}] and not r.stderr


def test_check_refuses_a_folder_whose_hive_like_folders_are_no_tables(cli, tmp_path):
    (tmp_path / "photos" / "dataset=holiday").mkdir(parents=True)
    before = sorted(tmp_path.rglob("*"))
    r = cli("--store", tmp_path, "check")
    assert r.exit_code == 1 and "no store" in r.stderr, r.output
    assert sorted(tmp_path.rglob("*")) == before


def test_sizes_beyond_any_file_are_a_damaged_manifest(pair, cli):
    root, _ = pair
    rewrite_manifest(root, lambda tables: tables["images"][DAMAGED].update(bytes=[10**30]))
    for args in (["ls"], ["rm", DAMAGED], ["check"]):
        r = cli(*args)
        assert r.exit_code == 1 and "Traceback" not in r.output, (args, r.output)
        assert "not a readable manifest" in r.output and "byte count" in r.output, r.output


def test_removing_another_dataset_says_the_damage_once(pair, cli):
    root, _ = pair
    deleted(root)
    r = cli("rm", HEALTHY)
    assert r.exit_code == 0 and f"removed {HEALTHY}" in r.stdout
    one_warning(r.stderr, "instances")
