"""A value of a type posestore cannot keep is one line naming the file and the record."""

from __future__ import annotations

import pytest

from posestore import synthetic
from posestore.errors import SourceError


def test_pickled_set_in_a_clip_names_the_clip_and_field(store, tmp_path, cli):
    clips = synthetic.pyskl_clips(4, seed=1)
    clips[2]["tags"] = {"a", "b"}  # the allow-list unpickler admits a set; no column keeps it
    path = synthetic.pyskl_pickle(tmp_path / "sets.pkl", clips)
    with pytest.raises(SourceError, match=r"sets\.pkl: annotations\[2\]\.tags: holds a set"):
        store.ingest(path, dataset="s")
    assert store.dataset_names() == []
    r = cli("--store", store.root, "ingest", path, "--dataset", "s")
    assert r.exit_code == 1 and len(r.stderr.strip().splitlines()) == 1


def test_pickled_set_at_the_top_names_the_key(store, tmp_path):
    clips = synthetic.pyskl_clips(2, seed=1)
    path = synthetic.pyskl_pickle(
        tmp_path / "top.pkl", clips, {"train": [c["frame_dir"] for c in clips]}
    )
    import pickle

    obj = pickle.loads(path.read_bytes())
    obj["extra"] = {1, 2}
    path.write_bytes(pickle.dumps(obj, protocol=4))
    with pytest.raises(SourceError, match=r"top\.pkl: extra: holds a set"):
        store.ingest(path, dataset="t")
