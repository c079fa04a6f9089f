"""Predictions next to ground truth through the store: a COCO results file ingested against its
ground truth, ``posestore eval`` equal to pycocotools, the eval tables queried and used to
select a subset, and the results file exported back as it was."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import real_dir
from strict import differences
from test_evaluate import normalise_gt, predict, pycocotools_eval

from posestore import synthetic
from posestore.errors import SourceError

REAL = ["person_keypoints_val2017.json", "mmpose_test_crowdpose.json", "mmpose_test_aic.json"]


def _ingest_pair(store, gt_path, results, tmp_path, split=None):
    store.ingest(gt_path, dataset="gt", split=split)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    store.ingest(path, format="coco-results", ground_truth="gt", dataset="pred")
    return path


def _check_against_pycocotools(store, doc, results):
    sigmas = store.sql(
        "SELECT sigmas FROM categories WHERE dataset = 'gt' AND kind = 'object' AND sigmas IS NOT NULL"
    ).fetchall()[0][0]
    n_joints = len(sigmas)
    report = store.eval("pred")
    ((split, got),) = report["splits"].items()
    E = pycocotools_eval(normalise_gt(doc, n_joints), results, np.array(sigmas))
    assert np.abs(np.array(list(got["stats"].values())) - E.stats).max() <= 1e-9
    # the pairs matched at OKS 0.5 are pycocotools' (area all, maxDets 20)
    ours = set(
        store.sql("SELECT DISTINCT gt_instance_id, dt_instance_id FROM eval_joints").fetchall()
    )
    theirs = set()
    for e in E.evalImgs:
        if e is None or e["aRng"] != [0, 1e10]:
            continue
        for dt_id, gt_id in zip(e["dtIds"], e["dtMatches"][0]):
            if gt_id:  # matched (persons without labelled joints too: pycocotools ignores them)
                theirs.add((int(gt_id), int(dt_id)))
    crowd = {a["id"] for a in doc["annotations"] if a.get("iscrowd")}
    assert ours == {p for p in theirs if p[0] not in crowd}
    return report


@pytest.mark.real
@pytest.mark.parametrize("name", REAL)
def test_real_ground_truth_eval_equals_pycocotools(store, tmp_path, name):
    gt_path = real_dir("coco_keypoints") / name
    doc = json.loads(gt_path.read_bytes())
    n_joints = len(doc["annotations"][0]["keypoints"]) // 3
    results = predict(normalise_gt(doc, n_joints), n_joints, seed=7)
    source = _ingest_pair(store, gt_path, results, tmp_path)
    _check_against_pycocotools(store, doc, results)
    (back,) = store.export("pred", tmp_path / "back.json")
    assert differences(json.loads(source.read_bytes()), json.loads(back.read_bytes())) == []


def test_synthetic_eval_equals_pycocotools_and_round_trips(store, tmp_path):
    doc = synthetic.coco_keypoints(40, seed=9)
    gt_path = synthetic.write_json(doc, tmp_path / "person_keypoints_val.json")
    results = predict(normalise_gt(doc, 17), 17, seed=3)
    source = _ingest_pair(store, gt_path, results, tmp_path)
    report = _check_against_pycocotools(store, doc, results)
    assert report["splits"]["val"]["predictions"] == len(results)
    (back,) = store.export("pred", tmp_path / "back.json")
    assert differences(json.loads(source.read_bytes()), json.loads(back.read_bytes())) == []
    # derived boxes are loadRes's: the box around every joint
    x = np.array(results[0]["keypoints"][0::3])
    y = np.array(results[0]["keypoints"][1::3])
    box = store.sql(
        "SELECT bbox_x, bbox_y, bbox_w, bbox_h, area FROM instances WHERE dataset = 'pred' "
        "AND instance_id = 1"
    ).fetchall()[0]
    w, h = x.max() - x.min(), y.max() - y.min()
    assert box == pytest.approx((x.min(), y.min(), w, h, w * h))


def _swap_case(tmp_path):
    doc = synthetic.coco_keypoints(6, seed=4, unlabelled_fraction=0.0, crowd_fraction=0.0)
    for a in doc["annotations"]:
        a["keypoints"][2::3] = [2] * 17
    first = doc["annotations"][0]
    kp = np.array(first["keypoints"], dtype=np.float64).reshape(17, 3)
    wrong = kp.copy()
    wrong[[9, 10]] = kp[[10, 9]]  # left and right wrists swapped
    results = [
        {
            "image_id": a["image_id"],
            "category_id": 1,
            "keypoints": np.asarray(
                wrong if a is first else np.array(a["keypoints"]).reshape(17, 3), np.float32
            )
            .astype(float)
            .ravel()
            .tolist(),
            "score": 0.9,
        }
        for a in doc["annotations"]
    ]
    return doc, first, results


def test_an_injected_swap_is_an_inversion_and_selects_a_subset(store, tmp_path):
    doc, first, results = _swap_case(tmp_path)
    gt_path = synthetic.write_json(doc, tmp_path / "person_keypoints_val.json")
    _ingest_pair(store, gt_path, results, tmp_path)
    store.eval("pred")
    rows = store.sql(
        "SELECT j.joint, j.error FROM eval_joints j JOIN joints g "
        "ON g.dataset = 'gt' AND g.split = j.split AND g.instance_id = j.gt_instance_id "
        "AND g.joint = j.joint WHERE j.error = 'inversion'"
    ).fetchall()
    assert sorted(rows) == [(9, "inversion"), (10, "inversion")]
    # images where the model swapped left and right, exported from the ground truth
    (out,) = store.export(
        "gt",
        tmp_path / "swapped.json",
        query="SELECT image_id FROM eval_joints WHERE error = 'inversion'",
    )
    assert [im["id"] for im in json.loads(out.read_bytes())["images"]] == [first["image_id"]]


def test_string_image_ids_resolve_by_file_name_and_come_back(store, tmp_path):
    doc = synthetic.coco_keypoints(5, seed=2)
    gt_path = synthetic.write_json(doc, tmp_path / "person_keypoints_val.json")
    names = {im["id"]: im["file_name"] for im in doc["images"]}
    results = predict(normalise_gt(doc, 17), 17, seed=1)
    for r in results:
        r["image_id"] = names[r["image_id"]]  # AlphaPose writes the image's file name
    source = _ingest_pair(store, gt_path, results, tmp_path)
    (back,) = store.export("pred", tmp_path / "back.json")
    assert differences(json.loads(source.read_bytes()), json.loads(back.read_bytes())) == []


@pytest.mark.parametrize(
    "change, message",
    [
        ({"image_id": 987654}, r"results\.json: \[0\]\.image_id: refers to image 987654"),
        ({"keypoints": [1, 2, 2] * 3}, r"\[0\]\.keypoints: has 9 values, expected 51"),
        ({"category_id": 7}, r"\[0\]\.category_id: category 7 has no joints"),
    ],
)
def test_bad_predictions_are_one_line_and_the_store_is_unchanged(store, tmp_path, change, message):
    doc = synthetic.coco_keypoints(5, seed=2)
    store.ingest(synthetic.write_json(doc, tmp_path / "person_keypoints_val.json"), dataset="gt")
    results = predict(normalise_gt(doc, 17), 17, seed=1)
    results[0].update(change)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    with pytest.raises(SourceError, match=message):
        store.ingest(path, format="coco-results", ground_truth="gt", dataset="pred")
    assert store.dataset_names() == ["gt"]


def test_eval_on_the_command_line(store, tmp_path, cli):
    doc = synthetic.coco_keypoints(10, seed=6)
    gt_path = synthetic.write_json(doc, tmp_path / "person_keypoints_val.json")
    results = predict(normalise_gt(doc, 17), 17, seed=2)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    assert cli("--store", store.root, "ingest", gt_path, "--dataset", "gt").exit_code == 0
    r = cli("--store", store.root, "ingest", path, "-f", "coco-results", "--ground-truth", "gt")
    assert r.exit_code == 0, r.output
    r = cli("--store", store.root, "eval", "gt", "results", "--json")
    assert r.exit_code == 0, r.output
    alone = cli("--store", store.root, "eval", "results", "--json")  # GT from the ingest
    assert alone.exit_code == 0 and json.loads(alone.stdout) == json.loads(r.stdout)
    stats = json.loads(r.stdout)["splits"]["val"]["stats"]
    E = pycocotools_eval(normalise_gt(doc, 17), results, pycocotools_sigmas())
    assert list(stats.values()) == pytest.approx(list(E.stats), abs=1e-9)


def pycocotools_sigmas():
    from pycocotools.cocoeval import Params

    return Params(iouType="keypoints").kpt_oks_sigmas


def test_stats_of_predictions_show_per_joint_error_classes(store, tmp_path):
    doc, first, results = _swap_case(tmp_path)
    gt_path = synthetic.write_json(doc, tmp_path / "person_keypoints_val.json")
    _ingest_pair(store, gt_path, results, tmp_path)
    store.eval("pred")
    errors = store.stats("pred")["pred"]["joint_errors"]
    by_joint = {r["joint"]: r for r in errors}
    assert by_joint[9]["inversion"] == by_joint[10]["inversion"] == 1
    assert by_joint[9]["name"] == "left_wrist"
    assert sum(r["joints"] for r in errors) == 17 * len(results)
    from posestore.queries.stats import html_report

    page = html_report(store.stats("pred"), store)
    assert "<h3>per-joint error</h3>" in page and "<th>inversion</th>" in page


def test_eval_of_one_split_keeps_the_others_and_refuses_unknown_splits(store, tmp_path):
    val = synthetic.coco_keypoints(6, seed=1)
    train = synthetic.coco_keypoints(6, seed=2, first_image_id=100, first_annotation_id=900)
    paths = [
        synthetic.write_json(val, tmp_path / "person_keypoints_val.json"),
        synthetic.write_json(train, tmp_path / "person_keypoints_train.json"),
    ]
    store.ingest(paths, dataset="gt")
    results = synthetic.coco_predictions(val, seed=1) + synthetic.coco_predictions(train, seed=2)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    store.ingest(path, format="coco-results", ground_truth="gt", dataset="pred")
    store.eval("pred")
    before = dict(store.sql("SELECT split, count(*) FROM eval_matches GROUP BY 1").fetchall())
    store.eval("pred", split="val")
    after = dict(store.sql("SELECT split, count(*) FROM eval_matches GROUP BY 1").fetchall())
    assert set(before) == {"val", "train"} and after == before
    with pytest.raises(Exception, match="no split 'vall'"):
        store.eval("pred", split="vall")
    assert (
        dict(store.sql("SELECT split, count(*) FROM eval_matches GROUP BY 1").fetchall()) == before
    )


def test_predictions_cannot_take_their_ground_truths_name(store, tmp_path):
    doc = synthetic.coco_keypoints(12, seed=2)
    store.ingest(synthetic.write_json(doc, tmp_path / "person_keypoints_val.json"), dataset="gt")
    path = tmp_path / "results.json"
    path.write_text(json.dumps(synthetic.coco_predictions(doc)))
    with pytest.raises(Exception, match="a name of their own"):
        store.ingest(path, format="coco-results", ground_truth="gt", dataset="gt")
    results = synthetic.coco_predictions(doc)
    results[0]["image_id"] = "²"
    path.write_text(json.dumps(results))
    with pytest.raises(SourceError, match=r"\[0\]\.image_id"):
        store.ingest(path, format="coco-results", ground_truth="gt", dataset="p")
