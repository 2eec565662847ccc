import json

import pytest

from wbvla.io import atomic_path, write_json_atomic


def test_atomic_path_replaces_only_on_success(tmp_path):
    target = tmp_path / "sub" / "ckpt.pt"
    write_json_atomic(target, {"step": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half-written")
        raise RuntimeError("crash while writing")
    assert json.loads(target.read_text()) == {"step": 1}  # the old file is untouched
    assert sorted(p.name for p in target.parent.iterdir()) == ["ckpt.pt"]  # no temp left behind


def test_temp_file_keeps_the_suffix(tmp_path):
    with atomic_path(tmp_path / "clips.npz") as tmp:
        assert tmp.suffix == ".npz" and tmp.parent == tmp_path
        tmp.write_bytes(b"x")
    assert (tmp_path / "clips.npz").read_bytes() == b"x"
