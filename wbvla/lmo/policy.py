"""The LMO on a plain-MuJoCo X2: the sensors with the lags of training, and the 50 Hz controller.

:class:`ObservationBuilder` produces, from a plain ``mujoco.MjData``, exactly the actor
observation mjlab produces in training (same terms, order, history layout, lag semantics; tested
against the mjlab env in ``tests/unit/test_lmo_env.py``). :class:`LMOController` closes the loop
at 50 Hz over 200 Hz physics: the (lagged) sensor arrays go to the numpy controller the robot
runs too (:class:`~wbvla.lmo.onnx_policy.LegController`: gait clock, observation, ONNX, leg
targets), arms from the caller. No torch here: the lags are a small numpy ring buffer.
"""

from __future__ import annotations

import mujoco
import numpy as np

from wbvla.lmo.config import SOLVER_ITERATIONS, SOLVER_LS_ITERATIONS
from wbvla.lmo.obs_layout import OBS_JOINTS, OBS_TERMS
from wbvla.lmo.onnx_policy import LegController, LMOPolicy, ObservationHistory, observation_frame
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


class LagRing:
    """A fixed lag in physics steps: :meth:`get` returns what was pushed ``lag`` pushes ago (one
    robot; training's batched torch buffer is :class:`wbvla.lmo.proprio.LagBuffer`, same semantics)."""

    def __init__(self, dim: int, lag: int):
        if lag < 0:
            raise ValueError(f"lag must be >= 0, got {lag}")
        self.buffer = np.zeros((lag + 1, dim))
        self.head = 0

    def fill(self, value: np.ndarray) -> None:
        """Make the whole history equal to ``value`` (a reset: a new episode never sees the last)."""
        self.buffer[:] = value

    def push(self, value: np.ndarray) -> None:
        self.head = (self.head + 1) % len(self.buffer)
        self.buffer[self.head] = value

    def get(self) -> np.ndarray:
        return self.buffer[(self.head + 1) % len(self.buffer)].copy()


class ObservationBuilder:
    """Builds the actor observation from plain MuJoCo state, exactly as the mjlab task does.

    Call :meth:`reset` after placing the robot, :meth:`record` after every physics step (lags
    count physics steps), and :meth:`build` once per policy step (or :meth:`sensed` for the lagged
    arrays, which :class:`LMOController` gives its :class:`~wbvla.lmo.onnx_policy.LegController`).
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
        self.dof = LagRing(2 * len(OBS_JOINTS), dof_lag)
        self.imu = LagRing(6, imu_lag)

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
        self.dof.fill(dof)
        self.imu.fill(imu)
        self.frames.reset()

    def record(self, data: mujoco.MjData) -> None:
        """Push the state after one physics step into the lag buffers."""
        dof, imu = self.current(data)
        self.dof.push(dof)
        self.imu.push(imu)

    def sensed(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The lagged sensor arrays: observed joint positions (relative to the default pose) and
        velocities, gyro (3,), projected gravity (3,); float32, as training's buffers hold them."""
        dof, imu = self.dof.get().astype(np.float32), self.imu.get().astype(np.float32)
        k = len(OBS_JOINTS)
        return dof[:k], dof[k:], imu[:3], imu[3:]

    def build(self, command: np.ndarray, last_action: np.ndarray, gait_phase: np.ndarray | None = None) -> np.ndarray:
        """The flattened observation (history * frame size,) for this policy step; ``gait_phase``
        (sin, cos) is required when the layout has the ``gait_phase`` term."""
        return self.frames.push(observation_frame(*self.sensed(), command, last_action, gait_phase))


class LMOController:
    """Runs an :class:`LMOPolicy` on a plain-MuJoCo X2: one :meth:`step` = one 50 Hz policy step."""

    def __init__(self, policy: LMOPolicy, model: mujoco.MjModel, prefix: str = ""):
        self.policy, self.model = policy, model
        self.builder = ObservationBuilder(model, policy.history, prefix=prefix, terms=policy.terms)
        self.legs_control = LegController(policy)
        self.idx = self.builder.idx
        self.legs = group_slice("legs")
        self.q_default = default_pose()
        self.leg_lo, self.leg_hi = limits("legs")

    @property
    def last_action(self) -> np.ndarray:
        """The leg action (12,) of the last step."""
        return self.legs_control.last_action

    @property
    def clock_steps(self) -> int:
        return self.legs_control.clock_steps

    def reset(self, data: mujoco.MjData) -> None:
        self.builder.reset(data)
        self.legs_control.reset()

    def step(self, data: mujoco.MjData, command: np.ndarray, arm_targets: np.ndarray | None = None) -> np.ndarray:
        """Observe, act, and advance the physics by one policy period; returns the leg actions."""
        legs = self.legs_control.step(*self.builder.sensed(), command)
        target = self.q_default.copy()
        target[self.legs] = np.clip(legs, self.leg_lo, self.leg_hi)
        if arm_targets is not None:
            target[group_slice("arms")] = arm_targets
        data.ctrl[self.idx.actuator] = target
        for _ in range(DECIMATION):
            mujoco.mj_step(self.model, data)
            self.builder.record(data)
        return self.legs_control.last_action
