"""Timing helpers for the simulated world: head-camera render time and physics throughput."""

from __future__ import annotations

import time

import mujoco
import numpy as np

from wbvla.sim.camera import CameraRenderer


def render_ms_per_frame(model: mujoco.MjModel, data: mujoco.MjData, camera: str, width: int, height: int,
                        frames: int = 100) -> float:
    """Median wall time (ms) to render one ``width`` x ``height`` frame of ``camera``."""
    with CameraRenderer(model, width, height) as r:
        r.render(data, camera)  # warm-up: context creation and texture upload
        times = []
        for _ in range(frames):
            t0 = time.perf_counter()
            r.render(data, camera)
            times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1000.0)


def physics_steps_per_s(model: mujoco.MjModel, data: mujoco.MjData, steps: int = 2000) -> float:
    """Single-threaded ``mj_step`` throughput (steps/s) from the current state (restored after)."""
    saved = (data.qpos.copy(), data.qvel.copy(), data.act.copy(), data.time)
    mujoco.mj_step(model, data)
    t0 = time.perf_counter()
    for _ in range(steps):
        mujoco.mj_step(model, data)
    rate = steps / (time.perf_counter() - t0)
    data.qpos[:], data.qvel[:], data.act[:] = saved[0], saved[1], saved[2]
    data.time = saved[3]
    mujoco.mj_forward(model, data)
    return float(rate)
