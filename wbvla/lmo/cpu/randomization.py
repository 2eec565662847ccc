"""Table 5 rows of the CPU engine beyond the sensor lags: pushes (:class:`Pushes`), action lag,
torque injection and the per-env model draws (:class:`Table5Rows`), on an
:class:`~wbvla.lmo.cpu.physics.X2Batch`.

Each row does what mjlab's term does (:mod:`wbvla.lmo.events`, :mod:`wbvla.lmo.actions`), from the
same definitions: the ranges of a :class:`~wbvla.lmo.dr_config.DomainRandConfig` already at the
curriculum's DR level (``at_level``), the push schedule of
:meth:`~wbvla.lmo.dr_config.DomainRandConfig.push_schedule` and the model math of
:mod:`wbvla.lmo.dr_model`.

* **model rows** (friction, restitution, link masses, torso / hand payloads, torso and pelvis CoM,
  Kp / Kd): every env steps with its own ``MjModel``, redrawn when that env resets, at the level of
  that moment (mjlab draws one direction per env at startup and rewrites every env's model when
  the level moves; here every episode gets a fresh draw and keeps it to its end).
* **action lag**: the leg PD targets pass a :class:`~wbvla.lmo.proprio.LagBuffer` pushed every
  physics step, with a lag in physics steps drawn per episode; a reset env starts its history at
  its first new target (mjlab's ``LaggedLegAction``).
* **torque injection**: an additive torque on the leg dofs (``qfrc_applied``), a fraction of each
  joint's effort limit, redrawn every policy step.
* **pushes**: every env has a timer; when it runs out (every ``push_interval_s``, restarted at the
  env's reset), U[-v, v] m/s is added to the pelvis's world x and y velocity (mjlab's interval
  ``push_by_setting_velocity``; v is the level's push velocity, weaker and rarer in Stage I), times
  the run's push ramp (:attr:`~wbvla.lmo.cpu.config.CpuEngineConfig.push_ramp_env_steps`).
  ``dr_rows="pushes"`` adds this row alone to the sensor lags.
"""

from __future__ import annotations

import re

import mujoco
import numpy as np
import torch

from wbvla.lmo.cpu.physics import X2Batch
from wbvla.lmo.dr_config import DomainRandConfig
from wbvla.lmo.dr_model import draw_model_u, model_fields
from wbvla.lmo.proprio import LagBuffer
from wbvla.lmo.robot_cfg import BASE_BODY, FOOT_GEOM_EXPR, HAND_BODIES, TORSO_BODY
from wbvla.sim.joints import group_slice, joint_names, joints_in
from wbvla.sim.robot import DECIMATION


class Pushes:
    """Table 5's pushes of ``batch``'s envs: a timer per env; a due env gets U[-v, v] m/s added to
    its pelvis's world x and y velocity.

    ``dr``: the full-range Table 5 config; ``stage``: the curriculum stage (sets the push schedule);
    ``rng``: the env's numpy generator (the push draws).
    """

    def __init__(self, batch: X2Batch, dr: DomainRandConfig, stage: int, rng: np.random.Generator):
        self.batch, self.rng, self.stage = batch, rng, stage
        self.push_interval_s = dr.push_schedule(stage)[1]
        self.push_time_left = np.full(batch.num_envs, self.push_interval_s)
        """Seconds to each env's next push (restarted at its reset)."""

    def reset(self, env_ids: torch.Tensor) -> None:
        """Restart the push timers of ``env_ids`` (after their reset)."""
        self.push_time_left[env_ids.numpy()] = self.push_interval_s

    def push(self, dr: DomainRandConfig, dt: float, scale: float = 1.0) -> np.ndarray:
        """Advance the push timers by ``dt``; push the envs whose timer ran out (returned) with
        ``scale`` times the push velocity of ``dr`` (at its level) and this stage."""
        self.push_time_left -= dt
        due = np.flatnonzero(self.push_time_left < 1e-6)
        if len(due):
            self.push_time_left[due] = self.push_interval_s
            v = dr.push_schedule(self.stage)[0] * scale
            if v > 0:
                self.batch.push(due, self.rng.uniform(-v, v, (len(due), 2)))
                return due
        return due[:0]


class Table5Rows:
    """Action lag, torque injection and per-env model draws of ``batch``'s envs.

    ``dr``: the full-range Table 5 config (sizes the lag buffer). The draws use torch's generator,
    as the lag buffers do. The model rows make ``batch`` own its models.
    """

    def __init__(self, batch: X2Batch, dr: DomainRandConfig):
        self.batch = batch
        n, m = batch.num_envs, batch.model
        legs = joint_names("legs")
        self.action_lag = LagBuffer(n, len(legs), max(dr.action_lag[1], 0))
        self._fresh = torch.ones(n, dtype=torch.bool)
        self.leg_actuators = batch.idx.actuator[group_slice("legs")]  # (12,) actuator ids, canonical leg order
        self.leg_dofs = np.array([m.jnt_dofadr[m.joint(j).id] for j in legs])  # (12,)
        self.effort = torch.tensor([j.effort_limit for j in joints_in("legs")], dtype=torch.float32)
        self.injection = torch.zeros(n, len(legs))
        """The torque injected on the leg dofs over the last policy step (N, 12) N m."""
        # Model rows: the robot's bodies are every body but the world (mjlab's entity bodies).
        bodies = [mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_BODY, b) for b in range(1, m.nbody)]
        self.torso, self.base = bodies.index(TORSO_BODY), bodies.index(BASE_BODY)
        self.hands = [bodies.index(h) for h in HAND_BODIES]
        self.foot_geoms = np.array([g for g in range(m.ngeom)
                                    if re.match(FOOT_GEOM_EXPR, mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_GEOM, g) or "")])
        self.nominal = {k: torch.from_numpy(v.copy()) for k, v in {
            "body_mass": m.body_mass[1:], "body_inertia": m.body_inertia[1:], "body_ipos": m.body_ipos[1:],
            "gain": m.actuator_gainprm[:, 0], "bias_p": m.actuator_biasprm[:, 1], "bias_d": m.actuator_biasprm[:, 2]}.items()}
        batch.own_models()

    # --- reset -------------------------------------------------------------------------------------
    def draw_models(self, env_ids: np.ndarray, dr: DomainRandConfig) -> None:
        """New model rows for ``env_ids`` from ``dr`` (at its level); call before resetting them."""
        u = draw_model_u(len(env_ids), len(self.nominal["body_mass"]), len(self.hands), self.batch.model.nu)
        f = model_fields(dr, {k: v.double() for k, v in u.items()}, **self.nominal, torso=self.torso, base=self.base,
                         hands=self.hands)
        self.batch.write_models(env_ids, self.foot_geoms, {k: v.numpy() for k, v in f.items()})

    def reset(self, env_ids: torch.Tensor, dr: DomainRandConfig) -> None:
        """Per-episode draws of ``env_ids`` after their reset: the action lag."""
        self.action_lag.sample_lag(*dr.action_lag, env_ids)
        self._fresh[env_ids] = True

    # --- every policy step -------------------------------------------------------------------------
    def lagged_ctrl(self, ctrl: np.ndarray, legs: torch.Tensor) -> tuple[np.ndarray, torch.Tensor]:
        """PD targets per physics step (N, DECIMATION, nu) from the held ``ctrl`` (N, nu) and this
        step's leg targets ``legs`` (N, 12) through the action lag; also the last applied leg target."""
        fresh = self._fresh.nonzero().flatten()
        if len(fresh):  # a reset env starts its lag history at its first new target
            self.action_lag.fill(legs[fresh], fresh)
            self._fresh[fresh] = False
        out = np.repeat(ctrl[:, None], DECIMATION, axis=1)
        for s in range(DECIMATION):
            self.action_lag.push(legs)
            applied = self.action_lag.get()
            out[:, s, self.leg_actuators] = applied.numpy()
        return out, applied

    def inject_torque(self, dr: DomainRandConfig) -> None:
        """Redraw the leg torque injection (fractions of the effort limits in ``dr.torque_injection``)."""
        lo, hi = dr.torque_injection
        self.injection = (lo + (hi - lo) * torch.rand_like(self.injection)) * self.effort
        self.batch.qfrc_applied[:, self.leg_dofs] = self.injection.numpy()
