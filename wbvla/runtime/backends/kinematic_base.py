"""IDEAL BASE (a labelled kinematic stand-in, not a locomotion controller) for the sim twin.

While the LMO cannot walk, the twin can move its floating base kinematically so the deployment
loop can be shown end to end: the base follows the Eq. 2-shaped velocity reference of u_t exactly
(flags smoothed once per 50 Hz tick, gated into v_ref with the LMO's cruise speeds) and reaches h*
through statically balanced leg poses (:func:`wbvla.sim.stance.squat_pose`, tabulated at start so
a tick never solves anything). Arms, grippers and every prop keep their physics. Nothing measured
with it says anything about the LMO; every result that uses it is labelled ``ideal_base``.
"""

from __future__ import annotations

import math

import mujoco
import numpy as np
import torch

from wbvla.lmo.config import CommandConfig
from wbvla.lmo.shaping import reference_velocity, smooth_flags
from wbvla.sim.joints import group_slice
from wbvla.sim.robot import X2Index
from wbvla.sim.stance import squat_pose, stance_height_range

LEGS = group_slice("legs")


class KinematicBase:
    """Moves the X2's floating base and legs kinematically (see the module docstring)."""

    def __init__(self, idx: X2Index, physics_dt: float, height_range: tuple[float, float], cfg: CommandConfig | None = None,
                 grid_step: float = 0.005):
        self.idx, self.dt = idx, physics_dt
        self.cfg = cfg or CommandConfig()
        lo, hi = stance_height_range()
        lo, hi = max(lo, height_range[0]), min(hi, height_range[1])
        self.h_grid = np.linspace(lo, hi, max(2, int(math.ceil((hi - lo) / grid_step)) + 1))  # (G,)
        self.leg_grid = np.stack([squat_pose(float(h))[LEGS] for h in self.h_grid])  # (G, 12)
        self.s_bar = torch.zeros(3)
        self.v_ref = np.zeros(3)
        self.xy, self.yaw, self.h = np.zeros(2), 0.0, float(hi)
        self.h_target = self.h
        self._v_world, self._vz = np.zeros(2), 0.0

    def reset(self, data: mujoco.MjData) -> None:
        pos, quat = self.idx.base_pose(data)
        self.xy = pos[:2].copy()
        self.yaw = 2.0 * math.atan2(quat[3], quat[0])
        self.h = self.h_target = float(np.clip(pos[2], self.h_grid[0], self.h_grid[-1]))
        self.s_bar.zero_()
        self.v_ref[:] = 0.0

    def legs_for(self, h: float) -> np.ndarray:
        """Balanced leg pose (12,) for pelvis height ``h`` (interpolated in the table)."""
        return np.array([np.interp(h, self.h_grid, self.leg_grid[:, j]) for j in range(12)])

    def plan(self, u: np.ndarray) -> None:
        """Once per control tick: update the shaped reference from u_t = [s_x, s_y, s_yaw, h*]."""
        s = torch.as_tensor(np.asarray(u[:3], np.float32))
        # Eq. 2: s_bar <- (1 - lambda) s_bar + lambda s ; v_ref = v_goal tanh(alpha s_bar) (gated form)
        self.s_bar = smooth_flags(self.s_bar, s, self.cfg.smoothing)
        v = reference_velocity(s, self.s_bar, torch.tensor(self.cfg.cruise), self.cfg.alpha, self.cfg.reference_form)
        self.v_ref = v.numpy().astype(np.float64)
        self.h_target = float(np.clip(u[3], self.h_grid[0], self.h_grid[-1]))

    def impose(self, data: mujoco.MjData, fraction: float) -> None:
        """Before each physics substep: advance the base by one physics dt and write base + legs.
        ``fraction`` of the remaining height change is applied (h* is already rate-limited upstream)."""
        vx, vy, wz = self.v_ref
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        self._v_world = np.array([c * vx - s * vy, s * vx + c * vy])
        self.xy = self.xy + self._v_world * self.dt
        self.yaw += wz * self.dt
        h_prev = self.h
        self.h = h_prev + fraction * (self.h_target - h_prev)
        self._vz = (self.h - h_prev) / self.dt
        self.pin(data)

    def pin(self, data: mujoco.MjData) -> None:
        """Write the current kinematic base pose, velocity and leg pose into ``data`` (no advance)."""
        b, bv = self.idx.base_qpos, self.idx.base_qvel
        data.qpos[b : b + 3] = (self.xy[0], self.xy[1], self.h)
        data.qpos[b + 3 : b + 7] = (math.cos(self.yaw / 2), 0.0, 0.0, math.sin(self.yaw / 2))
        data.qvel[bv : bv + 6] = (self._v_world[0], self._v_world[1], self._vz, 0.0, 0.0, self.v_ref[2])
        legs = self.legs_for(self.h)
        data.qpos[self.idx.qpos[LEGS]] = legs
        data.qvel[self.idx.qvel[LEGS]] = 0.0
        data.ctrl[self.idx.actuator[LEGS]] = legs
