"""The physics backends: an exported ONNX leg policy drives the 12 leg PD targets at 50 Hz.

* :class:`PhysicsLMO`  the paper's LMO, flag commands u_t = [s_x, s_y, s_yaw, h*]
  (``data/lmo/lmo.onnx``, exported by ``wbvla lmo-export``);
* :class:`VelocityRL`  the HOMIE-style velocity-tracking baseline, commands [v_x, v_y, w_z, h]
  (``data/lmo/velocity_baseline.onnx``; Table 2's "w/ velocity-based RL" row).

Both build the policy's observation from the scene's ``MjData`` with
:class:`wbvla.lmo.policy.ObservationBuilder` (the layout of training, checked against mjlab in the
LMO's tests), put the leg targets default + action_scale * a (clipped to the joint ranges) and the
caller's arm and gripper targets into ``ctrl``, and advance 4 physics steps of 5 ms. The robot,
its actuators and the scene are simulated as they are; nothing is kinematic.
"""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np

from wbvla.lmo.policy import LMOPolicy, ObservationBuilder
from wbvla.locomotion.base import LocomotionBackend, check_command, is_fallen
from wbvla.paths import data_dir
from wbvla.sim.joints import default_pose, group_slice, limits
from wbvla.sim.robot import DECIMATION, X2Index
from wbvla.vla.api import CommandKind

DEFAULT_ONNX = {"lmo": "lmo/lmo.onnx", "velocity_rl": "lmo/velocity_baseline.onnx"}
"""Shipped policies, relative to ``data/``."""
_ONNX_TASK = {"lmo": "lmo", "velocity_rl": "velocity"}


class OnnxLegBackend(LocomotionBackend):
    """Shared loop of :class:`PhysicsLMO` and :class:`VelocityRL` (one ONNX policy on the legs)."""

    kinematic = False

    def __init__(self, onnx_path: str | Path | None = None, threads: int = 1):
        path = Path(onnx_path) if onnx_path is not None else data_dir() / DEFAULT_ONNX[self.name]
        self.policy = LMOPolicy(path, threads=threads)
        if self.policy.task != _ONNX_TASK[self.name]:
            raise ValueError(f"{path} holds a {self.policy.task!r} policy; the {self.name} backend needs a "
                             f"{_ONNX_TASK[self.name]!r} one (see its 'wbvla_task' metadata)")
        self.onnx_path = path
        self.model: mujoco.MjModel | None = None
        self._q_default = default_pose()
        self._legs = group_slice("legs")
        self._leg_lo, self._leg_hi = limits("legs")

    def reset(self, model: mujoco.MjModel, data: mujoco.MjData, idx: X2Index) -> None:
        self.model, self.idx = model, idx
        self.builder = ObservationBuilder(model, self.policy.history)
        self.builder.reset(data)
        self.last_action = np.zeros(12, np.float32)

    def step(self, data: mujoco.MjData, command: np.ndarray, arm_targets: np.ndarray, grippers: np.ndarray) -> None:
        if self.model is None:
            raise RuntimeError("call reset(model, data, idx) before step()")
        command = check_command(command)
        action = self.policy.act(self.builder.build(command, self.last_action))  # (12,)
        target = self._q_default.copy()
        target[self._legs] = np.clip(self._q_default[self._legs] + self.policy.action_scale * action,
                                     self._leg_lo, self._leg_hi)
        target[group_slice("arms")] = arm_targets
        target[group_slice("grippers")] = grippers
        data.ctrl[self.idx.actuator] = target
        for _ in range(DECIMATION):
            mujoco.mj_step(self.model, data)
            self.builder.record(data)
        self.last_action = action.astype(np.float32)

    def fallen(self, data: mujoco.MjData) -> bool:
        return is_fallen(data, self.idx)


class PhysicsLMO(OnnxLegBackend):
    """The LMO policy (flag commands) on the legs, physics everywhere."""

    name = "lmo"
    command_kind: CommandKind = "flags"


class VelocityRL(OnnxLegBackend):
    """The velocity-tracking baseline policy (velocity commands) on the legs, physics everywhere."""

    name = "velocity_rl"
    command_kind: CommandKind = "velocity"
