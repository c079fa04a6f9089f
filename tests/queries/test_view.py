"""``posestore view``: the page rendered by headless chromium draws what the selection holds.

Counts are checked against the source files read with plain Python (annotations per
image, joints with v > 0, PYSKL arrays without their zero padding), never against the
store that made the page.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import pickle
import re
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from browser import rendered_dom, screenshot
from conftest import real_dir, real_params
from posestore.queries.view import DEFAULT_LIMITS
from posestore.queries.view.data import bones
from posestore.queries.view.page import _template
from posestore.queries.view.pictures import _string_counts

import posestore
from posestore import synthetic
from posestore.errors import PoseStoreError

PALETTE_FIRST = (0xE6, 0x19, 0x4B)  # the first instance colour of page.js


def stand_in_images(doc: dict, folder: Path, skip: set[int] = frozenset()) -> Path:
    """A JPEG of each image's width × height (a gradient), except the ``skip`` ids."""
    from PIL import Image

    for im in doc["images"]:
        if im["id"] in skip:
            continue
        target = folder / im["file_name"]
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.linear_gradient("L").resize((im["width"], im["height"])).convert("RGB").save(target)
    return folder


def per_image(doc: dict) -> tuple[Counter, Counter]:
    """Annotations, and labelled joints (v > 0), per image id, from the COCO document."""
    instances, joints = Counter(), Counter()
    for a in doc["annotations"]:
        instances[a["image_id"]] += 1
        joints[a["image_id"]] += sum(1 for v in a.get("keypoints", [])[2::3] if v > 0)
    return instances, joints


def drawn(dom) -> tuple[Counter, Counter]:
    """Instances and joints drawn, per image id, from the rendered DOM."""
    instances, joints = Counter(), Counter()
    for scene in dom.scenes():
        image = int(scene.attrs["data-image-id"])
        instances[image] = len(dom.instances(scene))
        joints[image] = len(dom.joints(scene))
    return instances, joints


# -- still images: synthetic COCO ---------------------------------------------------


@pytest.fixture(scope="module")
def coco_page(tmp_path_factory):
    """A synthetic COCO split with crowds, its images on disk but for two, drawn in a page."""
    tmp = tmp_path_factory.mktemp("view")
    doc = synthetic.coco_keypoints(14, seed=7, crowd_fraction=0.15)
    source = synthetic.write_json(doc, tmp / "person_keypoints_val2017.json")
    skipped = {doc["images"][1]["id"], doc["images"][5]["id"]}
    images = stand_in_images(doc, tmp / "images", skipped)
    store = posestore.open(tmp / "store")
    store.ingest(source, dataset="coco")
    page = store.view("coco", tmp / "page.html", image_root=images)
    return doc, page, rendered_dom(page.path), skipped, store, tmp


def test_every_instance_and_labelled_joint_is_drawn(coco_page):
    doc, page, dom, _, _, _ = coco_page
    instances, joints = per_image(doc)
    drawn_instances, drawn_joints = drawn(dom)
    assert len(dom.scenes()) == len(doc["images"])
    assert drawn_instances == +instances
    assert drawn_joints == +joints
    assert (page.instances, page.joints) == (sum(instances.values()), sum(joints.values()))


def test_joints_are_styled_by_visibility(coco_page):
    doc, _, dom, _, _, _ = coco_page
    by_visibility = Counter(v for a in doc["annotations"] for v in a["keypoints"][2::3] if v > 0)
    styled = Counter(
        int(j.attrs["data-v"]) for j in dom.joints() if f"v{j.attrs['data-v']}" in j.classes
    )
    assert styled == by_visibility


def test_hover_text_names_the_joint_its_place_and_visibility(coco_page):
    doc, _, dom, _, _, _ = coco_page
    names = doc["categories"][0]["keypoints"]
    points = {
        (a["id"], j): (a["keypoints"][3 * j], a["keypoints"][3 * j + 1], a["keypoints"][3 * j + 2])
        for a in doc["annotations"]
        for j in range(len(names))
    }
    for g in dom.instances():
        for joint in dom.joints(g):
            j = int(joint.attrs["data-index"])
            x, y, v = points[(int(g.attrs["data-instance"]), j)]
            title = next(joint.find("title")).text
            assert joint.attrs["data-joint"] == names[j]
            assert title.startswith(f"{names[j]} (joint {j}) · x {x}, y {y} · ")
            assert ("visible (v=2)" if v == 2 else "occluded (v=1)") in title


def test_a_missing_image_is_drawn_blank_and_reported(coco_page):
    doc, page, dom, skipped, _, _ = coco_page
    blank = {
        int(next(f.find("svg", cls="scene")).attrs["data-image-id"])
        for f in dom.grid.find("figure", cls="missing")
    }
    assert blank == skipped
    assert page.missing == {"not found": len(skipped)}
    assert dom.by_id("missing").attrs["data-missing"] == str(len(skipped))
    assert "2 images of 14 have no picture" in dom.by_id("missing").all_text()
    sizes = {im["id"]: (im["width"], im["height"]) for im in doc["images"]}
    for scene in dom.scenes():
        image = int(scene.attrs["data-image-id"])
        w, h = sizes[image]
        assert scene.attrs["viewbox"] == f"0 0 {w} {h}"  # the image's size, picture or not
        pictures = list(scene.find("image", cls="picture"))
        assert len(pictures) == (image not in skipped)


def test_crowd_regions_and_boxes_are_drawn(coco_page):
    doc, _, dom, _, _, _ = coco_page
    crowds = [a for a in doc["annotations"] if a["iscrowd"]]
    assert crowds, "the synthetic split should hold crowds"
    regions = [g for g in dom.instances() if "crowd" in g.classes]
    assert sorted(int(g.attrs["data-instance"]) for g in regions) == sorted(a["id"] for a in crowds)
    assert all(len(list(g.find("image", cls="crowd-region"))) == 1 for g in regions)
    assert len(list(dom.grid.find("rect", cls="box"))) == len(doc["annotations"])


def test_the_page_says_how_many_it_holds_and_shows(coco_page):
    doc, _, dom, _, _, _ = coco_page
    summary = dom.by_id("summary")
    n = str(len(doc["images"]))
    assert (summary.attrs["data-selected"], summary.attrs["data-shown"]) == (n, n)
    assert f"holds {n} images; this page shows all of them" in summary.all_text()


def test_the_page_loads_nothing_from_outside(coco_page):
    _, page, dom, _, _, _ = coco_page
    text = page.html
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', text).group(1)
    rules = dict(rule.strip().split(" ", 1) for rule in csp.split(";"))
    assert rules["default-src"] == "'none'" and rules["img-src"] == "data:"
    scripts = re.findall(r"<script>(.*?)</script>", text, flags=re.S)
    assert len(scripts) == 1  # the data block is not a script: JSON is never run
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert rules["script-src"] == f"'sha256-{digest}'"
    assert not re.search(r"(?i)\b(https?|file|ftp)://|\bfile:", text)
    assert not re.search(r"(?i)\b(src|href)\s*=\s*[\"'](?!data:|#)", text)
    for element in dom.root.find():
        for name in ("src", "href", "xlink:href"):
            if name in element.attrs:
                assert element.attrs[name].startswith("data:"), (element.tag, name)


def test_the_screenshot_is_not_blank(coco_page, tmp_path):
    from PIL import Image

    _, page, _, _, _, _ = coco_page
    shot = np.asarray(Image.open(screenshot(page.path, tmp_path / "page.png")).convert("RGB"))
    assert shot.reshape(-1, 3).std(axis=0).max() > 20
    near = np.abs(shot.astype(int) - PALETTE_FIRST).sum(axis=2) < 40
    assert near.sum() > 100, "no pixel of the first instance's colour: nothing drawn"


def test_a_view_selects_as_export_does(coco_page, tmp_path):
    doc, _, _, _, store, tmp = coco_page
    where = "width > 480 AND image_id % 3 <> 0"
    page = store.view("coco", tmp_path / "where.html", where=where, image_root=tmp / "images")
    (exported,) = store.export("coco", tmp_path / "where.json", split="val2017", where=where)
    expected = sorted(im["id"] for im in json.loads(exported.read_bytes())["images"])
    independent = sorted(im["id"] for im in doc["images"] if im["width"] > 480 and im["id"] % 3)
    assert expected == independent
    dom = rendered_dom(page.path)
    assert [int(s.attrs["data-image-id"]) for s in dom.scenes()] == independent
    instances, joints = per_image(doc)
    assert drawn(dom) == (
        Counter({i: instances[i] for i in independent}),
        Counter({i: joints[i] for i in independent}),
    )


def test_limit_and_offset_page_through_the_selection(coco_page, tmp_path):
    doc, _, _, _, store, _ = coco_page
    page = store.view("coco", tmp_path / "page2.html", limit=4, offset=4)
    dom = rendered_dom(page.path)
    ids = sorted(im["id"] for im in doc["images"])
    assert [int(s.attrs["data-image-id"]) for s in dom.scenes()] == ids[4:8]
    summary = dom.by_id("summary")
    assert summary.attrs["data-selected"] == str(len(ids))
    assert summary.attrs["data-shown"] == "4"
    assert "images 5–8" in summary.all_text() and "--offset 8" in summary.all_text()
    assert "no image folder: 4" not in dom.by_id("missing").all_text()
    assert page.missing == {"no image folder": 4}


def test_an_empty_selection_is_a_page_that_says_so(coco_page, tmp_path):
    _, _, _, _, store, _ = coco_page
    page = store.view("coco", tmp_path / "none.html", where="width < 0")
    dom = rendered_dom(page.path)
    assert dom.scenes() == []
    assert "holds 0 images; this page shows none" in dom.by_id("summary").all_text()


def test_a_hostile_file_name_stays_text(tmp_path):
    doc = synthetic.coco_keypoints(2, seed=1)
    doc["images"][0]["file_name"] = "</script><script>document.title='owned'</script>.jpg"
    store = posestore.open(tmp_path / "store")
    store.ingest(synthetic.write_json(doc, tmp_path / "val.json"), dataset="coco")
    page = store.view("coco", tmp_path / "page.html")
    assert page.html.count("<script") == 2  # the data block and the drawing script
    dom = rendered_dom(page.path)
    assert next(dom.root.find("title")).text == "posestore view: coco"
    assert doc["images"][0]["file_name"] in [s.attrs.get("data-file") for s in dom.scenes()]


def test_the_notebook_form_is_the_page_in_a_sandboxed_frame(coco_page):
    _, page, _, _, _, _ = coco_page
    frame = page._repr_html_()
    assert frame.startswith('<iframe sandbox="allow-scripts"')
    srcdoc = re.search(r'srcdoc="([^"]*)"', frame).group(1)
    assert html.unescape(srcdoc) == page.html


def test_the_cli_writes_the_page_and_says_what_it_shows(coco_page, cli, tmp_path):
    doc, _, _, skipped, store, tmp = coco_page
    out = tmp_path / "cli.html"
    result = cli("--store", store.root, "view", "coco", out, "--limit", "5", "--image-root",
                 tmp / "images")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.is_file()
    assert f"5 of the {len(doc['images'])} images selected" in result.stdout
    assert "--offset 5" in result.stderr
    bad = cli("--store", store.root, "view", "coco", out, "--limit", "0")
    assert bad.exit_code == 1 and bad.stderr.count("\n") == 1 and "--limit" in bad.stderr


def test_a_page_that_cannot_be_written_is_one_line_and_leaves_nothing(coco_page, cli, tmp_path):
    _, _, _, _, store, _ = coco_page
    (tmp_path / "folder").mkdir()
    (tmp_path / "plain").write_text("x")
    targets = [tmp_path / "folder", tmp_path / "plain" / "v.html", f"{tmp_path}/v\0.html"]
    if Path("/dev/full").exists():
        targets.append("/dev/full")
    for out in targets:
        before = sorted(tmp_path.rglob("*"))
        r = cli("--store", store.root, "view", "coco", out)
        assert r.exit_code == 1 and r.stderr.startswith("error:"), (out, r.output)
        assert r.stderr.count("\n") == 1 and "Traceback" not in r.output, (out, r.output)
        assert sorted(tmp_path.rglob("*")) == before, out
    assert (tmp_path / "plain").read_text() == "x"


def test_the_template_is_filled_once_and_names_its_script():
    before, after = _template()
    assert b"@@" not in before + after
    assert b"sha256-" in before


# -- clips: synthetic PYSKL ---------------------------------------------------------


def padding_free_joints(clip: dict, frame: int) -> list[int]:
    """Per person of a PYSKL clip, its joints at ``frame`` that are not zero padding."""
    kp, score = clip["keypoint"], clip.get("keypoint_score")
    out = []
    for m in range(kp.shape[0]):
        padding = (kp[m, frame, :, 0] == 0) & (kp[m, frame, :, 1] == 0)
        if score is not None:
            padding &= score[m, frame] == 0
        out.append(int((~padding).sum()))
    return out


def check_clip_players(dom, clips_by_name: dict[str, dict]) -> None:
    """Every shown clip is a player drawing every person track of the clip, and at its frame
    every joint that is not padding; each player has play, pause and a slider."""
    scenes = dom.scenes()
    assert scenes
    for scene in scenes:
        clip = clips_by_name[scene.attrs["data-file"]]
        frame = int(scene.attrs["data-frame"])
        tracks = dom.instances(scene)
        assert len(tracks) == clip["keypoint"].shape[0]
        joints = [
            len(dom.joints(g)) for g in sorted(tracks, key=lambda g: int(g.attrs["data-track"]))
        ]
        assert joints == padding_free_joints(clip, frame)
        figure = scene.parent
        assert next(figure.find("button", cls="play")).text == "play"
        slider = next(figure.find("input", cls="scrub"))
        assert slider.attrs["max"] == str(max(clip["total_frames"], 1) - 1)


def test_clips_are_players_drawing_every_person_track(tmp_path):
    clips = synthetic.pyskl_clips(8, persons=(1, 2, 3), padding=0.3, n_labels=3)
    names = [c["frame_dir"] for c in clips]
    source = synthetic.pyskl_pickle(tmp_path / "ntu.pkl", clips, {"xsub_train": names})
    store = posestore.open(tmp_path / "store")
    store.ingest(source, dataset="ntu")
    page = store.view("ntu", tmp_path / "clips.html", where="label = 1")
    dom = rendered_dom(page.path)
    check_clip_players(dom, {c["frame_dir"]: c for c in clips if c["label"] == 1})
    assert page.kind == "clips"
    assert page.selected == sum(c["label"] == 1 for c in clips)
    assert page.missing == {}  # clips have no pictures to miss


def test_a_clip_page_defaults_to_a_few_players(tmp_path):
    clips = synthetic.pyskl_clips(DEFAULT_LIMITS["clips"] + 3, frames=(3, 5))
    source = synthetic.pyskl_pickle(tmp_path / "ntu.pkl", clips)
    store = posestore.open(tmp_path / "store")
    store.ingest(source, dataset="ntu")
    page = store.view("ntu")
    assert (page.selected, page.shown) == (len(clips), DEFAULT_LIMITS["clips"])


# -- predictions over their ground truth ---------------------------------------------


def test_predictions_are_drawn_over_their_ground_truth_with_error_classes(tmp_path):
    doc = synthetic.coco_keypoints(10, seed=4, crowd_fraction=0.0)
    results = synthetic.coco_predictions(doc, seed=3)
    store = posestore.open(tmp_path / "store")
    store.ingest(
        synthetic.write_json(doc, tmp_path / "person_keypoints_val2017.json"), dataset="coco"
    )
    (tmp_path / "results.json").write_text(json.dumps(results))
    store.ingest(tmp_path / "results.json", format="coco-results", ground_truth="coco",
                 dataset="model")  # fmt: skip
    before = rendered_dom(store.view("model", tmp_path / "before.html").path)
    assert "No evaluation yet" in before.by_id("notes").all_text()
    store.eval("model")
    page = store.view("model", tmp_path / "model.html")
    dom = rendered_dom(page.path)
    truth, joints = per_image(doc)
    predicted = Counter(r["image_id"] for r in results)
    for scene in dom.scenes():
        image = int(scene.attrs["data-image-id"])
        groups = dom.instances(scene)
        assert sum("truth" in g.classes for g in groups) == truth[image]
        assert sum("prediction" in g.classes for g in groups) == predicted[image]
        truth_joints = sum(len(dom.joints(g)) for g in groups if "truth" in g.classes)
        assert truth_joints == joints[image]
        for g in groups:
            if "prediction" in g.classes:  # every joint of a prediction is drawn
                assert len(dom.joints(g)) == len(doc["categories"][0]["keypoints"])
    classes = Counter(j.attrs["data-error"] for j in dom.joints() if "data-error" in j.attrs)
    in_store = dict(
        store.sql(
            "SELECT error, count(*) FROM eval_joints WHERE dataset = 'model' "
            "AND error IS NOT NULL GROUP BY 1"
        ).fetchall()
    )
    assert classes == in_store
    assert sum(classes.values()) == len(list(dom.grid.find("line", cls="error-vector")))


# -- the pieces ---------------------------------------------------------------------


def test_compressed_rle_decodes_as_pycocotools_encodes():
    mask_api = pytest.importorskip("pycocotools.mask")
    rng = np.random.default_rng(0)
    for _ in range(100):
        h, w = rng.integers(1, 50, 2)
        mask = np.asfortranarray((rng.random((h, w)) < rng.random()).astype(np.uint8))
        rle = mask_api.encode(mask)
        flat = mask.T.ravel()
        changes = np.flatnonzero(np.diff(flat)) + 1
        runs = np.diff(np.concatenate(([0], changes, [len(flat)])))
        expected = ([0] if flat[0] else []) + runs.tolist()
        assert _string_counts(rle["counts"].decode()).tolist() == expected


@pytest.mark.parametrize(
    ("skeleton", "expected"),
    [
        ([[1, 2], [2, 3]], [[0, 1], [1, 2]]),  # COCO's 1-based
        ([[0, 1], [1, 2]], [[0, 1], [1, 2]]),  # 0-based, as written
        ([], []),  # nothing to draw
    ],
)
def test_bones_are_zero_based(skeleton, expected):
    assert bones({"skeleton": skeleton, "keypoints": ["a", "b", "c"]}) == expected


def test_a_skeleton_naming_joints_the_category_lacks_gives_way_to_the_registry():
    from posestore import skeleton

    crowdpose = skeleton.skeleton("crowdpose14")
    coco_bones = [[16, 14], [14, 12], [17, 15], [6, 12], [6, 7]]  # what real CrowdPose files carry
    category = {
        "skeleton": coco_bones,
        "keypoints": list(crowdpose.names),
        "registry": "crowdpose14",
        "canonical": list(crowdpose.canonicals),
    }
    assert bones(category) == [list(b) for b in crowdpose.bones]
    unmatched = {**category, "registry": None}
    assert bones(unmatched) == [[13, 11], [5, 11], [5, 6]]  # those it can draw, as given


def test_a_category_without_a_skeleton_gets_its_registry_bones():
    from posestore import skeleton

    coco = skeleton.skeleton("coco17")
    reversed_canonical = list(reversed(coco.canonicals))  # joints in another order
    drawn_bones = bones({"skeleton": [], "registry": "coco17", "canonical": reversed_canonical})
    n = len(coco)
    assert sorted(map(sorted, drawn_bones)) == sorted(
        sorted([n - 1 - a, n - 1 - b]) for a, b in coco.bones
    )


# -- real files ---------------------------------------------------------------------


@pytest.mark.real
def test_real_val2017_with_stand_in_images(tmp_path):
    source = real_dir("coco_keypoints") / "person_keypoints_val2017.json"
    doc = json.loads(source.read_bytes())
    images = stand_in_images(doc, tmp_path / "images")
    store = posestore.open(tmp_path / "store")
    store.ingest(source, dataset="coco")
    page = store.view("coco", tmp_path / "val2017.html", image_root=images)
    dom = rendered_dom(page.path)
    instances, joints = per_image(doc)
    assert len(dom.scenes()) == len({im["id"] for im in doc["images"]})
    assert drawn(dom) == (+instances, +joints)
    assert page.missing == {}
    assert len(list(dom.grid.find("image", cls="picture"))) == len(dom.scenes())
    crowds = sum(bool(a["iscrowd"]) for a in doc["annotations"])
    assert len(list(dom.grid.find("image", cls="crowd-region"))) == crowds
    names = set(doc["categories"][0]["keypoints"])
    assert {j.attrs["data-joint"] for j in dom.joints()} <= names
    assert not re.search(r"(?i)\b(https?|file|ftp)://", page.html)
    from PIL import Image

    shot = np.asarray(Image.open(screenshot(page.path, tmp_path / "val.png")).convert("RGB"))
    near = np.abs(shot.astype(int) - PALETTE_FIRST).sum(axis=2) < 40
    assert near.sum() > 100


MALFORMED = "handmade18kp_person_keypoints_val2017_imagekey.json"


@pytest.mark.real
@pytest.mark.slow
@pytest.mark.parametrize(
    "path",
    real_params("coco_keypoints", "*.json") + real_params("cvat_coco", "*.json"),
)
def test_real_coco_family_files_draw_every_instance(path, tmp_path):
    if path is None:
        real_dir("coco_keypoints")
    doc = json.loads(path.read_bytes())
    store = posestore.open(tmp_path / "store")
    if path.name == MALFORMED:  # SOURCES.md: ``image`` for ``images``; nothing to draw
        with pytest.raises(PoseStoreError, match="'images' is missing"):
            store.ingest(path, dataset="real")
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # what the reader repairs is tested elsewhere
        store.ingest(path, dataset="real")
    page = store.view("real", tmp_path / "page.html", limit=10_000)
    dom = rendered_dom(page.path)
    annotations = doc.get("annotations", [])
    labelled = sum(v > 0 for a in annotations for v in (a.get("keypoints") or [])[2::3])
    assert len(dom.scenes()) == page.selected == len({str(im["id"]) for im in doc["images"]})
    assert (len(dom.instances()), len(dom.joints())) == (len(annotations), labelled)


@pytest.mark.real
def test_real_ntu_pickle_players(tmp_path):
    source = real_dir("pyskl") / "lzx_ntu60_hrnet.pkl"
    with source.open("rb") as fh:
        top = pickle.load(fh)  # a real file of SOURCES.md, checked with the allow-list there
    clips = {a["frame_dir"]: a for a in top["annotations"]}
    store = posestore.open(tmp_path / "store")
    store.ingest(source, dataset="ntu")
    page = store.view("ntu", tmp_path / "ntu.html", where="label = 3")
    check_clip_players(rendered_dom(page.path), {n: c for n, c in clips.items() if c["label"] == 3})
    whole = store.view("ntu", tmp_path / "ntu_all.html")
    assert (whole.selected, whole.shown) == (len(clips), DEFAULT_LIMITS["clips"])
    assert "--offset 24" in rendered_dom(whole.path).by_id("summary").all_text()
    assert not re.search(r"(?i)\b(https?|file|ftp)://", whole.html)


@pytest.mark.real
def test_real_kinetics_index_without_kpfiles(tmp_path):
    source = real_dir("pyskl") / "mmaction2_k400_kpfile_index_sample.pkl"
    with source.open("rb") as fh:
        top = pickle.load(fh)
    store = posestore.open(tmp_path / "store")
    with pytest.warns(Warning):
        store.ingest(source, dataset="k400")
    page = store.view("k400", tmp_path / "k400.html", limit=5)
    dom = rendered_dom(page.path)
    detections = {a["frame_dir"]: len(a["frame_inds"]) for a in top["annotations"]}
    for scene in dom.scenes():
        assert len(dom.instances(scene)) == detections[scene.attrs["data-file"]]
        assert "no joints stored" in scene.parent.all_text()


def test_pyarrow_is_what_selection_frames_are(coco_page, tmp_path):
    doc, _, _, _, store, _ = coco_page
    ids = [im["id"] for im in doc["images"][:3]]
    page = store.view("coco", selection=pa.table({"image_id": ids}))
    assert (page.selected, page.shown, page.path) == (3, 3, None)
