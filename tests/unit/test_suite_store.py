"""The resumable JSON-lines result store: round trip, last write wins, crash repair, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wbvla.suite.store import ResultStore


def test_append_and_read_back(tmp_path):
    store = ResultStore(tmp_path / "run" / "results.jsonl")
    store.append({"key": "a", "x": np.float32(1.5), "arr": np.arange(3), "nan": math.nan})
    store.append({"key": "b", "x": 2})
    store.append({"key": "a", "x": 3})  # a rerun of the same unit: the last record wins
    recs = {r["key"]: r for r in ResultStore(store.path).records()}
    assert set(recs) == {"a", "b"} and recs["a"]["x"] == 3 and len(store) == 2
    first = next(iter(store))
    assert first["arr"] == [0, 1, 2] and first["nan"] is None and first["x"] == 1.5


def test_a_cut_last_line_is_dropped_and_repaired(tmp_path):
    path = tmp_path / "results.jsonl"
    store = ResultStore(path)
    store.append({"key": "a"})
    with open(path, "a") as f:
        f.write('{"key": "b", "x":')  # a crash in the middle of an append
    assert ResultStore(path).keys() == {"a"}  # reopening cuts the partial line
    assert path.read_text().endswith("}\n")
    ResultStore(path).append({"key": "c"})
    assert ResultStore(path).keys() == {"a", "c"}


def test_bad_input_is_named(tmp_path):
    store = ResultStore(tmp_path / "results.jsonl")
    with pytest.raises(ValueError, match="key"):
        store.append({"x": 1})
    store.path.write_text('{"key": "a"}\nnot json\n')
    with pytest.raises(ValueError, match=r"results.jsonl:2"):
        store.records()
