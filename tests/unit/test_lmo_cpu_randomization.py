"""Table 5 on the CPU engine (``CpuEngineConfig.dr_rows="table5"``): every row beyond the sensor
lags changes what it should, within its range at the DR level; with randomization off, or at level
0, the envs step the evaluation's model; a run started before the field resumes with its rows."""

import json
import os
from dataclasses import replace

import numpy as np
import pytest
import torch

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

from wbvla.lmo.config import LMOTaskConfig, ObservationConfig  # noqa: E402
from wbvla.lmo.cpu.config import CpuEngineConfig, CpuTrainConfig  # noqa: E402
from wbvla.lmo.cpu.env import CpuLMOEnv  # noqa: E402
from wbvla.lmo.cpu.physics import training_model  # noqa: E402
from wbvla.lmo.dr_config import CurriculumConfig, DomainRandConfig  # noqa: E402
from wbvla.lmo.robot_cfg import BASE_BODY, HAND_BODIES, TORSO_BODY  # noqa: E402
from wbvla.sim.joints import joints_in  # noqa: E402

FULL = CurriculumConfig(use_curriculum=False)  # DR level 1: the full Table 5 ranges


def _env(n: int, curriculum: CurriculumConfig = FULL, dr_rows: str = "table5", stage: int = 2, enabled: bool = True,
         seed: int = 0) -> CpuLMOEnv:
    task = LMOTaskConfig(num_envs=n, stage=stage, curriculum=curriculum, seed=seed,
                         observations=ObservationConfig(history=3, noise=False))
    if not enabled:
        task = replace(task, domain_rand=task.domain_rand.disabled())
    return CpuLMOEnv(task, CpuEngineConfig(num_envs=n, dr_rows=dr_rows, seed=seed))


def _model_arrays(model) -> dict[str, np.ndarray]:
    return {k: getattr(model, k) for k in dir(model) if not k.startswith("_") and isinstance(getattr(model, k), np.ndarray)}


def _same_model(a, b) -> list[str]:
    """Names of the model arrays that differ between ``a`` and ``b`` (bit for bit)."""
    fa, fb = _model_arrays(a), _model_arrays(b)
    return [k for k in fa if not np.array_equal(fa[k], fb[k])]


def test_model_rows_differ_across_envs_within_their_ranges_and_are_redrawn_at_reset():
    env = _env(6)
    dr, t5, m0 = DomainRandConfig(), env.table5, training_model()
    models = env.batch.models
    assert len({id(m) for m in models}) == 6 and all(m is not env.batch.model for m in models)
    feet = t5.foot_geoms
    fr = np.array([m.geom_friction[feet, 0] for m in models])  # (6, 2)
    assert np.all((fr >= 0.1) & (fr <= 3.0)) and np.array_equal(fr[:, 0], fr[:, 1]) and fr[:, 0].std() > 0.1
    zeta = np.array([m.geom_solref[feet, 1] for m in models])
    assert np.all((zeta >= dr.min_damping_ratio) & (zeta <= 1.0)) and zeta.std() > 0
    torso, hands = m0.body(TORSO_BODY).id, [m0.body(h).id for h in HAND_BODIES]
    others = [b for b in range(1, m0.nbody) if b not in [torso, *hands]]
    for m in models:
        ratio = m.body_mass[others] / m0.body_mass[others]
        assert np.all((ratio >= 0.8 - 1e-9) & (ratio <= 1.2 + 1e-9)) and ratio.std() > 0
        assert np.allclose(m.body_inertia[others] / m0.body_inertia[others], ratio[:, None])  # scaled with the mass
        assert 0.8 * m0.body_mass[torso] - 5 - 1e-9 <= m.body_mass[torso] <= 1.2 * m0.body_mass[torso] + 10 + 1e-9
        for h in hands:
            assert 0.8 * m0.body_mass[h] - 0.1 - 1e-9 <= m.body_mass[h] <= 1.2 * m0.body_mass[h] + 0.3 + 1e-9
        dcom = m.body_ipos[torso] - m0.body_ipos[torso]
        assert np.all(np.abs(dcom) <= 0.1 + 1e-12) and np.abs(dcom).max() > 0
        base = m0.body(BASE_BODY).id  # the pelvis: Table 5's "body displacement"
        assert np.all(np.abs(m.body_ipos[base] - m0.body_ipos[base]) <= 0.1 + 1e-12)
        kp = m.actuator_gainprm[:, 0] / m0.actuator_gainprm[:, 0]
        kd = m.actuator_biasprm[:, 2] / m0.actuator_biasprm[:, 2]
        assert np.all((kp >= 0.9 - 1e-9) & (kp <= 1.1 + 1e-9)) and np.all((kd >= 0.9 - 1e-9) & (kd <= 1.1 + 1e-9))
        assert np.array_equal(m.actuator_biasprm[:, 1], -m.actuator_gainprm[:, 0])  # the PD law stays a PD law
        assert m.body_subtreemass[1] == pytest.approx(m.body_mass[1:].sum())  # derived constants recomputed
    # a reset redraws that env's model only
    before = [m.body_mass.copy() for m in models]
    env._reset_envs(torch.tensor([2]))
    assert not np.array_equal(models[2].body_mass, before[2])
    assert all(np.array_equal(models[i].body_mass, before[i]) for i in (0, 1, 3, 4, 5))


def test_level_zero_and_randomization_off_step_the_evaluation_model():
    m0 = training_model()
    at_zero = _env(3, CurriculumConfig(initial_dr_level=0.0))
    assert at_zero.dr_level() == 0.0 and all(_same_model(m, m0) == [] for m in at_zero.batch.models)
    for off in (_env(2, enabled=False), _env(2, dr_rows="sensors")):
        assert off.table5 is None and off.pushes is None and all(m is off.batch.model for m in off.batch.models)
        assert _same_model(off.batch.model, m0) == []
        off.step(torch.zeros(2, 12))
        assert not off.batch.qfrc_applied.any()


def test_model_rows_scale_with_the_dr_level():
    env = _env(8, CurriculumConfig(initial_dr_level=0.2))  # level 0.2: friction in [0.82, 1.4], mass scale [0.96, 1.04]
    m0 = training_model()
    fr = np.array([m.geom_friction[env.table5.foot_geoms[0], 0] for m in env.batch.models])
    assert np.all((fr >= 0.82 - 1e-9) & (fr <= 1.4 + 1e-9)) and fr.std() > 0
    ratio = np.array([m.body_mass[2] / m0.body_mass[2] for m in env.batch.models])
    assert np.all((ratio >= 0.96 - 1e-9) & (ratio <= 1.04 + 1e-9))
    assert torch.all(env.table5.action_lag.lag <= 2)  # action lag (2, 8) at level 0.2: (0, 2) physics steps


def test_push_changes_the_base_velocity_by_at_most_push_velocity():
    assert DomainRandConfig().push_schedule(2) == (0.5, 4.0) and DomainRandConfig().push_schedule(1) == (0.25, 8.0)
    env = _env(64)
    b, pushes = env.batch, env.pushes
    v = b.idx.base_qvel
    assert np.all(pushes.push_time_left == 4.0)  # Stage II: every 4 s, timer restarted at reset
    qvel = b.qvel.copy()
    pushes.push_time_left[:32] = 0.01  # half the envs are due
    pushed = pushes.push(env.dr_now(), env.step_dt)
    assert pushed.tolist() == list(range(32)) and np.allclose(pushes.push_time_left[:32], 4.0)
    dv = b.qvel - qvel
    assert np.all(np.abs(dv[:32, v:v + 2]) <= 0.5) and np.abs(dv[:32, v:v + 2]).max() > 0.4
    assert not dv[:32, v + 2:].any() and not dv[32:].any()  # only x, y of the pushed envs
    assert np.array_equal(np.stack([d.qvel for d in b.datas]), b.qvel)  # written into MuJoCo's state
    # in a step: a due env is pushed after the physics and its timer restarts
    pushes.push_time_left[:] = 0.01
    env.step(torch.zeros(64, 12))
    assert np.allclose(pushes.push_time_left, 4.0)
    # at DR level 0.2 in Stage I: 0.2 x 0.25 m/s
    weak = _env(16, CurriculumConfig(initial_dr_level=0.2), stage=1)
    qvel = weak.batch.qvel.copy()
    weak.pushes.push_time_left[:] = 0.0
    weak.pushes.push(weak.dr_now(), weak.step_dt)
    assert np.abs(weak.batch.qvel[:, v:v + 2] - qvel[:, v:v + 2]).max() <= 0.05 + 1e-12


def test_pushes_rows_push_without_the_other_rows_and_ramp_in_over_the_runs_env_steps():
    task = LMOTaskConfig(num_envs=32, stage=2, curriculum=FULL, observations=ObservationConfig(history=3, noise=False))
    env = CpuLMOEnv(task, CpuEngineConfig(num_envs=32, dr_rows="pushes", push_ramp_env_steps=1000))
    assert env.table5 is None and env.pushes is not None  # no action lag, torque injection or model draws
    assert all(m is env.batch.model for m in env.batch.models)
    v = env.batch.idx.base_qvel
    assert env.push_scale() == 0.0  # a new run: no pushes yet
    env.env_steps = 250  # a quarter of the ramp: a quarter of the 0.5 m/s
    assert env.push_scale() == pytest.approx(0.25)
    qvel = env.batch.qvel.copy()
    env.pushes.push_time_left[:] = 0.0
    env.pushes.push(env.dr_now(), env.step_dt, env.push_scale())
    dv = np.abs(env.batch.qvel[:, v:v + 2] - qvel[:, v:v + 2])
    assert dv.max() <= 0.125 + 1e-12 and dv.max() > 0.1
    env.env_steps = 5000
    assert env.push_scale() == 1.0  # past the ramp: the DR level's strength
    assert CpuLMOEnv(task, CpuEngineConfig(num_envs=32, dr_rows="pushes")).push_scale() == 1.0  # no ramp
    with pytest.raises(ValueError, match="push_ramp_env_steps"):
        CpuEngineConfig(push_ramp_env_steps=-1)


def test_action_lag_delays_the_applied_target_by_the_drawn_physics_steps():
    env = _env(4)
    lags = [0, 3, 6, 8]
    env.table5.action_lag.set_lag(torch.tensor(lags))
    act = env.table5.leg_actuators
    sent, targets = [], []
    step = env.batch.step
    env.batch.step = lambda ctrl: (sent.append(ctrl.copy()), step(ctrl))
    rng = np.random.default_rng(0)
    for _ in range(4):
        env.step(torch.tensor(rng.normal(size=(4, 12)) * 0.3, dtype=torch.float32))
        legs = env.joint_targets[:, env._canon_in_entity[env._legs_canon]]
        targets.append(legs.numpy().astype(np.float64))
    assert not env.episode_length_buf.eq(0).any()  # no reset in between
    for k in range(4):
        assert sent[k].shape == (4, 4, env.batch.model.nu)
        for s in range(4):
            for i, lag in enumerate(lags):
                p = 4 * k + s - lag  # the physics step whose target this one applies (< 0: the first)
                want = targets[max(p, 0) // 4][i]
                assert np.allclose(sent[k][i, s, act], want, atol=1e-6), (k, s, lag)
    assert torch.allclose(env.view.action_manager.legs.applied_target, torch.from_numpy(sent[-1][:, -1, act]).float())


def test_action_lag_draws_within_table5():
    env = _env(32)
    lag = env.table5.action_lag.lag
    assert lag.min() >= 2 and lag.max() <= 8 and len(lag.unique()) > 3


def test_torque_injection_bounded_by_the_effort_fraction_and_redrawn_every_step():
    env = _env(8)
    effort = np.array([j.effort_limit for j in joints_in("legs")])
    dofs = env.table5.leg_dofs
    seen = []
    for _ in range(2):
        env.step(torch.zeros(8, 12))
        q = env.batch.qfrc_applied
        inj = q[:, dofs]
        assert np.all(np.abs(inj) <= 0.05 * effort + 1e-4) and np.abs(inj).max() > 0.02 * effort.min()
        assert not np.delete(q, dofs, axis=1).any()  # legs only
        assert np.array_equal(env.batch.datas[3].qfrc_applied, q[3])  # what MuJoCo stepped with
        seen.append(inj.copy())
    assert not np.array_equal(seen[0], seen[1])


def test_dr_rows_is_validated():
    with pytest.raises(ValueError, match="dr_rows"):
        CpuEngineConfig(dr_rows="all")
    assert CpuEngineConfig().dr_rows == "table5"


def test_a_run_started_before_dr_rows_resumes_with_the_sensor_rows(tmp_path, capsys):
    from wbvla.lmo.cpu.train import resumed_dr_rows, train_cpu

    small = replace(CpuTrainConfig().ppo, actor_hidden=(32,), critic_hidden=(32,), num_steps_per_env=4)
    cfg = CpuTrainConfig(run_dir=str(tmp_path / "run"), engine=CpuEngineConfig(num_envs=4, dr_rows="sensors"),
                         ppo=small, max_env_steps=4 * 4, save_interval=1)
    train_cpu(cfg)
    meta_path = tmp_path / "run" / "run.json"
    meta = json.loads(meta_path.read_text())
    del meta["config"]["engine"]["dr_rows"]  # as written before the field existed
    meta_path.write_text(json.dumps(meta))
    assert resumed_dr_rows(CpuTrainConfig(), meta["config"]).engine.dr_rows == "sensors"
    train_cpu(replace(cfg, engine=CpuEngineConfig(num_envs=4), max_env_steps=4 * 4 * 2))  # default: table5
    assert "resumes with those rows" in capsys.readouterr().out
    meta = json.loads(meta_path.read_text())
    assert meta["config"]["engine"]["dr_rows"] == "sensors" and len(meta["chunks"]) == 2
    assert resumed_dr_rows(cfg, {"engine": {"dr_rows": "table5"}}).engine.dr_rows == "table5"  # a stored value wins
    assert resumed_dr_rows(cfg, {"engine": {"dr_rows": "sensors"}}) is cfg


def test_the_model_card_says_which_rows_a_policy_trained_with():
    from wbvla.lmo.export import policy_metadata, trained_dr_rows

    task = {"domain_rand": {"enabled": True}}
    assert trained_dr_rows({"engine": "cpu", "task": task, "config": {"engine": {}}}) == "sensors"  # before the field
    assert trained_dr_rows({"engine": "cpu", "task": task, "config": {"engine": {"dr_rows": "table5"}}}) == "table5"
    assert trained_dr_rows({"task": task, "config": {}}) == "table5"  # mjlab
    assert trained_dr_rows({"engine": "cpu", "task": {"domain_rand": {"enabled": False}}, "config": {"engine": {}}}) == "none"
    lags = {rows: json.loads(policy_metadata(5, 0.25, "lmo", 2, dr_rows=rows)["interface"])["observation"][
        "sensor_lags_trained_physics_steps"] for rows in ("table5", "sensors", "none")}
    assert lags["table5"]["action"] == [2, 8] and lags["sensors"]["action"] == [0, 0] and lags["sensors"]["imu"] == [1, 10]
    assert lags["none"] == {"joint_state": [0, 0], "imu": [0, 0], "action": [0, 0]}
    assert "no pushes" in policy_metadata(5, 0.25, "lmo", 2, dr_rows="sensors")["domain_randomization"]


def test_height_sharpness_lever_sets_the_height_kernel():
    """Table 4's exp{-4 e^2} barely tells a 0.125 m squat from standing; the lever sharpens it."""
    from wbvla.lmo.lever_config import LeverConfig

    task = LMOTaskConfig(num_envs=2, stage=2, curriculum=FULL, observations=ObservationConfig(history=3, noise=False))
    table4 = CpuLMOEnv(task, CpuEngineConfig(num_envs=2, dr_rows="sensors"))
    sharp = CpuLMOEnv(task, CpuEngineConfig(num_envs=2, dr_rows="sensors", levers=LeverConfig(height_sharpness=100.0)))
    assert table4.reward_fns["height_tracking"][1]["sharpness"] == 4.0
    assert sharp.reward_fns["height_tracking"][1]["sharpness"] == 100.0
    assert sharp.reward_fns["forward_intent"][1] == table4.reward_fns["forward_intent"][1]  # the intent terms keep theirs
    for env in (table4, sharp):  # ask for the deepest squat while the robot stands at its nominal height
        env.command.height_target[:] = 0.53
    fn, params, _ = sharp.reward_fns["height_tracking"]
    far = float(fn(sharp.view, **params)[0])
    fn4, params4, _ = table4.reward_fns["height_tracking"]
    assert float(fn4(table4.view, **params4)[0]) > 0.9 and far < 0.25
