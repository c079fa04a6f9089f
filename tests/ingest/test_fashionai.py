"""FashionAI CSV: round trip cell for cell (and byte for byte), visibility mapping, image sizes,
COCO export that pycocotools loads, and errors that name the line and column."""

from __future__ import annotations

import contextlib
import csv
import io

import pytest
from conftest import real_dir, real_params, snapshot
from posestore.ingest.fashionai import read_fashionai

from posestore import poses, synthetic
from posestore.errors import SourceError
from posestore.formats import FASHIONAI_CATEGORIES, FASHIONAI_JOINTS

REAL_CSV = real_params("fashionai", "*.csv")


def cells(data: bytes) -> list[list[str]]:
    text = data.decode("utf-8-sig")
    return [r for r in csv.reader(io.StringIO(text, newline="")) if r]


def round_trip(store, path, **kw):
    (done,) = store.ingest(path, dataset="f", **kw)
    (written,) = store.export("f", store.root.parent / "back.csv")
    return done, written.read_bytes()


@pytest.mark.real
@pytest.mark.parametrize("path", REAL_CSV)
def test_real_csv_round_trips_cell_for_cell_and_byte_for_byte(path, store):
    if path is None:
        real_dir("fashionai")
    source = path.read_bytes()
    done, back = round_trip(store, path)
    assert cells(back) == cells(source)
    assert back == source


@pytest.mark.real
def test_real_ground_truth_visibility_is_mapped_to_coco(store):
    path = real_dir("fashionai") / "fashionAI_key_points_test_a_answer_20180426.csv"
    rows = cells(path.read_bytes())
    header, rows = rows[0], rows[1:]
    expected = {0: 0, 1: 0, 2: 0}
    for r in rows:
        defined = set(FASHIONAI_CATEGORIES[r[1]])
        for name, cell in zip(header[2:], r[2:]):
            if name in defined:
                expected[int(cell.split("_")[2]) + 1] += 1
    store.ingest(path, dataset="gt")
    got = dict(store.sql("SELECT visibility, count(*) FROM joints GROUP BY 1").fetchall())
    assert got == expected
    per_cat = dict(
        store.sql(
            "SELECT c.name, count(*) FROM instances i JOIN categories c USING (dataset, category_id) GROUP BY 1"
        ).fetchall()
    )
    assert per_cat == {
        "outwear": 2043,
        "dress": 2038,
        "skirt": 1979,
        "blouse": 1977,
        "trousers": 1958,
    }


@pytest.mark.parametrize(
    "layout",
    [
        dict(header=True),
        dict(header=False),
        dict(newline="\r\n"),
        dict(bom=True),
        dict(kind="test"),
        dict(kind="test", header=False),
    ],
    ids=["header", "no-header", "crlf", "bom", "test-kind", "test-no-header"],
)
def test_generated_csv_round_trips_byte_for_byte(layout, store, tmp_path):
    path = synthetic.fashionai_csv(tmp_path / "train.csv", n_rows=40, **layout)
    _, back = round_trip(store, path)
    assert back == path.read_bytes()


def test_joints_go_to_their_category_and_absent_ones_stay_absent(tmp_path):
    path = synthetic.fashionai_csv(tmp_path / "train.csv", n_rows=30, seed=9)
    rows = cells(path.read_bytes())[1:]
    tables = next(read_fashionai(path, "f"))
    kp = poses.joint_rows(tables["keypoints"]).to_pydict()
    assert len(kp["joint"]) == sum(len(FASHIONAI_CATEGORIES[r[1]]) for r in rows)
    first = rows[0]
    names = FASHIONAI_CATEGORIES[first[1]]
    mine = [i for i, inst in enumerate(kp["instance_id"]) if inst == 1]
    for i, name in zip(mine, names):
        x, y, v = (int(p) for p in first[2 + FASHIONAI_JOINTS.index(name)].split("_"))
        assert (kp["x"][i], kp["y"][i], kp["visibility"][i]) == (x, y, v + 1)


def test_sizes_come_from_image_headers_when_images_are_beside(tmp_path):
    path = synthetic.fashionai_csv(tmp_path / "train.csv", n_rows=6, images=True)
    images = next(read_fashionai(path, "f"))["images"].to_pydict()
    assert all(w is not None and 200 <= w < 800 for w in images["width"])
    from posestore.imagesize import image_size

    for name, w, h in zip(images["file_name"], images["width"], images["height"]):
        assert image_size(tmp_path / name) == (w, h)
    bare = synthetic.fashionai_csv(tmp_path / "alone" / "train.csv", n_rows=3)
    assert next(read_fashionai(bare, "f"))["images"]["width"].null_count == 3


@pytest.mark.filterwarnings(
    "ignore:.*images are written without width"
)  # expected here; not what this test checks
def test_coco_export_loads_with_pycocotools_one_annotation_per_row(store, tmp_path):
    from pycocotools.coco import COCO

    path = synthetic.fashionai_csv(tmp_path / "train.csv", n_rows=50, seed=5)
    rows = cells(path.read_bytes())[1:]
    store.ingest(path, dataset="f")
    (out,) = store.export("f", tmp_path / "f.json", format="coco")
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(out))
    assert len(coco.getAnnIds()) == len(rows)
    cats = {c["name"]: c for c in coco.loadCats(coco.getCatIds())}
    for name, joints in FASHIONAI_CATEGORIES.items():
        assert cats[name]["keypoints"] == list(joints)
    for ann, row in zip(coco.loadAnns(coco.getAnnIds()), rows):
        assert coco.loadCats(ann["category_id"])[0]["name"] == row[1]
        assert len(ann["keypoints"]) == 3 * len(FASHIONAI_CATEGORIES[row[1]])
        assert ann["num_keypoints"] == sum(v > 0 for v in ann["keypoints"][2::3])


@pytest.mark.parametrize(
    "spoil, where, message",
    [
        (
            lambda r: r[3].__setitem__(5, "12_x_1"),
            "line 4, column shoulder_left",
            "is not an x_y_v cell",
        ),
        (
            lambda r: r[2].__setitem__(1, "hat"),
            "line 3, column image_category",
            "unknown category 'hat'",
        ),
        (lambda r: r[4].pop(), "line 5", "has 25 columns, expected 26"),
        (lambda r: r[0].pop(10), "line 1", "missing joint column(s) waistline_right"),
        (lambda r: r[1].__setitem__(7, "1_2_3"), "line 2, column armpit_left", "v must be -1"),
    ],
    ids=["malformed-cell", "unknown-category", "missing-column", "missing-header-column", "bad-v"],
)
def test_malformed_csv_names_line_and_column_and_ingests_nothing(
    spoil, where, message, store, tmp_path
):
    good = synthetic.fashionai_csv(tmp_path / "good.csv", n_rows=10)
    store.ingest(good, dataset="f")
    before = snapshot(store.root)
    rows = cells(good.read_bytes())
    spoil(rows)
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(",".join(r) for r in rows) + "\n")
    with pytest.raises(SourceError) as err:
        store.ingest(bad, dataset="f")
    assert f"{bad}: {where}: " in str(err.value) and message in str(err.value)
    assert snapshot(store.root) == before


def test_subset_export_writes_only_selected_rows(store, tmp_path):
    path = synthetic.fashionai_csv(tmp_path / "train.csv", n_rows=30, seed=2)
    rows = cells(path.read_bytes())
    store.ingest(path, dataset="f")
    (out,) = store.export("f", tmp_path / "skirts.csv", where="file_name LIKE 'Images/skirt/%'")
    assert cells(out.read_bytes()) == [rows[0]] + [r for r in rows[1:] if r[1] == "skirt"]
