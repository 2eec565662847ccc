"""The physics backends: an exported ONNX leg policy drives the 12 leg PD targets at 50 Hz.

* :class:`PhysicsLMO`  the paper's LMO, flag commands u_t = [s_x, s_y, s_yaw, h*]
  (``data/lmo/lmo.onnx``, exported by ``wbvla lmo-export``);
* :class:`VelocityRL`  the HOMIE-style velocity-tracking baseline, commands [v_x, v_y, w_z, h]
  (``data/lmo/velocity_baseline.onnx``; Table 2's "w/ velocity-based RL" row).

Both run through :class:`wbvla.lmo.policy.LMOController`: the policy's observation is built from
the scene's ``MjData`` exactly as in training (checked against mjlab in the LMO's tests), the leg
targets are default + action_scale * a (clipped to the joint ranges), the caller's arm and gripper
targets go to their PD actuators, and 4 physics steps of 5 ms follow. The robot,
its actuators and the scene are simulated as they are; nothing is kinematic. A trial of the task
suite (:func:`wbvla.tasks.runner.run_trial`) runs the backend's ONNX policy in the control tick
instead (:class:`wbvla.control.lmo.LMOStage`, the same numpy controller), as the robot does.
"""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np

from wbvla.control.policy_contract import CommandKind
from wbvla.lmo.onnx_policy import LMOPolicy
from wbvla.lmo.policy import LMOController
from wbvla.locomotion.base import LocomotionBackend, check_command, is_fallen
from wbvla.paths import data_dir
from wbvla.sim.joints import group_slice
from wbvla.sim.robot import X2Index

DEFAULT_ONNX = {"lmo": "lmo/lmo.onnx", "velocity_rl": "lmo/velocity_baseline.onnx"}
"""Shipped policies, relative to ``data/``."""
_ONNX_TASK = {"lmo": "lmo", "velocity_rl": "velocity"}


class OnnxLegBackend(LocomotionBackend):
    """Shared loop of :class:`PhysicsLMO` and :class:`VelocityRL`: one ONNX policy on the legs,
    run by :class:`wbvla.lmo.policy.LMOController` (observation, action scaling, 4 physics steps)."""

    kinematic = False

    def __init__(self, onnx_path: str | Path | None = None, threads: int = 1):
        path = Path(onnx_path) if onnx_path is not None else data_dir() / DEFAULT_ONNX[self.name]
        self.policy = LMOPolicy(path, threads=threads)
        if self.policy.task != _ONNX_TASK[self.name]:
            raise ValueError(f"{path} holds a {self.policy.task!r} policy; the {self.name} backend needs a "
                             f"{_ONNX_TASK[self.name]!r} one (see its 'wbvla_task' metadata)")
        self.onnx_path = path
        self.controller: LMOController | None = None

    def reset(self, model: mujoco.MjModel, data: mujoco.MjData, idx: X2Index) -> None:
        self.idx = idx
        self.controller = LMOController(self.policy, model)
        self.controller.reset(data)

    def step(self, data: mujoco.MjData, command: np.ndarray, arm_targets: np.ndarray, grippers: np.ndarray) -> None:
        if self.controller is None:
            raise RuntimeError("call reset(model, data, idx) before step()")
        command = check_command(command)
        # The controller holds every joint that is neither a leg nor an arm at ``q_default``.
        self.controller.q_default[group_slice("grippers")] = grippers
        self.controller.step(data, command, arm_targets)

    @property
    def last_action(self) -> np.ndarray:
        """The leg action (12,) of the last step."""
        return self.controller.last_action

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
