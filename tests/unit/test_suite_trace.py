"""The per-tick trace (one row per judged state) and the frozen-scene early stop, on stub policies."""

from __future__ import annotations

import numpy as np
import pytest

from wbvla.control.policy_contract import PolicyOutput
from wbvla.suite.trace import FrozenSceneConfig, TracedPolicy
from wbvla.tasks.runner import RunnerConfig, run_trial
from wbvla.tasks.specs import make_task


class Fixed:
    """Sends the same targets every tick (the first state's arms and grippers) and fixed flags."""

    model_id, command_kind, uses_image = "fixed", "flags", False

    def __init__(self, flags=(0.0, 0.0, 0.0)):
        self.flags = np.array(flags)

    def reset(self):
        self.q = None

    def act(self, image, instruction, state):
        if self.q is None:
            self.q = state.copy()
        return PolicyOutput(self.q[None, :14], self.q[None, 14:16], np.array([*self.flags, state[16]]),
                            latents={"mani": (1,), "loco": (2,)})


def test_trace_rows_and_goals():
    traced = TracedPolicy(Fixed((1.0, 0.0, 0.0)))
    result = run_trial(traced, make_task("cart_pushing", 1_000_000), RunnerConfig(time_limit_s=2.0), stop_early=traced.observe)
    tr = traced.finish()
    assert result.ticks == 20 and tr.t.shape == (21,) and tr.base.shape == (21, 3) and tr.obj.shape == (21, 4)
    np.testing.assert_allclose(tr.t, np.arange(21) / 10.0, atol=1e-9)
    assert np.isnan(tr.grip_cmd[-1]) and np.all(np.isfinite(tr.grip_cmd[:-1]))
    assert tr.base[-1, 0] - tr.base[0, 0] > 0.1  # it walked forward (s_x = 1)
    # the runner logs the base pose after each tick's physics: the trace's rows 1 .. T
    np.testing.assert_allclose(result.log["base"][:, [0, 1, 3]], tr.base[1:], atol=1e-9)
    assert set(tr.goals) == {"approach", "cart_start"} and set(np.unique(tr.touch)) <= {0, 1, 2}
    assert "stopped_early" not in result.info


def test_frozen_scene_ends_the_trial_early_walking_does_not():
    still = TracedPolicy(Fixed(), FrozenSceneConfig(window_s=1.5))
    res = run_trial(still, make_task("bag_packing", 1_000_001), RunnerConfig(time_limit_s=10.0), stop_early=still.observe)
    assert res.info["stopped_early"].startswith("frozen") and res.ticks < 60 and res.success == (False, False)
    assert len(still.finish().t) == res.ticks + 1
    walking = TracedPolicy(Fixed((0.0, 0.0, 1.0)), FrozenSceneConfig(window_s=1.5))
    res = run_trial(walking, make_task("bag_packing", 1_000_001), RunnerConfig(time_limit_s=3.0), stop_early=walking.observe)
    assert res.ticks == 30 and "stopped_early" not in res.info


def test_frozen_config_is_validated():
    with pytest.raises(ValueError, match="FrozenSceneConfig"):
        FrozenSceneConfig(window_s=0.0)


def test_walking_away_from_the_task_ends_the_trial_early():
    from wbvla.tasks.subgoals import read_state

    task = make_task("bag_packing", 1_000_002)
    s = read_state(task.scene)
    start = float(np.linalg.norm(s.base_pos[:2] - s.poses["bag"][0][:2]))
    away = TracedPolicy(Fixed((-1.0, 0.0, 0.0)), FrozenSceneConfig(window_s=1.5, away_m=start + 0.3))
    res = run_trial(away, task, RunnerConfig(time_limit_s=12.0), stop_early=away.observe)
    assert res.info["stopped_early"].startswith("walked away") and "bag" in res.info["stopped_early"]
    tr = away.finish()
    assert np.linalg.norm(tr.base[-1, :2] - tr.obj[-1, :2]) > start + 0.3 >= np.linalg.norm(tr.base[-2, :2] - tr.obj[-2, :2])
    near = TracedPolicy(Fixed((-1.0, 0.0, 0.0)), FrozenSceneConfig(window_s=1.5, away_m=start + 50.0))
    res = run_trial(near, make_task("bag_packing", 1_000_002), RunnerConfig(time_limit_s=3.0), stop_early=near.observe)
    assert res.ticks == 30 and "stopped_early" not in res.info
    with pytest.raises(ValueError, match="away_m"):
        FrozenSceneConfig(away_m=0.0)
