"""LMO configs: the reward table is complete and consistent, and bad values fail clearly."""

import inspect
from dataclasses import replace
from pathlib import Path

import pytest

from wbvla.lmo import rewards
from wbvla.lmo.config import (
    REWARD_TABLE,
    ArmPerturbationConfig,
    CommandConfig,
    CurriculumConfig,
    DomainRandConfig,
    HeightConfig,
    LMOTaskConfig,
    ObservationConfig,
    PPOConfig,
    VelocityCommandConfig,
    reward_table_names,
)
from wbvla.lmo.job_config import EvalConfig, ExportConfig, TrainConfig

TABLE4 = {  # name: (stage I, stage II) as printed in Table 4 (contact momentum: see rewards.py)
    "forward_intent": (1.5, 1.8), "lateral_intent": (1.0, 1.2), "yaw_intent": (2.0, 2.0),
    "height_tracking": (2.0, 2.0), "vertical_velocity": (-0.5, -0.75), "angular_velocity_xy": (-0.025, -0.05),
    "roll_pitch": (-1.5, -1.5), "hip_deviation": (-0.2, -0.2), "ankle_deviation": (-0.5, -0.5),
    "knee_deviation": (-0.75, -0.75), "dof_acceleration": (-2.5e-7, -2.5e-7), "dof_pos_limits": (-2.0, -2.0),
    "dof_velocity": (-1e-4, -1e-4), "dof_velocity_limits": (-0.002, -0.002), "torque_limits": (-0.1, -0.1),
    "feet_air_time": (0.05, 0.05), "foot_clearance": (-0.25, -0.25), "foot_spacing": (0.5, 0.5),
    "knee_spacing": (1.0, 1.0), "feet_ground_parallel": (-2.0, -2.0), "feet_parallel": (-3.0, -3.0),
    "no_fly": (0.75, 0.75), "foot_slip": (-0.25, -0.25), "foot_stumble": (-1.5, -1.5), "action_rate": (-0.01, -0.01),
    "action_smoothness": (-0.05, -0.05), "joint_power": (-2e-5, -2e-5), "torque_usage": (-2.5e-6, -2.5e-6),
    "feet_contact_force": (-0.00025, -0.00025), "contact_momentum": (-0.00025, -0.00025),
    "action_vanish": (-1.0, -1.0), "roll_action_zero": (-0.05, -0.1), "stand_still": (-0.05, -0.1),
    "joint_tracking": (-0.1, -0.1),
}


def test_reward_table_has_every_table4_term_with_its_weights():
    table = {r.name: (r.stage1, r.stage2) for r in REWARD_TABLE}
    assert set(TABLE4) <= set(table)
    for name, weights in TABLE4.items():
        assert table[name] == pytest.approx(weights), name
    assert set(table) - set(TABLE4) == {"heading_drift", "termination"}
    assert table["heading_drift"][0] == 0.0 and table["heading_drift"][1] < 0.0  # J_dir: Stage II only
    assert table["termination"][0] == table["termination"][1] < 0.0  # the fall penalty, both stages


def test_every_reward_is_a_pure_function_taking_env_first():
    for name in reward_table_names():
        fn = getattr(rewards, name)
        assert list(inspect.signature(fn).parameters)[0] == "env", name
        assert fn.__doc__, f"{name} has no docstring stating its formula"


def test_reward_weights_per_stage_ablation_and_task():
    w1 = LMOTaskConfig(stage=1).reward_weights()
    w2 = LMOTaskConfig(stage=2).reward_weights()
    assert w1["forward_intent"] == 1.5 and w2["forward_intent"] == 1.8 and w2["stand_still"] == -0.1
    assert LMOTaskConfig(stage=2, ablation="no_eq3").reward_weights()["heading_drift"] == 0.0
    wv = LMOTaskConfig(task="velocity").reward_weights()
    assert "forward_intent" not in wv and wv["track_lin_vel_x"] == 1.5 and "heading_drift" not in wv
    assert wv["roll_pitch"] == w1["roll_pitch"]


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: CommandConfig(alpha=0.0), "alpha"),
        (lambda: CommandConfig(smoothing=1.5), "smoothing"),
        (lambda: CommandConfig(reference_form="linear"), "reference_form"),
        (lambda: CommandConfig(cruise=(0.3, 0.3)), "cruise"),
        (lambda: CommandConfig(v_max=(0.5, -0.1, 0.5)), r"v_max\[y\]"),
        (lambda: CommandConfig(active_s=(3.0, 1.0)), "active_s"),
        (lambda: HeightConfig(nominal_height=0.9), "nominal_height"),
        (lambda: VelocityCommandConfig(lin_vel_x=(1.0, -1.0)), "lin_vel_x"),
        (lambda: DomainRandConfig(friction=(3.0, 0.1)), "friction"),
        (lambda: DomainRandConfig(action_lag=(2.0, 8.0)), "integers"),
        (lambda: DomainRandConfig(restitution=(0.0, 1.5)), "restitution"),
        (lambda: DomainRandConfig().at_level(1.5), "level"),
        (lambda: CurriculumConfig(initial_dr_level=-0.1), "initial_dr_level"),
        (lambda: CurriculumConfig(promote_fraction=0.3, demote_fraction=0.5), "demote_fraction"),
        (lambda: CurriculumConfig(update_every_steps=0), "update_every_steps"),
        (lambda: LMOTaskConfig(action_scaling="joint"), "action_scaling"),
        (lambda: TrainConfig(threads=0), "threads"),
        (lambda: ArmPerturbationConfig(noise_std=-0.1), "noise_std"),
        (lambda: ArmPerturbationConfig(initial_ratio=2.0), "initial_ratio"),
        (lambda: ObservationConfig(history=0), "history"),
        (lambda: PPOConfig(actor_hidden=()), "actor_hidden"),
        (lambda: LMOTaskConfig(stage=3), "stage"),
        (lambda: LMOTaskConfig(task="velocity", ablation="no_eq3"), "ablations apply to the LMO only"),
        (lambda: LMOTaskConfig(num_envs=0), "num_envs"),
        (lambda: TrainConfig(iterations=0), "iterations"),
        (lambda: TrainConfig(task=LMOTaskConfig(stage=1, ablation="no_stage1")), "no_stage1"),
        (lambda: TrainConfig(init_from=Path("/nonexistent/model_1.pt")), "does not exist"),
        (lambda: EvalConfig(squat_height=0.2), "squat_height"),
        (lambda: EvalConfig(policies={"LMO": Path("/nonexistent.onnx")}), "no ONNX file"),
        (lambda: ExportConfig(checkpoint=Path("/nonexistent.pt")), "does not exist"),
    ],
)
def test_bad_values_raise_clear_errors(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_smoke_resolution_and_default_run_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("WBVLA_CACHE", str(tmp_path))
    cfg = TrainConfig(smoke=True, iterations=50).resolved()
    assert cfg.iterations == 2 and cfg.task.num_envs == 16 and cfg.ppo.actor_hidden == (64, 64)
    assert cfg.run_dir == tmp_path / "lmo" / "runs" / "lmo_stage1_smoke"
    abl = TrainConfig(task=LMOTaskConfig(stage=2, ablation="no_eq3")).resolved()
    assert abl.run_dir.name == "lmo_stage2_no_eq3"
    ev = EvalConfig(smoke=True).resolved()
    assert ev.trials == 2 and ev.settle_s == 1.0
    assert replace(DomainRandConfig(), enabled=True).disabled().enabled is False


def test_leg_action_scales_ask_every_joint_for_the_same_torque_fraction():
    from wbvla.sim.joints import joints_in

    legs = joints_in("legs")
    scales = LMOTaskConfig().leg_action_scales()
    # 0.25 effort / kp: hip pitch 0.25 * 120 / 200 = 0.15 rad, knee 0.25 * 120 / 300 = 0.1,
    # ankle pitch 0.25 * 60 / 300 = 0.05, ankle roll 0.25 * 36 / 150 = 0.06
    assert scales[:6] == pytest.approx((0.15, 0.15, 0.2, 0.1, 0.05, 0.06)) and scales[6:] == scales[:6]
    assert all(s * j.kp / j.effort_limit == pytest.approx(0.25) for s, j in zip(scales, legs, strict=True))
    uniform = LMOTaskConfig(action_scaling="uniform").leg_action_scales()
    # the old uniform 0.25 rad asks the ankle pitch for 125 % and the ankle roll for 104 % of its limit
    assert uniform[4] * legs[4].kp / legs[4].effort_limit == pytest.approx(1.25)
    assert uniform[5] * legs[5].kp / legs[5].effort_limit == pytest.approx(1.0417, abs=1e-3)


def test_domain_rand_levels_scale_every_range_toward_its_neutral_value():
    full = DomainRandConfig()
    assert full.at_level(1.0) == full
    half = full.at_level(0.5)
    assert half.friction == pytest.approx((0.55, 2.0)) and half.link_mass_scale == pytest.approx((0.9, 1.1))
    assert half.torso_payload == pytest.approx((-2.5, 5.0)) and half.restitution == pytest.approx((0.0, 0.5))
    assert half.action_lag == (1, 4) and half.imu_lag == (0, 5) and half.push_velocity == 0.25
    zero = full.at_level(0.0)
    assert zero.friction == (1.0, 1.0) and zero.com_displacement == (0.0, 0.0) and zero.action_lag == (0, 0)


def test_curriculum_progress_rules():
    c = CurriculumConfig(step=0.1, promote_fraction=0.8, demote_fraction=0.4)
    assert c.dr_level(0.0) == c.initial_dr_level and c.dr_level(1.0) == 1.0
    assert c.penalty_scale(0.0) == c.initial_penalty_scale and c.penalty_scale(1.0) == 1.0
    # mean time to fall 18 s of a 20 s episode: promote; 10 s: hold; 4 s: demote (not below 0)
    assert c.next_progress(0.5, 18.0, 20.0, 0) == pytest.approx(0.6)
    assert c.next_progress(0.5, 10.0, 20.0, 0) == pytest.approx(0.5)
    assert c.next_progress(0.5, 4.0, 20.0, 0) == pytest.approx(0.4)
    assert c.next_progress(0.05, 4.0, 20.0, 0) == 0.0 and c.next_progress(0.95, 1e9, 20.0, 0) == 1.0
    # a (resumed) run has watched its envs for 2 s only: no falls yet is no reason to promote ...
    assert c.next_progress(0.5, 1e9, 20.0, 0, observed_s=2.0) == pytest.approx(0.5)
    assert c.next_progress(0.5, 4.0, 20.0, 0, observed_s=2.0) == pytest.approx(0.4)  # ... but falls still demote
    assert c.next_progress(0.5, 1e9, 20.0, 0, observed_s=16.0) == pytest.approx(0.6)  # 0.8 x 20 s watched
    # the floor ramps p to 1 over floor_ramp_steps whatever the performance
    ramp = replace(c, floor_ramp_steps=1000)
    assert ramp.next_progress(0.0, 1.0, 20.0, 500) == pytest.approx(0.5)
    assert ramp.next_progress(0.0, 1.0, 20.0, 5000) == 1.0
    off = CurriculumConfig(use_curriculum=False)
    assert off.dr_level(0.0) == 1.0 and off.penalty_scale(0.0) == 1.0


@pytest.mark.parametrize("config", [TrainConfig, EvalConfig])
def test_cli_flags_are_unambiguous(config):
    """``wbvla`` flattens nested configs (OmitArgPrefixes): no two fields may share a name."""
    import tyro

    assert isinstance(tyro.cli(config, args=[], config=(tyro.conf.OmitArgPrefixes,)), config)
