"""The LMO action: 12 leg PD targets, with Table 5's actuation randomization on the way to the motors.

a_t (12,) in canonical leg order -> q_target = q_default + scale_i * a_t, clipped to the joint
range (scale_i = 0.25 effort_i / kp_i by default, ``LMOTaskConfig.action_scaling``). On every
physics step the target goes through an action-lag ring buffer (2-8 physics steps per episode),
gets a per-episode actuation offset, and the legs receive an injected torque (a fraction of each
effort limit, redrawn every policy step); each range is Table 5's at the current DR level. The waist, arms and grippers are
not policy outputs: :mod:`wbvla.lmo.perturbations` drives them.

Why legs only: the paper's command interface has no waist semantics and the waist is a 120 N m
motor holding its default under PD, so adding it would widen the action space without a reward
that says what it should do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from mjlab.envs.mdp.actions import JointPositionAction, JointPositionActionCfg

from wbvla.lmo.dr_config import scaled_lag, scaled_range
from wbvla.lmo.events import dr_level
from wbvla.lmo.proprio import LagBuffer
from wbvla.sim.joints import joint_names, joints_in

if TYPE_CHECKING:
    from mjlab.envs import ManagerBasedRlEnv

LEG_JOINTS = joint_names("legs")


def leg_action_scale(scales: tuple[float, ...]) -> dict[str, float]:
    """mjlab ``scale`` dict of the 12 leg joints from per-joint scales in canonical order."""
    if len(scales) != len(LEG_JOINTS):
        raise ValueError(f"need {len(LEG_JOINTS)} leg action scales, got {len(scales)}")
    return {f"^{name}$": float(v) for name, v in zip(LEG_JOINTS, scales, strict=True)}


def leg_action_clip() -> dict[str, tuple[float, float]]:
    """Per-joint (lower, upper) bounds of the processed leg targets: the joint ranges."""
    return {f"^{j.name}$": (j.lower, j.upper) for j in joints_in("legs")}


class LaggedLegAction(JointPositionAction):
    """Leg joint position targets with action lag, actuation offset and torque injection."""

    cfg: LaggedLegActionCfg

    def __init__(self, cfg: LaggedLegActionCfg, env: ManagerBasedRlEnv):
        super().__init__(cfg=cfg, env=env)
        if tuple(self.target_names) != LEG_JOINTS:
            raise RuntimeError(f"leg action joints {self.target_names} are not in canonical order {LEG_JOINTS}")
        n, dev = self.num_envs, self.device
        self.lag = LagBuffer(n, self.action_dim, max(cfg.action_lag[1], 0), dev)
        self.actuation_offset = torch.zeros(n, self.action_dim, device=dev)
        self.injection = torch.zeros(n, self.action_dim, device=dev)
        self._effort = torch.tensor([j.effort_limit for j in joints_in("legs")], device=dev)
        self._dof_adr = self._entity.indexing.joint_v_adr[self._target_ids]
        self.applied_target = self._offset.expand(n, -1).clone()  # what the PD saw last (N, 12)
        self._fresh = torch.ones(n, dtype=torch.bool, device=dev)

    def process_actions(self, actions: torch.Tensor) -> None:
        super().process_actions(actions)
        if self.cfg.randomize:
            lo, hi = scaled_range(self.cfg.torque_injection, 0.0, dr_level(self._env))
            self.injection = (lo + (hi - lo) * torch.rand_like(self.injection)) * self._effort

    def apply_actions(self) -> None:
        target = self._processed_actions
        if bool(self._fresh.any()):  # a reset env starts its lag history at the new target
            ids = self._fresh.nonzero().flatten()
            self.lag.fill(target[ids], ids)
            self._fresh[ids] = False
        self.lag.push(target)
        target = self.lag.get() + self.actuation_offset - self._entity.data.encoder_bias[:, self._target_ids]
        self.applied_target = target
        self._entity.set_joint_position_target(target, joint_ids=self._target_ids)
        if self.cfg.randomize:
            self._env.sim.data.qfrc_applied[:, self._dof_adr] = self.injection

    def reset(self, env_ids: torch.Tensor | slice | None = None) -> None:
        super().reset(env_ids)
        ids = torch.arange(self.num_envs, device=self.device) if not isinstance(env_ids, torch.Tensor) else env_ids
        self._processed_actions[ids] = self._offset.expand(self.num_envs, -1)[ids]
        self._fresh[ids] = True
        if self.cfg.randomize:
            level = dr_level(self._env)
            self.lag.sample_lag(*scaled_lag(self.cfg.action_lag, level), ids)
            lo, hi = scaled_range(self.cfg.actuation_offset, 0.0, level)
            self.actuation_offset[ids] = lo + (hi - lo) * torch.rand(len(ids), self.action_dim, device=self.device)
        else:
            self.lag.set_lag(torch.zeros(len(ids), dtype=torch.long), ids)
            self.actuation_offset[ids] = 0.0
            self.injection[ids] = 0.0


@dataclass(kw_only=True)
class LaggedLegActionCfg(JointPositionActionCfg):
    """mjlab config of :class:`LaggedLegAction`."""

    randomize: bool = True
    """Apply the Table 5 actuation randomization (off in evaluation-like runs)."""
    action_lag: tuple[int, int] = (2, 8)
    """Action lag range (physics steps)."""
    actuation_offset: tuple[float, float] = (-0.05, 0.05)
    """Per-episode PD target offset range (rad)."""
    torque_injection: tuple[float, float] = (-0.05, 0.05)
    """Injected torque range as a fraction of the effort limit."""

    def build(self, env: ManagerBasedRlEnv) -> LaggedLegAction:
        return LaggedLegAction(self, env)
