"""Small synthetic teleoperation episodes for the LeRobot v3 tests (tiny frames, few steps)."""

from __future__ import annotations

import numpy as np

from wbvla.data import teleop_schema as ts
from wbvla.data.lerobot_v3 import LeRobotV3Writer, teleop_features

SIZE = 32
TASKS = ("pick up the bag", "push the cart")


def episode(n: int, seed: int, size: int = SIZE) -> list[dict]:
    """``n`` frames: a smooth gradient with a bright square moving right (codec-friendly), random vectors."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    frames = []
    for t in range(n):
        img = np.stack([xx * 4 + 20 * seed % 60, yy * 4, np.full_like(xx, 90 + 10 * (seed % 5))], -1)
        x0 = (2 * t) % (size - 8)
        img[8:16, x0:x0 + 8] = (230, 200, 40)
        frames.append({ts.IMAGE_KEY: img.clip(0, 255).astype(np.uint8),
                       ts.STATE_KEY: rng.normal(size=ts.STATE_DIM).astype(np.float32),
                       ts.ACTION_KEY: rng.normal(size=ts.ACTION_DIM),  # float64: the writer casts
                       ts.REFERENCE_VELOCITY_KEY: rng.uniform(-1, 1, 3).astype(np.float32),
                       ts.SUBGOAL_KEY: int(t >= n // 2),
                       ts.PHASE_KEY: (t + seed) % (len(ts.EXPERT_PHASES) + 1) - 1})  # -1 (none) and every phase
    return frames


def write(root, lengths, seed: int = 0, writer: LeRobotV3Writer | None = None, **kwargs) -> tuple[LeRobotV3Writer, list]:
    """Write episodes of the given lengths (task alternating); returns the writer and the frames written."""
    w = writer or LeRobotV3Writer(root, features=teleop_features(SIZE), extra_meta={"locomotion_backend": "lmo"}, **kwargs)
    written = []
    for i, n in enumerate(lengths):
        frames = episode(n, seed + i)
        for f in frames:
            w.add_frame(f, task=TASKS[(w.num_episodes) % 2])
        w.save_episode()
        written.append(frames)
    w.finalize()
    return w, written


def stacked(frames: list[dict], key: str) -> np.ndarray:
    return np.stack([np.asarray(f[key]) for f in frames])
