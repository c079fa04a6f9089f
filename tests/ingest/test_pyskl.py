"""PYSKL pickles: round trip array for array and dtype for dtype, Kinetics kpfiles, splits,
subsets, errors that name the key, and SQL across formats."""

from __future__ import annotations

import pickle

import numpy as np
import pyarrow as pa
import pytest
from conftest import real_dir, real_params
from posestore.ingest.pyskl import read_pyskl

from posestore import pyjson, safe_pickle, synthetic
from posestore.errors import SourceError

REAL_PKL = real_params("pyskl", "*.pkl")


def round_trip(store, path, out_name="back.pkl", **kw) -> list:
    (done,) = store.ingest(path, dataset="p", **kw)
    return store.export("p", store.root.parent / "out" / out_name)


def assert_same(a, b, where="$"):
    """Equal, with types, dtypes and shapes; the first difference named."""
    if pyjson.same(a, b):
        return
    if isinstance(a, dict) and isinstance(b, dict):
        assert set(a) == set(b), f"{where}: keys {sorted(map(str, a))} != {sorted(map(str, b))}"
        for k in a:
            assert_same(a[k], b[k], f"{where}.{k}")
    if isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), f"{where}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    raise AssertionError(
        f"{where}: {type(a).__name__} {getattr(a, 'dtype', '')} {getattr(a, 'shape', '')} != "
        f"{type(b).__name__} {getattr(b, 'dtype', '')} {getattr(b, 'shape', '')}"
    )


@pytest.mark.real
@pytest.mark.parametrize("path", REAL_PKL)
def test_real_pickle_round_trips_array_for_array(path, store):
    if path is None:
        real_dir("pyskl")
    with pytest.warns() if "k400" in path.name else _nothing():
        (written,) = round_trip(store, path)
    assert_same(safe_pickle.load(path), safe_pickle.load(written))


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.real
def test_real_ntu_flattens_to_dense_rows_with_scores(store):
    path = real_dir("pyskl") / "lzx_ntu60_hrnet.pkl"
    src = safe_pickle.load(path)
    store.ingest(path, dataset="ntu")
    expected = sum(
        a["keypoint"].shape[0] * a["keypoint"].shape[1] * a["keypoint"].shape[2]
        for a in src["annotations"]
    )
    padding = sum(
        int(((a["keypoint"] == 0).all(axis=-1) & (a["keypoint_score"] == 0)).sum())
        for a in src["annotations"]
    )
    rows, hidden, visible = store.sql(
        "SELECT count(*), count(*) FILTER (WHERE visibility = 0), count(*) FILTER (WHERE visibility = 2) "
        "FROM joints WHERE dataset = 'ntu'"
    ).fetchall()[0]
    assert rows == expected and hidden == padding > 0 and visible == expected - padding
    poses = store.sql("SELECT count(*) FROM keypoints WHERE dataset = 'ntu'").fetchall()[0][0]
    assert poses == sum(a["keypoint"].shape[0] * a["keypoint"].shape[1] for a in src["annotations"])
    a = src["annotations"][5]
    got = store.sql(
        "SELECT x, y, score FROM joints WHERE dataset='ntu' AND image_id = 6 AND frame = 3 AND joint = 9"
    ).fetchall()[0]
    assert got == pytest.approx(
        (
            float(a["keypoint"][0, 3, 9, 0]),
            float(a["keypoint"][0, 3, 9, 1]),
            float(a["keypoint_score"][0, 3, 9]),
        )
    )
    splits = dict(
        store.sql("SELECT split, count(*) FROM images WHERE dataset='ntu' GROUP BY 1").fetchall()
    )
    assert splits == {"xsub_train": 388, "xsub_test": 98}
    names = store.sql(
        "SELECT keypoints FROM categories WHERE dataset='ntu' AND kind='object'"
    ).fetchall()[0][0]
    assert names[9] == "left_wrist"


@pytest.mark.real
def test_real_kinetics_index_without_kpfiles_keeps_one_instance_per_box(store):
    path = real_dir("pyskl") / "mmaction2_k400_kpfile_index_sample.pkl"
    src = safe_pickle.load(path)
    with pytest.warns(
        UserWarning, match="100 of 100 clips name no kpfile; they are ingested without joints"
    ):
        store.ingest(path, dataset="k")
    boxes = sum(len(a["frame_inds"]) for a in src["annotations"])
    assert store.sql("SELECT count(*), count(num_joints) FROM instances").fetchall() == [(boxes, 0)]
    a = src["annotations"][0]
    frames = store.sql(
        "SELECT list(frame ORDER BY instance_id) FROM instances WHERE image_id = 1"
    ).fetchall()[0][0]
    assert frames == a["frame_inds"].tolist()


@pytest.mark.parametrize(
    "kind",
    ["2d-float32", "2d-float16", "3d-ntu25", "2d-float64", "openpose18-bare-list"],
)
def test_generated_pickles_round_trip(kind, store, tmp_path):
    if kind == "3d-ntu25":
        clips = synthetic.pyskl_clips(9, joints=25, channels=3, persons=(1, 2))
    elif kind == "openpose18-bare-list":
        clips = synthetic.pyskl_clips(5, joints=18, persons=(1,))
    else:
        clips = synthetic.pyskl_clips(11, dtype=kind.split("-")[1], persons=(1, 2))
    clips[0]["keypoint"] = clips[0]["keypoint"][:0]  # a clip where nobody was found
    if "keypoint_score" in clips[0]:
        clips[0]["keypoint_score"] = clips[0]["keypoint_score"][:0]
    splits = (
        None
        if "bare" in kind
        else {
            "xsub_train": [c["frame_dir"] for c in clips[:6]],
            "xsub_val": [c["frame_dir"] for c in clips[4:]],
        }
    )
    path = synthetic.pyskl_pickle(tmp_path / "src.pkl", clips, splits)
    (written,) = round_trip(store, path)
    assert_same(safe_pickle.load(path), safe_pickle.load(written))


def test_3d_keeps_z_and_no_score(store, tmp_path):
    clips = synthetic.pyskl_clips(3, joints=25, channels=3, persons=(2,))
    path = synthetic.pyskl_pickle(tmp_path / "ntu3d.pkl", clips)
    store.ingest(path, dataset="ntu3d")
    z, score = store.sql("SELECT sum(z), count(score) FROM joints").fetchall()[0]
    assert z == pytest.approx(
        sum(float(c["keypoint"][..., 2].astype(np.float64).sum()) for c in clips), rel=1e-5
    )
    assert score == 0
    assert store.sql("SELECT max(track) FROM instances").fetchall() == [(1,)]
    name = store.sql("SELECT keypoints[21] FROM categories WHERE kind = 'object'").fetchall()[0][0]
    assert name == "spine_shoulder"


@pytest.mark.filterwarnings("ignore:.*names in the split lists")  # expected here
def test_clip_in_two_splits_or_in_none_round_trips_and_is_partitioned_once(store, tmp_path):
    clips = synthetic.pyskl_clips(6)
    fds = [c["frame_dir"] for c in clips]
    splits = {"a": fds[:3], "b": fds[2:5], "ghost": ["not-a-clip"]}  # fds[5] is in no list
    path = synthetic.pyskl_pickle(tmp_path / "s.pkl", clips, splits)
    (written,) = round_trip(store, path)
    assert_same(safe_pickle.load(path), safe_pickle.load(written))
    got = dict(store.sql("SELECT file_name, split FROM images").fetchall())
    assert got == {
        fds[0]: "a",
        fds[1]: "a",
        fds[2]: "a",
        fds[3]: "b",
        fds[4]: "b",
        fds[5]: "unassigned",
    }


def test_kinetics_kpfiles_round_trip_under_the_same_paths(store, tmp_path):
    index = synthetic.kinetics_with_kpfiles(tmp_path / "k400", n_clips=12, per_kpfile=5)
    written = round_trip(store, index, out_name="k400_index.pkl")
    out_root = store.root.parent / "out"
    assert sorted(p.relative_to(out_root).as_posix() for p in written) == [
        "k400_index.pkl",
        "kpfiles/part_0.pkl",
        "kpfiles/part_1.pkl",
        "kpfiles/part_2.pkl",
    ]
    for p in written:
        src = index.parent / p.relative_to(out_root)
        assert_same(safe_pickle.load(src), safe_pickle.load(p))
    kp = safe_pickle.load(out_root / "kpfiles/part_0.pkl")
    assert next(iter(kp.values()))["keypoint"].dtype == np.float16


def test_kpfiles_read_in_parallel_give_the_same_tables(tmp_path):
    index = synthetic.kinetics_with_kpfiles(tmp_path / "k400", n_clips=10, per_kpfile=2)

    def tables(workers):
        parts = list(read_pyskl(index, "k", workers=workers))
        return [(k, p[k]) for p in parts for k in ("instances", "keypoints", "frames") if k in p]

    serial, parallel = tables(1), tables(2)
    assert [k for k, _ in serial] == [k for k, _ in parallel]
    for (_, a), (_, b) in zip(serial, parallel):
        assert a.equals(b)


def test_subset_export_keeps_selected_clips_and_filters_split_lists(store, tmp_path):
    clips = synthetic.pyskl_clips(20, n_labels=5)
    fds = [c["frame_dir"] for c in clips]
    path = synthetic.pyskl_pickle(tmp_path / "s.pkl", clips, {"train": fds[:14], "test": fds[14:]})
    store.ingest(path, dataset="p")
    (out,) = store.export("p", tmp_path / "sub.pkl", where="label IN (1, 3)")
    got = safe_pickle.load(out)
    keep = [c for c in clips if c["label"] in (1, 3)]
    assert_same(keep, got["annotations"])
    chosen = {c["frame_dir"] for c in keep}
    assert got["split"] == {
        "train": [f for f in fds[:14] if f in chosen],
        "test": [f for f in fds[14:] if f in chosen],
    }


def test_string_labels_become_action_categories_and_come_back(store, tmp_path):
    clips = synthetic.pyskl_clips(4)
    clips[1]["label"], clips[2]["label"] = "A1", "A1"
    path = synthetic.pyskl_pickle(tmp_path / "s.pkl", clips)
    (written,) = round_trip(store, path)
    assert_same(safe_pickle.load(path), safe_pickle.load(written))
    names = store.sql(
        "SELECT c.name FROM images i JOIN categories c ON c.dataset = i.dataset AND c.kind = 'action' "
        "AND c.category_id = i.label ORDER BY i.image_id"
    ).fetchall()
    assert [n for (n,) in names] == [str(clips[0]["label"]), "A1", "A1", str(clips[3]["label"])]


@pytest.mark.parametrize(
    "spoil, where, message",
    [
        (lambda c: c[2].pop("frame_dir"), r"annotations\[2\]", "has no 'frame_dir'"),
        (
            lambda c: c[1].__setitem__("keypoint_score", c[1]["keypoint_score"][:, :3]),
            r"annotations\[1\]\.keypoint_score",
            "has shape",
        ),
        (
            lambda c: c[3].__setitem__("keypoint", c[3]["keypoint"][0]),
            r"annotations\[3\]\.keypoint",
            r"expected an array \[M, T, V, C\]",
        ),
    ],
    ids=["no-frame_dir", "score-shape", "keypoint-ndim"],
)
def test_bad_clips_name_the_clip_and_key(spoil, where, message, store, tmp_path):
    clips = synthetic.pyskl_clips(5)
    spoil(clips)
    path = synthetic.pyskl_pickle(tmp_path / "bad.pkl", clips)
    with pytest.raises(SourceError, match=f"bad.pkl: {where}: {message}"):
        store.ingest(path, dataset="p")
    assert store.dataset_names() == []


def test_not_a_pyskl_pickle_says_what_it_expected(store, tmp_path):
    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps({"foo": 1}))
    with pytest.raises(SourceError, match="not a PYSKL pickle"):
        store.ingest(path, dataset="p")


def test_sql_across_formats(store, tmp_path):
    """Mean keypoint score per joint per action label; and NTU clips joined with COCO images by joint name."""
    clips = synthetic.pyskl_clips(8, n_labels=3)
    store.ingest(synthetic.pyskl_pickle(tmp_path / "ntu.pkl", clips), dataset="ntu")
    coco = synthetic.coco_keypoints(30, seed=3)
    store.ingest(synthetic.write_json(coco, tmp_path / "coco.json"), dataset="coco")

    rows = store.sql(
        """SELECT i.label, k.joint, avg(k.score) AS mean_score
           FROM joints k JOIN images i USING (dataset, split, image_id)
           WHERE k.dataset = 'ntu' GROUP BY ALL ORDER BY ALL"""
    ).fetchall()
    expected: dict = {}
    for c in clips:
        for j in range(17):
            expected.setdefault((c["label"], j), []).append(
                c["keypoint_score"][..., j].astype(np.float64).ravel()
            )
    assert len(rows) == len(expected)
    for label, joint, mean in rows:
        assert mean == pytest.approx(np.concatenate(expected[(label, joint)]).mean(), rel=1e-5)

    joined = store.sql(
        """WITH per_joint AS (
               SELECT dataset, joint_name AS name, avg((visibility = 2)::INT) AS visible,
                      avg(score) AS score
               FROM joints GROUP BY ALL)
           SELECT c.name, c.visible AS coco_visible, p.score AS ntu_score
           FROM per_joint c JOIN per_joint p ON c.name = p.name AND c.dataset = 'coco' AND p.dataset = 'ntu'
           ORDER BY c.name"""
    ).fetchall()
    assert len(joined) == 17
    nose = dict((n, (v, s)) for n, v, s in joined)["nose"]
    vis = [a["keypoints"][2] for a in coco["annotations"]]
    assert nose[0] == pytest.approx(sum(v == 2 for v in vis) / len(vis))
    assert nose[1] == pytest.approx(
        np.concatenate([c["keypoint_score"][..., 0].ravel() for c in clips])
        .astype(np.float64)
        .mean(),
        rel=1e-5,
    )


def test_clips_export_to_coco_with_a_still_per_frame(store, tmp_path):
    import contextlib
    import io

    from pycocotools.coco import COCO

    clips = synthetic.pyskl_clips(4, persons=(1, 2), frames=(5, 9))
    clips[1]["keypoint_score"][:, 2] = 0  # a frame where nobody was scored
    store.ingest(synthetic.pyskl_pickle(tmp_path / "c.pkl", clips), dataset="c")
    (out,) = store.export("c", tmp_path / "c.json", format="coco")
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(out))
    assert len(coco.getImgIds()) == sum(c["total_frames"] for c in clips)
    assert len(coco.getAnnIds()) == sum(
        c["keypoint"].shape[0] * c["keypoint"].shape[1] for c in clips
    )
    by_name = {im["file_name"]: im["id"] for im in coco.loadImgs(coco.getImgIds())}
    c = clips[1]
    (ann, *_) = coco.loadAnns(coco.getAnnIds(imgIds=[by_name[f"{c['frame_dir']}/img_00004.jpg"]]))
    kp = np.array(ann["keypoints"], dtype=np.float64).reshape(-1, 3)
    assert kp[:, 0] == pytest.approx(c["keypoint"][0, 3, :, 0].astype(np.float64), abs=1e-3)
    assert (kp[:, 2] == 2).all()
    (blank, *_) = coco.loadAnns(coco.getAnnIds(imgIds=[by_name[f"{c['frame_dir']}/img_00003.jpg"]]))
    assert blank["num_keypoints"] == 0 and set(blank["keypoints"]) == {0}


def test_kinetics_skeleton_gets_joint_names_from_its_kpfiles(store, tmp_path):
    index = synthetic.kinetics_with_kpfiles(tmp_path / "k400", n_clips=4)
    store.ingest(index, dataset="k")
    names = store.sql("SELECT keypoints FROM categories WHERE kind = 'object'").fetchall()[0][0]
    assert names[0] == "nose" and len(names) == 17
    out = tmp_path / "yolo"
    store.export("k", out, format="yolo-pose")
    assert "flip_idx: [0, 2, 1, 4, 3" in (out / "data.yaml").read_text()


def test_many_batches_gather_into_few_parts_and_round_trip(store, tmp_path, monkeypatch):
    """Batches of a few hundred joint rows: each split's rows gather into parts of at
    least PART_ROWS (the instances and frames of every batch into one part), in order."""
    import pyarrow.parquet as pq
    from posestore.ingest import pyskl

    from posestore import parquet

    monkeypatch.setattr(pyskl, "ROWS_PER_BATCH", 300)  # about a clip per batch
    monkeypatch.setattr(parquet, "PART_ROWS", 200)
    clips = synthetic.pyskl_clips(40, seed=8, persons=(1, 2))
    names = [c["frame_dir"] for c in clips]
    splits = {"xsub_train": names[::2], "xsub_val": names[1::2]}  # interleaved, as in NTU
    path = synthetic.pyskl_pickle(tmp_path / "src.pkl", clips, splits)
    (written,) = round_trip(store, path)
    assert_same(safe_pickle.load(path), safe_pickle.load(written))
    for split in splits:
        for table in ("instances", "frames", "keypoints"):
            parts = sorted((store.root / table / "dataset=p" / f"split={split}").glob("*.parquet"))
            rows = [pq.ParquetFile(p).metadata.num_rows for p in parts]
            assert all(n >= 200 for n in rows[:-1]) and rows[-1] > 0, (table, rows)
            if table == "instances":
                assert len(parts) == 1  # 20 clips' person tracks: under 200 rows
            else:
                assert len(parts) > 1  # a pose or a frame row per frame: many batches' worth
            ids = pa.concat_tables(pq.read_table(p) for p in parts)["image_id"].to_pylist()
            assert ids == sorted(ids)  # source order kept across the gathered batches
