"""The mjlab task on the CPU: tiny env steps, Table 5 randomization in range, the plain-MuJoCo
observation builder equal to mjlab's observation, training chunks that resume, export + card."""

import json
import os
import time
from dataclasses import replace

import mujoco
import numpy as np
import pytest
import torch

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

from mjlab.envs import ManagerBasedRlEnv  # noqa: E402

from wbvla.lmo.config import CurriculumConfig, LMOTaskConfig, ObservationConfig  # noqa: E402
from wbvla.lmo.env_cfg import make_env_cfg  # noqa: E402
from wbvla.lmo.policy import ObservationBuilder, eval_model  # noqa: E402
from wbvla.sim.joints import joint_names, limits  # noqa: E402


@pytest.fixture(scope="module")
def lmo_env():
    """Full Table 5 ranges (curriculum off), the paper's randomization as printed."""
    cfg = LMOTaskConfig(num_envs=4, seed=1, curriculum=CurriculumConfig(use_curriculum=False))
    env = ManagerBasedRlEnv(make_env_cfg(cfg), device="cpu")
    env.reset()
    yield env
    env.close()


def _step(env, n, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        obs, rew, term, trunc, extras = env.step(torch.tensor(rng.normal(size=(env.num_envs, 12)) * 0.3, dtype=torch.float32))
    return obs, rew


def test_lmo_env_steps(lmo_env):
    env = lmo_env
    obs, _ = env.reset()
    assert obs["actor"].shape == (4, 380) and obs["critic"].shape == (4, 99)
    obs, rew = _step(env, 10)
    assert torch.isfinite(obs["actor"]).all() and torch.isfinite(obs["critic"]).all() and torch.isfinite(rew).all()
    for name, value in env.reward_manager.get_active_iterable_terms(0):
        assert np.isfinite(value).all(), name
    u = env.command_manager.get_command("command")
    assert set(u[:, :3].unique().tolist()) <= {-1.0, 0.0, 1.0} and torch.all((u[:, 3] >= 0.53) & (u[:, 3] <= 0.655))


def test_arm_targets_and_randomization_ranges(lmo_env):
    env = lmo_env
    robot = env.scene["robot"]
    names = list(robot.joint_names)
    arms = [names.index(n) for n in joint_names("arms")]
    lo, hi = limits("arms")
    tgt = robot.data.joint_pos_target[:, arms].numpy()
    assert np.all(tgt >= lo - 1e-5) and np.all(tgt <= hi + 1e-5)
    # Table 5: foot friction in [0.1, 3.0], shared by both feet, different across envs
    feet = robot.indexing.geom_ids[[i for i, g in enumerate(robot.geom_names) if g.endswith("foot_collision")]]
    fr = env.sim.model.geom_friction[:, feet, 0]
    assert torch.all((fr >= 0.1) & (fr <= 3.0)) and torch.allclose(fr[:, 0], fr[:, 1]) and fr[:, 0].std() > 0
    # torso mass = default * [0.8, 1.2] + [-5, 10] kg
    torso = robot.indexing.body_ids[list(robot.body_names).index("torso_link")]
    m0 = env.sim.get_default_field("body_mass")[torso].item()
    m = env.sim.model.body_mass[:, torso]
    assert torch.all(m >= 0.8 * m0 - 5 - 1e-4) and torch.all(m <= 1.2 * m0 + 10 + 1e-4) and m.std() > 0
    # lags (physics steps) drawn per episode inside the Table 5 ranges
    legs = env.action_manager.get_term("legs")
    sensor = env.scene["proprio"]
    assert torch.all((legs.lag.lag >= 2) & (legs.lag.lag <= 8))
    assert torch.all((sensor.dof.lag >= 0) & (sensor.dof.lag <= 8)) and torch.all((sensor.imu.lag >= 1) & (sensor.imu.lag <= 10))
    assert torch.all(legs.actuation_offset.abs() <= 0.05)
    # torque injection: within +-5 % of each leg joint's effort limit, redrawn every step
    _step(env, 1)
    effort = torch.tensor([120.0, 120, 120, 120, 60, 36] * 2)
    inj = env.sim.data.qfrc_applied[:, robot.indexing.joint_v_adr[legs._target_ids]]
    assert torch.all(inj.abs() <= 0.05 * effort + 1e-4) and inj.abs().max() > 0
    # restitution -> solref damping ratio in [min ratio, 1] on the feet
    zeta = env.sim.model.geom_solref[:, feet, 1]
    assert torch.all((zeta >= 0.1 - 1e-6) & (zeta <= 1.0 + 1e-6)) and zeta.std() > 0


@pytest.mark.parametrize("task, stage", [("lmo", 2), ("velocity", 1)])
def test_other_tasks_step(task, stage):
    env = ManagerBasedRlEnv(make_env_cfg(LMOTaskConfig(task=task, stage=stage, num_envs=2)), device="cpu")
    try:
        env.reset()
        obs, rew = _step(env, 5)
        assert obs["actor"].shape == (2, 380) and torch.isfinite(rew).all()
        names = [n for n, _ in env.reward_manager.get_active_iterable_terms(0)]
        assert ("heading_drift" in names) == (task == "lmo") and ("track_lin_vel_x" in names) == (task == "velocity")
    finally:
        env.close()


def test_plain_mujoco_observation_equals_mjlab():
    cfg = LMOTaskConfig(num_envs=1, observations=ObservationConfig(history=3, noise=False), seed=3)
    cfg = replace(cfg, domain_rand=cfg.domain_rand.disabled())
    env = ManagerBasedRlEnv(make_env_cfg(cfg), device="cpu")
    try:
        model = eval_model()
        data = mujoco.MjData(model)
        assert env.sim.mj_model.nq == model.nq
        assert [env.sim.mj_model.joint(i).name.removeprefix("robot/") for i in range(env.sim.mj_model.njnt)] == \
               [model.joint(i).name for i in range(model.njnt)]

        def copy():
            data.qpos[:] = env.sim.data.qpos[0].numpy()
            data.qvel[:] = env.sim.data.qvel[0].numpy()

        obs, _ = env.reset()
        copy()
        builder = ObservationBuilder(model, history=3)
        builder.reset(data)
        cmd = env.command_manager.get_command("command")[0].numpy()
        assert np.abs(builder.build(cmd, np.zeros(12)) - obs["actor"][0].numpy()).max() < 1e-5
        rng = np.random.default_rng(0)
        worst = 0.0
        for _ in range(30):
            a = torch.tensor(rng.normal(size=(1, 12)) * 0.5, dtype=torch.float32)
            obs, *_ = env.step(a)
            copy()
            builder.record(data)
            built = builder.build(env.command_manager.get_command("command")[0].numpy(), a[0].numpy())
            worst = max(worst, float(np.abs(built - obs["actor"][0].numpy()).max()))
        assert worst < 1e-5
    finally:
        env.close()


def test_evaluation_model_matches_training_physics(lmo_env):
    train, ev = lmo_env.sim.mj_model, eval_model()
    for field in ("timestep", "iterations", "ls_iterations", "integrator", "cone", "solver", "tolerance", "jacobian"):
        assert getattr(train.opt, field) == getattr(ev.opt, field), field
    for name in joint_names():
        a, b = train.actuator(f"robot/{name}"), ev.actuator(name)
        assert a.gainprm[0] == pytest.approx(b.gainprm[0]) and a.biasprm[2] == pytest.approx(b.biasprm[2]), name
        assert np.allclose(a.forcerange, b.forcerange), name
    assert np.isclose(train.body_subtreemass[train.body("robot/pelvis").id], ev.body_subtreemass[ev.body("pelvis").id])


def test_training_chunks_resume_and_export(tmp_path, monkeypatch):
    monkeypatch.setenv("WBVLA_CACHE", str(tmp_path))
    from wbvla.lmo.export import run_export
    from wbvla.lmo.job_config import ExportConfig, TrainConfig
    from wbvla.lmo.train import latest_checkpoint, load_curves, run_summary, slim_checkpoint, train

    first = train(TrainConfig(smoke=True, iterations=1))
    assert first.name == "model_0.pt"
    lr = torch.load(first, weights_only=False)["optimizer_state_dict"]["param_groups"][0]["lr"]
    slim_checkpoint(first)  # as the GPU plan stores them: no optimizer state, learning rate kept
    slim = torch.load(first, weights_only=False)
    assert "optimizer_state_dict" not in slim and slim["learning_rate"] == lr and "actor_state_dict" in slim
    second = train(TrainConfig(smoke=True, iterations=1))  # resumes from the slim checkpoint
    assert second.name == "model_1.pt" and latest_checkpoint(first.parent) == second
    # a time-budgeted chunk stops at its deadline after the iteration in flight
    third = train(TrainConfig(smoke=True, iterations=50), deadline=time.time())
    assert third.name == "model_2.pt"
    record = json.loads((first.parent / "run.json").read_text())
    assert record["chunks"][-1]["stopped_by"] == "deadline" and record["chunks"][-1]["iterations"] == 1
    assert record["chunks"][-1]["curriculum"]["dr_level"] >= 0.2 and record["chunks"][0]["stopped_by"] == "iterations"
    curves = load_curves(first.parent)
    assert curves["iteration"].tolist() == [0, 1, 2] and {"Perf/total_fps", "Policy/mean_std"} <= set(curves)
    summary = run_summary(first.parent)
    assert summary["iterations"] == 3 and summary["env_steps"] == 3 * 16 * 8
    assert not (first.parent / "git").exists() or not any((first.parent / "git").iterdir())
    with pytest.raises(ValueError, match="holds a run with stage=1"):
        train(TrainConfig(smoke=True, iterations=1, run_dir=first.parent, task=LMOTaskConfig(stage=2)))
    entry = run_export(ExportConfig(checkpoint=third, name="lmo", out_dir=tmp_path / "ship"))
    assert entry["onnx_vs_torch_max_abs_diff"] < 1e-4 and (tmp_path / "ship" / "lmo.onnx").exists()
    card = json.loads((tmp_path / "ship" / "model_card.json").read_text())
    assert card["lmo"]["env_steps"] == 384 and "lmo.onnx" in (tmp_path / "ship" / "model_card.md").read_text()
    assert str(tmp_path) not in (tmp_path / "ship" / "model_card.md").read_text()


def test_tasks_register_with_mjlab():
    from mjlab.tasks.registry import list_tasks, load_env_cfg, load_rl_cfg

    from wbvla.lmo.env_cfg import TASK_IDS, register_tasks

    ids = register_tasks()
    assert ids == list(TASK_IDS.values()) and register_tasks() == ids  # idempotent
    assert set(ids) <= set(list_tasks())
    cfg = load_env_cfg("Wbvla-LMO-StageII-X2")
    assert cfg.commands["command"].stage == 2 and "heading_drift" in cfg.rewards
    assert load_env_cfg("Wbvla-Velocity-X2", play=True).scene.num_envs == 1
    assert load_rl_cfg("Wbvla-LMO-StageI-X2").num_steps_per_env == 24


def test_only_positive_rewards_clips_the_training_signal(tmp_path, monkeypatch):
    monkeypatch.setenv("WBVLA_CACHE", str(tmp_path))
    from wbvla.lmo.job_config import TrainConfig
    from wbvla.lmo.train import make_runner

    assert TrainConfig().ppo.only_positive_rewards is False  # the default: PPO sees the raw total
    for clip in (True, False):
        cfg = TrainConfig(smoke=True).resolved()
        cfg = replace(cfg, ppo=replace(cfg.ppo, only_positive_rewards=clip))
        env, wrapped, _ = make_runner(cfg, None, "cpu")
        try:
            rews = [wrapped.step(torch.randn(16, 12) * 3.0)[1] for _ in range(5)]
            raw = env.reward_manager._reward_buf  # unclipped total of the last step
            assert torch.all(torch.cat(rews) >= 0) if clip else torch.any(torch.cat(rews) < 0)
            assert torch.allclose(rews[-1], raw.clamp_min(0) if clip else raw, atol=1e-6)
        finally:
            env.close()


def test_eq3_and_the_fall_penalty_reach_ppo():
    """J_dir of an ended flag episode changes the step reward by weight x J_dir in the full LMO and
    by nothing in the no_eq3 ablation; a fall costs the termination weight. (With the old total
    clip both would vanish whenever the rest of the step is below |weight x J_dir|.)"""
    for ablation, w in (("none", -2.0), ("no_eq3", 0.0)):
        env = ManagerBasedRlEnv(make_env_cfg(LMOTaskConfig(stage=2, ablation=ablation, num_envs=2)), device="cpu")
        try:
            env.reset()
            env.step(torch.zeros(2, 12))
            cmd = env.command_manager.get_term("command")
            cmd.j_dir = torch.zeros(2)
            base = env.reward_manager.compute(dt=env.step_dt).clone()
            cmd.j_dir = torch.tensor([0.3, 0.0])
            with_drift = env.reward_manager.compute(dt=env.step_dt)
            assert torch.allclose(with_drift - base, torch.tensor([w * 0.3, 0.0]), atol=1e-5)
        finally:
            env.close()
    env = ManagerBasedRlEnv(make_env_cfg(LMOTaskConfig(num_envs=2)), device="cpu")
    try:
        env.reset()
        env.step(torch.zeros(2, 12))
        base = env.reward_manager.compute(dt=env.step_dt).clone()
        env.termination_manager._terminated_buf[:] = torch.tensor([True, False])
        fell = env.reward_manager.compute(dt=env.step_dt)
        assert torch.allclose(fell - base, torch.tensor([-10.0, 0.0]), atol=1e-4)
    finally:
        env.close()


def test_learning_curriculum_ramps_ranges_and_penalties():
    # promote once 1 % of the 20 s episode (0.2 s = 10 policy steps) has been watched without falls
    cur = CurriculumConfig(update_every_steps=2, step=0.5, initial_dr_level=0.2, initial_penalty_scale=0.1,
                           promote_fraction=0.01, demote_fraction=0.0)
    env = ManagerBasedRlEnv(make_env_cfg(LMOTaskConfig(num_envs=4, seed=2, curriculum=cur)), device="cpu")
    try:
        env.reset()
        term = env.curriculum_manager.get_term_cfg("learning").func
        robot = env.scene["robot"]
        feet = robot.indexing.geom_ids[[i for i, g in enumerate(robot.geom_names) if g.endswith("foot_collision")]]
        fr = env.sim.model.geom_friction[:, feet[0], 0].clone()
        # level 0.2: friction within [1 - 0.2 * 0.9, 1 + 0.2 * 2] = [0.82, 1.4]; lags 0..2 physics steps
        assert torch.all((fr >= 0.82 - 1e-5) & (fr <= 1.4 + 1e-5)) and fr.std() > 0
        assert torch.all(env.action_manager.get_term("legs").lag.lag <= 2) and env.scene["proprio"].level == 0.2
        w = env.reward_manager.get_term_cfg("action_smoothness").weight
        assert w == pytest.approx(-0.05 * 0.1) and env.reward_manager.get_term_cfg("roll_pitch").weight == -1.5
        assert env.reward_manager.get_term_cfg("termination").weight == -10.0
        # a resumed chunk jumps the step counter (wbvla.lmo.train); restart() keeps that from
        # counting as watched, fall-free time
        env.common_step_counter += 5000
        term.restart(env.common_step_counter)
        for k in range(16):  # zero actions at level 0.2 stand: no falls -> promoted to p = 1
            env.step(torch.zeros(4, 12))
            env._reset_idx(torch.tensor([0]))  # the curriculum updates on resets
            if k < 6:  # less than 0.2 s watched: no falls yet is no evidence, p stays
                assert term.progress == 0.0
        assert term.progress == 1.0 and term.dr_level == 1.0 and term.penalty_scale == 1.0
        assert env.reward_manager.get_term_cfg("action_smoothness").weight == pytest.approx(-0.05)
        # every env moved along its own draw: friction = 1 + (fr - 1) / 0.2 (the full-range point)
        assert torch.allclose(env.sim.model.geom_friction[:, feet[0], 0], 1 + (fr - 1) / 0.2, atol=1e-4)
    finally:
        env.close()


def test_stage2_arm_replay_starts_each_episode_from_the_reset_pose():
    env = ManagerBasedRlEnv(make_env_cfg(LMOTaskConfig(stage=2, num_envs=2, seed=4)), device="cpu")
    try:
        env.reset()
        for _ in range(60):
            env.step(torch.zeros(2, 12))
        arms = env.command_manager.get_term("arms")
        robot = env.scene["robot"]
        names = list(robot.joint_names)
        ids = [names.index(n) for n in joint_names("arms")]
        env._reset_idx(torch.tensor([1]))
        q_reset = robot.data.joint_pos[1, ids]
        assert torch.allclose(arms.source.blend_from[1], q_reset, atol=1e-5)
        assert torch.allclose(arms.target[1], q_reset, atol=1e-5)
    finally:
        env.close()


def test_run_summary_up_to_an_earlier_checkpoint_counts_only_the_training_before_it(tmp_path):
    """A probed best.pt is exported from a run that trained on: its model card must give the training up to
    it (whole chunks, then the share of the chunk it falls in), not the run's totals."""
    import json

    from wbvla.lmo.train import run_summary

    chunk = dict(hardware="cpu", command="plan run")
    meta = {"task": {"num_envs": 4, "stage": 2, "task": "lmo", "ablation": "none"},
            "chunks": [dict(chunk, iterations=100, env_steps=1000, wall_s=50.0),
                       dict(chunk, iterations=200, env_steps=2000, wall_s=120.0)]}
    (tmp_path / "run.json").write_text(json.dumps(meta))
    full = run_summary(tmp_path)
    assert (full["iterations"], full["env_steps"], full["wall_s"]) == (300, 3000, 170.0)
    part = run_summary(tmp_path, up_to_iteration=150)  # all of chunk 1, a quarter of chunk 2
    assert (part["iterations"], part["env_steps"], part["wall_s"]) == (150, 1500, 80.0) and len(part["commands"]) == 2
    first = run_summary(tmp_path, up_to_iteration=40)
    assert (first["iterations"], first["env_steps"], first["wall_s"], len(first["commands"])) == (40, 400, 20.0, 1)
