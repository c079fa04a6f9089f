"""Each kind of hostile value issue 16 lists ends in one line naming the file and the record,
the store unchanged; values the store can keep come back exactly. (The generated suite,
``test_hostile_inputs.py``, runs hundreds of mutations; these name the behaviour.)"""

from __future__ import annotations

import codecs
import json
import os
import pickle
import re
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hostile import DeclaredArray, Reduce, assert_one_line, snapshot
from strict import differences

import posestore
from posestore import pyjson, schema, synthetic
from posestore.errors import SourceError, StoreError


@pytest.fixture
def filled(store, tmp_path):
    """A store holding a COCO dataset, and what it looked like."""
    doc = synthetic.coco_keypoints(6, seed=2)
    store.ingest(synthetic.write_json(doc, tmp_path / "person_keypoints_val.json"), dataset="d")
    return store, snapshot(store.root)


def refused(store, before, path: Path, match: str, names: str | None = None) -> str:
    with pytest.raises(SourceError) as caught:
        store.ingest(path, dataset="x")
    message = assert_one_line(caught.value, names or str(path))
    assert re.search(match, message), message
    assert snapshot(store.root) == before
    return message


def clips_pickle(path: Path, change: dict | None = None, clip: int = 1, **top) -> Path:
    clips = synthetic.pyskl_clips(3, seed=3)
    names = [c["frame_dir"] for c in clips]
    clips[clip].update(change or {})
    obj = {"split": {"train": names}, "annotations": clips, **top}
    path.write_bytes(pickle.dumps(obj, protocol=4))
    return path


# -- PYSKL pickles ----------------------------------------------------------------------------


@pytest.mark.parametrize("codec", ["rot13", "no-such-codec", "hex"])
def test_a_pickle_asking_codecs_encode_for_another_codec_is_one_line(filled, tmp_path, codec):
    store, before = filled
    path = clips_pickle(tmp_path / "codec.pkl", {"frame_dir": Reduce(codecs.encode, "a", codec)})
    refused(store, before, path, f"codec '{codec}'; only latin-1 makes bytes")


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("keypoint", "0 1 2", r"annotations\[1\]\.keypoint: expected an array \[M, T, V, C\]"),
        ("keypoint_score", "high", r"annotations\[1\]\.keypoint_score: has shape None"),
        ("label", 2**70, r"annotations\[1\]\.label: holds an integer of 71 bits"),
        ("total_frames", 2**70, r"annotations\[1\]\.total_frames: holds an integer of 71 bits"),
        ("img_shape", (2**70, 5), r"annotations\[1\]\.img_shape: holds an integer of 71 bits"),
        ("frame_dir", 2**70, r"annotations\[1\]\.frame_dir: holds an integer of 71 bits"),
    ],
)
def test_strings_where_numbers_belong_and_integers_beyond_64_bits_name_the_field(
    filled, tmp_path, field, value, match
):
    store, before = filled
    refused(store, before, clips_pickle(tmp_path / "odd.pkl", {field: value}), match)


def test_integers_beyond_int64_that_fit_64_bits_and_numbers_as_text_come_back_exactly(
    store, tmp_path
):
    """What a column cannot hold is kept whole in attributes, not refused."""
    change = {"label": 2**63, "total_frames": "12", "img_shape": (2**63, 5), "frames": 2**40}
    path = clips_pickle(tmp_path / "kept.pkl", change)
    store.ingest(path, dataset="k")
    store.export("k", tmp_path / "out.pkl")
    assert pyjson.same(
        pickle.loads(path.read_bytes()), pickle.loads((tmp_path / "out.pkl").read_bytes())
    )


@pytest.mark.parametrize(
    ("array", "match"),
    [
        (np.zeros((9, 17, 2), "f4"), r"expected an array \[M, T, V, C\] with C 2 or 3, got ndarray \(9, 17, 2\)"),
        (np.zeros((1, 9, 17, 4), "f4"), r"got ndarray \(1, 9, 17, 4\)"),
        (np.zeros((1, 9, 17, 2), np.complex64), "has dtype complex64; expected an array of floats or integers"),
        (np.zeros((1, 9, 17, 2), bool), "has dtype bool"),
        (np.zeros((1, 9, 17, 2), "U3"), "has dtype <U3"),
    ],
    ids=["rank3", "four-channels", "complex", "bool", "str"],
)  # fmt: skip
def test_keypoint_arrays_of_the_wrong_rank_or_dtype_are_one_line(filled, tmp_path, array, match):
    store, before = filled
    path = clips_pickle(tmp_path / "arr.pkl", {"keypoint": array, "keypoint_score": None})
    refused(store, before, path, r"annotations\[1\]\.keypoint: .*" + match)


def test_scores_of_a_wrong_dtype_are_one_line(filled, tmp_path):
    store, before = filled
    clips = synthetic.pyskl_clips(3, seed=3)
    score = clips[1]["keypoint_score"].astype("U2")
    path = clips_pickle(tmp_path / "s.pkl", {"keypoint_score": score})
    refused(store, before, path, r"annotations\[1\]\.keypoint_score: has dtype <U2")


def test_integer_and_float64_arrays_beyond_float32_come_back_exactly(store, tmp_path):
    clips = synthetic.pyskl_clips(2, seed=3, frames=(5, 5))
    clips[0]["keypoint"] = clips[0]["keypoint"].astype(np.int64) + 2**40  # float32 loses these
    clips[1]["keypoint"] = clips[1]["keypoint"].astype(np.float64) + 1e-9
    path = synthetic.pyskl_pickle(tmp_path / "wide.pkl", clips)
    store.ingest(path, dataset="w")
    store.export("w", tmp_path / "out.pkl")
    assert pyjson.same(
        pickle.loads(path.read_bytes()), pickle.loads((tmp_path / "out.pkl").read_bytes())
    )


@pytest.mark.parametrize(
    "frame_dir", ["clip\udcff", "\ud800x"], ids=["surrogate-escape", "lone-high"]
)
def test_a_frame_dir_that_is_not_valid_unicode_in_a_kinetics_index_is_one_line(
    filled, tmp_path, frame_dir
):
    store, before = filled
    index = synthetic.kinetics_with_kpfiles(tmp_path / "k400", n_clips=4)
    obj = pickle.loads(index.read_bytes())
    obj["annotations"][2]["frame_dir"] = frame_dir
    index.write_bytes(pickle.dumps(obj, protocol=4))
    message = refused(
        store, before, index, r"annotations\[2\]\.frame_dir: holds text that is not valid Unicode"
    )
    message.encode("utf-8")  # printable: the surrogate is escaped


def test_kinetics_frame_inds_must_be_frame_numbers(filled, tmp_path):
    store, before = filled
    index = synthetic.kinetics_with_kpfiles(tmp_path / "k400", n_clips=4)
    obj = pickle.loads(index.read_bytes())
    obj["annotations"][0]["frame_inds"] = obj["annotations"][0]["frame_inds"].astype(np.float32)
    index.write_bytes(pickle.dumps(obj, protocol=4))
    refused(store, before, index, r"annotations\[0\]\.frame_inds: expected frame numbers")


def test_a_300_character_split_name_in_a_pickle_names_the_file_and_the_limit(filled, tmp_path):
    store, before = filled
    clips = synthetic.pyskl_clips(2, seed=3)
    path = synthetic.pyskl_pickle(
        tmp_path / "long.pkl", clips, {"s" * 300: [clips[0]["frame_dir"]]}
    )
    refused(store, before, path, r"long\.pkl: split: split name 's+'… is 300 bytes; at most 200")


def test_a_name_of_the_byte_limit_makes_folders_and_export_files_that_fit(store, tmp_path):
    """Every partition folder (``split=<name>``) and export folder (YOLO ``labels/<split>``)
    made of a name at the limit stays within the 255 bytes of a file name."""
    name = "n" * schema.NAME_LIMIT
    doc = synthetic.coco_keypoints(3, seed=1)
    store.ingest(synthetic.write_json(doc, tmp_path / "a.json"), dataset=name, split=name)
    with pytest.warns(UserWarning):  # one split: data.yaml's train and val name it
        store.export(name, tmp_path / "out", format="yolo-pose")
    assert (tmp_path / "out" / "labels" / name).is_dir()
    made = [*store.root.rglob("*"), *(tmp_path / "out").rglob("*")]
    assert max(len(part.encode()) for p in made for part in p.parts) <= 255
    with pytest.raises(StoreError, match="at most 200"):
        store.ingest(tmp_path / "a.json", dataset=name + "n")


# size bombs, in a child process whose address space is capped: a regression fails the test,
# not the machine

CAPPED = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
from posestore.cli import main
sys.exit(main(sys.argv[1:]))
"""


# RLIMIT_AS caps address space, not memory: Arrow's jemalloc, glibc's per-thread arenas and
# OpenBLAS reserve about 1.5 GB of it that they never touch, and a thread started near the cap
# dies with EAGAIN. With these the child reserves about 0.4 GB, so the cap measures what it uses.
LEAN = {"ARROW_DEFAULT_MEMORY_POOL": "system", "MALLOC_ARENA_MAX": "2", "OPENBLAS_NUM_THREADS": "1"}


def capped_ingest(store_root: Path, source: Path, limit: int = 1536 << 20):
    return subprocess.run(
        [sys.executable, "-c", CAPPED.format(limit=limit), "--store", str(store_root),
         "ingest", str(source), "--dataset", "x"],
        capture_output=True, text=True, timeout=300, check=False, env={**os.environ, **LEAN},
    )  # fmt: skip


def bomb_pickles(folder: Path) -> dict[str, Path]:
    """Pickles of a few hundred bytes declaring terabytes."""
    shared: list = []
    for _ in range(40):
        shared = [shared] * 2
    made = {
        "13.6GB-array": DeclaredArray((10**8, 17, 2), b"\0" * 8),
        "2^40-shared-lists": shared,
        "2^40-empty-frames": [{"frame_dir": "c", "keypoint": np.zeros((0, 2**40, 17, 2), "f4")}],
        "2^31-total-frames": [{"frame_dir": f"c{i}", "total_frames": 2**31 - 1} for i in range(4)],
    }
    out = {}
    for name, obj in made.items():
        out[name] = folder / f"{name}.pkl"
        out[name].write_bytes(pickle.dumps(obj, protocol=2 if name == "13.6GB-array" else 4))
    return out


@pytest.mark.slow
@pytest.mark.parametrize(
    ("bomb", "match"),
    [
        ("13.6GB-array", "declares 13600000000 bytes but carries 8"),
        ("2^40-shared-lists", "expands to more than"),
        ("2^40-empty-frames", "more than 2,147,483,647 frames in one clip"),
        ("2^31-total-frames", r"annotations\[0\]: total_frames 2,147,483,647: the clips up to this one declare"),
    ],
)  # fmt: skip
def test_pickles_declaring_sizes_out_of_proportion_are_refused_before_allocating(
    filled, tmp_path, bomb, match
):
    store, before = filled
    path = bomb_pickles(tmp_path)[bomb]
    assert path.stat().st_size < 3000
    done = capped_ingest(store.root, path)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1, done.stderr[-2000:]
    assert re.search(match, lines[0]) and path.name in lines[0], lines[0]
    assert snapshot(store.root) == before


# -- COCO ------------------------------------------------------------------------------------


WIDE = [
    ("images[2].width", 2**64 + 5),
    ("images[0].id", 2**64),
    ("annotations[1].keypoints[3]", 2**70),
    ("annotations[0].area", -(2**63) - 1),
    ("info.year", 10**30),
]


@pytest.mark.parametrize(
    ("size", "where", "value"),
    [("small", *w) for w in WIDE] + [("cut", *w) for w in WIDE[::2]],
)
def test_coco_integers_beyond_64_bits_name_their_field(filled, tmp_path, where, value, size):
    """orjson reads them as floats, which an export would write back as floats: refused,
    in small documents and in large ones whose number arrays are parsed in bulk."""
    store, before = filled
    doc = synthetic.coco_keypoints(3 if size == "small" else 2500, seed=5)
    node: object = doc
    keys = where.replace("]", "").replace("[", ".").split(".")
    for key in keys[:-1]:
        node = node[int(key)] if key.isdigit() else node[key]  # type: ignore[index]
    node[int(keys[-1]) if keys[-1].isdigit() else keys[-1]] = value  # type: ignore[index]
    path = tmp_path / "wide.json"
    path.write_bytes(json.dumps(doc).encode())
    assert (path.stat().st_size > 1 << 20) == (size == "cut")
    shown = re.escape(str(value) if len(str(value)) <= 30 else f"{str(value)[:27]}…")
    pattern = rf"{re.escape(where)}: the integer {shown} \(\d+ digits\) does not fit in 64 bits"
    refused(store, before, path, pattern)


def test_long_digit_runs_that_are_not_wide_integers_are_kept(store, tmp_path):
    """Digits in strings, float tokens of many digits and 64-bit ids are no wide integers."""
    doc = synthetic.coco_keypoints(3, seed=5)
    doc["images"][0]["file_name"] = "1234567890123456789012345.jpg"
    doc["images"][1]["note"] = (
        'a "quoted" 99999999999999999999999 and \\\\" 88888888888888888888888'
    )
    doc["annotations"][0]["area"] = 0.12345678901234567890123
    doc["images"][2]["license"] = 2**64 - 1  # unsigned 64 bits: kept as the override it is
    path = tmp_path / "digits.json"
    path.write_bytes(json.dumps(doc).encode())
    store.ingest(path, dataset="g")
    store.export("g", tmp_path / "out.json", split="digits")
    assert (
        differences(json.loads(path.read_bytes()), json.loads((tmp_path / "out.json").read_bytes()))
        == []
    )


# -- FashionAI ------------------------------------------------------------------------------


def test_a_fashionai_cell_beyond_pythons_csv_field_limit_names_its_line(filled, tmp_path):
    store, before = filled
    path = synthetic.fashionai_csv(tmp_path / "train.csv", n_rows=5)
    lines = path.read_text().splitlines()
    lines[3] = lines[3].replace("Images/", "Images/" + "a" * 200_000, 1)
    path.write_text("\n".join(lines) + "\n")
    refused(store, before, path, r"line 4: has a cell longer than 131,072 characters")


# -- zips -------------------------------------------------------------------------------------

MEMBER = "annotations/person_keypoints_default.json"


def _flagged(data: bytes, bit: int) -> bytes:
    buf = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = buf.find(signature) + offset
        struct.pack_into("<H", buf, at, struct.unpack_from("<H", buf, at)[0] | bit)
    return bytes(buf)


def test_a_truncated_zip_is_one_line(filled, tmp_path):
    store, before = filled
    data = synthetic.cvat_zip(tmp_path / "task.zip").read_bytes()
    for cut in (10, len(data) // 2, len(data) - 10):
        path = tmp_path / f"cut{cut}.zip"
        path.write_bytes(data[:cut])
        refused(store, before, path, "not a readable zip file")


def test_an_encrypted_zip_is_one_line_naming_the_member(filled, tmp_path):
    store, before = filled
    path = tmp_path / "secret.zip"
    path.write_bytes(_flagged(synthetic.cvat_zip(tmp_path / "task.zip").read_bytes(), 1))
    refused(store, before, path, "is encrypted", names=f"{path}!{MEMBER}")


def test_a_zip_holding_a_folder_where_the_json_should_be_is_one_line(filled, tmp_path):
    store, before = filled
    path = tmp_path / "folder.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(zipfile.ZipInfo(f"{MEMBER}/"), b"")
        zf.writestr(f"{MEMBER}/readme.txt", b"x")
    refused(store, before, path, "the zip holds no JSON annotation file")


def zip_bomb(path: Path, inflated: int, declared: int | None = None) -> Path:
    """A zip whose JSON member is ``inflated`` bytes of blanks (deflated about a thousand
    times); ``declared`` overwrites the size its headers give."""
    block = b" " * (1 << 20)
    with (
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf,
        zf.open(MEMBER, "w") as member,
    ):
        for _ in range(inflated >> 20):
            member.write(block)
    if declared is not None:
        raw = bytearray(path.read_bytes())
        struct.pack_into("<I", raw, raw.find(b"PK\x03\x04") + 22, declared)
        struct.pack_into("<I", raw, raw.find(b"PK\x01\x02") + 24, declared)
        path.write_bytes(bytes(raw))
    return path


def test_a_zip_bomb_is_refused_by_its_ratio_before_inflating(filled, tmp_path):
    store, before = filled
    path = zip_bomb(tmp_path / "bomb.zip", 256 << 20)
    assert path.stat().st_size < 400_000
    done = capped_ingest(store.root, path, limit=768 << 20)  # 256 MB inflated would not fit
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1, done.stderr[-2000:]
    assert f"bomb.zip!{MEMBER}: declares 268,435,456 bytes inflated from" in lines[0], lines[0]
    assert "more than the 200 times posestore inflates" in lines[0]
    assert snapshot(store.root) == before


def test_a_zip_member_that_inflates_beyond_its_declared_size_is_cut_and_refused(filled, tmp_path):
    store, before = filled
    path = zip_bomb(tmp_path / "liar.zip", 64 << 20, declared=1000)
    refused(store, before, path, "cannot be read from the zip", names=f"liar.zip!{MEMBER}")


# -- a full disk ------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs (root only; skipped elsewhere)."""
    folder = tmp_path / "small"
    folder.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)],
        capture_output=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)  # lazy: a held file waits


def test_a_full_disk_during_ingest_is_one_line_and_the_store_is_unchanged(
    small_disk, tmp_path, cli
):
    store = posestore.open(small_disk / "store")
    store.ingest(
        synthetic.write_json(synthetic.coco_keypoints(4, seed=1), tmp_path / "a.json"), dataset="a"
    )
    before = snapshot(store.root)
    big = synthetic.write_json(synthetic.coco_keypoints(12_000, seed=2), tmp_path / "big.json")
    with pytest.raises(
        StoreError, match="No space left on device; nothing was committed"
    ) as caught:
        store.ingest(big, dataset="big")
    assert_one_line(caught.value, str(store.root))
    assert snapshot(store.root) == before
    r = cli("--store", store.root, "ingest", big, "--dataset", "big")
    assert r.exit_code == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert snapshot(store.root) == before
    assert not list((store.root / ".posestore" / "txn").iterdir())
    assert os.statvfs(small_disk).f_bfree > 0  # the failed transaction's files are gone


def test_the_capped_child_can_ingest_a_plain_source(store, tmp_path):
    """The cap leaves room for an honest ingest: the refusals above are the checks', not
    the cap's."""
    path = synthetic.pyskl_pickle(tmp_path / "fine.pkl", synthetic.pyskl_clips(3, seed=3))
    done = capped_ingest(store.root, path)
    assert done.returncode == 0, done.stderr[-2000:]
