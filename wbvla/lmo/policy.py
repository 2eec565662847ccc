"""The LMO on a plain-MuJoCo X2: the observation builder and the 50 Hz controller.

:class:`ObservationBuilder` produces, from a plain ``mujoco.MjData``, exactly the actor
observation mjlab produces in training (same terms, order, history layout, lag semantics; tested
against the mjlab env in ``tests/unit/test_lmo_policy.py``). :class:`LMOController` closes the loop
at 50 Hz over 200 Hz physics: observation -> ONNX policy -> leg PD targets, arms from the caller.
The ONNX policy and the history layout are :mod:`wbvla.lmo.onnx_policy` (numpy + onnxruntime),
which the robot side runs without MuJoCo or torch.
"""

from __future__ import annotations

import mujoco
import numpy as np
import torch

from wbvla.lmo.config import SOLVER_ITERATIONS, SOLVER_LS_ITERATIONS
from wbvla.lmo.levers import (
    advance_clock,
    clock_phase,
    gait_observation,
    gait_swing,
    reference_leg_offsets,
)
from wbvla.lmo.onnx_policy import LMOPolicy, ObservationHistory
from wbvla.lmo.proprio import OBS_JOINTS, OBS_TERMS, LagBuffer
from wbvla.sim.joints import default_pose, group_slice, joint_names, limits
from wbvla.sim.robot import DECIMATION, PHYSICS_DT, X2Index, scene_spec


def eval_model() -> mujoco.MjModel:
    """The X2 on a floor with PD actuators and the solver options of training (plain MuJoCo)."""
    model = scene_spec(actuated=True).compile()
    model.opt.timestep = PHYSICS_DT
    model.opt.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    model.opt.iterations = SOLVER_ITERATIONS
    model.opt.ls_iterations = SOLVER_LS_ITERATIONS
    return model


class ObservationBuilder:
    """Builds the actor observation from plain MuJoCo state, exactly as the mjlab task does.

    Call :meth:`reset` after placing the robot, :meth:`record` after every physics step (lags
    count physics steps), and :meth:`build` once per policy step.
    """

    def __init__(self, model: mujoco.MjModel, history: int, dof_lag: int = 0, imu_lag: int = 0, prefix: str = "",
                 terms: tuple[tuple[str, int], ...] = OBS_TERMS):
        self.terms = terms
        self.idx = X2Index.from_model(model, prefix)
        order = {n: i for i, n in enumerate(joint_names())}
        sel = [order[n] for n in OBS_JOINTS]
        self.qadr, self.vadr = self.idx.qpos[sel], self.idx.qvel[sel]
        self.q0 = default_pose()[sel]
        self.history = history
        self.frames = ObservationHistory(history, terms)
        self.dof = LagBuffer(1, 2 * len(OBS_JOINTS), dof_lag)
        self.imu = LagBuffer(1, 6, imu_lag)
        self.dof.set_lag(torch.tensor([dof_lag]))
        self.imu.set_lag(torch.tensor([imu_lag]))

    def current(self, data: mujoco.MjData) -> tuple[np.ndarray, np.ndarray]:
        dof = np.concatenate([data.qpos[self.qadr] - self.q0, data.qvel[self.vadr]])
        b = self.idx.base_qpos
        rot = np.zeros(9)
        mujoco.mju_quat2Mat(rot, data.qpos[b + 3 : b + 7])
        g = -rot.reshape(3, 3)[2]  # R^T (0, 0, -1): gravity in the base frame
        omega = data.qvel[self.idx.base_qvel + 3 : self.idx.base_qvel + 6]  # free joint: base frame
        return dof, np.concatenate([omega, g])

    def reset(self, data: mujoco.MjData) -> None:
        dof, imu = self.current(data)
        self.dof.fill(torch.tensor(dof[None], dtype=torch.float32))
        self.imu.fill(torch.tensor(imu[None], dtype=torch.float32))
        self.frames.reset()

    def record(self, data: mujoco.MjData) -> None:
        """Push the state after one physics step into the lag buffers."""
        dof, imu = self.current(data)
        self.dof.push(torch.tensor(dof[None], dtype=torch.float32))
        self.imu.push(torch.tensor(imu[None], dtype=torch.float32))

    def build(self, command: np.ndarray, last_action: np.ndarray, gait_phase: np.ndarray | None = None) -> np.ndarray:
        """The flattened observation (history * frame size,) for this policy step; ``gait_phase``
        (sin, cos) is required when the layout has the ``gait_phase`` term."""
        dof, imu = self.dof.get()[0].numpy(), self.imu.get()[0].numpy()
        k = len(OBS_JOINTS)
        frame = {"command": np.asarray(command, np.float32), "base_ang_vel": imu[:3], "projected_gravity": imu[3:],
                 "joint_pos": dof[:k], "joint_vel": dof[k:], "last_action": np.asarray(last_action, np.float32),
                 "gait_phase": gait_phase}
        return self.frames.push(frame)


class LMOController:
    """Runs an :class:`LMOPolicy` on a plain-MuJoCo X2: one :meth:`step` = one 50 Hz policy step."""

    def __init__(self, policy: LMOPolicy, model: mujoco.MjModel, prefix: str = ""):
        self.policy, self.model = policy, model
        self.builder = ObservationBuilder(model, policy.history, prefix=prefix, terms=policy.terms)
        self.idx = self.builder.idx
        self.legs = group_slice("legs")
        self.q_default = default_pose()
        self.leg_lo, self.leg_hi = limits("legs")
        self.last_action = np.zeros(12, np.float32)
        self.clock_steps = 0
        """Gait clock counter (policies with a clock; training's :class:`~wbvla.lmo.levers.GaitClock`)."""
        self._fresh = True

    def reset(self, data: mujoco.MjData) -> None:
        self.builder.reset(data)
        self.last_action[:] = 0.0
        self.clock_steps, self._fresh = 0, True

    def step(self, data: mujoco.MjData, command: np.ndarray, arm_targets: np.ndarray | None = None) -> np.ndarray:
        """Observe, act, and advance the physics by one policy period; returns the leg actions."""
        gait, legs = None, self.q_default[self.legs] + 0.0
        period = self.policy.gait_period_s
        if period is not None:  # the clock runs while the command moves the robot, as in training
            moving = bool(np.any(np.asarray(command[:3]) != 0))
            if not self._fresh:
                self.clock_steps = int(advance_clock(self.clock_steps, moving))
            phase = clock_phase(self.clock_steps, DECIMATION * PHYSICS_DT, period)
            gait = gait_observation(phase).astype(np.float32)
            legs = legs + reference_leg_offsets(gait_swing(phase, np.asarray(moving)), self.policy.reference_amplitude)
        self._fresh = False
        obs = self.builder.build(command, self.last_action, gait)
        action = self.policy.act(obs)
        target = self.q_default.copy()
        target[self.legs] = np.clip(legs + self.policy.action_scale * action, self.leg_lo, self.leg_hi)
        if arm_targets is not None:
            target[group_slice("arms")] = arm_targets
        data.ctrl[self.idx.actuator] = target
        for _ in range(DECIMATION):
            mujoco.mj_step(self.model, data)
            self.builder.record(data)
        self.last_action = action.astype(np.float32)
        return action
