"""Packed curves: the plan commits each run's curves gzip-packed; reading, appending after a pack and
the writer's wall-clock offset all see the packed rows."""

import gzip
import json

import pytest

from wbvla.lmo.train import PACKED_CURVES, JsonlLogWriter, has_curves, load_curves, pack_curves


def _write(run, first, last, t0=0.0):
    w = JsonlLogWriter(str(run))
    for it in range(first, last):
        w.add_scalar("Loss/value", float(it), it)
    w.stop()
    return w


def test_pack_then_append_then_load(tmp_path):
    assert not has_curves(tmp_path) and pack_curves(tmp_path) is None
    with pytest.raises(FileNotFoundError, match="no curves"):
        load_curves(tmp_path)
    _write(tmp_path, 0, 5)
    plain = (tmp_path / "curves.jsonl").read_text()
    packed = pack_curves(tmp_path)
    assert packed.name == PACKED_CURVES and not (tmp_path / "curves.jsonl").exists() and has_curves(tmp_path)
    assert gzip.decompress(packed.read_bytes()).decode() == plain  # the same rows, byte for byte
    w = _write(tmp_path, 5, 8)  # a later chunk appends plain rows after the packed ones
    assert w.offset_s == json.loads(plain.splitlines()[-1])["time_s"]  # wall time continues from the packed rows
    df = load_curves(tmp_path)
    assert list(df["iteration"]) == list(range(8)) and list(df["Loss/value"]) == [float(i) for i in range(8)]
    pack_curves(tmp_path)  # packing again merges the new rows
    assert not (tmp_path / "curves.jsonl").exists()
    assert list(load_curves(tmp_path)["iteration"]) == list(range(8))
