"""The command line: ingest, ls, rm, sql (table, --csv, --json, --parquet), export."""

from __future__ import annotations

import csv
import io
import json
import re

import pyarrow.parquet as pq
import pytest
from strict import differences

from posestore import synthetic


@pytest.fixture
def cli_store(tmp_path, monkeypatch, cli):
    monkeypatch.setenv("POSESTORE_STORE", str(tmp_path / "store"))
    src = synthetic.write_json(
        synthetic.coco_keypoints(30, seed=4), tmp_path / "person_keypoints_val2017.json"
    )
    r = cli("ingest", str(src), "--dataset", "coco")
    assert r.exit_code == 0, r.output
    return tmp_path, src


def test_ingest_reports_what_it_wrote(cli_store, cli):
    tmp, src = cli_store
    doc = json.loads(src.read_bytes())
    r = cli("ingest", str(src), "--dataset", "again")
    assert r.exit_code == 0
    assert f"{len(doc['images'])} images, {len(doc['annotations'])} instances" in r.output
    assert "splits val2017" in r.output


def test_ls_lists_datasets_and_rm_removes_them(cli_store, cli):
    r = cli("ls")
    assert r.exit_code == 0 and "coco" in r.output
    r = cli("rm", "coco")
    assert r.exit_code == 0
    assert "no datasets" in cli("ls").output
    r = cli("rm", "coco")
    assert r.exit_code == 1


def test_sql_prints_csv_json_and_parquet(cli_store, cli):
    tmp, src = cli_store
    doc = json.loads(src.read_bytes())
    crowd = sum(a["iscrowd"] for a in doc["annotations"])
    q = "SELECT iscrowd, count(*) AS n FROM instances GROUP BY 1 ORDER BY 1"
    rows = list(csv.DictReader(io.StringIO(cli("sql", q, "--csv").stdout)))
    assert {int(r["iscrowd"]): int(r["n"]) for r in rows} == {
        0: len(doc["annotations"]) - crowd,
        **({1: crowd} if crowd else {}),
    }
    as_json = json.loads(cli("sql", q, "--json").stdout)
    assert as_json == [{"iscrowd": int(r["iscrowd"]), "n": int(r["n"])} for r in rows]
    out = tmp / "r.parquet"
    assert cli("sql", q, "--parquet", str(out)).exit_code == 0
    assert pq.read_table(out).to_pylist() == as_json
    table = cli("sql", "SELECT count(*) AS n FROM images")
    assert str(len(doc["images"])) in table.stdout


def test_sql_error_is_one_line(cli_store, cli):
    r = cli("sql", "SELECT * FROM nowhere")
    assert r.exit_code == 1
    assert "nowhere" in r.stderr and "Traceback" not in r.stderr


def test_export_whole_dataset_and_a_selection(cli_store, cli):
    tmp, src = cli_store
    doc = json.loads(src.read_bytes())
    r = cli("export", "coco", str(tmp / "all.json"))
    assert r.exit_code == 0, r.output
    assert differences(doc, json.loads((tmp / "all.json").read_bytes())) == []
    r = cli("export", "coco", str(tmp / "even.json"), "--where", "image_id % 2 = 0")
    assert r.exit_code == 0, r.output
    even = json.loads((tmp / "even.json").read_bytes())
    expected = {
        **doc,
        "images": [im for im in doc["images"] if im["id"] % 2 == 0],
        "annotations": [a for a in doc["annotations"] if a["image_id"] % 2 == 0],
    }
    assert differences(expected, even) == []


def test_export_with_a_query_selects_images_by_their_instances(cli_store, cli):
    tmp, src = cli_store
    doc = json.loads(src.read_bytes())
    q = "SELECT image_id FROM instances WHERE num_keypoints >= 10 GROUP BY 1 HAVING count(*) >= 2"
    r = cli("export", "coco", str(tmp / "q.json"), "--query", q)
    assert r.exit_code == 0, r.output
    per_image: dict[int, int] = {}
    for a in doc["annotations"]:
        if a["num_keypoints"] >= 10:
            per_image[a["image_id"]] = per_image.get(a["image_id"], 0) + 1
    keep = {i for i, n in per_image.items() if n >= 2}
    got = json.loads((tmp / "q.json").read_bytes())
    assert {im["id"] for im in got["images"]} == keep
    assert len(got["annotations"]) == sum(a["image_id"] in keep for a in doc["annotations"])


COMMANDS = (
    "ingest",
    "ls",
    "rm",
    "sql",
    "stats",
    "validate",
    "check",
    "eval",
    "skeleton",
    "export",
    "view",
)


def test_help_explains_every_command(cli):
    """Each command is a line of --help's command list (a whole word: "rm" is in "format"),
    and each command's own --help ends with an example of it."""
    r = cli("--help")
    listed = re.findall(r"^    (\w+)\b", r.output, flags=re.MULTILINE)  # "    ingest   help…"
    assert listed == list(COMMANDS)
    for command in COMMANDS:
        own = cli(command, "--help").output
        assert re.search(rf"^example: posestore {command}\b", own, flags=re.MULTILINE), command
    assert "--where" in cli("export", "--help").output


def test_store_option_goes_before_or_after_the_command(cli_store, cli, monkeypatch):
    tmp, _ = cli_store
    monkeypatch.delenv("POSESTORE_STORE")
    before = cli("--store", tmp / "store", "sql", "SELECT count(*) AS n FROM images", "--csv")
    after = cli("sql", "SELECT count(*) AS n FROM images", "--csv", "--store", tmp / "store")
    assert before.exit_code == after.exit_code == 0 and before.stdout == after.stdout == "n\n30\n"


def test_layout_names_every_table_of_the_schema():
    from posestore import layout, schema

    assert tuple(schema.SCHEMAS) == layout.TABLES


def test_skeleton_lists_the_registry_and_sets_a_dataset(cli_store, cli):
    tmp, _ = cli_store
    r = cli("skeleton")
    assert r.exit_code == 0 and "crowdpose14" in r.output and "halpe136" in r.output
    r = cli("skeleton", "coco")
    assert r.exit_code == 0 and "coco17" in r.output
    r = cli("skeleton", "coco", "--set", "posetrack18")
    assert r.exit_code == 0, r.output
    assert "posetrack18" in cli("skeleton", "coco").output
    r = cli("skeleton", "coco", "--set", "crowdpose14")
    assert r.exit_code == 1 and "has 17 joints; skeleton 'crowdpose14' has 14" in r.stderr


def test_sql_streams_csv_and_json_and_keeps_duckdb_hints(cli_store, cli):
    tmp, _ = cli_store
    r = cli("sql", "SELECT image_id, x FROM keypoints ORDER BY instance_id LIMIT 3", "--csv")
    lines = r.stdout.splitlines()
    assert r.exit_code == 0 and lines[0] == "image_id,x" and len(lines) == 4
    assert lines[1].split(",", 1)[1].startswith('"[')  # a pose list as JSON in one cell
    r = cli("sql", "SELECT image_id FROM images ORDER BY 1 LIMIT 2", "--json")
    assert r.exit_code == 0 and len(json.loads(r.stdout)) == 2
    r = cli("sql", "SELECT count(*) FROM keypoint")
    assert r.exit_code == 1 and 'Did you mean "keypoints"' in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = cli("sql", "SELECT image_id FROM images", "--limit", "5")
    assert r.exit_code == 0 and "the first 5 rows; more not shown" in r.stdout


def test_sql_parquet_refuses_to_write_inside_the_store(cli_store, cli):
    tmp, _ = cli_store
    target = tmp / "store" / "images" / "mine.parquet"
    r = cli("sql", "SELECT 1 AS x", "--parquet", target)
    assert r.exit_code == 1 and "inside the store" in r.stderr and not target.exists()
    r = cli("sql", "SELECT 1 AS x", "--parquet", tmp / "out.parquet")
    assert r.exit_code == 0 and (tmp / "out.parquet").is_file()
