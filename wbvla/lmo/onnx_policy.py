"""The LMO's inference, numpy + onnxruntime only (no torch, MuJoCo or mjlab at import): the robot
side of the deployment runs this, and the simulated controllers run the same code.

* :class:`LMOPolicy`: an exported policy (``wbvla.lmo.export`` ONNX with its metadata);
* :class:`ObservationHistory`: the actor observation from one frame of terms per policy step, in
  the layout of training (:data:`wbvla.lmo.obs_layout.OBS_TERMS`, per-term history, oldest first;
  the first frame after a reset fills the whole history, as mjlab does);
* :func:`observation_frame`: one frame of terms from the proprioception arrays (observed joints
  relative to the default pose, gyro, projected gravity), the command and the last action;
  :func:`observed_joints` picks the observed joints out of the robot's 29 (canonical order);
* :class:`LegController`: one 50 Hz policy step on those arrays: the gait clock and reference gait
  of a policy that has them, the observation, the ONNX policy, the leg targets. The robot side
  (:class:`wbvla.control.lmo.LMOStage`) and the MuJoCo controller of the LMO's evaluation
  (:class:`wbvla.lmo.policy.LMOController`) both run it: one observation builder, one clock, one
  action mapping.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import deque
from pathlib import Path

import numpy as np

from wbvla.lmo.gait import (
    advance_clock,
    clock_phase,
    gait_observation,
    gait_swing,
    reference_leg_offsets,
    stance_leg_offsets,
)
from wbvla.lmo.lever_config import GAIT_TERM
from wbvla.lmo.obs_layout import OBS_JOINTS, OBS_TERMS
from wbvla.sim.joints import default_pose, group_slice, joint_names

_ORDER = {n: i for i, n in enumerate(joint_names())}
OBS_SEL = np.array([_ORDER[n] for n in OBS_JOINTS])
"""Indices of the observed joints inside the canonical 29-joint vector."""


class LMOPolicy:
    """An exported LMO (or baseline) policy run with onnxruntime on the CPU."""

    def __init__(self, onnx_path: Path, threads: int = 1):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.path = Path(onnx_path)
        if not self.path.exists():
            raise FileNotFoundError(f"no ONNX policy at {self.path}")
        self.session = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
        meta = self.session.get_modelmeta().custom_metadata_map
        missing = [k for k in ("observation_history", "action_scale", "wbvla_task") if k not in meta]
        if missing:
            raise ValueError(f"{self.path} lacks wbvla metadata {missing}; export it with wbvla.lmo.export")
        self.terms = tuple((str(n), int(d)) for n, d in json.loads(meta["observation_terms"]))
        """Actor observation terms: the paper's six, plus ``gait_phase`` for a gait-clock policy."""
        if self.terms not in (OBS_TERMS, OBS_TERMS + (GAIT_TERM,)):
            raise ValueError(f"{self.path} was trained with another observation layout: {meta['observation_terms']}")
        self.gait_period_s = float(meta["gait_period_s"]) if "gait_period_s" in meta else None
        """Period of the gait clock (s), None for a policy without one (the paper's observation)."""
        if (self.gait_period_s is None) != (GAIT_TERM not in self.terms):
            raise ValueError(f"{self.path}: a gait_phase observation term needs gait_period_s metadata and vice versa")
        self.reference_amplitude = float(meta.get("reference_amplitude", 0.0))
        """A of the sinusoid reference gait added to the leg targets (0: the paper's default + scale a)."""
        self.stance_posture = meta.get("stance_posture", "false") == "true"
        """Whether the squat posture of h* is added to the leg targets (:func:`wbvla.lmo.gait.stance_leg_offsets`)."""
        self.metadata = meta
        self.history = int(meta["observation_history"])
        scale = np.asarray(json.loads(meta["action_scale"]), np.float64)  # one float (old files) or 12
        self.action_scale = np.broadcast_to(scale, (12,)).copy()
        """Per-joint leg action scale (12,), rad per action unit."""
        self.task = meta["wbvla_task"]
        self.control_dt = float(meta.get("control_dt", "0.02"))
        """The policy's step (s): 50 Hz (the gait clock counts these steps)."""
        self.obs_dim = int(self.session.get_inputs()[0].shape[1])
        self._buf = np.zeros((1, self.obs_dim), np.float32)

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Leg actions (12,) for one flattened observation (D,)."""
        self._buf[0] = obs
        return self.session.run(None, {"obs": self._buf})[0][0]


def latency_ms(policy: LMOPolicy, calls: int = 2000, seed: int = 0) -> dict:
    """Median / p90 wall time of one ``policy.act`` call (ms) on this machine."""
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(calls, policy.obs_dim)).astype(np.float32)
    for x in obs[:50]:
        policy.act(x)
    times = []
    for x in obs:
        t0 = time.perf_counter()
        policy.act(x)
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return {"median_ms": statistics.median(times), "p90_ms": times[int(0.9 * len(times))], "calls": calls}


class ObservationHistory:
    """The flattened actor observation (history * frame size,) float32 from one frame per policy
    step: ``{term: (dim,) array}`` for each of ``terms``."""

    def __init__(self, history: int, terms: tuple[tuple[str, int], ...] = OBS_TERMS):
        self.history, self.terms = int(history), tuple(terms)
        self.frames: dict[str, deque] = {}

    def reset(self) -> None:
        self.frames = {}

    def push(self, frame: dict[str, np.ndarray]) -> np.ndarray:
        out = []
        for name, dim in self.terms:
            value = np.asarray(frame[name], np.float32)
            if value.shape != (dim,):
                raise ValueError(f"observation term {name!r} should have shape ({dim},), got {value.shape}")
            if name in self.frames:
                self.frames[name].append(value)
            else:  # the first frame after a reset fills the whole history, as mjlab does
                self.frames[name] = deque([value] * self.history, maxlen=self.history)
            out.extend(self.frames[name])
        return np.concatenate(out).astype(np.float32)


Q0_OBS = default_pose()[OBS_SEL]
"""Default pose of the observed joints (``joint_pos`` is relative to it)."""
LEGS = group_slice("legs")


def observed_joints(q: np.ndarray, dq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The observed joints' positions relative to the default pose and their velocities, from
    q, dq (29,) in canonical joint order."""
    return np.asarray(q)[OBS_SEL] - Q0_OBS, np.asarray(dq)[OBS_SEL]


def observation_frame(joint_pos: np.ndarray, joint_vel: np.ndarray, gyro: np.ndarray, gravity: np.ndarray,
                      command: np.ndarray, last_action: np.ndarray, gait_phase: np.ndarray | None = None
                      ) -> dict[str, np.ndarray]:
    """One observation frame: ``joint_pos`` / ``joint_vel`` of the observed joints (see
    :func:`observed_joints`), gyro (3,) base angular velocity in the base frame, gravity (3,) unit
    gravity direction in the base frame, the command (4,), the last leg action (12,) and, for a
    gait-clock policy, (sin, cos) of the gait phase."""
    return {"command": np.asarray(command, np.float32), "base_ang_vel": gyro, "projected_gravity": gravity,
            "joint_pos": joint_pos, "joint_vel": joint_vel, "last_action": np.asarray(last_action, np.float32),
            "gait_phase": gait_phase}


class LegController:
    """One LMO policy step on plain arrays (numpy + onnxruntime): gait clock, observation, ONNX,
    leg targets. Call :meth:`reset` at the start of an episode, :meth:`step` once per policy step."""

    def __init__(self, policy: LMOPolicy):
        self.policy = policy
        self.frames = ObservationHistory(policy.history, policy.terms)
        self.q_default = default_pose()[LEGS]
        self.last_action = np.zeros(12, np.float32)
        self.clock_steps = 0
        """Gait clock counter (policies with a clock; training's :class:`~wbvla.lmo.levers.GaitClock`)."""
        self._fresh = True

    def reset(self) -> None:
        self.frames.reset()
        self.last_action[:] = 0.0
        self.clock_steps, self._fresh = 0, True

    def step(self, joint_pos: np.ndarray, joint_vel: np.ndarray, gyro: np.ndarray, gravity: np.ndarray,
             command: np.ndarray) -> np.ndarray:
        """Leg PD targets (12,): default + r(phi) + s(h*) + action_scale * a (not yet clipped to the
        joint ranges; s only for a ``stance_posture`` policy); the action is kept as :attr:`last_action`."""
        gait, legs = None, self.q_default.copy()
        period = self.policy.gait_period_s
        if period is not None:  # the clock runs while the command moves the robot, as in training
            moving = bool(np.any(np.asarray(command[:3]) != 0))
            if not self._fresh:
                self.clock_steps = int(advance_clock(self.clock_steps, moving))
            phase = clock_phase(self.clock_steps, self.policy.control_dt, period)
            gait = gait_observation(phase).astype(np.float32)
            legs = legs + reference_leg_offsets(gait_swing(phase, np.asarray(moving)), self.policy.reference_amplitude)
        if self.policy.stance_posture:
            legs = legs + stance_leg_offsets(np.float64(command[3]))
        self._fresh = False
        obs = self.frames.push(observation_frame(joint_pos, joint_vel, gyro, gravity, command, self.last_action, gait))
        action = self.policy.act(obs)
        self.last_action = np.asarray(action, np.float32).copy()
        return legs + self.policy.action_scale * action
