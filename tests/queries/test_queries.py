"""The query layer, checked against independent computations on the real files and on synthetic
ones: views, stats, subset exports, YOLO pose, image export and path traversal, validate."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from conftest import CASES, real_dir
from strict import differences

from posestore import synthetic
from posestore.errors import StoreError
from posestore.formats import COCO17_JOINTS

SOURCES = [pytest.param("real", marks=pytest.mark.real), "synthetic"]


def val2017(kind: str, tmp_path: Path) -> Path:
    """COCO val2017, or a synthetic document under its name (a clone without ../shared)."""
    if kind == "real":
        return real_dir("coco_keypoints") / "person_keypoints_val2017.json"
    doc = synthetic.coco_keypoints(80, seed=5, crowd_fraction=0.05)
    assert any(a["iscrowd"] for a in doc["annotations"])  # the YOLO test leaves them out
    return synthetic.write_json(doc, tmp_path / "src" / "person_keypoints_val2017.json")


@pytest.fixture(params=SOURCES)
def coco_val(request, store, tmp_path):
    path = val2017(request.param, tmp_path)
    store.ingest(path, dataset="val")
    return store, json.loads(path.read_bytes())


def test_stats_match_a_plain_python_count_of_the_json(coco_val):
    store, doc = coco_val
    s = store.stats("val")["val"]
    rows, labelled, visible = Counter(), Counter(), Counter()
    for a in doc["annotations"]:
        for j, v in enumerate(a["keypoints"][2::3]):
            rows[j] += 1
            labelled[j] += v > 0
            visible[j] += v == 2
    got = {r["joint"]: r for r in s["joints"] if r["split"] == "val2017"}
    for j in range(17):
        assert (got[j]["rows"], got[j]["labelled"], got[j]["visible"]) == (
            rows[j],
            labelled[j],
            visible[j],
        )
        assert got[j]["name"] == COCO17_JOINTS[j]
    per_image = Counter(
        Counter(a["image_id"] for a in doc["annotations"]).get(im["id"], 0) for im in doc["images"]
    )
    assert {r["instances"]: r["images"] for r in s["instances_per_image"]} == dict(per_image)
    assert {r["split"] for r in s["instances_per_image"]} == {"val2017"}
    sizes = Counter(
        "small" if a["area"] < 32**2 else "medium" if a["area"] < 96**2 else "large"
        for a in doc["annotations"]
    )
    (by_split,) = s["size_classes"]
    assert {k: by_split[k] for k in ("small", "medium", "large")} == {
        k: sizes[k] for k in ("small", "medium", "large")
    }
    size = {im["id"]: (im["width"], im["height"]) for im in doc["images"]}
    outside = sum(
        1
        for a in doc["annotations"]
        for x, y, v in zip(a["keypoints"][0::3], a["keypoints"][1::3], a["keypoints"][2::3])
        if v > 0 and not (0 <= x < size[a["image_id"]][0] and 0 <= y < size[a["image_id"]][1])
    )
    assert s["keypoints_outside_image"][0]["outside"] == outside
    assert s["splits"][0]["images"] == len(doc["images"]) and s["splits"][0]["instances"] == len(
        doc["annotations"]
    )


def test_views_agree_with_the_json(coco_val):
    store, doc = coco_val
    named = store.sql(
        "SELECT joint_name, count(*) FROM joints WHERE dataset='val' GROUP BY 1"
    ).fetchall()
    assert dict(named) == {n: len(doc["annotations"]) for n in COCO17_JOINTS}
    joints = dict(
        store.sql(
            "SELECT instance_id, labelled FROM instance_joints WHERE dataset='val'"
        ).fetchall()
    )
    assert joints == {a["id"]: sum(v > 0 for v in a["keypoints"][2::3]) for a in doc["annotations"]}
    sizes = dict(
        store.sql(
            "SELECT instance_id, size_class FROM instance_sizes WHERE dataset='val'"
        ).fetchall()
    )
    assert sizes == {
        a["id"]: "small" if a["area"] < 1024 else "medium" if a["area"] < 9216 else "large"
        for a in doc["annotations"]
    }


def test_posesor_rank_view_is_typed(store, tmp_path):
    root = synthetic.posesor_root(tmp_path / "ps", n_images=6)
    store.ingest(root, dataset="ps")
    doc = json.loads((root / "assr" / "assr_train.json").read_bytes())
    got = dict(
        store.sql(
            "SELECT instance_id, saliency_rank FROM posesor_ranks WHERE dataset='ps-assr' AND split='train'"
        ).fetchall()
    )
    assert got == {a["id"]: a["visiting_order"] for a in doc["annotations"]}
    assert store.sql("SELECT typeof(saliency_rank) FROM posesor_ranks LIMIT 1").fetchall() == [
        ("INTEGER",)
    ]


def test_where_subset_equals_the_source_filtered_by_hand(coco_val, tmp_path):
    store, doc = coco_val
    (out,) = store.export("val", tmp_path / "even.json", where="image_id % 2 = 0")
    expected = {
        **doc,
        "images": [im for im in doc["images"] if im["id"] % 2 == 0],
        "annotations": [a for a in doc["annotations"] if a["image_id"] % 2 == 0],
    }
    assert differences(expected, json.loads(out.read_bytes())) == []


@pytest.mark.parametrize("kind", SOURCES)
def test_subset_keeps_source_order_when_parts_have_many_row_groups(
    kind, store, tmp_path, monkeypatch
):
    """DuckDB reads row groups in parallel and its join does not keep order: the reader must."""
    import pyarrow.parquet as pq

    from posestore import parquet

    monkeypatch.setattr(parquet, "_row_group_rows", lambda table: 7)
    path = val2017(kind, tmp_path)
    store.ingest(path, dataset="val")
    (part,) = (store.root / "instances").rglob("*.parquet")
    assert pq.ParquetFile(part).metadata.num_row_groups > 10
    doc = json.loads(path.read_bytes())
    (out,) = store.export("val", tmp_path / "third.json", where="image_id % 3 = 1")
    expected = {
        **doc,
        "images": [im for im in doc["images"] if im["id"] % 3 == 1],
        "annotations": [a for a in doc["annotations"] if a["image_id"] % 3 == 1],
    }
    assert differences(expected, json.loads(out.read_bytes())) == []


def _yolo_expected(doc: dict) -> dict[str, list[list[float]]]:
    """YOLO label lines computed from the COCO JSON with plain Python."""
    size = {im["id"]: (im["width"], im["height"]) for im in doc["images"]}
    names = {im["id"]: im["file_name"] for im in doc["images"]}
    out: dict[str, list[list[float]]] = {names[i]: [] for i in names}
    for a in doc["annotations"]:
        if a.get("iscrowd"):
            continue
        W, H = size[a["image_id"]]
        x, y, w, h = a["bbox"]
        x0, y0 = min(max(x, 0), W), min(max(y, 0), H)
        x1, y1 = min(max(x + w, 0), W), min(max(y + h, 0), H)
        if x1 <= x0 or y1 <= y0:
            continue
        line = [0, (x0 + x1) / 2 / W, (y0 + y1) / 2 / H, (x1 - x0) / W, (y1 - y0) / H]
        for kx, ky, v in zip(a["keypoints"][0::3], a["keypoints"][1::3], a["keypoints"][2::3]):
            if v > 0 and 0 <= kx <= W and 0 <= ky <= H:
                line += [kx / W, ky / H, v]
            else:
                line += [0, 0, 0]
        out[names[a["image_id"]]].append(line)
    return out


@pytest.mark.filterwarnings("ignore:.*one split")  # expected here; not what this test checks
def test_yolo_pose_export_matches_the_coco_json_line_by_line(coco_val, tmp_path):
    store, doc = coco_val
    out = tmp_path / "yolo"
    with pytest.warns(UserWarning, match="crowd annotations left out"):
        written = store.export("val", out, format="yolo-pose")
    yaml = (out / "data.yaml").read_text()
    assert "kpt_shape: [17, 3]" in yaml
    assert "flip_idx: [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]" in yaml
    expected = _yolo_expected(doc)
    split = "val2017"
    assert len(written) == 1 + len(doc["images"])
    for name, lines in expected.items():
        label = out / "labels" / split / name.replace(".jpg", ".txt")
        got = [[float(v) for v in ln.split()] for ln in label.read_text().splitlines()]
        assert len(got) == len(lines), name
        for g, e in zip(sorted(got), sorted(lines)):
            assert len(g) == 5 + 17 * 3
            assert g == pytest.approx(e, abs=1e-6)


@pytest.mark.filterwarnings("ignore:.*one split")  # expected here; not what this test checks
def test_yolo_pose_of_mixed_garments_shares_one_named_joint_space(store, tmp_path):
    csv_path = synthetic.fashionai_csv(tmp_path / "fa" / "train.csv", n_rows=20, images=True)
    store.ingest(csv_path, dataset="fa")
    out = tmp_path / "yolo"
    # the generator scatters some joints past the image edge: YOLO cannot say those
    with pytest.warns(UserWarning, match=r"\d+ joints outside their image written as 0 0 0"):
        store.export("fa", out, format="yolo-pose")
    yaml = (out / "data.yaml").read_text()
    assert "kpt_shape: [24, 3]" in yaml
    lines = [
        ln.split() for p in (out / "labels").rglob("*.txt") for ln in p.read_text().splitlines()
    ]
    assert len(lines) == 20 and all(len(ln) == 5 + 24 * 3 for ln in lines)
    assert all(0 <= float(v) <= 2 for ln in lines for v in ln[1:])


def test_images_copy_and_link_and_missing_ones_are_reported(store, tmp_path):
    csv_path = synthetic.fashionai_csv(tmp_path / "fa" / "train.csv", n_rows=8, images=True)
    rows = [ln.split(",")[0] for ln in csv_path.read_text().splitlines()[1:]]
    store.ingest(csv_path, dataset="fa")  # sizes are read from the image headers here
    (tmp_path / "fa" / rows[0]).unlink()
    with pytest.warns(UserWarning, match="1 of 8 images are missing"):
        store.export("fa", tmp_path / "copy" / "train.csv", images="copy")
    copied = sorted(
        p.relative_to(tmp_path / "copy").as_posix() for p in (tmp_path / "copy").rglob("*.jpg")
    )
    assert copied == sorted(r for r in rows[1:] if r.endswith(".jpg"))
    with pytest.warns(UserWarning):
        store.export("fa", tmp_path / "link", format="yolo-pose", images="link")
    linked = list((tmp_path / "link" / "images" / "train").rglob("*.*"))
    assert linked and all(p.is_symlink() for p in linked)


@pytest.mark.parametrize("name", ["../../evil.jpg", "/tmp/evil-abs.jpg", "a/../../evil.jpg"])
def test_a_file_name_that_escapes_out_never_writes_outside(store, tmp_path, name):
    doc = json.loads((CASES / "images_without_annotations.json").read_bytes())
    doc["images"][1]["file_name"] = name
    store.ingest(synthetic.write_json(doc, tmp_path / "src" / "x.json"), dataset="x")
    out = tmp_path / "deep" / "out"
    before = set(tmp_path.rglob("*"))
    with pytest.raises(StoreError, match="outside"):
        store.export("x", out, format="yolo-pose")
    (tmp_path / "src" / "images").mkdir()
    for im in doc["images"]:
        if ".." not in im["file_name"] and not im["file_name"].startswith("/"):
            (tmp_path / "src" / "images" / im["file_name"]).write_bytes(b"x")
    with pytest.raises(StoreError, match="outside"):
        store.export("x", out / "x.json", images="copy", image_root=tmp_path / "src" / "images")
    after = set(tmp_path.rglob("*"))
    escaped = [p for p in after - before if "evil" in p.name]
    assert escaped == []
    assert not (tmp_path / "evil.jpg").exists()


@pytest.mark.real
def test_validate_reports_real_defects_and_exit_codes(tmp_path, cli):
    cvat = real_dir("cvat_coco") / "cvat_tracks_3skeletons_person_keypoints_Train.json"
    r = cli("validate", str(cvat), "--json")
    assert r.exit_code == 1
    report = json.loads(r.stdout)
    (findings,) = report["datasets"].values()
    by = {f["check"]: f for f in findings}
    assert by["skeleton_beyond_joints"]["severity"] == "error"
    assert by["skeleton_beyond_joints"]["examples"][0]["bone"] == [16, 13]
    hand = real_dir("coco_keypoints") / "handmade18kp_person_keypoints_val201701.json"
    r = cli("validate", str(hand), "--json")
    assert r.exit_code == 0
    (findings,) = json.loads(r.stdout)["datasets"].values()
    assert {f["check"]: f["count"] for f in findings}["num_keypoints_disagrees"] == 99
    bad = real_dir("coco_keypoints") / "handmade18kp_person_keypoints_val2017_imagekey.json"
    r = cli("validate", str(bad))
    assert r.exit_code == 1 and "unreadable" in r.stdout


def test_validate_a_dataset_of_the_store(store, tmp_path, monkeypatch):
    doc = json.loads((CASES / "odd_types_and_missing_fields.json").read_bytes())
    store.ingest(synthetic.write_json(doc, tmp_path / "odd.json"), dataset="odd")
    report = store.validate("odd")
    checks = {f["check"]: f["count"] for f in report["datasets"]["odd"]}
    assert checks["unknown_category"] == 1  # category_id 0
    assert checks["empty_segmentation"] == 1  # segmentation: []
    assert report["errors"] >= 1


def test_stats_cli_prints_json_and_writes_html(store, tmp_path, monkeypatch, cli):
    monkeypatch.setenv("POSESTORE_STORE", str(store.root))
    store.ingest(
        synthetic.write_json(synthetic.coco_keypoints(40, seed=2), tmp_path / "c.json"), dataset="c"
    )
    html = tmp_path / "stats.html"
    r = cli("stats", "c", "--json", "--html", str(html))
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)["c"]
    assert s["splits"][0]["images"] == 40
    page = html.read_text()
    assert page.count("<img src='data:image/png;base64,") == 3
    r = cli("stats")
    assert r.exit_code == 0 and "joints: labelled and visible rates" in r.stdout
