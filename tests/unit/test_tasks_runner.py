"""Closed-loop runner + scripted expert: the expert solves every task on the ideal base, the runner's
logs / rates / writer hook / flag->velocity conversion / fall handling, and `wbvla teleop-data`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from wbvla.control.policy_contract import Policy
from wbvla.data import teleop_schema as ts
from wbvla.lmo.config import HeightConfig
from wbvla.locomotion import IdealBase, VelocityReference
from wbvla.tasks.expert import ExpertConfig, ExpertNoiseConfig, ScriptedExpert
from wbvla.tasks.runner import STEPS_PER_TICK, RunnerConfig, TrialResult, run_trial
from wbvla.tasks.specs import make_task

EVAL = 1_000_000


def _expert(noise: bool = True, seed: int = 0) -> ScriptedExpert:
    return ScriptedExpert(ExpertConfig(noise=ExpertNoiseConfig() if noise else ExpertNoiseConfig.off()), seed=seed)


@pytest.mark.parametrize("task", ["cart_pushing", "bag_packing", "box_loading"])
def test_expert_completes_each_task_on_the_ideal_base(task):
    down = []  # the fall test on every tick, also after the last subgoal (the tracker stops judging then)
    result = run_trial(_expert(), make_task(task, EVAL + 1), RunnerConfig(backend="ideal_base", settle_s=0.5),
                       stop_early=lambda state: down.append(state.fall_reason))
    assert result.success == (True, True), result.summary()
    assert not result.fell and result.backend == "ideal_base"
    assert down == [None] * result.ticks  # squatting, grasping, holding the cart handle: never a fall
    if task == "box_loading":
        assert result.log["base"][:, 2].min() < 0.56  # it squatted to grasp the tote on the low table
    t1, t2 = result.subgoal_times
    assert 0 < t1 < t2 <= result.duration_s
    # The recorded flags are what the VLA must learn: in {-1, 0, 1}, switched on and off, h* in range.
    flags = result.log["command"][:, :3]
    assert set(np.unique(flags)) <= {-1.0, 0.0, 1.0} and np.abs(flags).sum() > 0 and (flags == 0).all(axis=1).any()
    lo, hi = HeightConfig().height_range
    assert np.all((result.log["command"][:, 3] >= lo - 1e-6) & (result.log["command"][:, 3] <= hi + 1e-6))


def test_runner_log_rates_and_reference_velocity():
    result = run_trial(_expert(noise=False), make_task("cart_pushing", EVAL), RunnerConfig(time_limit_s=3.0))
    assert isinstance(result, TrialResult) and result.ticks == 30 and result.duration_s == pytest.approx(3.0)
    np.testing.assert_allclose(result.log["t"], np.arange(30) / ts.FPS)
    assert result.log["action"].shape == (30, ts.ACTION_DIM) and result.log["base"].shape == (30, 4)
    # The logged reference is the policy-tick mean of Eq. 2 applied at 50 Hz to the flags written
    # (the control tick's u_t: the answer to an observation is followed from the next control tick).
    assert result.control["u"].shape == (30 * STEPS_PER_TICK, 4) and result.control["q_target"].shape[1] == 29
    ref = VelocityReference()
    v = np.array([ref.step(u[:3]) for u in result.control["u"]])
    np.testing.assert_allclose(result.log["reference_velocity"], v.reshape(30, STEPS_PER_TICK, 3).mean(axis=1), atol=1e-6)
    assert result.steps_per_s > 0 and len(result.latents) == 30
    json.dumps(result.summary())


def test_runner_drives_a_velocity_backend_with_the_shaped_flags():
    """Expert flags -> Eq. 2 velocity -> a velocity backend: the same motion as the flag backend."""
    task = make_task("cart_pushing", EVAL + 2)
    flags = run_trial(_expert(noise=False), task, RunnerConfig(time_limit_s=2.5))
    vel = run_trial(_expert(noise=False), task, RunnerConfig(time_limit_s=2.5), backend=IdealBase(command_kind="velocity"))
    assert np.abs(flags.log["base"][-1, :2] - flags.log["base"][0, :2]).max() > 0.05  # it did walk
    np.testing.assert_allclose(vel.log["base"], flags.log["base"], atol=1e-9)


def test_runner_records_to_a_lerobot_writer(tmp_path):
    from wbvla.data.lerobot_v3 import (
        LeRobotV3Dataset,
        LeRobotV3Writer,
        teleop_features,
        validate_v3,
    )

    writer = LeRobotV3Writer(tmp_path / "ds", ts.FPS, teleop_features(32), extra_meta={"locomotion_backend": "ideal_base"})
    result = run_trial(_expert(), make_task("cart_pushing", EVAL), RunnerConfig(time_limit_s=2.0, image_size=32), writer=writer)
    assert writer.buffered_frames == result.ticks
    writer.save_episode()
    writer.finalize()
    assert validate_v3(tmp_path / "ds") == []
    ep = LeRobotV3Dataset(tmp_path / "ds").episode(0)
    np.testing.assert_allclose(ep[ts.ACTION_KEY], result.log["action"], atol=1e-6)
    assert ep[ts.IMAGE_KEY].shape == (result.ticks, 32, 32, 3) and ep[ts.IMAGE_KEY].std() > 5  # rendered, not blank


def test_physics_lmo_trial_stops_at_a_fall():
    result = run_trial(_expert(noise=False), make_task("cart_pushing", EVAL), RunnerConfig(backend="lmo", time_limit_s=4.0))
    assert result.backend == "lmo"
    if result.fell:  # the shipped LMO falls; a trial ends at the fall and counts it
        assert result.fall_time is not None and result.duration_s == pytest.approx(result.fall_time + 0.1, abs=0.11)
        assert not all(result.success)
    else:
        assert result.duration_s == pytest.approx(4.0)


def test_expert_is_a_policy_and_needs_binding():
    expert = _expert()
    assert isinstance(expert, Policy) and expert.command_kind == "flags"
    with pytest.raises(RuntimeError, match="bind"):
        expert.act(np.zeros((8, 8, 3), np.uint8), "", np.zeros(ts.STATE_DIM, np.float32))
    with pytest.raises(ValueError, match="backend"):
        RunnerConfig(backend="wheels")


def test_teleop_data_smoke_dataset_and_resume(tmp_path):
    from wbvla.data.lerobot_v3 import LeRobotV3Dataset
    from wbvla.tasks.teleop import SEED_KEY, generate_teleop_data
    from wbvla.tasks.teleop_config import TeleopDataConfig

    root = tmp_path / "teleop"
    cfg = TeleopDataConfig(tasks=("cart_pushing",), episodes_per_task=1, image_size=32, output_dir=root, progress=False)
    s = generate_teleop_data(cfg)
    assert s["validation_problems"] == [] and s["episodes_total"] == 1 and s["finished"]
    assert s["locomotion_backend"] == "ideal_base" and s["expert_success"]["cart_pushing"]["attempts"] >= 1
    assert s["episodes_per_hour"] > 0 and s["dataset_bytes"] > 0
    assert json.loads((tmp_path / "teleop_summary.json").read_text())["episodes_total"] == 1
    s2 = generate_teleop_data(TeleopDataConfig(tasks=("cart_pushing",), episodes_per_task=2, image_size=32,
                                               output_dir=root, progress=False))
    ds = LeRobotV3Dataset(root)
    assert ds.num_episodes == 2 and ds.extra_meta["locomotion_backend"] == "ideal_base"
    seeds = ds.columns([SEED_KEY, "episode_index"])
    assert sorted({int(v) for v in seeds[SEED_KEY].ravel()}) == sorted(e["seed"] for e in s2["episodes"])
    assert len({e["seed"] for e in s2["episodes"]}) == 2  # the resume continued with a new seed
    with pytest.raises(ValueError, match="resume"):
        generate_teleop_data(TeleopDataConfig(tasks=("cart_pushing",), episodes_per_task=2, image_size=32,
                                              output_dir=root, resume=False, progress=False))


def test_aggregate_counts_subgoals_sequentially_and_falls():
    from wbvla.tasks.expert_eval import ExpertEvalConfig, aggregate

    def res(success, times, fell=False, seed=0):
        return TrialResult("cart_pushing", seed, "none", "lmo", "p", success, times, fell, 1.0 if fell else None,
                           10.0, 2.0, 100)

    table = aggregate([res((True, True), (2.0, 8.0)), res((True, False), (4.0, None), fell=True, seed=1),
                       res((False, False), (None, None), seed=2), res((True, True), (3.0, 6.0), seed=3)])
    row = table["lmo"]["cart_pushing"]
    assert row["successes"] == {"grab_handle": 3, "push_ahead": 2} and row["falls"] == 1
    assert row["score"] == pytest.approx(5 / 8) and table["lmo"]["average_score"] == pytest.approx(5 / 8)
    assert row["mean_subgoal_time_s"] == {"grab_handle": pytest.approx(3.0), "push_ahead": pytest.approx(7.0)}
    assert row["failed_seeds"] == [1, 2] and row["control_steps_per_s"] == pytest.approx(100 * 5 / 2.0)
    with pytest.raises(ValueError, match="backends"):
        ExpertEvalConfig(backends=("hover",))


def test_expert_stance_keeps_the_squatting_knees_off_the_cart_deck():
    """Held over the deck's middle, the tote would put the knees under the deck's edge; the
    stance probe backs off to the nearest pelvis position clear of it, standing and squatting."""
    from wbvla.tasks.expert_stance import StanceProbe

    scene = make_task("box_loading", EVAL).scene
    probe = StanceProbe(scene)
    cart = scene.data.body("cart")
    face = float(np.arctan2(-cart.xmat[3], -cart.xmat[0]))  # toward the cart, from its far side
    u = np.array([np.cos(face), np.sin(face)])
    heights = (0.655, 0.53)
    reach = probe.reach(cart.xpos, face, 0.33, heights, "cart", 0.02)
    assert not probe.clear(cart.xpos[:2] - 0.33 * u, face, heights, "cart", 0.02)
    assert 0.4 < reach < 0.7 and probe.clear(cart.xpos[:2] - reach * u, face, heights, "cart", 0.02)
    assert not probe.clear(cart.xpos[:2] - (reach - 0.01) * u, face, heights, "cart", 0.02)
    assert probe.reach(cart.xpos, face, 0.33, (0.655,), "cart", 0.02) < reach  # the squat needs more room


def test_expert_eval_drives_the_lmo_backend_with_the_chosen_onnx(monkeypatch, tmp_path):
    """``--lmo-onnx``: a candidate LMO (e.g. a CPU-plan export) drives the lmo trials, the ideal base none;
    a missing file or a run without the lmo backend is refused with the value named."""
    import wbvla.tasks.runner as runner
    from wbvla.tasks.expert_eval import ExpertEvalConfig, _trial

    seen = []

    def fake_run_trial(policy, task, cfg, **kw):
        seen.append((cfg.backend, cfg.onnx_path))
        return TrialResult(task.name, task.seed, "none", cfg.backend, "expert", (False, False), (None, None), False, None,
                           1.0, 1.0, 10)

    monkeypatch.setattr(runner, "run_trial", fake_run_trial)
    onnx = tmp_path / "candidate.onnx"
    onnx.write_bytes(b"x")
    cfg = ExpertEvalConfig(backends=("ideal_base", "lmo"), lmo_onnx=onnx)
    for backend in cfg.backends:
        _trial(("cart_pushing", EVAL, "none", backend, False, {}, 32, str(cfg.lmo_onnx)))
    assert seen == [("ideal_base", None), ("lmo", str(onnx))]
    with pytest.raises(ValueError, match="nope.onnx is not a file"):
        ExpertEvalConfig(lmo_onnx=tmp_path / "nope.onnx")
    with pytest.raises(ValueError, match="has no lmo"):
        ExpertEvalConfig(backends=("ideal_base",), lmo_onnx=onnx)


def test_box_loading_steps_back_from_the_table_before_it_turns():
    """``turn_clearance``: the pelvis backs off from where it rose with the tote before the turn to the cart
    (on a physics LMO a turn in place beside the table swung a thigh into its top); the task still completes."""
    expert = ScriptedExpert(ExpertConfig(noise=ExpertNoiseConfig.off(), turn_clearance=0.2), seed=0)
    phases = []
    act = expert.act

    def act_and_log(*args, **kwargs):
        out = act(*args, **kwargs)
        phases.append(expert.phase)
        return out

    expert.act = act_and_log
    result = run_trial(expert, make_task("box_loading", EVAL + 1), RunnerConfig(backend="ideal_base", settle_s=0.5))
    assert result.success == (True, True), result.summary()
    base = result.log["base"]  # (T, 4) x, y, z, yaw
    turn = [i for i, p in enumerate(phases) if p == "turn_and_walk"]
    x0, y0, _, yaw0 = base[turn[0]]
    turned = next(i for i in turn if abs(np.angle(np.exp(1j * (base[i, 3] - yaw0)))) > 0.1)  # the first tick of the turn
    back = -((base[turned, 0] - x0) * np.cos(yaw0) + (base[turned, 1] - y0) * np.sin(yaw0))
    assert back > 0.15, back  # it stepped back ~0.2 m before turning
    with pytest.raises(ValueError, match="turn_clearance"):
        ExpertConfig(turn_clearance=-0.1)
