"""Hostile pickles are refused before any of their code runs, naming what they asked for."""

from __future__ import annotations

import builtins
import os
import pickle
import subprocess

import numpy as np
import pytest
from conftest import snapshot

from posestore import safe_pickle, synthetic
from posestore.errors import UnsafePickle


class _Reduce:
    """An object whose unpickling calls ``func(*args)``."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def hostile(marker, how: str) -> bytes:
    cmd = f"touch {marker}"
    payloads = {
        "os.system": _Reduce(os.system, cmd),
        "subprocess": _Reduce(subprocess.call, ["touch", str(marker)]),
        "eval": _Reduce(builtins.eval, f"open({str(marker)!r}, 'w').close()"),
        "exec": _Reduce(builtins.exec, f"open({str(marker)!r}, 'w').close()"),
        "open": _Reduce(builtins.open, str(marker), "w"),
    }
    clip = {
        "frame_dir": "x",
        "label": 0,
        "keypoint": np.zeros((1, 2, 17, 2), np.float32),
        "evil": payloads[how],
    }
    return pickle.dumps({"split": {"train": ["x"]}, "annotations": [clip]}, protocol=4)


@pytest.mark.parametrize("how", ["os.system", "subprocess", "eval", "exec", "open"])
def test_a_pickle_asking_for_code_is_refused_and_nothing_runs(tmp_path, how):
    marker = tmp_path / "pwned"
    data = hostile(marker, how)
    with pytest.raises(UnsafePickle, match="refused: the pickle asks for"):
        safe_pickle.loads(data, "evil.pkl")
    assert not marker.exists()


def test_the_payload_would_run_under_plain_pickle(tmp_path):
    """The hostile fixture is not a dud: plain pickle runs it (in a child, to be safe)."""
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(hostile(marker, "os.system"))
    subprocess.run(
        ["python3", "-c", f"import pickle; pickle.load(open({str(path)!r}, 'rb'))"], check=False
    )
    assert marker.exists()


def test_ingest_of_a_hostile_pickle_leaves_the_store_and_disk_untouched(store, tmp_path):
    good = synthetic.pyskl_pickle(tmp_path / "good.pkl", synthetic.pyskl_clips(4))
    store.ingest(good, dataset="d")
    before = snapshot(store.root)
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(hostile(marker, "os.system"))
    with pytest.raises(
        UnsafePickle, match=r"evil\.pkl: refused: the pickle asks for (posix|os|nt)\.system"
    ):
        store.ingest(evil, dataset="d")
    assert not marker.exists()
    assert snapshot(store.root) == before


def test_a_hostile_kpfile_is_refused_in_the_worker_and_reported(store, tmp_path):
    index = synthetic.kinetics_with_kpfiles(tmp_path / "k400", n_clips=6, per_kpfile=3)
    marker = tmp_path / "pwned"
    (tmp_path / "k400" / "kpfiles" / "part_1.pkl").write_bytes(
        pickle.dumps(_Reduce(os.system, f"touch {marker}"))
    )
    with pytest.raises(UnsafePickle, match=r"part_1\.pkl: refused"):
        store.ingest(index, dataset="k")
    assert not marker.exists()
    assert store.dataset_names() == []


def test_numpy_arrays_and_scalars_load(tmp_path):
    value = {
        "a": np.arange(6, dtype=np.float16).reshape(2, 3),
        "b": np.int64(7),
        "c": (1, "x", b"\x00"),
    }
    back = safe_pickle.loads(pickle.dumps(value, protocol=2))
    assert back["a"].dtype == np.float16 and back["a"].tolist() == value["a"].tolist()
    assert type(back["b"]) is np.int64 and back["c"] == (1, "x", b"\x00")


def test_truncated_pickle_is_a_clear_error():
    with pytest.raises(UnsafePickle, match="not a readable pickle"):
        safe_pickle.loads(pickle.dumps(list(range(100)))[:20], "cut.pkl")
