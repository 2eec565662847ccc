"""Every reward term of Table 4, plus J_dir (Eq. 3) and the stand-still penalty (Eq. 4).

Each term is a pure function ``(env, **params) -> (num_envs,)`` returning the *unweighted* value;
weights live in :data:`wbvla.lmo.config.REWARD_TABLE` and mjlab multiplies by weight and by the
0.02 s step. Penalties return non-negative magnitudes (their weights are negative), as in Table 4.
Where Table 4 only sketches a term, the docstring states our exact reading.

Shared conventions: ``cmd`` is the command term (LMO :class:`~wbvla.lmo.commands.DiscreteCommand`
or the baseline's :class:`~wbvla.lmo.commands.VelocityCommand`); "moving" means the command is
not a stand (some flag on / |v_cmd| over a threshold); leg joints are in canonical order.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import torch
from mjlab.managers.scene_entity_config import SceneEntityCfg
from mjlab.utils.lab_api.math import quat_apply_inverse

from wbvla.sim.joints import joints_in
from wbvla.sim.robot import base_height_for
from wbvla.sim.stance import KNEE_RANGE, balanced_pose

if TYPE_CHECKING:
    from mjlab.envs import ManagerBasedRlEnv

LEG_KP = torch.tensor([j.kp for j in joints_in("legs")])
LEG_KD = torch.tensor([j.kd for j in joints_in("legs")])
LEG_EFFORT = torch.tensor([j.effort_limit for j in joints_in("legs")])
ANKLE_ROLL_ACTIONS = (5, 11)
"""Indices of the ankle-roll joints inside the 12-D leg action."""
FOOT_HALF_LENGTH, FOOT_HALF_WIDTH = 0.107, 0.065
"""Sole box half sizes of the X2 feet (x2.xml ``foot`` class: the official contact spheres' footprint)."""


def _robot(env):
    return env.scene["robot"]


def _cmd(env, command_name: str):
    return env.command_manager.get_term(command_name)


def _moving(env, command_name: str) -> torch.Tensor:
    return (~_cmd(env, command_name).is_standing).float()


def _legs(asset_cfg: SceneEntityCfg):
    return asset_cfg.joint_ids


def _dev(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return t.to(like.device)


# --- intent execution ---------------------------------------------------------------------------
def velocity_tracking(env: ManagerBasedRlEnv, command_name: str, axis: int, sharpness: float = 4.0) -> torch.Tensor:
    """exp{-k (v_axis - v_ref_axis)^2} with v = base-frame (v_x, v_y, w_z).

    For the LMO v_ref is the Eq. 2 shaped reference, which equals Table 4's s_k v_goal_k once the
    gate has settled; for the baseline it is the commanded velocity."""
    data = _robot(env).data
    v = torch.cat([data.root_link_lin_vel_b[:, :2], data.root_link_ang_vel_b[:, 2:3]], dim=-1)  # (N, 3)
    err = v[:, axis] - _cmd(env, command_name).v_ref[:, axis]
    return torch.exp(-sharpness * err.square())


def forward_intent(env, command_name: str, sharpness: float = 4.0):
    """exp{-4 (v_x - s_x v_goal_x)^2}."""
    return velocity_tracking(env, command_name, 0, sharpness)


def lateral_intent(env, command_name: str, sharpness: float = 4.0):
    """exp{-4 (v_y - s_y v_goal_y)^2}."""
    return velocity_tracking(env, command_name, 1, sharpness)


def yaw_intent(env, command_name: str, sharpness: float = 4.0):
    """exp{-4 (w_z - s_yaw v_goal_yaw)^2}."""
    return velocity_tracking(env, command_name, 2, sharpness)


def height_tracking(env, command_name: str, sharpness: float = 4.0):
    """exp{-4 (h_t - h*)^2}, h_t the pelvis height above the (flat) floor."""
    h = _robot(env).data.root_link_pos_w[:, 2]
    return torch.exp(-sharpness * (h - _cmd(env, command_name).height_target).square())


def vertical_velocity(env):
    """v_z^2 of the base (Table 4 sketches v_r,z; squared so it is a penalty either way)."""
    return _robot(env).data.root_link_lin_vel_b[:, 2].square()


def angular_velocity_xy(env):
    """||w_xy||^2 of the base (roll and pitch rates)."""
    return _robot(env).data.root_link_ang_vel_b[:, :2].square().sum(-1)


# --- posture & joints ------------------------------------------------------------------------------
def roll_pitch(env):
    """g_x^2 + g_y^2 of the projected gravity (0 when upright)."""
    return _robot(env).data.projected_gravity_b[:, :2].square().sum(-1)


def joint_deviation(env, asset_cfg: SceneEntityCfg):
    """||q - q_default||^2 over ``asset_cfg``'s joints."""
    d = _robot(env).data
    ids = asset_cfg.joint_ids
    return (d.joint_pos[:, ids] - d.default_joint_pos[:, ids]).square().sum(-1)


def hip_deviation(env, asset_cfg: SceneEntityCfg):
    """||th_hip - th_default||^2 over hip roll and yaw (hip pitch must swing to walk)."""
    return joint_deviation(env, asset_cfg)


def ankle_deviation(env, asset_cfg: SceneEntityCfg):
    """||th_ankle - th_default||^2 over ankle roll (ankle pitch must follow the stance height)."""
    return joint_deviation(env, asset_cfg)


@lru_cache(maxsize=1)
def _knee_height_table() -> tuple[np.ndarray, np.ndarray]:
    """Pelvis heights (increasing) and knee angles of the statically balanced stances of
    :mod:`wbvla.sim.stance` (CoM over mid-foot, flat feet), the poses a squat should pass through."""
    ks = np.linspace(*KNEE_RANGE, 25)
    hs = np.array([base_height_for(balanced_pose(k)) for k in ks])
    return hs[::-1].copy(), ks[::-1].copy()


def knee_for_height(h: torch.Tensor) -> torch.Tensor:
    """Knee angle of the balanced stance whose pelvis is at height ``h`` (clamped to the table)."""
    hs, ks = _knee_height_table()
    hs_t, ks_t = torch.tensor(hs, dtype=h.dtype, device=h.device), torch.tensor(ks, dtype=h.dtype, device=h.device)
    h = h.clamp(hs_t[0], hs_t[-1])
    i = torch.searchsorted(hs_t, h).clamp(1, len(hs_t) - 1)
    w = (h - hs_t[i - 1]) / (hs_t[i] - hs_t[i - 1])
    return ks_t[i - 1] + w * (ks_t[i] - ks_t[i - 1])


def knee_deviation(env, command_name: str, asset_cfg: SceneEntityCfg):
    """Squat knee penalty: sum over knees of (q_knee - k(h*))^2, where k(h*) is the knee angle of
    the balanced stance at the commanded height (Table 4: "penalty on knee angle / height")."""
    q = _robot(env).data.joint_pos[:, asset_cfg.joint_ids]  # (N, 2)
    ref = knee_for_height(_cmd(env, command_name).height_target)[:, None]
    return (q - ref).square().sum(-1)


def dof_acceleration(env, asset_cfg: SceneEntityCfg):
    """sum qddot^2 over the legs; MuJoCo's qacc is (qdot_i - qdot_i-1)/dt of the last physics step."""
    return _robot(env).data.joint_acc[:, asset_cfg.joint_ids].square().sum(-1)


def dof_pos_limits(env, asset_cfg: SceneEntityCfg):
    """sum of the distances by which leg joints leave their soft limits (95 % of the range)."""
    d = _robot(env).data
    q = d.joint_pos[:, asset_cfg.joint_ids]
    lim = d.soft_joint_pos_limits[:, asset_cfg.joint_ids]
    return ((lim[..., 0] - q).clamp_min(0) + (q - lim[..., 1]).clamp_min(0)).sum(-1)


def dof_velocity(env, asset_cfg: SceneEntityCfg):
    """sum qdot^2 over the legs."""
    return _robot(env).data.joint_vel[:, asset_cfg.joint_ids].square().sum(-1)


def dof_velocity_limits(env, asset_cfg: SceneEntityCfg, limit: float):
    """sum RELU(|qdot| - qdot_max) over the legs."""
    return (_robot(env).data.joint_vel[:, asset_cfg.joint_ids].abs() - limit).clamp_min(0).sum(-1)


def _pd_torque(env, asset_cfg: SceneEntityCfg) -> torch.Tensor:
    """Unclipped PD torque the leg targets ask for: kp (target - q) - kd qdot, (N, 12)."""
    d = _robot(env).data
    target = env.action_manager.get_term("legs").applied_target
    q, qd = d.joint_pos[:, asset_cfg.joint_ids], d.joint_vel[:, asset_cfg.joint_ids]
    return _dev(LEG_KP, q) * (target - q) - _dev(LEG_KD, q) * qd


def torque_limits(env, asset_cfg: SceneEntityCfg, soft: float = 0.9):
    """sum RELU(|tau| - soft tau_max), tau the *unclipped* PD torque (the actuators clip at tau_max,
    so the applied torque never exceeds it; this penalizes asking for more)."""
    tau = _pd_torque(env, asset_cfg)
    return (tau.abs() - soft * _dev(LEG_EFFORT, tau)).clamp_min(0).sum(-1)


# --- locomotion structure ----------------------------------------------------------------------
def _contact(env, sensor_name: str, threshold: float) -> torch.Tensor:
    force = env.scene[sensor_name].data.force  # (N, 2, 3), world frame (net force)
    return force[..., 2].abs() > threshold  # (N, 2)


def _foot_sites(env, asset_cfg: SceneEntityCfg):
    """World position (N, F, 3), rotation matrix (N, F, 3, 3) and linear velocity (N, F, 3) of the
    foot sites, read straight from MuJoCo's site arrays (mjlab's ``site_pose_w`` converts every
    site of the robot to a quaternion, which is slow on CPU)."""
    robot = _robot(env)
    data = env.sim.data
    sid = robot.indexing.site_ids[asset_cfg.site_ids]
    pos = data.site_xpos[:, sid]
    rot = data.site_xmat[:, sid].reshape(pos.shape[0], -1, 3, 3)
    body = env.sim.model.site_bodyid[sid]
    cvel = data.cvel[:, body]  # (N, F, 6): angular, linear at the subtree CoM
    com = data.subtree_com[:, robot.indexing.root_body_id][:, None, :]
    vel = cvel[..., 3:6] - torch.cross(cvel[..., 0:3], com - pos, dim=-1)
    return pos, rot, vel


def feet_air_time(env, command_name: str, sensor_name: str, target: float = 0.5):
    """sum over feet of 1(first contact) (T_air - target), only while moving."""
    sensor = env.scene[sensor_name]
    first = sensor.compute_first_contact(dt=env.step_dt).float()  # (N, 2)
    air = sensor.data.last_air_time
    return ((air - target) * first).sum(-1) * _moving(env, command_name)


def foot_clearance(env, asset_cfg: SceneEntityCfg, target: float):
    """sum over feet of (p_target_z - p_z)^2 |v_xy|: swing feet should pass at the target height."""
    pos, _, vel = _foot_sites(env, asset_cfg)
    return ((target - pos[..., 2]).square() * torch.linalg.norm(vel[..., :2], dim=-1)).sum(-1)


def _in_base(env, points: torch.Tensor) -> torch.Tensor:
    d = _robot(env).data
    rel = points - d.root_link_pos_w[:, None, :]
    quat = d.root_link_quat_w[:, None, :].expand(-1, points.shape[1], -1)
    return quat_apply_inverse(quat, rel)


def _lateral_spacing(env, points: torch.Tensor, d_min: float) -> torch.Tensor:
    y = _in_base(env, points)[..., 1]  # (N, 2)
    return ((y[:, 0] - y[:, 1]).abs() - d_min).clamp(max=0.0)


def foot_spacing(env, asset_cfg: SceneEntityCfg, d_min: float):
    """min(|y_L - y_R| - d_min, 0) in the base frame: <= 0, zero unless the feet come closer than
    d_min (the weight is positive, so crossing feet is penalized)."""
    return _lateral_spacing(env, _foot_sites(env, asset_cfg)[0], d_min)


def knee_spacing(env, asset_cfg: SceneEntityCfg, d_min: float):
    """min(|y_left knee - y_right knee| - d_min, 0) in the base frame."""
    return _lateral_spacing(env, _robot(env).data.body_link_pos_w[:, asset_cfg.body_ids], d_min)


def _sole_points(env, asset_cfg: SceneEntityCfg) -> torch.Tensor:
    """World positions of the 4 sole corners of each foot, (N, 2, 4, 3)."""
    pos, rot, _ = _foot_sites(env, asset_cfg)
    c = torch.tensor([[sx * FOOT_HALF_LENGTH, sy * FOOT_HALF_WIDTH, 0.0] for sx in (1, -1) for sy in (1, -1)],
                     device=pos.device)  # (4, 3) in the foot frame
    return pos[:, :, None, :] + torch.einsum("nfij,cj->nfci", rot, c)


def feet_ground_parallel(env, asset_cfg: SceneEntityCfg):
    """sum over feet of Var(H_i), H_i the heights of the 4 sole corners (0 when the sole is flat)."""
    return _sole_points(env, asset_cfg)[..., 2].var(dim=-1, unbiased=False).sum(-1)


def feet_parallel(env, asset_cfg: SceneEntityCfg):
    """Var(D), D = (lateral gap at the toes, lateral gap at the heels) in the base frame: 0 when
    the feet are parallel."""
    pts = _sole_points(env, asset_cfg)  # corners: (toe,+y) (toe,-y) (heel,+y) (heel,-y)
    toe, heel = pts[:, :, :2].mean(2), pts[:, :, 2:].mean(2)  # (N, 2, 3)
    y_toe, y_heel = _in_base(env, toe)[..., 1], _in_base(env, heel)[..., 1]
    gaps = torch.stack([y_toe[:, 0] - y_toe[:, 1], y_heel[:, 0] - y_heel[:, 1]], dim=-1)
    return gaps.var(dim=-1, unbiased=False)


def no_fly(env, command_name: str, sensor_name: str, threshold: float):
    """1{exactly one foot on the ground} while moving (a walking gait without flight phases;
    positive weight). Standing envs get 0."""
    single = (_contact(env, sensor_name, threshold).sum(-1) == 1).float()
    return single * _moving(env, command_name)


def foot_slip(env, asset_cfg: SceneEntityCfg, sensor_name: str, threshold: float):
    """sum over feet in contact of |v_xy|: a planted foot should not slide."""
    vel = _foot_sites(env, asset_cfg)[2]
    return (torch.linalg.norm(vel[..., :2], dim=-1) * _contact(env, sensor_name, threshold)).sum(-1)


def foot_stumble(env, sensor_name: str):
    """1{any foot has |F_xy| > 3 |F_z|} (a foot hitting something sideways)."""
    f = env.scene[sensor_name].data.force
    fxy = torch.linalg.norm(f[..., :2], dim=-1)
    return ((fxy > 3 * f[..., 2].abs()) & (fxy > 1.0)).any(-1).float()


# --- energy & smoothness -----------------------------------------------------------------------
def action_rate(env):
    """||a_t - a_t-1||^2."""
    am = env.action_manager
    return (am.action - am.prev_action).square().sum(-1)


def action_smoothness(env):
    """||a_t - 2 a_t-1 + a_t-2||^2."""
    am = env.action_manager
    return (am.action - 2 * am.prev_action + am.prev_prev_action).square().sum(-1)


def joint_power(env, asset_cfg: SceneEntityCfg):
    """||w||_1 + 0.2 ||w||_2^2 with w = tau * qdot the mechanical power of each leg joint (W)."""
    d = _robot(env).data
    w = d.qfrc_actuator[:, asset_cfg.joint_ids] * d.joint_vel[:, asset_cfg.joint_ids]
    return w.abs().sum(-1) + 0.2 * w.square().sum(-1)


def torque_usage(env, asset_cfg: SceneEntityCfg):
    """sum tau^2 / kp over the legs (applied actuator torques)."""
    tau = _robot(env).data.qfrc_actuator[:, asset_cfg.joint_ids]
    return (tau.square() / _dev(LEG_KP, tau)).sum(-1)


def feet_contact_force(env, sensor_name: str, threshold: float):
    """sum over feet of RELU(F_z - F_th)."""
    return (env.scene[sensor_name].data.force[..., 2].abs() - threshold).clamp_min(0).sum(-1)


def contact_momentum(env, asset_cfg: SceneEntityCfg, sensor_name: str):
    """sum over feet of |v_z F_z|: impact intensity. Table 4 prints weight +0.00025, which would
    reward stomping; we use -0.00025 (a penalty, like the contact-force term next to it)."""
    vz = _foot_sites(env, asset_cfg)[2][..., 2]
    return (vz * env.scene[sensor_name].data.force[..., 2]).abs().sum(-1)


def action_vanish(env, bound: float):
    """sum over action entries of max(0, a - a_max) + max(0, -a_max - a): keeps the raw actions
    inside the range the action scale was chosen for."""
    a = env.action_manager.action
    return ((a - bound).clamp_min(0) + (-bound - a).clamp_min(0)).sum(-1)


def roll_action_zero(env):
    """sum of squared ankle-roll actions: the roll actuators should stay near their default."""
    return env.action_manager.action[:, list(ANKLE_ROLL_ACTIONS)].square().sum(-1)


# --- stability -----------------------------------------------------------------------------------
def stand_still(env, command_name: str):
    """Eq. 4: J_stand = ||a_leg||^2 for stationary commands (s_x = s_y = s_yaw = 0), else 0."""
    a = env.action_manager.action  # (N, 12) leg actions
    # Eq. 4:  J_stand = || a_leg_i ||_2^2 * 1[s_x = s_y = s_yaw = 0]
    return a.square().sum(-1) * _cmd(env, command_name).is_standing.float()


def joint_tracking(env, asset_cfg: SceneEntityCfg):
    """||q_leg - q_target||^2 with the PD target actually applied (after lag and offset)."""
    q = _robot(env).data.joint_pos[:, asset_cfg.joint_ids]
    return (q - env.action_manager.get_term("legs").applied_target).square().sum(-1)


def heading_drift(env, command_name: str):
    """J_dir (Eq. 3) of every flag episode that ended this step, else 0.

    Divided by the step dt so that, after mjlab's per-step dt scaling, one episode contributes
    exactly weight * J_dir (an impulse, not a rate)."""
    term = _cmd(env, command_name)
    return term.j_dir / env.step_dt


def termination(env):
    """1 / dt on the step an episode ends by a fall (not by its time limit), else 0: with its
    weight (the fall penalty, negative) one fall pays exactly weight reward units."""
    return env.termination_manager.terminated.float() / env.step_dt
