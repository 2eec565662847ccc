"""The LMO's inference, numpy + onnxruntime only (no torch, MuJoCo or mjlab at import): the robot
side of the deployment runs this, and the simulated controllers run the same code.

* :class:`LMOPolicy`: an exported policy (``wbvla.lmo.export`` ONNX with its metadata);
* :class:`ObservationHistory`: the actor observation from one frame of terms per policy step, in
  the layout of training (:data:`wbvla.lmo.obs_layout.OBS_TERMS`, per-term history, oldest first;
  the first frame after a reset fills the whole history, as mjlab does);
* :func:`proprio_frame`: that frame from the robot's own arrays (canonical joint order, gyro,
  projected gravity), as a robot backend reads them.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import deque
from pathlib import Path

import numpy as np

from wbvla.lmo.lever_config import GAIT_TERM
from wbvla.lmo.obs_layout import OBS_JOINTS, OBS_TERMS
from wbvla.sim.joints import default_pose, joint_names

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
        self.metadata = meta
        self.history = int(meta["observation_history"])
        scale = np.asarray(json.loads(meta["action_scale"]), np.float64)  # one float (old files) or 12
        self.action_scale = np.broadcast_to(scale, (12,)).copy()
        """Per-joint leg action scale (12,), rad per action unit."""
        self.task = meta["wbvla_task"]
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


def proprio_frame(q: np.ndarray, dq: np.ndarray, gyro: np.ndarray, gravity: np.ndarray, command: np.ndarray,
                  last_action: np.ndarray) -> dict[str, np.ndarray]:
    """One observation frame from the robot's arrays: q, dq (29,) canonical joint order, gyro (3,)
    base angular velocity in the base frame, gravity (3,) unit gravity direction in the base frame."""
    q, dq = np.asarray(q), np.asarray(dq)
    return {"command": command, "base_ang_vel": gyro, "projected_gravity": gravity, "joint_pos": q[OBS_SEL] - Q0_OBS,
            "joint_vel": dq[OBS_SEL], "last_action": last_action}
