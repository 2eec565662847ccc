"""Teleoperation labels (``TeleopDataConfig.labels``): the noisy expert executes its late releases and
wrong pulses, but an ``intended`` dataset labels each frame with what the noise-free expert commands
in the state reached (DART); an ``executed`` one keeps the flags sent; a dataset is never extended
with the other kind."""

from __future__ import annotations

import json

import numpy as np
import pytest

from wbvla.data import teleop_schema as ts
from wbvla.tasks.expert import ExpertConfig, ExpertNoiseConfig, ScriptedExpert
from wbvla.tasks.runner import RunnerConfig, run_trial
from wbvla.tasks.specs import make_task
from wbvla.tasks.teleop import _FrameBuffer, command_labels, generate_teleop_data
from wbvla.tasks.teleop_config import TeleopDataConfig

ALWAYS = ExpertNoiseConfig(p_late_release=1.0, p_wrong_flag=1.0)


def _trial(noise: ExpertNoiseConfig, labels: str, seed: int = 3):
    expert = ScriptedExpert(ExpertConfig(noise=noise), seed=seed)
    buffer = _FrameBuffer(expert, labels)
    result = run_trial(expert, make_task("cart_pushing", seed), RunnerConfig(backend="ideal_base", image_size=32), writer=buffer)
    commands = np.stack([ts.split_action(f[ts.ACTION_KEY])[2] for f in buffer.frames])  # (T, 4)
    return result, commands


def test_without_noise_intended_labels_are_the_executed_commands():
    _, intended = _trial(ExpertNoiseConfig.off(), "intended")
    result, executed = _trial(ExpertNoiseConfig.off(), "executed")
    assert all(result.success)
    np.testing.assert_array_equal(intended, executed)
    np.testing.assert_array_equal(executed, np.asarray(result.log["command"]))


def test_intended_labels_drop_the_injected_errors_and_keep_the_rest():
    result, intended = _trial(ALWAYS, "intended")
    executed = np.asarray(result.log["command"])  # what was sent, tick by tick (same trial: the labels do not steer)
    assert intended.shape == executed.shape
    differs = np.any(intended[:, :3] != executed[:, :3], axis=1)
    assert 0 < differs.sum() < 0.2 * len(differs)  # every phase gets a late release and a wrong pulse: a few ticks each
    np.testing.assert_array_equal(intended[:, 3], executed[:, 3])  # h* is never noisy
    # where they differ the sent flag is the error: a held flag the expert meant to release, or a wrong pulse
    assert np.all(executed[differs, :3][intended[differs, :3] != executed[differs, :3]] != 0)
    # and the trial itself is the noisy one: the same seed with the noise off sends other flags
    clean_result, _ = _trial(ExpertNoiseConfig.off(), "executed")
    assert len(clean_result.log["command"]) != len(executed) or np.any(np.asarray(clean_result.log["command"]) != executed)


def test_dataset_records_its_labels_and_refuses_to_mix(tmp_path):
    root = tmp_path / "demo"
    cfg = TeleopDataConfig(size="smoke", tasks=("cart_pushing",), image_size=32, output_dir=root, progress=False)
    generate_teleop_data(cfg)
    assert command_labels(root) == "intended"
    assert json.loads((root / "meta" / "wbvla.json").read_text())["command_labels"] == "intended"
    with pytest.raises(ValueError, match="labelled 'intended'.*--labels intended"):
        generate_teleop_data(TeleopDataConfig(size="smoke", tasks=("cart_pushing",), image_size=32, output_dir=root,
                                              labels="executed", episodes_per_task=2, progress=False))
    assert command_labels(tmp_path / "missing") == "executed"  # recorded before the switch


def test_labels_value_is_checked():
    with pytest.raises(ValueError, match="labels must be intended or executed"):
        TeleopDataConfig(labels="clean")


def test_stance_offset_moves_the_grasp_stance_and_the_expert_still_grasps():
    """ExpertNoiseConfig.stance_offset: the approach ends away from the nominal stance (by the drawn
    offset, within it) and the arms' IK grasps from there."""
    from wbvla.tasks.expert import ExpertConfig

    cfg = ExpertConfig(noise=ExpertNoiseConfig(p_late_release=0.0, p_wrong_flag=0.0, stance_offset=(0.08, 0.15)))
    for seed in (0, 1):
        task = make_task("cart_pushing", seed)
        probe = ScriptedExpert(cfg, seed=seed)
        probe.bind(task)  # the nominal stance, from the scene before anything moves
        cart, rot = probe._body("cart")
        target = np.array(probe._stand_target(probe._site("cart", "handle"), float(np.arctan2(rot[1, 0], rot[0, 0])),
                                              cfg.handle_reach))
        expert = ScriptedExpert(cfg, seed=seed)
        result = run_trial(expert, task, RunnerConfig(backend="ideal_base", image_size=32))
        assert result.success[0], seed  # grabbed the handle from the moved stance
        d = expert.stance_offset  # (along, across, heading) drawn for this episode
        assert np.all(np.abs(d) <= [0.08, 0.08, 0.15]) and np.hypot(d[0], d[1]) > 0.005
        h = target[2]
        want = target + [np.cos(h) * d[0] - np.sin(h) * d[1], np.sin(h) * d[0] + np.cos(h) * d[1], d[2]]
        at = np.asarray(result.log["base"])[round(result.subgoal_times[0] * ts.FPS) - 1][[0, 1, 3]]  # x, y, yaw
        # within the expert's dead bands (reengage 3 cm, 0.07 rad) of the moved stance
        assert np.all(np.abs(at[:2] - want[:2]) <= cfg.reengage_xy + 0.01) and abs(at[2] - want[2]) <= cfg.reengage_yaw + 0.01, (seed, d, at, want)
        assert np.linalg.norm(at[:2] - want[:2]) < np.linalg.norm(at[:2] - target[:2]), (seed, d)  # not the nominal stance
    with pytest.raises(ValueError, match="stance_offset must be"):
        ExpertNoiseConfig(stance_offset=(0.5, 0.1))


def _rest_frames_before_arms(settle: bool, task: str = "bag_packing", seed: int = 2) -> tuple[bool, int]:
    """Run the noise-free expert; return (all subgoals, frames at the end of the approach with every
    flag released, before the pre-grasp starts)."""
    expert = ScriptedExpert(ExpertConfig(noise=ExpertNoiseConfig.off(), settle_before_arms=settle), seed=seed)
    buffer = _FrameBuffer(expert, "intended")
    result = run_trial(expert, make_task(task, seed), RunnerConfig(backend="ideal_base", image_size=32), writer=buffer)
    phases = np.array([int(np.ravel(f[ts.PHASE_KEY])[0]) for f in buffer.frames])
    flags = np.stack([ts.split_action(f[ts.ACTION_KEY])[2][:3] for f in buffer.frames])  # (T, 3)
    approach = np.flatnonzero(phases == ts.EXPERT_PHASES.index("approach"))
    assert len(approach) > 0 and phases[approach[-1] + 1] == ts.EXPERT_PHASES.index("pregrasp")
    moving = approach[np.any(flags[approach] != 0, axis=1)]
    return all(result.success), int(approach[-1] - moving[-1])


def test_settle_before_arms_false_starts_the_pregrasp_when_the_flags_are_released():
    """ExpertConfig.settle_before_arms: with True the approach ends in ~1 s of frames at rest (flags 0,
    arms still) that one image cannot tell from the pre-grasp's start; with False the arms start
    within a tick of the release, and the expert still completes the task."""
    ok_wait, rest_wait = _rest_frames_before_arms(True)
    ok_go, rest_go = _rest_frames_before_arms(False)
    assert ok_wait and ok_go
    assert rest_wait >= 5, rest_wait
    assert rest_go <= 1, rest_go


def test_dataset_records_settle_before_arms_and_refuses_to_mix(tmp_path):
    root = tmp_path / "demo"
    cfg = TeleopDataConfig(size="smoke", tasks=("cart_pushing",), image_size=32, output_dir=root, progress=False,
                           settle_before_arms=False)
    generate_teleop_data(cfg)
    assert json.loads((root / "meta" / "wbvla.json").read_text())["expert_settle_before_arms"] is False
    with pytest.raises(ValueError, match="expert_settle_before_arms=False.*would mix"):
        generate_teleop_data(TeleopDataConfig(size="smoke", tasks=("cart_pushing",), image_size=32, output_dir=root,
                                              episodes_per_task=2, progress=False))
