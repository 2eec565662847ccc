"""The LMO actor observation's layout: terms, sizes, joint order (pure Python, no torch).

Training (:mod:`wbvla.lmo.proprio`, the mjlab terms, the CPU engine), the ONNX export and the
robot side (:mod:`wbvla.lmo.onnx_policy`) all read it from here.
"""

from __future__ import annotations

from wbvla.sim.joints import joint_names

OBS_JOINTS: tuple[str, ...] = joint_names("legs") + joint_names("waist") + joint_names("arms")
"""Joints whose position and velocity the policy observes (canonical order)."""
OBS_TERMS: tuple[tuple[str, int], ...] = (
    ("command", 4),
    ("base_ang_vel", 3),
    ("projected_gravity", 3),
    ("joint_pos", len(OBS_JOINTS)),
    ("joint_vel", len(OBS_JOINTS)),
    ("last_action", 12),
)
"""Actor observation terms and their per-frame sizes, in concatenation order."""
FRAME_DIM = sum(d for _, d in OBS_TERMS)


def obs_dim(history: int) -> int:
    """Length of the flattened actor observation."""
    return FRAME_DIM * history
