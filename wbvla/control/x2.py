"""The seam for the real AgiBot X2: what the runner needs from the robot's SDK, and nothing more.

The X2's SDK (AgiBot "AimDK" for the X2) is ROS 2 Humble based: Python via ``rclpy``, message
types in the ``aimdk_msgs`` package, joint commands per body part on
``/aima/hal/joint/{leg,waist,arm,head}/command`` (``JointCommandArray``: name, position,
velocity, effort, stiffness, damping per joint) and states on ``/aima/hal/joint/*/state``; IMU
and head-camera topics live under ``/aima/hal/`` too (check the names of your SDK version). Joint
control needs the robot's own motion-control (MC) module disabled, on a gantry the first time.

This module does **not** talk to hardware here: no SDK and no robot are available to this
project, so nothing below has been run against an X2. It defines

* :class:`X2SDK`: the five calls the runner needs (read joint states, IMU, head image, base
  height estimate; write joint targets with gains), in joint-table order and SI units;
* :class:`X2Backend`: the :class:`~wbvla.control.backend.RobotBackend` over an ``X2SDK``;
* :func:`open_x2_sdk`: imports the SDK and refuses to start with a clear error where it is absent.

To bring up a robot: implement :class:`X2SDK` with ``rclpy`` subscriptions/publishers on the topics
above (map the SDK's per-part arrays to :data:`wbvla.sim.joints.JOINT_NAMES` order by name, grippers
through the end-effector interface), return it from :func:`open_x2_sdk`, then run
``deploy/robot_runner.py --backend x2`` with the sim twin's configuration first.
"""

from __future__ import annotations

import importlib.util
from typing import Protocol

import numpy as np

from wbvla.control.backend import RobotBackend, RobotState
from wbvla.sim.joints import JOINTS

REQUIRED_MODULES = ("rclpy", "aimdk_msgs")
"""Python modules of the X2 SDK (ROS 2 Humble + AgiBot's message package)."""


class X2SDK(Protocol):
    """What the runner needs from the robot. Arrays follow :data:`wbvla.sim.joints.JOINT_NAMES`."""

    def read_joint_states(self) -> tuple[np.ndarray, np.ndarray]:
        """Latest joint positions (29,) and velocities (29,) (rad, rad/s; grippers m, m/s)."""

    def read_imu(self) -> tuple[np.ndarray, np.ndarray]:
        """Pelvis IMU: angular velocity (3,) in the base frame (rad/s) and orientation quaternion (w, x, y, z)."""

    def read_head_image(self) -> np.ndarray | None:
        """Newest head RGB frame (H, W, 3) uint8 from the D435i-class head camera, or None."""

    def base_height(self) -> float:
        """Pelvis height above the floor (m), e.g. from leg forward kinematics with the feet on the ground."""

    def write_joint_targets(self, q: np.ndarray, kp: np.ndarray, kd: np.ndarray) -> None:
        """Position targets (29,) with PD gains (29,), published once per control tick."""


def open_x2_sdk() -> X2SDK:
    """Connect to the X2 through its SDK; raises ``RuntimeError`` with what to do when it is absent."""
    missing = [m for m in REQUIRED_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        raise RuntimeError(
            f"the x2 backend needs the AgiBot X2 SDK (AimDK: ROS 2 Humble, modules {', '.join(REQUIRED_MODULES)}); "
            f"not importable here: {', '.join(missing)}. Install the SDK on the robot's computer and source its "
            "ROS 2 workspace, or use the simulated twin (--backend sim).")
    raise RuntimeError(
        "the AimDK modules are importable, but wbvla ships no X2SDK implementation yet: it has never been run on an "
        "X2. Implement wbvla.control.x2.X2SDK over the /aima/hal/joint/*/{command,state}, IMU and camera "
        "topics (see this module's docstring) and return it from open_x2_sdk().")


def projected_gravity(quat_wxyz: np.ndarray) -> np.ndarray:
    """Unit gravity direction in the base frame, R^T (0, 0, -1), from a (w, x, y, z) quaternion."""
    w, x, y, z = np.asarray(quat_wxyz, np.float64) / np.linalg.norm(quat_wxyz)
    # third row of R (world z axis expressed in the base frame), negated
    return -np.array([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)])


class X2Backend(RobotBackend):
    """The real robot behind the backend interface (see the module docstring)."""

    name = "x2"
    kinematic_base = False

    def __init__(self, sdk: X2SDK | None = None):
        self.sdk = sdk
        self.kp = np.array([j.kp for j in JOINTS])
        self.kd = np.array([j.kd for j in JOINTS])

    def start(self) -> RobotState:
        if self.sdk is None:
            self.sdk = open_x2_sdk()
        return self.read()

    def read(self) -> RobotState:
        import time

        q, dq = self.sdk.read_joint_states()
        gyro, quat = self.sdk.read_imu()
        return RobotState(time.perf_counter_ns(), np.asarray(q, np.float64), np.asarray(dq, np.float64),
                          np.asarray(gyro, np.float64), projected_gravity(quat), float(self.sdk.base_height()))

    def latest_image(self) -> np.ndarray | None:
        return self.sdk.read_head_image()

    def write(self, q: np.ndarray, u: np.ndarray) -> None:
        self.sdk.write_joint_targets(np.asarray(q, np.float64), self.kp, self.kd)
