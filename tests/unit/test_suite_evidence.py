"""Why-evidence of the suite: the always-stand flag baseline and the latent-code collapse, by hand."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from wbvla.data.teleop_schema import ACTION_DIM, join_action
from wbvla.suite.evidence import (
    approach_of,
    approach_summary,
    dominant_code_share,
    flag_baseline,
    heldout_actions,
)


def _episode(flags: list[tuple[int, int, int]]) -> np.ndarray:
    t = len(flags)
    cmd = np.concatenate([np.asarray(flags, float), np.full((t, 1), 0.7)], axis=1)  # (T, 4): flags + h*
    return join_action(np.zeros((t, 14)), np.zeros((t, 2)), cmd)


def test_flag_baseline_by_hand():
    # episode 1: stands 2 frames, then walks forward 2 frames; episode 2: stands 1, turns left 1
    eps = [_episode([(0, 0, 0), (0, 0, 0), (1, 0, 0), (1, 0, 0)]), _episode([(0, 0, 0), (0, 0, 1)])]
    b = flag_baseline(eps)
    assert b["frames"] == 6 and b["episodes"] == 2
    assert b["always_stand_accuracy"] == {"x": pytest.approx(4 / 6), "y": 1.0, "yaw": pytest.approx(5 / 6)}
    assert b["all_flags_zero_share"] == pytest.approx(3 / 6)
    assert b["stand_before_first_step_s"] == [pytest.approx(0.2), pytest.approx(0.1)]
    assert flag_baseline([_episode([(0, 0, 0)] * 3)])["stand_before_first_step_s"] == [None]


def test_flag_baseline_rejects_bad_input():
    with pytest.raises(ValueError, match="at least one"):
        flag_baseline([])
    with pytest.raises(ValueError, match=f"\\(T, {ACTION_DIM}\\)"):
        flag_baseline([np.zeros((3, 7))])


def test_heldout_actions_are_the_last_episodes_of_each_task(tmp_path):
    rows = {"action": [], "episode_index": [], "task_index": [], "frame_index": []}
    for ep, task in ((0, 0), (1, 0), (2, 1), (3, 1), (4, 0)):
        for fr in (1, 0):  # written out of order: read back sorted by frame
            rows["action"].append(list(_episode([(fr, 0, 0)])[0].astype(float) + ep))
            rows["episode_index"].append(ep)
            rows["task_index"].append(task)
            rows["frame_index"].append(fr)
    (tmp_path / "data" / "chunk-000").mkdir(parents=True)
    pq.write_table(pa.table(rows), tmp_path / "data" / "chunk-000" / "file-000.parquet")
    held = heldout_actions(tmp_path, heldout_per_task=1)
    assert sorted(int(a[0, 0]) for a in held) == [3, 4]  # the last episode of task 0 (4) and of task 1 (3)
    assert all(a.shape == (2, ACTION_DIM) and a[1, 16] - a[0, 16] == 1 for a in held)
    with pytest.raises(FileNotFoundError, match="no teleoperation data"):
        heldout_actions(tmp_path / "nothing", 1)


def test_dominant_code_share_pools_trials():
    recs = [{"row": "a", "latent_usage": {"loco": {"0": 8, "5": 2}, "mani": {"6": 10}}},
            {"row": "a", "latent_usage": {"loco": {"0": 9, "3": 1}, "mani": {"6": 5, "1": 5}}},
            {"row": "no_lam", "latent_usage": {}}]
    s = dominant_code_share(recs)
    assert set(s) == {"a"}
    assert s["a"]["loco"] == {"share": pytest.approx(17 / 20), "code": 0, "codes_used": 3, "ticks": 20}
    assert s["a"]["mani"] == {"share": pytest.approx(15 / 20), "code": 6, "codes_used": 2, "ticks": 20}


def test_approach_of_and_summary_by_hand(tmp_path):
    import json

    # walks along x from 0 to 3 m in 0.5 m steps; the stance is at (1.0, 0.1): closest at x = 1 (0.1 m, t = 0.2 s)
    base = np.array([[x, 0.0, 0.0] for x in np.arange(0.0, 3.01, 0.5)])
    t = np.arange(len(base)) / 10.0
    a = approach_of(base, t, [1.0, 0.1, 0.0])
    assert a == {"closest_m": pytest.approx(0.1), "closest_at_s": pytest.approx(0.2),
                 "end_m": pytest.approx(np.hypot(2.0, 0.1)), "walked_m": pytest.approx(3.0)}
    np.savez(tmp_path / "a.npz", trace_base=base, trace_t=t, goals=np.array(json.dumps({"approach": [1.0, 0.1, 0.0]})))
    np.savez(tmp_path / "b.npz", trace_base=base[:1].repeat(3, 0), trace_t=t[:3], goals=np.array(json.dumps({"approach": [1.0, 0.1, 0.0]})))
    recs = [{"row": "r", "backend": "ideal_base", "files": {"log": "a.npz"}},
            {"row": "r", "backend": "ideal_base", "files": {"log": "b.npz"}},
            {"row": "r", "backend": "lmo", "files": {}}]  # no log: left out
    s = approach_summary(recs, tmp_path)
    assert set(s) == {"r"} and set(s["r"]) == {"ideal_base"} and s["r"]["ideal_base"]["trials"] == 2
    assert s["r"]["ideal_base"]["median_walked_m"] == pytest.approx(1.5)  # median of 3.0 and 0.0
