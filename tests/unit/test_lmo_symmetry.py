"""The left-right mirror of the X2 and of the LMO's observations and actions (the ``symmetry`` lever):
derived from the MJCF, checked against the physically mirrored robot through the engine's own
observation builders and leg-target mapping, an involution, wired into rsl-rl's PPO, and a run
started before the lever resumes unchanged."""

import json
import os
from dataclasses import asdict, replace

import mujoco
import numpy as np
import pytest
import torch
from tensordict import TensorDict

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

from wbvla.lmo.config import LMOTaskConfig, ObservationConfig  # noqa: E402
from wbvla.lmo.cpu.config import CpuEngineConfig, CpuTrainConfig  # noqa: E402
from wbvla.lmo.cpu.env import CpuLMOEnv  # noqa: E402
from wbvla.lmo.gait import reference_leg_offsets  # noqa: E402
from wbvla.lmo.lever_config import LeverConfig  # noqa: E402
from wbvla.lmo.symmetry import (  # noqa: E402
    LeftRightMirror,
    ObservationMirror,
    SignedPermutation,
    augment,
    joint_mirror,
    lmo_standing,
    mirror_error,
    rsl_rl_symmetry_cfg,
)
from wbvla.sim.joints import joint_names  # noqa: E402
from wbvla.sim.robot import x2_spec  # noqa: E402

K = 4  # random states per test; envs K..2K-1 hold their mirrors


def _env(task: str = "lmo", history: int = 3, levers: LeverConfig | None = None) -> CpuLMOEnv:
    cfg = LMOTaskConfig(task=task, num_envs=2 * K, observations=ObservationConfig(history=history, noise=False), seed=5)
    cfg = replace(cfg, domain_rand=cfg.domain_rand.disabled())
    return CpuLMOEnv(cfg, CpuEngineConfig(num_envs=2 * K, levers=levers or LeverConfig(symmetry="augment")))


def _mirror_base(qpos_b: np.ndarray, qvel_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The free joint reflected through the world x-z plane: position M p, orientation M R M
    (quaternion (w, -x, y, -z)), world linear velocity M v, body-frame angular velocity -M w."""
    p, q = qpos_b[:3], qpos_b[3:7]
    v, w = qvel_b[:3], qvel_b[3:6]
    return (np.r_[p * [1, -1, 1], q * [1, -1, 1, -1]], np.r_[v * [1, -1, 1], w * [-1, 1, -1]])


def _set_random_states(env: CpuLMOEnv, rng: np.random.Generator, standing: int = K - 1) -> None:
    """Envs 0..K-1: random pose (one foot pressed into the floor), velocities, commands, clock,
    last action, arm targets; env K + i: the physically mirrored robot and mirrored inputs. Env
    ``standing`` gets a zero command (clock stopped)."""
    b, m = env.batch, env.batch.model
    names = env.robot.joint_names  # every hinge / slide joint, model order
    qadr = np.array([m.jnt_qposadr[m.joint(n).id] for n in names])
    vadr = np.array([m.jnt_dofadr[m.joint(n).id] for n in names])
    jm = joint_mirror(names, m)
    a, v = b.idx.base_qpos, b.idx.base_qvel
    period = round(env.levers.gait_period_s / 0.02)
    arm_mirror = joint_mirror(joint_names("arms"), m)
    for i in range(K):
        d = b.datas[i]
        d.qpos[:] = m.qpos0
        d.qpos[qadr] = rng.uniform(m.jnt_range[[m.joint(n).id for n in names], 0],
                                   m.jnt_range[[m.joint(n).id for n in names], 1])
        roll, pitch, yaw = rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3), rng.uniform(-np.pi, np.pi)
        quat = np.zeros(4)
        mujoco.mju_euler2Quat(quat, np.array([roll, pitch, yaw]), "xyz")
        d.qpos[a:a + 3] = [rng.uniform(-1, 1), rng.uniform(-1, 1), 1.0]
        d.qpos[a + 3:a + 7] = quat
        mujoco.mj_kinematics(m, d)
        low = min(d.site_xpos[s, 2] for s in b.foot_site_ids)
        d.qpos[a + 2] -= low + 0.002  # the lower sole 2 mm into the floor: a contact on one side
        d.qvel[:] = rng.normal(size=m.nv)
        e = b.datas[K + i]
        e.qpos[:], e.qvel[:] = d.qpos, d.qvel
        e.qpos[a:a + 7], e.qvel[v:v + 6] = _mirror_base(d.qpos[a:a + 7], d.qvel[v:v + 6])
        e.qpos[qadr], e.qvel[vadr] = jm(d.qpos[qadr]), jm(d.qvel[vadr])
    b.refresh(np.arange(2 * K))
    env.view.update()
    # commands, clock, last action, arm targets: random for 0..K-1, mirrored for K..2K-1
    src, dst = slice(0, K), slice(K, 2 * K)
    cmd = env.command
    if env.task.task == "lmo":
        flags = torch.tensor(rng.integers(-1, 2, (K, 3)), dtype=torch.float32)
        flags[flags.abs().sum(-1) == 0, 0] = 1.0
        flags[standing] = 0.0
        cmd.flags[src], cmd.flags[dst] = flags, flags * torch.tensor([1.0, -1.0, -1.0])
    else:
        vel = torch.tensor(rng.uniform(-0.5, 0.5, (K, 3)), dtype=torch.float32)
        vel[standing] = 0.0
    cmd.height_target[src] = cmd.height_target[dst] = torch.tensor(rng.uniform(0.53, 0.655, K), dtype=torch.float32)
    vref = torch.tensor(rng.uniform(-0.6, 0.6, (K, 3)), dtype=torch.float32) if env.task.task == "lmo" else vel
    cmd.v_ref[src], cmd.v_ref[dst] = vref, vref * torch.tensor([1.0, -1.0, -1.0])
    moving = ~cmd.is_standing[src]
    steps = torch.tensor(rng.integers(1, period, K)) * moving
    env.gait.steps[src], env.gait.moving[src] = steps, moving
    env.gait.steps[dst], env.gait.moving[dst] = torch.where(moving, steps + period // 2, 0), moving
    act = torch.tensor(rng.normal(size=(K, 12)), dtype=torch.float32)
    env.view.action_manager.action = torch.cat([act, env.mirror.action(act)])
    arms = torch.tensor(rng.uniform(-1, 1, (K, 14)), dtype=torch.float32)
    env.arms.target[src], env.arms.target[dst] = arms, arm_mirror(arms)
    dof, imu = env._proprio_now()
    env.dof_lag.fill(dof)
    env.imu_lag.fill(imu)


def test_joint_mirror_is_derived_from_the_mjcf_axes():
    names = joint_names()
    jm = joint_mirror(names)
    for i, n in enumerate(names):
        partner = names[jm.index[i]]
        assert partner == n.replace("left", "@").replace("right", "left").replace("@", "right")
        kind = n.removeprefix("left_").removeprefix("right_")
        flips = any(k in kind for k in ("roll", "yaw"))  # axes x / z flip under the reflection, y keeps
        assert jm.sign[i] == (-1.0 if flips else 1.0), n
    assert np.array_equal(jm(jm(np.arange(29.0))), np.arange(29.0))
    # the default pose and the leg ranges are their own mirror (q - q_default mirrors like q)
    from wbvla.sim.joints import default_pose, limits

    assert np.allclose(jm(default_pose()), default_pose())
    lo, hi = limits("legs")
    legs = joint_mirror(joint_names("legs"))
    assert np.allclose(np.minimum(legs(lo), legs(hi)), lo) and np.allclose(np.maximum(legs(lo), legs(hi)), hi)


def test_a_model_that_is_not_mirror_symmetric_is_refused():
    spec = x2_spec(actuated=False)
    spec.joint("right_hip_roll_joint").axis = [0.0, 1.0, 0.0]  # a roll joint turned into a pitch joint
    with pytest.raises(ValueError, match="right_hip_roll_joint"):
        joint_mirror(joint_names("legs"), spec.compile())
    with pytest.raises(ValueError, match="partner 'right_knee_joint'"):
        joint_mirror(("left_knee_joint",))


@pytest.mark.parametrize("task", ["lmo", "velocity"])
def test_the_mirrored_robot_observes_the_mirrored_observation(task):
    """The strongest check: the physically mirrored X2 (pose, velocities, joints, commands, clock,
    last action, arm targets), observed by the engine's own builders over 3 history frames, gives
    exactly the mirror of the original's actor and critic observations."""
    env = _env(task)
    rng = np.random.default_rng(0)
    contacts = []
    for frame in range(3):  # a different random state in every history frame
        _set_random_states(env, rng)
        obs = env._observe(first=torch.full((2 * K,), frame == 0))
        contacts.append(env.view.scene["feet_contact"].data.force.norm(dim=-1)[:K] > 1.0)
    for group in ("actor", "critic"):
        x = obs[group]
        err = (env.mirror.groups[group](x[:K]) - x[K:]).abs().max().item()
        assert err < 1e-5, (group, err)
        assert (x[:K] - x[K:]).abs().max() > 0.1  # the states themselves differ
    contacts = torch.stack(contacts)
    assert (contacts[..., 0] != contacts[..., 1]).any()  # some frame has one foot down: the swap is tested
    if task == "lmo":  # the standing env's clock term is (0, 1) on both sides, the moving ones' shifted
        gait = obs["actor"][:, -2:]
        assert torch.allclose(gait[K - 1], torch.tensor([0.0, 1.0])) and torch.allclose(gait[2 * K - 1], gait[K - 1])
        assert torch.allclose(gait[K:2 * K - 1], -gait[:K - 1], atol=1e-6)


def test_the_mirrored_action_gives_the_mirrored_leg_targets():
    """PD targets of mirror(a) on the mirrored robot = mirror of the targets of a: default pose,
    per-joint scale, the reference gait r(phi + 1/2) = mirror(r(phi)) and the range clipping."""
    env = _env("lmo", history=1)
    rng = np.random.default_rng(1)
    _set_random_states(env, rng)
    swing = env.gait.swing
    assert reference_leg_offsets(swing[:K], env.levers.reference_amplitude).abs().sum() > 0.1  # the reference acts
    a = torch.tensor(rng.normal(size=(K, 12)) * 3.0, dtype=torch.float32)  # large: some targets clip
    env.step(torch.cat([a, env.mirror.action(a)]))
    target = env.view.action_manager.legs.applied_target
    lo, hi = env.leg_lo, env.leg_hi
    assert ((target[:K] == lo) | (target[:K] == hi)).any()
    assert torch.allclose(env.mirror.action(target[:K]), target[K:], atol=1e-6)


def test_mirror_is_an_involution_and_augment_appends_the_mirrors():
    env = _env("lmo", history=3)
    rng = np.random.default_rng(2)
    obs = env.get_observations()
    x = obs["actor"] + torch.tensor(rng.normal(size=obs["actor"].shape), dtype=torch.float32)
    x[:, :12] = torch.tensor(rng.integers(-1, 2, (2 * K, 12)), dtype=torch.float32)  # flags (3 frames x 4: h* too)
    obs = TensorDict({"actor": x, "critic": obs["critic"] + 1.0}, batch_size=[2 * K])
    for group, mirror in env.mirror.groups.items():
        assert torch.allclose(mirror(mirror(obs[group])), obs[group])
    a = torch.tensor(rng.normal(size=(2 * K, 12)), dtype=torch.float32)
    assert torch.equal(env.mirror.action(env.mirror.action(a)), a)
    obs_aug, act_aug = augment(env, obs, a)
    assert obs_aug.batch_size == torch.Size([4 * K]) and act_aug.shape == (4 * K, 12)
    assert torch.equal(obs_aug["actor"][:2 * K], obs["actor"]) and torch.equal(act_aug[:2 * K], a)
    assert torch.allclose(obs_aug["critic"][2 * K:], env.mirror.groups["critic"](obs["critic"]))
    assert augment(env, None, a)[0] is None and augment(env, obs, None)[1] is None
    with pytest.raises(ValueError, match="no mirror for observation group"):
        env.mirror.observations(TensorDict({"policy": x}, batch_size=[2 * K]))


def test_mirror_error_is_zero_for_a_symmetric_policy_only():
    env = _env("lmo", history=2)
    obs = env.get_observations()
    obs = TensorDict({"actor": obs["actor"] + torch.randn(obs["actor"].shape), "critic": obs["critic"]}, batch_size=[2 * K])
    s = env.mirror.groups["actor"].slices["last_action"]
    echo = lambda td: td["actor"][:, s][:, -12:]  # noqa: E731  (repeats its last action: symmetric)
    left = lambda td: echo(td) * torch.tensor([1.0] * 6 + [0.0] * 6)  # noqa: E731  (moves only the left leg)
    assert mirror_error(echo, obs, env.mirror) < 1e-12
    assert mirror_error(left, obs, env.mirror) > 0.1


def test_mirror_of_hand_values():
    """One frame by hand: command (1, 1, -1, 0.6) -> (1, -1, 1, 0.6); omega (1, 2, 3) -> (-1, 2, -3);
    gravity (0.1, 0.2, -1) -> (0.1, -0.2, -1); clock (sin, cos) -> (-sin, -cos), kept when standing."""
    mirror = ObservationMirror((("command", 4), ("base_ang_vel", 3), ("projected_gravity", 3), ("gait_phase", 2)),
                               1, lmo_standing)
    x = torch.tensor([[1.0, 1, -1, 0.6, 1, 2, 3, 0.1, 0.2, -1, 0.6, 0.8],
                      [0.0, 0, 0, 0.6, 1, 2, 3, 0.1, 0.2, -1, 0.0, 1.0]])
    y = mirror(x)
    assert torch.allclose(y[0], torch.tensor([1.0, -1, 1, 0.6, -1, 2, -3, 0.1, -0.2, -1, -0.6, -0.8]))
    assert torch.allclose(y[1, -2:], torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="no left-right mirror"):
        ObservationMirror((("height_scan", 10),))
    with pytest.raises(ValueError, match="not a permutation"):
        SignedPermutation([0, 0], [1, 1])


def test_symmetry_lever_is_validated_and_off_in_the_paper_config():
    assert LeverConfig().symmetry == "none" and LeverConfig.paper().symmetry == "none"
    with pytest.raises(ValueError, match="symmetry"):
        LeverConfig(symmetry="mirror")
    with pytest.raises(ValueError, match="even number"):
        LeverConfig(symmetry="augment", gait_period_s=0.82)  # 41 steps: no half-period shift on the grid
    assert rsl_rl_symmetry_cfg("none", 1.0) is None
    assert rsl_rl_symmetry_cfg("augment+loss", 0.5) == {
        "use_data_augmentation": True, "use_mirror_loss": True, "mirror_loss_coeff": 0.5,
        "data_augmentation_func": "wbvla.lmo.symmetry:augment"}
    assert isinstance(_env(history=1).mirror, LeftRightMirror)


def test_training_with_symmetry_logs_the_mirror_loss_and_old_runs_resume_unchanged(tmp_path):
    from wbvla.lmo.cpu.train import train_cpu
    from wbvla.lmo.export import policy_metadata

    small = replace(CpuTrainConfig().ppo, actor_hidden=(32,), critic_hidden=(32,), num_steps_per_env=4)
    cfg = CpuTrainConfig(run_dir=str(tmp_path / "sym"), engine=CpuEngineConfig(num_envs=4, levers=LeverConfig(
        symmetry="augment+loss")), ppo=small, max_env_steps=4 * 4, save_interval=1)
    train_cpu(cfg)
    rows = [json.loads(line) for line in (tmp_path / "sym" / "curves.jsonl").read_text().splitlines()]
    assert all(np.isfinite(r["Loss/symmetry"]) for r in rows)
    md = policy_metadata(3, 0.1, "lmo", 1, levers=asdict(cfg.engine.levers))
    assert md["symmetry"].startswith("augment+loss") and json.loads(md["levers"])["symmetry"] == "augment+loss"

    # a run whose run.json predates the lever resumes with the default (none), and refuses another mode
    old = replace(cfg, run_dir=str(tmp_path / "old"), engine=CpuEngineConfig(num_envs=4))
    train_cpu(old)
    meta_path = tmp_path / "old" / "run.json"
    meta = json.loads(meta_path.read_text())
    for key in ("symmetry", "mirror_loss_weight"):
        del meta["config"]["engine"]["levers"][key]  # as written before the field existed
    meta_path.write_text(json.dumps(meta))
    train_cpu(replace(old, max_env_steps=4 * 4 * 2))
    assert len(json.loads(meta_path.read_text())["chunks"]) == 2
    rows = [json.loads(line) for line in (tmp_path / "old" / "curves.jsonl").read_text().splitlines()]
    assert not any("Loss/symmetry" in r for r in rows)  # no symmetry extension at all: today's training
    with pytest.raises(ValueError, match="other levers"):
        train_cpu(replace(old, max_env_steps=4 * 4 * 3, engine=CpuEngineConfig(num_envs=4, levers=LeverConfig(
            symmetry="augment"))))
