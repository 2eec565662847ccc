"""``tools/suite_summary.py``: a suite run folder -> the committed summary JSON (the suite's own
aggregation, no local paths)."""

from __future__ import annotations

import json

import pytest
from tool_helpers import load_tool


def _tool():
    return load_tool("suite_summary")


def _record(task, seed, success, fell=False, mode=None):
    return {"key": f"table2|no_lam|ideal_base|{task}|none|{seed}|m", "row": "no_lam", "backend": "ideal_base",
            "backend_used": "ideal_base", "variation": "none", "task": task, "seed": seed, "model_id": "m",
            "success": success, "subgoal_times": [3.0 if s else None for s in success], "fell": fell,
            "failure": {"stage": "locomotion" if mode else None, "mode": mode}}


def test_summary_counts_the_trials_and_names_no_local_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("WBVLA_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "cache" / "suite" / "demo"
    run.mkdir(parents=True)
    recs = [_record("cart_pushing", 1, [True, False], mode="dropped_object"), _record("cart_pushing", 2, [False, False], mode="overshoot"),
            _record("bag_packing", 1, [False, False], fell=True, mode="fall")]
    (run / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    (run / "config.json").write_text(json.dumps({"training": {"vision_tower": str(tmp_path / "cache" / "tower")}}))
    s = _tool().summarize(run)
    cell = s["table2"]["no_lam"]["ideal_base"]
    assert s["trials"] == 3 and cell["subgoals"]["grab_handle"] == [1, 2] and cell["subgoals"]["grasp_bags"] == [0, 1]
    assert cell["falls"]["k"] == 1
    assert s["failures"]["no_lam"]["ideal_base"]["mode"] == {"fall": 1, "overshoot": 1, "dropped_object": 1}
    assert s["config"]["training"]["vision_tower"] == "$WBVLA_CACHE/tower"


def test_a_folder_without_results_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="no results.jsonl"):
        _tool().summarize(tmp_path)
