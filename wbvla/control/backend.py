"""The robot backend interface: a runner's only door to sensors and actuators.

A backend reads sensors (joint states, IMU, head camera) and writes joint targets; it never
decides anything. The control tick (:mod:`wbvla.control.tick`) owns the LMO and every safety rule,
so the same tick drives the simulated robot (:mod:`wbvla.control.sim_backend`, on a simulated
clock in the suite, on wall time as the deployment's twin) and the real X2 (:mod:`wbvla.control.x2`).

:class:`RecordingBackend` wraps any backend and records every write: the tests assert on exactly
what reached the actuators (no out-of-range target, no jump, see
:func:`wbvla.control.targets.jump_violations`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from wbvla.control.config import SafetyConfig
from wbvla.control.targets import ARMS, GRIPPERS, jump_violations


@dataclass
class RobotState:
    """What a robot backend reads each tick (canonical joint order of :mod:`wbvla.sim.joints`)."""

    t_ns: int
    """When it was read (the runner's monotonic clock)."""
    q: np.ndarray
    """(29,) joint positions (rad; m for grippers)."""
    dq: np.ndarray
    """(29,) joint velocities."""
    gyro: np.ndarray
    """(3,) base angular velocity in the base frame (rad/s)."""
    gravity: np.ndarray
    """(3,) unit gravity direction in the base frame (projected gravity)."""
    base_height: float
    """Pelvis height above the floor (m); on hardware an estimate from leg kinematics."""
    fallen: bool = False
    """The backend's own fall detector (sim: :func:`wbvla.sim.contacts.is_fallen`)."""

    def policy_state(self) -> np.ndarray:
        """s_t (17,) float32 as a policy gets it (:data:`wbvla.data.teleop_schema.STATE_NAMES`): arm
        joint positions, gripper openings, pelvis height (the observation message carries the same)."""
        return np.concatenate([self.q[ARMS], self.q[GRIPPERS], [self.base_height]]).astype(np.float32)


class RobotBackend(ABC):
    """Sensors in, joint targets out, one :meth:`write` per control tick."""

    name: str = "backend"
    kinematic_base: bool = False
    """True when the backend realizes u_t itself (the sim twin's labelled ideal base): the runner
    then does not run the LMO and the leg targets it writes are ignored."""

    @abstractmethod
    def start(self) -> RobotState:
        """Connect / build, start sensor threads; returns the first state."""

    @abstractmethod
    def read(self) -> RobotState:
        """The latest joint states and IMU (non-blocking)."""

    @abstractmethod
    def latest_image(self) -> np.ndarray | None:
        """The newest head-camera frame (H, W, 3) uint8, or None before the first (non-blocking)."""

    @abstractmethod
    def write(self, q: np.ndarray, u: np.ndarray) -> None:
        """Joint position targets (29,) in joint-table order and the tick's u_t (4,) (used only by a
        kinematic base; recorded for the logs otherwise)."""

    def close(self) -> None:  # noqa: B027  (optional hook: most backends have nothing to release)
        """Stop threads and release the hardware / renderer."""


class RecordingBackend(RobotBackend):
    """Wraps a backend; keeps every write and every jump violation (the tests' ground truth)."""

    def __init__(self, inner: RobotBackend, safety: SafetyConfig, period_s: float, kind: str = "flags"):
        self.inner, self.safety, self.period, self.kind = inner, safety, period_s, kind
        self.name, self.kinematic_base = inner.name, inner.kinematic_base
        self.writes: list[tuple[np.ndarray, np.ndarray]] = []
        self.violations: list[tuple[int, str]] = []

    def start(self) -> RobotState:
        return self.inner.start()

    def read(self) -> RobotState:
        return self.inner.read()

    def latest_image(self) -> np.ndarray | None:
        return self.inner.latest_image()

    def write(self, q: np.ndarray, u: np.ndarray) -> None:
        q, u = np.array(q, np.float64), np.array(u, np.float64)
        prev = self.writes[-1] if self.writes else (None, None)
        for v in jump_violations(q, u, prev[0], prev[1], self.safety, self.period, self.kind):
            self.violations.append((len(self.writes), v))
        self.writes.append((q, u))
        self.inner.write(q, u)

    def close(self) -> None:
        self.inner.close()

    @property
    def out_of_range_sent(self) -> int:
        """Writes with a target outside its joint range (counted from the violations)."""
        return len({i for i, v in self.violations if "out of range" in v})
