"""The arm-motion clips replayed as Stage II perturbations and in the CoM-sway evaluation.

Two sources (App. A.2 replays AgiBot World manipulation trajectories):

* ``synthetic`` (:data:`CLIP_FILE`): :mod:`wbvla.sim.arm_motions`, procedurally generated 14-D arm
  joint paths in canonical order (the library every policy so far trained with, and the one the
  CoM-sway evaluation replays);
* ``teleop`` (:data:`TELEOP_CLIP_FILE`): the arm targets of the project's own teleoperation episodes
  (:func:`clips_from_teleop`; the scripted expert's raise, pre-grasp, grasp, lift, carry and put-down).
  These are the poses the LMO carries in the tasks: measured on the shipped LMO, walking with the
  expert's raised arms halved its forward speed (``tools/lmo_pulse_response.py``).

Both are shipped in ``data/lmo`` so training and evaluation do not depend on regenerating them;
``wbvla lmo-clips [--source teleop]`` rebuilds a file. :func:`load_clip_source` reads a source
(``both``: the two together).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from wbvla.data.teleop_schema import ACTION_KEY, ACTION_NAMES
from wbvla.io import atomic_path
from wbvla.lmo.lever_config import ARM_CLIP_SOURCES
from wbvla.paths import data_dir
from wbvla.sim.arm_motions import arm_clip_library
from wbvla.sim.joints import check_targets, joint_names

CLIP_FILE = data_dir() / "lmo" / "arm_clips.npz"
"""The shipped clip library: arrays ``t_<k>`` (T,) seconds and ``q_<k>`` (T, 14) radians."""
TELEOP_CLIP_FILE = data_dir() / "lmo" / "arm_clips_teleop.npz"
"""The arm targets of teleoperation episodes, in the same layout (:func:`clips_from_teleop`)."""
CLIP_SOURCES = ARM_CLIP_SOURCES
"""Values of :attr:`~wbvla.lmo.lever_config.LeverConfig.arm_clips`."""


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



def clips_from_teleop(root: Path, max_clips: int = 64, min_seconds: float = 2.0) -> list[tuple[np.ndarray, np.ndarray]]:
    """One clip per teleoperation episode of the LeRobot dataset at ``root`` (at most ``max_clips``,
    episodes in index order, shorter than ``min_seconds`` skipped): its ``timestamp`` and the 14 arm
    PD targets of its ``action`` (:data:`wbvla.data.teleop_schema.ACTION_NAMES`)."""
    from wbvla.data.lerobot_v3.read import LeRobotV3Dataset  # lazy: pyarrow, pandas

    index = {n: i for i, n in enumerate(ACTION_NAMES)}
    arm = [index[f"{j}.target"] for j in joint_names("arms")]  # canonical arm order
    data = LeRobotV3Dataset(root)
    clips = []
    for ep in range(data.num_episodes):
        f = data.frames(ep, [ACTION_KEY, "timestamp"])
        t, q = np.asarray(f["timestamp"], np.float64), np.asarray(f[ACTION_KEY], np.float64)[:, arm]
        if len(t) >= 2 and t[-1] - t[0] >= min_seconds:
            clips.append((t - t[0], q))
        if len(clips) == max_clips:
            break
    if not clips:
        raise ValueError(f"{root}: no teleoperation episode of at least {min_seconds} s")
    return clips


def load_clip_source(source: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """The clips of ``source`` (:data:`CLIP_SOURCES`)."""
    if source not in CLIP_SOURCES:
        raise ValueError(f"clip source must be one of {CLIP_SOURCES}, got {source!r}")
    files = {"synthetic": [CLIP_FILE], "teleop": [TELEOP_CLIP_FILE], "both": [CLIP_FILE, TELEOP_CLIP_FILE]}[source]
    return [clip for f in files for clip in load_clips(f)]
