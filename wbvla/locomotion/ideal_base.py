"""The *ideal base*: a kinematic locomotion stand-in, labelled as such wherever it is used.

While the physics LMO cannot walk, data collection and experiments need a base that does what the
command asks. :class:`IdealBase` realizes u_t = [s_x, s_y, s_yaw, h*] kinematically:

* **planar motion**: the flags go through Eq. 2 (:class:`~wbvla.locomotion.reference.VelocityReference`
  with the :class:`~wbvla.lmo.config.CommandConfig` it is given: form, alpha, lambda, cruise
  speeds) once per 50 Hz control step, and the pelvis follows the resulting base-frame velocity
  (v_x, v_y, w_z) exactly: every 200 Hz physics step the yaw advances by w_z dt and the position by
  R(yaw at mid-step) (v_x, v_y) dt. A ``velocity`` command (v_x, v_y, w_z, h) is followed as is.
* **height**: the pelvis moves toward h* (clipped to ``HeightConfig.height_range``) at no more
  than ``height_rate`` m/s; the legs take the statically balanced squat pose of that height
  (:func:`wbvla.sim.stance.squat_pose`: feet flat on the floor, pelvis level).
* **physics of everything else**: the base is given the commanded velocity before every physics
  step and its 6 free-joint DoFs a large armature, so within the step it moves with that velocity
  and acts on what it touches (a grasped cart handle, a box) like a very heavy body, while the arms,
  grippers and props are simulated normally (the arms feel gravity in a non-falling frame). After
  the step the pose is set to the exactly integrated one. The legs do not collide (their geoms are
  switched off): they are placed, not simulated.

The robot cannot fall on the ideal base; :meth:`IdealBase.fallen` still applies the common test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import mujoco
import numpy as np

from wbvla.control.policy_contract import CommandKind
from wbvla.lmo.config import CommandConfig, HeightConfig
from wbvla.locomotion.base import LocomotionBackend, check_command, is_fallen
from wbvla.locomotion.reference import VelocityReference
from wbvla.sim.joints import default_pose, group_slice
from wbvla.sim.robot import DECIMATION, PHYSICS_DT, X2Index, yaw_quat
from wbvla.sim.stance import squat_pose, stance_height_range
from wbvla.validation import positive


@dataclass
class IdealBaseConfig:
    """How the kinematic base realizes commands."""

    command: CommandConfig = field(default_factory=CommandConfig)
    """Eq. 2 parameters (form, alpha, lambda) and the cruise speeds a flag of +-1 reaches."""
    height: HeightConfig = field(default_factory=HeightConfig)
    """h* is clipped to ``height.height_range``, the LMO's range."""
    height_rate: float = 0.15
    """Largest vertical pelvis speed while moving toward h* (m/s)."""
    base_armature: float = 1.0e5
    """Armature added to the 6 base DoFs (kg, kg m^2): makes the base effectively immovable by
    contact and arm reaction forces within a physics step."""

    def __post_init__(self) -> None:
        positive("height_rate", self.height_rate)
        positive("base_armature", self.base_armature)


HEIGHT_TABLE_POINTS = 49
"""Heights at which the balanced leg pose is solved; poses in between are interpolated."""


@lru_cache(maxsize=1)
def _leg_table() -> tuple[np.ndarray, np.ndarray]:
    """Pelvis heights (N,) and balanced leg poses (N, 12) spanning the balanced stance range."""
    lo, hi = stance_height_range()
    heights = np.linspace(lo, hi, HEIGHT_TABLE_POINTS)
    legs = np.stack([squat_pose(float(h))[group_slice("legs")] for h in heights])
    return heights, legs


def leg_pose_for_height(height: float) -> np.ndarray:
    """Leg joints (12,) that hold the pelvis ``height`` m above the floor, feet flat, balanced
    (linear interpolation in the table; clamped to the balanced range)."""
    heights, legs = _leg_table()
    h = min(max(height, heights[0]), heights[-1])
    i = min(int(np.searchsorted(heights, h)), len(heights) - 1)
    if i == 0:
        return legs[0].copy()
    a = (h - heights[i - 1]) / (heights[i] - heights[i - 1])
    return (1.0 - a) * legs[i - 1] + a * legs[i]


class IdealBase(LocomotionBackend):
    """Kinematic base (see the module docstring). ``command_kind`` is ``flags`` (default) or
    ``velocity``; every trial and dataset records ``name = "ideal_base"``."""

    name = "ideal_base"
    kinematic = True

    def __init__(self, config: IdealBaseConfig | None = None, command_kind: CommandKind = "flags"):
        if command_kind not in ("flags", "velocity"):
            raise ValueError(f"command_kind must be 'flags' or 'velocity', got {command_kind!r}")
        self.config = config or IdealBaseConfig()
        self.command_kind = command_kind
        self.reference = VelocityReference(self.config.command)
        self.model: mujoco.MjModel | None = None
        self.idx: X2Index | None = None
        self.velocity = np.zeros(3)
        """The base-frame velocity (v_x, v_y, w_z) realized during the last step."""

    # --- setup -----------------------------------------------------------------------------
    def reset(self, model: mujoco.MjModel, data: mujoco.MjData, idx: X2Index) -> None:
        self.model, self.idx = model, idx
        b = idx.base_qvel
        model.dof_armature[b : b + 6] = self.config.base_armature
        self._disable_leg_collisions(model, idx)
        self._legs = group_slice("legs")
        self._leg_qpos, self._leg_qvel = idx.qpos[self._legs], idx.qvel[self._legs]
        self._leg_act = idx.actuator[self._legs]
        self._upper = idx.actuator[self._legs.stop :]
        self._q_default = default_pose()
        self.reference.reset()
        self.velocity[:] = 0.0
        pos, quat = idx.base_pose(data)
        self.xy = pos[:2].copy()
        self.yaw = float(2.0 * np.arctan2(quat[3], quat[0]))  # the robot starts upright
        lo, hi = self.config.height.height_range
        self.height = float(np.clip(pos[2], lo, hi))
        self._place(data, self.height, np.zeros(3), 0.0)
        mujoco.mj_forward(model, data)

    @staticmethod
    def _disable_leg_collisions(model: mujoco.MjModel, idx: X2Index) -> None:
        """Switch off every geom of the leg links (hips to feet): the legs are placed, not simulated."""
        leg_bodies = {int(model.jnt_bodyid[j]) for j in range(model.njnt)
                      if model.jnt_qposadr[j] in set(idx.qpos[group_slice("legs")].tolist())}
        for g in range(model.ngeom):
            if int(model.geom_bodyid[g]) in leg_bodies:
                model.geom_contype[g] = 0
                model.geom_conaffinity[g] = 0

    # --- one control step --------------------------------------------------------------------
    def step(self, data: mujoco.MjData, command: np.ndarray, arm_targets: np.ndarray, grippers: np.ndarray) -> None:
        if self.model is None:
            raise RuntimeError("call reset(model, data, idx) before step()")
        command = check_command(command)
        if self.command_kind == "flags":
            v = self.reference.step(command[:3])  # Eq. 2 once per 50 Hz step
        else:
            v = command[:3].copy()
        self.velocity = v
        lo, hi = self.config.height.height_range
        h_star = float(np.clip(command[3], lo, hi))
        target = self._q_default.copy()
        target[group_slice("arms")] = arm_targets
        target[group_slice("grippers")] = grippers
        data.ctrl[self._upper] = target[self._legs.stop :]
        max_dh = self.config.height_rate * PHYSICS_DT
        for _ in range(DECIMATION):
            dh = float(np.clip(h_star - self.height, -max_dh, max_dh))
            self._place(data, self.height, v, dh / PHYSICS_DT)
            mujoco.mj_step(self.model, data)
            # Exact integration of the commanded motion (midpoint heading), then the new pose.
            mid = self.yaw + 0.5 * v[2] * PHYSICS_DT
            c, s = np.cos(mid), np.sin(mid)
            self.xy = self.xy + PHYSICS_DT * np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])
            self.yaw += v[2] * PHYSICS_DT
            self.height += dh
            self._place(data, self.height, v, dh / PHYSICS_DT, velocities=False)
        mujoco.mj_kinematics(self.model, data)

    def _place(self, data: mujoco.MjData, height: float, v: np.ndarray, vz: float, velocities: bool = True) -> None:
        """Write the base pose (and, with ``velocities``, the base and leg velocities) and legs."""
        b, bv = self.idx.base_qpos, self.idx.base_qvel
        data.qpos[b : b + 3] = (self.xy[0], self.xy[1], height)
        data.qpos[b + 3 : b + 7] = yaw_quat(self.yaw)
        legs = leg_pose_for_height(height)
        if velocities:
            mid = self.yaw + 0.5 * v[2] * PHYSICS_DT
            c, s = np.cos(mid), np.sin(mid)
            data.qvel[bv : bv + 3] = (c * v[0] - s * v[1], s * v[0] + c * v[1], vz)  # world frame
            data.qvel[bv + 3 : bv + 6] = (0.0, 0.0, v[2])  # body frame (level base: same z)
            data.qvel[self._leg_qvel] = 0.0 if vz == 0.0 else (leg_pose_for_height(height + vz * PHYSICS_DT) - legs) / PHYSICS_DT
        data.qpos[self._leg_qpos] = legs
        data.ctrl[self._leg_act] = legs  # leg PD targets agree with the placed legs

    def fallen(self, data: mujoco.MjData) -> bool:
        return is_fallen(data, self.idx)
