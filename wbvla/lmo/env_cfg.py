"""The LMO task and its velocity-tracking baseline as mjlab ``ManagerBasedRlEnvCfg``s.

:func:`make_env_cfg` turns one :class:`~wbvla.lmo.config.LMOTaskConfig` into the env config:
scene (flat floor, X2, foot contact sensor, lagged proprioception), observations, the 12-D leg
action, the command and upper-body perturbation terms, Table 5 events, the Table 4 reward table
(+ J_dir, Eq. 4, the fall penalty), terminations and the learning curriculum (Table 5 ranges and
Table 4 penalties ramped in with performance, :mod:`wbvla.lmo.curriculum`). :func:`register_tasks` adds them to mjlab's task registry.
"""

from __future__ import annotations

import math
from dataclasses import asdict, replace

from mjlab.envs import ManagerBasedRlEnvCfg
from mjlab.envs import mdp as mjmdp
from mjlab.managers.curriculum_manager import CurriculumTermCfg
from mjlab.managers.event_manager import EventTermCfg
from mjlab.managers.observation_manager import ObservationGroupCfg, ObservationTermCfg
from mjlab.managers.reward_manager import RewardTermCfg
from mjlab.managers.scene_entity_config import SceneEntityCfg
from mjlab.managers.termination_manager import TerminationTermCfg
from mjlab.rl import RslRlModelCfg, RslRlOnPolicyRunnerCfg, RslRlPpoAlgorithmCfg
from mjlab.scene import SceneCfg
from mjlab.sensor import ContactMatch, ContactSensorCfg
from mjlab.sim import MujocoCfg, SimulationCfg
from mjlab.terrains import TerrainEntityCfg
from mjlab.utils.noise import UniformNoiseCfg

from wbvla.lmo import events, observations, perturbations, rewards
from wbvla.lmo.actions import LEG_JOINTS, LaggedLegActionCfg, leg_action_clip, leg_action_scale
from wbvla.lmo.commands import DiscreteCommandCfg, VelocityCommandCfg
from wbvla.lmo.config import (
    SOLVER_ITERATIONS,
    SOLVER_LS_ITERATIONS,
    TERMINATION_HEIGHT,
    TERMINATION_TILT,
    LMOTaskConfig,
    PPOConfig,
)
from wbvla.lmo.curriculum import TERM_NAME, LearningCurriculum
from wbvla.lmo.robot_cfg import (
    BASE_BODY,
    FOOT_GEOM_EXPR,
    FOOT_SITES,
    HAND_BODIES,
    KNEE_BODIES,
    TORSO_BODY,
    x2_entity_cfg,
)
from wbvla.sim.robot import DECIMATION, PHYSICS_DT

SOLVER = MujocoCfg(timestep=PHYSICS_DT, integrator="implicitfast", iterations=SOLVER_ITERATIONS,
                   ls_iterations=SOLVER_LS_ITERATIONS)
"""Physics options of training; the plain-MuJoCo evaluation applies the same numbers."""
TASK_IDS = {
    ("lmo", 1): "Wbvla-LMO-StageI-X2",
    ("lmo", 2): "Wbvla-LMO-StageII-X2",
    ("velocity", 1): "Wbvla-Velocity-X2",
}

_LEGS = SceneEntityCfg("robot", joint_names=tuple(f"^{n}$" for n in LEG_JOINTS))
_HIPS = SceneEntityCfg("robot", joint_names=(r"^.*_hip_(roll|yaw)_joint$",))
_ANKLE_ROLL = SceneEntityCfg("robot", joint_names=(r"^.*_ankle_roll_joint$",))
_KNEES = SceneEntityCfg("robot", joint_names=(r"^.*_knee_joint$",))
_FEET = SceneEntityCfg("robot", site_names=FOOT_SITES)
_KNEE_BODIES = SceneEntityCfg("robot", body_names=KNEE_BODIES)


def _term(func, params=None):
    return func, params or {}


def reward_terms(cfg: LMOTaskConfig) -> dict[str, tuple]:
    """Map each reward name of the table to (function, params) for this task."""
    p, cmd, contact = cfg.rewards, "command", "feet_contact"
    k = p.tracking_sharpness
    terms = {
        "forward_intent": _term(rewards.forward_intent, {"command_name": cmd, "sharpness": k}),
        "lateral_intent": _term(rewards.lateral_intent, {"command_name": cmd, "sharpness": k}),
        "yaw_intent": _term(rewards.yaw_intent, {"command_name": cmd, "sharpness": k}),
        "height_tracking": _term(rewards.height_tracking, {"command_name": cmd, "sharpness": k}),
        "vertical_velocity": _term(rewards.vertical_velocity),
        "angular_velocity_xy": _term(rewards.angular_velocity_xy),
        "roll_pitch": _term(rewards.roll_pitch),
        "hip_deviation": _term(rewards.hip_deviation, {"asset_cfg": _HIPS}),
        "ankle_deviation": _term(rewards.ankle_deviation, {"asset_cfg": _ANKLE_ROLL}),
        "knee_deviation": _term(rewards.knee_deviation, {"command_name": cmd, "asset_cfg": _KNEES}),
        "dof_acceleration": _term(rewards.dof_acceleration, {"asset_cfg": _LEGS}),
        "dof_pos_limits": _term(rewards.dof_pos_limits, {"asset_cfg": _LEGS}),
        "dof_velocity": _term(rewards.dof_velocity, {"asset_cfg": _LEGS}),
        "dof_velocity_limits": _term(rewards.dof_velocity_limits, {"asset_cfg": _LEGS, "limit": p.leg_velocity_limit}),
        "torque_limits": _term(rewards.torque_limits, {"asset_cfg": _LEGS, "soft": p.torque_soft_limit}),
        "feet_air_time": _term(rewards.feet_air_time, {"command_name": cmd, "sensor_name": contact, "target": p.air_time_target}),
        "foot_clearance": _term(rewards.foot_clearance, {"asset_cfg": _FEET, "target": p.foot_clearance_target}),
        "foot_spacing": _term(rewards.foot_spacing, {"asset_cfg": _FEET, "d_min": p.feet_min_distance}),
        "knee_spacing": _term(rewards.knee_spacing, {"asset_cfg": _KNEE_BODIES, "d_min": p.knees_min_distance}),
        "feet_ground_parallel": _term(rewards.feet_ground_parallel, {"asset_cfg": _FEET}),
        "feet_parallel": _term(rewards.feet_parallel, {"asset_cfg": _FEET}),
        "no_fly": _term(rewards.no_fly, {"command_name": cmd, "sensor_name": contact, "threshold": p.contact_threshold}),
        "foot_slip": _term(rewards.foot_slip, {"asset_cfg": _FEET, "sensor_name": contact, "threshold": p.contact_threshold}),
        "foot_stumble": _term(rewards.foot_stumble, {"sensor_name": contact}),
        "action_rate": _term(rewards.action_rate),
        "action_smoothness": _term(rewards.action_smoothness),
        "joint_power": _term(rewards.joint_power, {"asset_cfg": _LEGS}),
        "torque_usage": _term(rewards.torque_usage, {"asset_cfg": _LEGS}),
        "feet_contact_force": _term(rewards.feet_contact_force, {"sensor_name": contact, "threshold": p.contact_force_threshold}),
        "contact_momentum": _term(rewards.contact_momentum, {"asset_cfg": _FEET, "sensor_name": contact}),
        "action_vanish": _term(rewards.action_vanish, {"bound": p.action_bound}),
        "roll_action_zero": _term(rewards.roll_action_zero),
        "stand_still": _term(rewards.stand_still, {"command_name": cmd}),
        "joint_tracking": _term(rewards.joint_tracking, {"asset_cfg": _LEGS}),
        "heading_drift": _term(rewards.heading_drift, {"command_name": cmd}),
        "termination": _term(rewards.termination),
    }
    if cfg.task == "velocity":
        for i, name in enumerate(("track_lin_vel_x", "track_lin_vel_y", "track_ang_vel_z")):
            terms[name] = _term(rewards.velocity_tracking, {"command_name": cmd, "axis": i, "sharpness": k})
    return terms


def _observations(cfg: LMOTaskConfig) -> dict[str, ObservationGroupCfg]:
    noise = cfg.observations.noise

    def prop(key):
        return ObservationTermCfg(
            func=observations.proprio, params={"sensor_name": "proprio", "key": key},
            noise=UniformNoiseCfg(n_min=-observations.NOISE[key], n_max=observations.NOISE[key]) if noise else None,
        )

    actor = {
        "command": ObservationTermCfg(func=observations.command, params={"command_name": "command"}),
        "base_ang_vel": prop("base_ang_vel"),
        "projected_gravity": prop("projected_gravity"),
        "joint_pos": prop("joint_pos"),
        "joint_vel": prop("joint_vel"),
        "last_action": ObservationTermCfg(func=observations.last_action),
    }
    assert tuple(actor) == tuple(n for n, _ in observations.OBS_TERMS)
    critic = {name: replace(term, noise=None) for name, term in actor.items()}
    critic |= {
        # Privileged (training only): true base velocity and height, the shaped reference, the
        # arm targets and foot contacts. The actor never sees these.
        "base_lin_vel": ObservationTermCfg(func=observations.base_lin_vel),
        "base_height": ObservationTermCfg(func=observations.base_height),
        "reference_velocity": ObservationTermCfg(func=observations.reference_velocity, params={"command_name": "command"}),
        "arm_targets": ObservationTermCfg(func=mjmdp.generated_commands, params={"command_name": "arms"}),
        "foot_contact": ObservationTermCfg(func=observations.foot_contact, params={"sensor_name": "feet_contact"}),
    }
    return {
        "actor": ObservationGroupCfg(terms=actor, enable_corruption=noise, history_length=cfg.observations.history),
        "critic": ObservationGroupCfg(terms=critic, enable_corruption=False),
    }


def _events(cfg: LMOTaskConfig) -> dict[str, EventTermCfg]:
    d = cfg.domain_rand
    ev = {
        "reset_scene": EventTermCfg(func=mjmdp.reset_scene_to_default, mode="reset"),
        "reset_base": EventTermCfg(
            func=mjmdp.reset_root_state_uniform, mode="reset",
            params={"pose_range": {"x": (-0.3, 0.3), "y": (-0.3, 0.3), "z": (0.005, 0.02), "yaw": (-math.pi, math.pi)},
                    "velocity_range": {}},
        ),
    }
    if not d.enabled:
        return ev
    push_velocity, interval = d.push_schedule(cfg.stage)
    ev |= {
        "reset_joints": EventTermCfg(func=events.reset_joints_by_scale, mode="reset", params={"scale": d.init_joint_scale}),
        "push": EventTermCfg(func=events.push_by_level, mode="interval", interval_range_s=(interval, interval),
                             params={"velocity": push_velocity}),
        "model_dr": EventTermCfg(
            func=events.ModelRandomization, mode="startup",
            params={"domain_rand": d, "foot_geom_expr": FOOT_GEOM_EXPR, "torso_body": TORSO_BODY,
                    "base_body": BASE_BODY, "hand_bodies": HAND_BODIES},
        ),
    }
    return ev


def make_env_cfg(cfg: LMOTaskConfig) -> ManagerBasedRlEnvCfg:
    """The mjlab env config of one task / stage / ablation."""
    d = cfg.domain_rand
    contact = ContactSensorCfg(
        name="feet_contact",
        primary=ContactMatch(mode="geom", pattern=FOOT_GEOM_EXPR, entity="robot"),
        secondary=ContactMatch(mode="body", pattern="terrain"),
        fields=("found", "force"), reduce="netforce", num_slots=1, track_air_time=True,
    )
    proprio = observations.ProprioSensorCfg(name="proprio", randomize=d.enabled, dof_lag=d.dof_lag, imu_lag=d.imu_lag)
    command = (
        DiscreteCommandCfg(command=cfg.command, height=cfg.height, stage=cfg.stage)
        if cfg.task == "lmo"
        else VelocityCommandCfg(command=cfg.velocity_command, height=cfg.height)
    )
    arm_stage = 2 if (cfg.task == "lmo" and cfg.stage == 2) else 1
    weights = cfg.reward_weights()
    funcs = reward_terms(cfg)
    reward_cfg = {
        name: RewardTermCfg(func=funcs[name][0], weight=w, params=funcs[name][1]) for name, w in weights.items() if w != 0.0
    }
    curriculum = {}
    if cfg.curriculum.use_curriculum:
        curriculum[TERM_NAME] = CurriculumTermCfg(func=LearningCurriculum, params={"curriculum": cfg.curriculum})
    if arm_stage == 1:
        curriculum["arm_range"] = CurriculumTermCfg(
            func=perturbations.arm_ratio_schedule,
            params={"command_name": "arms", "initial": cfg.arms.initial_ratio, "steps": cfg.arms.ratio_steps},
        )
    return ManagerBasedRlEnvCfg(
        decimation=DECIMATION,
        scene=SceneCfg(terrain=TerrainEntityCfg(terrain_type="plane"), entities={"robot": x2_entity_cfg()},
                       sensors=(contact, proprio), num_envs=cfg.num_envs, env_spacing=2.5),
        observations=_observations(cfg),
        actions={"legs": LaggedLegActionCfg(
            entity_name="robot", actuator_names=tuple(f"^{n}$" for n in LEG_JOINTS),
            scale=leg_action_scale(cfg.leg_action_scales()),
            use_default_offset=True, clip=leg_action_clip(), randomize=d.enabled, action_lag=d.action_lag,
            actuation_offset=d.actuation_offset, torque_injection=d.torque_injection)},
        commands={"command": command, "arms": perturbations.UpperBodyCommandCfg(arms=cfg.arms, stage=arm_stage)},
        events=_events(cfg),
        rewards=reward_cfg,
        terminations={
            "time_out": TerminationTermCfg(func=mjmdp.time_out, time_out=True),
            "fell_over": TerminationTermCfg(func=mjmdp.bad_orientation, params={"limit_angle": TERMINATION_TILT}),
            "base_low": TerminationTermCfg(func=mjmdp.root_height_below_minimum, params={"minimum_height": TERMINATION_HEIGHT}),
        },
        curriculum=curriculum,
        sim=SimulationCfg(njmax=200, nconmax=48, mujoco=replace(SOLVER)),
        episode_length_s=cfg.episode_length_s,
        seed=cfg.seed,
    )


def make_runner_cfg(ppo: PPOConfig, experiment: str, seed: int = 0) -> RslRlOnPolicyRunnerCfg:
    """rsl-rl runner config (mjlab's dataclass) from our :class:`PPOConfig`."""
    return RslRlOnPolicyRunnerCfg(
        seed=seed,
        num_steps_per_env=ppo.num_steps_per_env,
        actor=RslRlModelCfg(hidden_dims=ppo.actor_hidden, activation="elu", obs_normalization=True,
                            distribution_cfg={"class_name": "GaussianDistribution", "init_std": ppo.init_std,
                                              "std_type": "scalar"}),
        critic=RslRlModelCfg(hidden_dims=ppo.critic_hidden, activation="elu", obs_normalization=True),
        algorithm=RslRlPpoAlgorithmCfg(
            value_loss_coef=1.0, use_clipped_value_loss=True, clip_param=0.2, entropy_coef=ppo.entropy_coef,
            num_learning_epochs=ppo.num_learning_epochs, num_mini_batches=ppo.num_mini_batches,
            learning_rate=ppo.learning_rate, schedule=ppo.schedule, gamma=ppo.gamma, lam=ppo.lam,
            desired_kl=ppo.desired_kl, max_grad_norm=1.0),
        experiment_name=experiment,
        logger="tensorboard",
        upload_model=False,
    )


def register_tasks() -> list[str]:
    """Register the LMO Stage I / II and the velocity baseline with mjlab (idempotent)."""
    from mjlab.tasks.registry import _REGISTRY, register_mjlab_task

    out = []
    for (task, stage), task_id in TASK_IDS.items():
        if task_id not in _REGISTRY:
            cfg = LMOTaskConfig(task=task, stage=stage)
            env_cfg = make_env_cfg(cfg)
            play = make_env_cfg(replace(cfg, num_envs=1, domain_rand=cfg.domain_rand.disabled()))
            register_mjlab_task(task_id=task_id, env_cfg=env_cfg, play_env_cfg=play,
                                rl_cfg=make_runner_cfg(PPOConfig(), task_id))
        out.append(task_id)
    return out


def describe(cfg: LMOTaskConfig) -> dict:
    """JSON-friendly summary of a task config (for model cards and run folders)."""
    return {"task_config": asdict(cfg), "reward_weights": cfg.reward_weights()}
