"""The LMO in the control tick: the backend's arrays (:class:`~wbvla.control.backend.RobotState`)
-> observation -> ONNX -> leg targets, at the tick's rate.

Numpy + onnxruntime only (no torch, MuJoCo or mjlab; a test imports the robot side in a fresh
interpreter). There is no ``MjData`` here: on the robot the arrays come from the SDK, in the
simulated robot from MuJoCo's state after the last physics step. The step itself (gait clock,
observation in the layout of training, ONNX, action mapping) is
:class:`wbvla.lmo.onnx_policy.LegController`, the same code the LMO's MuJoCo evaluation runs
(:class:`wbvla.lmo.policy.LMOController`, which feeds it lagged sensor arrays). Sensor lags are the
real ones here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from wbvla.control.backend import RobotState
from wbvla.lmo.onnx_policy import LegController, LMOPolicy, observed_joints
from wbvla.paths import data_dir


class LMOStage:
    """Runs an exported LMO (``wbvla.lmo.export`` ONNX with metadata): ``onnx_path`` (default the
    shipped ``data/lmo/lmo.onnx``) or an already loaded ``policy``."""

    def __init__(self, onnx_path: Path | None = None, threads: int = 1, policy: LMOPolicy | None = None):
        if policy is None:
            policy = LMOPolicy(Path(onnx_path) if onnx_path else data_dir() / "lmo" / "lmo.onnx", threads=threads)
        self.policy = policy
        self.kind = "flags" if policy.task == "lmo" else "velocity"
        """What u_t the policy takes: ``flags`` (the LMO) or ``velocity`` (the velocity baseline)."""
        self.control = LegController(policy)

    @property
    def model_id(self) -> str:
        return f"{self.policy.path.name}:{self.policy.metadata.get('wbvla_task', '?')}"

    @property
    def last_action(self) -> np.ndarray:
        return self.control.last_action

    def reset(self) -> None:
        self.control.reset()

    def step(self, state: RobotState, command: np.ndarray) -> np.ndarray:
        """Leg PD targets (12,) for this tick (before the tick's range clamp and rate limit)."""
        return self.control.step(*observed_joints(state.q, state.dq), state.gyro, state.gravity, command)
