"""evaluate_keypoints against pycocotools' COCOeval on real and synthetic ground truth.

The tables are built here from the JSON with plain Python (not with posestore's reader), the
predictions are seeded jitters of the ground truth written as a COCO results list, and
pycocotools evaluates the same data: the ten stats, every match, and every matched OKS must
agree.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from conftest import real_dir
from posestore.queries.evaluate import (
    ERROR_CLASSES,
    OKS_THRESHOLDS,
    EvaluationError,
    evaluate_keypoints,
)
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval, Params

COCO_SIGMAS = Params(iouType="keypoints").kpt_oks_sigmas
COCO_FLIP = np.array([0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15])
# mmpose configs/_base_/datasets/crowdpose.py
CROWDPOSE_SIGMAS = np.array(
    [
        0.079,
        0.079,
        0.072,
        0.072,
        0.062,
        0.062,
        0.107,
        0.107,
        0.087,
        0.087,
        0.089,
        0.089,
        0.079,
        0.079,
    ]
)
CROWDPOSE_FLIP = np.array([1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 12, 13])
# mmpose configs/_base_/datasets/aic.py (AI Challenger's keypoint_eval.py delta / 2)
AIC_SIGMAS = np.array(
    [0.01388152, 0.01515228, 0.01057665, 0.01417709, 0.01497891, 0.01402144, 0.03909642]
    + [0.03686941, 0.01981803, 0.03843971, 0.03412318, 0.02415081, 0.01291456, 0.01236173]
)
AIC_FLIP = np.array([3, 4, 5, 0, 1, 2, 9, 10, 11, 6, 7, 8, 12, 13])

REAL = {
    "person_keypoints_val2017.json": (COCO_SIGMAS, COCO_FLIP),
    "person_keypoints_train2017.json": (COCO_SIGMAS, COCO_FLIP),
    "hrnetpe_person_keypoints_val2017_dupimages.json": (COCO_SIGMAS, COCO_FLIP),
    "labelstudio_person_keypoints_val2017.json": (COCO_SIGMAS, COCO_FLIP),
    "mmpose_test_coco.json": (COCO_SIGMAS, COCO_FLIP),
    "mmpose_test_ochuman.json": (COCO_SIGMAS, COCO_FLIP),
    "mmpose_test_crowdpose.json": (CROWDPOSE_SIGMAS, CROWDPOSE_FLIP),
    "mmpose_test_aic.json": (AIC_SIGMAS, AIC_FLIP),
}


# -- building the inputs independently ----------------------------------------------------


def _f32(values) -> list[float]:
    """Values as the store keeps them (float32), as Python floats for the JSON side."""
    return np.asarray(values, dtype=np.float32).astype(np.float64).tolist()


def normalise_gt(doc: dict, n_joints: int) -> dict:
    """The ground truth as both sides see it: joints rounded to float32 (the store's type),
    and the fields pycocotools needs but some files lack filled as posestore fills them."""
    anns = []
    for a in doc["annotations"]:
        a = dict(a)
        kp = a.get("keypoints") or [0] * (3 * n_joints)
        x, y, v = _f32(kp[0::3]), _f32(kp[1::3]), kp[2::3]
        a["keypoints"] = [c for j in range(n_joints) for c in (x[j], y[j], v[j])]
        a.setdefault("iscrowd", 0)
        a["iscrowd"] = int(a["iscrowd"])
        a.setdefault("num_keypoints", sum(1 for s in v if s > 0))
        if "area" not in a:
            a["area"] = a["bbox"][2] * a["bbox"][3]
        anns.append(a)
    return {**doc, "annotations": anns}


def tables(doc: dict, predictions: bool = False, keypoints_for_crowd: bool = True):
    """(images, instances, keypoints) Arrow tables of a COCO document or results list."""
    anns = doc["annotations"]
    images = pa.table({"image_id": pa.array([im["id"] for im in doc["images"]], pa.int64())})
    bbox = [a.get("bbox") for a in anns]
    instances = pa.table(
        {
            "image_id": pa.array([a["image_id"] for a in anns], pa.int64()),
            "instance_id": pa.array([a["id"] for a in anns], pa.int64()),
            "category_id": pa.array([a["category_id"] for a in anns], pa.int64()),
            "iscrowd": pa.array(
                [int(a["iscrowd"]) if "iscrowd" in a else None for a in anns], pa.int8()
            ),
            "area": pa.array([a.get("area") for a in anns], pa.float64()),
            **{
                f"bbox_{k}": pa.array([b[i] if b else None for b in bbox], pa.float64())
                for i, k in enumerate("xywh")
            },
            "num_keypoints": pa.array([a.get("num_keypoints") for a in anns], pa.int32()),
            "score": pa.array([a.get("score") for a in anns], pa.float64()),
        }
    )
    rows = [a for a in anns if a.get("keypoints") and (keypoints_for_crowd or not a.get("iscrowd"))]
    keypoints = pa.table(
        {
            "image_id": pa.array([a["image_id"] for a in rows], pa.int64()),
            "instance_id": pa.array([a["id"] for a in rows], pa.int64()),
            "frame": pa.array([0] * len(rows), pa.int32()),
            "x": pa.array([a["keypoints"][0::3] for a in rows], pa.list_(pa.float32())),
            "y": pa.array([a["keypoints"][1::3] for a in rows], pa.list_(pa.float32())),
            "visibility": pa.array(
                [[2 if predictions else int(v) for v in a["keypoints"][2::3]] for a in rows],
                pa.list_(pa.int8()),
            ),
            "score": pa.array([None] * len(rows), pa.list_(pa.float32())),
        }
    )
    return images, instances, keypoints


def predict(gt: dict, n_joints: int, seed: int) -> list[dict]:
    """A seeded COCO results list: jittered persons (noise scaled by sqrt(area)), some persons
    dropped, some invented, scores rounded so that ties occur."""
    rng = np.random.default_rng(seed)
    images = {im["id"]: im for im in gt["images"]}
    results = []

    def add(image_id, category_id, x, y):
        x, y = _f32(x), _f32(y)
        kp = [c for j in range(n_joints) for c in (x[j], y[j], 1)]
        score = float(np.round(rng.uniform(0.05, 1.0), 2))
        results.append(
            {"image_id": image_id, "category_id": category_id, "keypoints": kp, "score": score}
        )

    for a in gt["annotations"]:
        if a.get("iscrowd") or rng.random() < 0.15:
            continue
        bx, by, bw, bh = a["bbox"]
        kp = np.asarray(a["keypoints"], dtype=np.float64).reshape(-1, 3)
        scale = np.sqrt(max(a["area"], 1.0)) * rng.choice([0.01, 0.03, 0.08, 0.2])
        # unlabelled joints are guessed somewhere in the box
        x = np.where(kp[:, 2] > 0, kp[:, 0], bx + rng.random(n_joints) * bw)
        y = np.where(kp[:, 2] > 0, kp[:, 1], by + rng.random(n_joints) * bh)
        add(
            a["image_id"],
            a["category_id"],
            x + rng.normal(0, scale, n_joints),
            y + rng.normal(0, scale, n_joints),
        )
    categories = sorted({a["category_id"] for a in gt["annotations"]}) or [1]
    for image_id, im in images.items():
        for _ in range(rng.poisson(0.7)):
            w = float(im.get("width") or 640)
            h = float(im.get("height") or 480)
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)
            s = rng.uniform(10, 150)
            add(
                image_id,
                int(rng.choice(categories)),
                cx + rng.normal(0, s, n_joints),
                cy + rng.normal(0, s, n_joints),
            )
    return results


def dt_document(gt: dict, results: list[dict]) -> dict:
    """The results as a document of our tables: ids as pycocotools' loadRes numbers them."""
    return {
        "images": gt["images"],
        "annotations": [{**r, "id": i + 1} for i, r in enumerate(results)],
    }


def pycocotools_eval(gt: dict, results: list[dict], sigmas: np.ndarray) -> COCOeval:
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = json.loads(json.dumps(gt))
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(json.loads(json.dumps(results)))
        E = COCOeval(coco_gt, coco_dt, "keypoints")
        E.params.kpt_oks_sigmas = np.asarray(sigmas, dtype=np.float64)
        E.evaluate()
        E.accumulate()
        E.summarize()
    return E


def ours(gt_doc: dict, results: list[dict], sigmas, flip=None, gt_tables=None):
    gi, gn, gk = gt_tables or tables(gt_doc)
    _, dn, dk = tables(dt_document(gt_doc, results), predictions=True)
    cats = {a["category_id"] for a in gt_doc["annotations"]} | {r["category_id"] for r in results}
    return evaluate_keypoints(
        gi,
        gn,
        gk,
        dn,
        dk,
        {c: sigmas for c in cats},
        None if flip is None else {c: flip for c in cats},
    )


def pycocotools_matches(E: COCOeval) -> dict[tuple[int, float], tuple[int, bool]]:
    """(dt id, threshold) → (matched gt id or 0, dtIgnore) for area range 'all'."""
    out = {}
    for e in E.evalImgs:
        if e is None or e["aRng"] != E.params.areaRng[0]:
            continue
        for d, dt_id in enumerate(e["dtIds"]):
            for t, thr in enumerate(E.params.iouThrs):
                out[dt_id, float(thr)] = (int(e["dtMatches"][t, d]), bool(e["dtIgnore"][t, d]))
    return out


def pycocotools_oks(E: COCOeval) -> dict[tuple[int, int], float]:
    """(dt id, gt id) → the OKS pycocotools computed."""
    out = {}
    for (img, cat), ious in E.ious.items():
        if len(ious) == 0:
            continue
        dts = E._dts[img, cat]
        order = np.argsort([-d["score"] for d in dts], kind="mergesort")[: E.params.maxDets[-1]]
        for i, di in enumerate(order):
            for j, g in enumerate(E._gts[img, cat]):
                out[dts[di]["id"], g["id"]] = float(ious[i, j])
    return out


def assert_same_as_pycocotools(gt: dict, results: list[dict], sigmas, flip=None, gt_tables=None):
    """The stats to 1e-9 and every match, ignore flag and matched OKS exactly; returns both."""
    E = pycocotools_eval(gt, results, sigmas)
    res = ours(gt, results, sigmas, flip, gt_tables)
    diff = np.abs(res.stats - np.asarray(E.stats))
    assert diff.max() <= 1e-9, (res.summary(), list(E.stats))

    theirs = pycocotools_matches(E)
    m = res.matches.to_pydict()
    mine = {
        (d, t): (g or 0, ig)
        for d, t, g, ig in zip(
            m["dt_instance_id"], m["threshold"], m["gt_instance_id"], m["ignored"]
        )
    }
    assert mine == theirs

    oks = pycocotools_oks(E)
    for d, g, o in zip(m["dt_instance_id"], m["gt_instance_id"], m["oks"]):
        if g is not None:
            assert o == oks[d, g]  # bit-identical, not approximately

    crowd = {a["id"] for a in gt["annotations"] if a.get("iscrowd")}
    at_half = {
        (d, g) for (d, t), (g, _) in theirs.items() if t == 0.5 and g != 0 and g not in crowd
    }
    j = res.joints.to_pydict()
    # pycocotools cannot show a match to ground truth id 0 (0 means none in dtMatches)
    assert {p for p in zip(j["dt_instance_id"], j["gt_instance_id"]) if p[1] != 0} == at_half
    return res, E, float(diff.max())


# -- synthetic ground truth ---------------------------------------------------------------


def synthetic_gt(
    seed: int, n_images: int = 60, categories=(1,), n_joints: int = 17, first_id: int = 1
) -> dict:
    """A COCO document with crowds, unlabelled persons, tiny and huge persons, crowded images."""
    rng = np.random.default_rng(seed)
    images, anns = [], []
    next_id = first_id
    for i in range(n_images):
        image_id = 1000 + 7 * i
        images.append({"id": image_id, "width": 640, "height": 480, "file_name": f"{image_id}.jpg"})
        for _ in range(rng.choice([0, 1, 2, 3, 5, 12], p=[0.1, 0.3, 0.25, 0.15, 0.12, 0.08])):
            w, h = rng.uniform(4, 300) * np.array([0.6, 1.2])
            x, y = rng.uniform(0, 640 - w), rng.uniform(0, 480 - h)
            crowd = rng.random() < 0.05
            v = (
                np.zeros(n_joints, int)
                if crowd
                else rng.choice([0, 1, 2], n_joints, p=[0.3, 0.2, 0.5])
            )
            if rng.random() < 0.08:
                v[:] = 0
            jx = np.round(x + rng.random(n_joints) * w) * (v > 0)
            jy = np.round(y + rng.random(n_joints) * h) * (v > 0)
            anns.append(
                {
                    "id": next_id,
                    "image_id": image_id,
                    "category_id": int(rng.choice(categories)),
                    "iscrowd": int(crowd),
                    "area": float(np.round(w * h * rng.uniform(0.4, 0.9), 2)),
                    "bbox": [float(np.round(c, 2)) for c in (x, y, w, h)],
                    "num_keypoints": int((v > 0).sum()),
                    "keypoints": [int(c) for j in range(n_joints) for c in (jx[j], jy[j], v[j])],
                }
            )
            next_id += 1
    return {
        "images": images,
        "annotations": anns,
        "categories": [
            {"id": c, "name": f"c{c}", "keypoints": [], "skeleton": []} for c in categories
        ],
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_synthetic_stats_matches_and_oks_equal_pycocotools(seed):
    gt = synthetic_gt(seed)
    assert_same_as_pycocotools(gt, predict(gt, 17, seed + 100), COCO_SIGMAS, COCO_FLIP)


def test_many_joints_oks_sums_group_as_numpy_does_for_pycocotools():
    # above 128 terms NumPy's pairwise sum splits recursively: Halpe-136-sized poses
    gt = synthetic_gt(14, n_images=25, n_joints=136)
    sigmas = np.random.default_rng(14).uniform(0.01, 0.1, 136)
    assert_same_as_pycocotools(gt, predict(gt, 136, 14), sigmas)


def test_the_module_does_not_import_pycocotools():
    import posestore.queries.evaluate as module

    source = Path(module.__file__).read_text()
    assert "import pycocotools" not in source and "from pycocotools" not in source


def test_two_categories_are_matched_separately():
    gt = synthetic_gt(3, categories=(1, 4))
    assert_same_as_pycocotools(gt, predict(gt, 17, 7), COCO_SIGMAS)


def test_annotation_id_zero_counts_as_unmatched_as_in_pycocotools():
    gt = synthetic_gt(4, n_images=20, first_id=0)
    assert_same_as_pycocotools(gt, predict(gt, 17, 8), COCO_SIGMAS)


def test_crowd_without_keypoints_row_is_evaluated_as_zero_joints():
    gt = synthetic_gt(5)
    assert any(a["iscrowd"] for a in gt["annotations"])
    assert_same_as_pycocotools(
        gt, predict(gt, 17, 9), COCO_SIGMAS, gt_tables=tables(gt, keypoints_for_crowd=False)
    )


def test_more_than_twenty_predictions_per_image_keep_the_top_twenty():
    gt = synthetic_gt(6, n_images=4)
    results = predict(gt, 17, 10)
    image = gt["images"][0]["id"]
    rng = np.random.default_rng(0)
    for _ in range(30):
        x, y = _f32(rng.uniform(0, 600, 17)), _f32(rng.uniform(0, 400, 17))
        kp = [c for j in range(17) for c in (x[j], y[j], 1)]
        results.append({"image_id": image, "category_id": 1, "keypoints": kp, "score": 0.5})
    res, _, _ = assert_same_as_pycocotools(gt, results, COCO_SIGMAS)
    per_image = res.matches.filter(pa.compute.equal(res.matches["image_id"], image))
    assert per_image.num_rows == 20 * len(OKS_THRESHOLDS)


def test_ground_truth_without_area_uses_box_area_and_says_so():
    gt = synthetic_gt(7, n_images=15)
    for a in gt["annotations"]:
        del a["area"]
    results = predict(normalise_gt(gt, 17), 17, 11)
    res, _, _ = assert_same_as_pycocotools(
        normalise_gt(gt, 17), results, COCO_SIGMAS, gt_tables=tables(gt)
    )
    assert any("box area" in n for n in res.notes)


def test_ground_truth_without_area_or_box_is_refused():
    gt = synthetic_gt(8, n_images=3)
    gt["annotations"][0].pop("area")
    gt["annotations"][0].pop("bbox")
    gi, gn, gk = tables(gt)
    with pytest.raises(EvaluationError, match="neither area nor bbox"):
        evaluate_keypoints(gi, gn, gk, gn.slice(0, 0), gk.slice(0, 0), {1: COCO_SIGMAS})


def test_missing_sigmas_and_wrong_joint_counts_are_refused():
    gt = synthetic_gt(9, n_images=5)
    gi, gn, gk = tables(gt)
    empty = (gn.slice(0, 0), gk.slice(0, 0))
    with pytest.raises(EvaluationError, match="no OKS sigmas for category 1"):
        evaluate_keypoints(gi, gn, gk, *empty, {2: COCO_SIGMAS})
    with pytest.raises(EvaluationError, match="not a list of 14"):
        evaluate_keypoints(gi, gn, gk, *empty, {1: CROWDPOSE_SIGMAS})


def test_predictions_on_unknown_images_are_refused():
    gt = synthetic_gt(10, n_images=5)
    results = predict(gt, 17, 1)
    results[0]["image_id"] = 99
    gi, gn, gk = tables(gt)
    _, dn, dk = tables(dt_document(gt, results), predictions=True)
    with pytest.raises(EvaluationError, match="images the ground truth does not have"):
        evaluate_keypoints(gi, gn, gk, dn, dk, {1: COCO_SIGMAS})


def test_no_predictions_gives_zero_and_minus_one_like_pycocotools():
    gt = synthetic_gt(11, n_images=5)
    gi, gn, gk = tables(gt)
    res = evaluate_keypoints(gi, gn, gk, gn.slice(0, 0), gk.slice(0, 0), {1: COCO_SIGMAS})
    assert res.matches.num_rows == 0 and res.joints.num_rows == 0
    assert set(res.stats.tolist()) <= {0.0, -1.0}


# -- error classes --------------------------------------------------------------------------


def _two_people() -> dict:
    """One image, two fully visible people side by side, far apart."""
    rng = np.random.default_rng(12)
    anns = []
    for i, x0 in enumerate((50, 400)):
        x = _f32(x0 + rng.uniform(0, 150, 17))
        y = _f32(50 + np.linspace(0, 300, 17))
        anns.append(
            {
                "id": i + 1,
                "image_id": 1,
                "category_id": 1,
                "iscrowd": 0,
                "area": 150.0 * 300.0,
                "bbox": [float(x0), 50.0, 150.0, 300.0],
                "num_keypoints": 17,
                "keypoints": [c for j in range(17) for c in (float(x[j]), float(y[j]), 2)],
            }
        )
    categories = [{"id": 1, "name": "person", "keypoints": [], "skeleton": []}]
    return {
        "images": [{"id": 1, "width": 800, "height": 600}],
        "annotations": anns,
        "categories": categories,
    }


def _errors(res, dt_id: int) -> list[str]:
    j = res.joints.filter(pa.compute.equal(res.joints["dt_instance_id"], dt_id))
    return j["error"].to_pylist()


def test_left_right_swap_is_inversion_and_other_persons_joint_is_swap():
    gt = _two_people()
    a, b = (np.asarray(p["keypoints"], float).reshape(17, 3) for p in gt["annotations"])
    inverted = a.copy()
    inverted[[9, 10]] = a[[10, 9]]  # left and right wrists exchanged
    swapped = b.copy()
    swapped[15] = a[15]  # person B's prediction puts its left ankle on A's
    results = [
        {"image_id": 1, "category_id": 1, "keypoints": p[:, :].ravel().tolist(), "score": s}
        for p, s in ((inverted, 0.9), (swapped, 0.8))
    ]
    res, _, _ = assert_same_as_pycocotools(gt, results, COCO_SIGMAS, COCO_FLIP)
    first = _errors(res, 1)
    assert first[9] == first[10] == "inversion"
    assert set(first[:9] + first[11:]) == {"good"}
    second = _errors(res, 2)
    assert second[15] == "swap"
    assert set(second[:15] + second[16:]) == {"good"}

    # without mirror joints there is no inversion class
    without = ours(gt, results, COCO_SIGMAS)
    assert _errors(without, 1)[9] == "miss"


def test_joint_measures_follow_the_oks_terms():
    gt = synthetic_gt(13)
    res, _, _ = assert_same_as_pycocotools(gt, predict(gt, 17, 13), COCO_SIGMAS, COCO_FLIP)
    j = res.joints
    assert set(j["error"].drop_null().to_pylist()) <= set(ERROR_CLASSES)
    vis = j["gt_visibility"].to_numpy()
    assert (j["error"].is_null().to_numpy() == (vis == 0)).all()
    labelled = j.filter(pa.compute.greater(j["gt_visibility"], 0))
    ks = labelled["oks_term"].to_numpy()
    err = np.array(labelled["error"].to_pylist())
    assert ((ks >= 0.85) == (err == "good")).all()
    assert (((ks >= 0.5) & (ks < 0.85)) == (err == "jitter")).all()
    d = np.hypot(labelled["dx"].to_numpy(), labelled["dy"].to_numpy())
    np.testing.assert_allclose(labelled["distance"].to_numpy(), d)
    # ks = exp(-normalised² / (2 (2σ)²)): the normalised distance is in units of sqrt(area)
    s = labelled["sigma"].to_numpy()
    np.testing.assert_allclose(
        ks, np.exp(-(labelled["normalised"].to_numpy() ** 2) / (2 * (2 * s) ** 2)), rtol=1e-9
    )


# -- real files -----------------------------------------------------------------------------


def _n_joints(doc: dict) -> int:
    return next(len(a["keypoints"]) // 3 for a in doc["annotations"] if a.get("keypoints"))


@pytest.mark.real
@pytest.mark.parametrize("name", sorted(REAL))
def test_real_file_stats_equal_pycocotools(name):
    path = real_dir("coco_keypoints") / name
    sigmas, flip = REAL[name]
    raw = json.loads(path.read_text())
    n = _n_joints(raw)
    assert n == len(sigmas)
    gt = normalise_gt(raw, n)
    # our tables come from the file as it is (no area stays no area, no iscrowd stays null),
    # with the joints rounded as the store keeps them
    gt_tables = tables(
        {
            **raw,
            "annotations": [
                {**a, "keypoints": b["keypoints"]}
                for a, b in zip(raw["annotations"], gt["annotations"])
            ],
        }
    )
    for seed in (1, 2):
        res, E, diff = assert_same_as_pycocotools(gt, predict(gt, n, seed), sigmas, flip, gt_tables)
        print(f"{name} seed {seed}: max |stats diff| = {diff:.3g}, AP = {res.stats[0]:.4f}")


# -- the benchmark script -------------------------------------------------------------------


def test_benchmark_script_runs_at_a_tiny_scale_and_agrees():
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "evaluate.py"
    args = ["--images", "40", "--persons", "90", "--predictions", "150"]
    r = subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr
    assert "largest |stats difference|: 0;" in r.stdout
