"""Arm kinematics of the X2 for scripted experts: forward kinematics and damped-least-squares IK.

IK works on MuJoCo Jacobians (``mj_jacSite``) of a hand's tool-centre-point site (``left_tcp`` /
``right_tcp``, between the gripper fingers), restricted to that arm's 7 joints:

    dq = J^T (J J^T + lambda^2 I)^-1 e          (damped least squares)

with ``e`` the position error, optionally stacked with an approach-axis error that turns the
fingers (the TCP frame's -z axis) toward a wanted direction. A small null-space pull toward a
preferred posture keeps elbows natural. Joint limits are enforced after every step.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from wbvla.sim.joints import default_pose, group_slice, joint_names, limits
from wbvla.sim.robot import X2_XML, X2Index, base_height_for
from wbvla.validation import one_of, positive

SIDES = ("left", "right")

READY_ARM_POSE = np.array(
    # shoulder pitch, roll, yaw, elbow, wrist yaw, pitch, roll  (left, then right)
    [-0.45, 0.20, 0.0, -1.35, 0.0, 0.0, 0.0, -0.45, -0.20, 0.0, -1.35, 0.0, 0.0, 0.0]
)
"""Arms raised in front of the torso, forearms forward: where manipulation motions start."""


def arm_slice(side: str) -> slice:
    """Slice of one arm's 7 joints inside the 14-D arm vector."""
    one_of("side", side, SIDES)
    return slice(0, 7) if side == "left" else slice(7, 14)


@dataclass(frozen=True)
class IKResult:
    """Outcome of one IK solve."""

    q_arm: np.ndarray
    """Solved joints of the arm, shape (7,)."""
    position_error: float
    """Remaining TCP position error (m)."""
    axis_error: float
    """Remaining angle between finger direction and the wanted approach axis (rad), or the
    closing-line error if that is larger (with ``closing_axis``); 0 if unused."""
    iterations: int

    @property
    def converged(self) -> bool:
        return self.position_error < 5e-3 and self.axis_error < 0.1


class ArmKinematics:
    """FK/IK for the X2 arms in the robot's base frame (pelvis at the default standing pose).

    The model is the bare X2 with the base fixed at the origin (yaw 0) at its default standing
    height and legs/waist at their default pose, so every position is expressed in the *base
    frame*: x forward, y left, z up, origin on the floor below the pelvis.
    """

    def __init__(self) -> None:
        self.model = mujoco.MjModel.from_xml_path(str(X2_XML))
        self.data = mujoco.MjData(self.model)
        self.index = X2Index.from_model(self.model)
        q = default_pose()
        self.index.set_base_pose(self.data, np.array([0.0, 0.0, base_height_for(q)]))
        self.index.set_joint_pos(self.data, q)
        self._arm_qpos = self.index.qpos[group_slice("arms")]
        self._arm_dof = self.index.qvel[group_slice("arms")]
        self._lo, self._hi = limits("arms")
        self._tcp = {
            s: mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_SITE, f"{s}_tcp") for s in SIDES
        }
        mujoco.mj_kinematics(self.model, self.data)

    # --- forward kinematics ---------------------------------------------------------------
    def set_arms(self, q_arms: np.ndarray) -> None:
        """Set both arms (14,) and update kinematics."""
        q_arms = np.asarray(q_arms, dtype=np.float64)
        if q_arms.shape != (14,):
            raise ValueError(f"expected 14 arm joints, got shape {q_arms.shape}")
        self.data.qpos[self._arm_qpos] = np.clip(q_arms, self._lo, self._hi)
        mujoco.mj_kinematics(self.model, self.data)
        mujoco.mj_comPos(self.model, self.data)  # cdof, needed by the Jacobians

    def tcp_pose(self, side: str, q_arms: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """TCP position (3,) and rotation matrix (3, 3) of ``side`` in the base frame."""
        one_of("side", side, SIDES)
        if q_arms is not None:
            self.set_arms(q_arms)
        sid = self._tcp[side]
        return self.data.site_xpos[sid].copy(), self.data.site_xmat[sid].reshape(3, 3).copy()

    def tcp_positions(self, q_arms: np.ndarray) -> np.ndarray:
        """Both TCP positions in the base frame for many arm poses: (..., 14) -> (..., 2, 3), left
        then right. Joints outside their ranges are clipped, as in :meth:`set_arms` (the robot's
        target clamps do the same)."""
        q_arms = np.asarray(q_arms, dtype=np.float64)
        if q_arms.shape[-1:] != (14,):
            raise ValueError(f"expected arm poses (..., 14), got shape {q_arms.shape}")
        flat = np.clip(q_arms.reshape(-1, 14), self._lo, self._hi)  # (N, 14)
        sites = [self._tcp[s] for s in SIDES]
        out = np.empty((len(flat), 2, 3))
        for i, q in enumerate(flat):
            self.data.qpos[self._arm_qpos] = q
            mujoco.mj_kinematics(self.model, self.data)
            out[i] = self.data.site_xpos[sites]
        return out.reshape(*q_arms.shape[:-1], 2, 3)

    # --- inverse kinematics ---------------------------------------------------------------
    def solve(
        self,
        side: str,
        target_pos: np.ndarray,
        approach_axis: np.ndarray | None = None,
        q_init: np.ndarray | None = None,
        closing_axis: np.ndarray | None = None,
        iterations: int = 200,
        damping: float = 0.05,
        step: float = 0.8,
        posture_gain: float = 0.02,
        tol: float = 1e-3,
    ) -> IKResult:
        """Solve one arm for a TCP position (and optionally a finger direction).

        Args:
            side: ``"left"`` or ``"right"``.
            target_pos: wanted TCP position in the base frame, shape (3,).
            approach_axis: wanted direction the fingers point (unit vector, base frame), e.g.
                ``(0, 0, -1)`` for a top grasp; None ignores orientation.
            q_init: both arms' starting joints (14,); defaults to :data:`READY_ARM_POSE`. The
                other arm keeps these values.
            closing_axis: with ``approach_axis``, the line along which the fingers should close
                (the TCP frame's y axis, either sign), e.g. across a bar to be grasped; None
                leaves the roll about the approach axis free.
            iterations, damping, step, posture_gain, tol: solver settings.

        Returns:
            :class:`IKResult` for the arm (7 joints). Check ``converged``.
        """
        one_of("side", side, SIDES)
        positive("damping", damping)
        target_pos = np.asarray(target_pos, dtype=np.float64)
        if target_pos.shape != (3,) or not np.all(np.isfinite(target_pos)):
            raise ValueError(f"target_pos must be 3 finite numbers, got {target_pos!r}")
        axis = None
        if approach_axis is not None:
            axis = np.asarray(approach_axis, dtype=np.float64)
            axis = axis / np.linalg.norm(axis)
        closing = None
        if closing_axis is not None:
            if axis is None:
                raise ValueError("closing_axis needs an approach_axis")
            closing = np.asarray(closing_axis, dtype=np.float64)
            closing = closing / np.linalg.norm(closing)
        q = (READY_ARM_POSE if q_init is None else np.asarray(q_init, dtype=np.float64)).copy()
        sl = arm_slice(side)
        dofs = self._arm_dof[sl]
        jacp = np.zeros((3, self.model.nv))
        jacr = np.zeros((3, self.model.nv))
        sid = self._tcp[side]
        pos_err = ang = np.inf
        it = 0
        for it in range(1, iterations + 1):  # noqa: B007 (it is reported after the loop)
            self.set_arms(q)
            pos = self.data.site_xpos[sid]
            e_pos = target_pos - pos  # (3,)
            pos_err = float(np.linalg.norm(e_pos))
            rows_e, rows_j = [e_pos], [None]
            mujoco.mj_jacSite(self.model, self.data, jacp, jacr, sid)
            rows_j[0] = jacp[:, dofs]  # (3, 7)
            ang = 0.0
            if axis is not None:
                finger = -self.data.site_xmat[sid].reshape(3, 3)[:, 2]  # fingers point along -z
                e_rot = np.cross(finger, axis)  # rotation that turns finger toward axis
                ang = float(np.arccos(np.clip(finger @ axis, -1.0, 1.0)))
                if closing is not None:  # turn the finger closing line (TCP y, sign-free) onto it
                    y_tcp = self.data.site_xmat[sid].reshape(3, 3)[:, 1]
                    want = closing if y_tcp @ closing >= 0 else -closing
                    e_rot = e_rot + np.cross(y_tcp, want)
                    ang = max(ang, float(np.arccos(np.clip(abs(y_tcp @ closing), -1.0, 1.0))))
                rows_e.append(0.3 * e_rot)
                rows_j.append(0.3 * jacr[:, dofs])
            if pos_err < tol and ang < 0.02:
                break
            e = np.concatenate(rows_e)
            jac = np.concatenate(rows_j)  # (3 or 6, 7)
            dq = jac.T @ np.linalg.solve(jac @ jac.T + damping**2 * np.eye(len(e)), e)
            # Null-space pull toward the ready posture keeps the elbow natural.
            null = np.eye(7) - np.linalg.pinv(jac) @ jac
            dq += null @ (posture_gain * (READY_ARM_POSE[sl] - q[sl]))
            q[sl] = np.clip(q[sl] + step * dq, self._lo[sl], self._hi[sl])
        return IKResult(q[sl].copy(), pos_err, ang, it)


ARM_JOINT_NAMES = joint_names("arms")
