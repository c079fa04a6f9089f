"""The skeleton registry: its JSON is consistent and sourced, joint names normalise, categories of
real files match the skeleton SOURCES.md describes, and projections copy, average or blank joints.

The registry files are read here with ``json`` as well as through posestore, so a loader bug cannot
hide a data bug. Every behaviour tested on real files is also tested on hand-written names."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import real_dir, real_params
from pycocotools.cocoeval import Params

import posestore
from posestore.errors import PoseStoreError
from posestore.skeleton import (
    SkeletonError,
    match_category,
    normalise_joint_name,
    project,
    projection,
    skeleton,
    skeletons,
    vocabulary,
)

REGISTRY = Path(posestore.__file__).parent / "skeletons"
COUNTS = {
    "coco17": 17,
    "coco_wholebody133": 133,
    "halpe26": 26,
    "halpe136": 136,
    "aic14": 14,
    "crowdpose14": 14,
    "mpii16": 16,
    "openpose18": 18,
    "ntu25": 25,
    "ap10k17": 17,
    "posetrack18": 17,
    "fashionai24": 24,
}
COCO17 = [
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle",
]  # fmt: skip


def raw(name: str) -> dict:
    return json.loads((REGISTRY / f"{name}.json").read_text(encoding="utf-8"))


RAW_VOCABULARY = json.loads((REGISTRY / "_vocabulary.json").read_text(encoding="utf-8"))
VOCAB_PART = {j["name"]: j["part"] for j in RAW_VOCABULARY["joints"]}


def vocab_mirror(name: str) -> str:
    entry = next(j for j in RAW_VOCABULARY["joints"] if j["name"] == name)
    if "mirror" in entry:
        return entry["mirror"]
    if name.startswith("left_"):
        return "right_" + name[5:]
    if name.startswith("right_"):
        return "left_" + name[6:]
    return name


# -- the registry files --------------------------------------------------------------------------


def test_the_registry_holds_exactly_the_twelve_skeletons():
    files = sorted(p.stem for p in REGISTRY.glob("*.json") if not p.name.startswith("_"))
    assert files == sorted(COUNTS)
    assert sorted(skeletons()) == sorted(COUNTS)


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_registry_file_is_consistent(name):
    doc = raw(name)
    joints = doc["joints"]
    names = [j["name"] for j in joints]
    assert doc["name"] == name and doc["title"] and doc["description"]
    assert len(joints) == COUNTS[name]
    assert len(set(names)) == len(names)
    index = {n: i for i, n in enumerate(names)}
    flip = [index[j["flip"]] for j in joints]
    assert [flip[f] for f in flip] == list(range(len(joints))), "flip is not an involution"
    for j in joints:
        assert j["canonical"] in VOCAB_PART, j
        assert j["part"] == VOCAB_PART[j["canonical"]] in RAW_VOCABULARY["parts"], j
        # the mirror joint's canonical name is the mirror of this joint's canonical name
        assert joints[index[j["flip"]]]["canonical"] == vocab_mirror(j["canonical"]), j
        assert j["sigma"] is None or (isinstance(j["sigma"], float) and j["sigma"] > 0), j
        assert set(j) <= {"name", "canonical", "part", "flip", "sigma", "approx", "midpoint_of"}
        if "midpoint_of" in j:
            assert len(j["midpoint_of"]) == 2 and all(e in index for e in j["midpoint_of"])
    canonicals = [j["canonical"] for j in joints]
    assert len(set(canonicals)) == len(canonicals)
    for a, b in doc["bones"]:
        assert 0 <= a < len(joints) and 0 <= b < len(joints) and a != b
    assert len({frozenset(b) for b in doc["bones"]}) == len(doc["bones"])


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_registry_file_names_a_source_for_every_kind_of_value(name):
    said = " ".join(s["what"] for s in raw(name)["sources"])
    for kind in ("joint order", "flip", "bones", "sigma", "canonical"):
        assert kind in said, f"{name}: no source for {kind}"
    assert all(s["from"] for s in raw(name)["sources"])


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_loaded_skeleton_is_the_json(name):
    doc, skel = raw(name), skeleton(name)
    assert skel.names == tuple(j["name"] for j in doc["joints"])
    assert skel.canonicals == tuple(j["canonical"] for j in doc["joints"])
    assert [skel.names[f] for f in skel.flip_index] == [j["flip"] for j in doc["joints"]]
    assert skel.sigmas == tuple(j["sigma"] for j in doc["joints"])
    assert skel.bones == tuple(tuple(b) for b in doc["bones"])
    assert [j.approx for j in skel.joints] == [j.get("approx", False) for j in doc["joints"]]


def test_coco17_sigmas_are_pycocotools_exactly():
    expected = Params(iouType="keypoints").kpt_oks_sigmas.tolist()
    assert [j["sigma"] for j in raw("coco17")["joints"]] == expected
    assert list(skeleton("coco17").sigmas) == expected
    assert [j["name"] for j in raw("coco17")["joints"]] == COCO17


def test_skeletons_without_published_sigmas_have_none():
    for name in ("ntu25", "fashionai24"):
        assert set(skeleton(name).sigmas) == {None}
    nose, neck = skeleton("openpose18").sigmas[:2]
    assert (nose, neck) == (skeleton("coco17").sigmas[0], None)


def test_openpose18_neck_is_the_midpoint_of_the_shoulders():
    skel = skeleton("openpose18")
    neck = skel.names.index("Neck")
    assert [skel.canonicals[e] for e in skel.joints[neck].midpoint_of] == [
        "left_shoulder",
        "right_shoulder",
    ]
    assert [i for i, j in enumerate(skel.joints) if j.midpoint_of] == [neck]


def test_vocabulary_is_consistent():
    joints = [j["name"] for j in RAW_VOCABULARY["joints"]]
    assert len(set(joints)) == len(joints)
    assert all(vocab_mirror(vocab_mirror(n)) == n for n in joints)
    assert all(vocab_mirror(n) in VOCAB_PART for n in joints)
    assert set(VOCAB_PART.values()) == set(RAW_VOCABULARY["parts"])
    assert all(f"left_{v}" in VOCAB_PART for v in RAW_VOCABULARY["synonyms"].values())
    assert all(v in VOCAB_PART for v in RAW_VOCABULARY["midline_synonyms"].values())
    assert set(vocabulary().joints) == set(joints)


def test_every_registry_joint_name_normalises_uniquely_and_shared_sets_differ_in_order():
    keys = {}
    for name, skel in skeletons().items():
        cleaned = [normalise_joint_name(n) for n in skel.names]
        assert len(set(cleaned)) == len(cleaned), name
        keys[name] = cleaned
    for a in keys:
        for b in keys:
            if a < b and set(keys[a]) == set(keys[b]):
                assert keys[a] != keys[b], f"{a} and {b} cannot be told apart"


def test_count_rules_name_one_skeleton_per_format_and_count():
    seen = {}
    for name, skel in skeletons().items():
        for fmt in skel.match_by_count:
            assert (fmt, len(skel)) not in seen, (name, seen.get((fmt, len(skel))))
            seen[fmt, len(skel)] = name
    assert seen == {
        ("coco", 17): "coco17",
        ("coco", 26): "halpe26",
        ("coco", 133): "coco_wholebody133",
        ("coco", 136): "halpe136",
        ("pyskl", 17): "coco17",
        ("pyskl", 18): "openpose18",
        ("pyskl", 25): "ntu25",
    }


def test_unknown_skeleton_is_a_posestore_error():
    with pytest.raises(PoseStoreError, match="unknown skeleton 'coco18'"):
        skeleton("coco18")


# -- joint names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spelled", "canonical"),
    [
        ("left_wrist", "left_wrist"),
        ("Left Wrist", "left_wrist"),
        ("left elbow", "left_elbow"),
        ("left-wrist", "left_wrist"),
        ("left.wrist", "left_wrist"),
        ("LEFT_WRIST", "left_wrist"),
        ("l_wrist", "left_wrist"),
        ("wrist_left", "left_wrist"),
        ("WristLeft", "left_wrist"),
        ("LShoulder", "left_shoulder"),
        ("RShoulder", "right_shoulder"),
        ("Rsho", "right_shoulder"),
        ("Lelb", "left_elbow"),
        ("Rank", "right_ankle"),
        ("Rknee", "right_knee"),
        ("Leye", "left_eye"),
        ("REar", "right_ear"),
        ("head", "head_top"),
        ("top_head", "head_top"),
        ("Head top", "head_top"),
        ("head_top", "head_top"),
        ("neck", "neck"),
        ("upper neck", "upper_neck"),
        ("hip", "pelvis"),
        ("MidHip", "pelvis"),
        ("l_hip", "left_hip"),
        ("LBigToe", "left_big_toe"),
        ("left_bigtoe", "left_big_toe"),
        ("face-0", "face_0"),
        ("L_F_Paw", "left_front_paw"),
        ("Root of tail", "tail_root"),
        ("HandTipLeft", "left_hand_tip"),
        ("cuff_left_in", "left_cuff_in"),
    ],
)
def test_joint_names_normalise_to_the_canonical_vocabulary(spelled, canonical):
    assert normalise_joint_name(spelled) == canonical
    assert canonical in vocabulary().joints


@pytest.mark.parametrize(
    ("spelled", "cleaned"), [("Rfli", "rfli"), ("mouth", "mouth"), ("13", "13"), ("tip", "tip")]
)
def test_unknown_joint_names_are_only_cleaned(spelled, cleaned):
    assert normalise_joint_name(spelled) == cleaned
    assert cleaned not in vocabulary().joints


# -- matching categories -------------------------------------------------------------------------

CROWDPOSE = [
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "head", "neck",
]  # fmt: skip
AIC = [
    "Right Shoulder", "Right Elbow", "Right Wrist", "Left Shoulder", "Left Elbow", "Left Wrist",
    "Right Hip", "Right Knee", "Right Ankle", "Left Hip", "Left Knee", "Left Ankle", "Head top", "Neck",
]  # fmt: skip
HANDMADE18 = [
    "mouth", "neck", "Rsho", "Relb", "Rwri", "Lsho", "Lelb", "Lwri", "Rhip", "Rkne", "Rank",
    "Rfli", "Lhip", "Lkne", "Lank", "Lfli", "Reye", "Leye",
]  # fmt: skip


def mirrored_by_name(names: list[str], flip) -> None:
    """Each joint's flip partner has the same name with its side swapped (or is itself)."""
    for i, f in enumerate(flip):
        a, b = normalise_joint_name(names[i]), normalise_joint_name(names[f])
        swapped = a.replace("left_", "@").replace("right_", "left_").replace("@", "right_")
        assert b == swapped, (names[i], names[f])


def test_crowdpose_and_aic_share_a_joint_set_and_are_told_apart_by_order():
    crowd = match_category(CROWDPOSE, 14, "coco")
    aic = match_category(AIC, 14, "coco")
    assert (crowd.skeleton, crowd.how, crowd.same_order) == ("crowdpose14", "names", True)
    assert (aic.skeleton, aic.how, aic.same_order) == ("aic14", "names", True)
    assert crowd.flip[0] == 1 and crowd.flip[1] == 0 and crowd.flip[12:] == (12, 13)
    assert aic.canonical[0] == "right_shoulder" and aic.flip[0] == 3 and aic.flip[3] == 0
    assert aic.approx[12:] == (True, True) and not any(crowd.approx)
    mirrored_by_name(CROWDPOSE, crowd.flip)
    mirrored_by_name(AIC, aic.flip)
    # in neither order, the set is ambiguous: canonical names, but no sigmas claimed
    shuffled = match_category(CROWDPOSE[::-1], 14, "coco")
    assert shuffled.skeleton is None and shuffled.how == "partial"
    assert shuffled.canonical[-1] == "left_shoulder" and set(shuffled.sigma) == {None}
    assert shuffled.nearest in ("crowdpose14", "aic14")


def test_category_in_another_order_matches_by_names_with_flips_in_its_own_order():
    names = COCO17[::-1]
    found = match_category(names, 17, "coco")
    assert (found.skeleton, found.how, found.same_order) == ("coco17", "names", False)
    assert found.canonical == tuple(names)
    assert found.joint == tuple(range(16, -1, -1))
    assert found.sigma == tuple(reversed(skeleton("coco17").sigmas))
    mirrored_by_name(names, found.flip)
    assert found.flip[names.index("nose")] == names.index("nose")


def test_categories_without_names_match_by_count_and_format():
    expected = {
        ("coco", 136): "halpe136",
        ("coco", 133): "coco_wholebody133",
        ("coco", 26): "halpe26",
        ("coco", 17): "coco17",
        ("pyskl", 17): "coco17",
        ("pyskl", 25): "ntu25",
        ("pyskl", 18): "openpose18",
    }
    for (fmt, count), name in expected.items():
        found = match_category([], count, fmt)
        assert (found.skeleton, found.how, found.same_order) == (name, "count", True)
        assert found.flip == skeleton(name).flip_index
    assert match_category([], 3, "coco") is None
    assert match_category([], 25, "coco") is None
    assert match_category([str(i) for i in range(1, 14)], 13, "coco") is None
    # names that say nothing are no better than none; a list of the wrong length is unusable
    assert match_category([str(i) for i in range(17)], 17, "pyskl").how == "count"
    assert match_category([*COCO17, "left_toe", "right_toe"], 17, "coco").how == "count"


def test_names_given_by_pyskl_layouts_match_their_skeletons():
    ntu = ["spine_base", "spine_mid", "neck", "head", "left_shoulder", "left_elbow", "left_wrist",
           "left_hand", "right_shoulder", "right_elbow", "right_wrist", "right_hand", "left_hip",
           "left_knee", "left_ankle", "left_foot", "right_hip", "right_knee", "right_ankle",
           "right_foot", "spine_shoulder", "left_hand_tip", "left_thumb", "right_hand_tip",
           "right_thumb"]  # fmt: skip
    found = match_category(ntu, 25, "pyskl")
    assert (found.skeleton, found.how, found.same_order) == ("ntu25", "names", True)
    assert found.canonical[3] == "nose" and found.approx[3]


def test_fashionai_garment_matches_a_subset_of_fashionai24():
    skirt = ["waistband_left", "waistband_right", "hemline_left", "hemline_right"]
    found = match_category(skirt, 4, "fashionai")
    assert (found.skeleton, found.how) == ("fashionai24", "subset")
    assert found.flip == (1, 0, 3, 2)
    assert found.part == ("garment",) * 4 and found.sigma == (None,) * 4
    assert found.joint == (15, 16, 17, 18)
    # outside FashionAI a subset is not enough
    assert match_category(skirt, 4, "coco").skeleton is None


def test_openpose_style_names_give_a_partial_match_near_openpose18():
    found = match_category(HANDMADE18, 18, "coco")
    assert (found.skeleton, found.how, found.nearest) == (None, "partial", "openpose18")
    assert found.canonical[:3] == (None, "neck", "right_shoulder")
    assert [HANDMADE18[i] for i, c in enumerate(found.canonical) if c is None] == [
        "mouth",
        "Rfli",
        "Lfli",
    ]
    assert found.flip[2] == HANDMADE18.index("Lsho") and found.flip[1] == 1
    assert found.flip[HANDMADE18.index("Rfli")] is None
    assert set(found.sigma) == {None} and found.joint == (None,) * 18


def test_left_right_names_outside_the_vocabulary_still_pair_up():
    names = ["left_rear", "left_front", "right_rear", "right_front"]
    found = match_category(names, 4, "coco")
    assert found.how == "partial" and found.canonical == (None,) * 4
    assert found.flip == (2, 3, 0, 1) and found.nearest is None


# -- the real files ------------------------------------------------------------------------------

NAMES = ("coco17", "names")
EXPECTED = {
    "person_keypoints_val2017.json": NAMES,
    "person_keypoints_train2017.json": NAMES,
    "mmpose_test_coco.json": NAMES,
    "mmpose_test_coco_wholebody.json": NAMES,  # the category lists COCO's 17 names only
    "mmpose_test_ochuman.json": NAMES,
    "hrnetpe_person_keypoints_val2017_dupimages.json": NAMES,
    "hrnetpe_person_keypoints_train2017.json": NAMES,
    "cocoannotator_person_keypoints_train2017.json": NAMES,
    "cocoannotator_person_keypoints_val2017.json": NAMES,
    "labelstudio_person_keypoints_val2017.json": NAMES,  # "Left Eye"
    "mmpose_test_crowdpose.json": ("crowdpose14", "names"),
    "mmpose_test_aic.json": ("aic14", "names"),
    "mmpose_test_halpe.json": ("halpe136", "count"),  # no names, 136 joints
    "mmpose_test_humanart.json": ("coco17", "count"),  # 21 names for 17-joint keypoints
    "mmpose_test_posetrack18_val.json": ("posetrack18", "names"),
    "mmpose_test_ap10k.json": ("ap10k17", "names"),  # 54 categories, one skeleton
    "handmade18kp_person_keypoints_val201701.json": (None, "partial"),  # mouth, Rsho, Rfli…
    "handmade18kp_person_keypoints_val2017_imagekey.json": (None, "partial"),
    "cvat_tracks_3skeletons_person_keypoints_Train.json": (None, "partial"),  # "left elbow", poles
    "cvat_skeleton13_person_keypoints_default.json": None,  # joints "1".."13"
    "cvat_pointlabels_noanns_person_keypoints_train.json": None,  # 17 categories without joints
    "datumaro_person_keypoints_train_2021-06.json": None,  # no names, 3 joints
    "datumaro_person_keypoints_val.json": None,
    "person_keypoints_train.json": None,
}
REAL_JSON = real_params("coco_keypoints", "*.json") + real_params("cvat_coco", "*.json")


def categories_of(path: Path) -> list[tuple[dict, int]]:
    """Each category with the joint count its annotations carry (its name count without any)."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    counts = {}
    for a in doc.get("annotations", []):
        if a.get("keypoints") is not None:
            counts.setdefault(a["category_id"], len(a["keypoints"]) // 3)
    return [(c, counts.get(c["id"], len(c.get("keypoints") or []))) for c in doc["categories"]]


@pytest.mark.real
@pytest.mark.parametrize("path", REAL_JSON)
def test_real_coco_family_categories_match_the_skeleton_sources_md_describes(path):
    if path is None:
        real_dir("coco_keypoints")
        real_dir("cvat_coco")
    assert path.name in EXPECTED, f"{path.name}: add what SOURCES.md says it is to EXPECTED"
    for category, count in categories_of(path):
        found = match_category(category.get("keypoints") or [], count, "coco")
        got = None if found is None else (found.skeleton, found.how)
        if category["name"] in ("rollerskis", "poles"):  # the CVAT file's non-person skeletons
            assert got == (None, "partial") and not any(found.canonical), category["name"]
        else:
            assert got == EXPECTED[path.name], category["name"]
        if found is not None:
            assert len(found.canonical) == len(found.flip) == len(found.sigma) == count
            assert all(f is None or found.flip[f] == i for i, f in enumerate(found.flip))


@pytest.mark.real
def test_real_cvat_person_with_a_spaced_name_gets_its_known_joints():
    path = real_dir("cvat_coco") / "cvat_tracks_3skeletons_person_keypoints_Train.json"
    (person, count), *_ = categories_of(path)
    found = match_category(person["keypoints"], count, "coco")
    names = person["keypoints"]
    assert found.canonical[names.index("left elbow")] == "left_elbow"
    assert found.canonical[names.index("top_head")] == "head_top"
    assert [names[i] for i, c in enumerate(found.canonical) if c is None] == [
        "right_front_foot",
        "left_front_foot",
    ]
    assert names[found.flip[names.index("left elbow")]] == "right_elbow"
    assert found.nearest in ("crowdpose14", "aic14")


@pytest.mark.real
@pytest.mark.parametrize(("file", "name"), [("mmpose_test_crowdpose.json", "crowdpose14"), ("mmpose_test_aic.json", "aic14")])  # fmt: skip
def test_real_crowdpose_and_aic_mirror_joints_are_right(file, name):
    ((category, count),) = categories_of(real_dir("coco_keypoints") / file)
    names = category["keypoints"]
    found = match_category(names, count, "coco")
    assert found.skeleton == name and found.same_order
    mirrored_by_name(names, found.flip)
    assert found.flip == skeleton(name).flip_index
    assert names[0] in ("left_shoulder", "Right Shoulder")
    assert found.flip[0] == (1 if name == "crowdpose14" else 3)


@pytest.mark.real
def test_real_fashionai_categories_are_subsets_of_fashionai24():
    path = real_dir("fashionai") / "fashionAI_key_points_test_a_answer_20180426.csv"
    with path.open(newline="") as f:
        header, *rows = list(csv.reader(f))
    assert list(skeleton("fashionai24").names) == header[2:]
    labelled: dict[str, set[str]] = {}
    for row in rows:
        cells = zip(header[2:], row[2:])
        labelled.setdefault(row[1], set()).update(n for n, c in cells if c != "-1_-1_-1")
    assert sorted(labelled) == ["blouse", "dress", "outwear", "skirt", "trousers"]
    for category, present in labelled.items():
        names = [n for n in header[2:] if n in present]
        found = match_category(names, len(names), "fashionai")
        assert (found.skeleton, found.how) == ("fashionai24", "subset"), category
        mirrored_by_name(names, found.flip)


# -- projection ----------------------------------------------------------------------------------


def poses(n: int, v: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 640, (n, v)).astype(np.float32)
    y = rng.uniform(0, 480, (n, v)).astype(np.float32)
    vis = rng.integers(0, 3, (n, v)).astype(np.int8)
    return x, y, vis


def test_crowdpose_projected_to_coco17_copies_limbs_and_blanks_the_face():
    x, y, v = poses(5, 14)
    to = projection(skeleton("crowdpose14").canonicals, "coco17")
    px, py, pv = project(x, y, v, to)
    # COCO joint ← CrowdPose joint, written out by hand; None: CrowdPose has no such joint
    by_hand = [None, None, None, None, None, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    for coco, crowd in enumerate(by_hand):
        if crowd is None:
            assert (px[:, coco] == 0).all() and (py[:, coco] == 0).all()
            assert (pv[:, coco] == 0).all()
        else:
            assert (px[:, coco] == x[:, crowd]).all() and (py[:, coco] == y[:, crowd]).all()
            assert (pv[:, coco] == v[:, crowd]).all()
    assert (px.dtype, pv.dtype, px.shape) == (np.float32, np.int8, (5, 17))
    assert to.missing == ("nose", "left_eye", "right_eye", "left_ear", "right_ear")


def test_openpose18_neck_is_computed_from_coco_shoulders_where_both_are_labelled():
    x, y, v = poses(4, 17, seed=1)
    v[:, 5], v[:, 6] = [2, 1, 0, 2], [2, 2, 2, 0]  # left and right shoulder
    px, py, pv = project(x, y, v, projection(COCO17, "openpose18"))
    neck = skeleton("openpose18").names.index("Neck")
    assert pv[:, neck].tolist() == [2, 1, 0, 0]
    np.testing.assert_array_equal(px[:2, neck], (x[:2, 5] + x[:2, 6]) / 2)
    np.testing.assert_array_equal(py[:2, neck], (y[:2, 5] + y[:2, 6]) / 2)
    assert (px[2:, neck] == 0).all() and (py[2:, neck] == 0).all()
    nose = skeleton("openpose18").names.index("Nose")
    rsho = skeleton("openpose18").names.index("RShoulder")
    assert (px[:, nose] == x[:, 0]).all() and (px[:, rsho] == x[:, 6]).all()


def test_a_source_with_its_own_neck_copies_it_rather_than_averaging():
    x, y, v = poses(3, 14, seed=2)
    px, _, pv = project(x, y, v, projection(skeleton("crowdpose14").canonicals, "openpose18"))
    neck = skeleton("openpose18").names.index("Neck")
    assert (px[:, neck] == x[:, 13]).all() and (pv[:, neck] == v[:, 13]).all()


def test_projection_keeps_leading_axes_and_dtypes_of_clip_arrays():
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 100, (2, 6, 17)).astype(np.float16)  # [M, T, V] of a PYSKL clip
    y, v = x + 1, np.full(x.shape, 2, dtype=np.int8)
    px, py, pv = project(x, y, v, projection(COCO17, skeleton("halpe26")))
    assert px.shape == (2, 6, 26) and px.dtype == np.float16 and pv.dtype == np.int8
    assert (px[..., :17] == x).all() and (pv[..., 17:] == 0).all()


def test_unknown_source_joints_are_skipped_and_bad_shapes_refused():
    to = projection([None, "nose", "nose"], "coco17")
    assert to.source[0] == 1 and (to.source[1:] == -1).all()
    with pytest.raises(SkeletonError, match=r"\[\.\.\., 3\]"):
        project(np.zeros((2, 4)), np.zeros((2, 4)), np.zeros((2, 4)), to)
    with pytest.raises(PoseStoreError):
        project(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((3, 3)), to)
