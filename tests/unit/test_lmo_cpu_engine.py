"""The CPU (C MuJoCo) training engine: the same terms as mjlab on the same state, the deployed
observation builder equal to the engine's observation, the levers' hand-computed values, falls,
and training chunks that resume."""

import json
import os
from dataclasses import replace

import mujoco
import numpy as np
import pytest
import torch

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

from wbvla.lmo.config import LMOTaskConfig, ObservationConfig  # noqa: E402
from wbvla.lmo.cpu.config import CpuEngineConfig  # noqa: E402
from wbvla.lmo.cpu.env import CpuLMOEnv  # noqa: E402
from wbvla.lmo.levers import (  # noqa: E402
    GAIT_TERM,
    AssistConfig,
    LeverConfig,
    advance_clock,
    clock_phase,
    contact_schedule,
    gait_observation,
    gait_swing,
    intent_progress,
    reference_leg_offsets,
)
from wbvla.lmo.proprio import OBS_TERMS  # noqa: E402


def _task(n: int, **kw) -> LMOTaskConfig:
    cfg = LMOTaskConfig(num_envs=n, observations=ObservationConfig(history=3, noise=False), seed=3, **kw)
    return replace(cfg, domain_rand=cfg.domain_rand.disabled())


def test_every_term_agrees_with_mjlab_on_the_same_state():
    """Every Table 4 term (+ J_dir, Eq. 4, the fall penalty) through mjlab's env and through the CPU
    engine's view, on mjlab's state copied into the engine: the view reproduces mjlab's names."""
    from mjlab.envs import ManagerBasedRlEnv

    from wbvla.lmo.cpu.view import CpuEnvView
    from wbvla.lmo.env_cfg import make_env_cfg, reward_terms

    cfg = _task(2)
    env = ManagerBasedRlEnv(make_env_cfg(cfg), device="cpu")
    cpu = CpuLMOEnv(cfg, CpuEngineConfig(num_envs=2, levers=LeverConfig.paper()))
    try:
        env.reset()
        rng = np.random.default_rng(0)
        for _ in range(25):  # walk the state away from the reset pose, with contacts and commands
            env.step(torch.tensor(rng.normal(size=(2, 12)) * 0.5, dtype=torch.float32))
        b, d, m = cpu.batch, env.sim.data, env.sim.mj_model
        assert m.nbody == b.model.nbody + 1 and m.nsite == b.model.nsite  # mjlab adds a terrain body
        b.qpos[:], b.qvel[:] = d.qpos.numpy(), d.qvel.numpy()
        b.qacc[:], b.qfrc_actuator[:] = d.qacc.numpy(), d.qfrc_actuator.numpy()
        bodies = np.r_[0, np.arange(2, m.nbody)]  # world, then the robot's bodies (skip terrain)
        b.xpos[:], b.cvel[:], b.subtree_com[:] = (d.xpos.numpy()[:, bodies], d.cvel.numpy()[:, bodies],
                                                   d.subtree_com.numpy()[:, bodies])
        b.site_xpos[:], b.site_xmat[:] = d.site_xpos.numpy(), d.site_xmat.numpy().reshape(2, -1, 9)
        view: CpuEnvView = cpu.view
        view.update()
        sensor = env.scene["feet_contact"].data
        for key in ("force", "current_air_time", "last_air_time", "current_contact_time", "last_contact_time"):
            setattr(view.scene["feet_contact"].data, key, getattr(sensor, key).clone())
        am = env.action_manager
        view.action_manager.action, view.action_manager.prev_action = am.action.clone(), am.prev_action.clone()
        view.action_manager.prev_prev_action = am.prev_prev_action.clone()
        view.action_manager.legs.applied_target = am.get_term("legs").applied_target.clone()
        view.command_manager.terms["command"] = env.command_manager.get_term("command")  # same flags, v_ref, h*
        view.termination_manager.terminated = torch.tensor([True, False])
        env.termination_manager._terminated_buf = torch.tensor([True, False])
        robot = view.scene["robot"]
        checked = []
        for name, (fn, params) in reward_terms(cfg).items():
            theirs = {k: (v.resolve(env.scene) or v) if hasattr(v, "joint_names") else v for k, v in params.items()}
            for v in theirs.values():
                if hasattr(v, "joint_names"):
                    v.resolve(env.scene)
            ours = {k: robot.resolve(v) if hasattr(v, "joint_names") else v for k, v in params.items()}
            if name == "termination":
                want = env.termination_manager.terminated.float() / env.step_dt
            else:
                want = fn(env, **theirs)
            got = fn(view, **ours)
            assert got.shape == (2,), name
            assert torch.allclose(got, want.float(), rtol=1e-4, atol=1e-4), (name, got, want)
            checked.append(name)
        assert set(checked) == set(reward_terms(cfg)) and len(checked) >= 36
    finally:
        env.close()


def test_deployed_observation_builder_matches_the_engine():
    """ObservationBuilder + the gait clock (what LMOController runs on the robot) rebuild the
    engine's actor observation exactly, from the physics states after every substep."""
    from wbvla.lmo.policy import ObservationBuilder

    cfg = _task(1)
    env = CpuLMOEnv(cfg, CpuEngineConfig(num_envs=1, levers=LeverConfig()))
    data = mujoco.MjData(env.batch.model)
    nq = env.batch.model.nq
    builder = ObservationBuilder(env.batch.model, history=3, terms=OBS_TERMS + (GAIT_TERM,))
    data.qpos[:], data.qvel[:] = env.batch.qpos[0], env.batch.qvel[0]
    builder.reset(data)
    first = builder.build(env.command.command[0].numpy(), np.zeros(12), gait_observation(np.asarray(0.0)))
    assert np.abs(first - env.get_observations()["actor"][0].numpy()).max() < 1e-5
    env.command.flags[:] = torch.tensor([[1.0, 0.0, 0.0]])  # walk, so the clock runs
    rng = np.random.default_rng(1)
    steps, worst = 0, 0.0
    for k in range(40):
        a = torch.tensor(rng.normal(size=(1, 12)) * 0.3, dtype=torch.float32)
        obs, *_ = env.step(a)
        for s in range(env.batch.substeps.shape[1]):
            data.qpos[:], data.qvel[:] = env.batch.substeps[0, s, :nq], env.batch.substeps[0, s, nq:]
            builder.record(data)
        steps = int(advance_clock(steps, bool((env.command.command[0, :3] != 0).any())))
        phase = clock_phase(steps, 0.02, env.levers.gait_period_s)
        built = builder.build(env.command.command[0].numpy(), a[0].numpy(), gait_observation(phase))
        worst = max(worst, float(np.abs(built - obs["actor"][0].numpy()).max()))
        assert abs(phase - float(env.gait.phase[0])) < 1e-6, k
    assert worst < 1e-4


def test_gait_levers_hand_values():
    phase, moving = np.array([0.0, 0.25, 0.75, 0.25, 0.02]), np.array([1, 1, 1, 0, 1], bool)
    sw = gait_swing(phase, moving)
    # sin(2 pi 0.25) = 1: left swings; 0.75: right swings; standing or near a crossing: both down
    assert np.allclose(sw, [[0, 0], [1, 0], [0, 1], [0, 0], [np.sin(2 * np.pi * 0.02), 0]])
    assert np.allclose(gait_swing(torch.tensor(phase), torch.tensor(moving)).numpy(), sw)
    r = reference_leg_offsets(np.array([[1.0, 0.0], [0.0, 0.5]]), 0.2)
    assert np.allclose(r[0], [-0.2, 0, 0, 0.4, -0.2, 0, 0, 0, 0, 0, 0, 0])
    assert np.allclose(r[1], [0, 0, 0, 0, 0, 0, -0.1, 0, 0, 0.2, -0.1, 0])
    assert np.array_equal(advance_clock(np.array([39, 7]), np.array([True, False])), [40, 0])
    assert np.allclose(clock_phase(np.array([40, 41, 10]), 0.02, 0.8), [0.0, 0.025, 0.25])  # 40 steps = 1 period
    assert np.allclose(gait_observation(np.array([0.25])), [[1.0, 0.0]], atol=1e-7)
    with pytest.raises(ValueError, match="gait_clock"):
        LeverConfig(gait_clock=False)


def test_progress_and_contact_schedule_rewards():
    env = CpuLMOEnv(_task(3), CpuEngineConfig(num_envs=3, levers=LeverConfig()))
    view = env.view
    env.command.v_ref = torch.tensor([[0.3, 0, 0], [0.3, 0, 0], [0, 0, 0]])
    view.scene["robot"].data.root_link_lin_vel_b = torch.tensor([[0.15, 0, 0], [-0.6, 0, 0], [0.2, 0, 0]])
    view.scene["robot"].data.root_link_ang_vel_b = torch.zeros(3, 3)
    assert torch.allclose(intent_progress(view), torch.tensor([0.5, -1.0, 0.0]))
    env.gait.steps = torch.tensor([10, 10, 0])  # phase 0.25 at T = 0.8 s
    env.gait.moving = torch.tensor([True, True, False])
    view.scene["feet_contact"].data.force = torch.tensor([[[0, 0, 0], [0, 0, 200.0]], [[0, 0, 200.0]] * 2,
                                                          [[0, 0, 200.0]] * 2])
    # env 0: left swings in the air, right stands: both match; env 1: left should swing but touches
    assert torch.allclose(contact_schedule(view), torch.tensor([1.0, 0.35, 1.0]))


def test_falls_terminate_and_reset():
    env = CpuLMOEnv(_task(2), CpuEngineConfig(num_envs=2, levers=LeverConfig.paper()))
    b = env.batch
    d = b.datas[0]
    a = b.idx.base_qpos
    d.qpos[a + 3:a + 7] = [np.cos(np.pi / 4), np.sin(np.pi / 4), 0, 0]  # lying on its side: tilt 90 deg
    b.refresh(np.array([0]))
    obs, rew, done, extras = env.step(torch.zeros(2, 12))
    assert done.tolist() == [True, False] and not extras["time_outs"].any()
    assert env.episode_length_buf[0] == 0 and b.qpos[0, b.idx.base_qpos + 2] > 0.6  # reset, standing again
    assert torch.isfinite(obs["actor"]).all() and obs["actor"].shape == (2, 3 * 76)


def test_assist_decays_and_pushes_up():
    a = AssistConfig(enabled=True, decay_env_steps=100)
    assert a.scale(0) == 1.0 and a.scale(50) == 0.5 and a.scale(200) == 0.0
    assert AssistConfig().scale(0) == 0.0  # off unless enabled
    env = CpuLMOEnv(_task(1), CpuEngineConfig(num_envs=1, levers=LeverConfig(assist=a)))
    env.batch.qpos[0, env.batch.idx.base_qpos + 2] -= 0.05
    env.view.update()
    env._apply_assist()
    assert env.batch.xfrc[0, 2] > 50.0  # 5 cm sag -> upward support


def test_cpu_training_resumes_and_exports(tmp_path):
    from wbvla.lmo.cpu.config import CpuTrainConfig
    from wbvla.lmo.cpu.train import train_cpu
    from wbvla.lmo.export import run_export
    from wbvla.lmo.job_config import ExportConfig
    from wbvla.lmo.policy import LMOPolicy

    small = replace(CpuTrainConfig().ppo, actor_hidden=(32,), critic_hidden=(32,), num_steps_per_env=4)
    cfg = CpuTrainConfig(run_dir=str(tmp_path / "run"), engine=CpuEngineConfig(num_envs=4), ppo=small,
                         max_env_steps=4 * 4 * 2, save_interval=1)
    first = train_cpu(cfg)
    again = train_cpu(replace(cfg, max_env_steps=4 * 4 * 3))
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert [c["iterations"] for c in meta["chunks"]] == [2, 1]
    assert meta["chunks"][1]["env_steps_start"] == meta["chunks"][0]["env_steps_end"] == 32
    assert int(again.stem.split("_")[1]) == int(first.stem.split("_")[1]) + 1
    assert "optimizer_state_dict" not in torch.load(again, weights_only=False)  # slim: committable
    with pytest.raises(ValueError, match="other levers"):
        train_cpu(replace(cfg, engine=CpuEngineConfig(num_envs=4, levers=LeverConfig.paper())))
    run_export(ExportConfig(checkpoint=again, out_dir=tmp_path / "out", name="lmo"))
    pol = LMOPolicy(tmp_path / "out" / "lmo.onnx")
    assert pol.terms[-1] == GAIT_TERM and pol.gait_period_s == 0.8 and pol.reference_amplitude == 0.25
    card = json.loads((tmp_path / "out" / "model_card.json").read_text())["lmo"]
    assert (card["iterations"], card["env_steps"]) == (3, 48)  # up to the exported checkpoint: all of it here
    # the plan's export of a candidate: into --out-dir, with the training up to that (earlier) checkpoint
    from wbvla.lmo.cpu.plan import main as plan_main

    plan_main(["export", "--root", str(tmp_path), "--step", "run", "--checkpoint", str(first), "--out-dir", str(tmp_path / "cand")])
    card = json.loads((tmp_path / "cand" / "model_card.json").read_text())["lmo"]
    assert (card["checkpoint"], card["iterations"], card["env_steps"]) == (first.name, 2, 32)


def test_training_physics_is_the_evaluation_physics():
    """The CPU engine trains on the model the App. B.4 evaluation and the deployed controller use:
    the same state and targets give the same trajectory, bit for bit (the foot sensors only read)."""
    from wbvla.lmo.cpu.physics import X2Batch
    from wbvla.lmo.policy import eval_model
    from wbvla.sim.robot import X2Index, reset_to_pose

    batch = X2Batch(1)
    ev = eval_model()
    d = mujoco.MjData(ev)
    reset_to_pose(ev, d, X2Index.from_model(ev))
    d.qpos[:], d.qvel[:] = batch.qpos[0], batch.qvel[0]
    rng = np.random.default_rng(0)
    for _ in range(50):
        ctrl = batch.datas[0].ctrl + rng.normal(0, 0.05, ev.nu)
        batch.step(ctrl[None])
        d.ctrl[:] = ctrl
        for _ in range(4):
            mujoco.mj_step(ev, d)
    assert np.array_equal(batch.qpos[0], d.qpos) and np.array_equal(batch.qvel[0], d.qvel)


def test_still_arms_lever_holds_the_default_pose_in_stage2():
    """still_arms_fraction=1: every Stage II episode keeps the arms at the default pose (as App. B.4's
    trials); 0: they replay clips and leave it. Episodes reset mid-run draw again."""
    from wbvla.sim.joints import default_pose

    default = torch.tensor(default_pose("arms"), dtype=torch.float32)
    moved = {}
    for fraction in (0.0, 1.0):
        env = CpuLMOEnv(_task(4, stage=2), CpuEngineConfig(num_envs=4, levers=LeverConfig(still_arms_fraction=fraction)))
        for _ in range(60):
            env.step(torch.zeros(4, 12))
        moved[fraction] = (env.arms.command - default).abs().amax(dim=-1)  # (4,)
        assert bool(env.arms.still.all()) == (fraction == 1.0)
    assert torch.all(moved[1.0] < 1e-6) and torch.all(moved[0.0] > 1e-3)
    with pytest.raises(ValueError, match="still_arms_fraction"):
        LeverConfig(still_arms_fraction=1.5)
