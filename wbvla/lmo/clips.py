"""The arm-motion clips replayed as Stage II perturbations and in the CoM-sway evaluation.

The clips come from :mod:`wbvla.sim.arm_motions` (the project's stand-in for AgiBot World
manipulation trajectories: 14-D arm joint paths in canonical order). A small library is shipped
in ``data/lmo/arm_clips.npz`` so training and evaluation do not depend on regenerating it;
``wbvla lmo-clips`` rebuilds the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from wbvla.io import atomic_path
from wbvla.paths import data_dir
from wbvla.sim.arm_motions import arm_clip_library
from wbvla.sim.joints import check_targets

CLIP_FILE = data_dir() / "lmo" / "arm_clips.npz"
"""The shipped clip library: arrays ``t_<k>`` (T,) seconds and ``q_<k>`` (T, 14) radians."""


def save_clips(clips: list[tuple[np.ndarray, np.ndarray]], path: Path = CLIP_FILE) -> Path:
    """Write clips atomically as one ``.npz``; every frame is checked against the arm limits."""
    arrays = {}
    for k, (t, q) in enumerate(clips):
        t, q = np.asarray(t, np.float32), np.asarray(q, np.float32)
        if q.ndim != 2 or q.shape[1] != 14 or t.shape != (q.shape[0],):
            raise ValueError(f"clip {k}: expected t (T,) and q (T, 14), got {t.shape} and {q.shape}")
        for frame in q:
            check_targets(frame, "arms", tol=1e-4)
        arrays[f"t_{k}"], arrays[f"q_{k}"] = t, q
    with atomic_path(path) as tmp:
        np.savez_compressed(tmp, **arrays)
    return path


def load_clips(path: Path = CLIP_FILE) -> list[tuple[np.ndarray, np.ndarray]]:
    """Read a clip file written by :func:`save_clips`."""
    if not Path(path).exists():
        raise FileNotFoundError(
            f"no arm clip library at {path}; build it with `wbvla lmo-clips` "
            "(needs wbvla.sim.arm_motions)"
        )
    with np.load(path) as z:
        n = len([k for k in z.files if k.startswith("q_")])
        return [(z[f"t_{k}"].astype(np.float64), z[f"q_{k}"].astype(np.float64)) for k in range(n)]


def generate_clips(n: int = 32, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Fresh clips from :func:`wbvla.sim.arm_motions.arm_clip_library`."""
    return [(np.asarray(c.t), np.asarray(c.q)) for c in arm_clip_library(n, seed)]

