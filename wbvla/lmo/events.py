"""Domain randomization of Table 5 as mjlab event terms, and the lag ring buffer.

Which mechanism does what:

* model fields (friction, restitution, link masses, payloads, CoM / body displacement, Kp/Kd):
  :class:`ModelRandomization` draws one direction per env at ``startup`` and writes it at the
  current DR level (again whenever the learning curriculum changes the level); the draws and the
  field math are :mod:`wbvla.lmo.dr_model`'s, which the CPU engine uses too;
* per-episode draws (initial joint scale, action / DOF / IMU lags, actuation offsets) happen at
  ``reset`` within the ranges at the current level (lags live in :class:`LagBuffer`, used by
  :mod:`wbvla.lmo.actions` and :mod:`wbvla.lmo.observations`);
* pushes are mjlab's ``push_by_setting_velocity`` at an ``interval``
  (:meth:`~wbvla.lmo.dr_config.DomainRandConfig.push_schedule`), scaled by the level;
  torque injection is redrawn every policy step by the leg action term.

Every range is Table 5's, shrunk toward its neutral value by the DR level
(:func:`~wbvla.lmo.dr_config.scaled_range`); :func:`dr_level` reads it (1.0 without a curriculum).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import torch
from mjlab.envs.mdp import push_by_setting_velocity
from mjlab.managers.event_manager import RecomputeLevel, requires_model_fields

from wbvla.lmo.dr_config import NEUTRAL, scaled_range
from wbvla.lmo.dr_model import draw_model_u, model_fields
from wbvla.lmo.proprio import LagBuffer  # noqa: F401  (re-exported: the lag buffers of Table 5)

if TYPE_CHECKING:
    from mjlab.envs import ManagerBasedRlEnv


def dr_level(env: ManagerBasedRlEnv) -> float:
    """The current DR level of ``env``: the learning curriculum's (:mod:`wbvla.lmo.curriculum`), or
    1.0 (full Table 5 ranges) when the env has no such curriculum."""
    cm = getattr(env, "curriculum_manager", None)
    if cm is None or "learning" not in getattr(cm, "active_terms", ()):
        return 1.0
    return float(cm.get_term_cfg("learning").func.dr_level)


@requires_model_fields("geom_friction", "geom_solref", "body_mass", "body_inertia", "body_ipos",
                       "actuator_gainprm", "actuator_biasprm", recompute=RecomputeLevel.set_const)
class ModelRandomization:
    """Table 5 rows that live in the MuJoCo model, for every env, at a DR level.

    Foot friction (absolute, shared by both feet), foot restitution (as a solref damping ratio),
    link mass scale (mass and inertia together), torso / hand payloads, torso CoM and pelvis CoM
    ("body") displacement, and Kp / Kd scales of every actuator. At startup each env draws one
    uniform number per randomized quantity and keeps it; the value applied is that draw's point of
    the range scaled to the current level (:func:`~wbvla.lmo.dr_model.model_fields` of
    ``DomainRandConfig.at_level``), always from the compiled defaults, so a level change moves every env smoothly along its own direction and
    repeated applications never accumulate. mjlab event term (mode ``startup``); the learning
    curriculum calls :meth:`apply` when the level changes.
    """

    def __init__(self, cfg, env: ManagerBasedRlEnv):
        p = cfg.params
        self.env, self.dr = env, p["domain_rand"]
        asset = env.scene[p.get("asset_name", "robot")]
        dev, n = env.device, env.num_envs
        names = list(asset.body_names)
        self.feet = asset.indexing.geom_ids[[i for i, g in enumerate(asset.geom_names) if re.match(p["foot_geom_expr"], g)]]
        self.bodies = asset.indexing.body_ids  # (B,) global ids
        self.torso, self.base = names.index(p["torso_body"]), names.index(p["base_body"])
        self.hands = [names.index(h) for h in p["hand_bodies"]]
        self.ctrl = asset.indexing.ctrl_ids
        self.u = draw_model_u(n, len(self.bodies), len(self.hands), len(self.ctrl), device=dev)
        self.applied_level: float | None = None

    def apply(self, level: float) -> None:
        """Write every env's randomized model fields at ``level`` (then recompute constants)."""
        sim, ids = self.env.sim, torch.arange(self.env.num_envs, device=self.env.device)
        gain0, bias0 = sim.get_default_field("actuator_gainprm"), sim.get_default_field("actuator_biasprm")
        f = model_fields(self.dr.at_level(level), self.u, sim.get_default_field("body_mass")[self.bodies],
                         sim.get_default_field("body_inertia")[self.bodies], sim.get_default_field("body_ipos")[self.bodies],
                         gain0[self.ctrl, 0], bias0[self.ctrl, 1], bias0[self.ctrl, 2], self.torso, self.base, self.hands)
        feet = ids[:, None], self.feet[None, :]
        sim.model.geom_friction[(*feet, 0)] = f["friction"][:, None]
        sim.model.geom_solref[(*feet, 1)] = f["damping_ratio"][:, None]
        grid = ids[:, None], self.bodies[None, :]
        sim.model.body_mass[grid], sim.model.body_inertia[grid], sim.model.body_ipos[grid] = (
            f["body_mass"], f["body_inertia"], f["body_ipos"])
        actuators = ids[:, None], self.ctrl[None, :]
        sim.model.actuator_gainprm[(*actuators, 0)] = f["gain"]
        sim.model.actuator_biasprm[(*actuators, 1)] = f["bias_p"]
        sim.model.actuator_biasprm[(*actuators, 2)] = f["bias_d"]
        sim.recompute_constants(RecomputeLevel.set_const)
        self.applied_level = level

    def __call__(self, env: ManagerBasedRlEnv, env_ids: torch.Tensor | None, **_: object) -> None:
        del env_ids  # startup: every env
        self.apply(dr_level(env))


def push_by_level(env: ManagerBasedRlEnv, env_ids: torch.Tensor | None, velocity: float) -> None:
    """Table 5 pushes: add U[-v, v] (m/s) to the base's horizontal velocity, v = ``velocity``
    times the DR level (mjlab's ``push_by_setting_velocity``)."""
    v = velocity * dr_level(env)
    if v > 0:
        push_by_setting_velocity(env, env_ids, {"x": (-v, v), "y": (-v, v)})


def reset_joints_by_scale(
    env: ManagerBasedRlEnv,
    env_ids: torch.Tensor | None,
    scale: tuple[float, float],
    asset_name: str = "robot",
) -> None:
    """Table 5 initial joint position scale: q0 = default * U[scale] per joint (``scale`` shrunk
    toward 1 by the DR level), clipped to the soft limits, zero velocity."""
    asset = env.scene[asset_name]
    ids = torch.arange(env.num_envs, device=env.device) if env_ids is None else env_ids
    q0 = asset.data.default_joint_pos[ids]
    lo, hi = scaled_range(scale, NEUTRAL["init_joint_scale"], dr_level(env))
    factor = lo + (hi - lo) * torch.rand_like(q0)
    # The grippers (and their coupled mirror fingers) keep their default opening.
    factor[:, [i for i, name in enumerate(asset.joint_names) if "gripper" in name]] = 1.0
    q = q0 * factor
    limits = asset.data.soft_joint_pos_limits[ids]
    q = q.clamp(limits[..., 0], limits[..., 1])
    asset.write_joint_state_to_sim(q, torch.zeros_like(q), env_ids=ids)
