"""The one interface every locomotion backend implements.

A backend turns the locomotion command of a tick into leg motion on the simulated X2, one 50 Hz
control period (:data:`wbvla.sim.robot.DECIMATION` physics steps at 200 Hz) per :meth:`step`:

* ``lmo``          the physics LMO: the exported ONNX policy on proprioception drives the 12 leg
                   PD targets (flags command u_t = [s_x, s_y, s_yaw, h*]);
* ``velocity_rl``  the HOMIE-style velocity-tracking baseline, same robot and actuators
                   (velocity command [v_x, v_y, w_z, h*]);
* ``ideal_base``   a kinematic stand-in, clearly labelled wherever it is used: the floating base
                   follows the Eq. 2-shaped velocity reference where furniture (tables, walls,
                   the cart) does not block it, and h* is reached through leg IK; the rest of
                   the scene keeps its physics.

The arms and grippers are PD-driven by the caller's targets in every backend, so manipulation is
physical whichever backend moves the base.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import mujoco
import numpy as np

from wbvla.control.policy_contract import CommandKind
from wbvla.sim.contacts import is_fallen  # noqa: F401  (the one fall test; re-exported for the backends' users)
from wbvla.sim.robot import X2Index

BACKENDS: tuple[str, ...] = ("lmo", "velocity_rl", "ideal_base")
LABELS: dict[str, str] = {
    "lmo": "physics LMO (ONNX policy on the legs, 50 Hz)",
    "velocity_rl": "velocity-tracking RL baseline (ONNX policy on the legs, 50 Hz)",
    "ideal_base": "IDEAL BASE (kinematic stand-in: base follows the Eq. 2 reference unless furniture blocks it, legs by IK)",
}
"""How each backend is named in datasets, trial logs and figure titles."""


def check_command(command: np.ndarray) -> np.ndarray:
    """A command u_t as 4 finite float64 values, or a clear error."""
    command = np.asarray(command, dtype=np.float64)
    if command.shape != (4,) or not np.all(np.isfinite(command)):
        raise ValueError(f"command must be 4 finite numbers, got {command!r}")
    return command


class LocomotionBackend(ABC):
    """Realizes locomotion commands on an X2 inside a compiled scene (``model``, ``data``)."""

    name: str
    """One of :data:`BACKENDS`; recorded in every dataset, trial log and figure."""
    command_kind: CommandKind
    """What :meth:`step` expects: ``flags`` or ``velocity`` (see :mod:`wbvla.control.policy_contract`)."""
    kinematic: bool
    """True when the base is moved kinematically (the ideal base), not by leg physics."""

    @abstractmethod
    def reset(self, model: mujoco.MjModel, data: mujoco.MjData, idx: X2Index) -> None:
        """Start a trial from the robot's current (standing) state in ``data``."""

    @abstractmethod
    def step(self, data: mujoco.MjData, command: np.ndarray, arm_targets: np.ndarray,
             grippers: np.ndarray) -> None:
        """Apply ``command`` (4,), arm targets (14,) and gripper targets (2,) and advance the
        physics by one 50 Hz control period."""

    @abstractmethod
    def fallen(self, data: mujoco.MjData) -> bool:
        """Whether the robot is down: pelvis too low, base too tilted, or a body part other than the
        feet and hands on the floor or furniture (:func:`wbvla.sim.contacts.is_fallen`)."""

    @property
    def label(self) -> str:
        """Human-readable name for logs and figures (says "IDEAL BASE" for the kinematic one)."""
        return LABELS[self.name]
