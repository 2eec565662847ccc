"""Domain randomization of Table 5 as mjlab event terms, and the lag ring buffer.

Which mechanism does what:

* model fields (friction, restitution, link masses, payloads, CoM / body displacement, Kp/Kd)
  are randomized once per environment at ``startup`` through mjlab's DR engine (``dr.*``) or, where
  mjlab has no function for the field, through the events below;
* per-episode draws (initial joint scale, action / DOF / IMU lags, actuation offsets) happen at
  ``reset`` (lags live in :class:`LagBuffer`, used by :mod:`wbvla.lmo.actions` and
  :mod:`wbvla.lmo.observations`);
* pushes are mjlab's ``push_by_setting_velocity`` at an ``interval``; torque injection is redrawn
  every policy step by the leg action term.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from mjlab.managers.event_manager import RecomputeLevel, requires_model_fields
from mjlab.managers.scene_entity_config import SceneEntityCfg

from wbvla.lmo.proprio import LagBuffer  # noqa: F401  (re-exported: the lag buffers of Table 5)

if TYPE_CHECKING:
    from mjlab.envs import ManagerBasedRlEnv


# --- model-field randomization that mjlab's dr module does not cover as one term --------------
def restitution_to_damping_ratio(e: torch.Tensor, min_ratio: float) -> torch.Tensor:
    """Damping ratio of a spring-damper contact whose coefficient of restitution is ``e``.

    For an underdamped oscillator e = exp(-zeta pi / sqrt(1 - zeta^2)), hence
    zeta = -ln e / sqrt(pi^2 + ln^2 e); e = 0 gives zeta = 1 (MuJoCo's default critical damping).
    """
    log_e = torch.log(e.clamp_min(1e-12))
    zeta = -log_e / torch.sqrt(math.pi**2 + log_e**2)
    zeta = torch.where(e <= 0, torch.ones_like(zeta), zeta)  # the limit e -> 0
    return zeta.clamp(min_ratio, 1.0)


@requires_model_fields("geom_solref")
def foot_restitution(
    env: ManagerBasedRlEnv,
    env_ids: torch.Tensor | None,
    restitution: tuple[float, float],
    min_damping_ratio: float,
    asset_cfg: SceneEntityCfg,
) -> None:
    """Table 5 restitution: per-env restitution of the foot contacts, written as solref[1]."""
    asset = env.scene[asset_cfg.name]
    ids = torch.arange(env.num_envs, device=env.device) if env_ids is None else env_ids.to(env.device)
    geoms = asset.indexing.geom_ids[asset_cfg.geom_ids]
    e = restitution[0] + (restitution[1] - restitution[0]) * torch.rand(len(ids), device=env.device)
    zeta = restitution_to_damping_ratio(e, min_damping_ratio)  # (n,)
    solref = env.sim.model.geom_solref
    solref[ids[:, None], geoms[None, :], 1] = zeta[:, None]


@requires_model_fields("body_mass", "body_inertia", "body_ipos", recompute=RecomputeLevel.set_const)
def inertial_randomization(
    env: ManagerBasedRlEnv,
    env_ids: torch.Tensor | None,
    mass_scale: tuple[float, float],
    torso_payload: tuple[float, float],
    hand_payload: tuple[float, float],
    com_displacement: tuple[float, float],
    body_displacement: tuple[float, float],
    torso_body: str,
    base_body: str,
    hand_bodies: tuple[str, ...],
    asset_name: str = "robot",
) -> None:
    """Table 5 link mass scale, torso / hand payloads and CoM / body displacement, in one event.

    Every link's mass and inertia are scaled together by s ~ U[mass_scale] (uniform density
    change); payloads add point masses at the torso and hand CoMs (inertia unchanged); the torso
    CoM moves by U[com_displacement] and the pelvis CoM by U[body_displacement] per axis. All from
    the compiled defaults, so repeated calls never accumulate. One term because mjlab's separate
    ``dr`` terms each start from the defaults and would overwrite one another.
    """
    asset = env.scene[asset_name]
    dev = env.device
    ids = torch.arange(env.num_envs, device=dev) if env_ids is None else env_ids.to(dev)
    n = len(ids)
    bodies = asset.indexing.body_ids  # (B,) global ids of the robot's bodies
    names = list(asset.body_names)

    def u(lo_hi, *shape):
        return lo_hi[0] + (lo_hi[1] - lo_hi[0]) * torch.rand(*shape, device=dev)

    m0 = env.sim.get_default_field("body_mass")[bodies]  # (B,)
    i0 = env.sim.get_default_field("body_inertia")[bodies]  # (B, 3)
    p0 = env.sim.get_default_field("body_ipos")[bodies]  # (B, 3)
    scale = u(mass_scale, n, len(bodies))  # (n, B)
    mass = m0[None] * scale
    inertia = i0[None] * scale[..., None]
    ipos = p0[None].repeat(n, 1, 1)
    torso, base = names.index(torso_body), names.index(base_body)
    mass[:, torso] = (mass[:, torso] + u(torso_payload, n)).clamp_min(0.1 * m0[torso])
    for hand in hand_bodies:
        h = names.index(hand)
        mass[:, h] = (mass[:, h] + u(hand_payload, n)).clamp_min(0.1 * m0[h])
    ipos[:, torso] += u(com_displacement, n, 3)
    ipos[:, base] += u(body_displacement, n, 3)
    grid = ids[:, None], bodies[None, :]
    env.sim.model.body_mass[grid] = mass
    env.sim.model.body_inertia[grid] = inertia
    env.sim.model.body_ipos[grid] = ipos


def reset_joints_by_scale(
    env: ManagerBasedRlEnv,
    env_ids: torch.Tensor | None,
    scale: tuple[float, float],
    asset_name: str = "robot",
) -> None:
    """Table 5 initial joint position scale: q0 = default * U[scale] per joint, clipped to the
    soft limits, zero velocity."""
    asset = env.scene[asset_name]
    ids = torch.arange(env.num_envs, device=env.device) if env_ids is None else env_ids
    q0 = asset.data.default_joint_pos[ids]
    factor = scale[0] + (scale[1] - scale[0]) * torch.rand_like(q0)
    # The grippers (and their coupled mirror fingers) keep their default opening.
    factor[:, [i for i, name in enumerate(asset.joint_names) if "gripper" in name]] = 1.0
    q = q0 * factor
    limits = asset.data.soft_joint_pos_limits[ids]
    q = q.clamp(limits[..., 0], limits[..., 1])
    asset.write_joint_state_to_sim(q, torch.zeros_like(q), env_ids=ids)
