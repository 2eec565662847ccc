"""Arm side of the scripted expert: grasp frames on bars and handles, IK, gravity feed-forward.

Positions are converted from the world into the *arm base frame* of
:class:`wbvla.sim.kinematics.ArmKinematics` (x forward, y left, z up, origin on the floor under
the pelvis of the default stance) using the live pelvis pose, so a squat or a tilted pelvis is
accounted for. Grasps are parallel-gripper friction grasps on bars:

the carrying bar of a bag or a tote and the cart handle all run across the object (its y axis);
the fingers point forward along the object's x axis, horizontally, and close vertically, so the
lower finger carries a hanging load. The tool-centre point (between the fingertips) is placed
``beyond`` metres past the bar's axis, so the bar sits between the fingers.

The PD arms sag under gravity (about 0.1 rad at the shoulder with the arms raised); the expert,
like a teleoperator watching the arm, offsets its joint targets by the gravity torque of the
wanted pose divided by the joint stiffness, plus the share of a held object's weight
(:meth:`ArmServo.feedforward`). The offset is part of the recorded action.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from wbvla.sim.joints import group_slice, joints_in, limits
from wbvla.sim.kinematics import READY_ARM_POSE, ArmKinematics, arm_slice
from wbvla.sim.robot import base_height_for
from wbvla.sim.scene import Scene

SIDES = ("left", "right")
ARM_KP = np.array([j.kp for j in joints_in("arms")])
ARM_LO, ARM_HI = limits("arms")
GRAVITY = 9.81


@dataclass(frozen=True)
class GraspFrame:
    """Where one hand's TCP should be and how the fingers should point (arm base frame)."""

    pos: np.ndarray
    """TCP position (3,)."""
    approach: np.ndarray
    """Unit finger direction (3,)."""
    closing: np.ndarray
    """Unit line the fingers close along (3,)."""

    def shifted(self, along_approach: float = 0.0, up: float = 0.0) -> GraspFrame:
        """The same orientation, moved along the finger direction and vertically."""
        return GraspFrame(self.pos + along_approach * self.approach + np.array([0.0, 0.0, up]), self.approach, self.closing)


class ArmServo:
    """IK and target shaping for both arms of the robot in one scene."""

    def __init__(self, scene: Scene):
        self.scene = scene
        self.kin = ArmKinematics()
        self.h0 = base_height_for()
        self._scratch = mujoco.MjData(scene.model)
        idx = scene.robot
        self._arm_qpos = idx.qpos[group_slice("arms")]
        self._arm_dof = idx.qvel[group_slice("arms")]
        self._tcp = {s: mujoco.mj_name2id(scene.model, mujoco.mjtObj.mjOBJ_SITE, f"{s}_tcp") for s in SIDES}
        self._jac = np.zeros((3, scene.model.nv))
        rng = np.random.default_rng(0)
        self._seeds = [READY_ARM_POSE] + [np.clip(READY_ARM_POSE + rng.normal(0, 0.5, 14), ARM_LO, ARM_HI) for _ in range(2)]

    # --- frames --------------------------------------------------------------------------
    def pelvis(self) -> tuple[np.ndarray, np.ndarray]:
        d, b = self.scene.data, self.scene.robot.base_body
        return d.xpos[b].copy(), d.xmat[b].reshape(3, 3).copy()

    def to_base(self, p: np.ndarray) -> np.ndarray:
        """World point (3,) -> arm base frame (3,)."""
        pos, rot = self.pelvis()
        return rot.T @ (np.asarray(p) - pos) + np.array([0.0, 0.0, self.h0])

    def dir_to_base(self, v: np.ndarray) -> np.ndarray:
        return self.pelvis()[1].T @ np.asarray(v)

    def handle_grasp(self, point_world: np.ndarray, forward_world: np.ndarray, beyond: float) -> GraspFrame:
        """Grasp a horizontal handle running across: fingers horizontal along ``forward``, closing vertically."""
        f = self.dir_to_base(forward_world)
        f = np.array([f[0], f[1], 0.0]) / np.linalg.norm(f[:2])
        return GraspFrame(self.to_base(point_world) + beyond * f, f, np.array([0.0, 0.0, 1.0]))

    # --- IK -----------------------------------------------------------------------------
    def solve(self, frames: dict[str, GraspFrame], q_init: np.ndarray) -> tuple[np.ndarray, float]:
        """Both arms (14,) reaching ``frames`` (one per side given); returns them and the worst
        TCP error (m). Starts from ``q_init``, then from a few fixed seeds if that is > 1.5 cm."""
        q = np.asarray(q_init, float).copy()
        worst = 0.0
        for side, fr in frames.items():
            best = None
            for seed in [q, *self._seeds]:
                res = self.kin.solve(side, fr.pos, fr.approach, q_init=seed, closing_axis=fr.closing, iterations=120)
                score = res.position_error + 0.02 * res.axis_error
                if best is None or score < best[0]:
                    best = (score, res)
                if res.position_error < 0.015 and res.axis_error < 0.15:
                    break
            q[arm_slice(side)] = best[1].q_arm
            worst = max(worst, best[1].position_error)
        return q, worst

    def tcp_base(self, side: str) -> np.ndarray:
        """Measured TCP position of ``side`` in the arm base frame."""
        return self.to_base(self.scene.data.site_xpos[self._tcp[side]])

    # --- feed-forward --------------------------------------------------------------------
    def feedforward(self, q_arms: np.ndarray, payload_kg: float = 0.0) -> np.ndarray:
        """Joint targets (14,) that make the PD arms settle at ``q_arms``: + gravity torque / kp,
        with ``payload_kg`` shared by both hands (downward weight at each TCP)."""
        m, d, s = self.scene.model, self.scene.data, self._scratch
        s.qpos[:] = d.qpos
        s.qvel[:] = 0.0
        s.qpos[self._arm_qpos] = q_arms
        mujoco.mj_kinematics(m, s)
        mujoco.mj_comPos(m, s)
        mujoco.mj_rne(m, s, 0, s.qfrc_inverse)  # zero velocity and acceleration: the gravity torque
        tau = s.qfrc_inverse[self._arm_dof].copy()
        if payload_kg > 0:
            for side in SIDES:
                mujoco.mj_jacSite(m, s, self._jac, None, self._tcp[side])
                tau += self._jac[:, self._arm_dof].T @ np.array([0.0, 0.0, payload_kg * GRAVITY / 2.0])
        return np.clip(q_arms + tau / ARM_KP, ARM_LO, ARM_HI)
