"""The LMO on the robot's computer: proprioception arrays -> observation -> ONNX -> leg targets.

Numpy + onnxruntime only (:mod:`wbvla.lmo.onnx_policy`; no torch, MuJoCo or mjlab, checked by a
test in a fresh interpreter). On hardware there is no ``MjData``: the runner has joint
positions/velocities and the IMU from the robot backend. :class:`ProprioObservation` assembles the
LMO's actor observation from those arrays with the layout of training
(:data:`wbvla.lmo.obs_layout.OBS_TERMS`, per-term history, oldest first, the first frame after a
reset filling the history); a test checks it against :class:`wbvla.lmo.policy.ObservationBuilder`
on MuJoCo states. Sensor lags are the real ones here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wbvla.lmo.onnx_policy import LMOPolicy, ObservationHistory, proprio_frame
from wbvla.paths import data_dir
from wbvla.sim.joints import default_pose, group_slice

LEGS = group_slice("legs")


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
    """The backend's own fall detector (sim: pelvis too low or torso too tilted)."""


class ProprioObservation:
    """The LMO actor observation from a :class:`RobotState`, exactly as training builds it
    (:class:`~wbvla.lmo.onnx_policy.ObservationHistory` over :func:`~wbvla.lmo.onnx_policy.proprio_frame`)."""

    def __init__(self, history: int):
        self.history = history
        self.frames = ObservationHistory(history)

    def reset(self) -> None:
        self.frames.reset()

    def build(self, state: RobotState, command: np.ndarray, last_action: np.ndarray) -> np.ndarray:
        """The flattened observation (history * frame,) float32."""
        return self.frames.push(proprio_frame(state.q, state.dq, state.gyro, state.gravity, command, last_action))


class LMOStage:
    """Runs an exported LMO (``wbvla.lmo.export`` ONNX with metadata) at the runner's rate."""

    def __init__(self, onnx_path: Path | None = None, threads: int = 1):
        self.policy = LMOPolicy(Path(onnx_path) if onnx_path else data_dir() / "lmo" / "lmo.onnx", threads=threads)
        if self.policy.gait_period_s is not None:
            raise ValueError(f"{self.policy.path}: a gait-clock policy (observation term 'gait_phase'); the robot-side "
                             "LMO stage runs the paper's observation only (no gait clock yet)")
        self.kind = "flags" if self.policy.task == "lmo" else "velocity"
        self.obs = ProprioObservation(self.policy.history)
        self.q_default = default_pose()[LEGS]
        self.last_action = np.zeros(12, np.float32)

    @property
    def model_id(self) -> str:
        return f"{self.policy.path.name}:{self.policy.metadata.get('wbvla_task', '?')}"

    def reset(self) -> None:
        self.obs.reset()
        self.last_action[:] = 0.0

    def step(self, state: RobotState, command: np.ndarray) -> np.ndarray:
        """Leg PD targets (12,) for this tick (before the runner's range clamp and rate limit)."""
        action = self.policy.act(self.obs.build(state, command, self.last_action))
        self.last_action = action.astype(np.float32)
        return self.q_default + self.policy.action_scale * action
