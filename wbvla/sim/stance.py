"""Statically balanced leg poses: standing and squatting with the centre of mass over mid-foot.

A pose is balanced when the whole-body centre of mass lies above the middle of the feet; that is
how the default pose of the joint table was chosen, and how scripted squats lower the robot
without tipping it. For a knee angle ``k`` we solve the hip pitch ``h`` (feet flat, pelvis level:
ankle pitch = -(h + k)) by root finding on the horizontal CoM offset.
"""

from __future__ import annotations

from functools import lru_cache

import mujoco
import numpy as np
from scipy.optimize import brentq

from wbvla.sim.joints import default_pose, group_slice
from wbvla.sim.robot import X2_XML, X2Index, base_height_for
from wbvla.validation import in_range

KNEE_RANGE = (0.2, 1.4)
"""Knee angles (rad) of balanced stances: near-upright to the deepest squat the ankle pitch
limit (-0.80 rad) allows with flat feet."""


def leg_pose(hip_pitch: float, knee: float, q: np.ndarray | None = None) -> np.ndarray:
    """Full joint vector (29,) with both legs at ``hip_pitch``/``knee`` and flat feet."""
    q = default_pose() if q is None else np.array(q, dtype=np.float64)
    legs = q[group_slice("legs")].copy()
    for s in (0, 6):  # left, right
        legs[s + 0], legs[s + 3], legs[s + 4] = hip_pitch, knee, -(hip_pitch + knee)
        legs[s + 1] = legs[s + 2] = legs[s + 5] = 0.0
    q[group_slice("legs")] = legs
    return q


class _Balancer:
    def __init__(self) -> None:
        self.model = mujoco.MjModel.from_xml_path(str(X2_XML))
        self.data = mujoco.MjData(self.model)
        self.idx = X2Index.from_model(self.model)
        self.foot = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_GEOM, "left_foot_collision")

    def com_offset(self, q: np.ndarray) -> float:
        """Horizontal CoM minus mid-foot x (m) for pose ``q`` with the base at the origin."""
        self.data.qpos[:] = 0.0
        self.data.qpos[3] = 1.0
        self.data.qpos[self.idx.qpos] = q
        mujoco.mj_kinematics(self.model, self.data)
        mujoco.mj_comPos(self.model, self.data)
        return float(self.data.subtree_com[self.idx.base_body][0] - self.data.geom_xpos[self.foot][0])


@lru_cache(maxsize=1)
def _balancer() -> _Balancer:
    return _Balancer()


@lru_cache(maxsize=256)
def _balanced_hip(knee: float, upper: tuple[float, ...]) -> float:
    q_upper = default_pose()
    q_upper[group_slice("legs").stop :] = upper
    bal = _balancer()
    return brentq(lambda h: bal.com_offset(leg_pose(h, knee, q_upper)), -1.5, 0.5, xtol=1e-5)


def balanced_pose(knee: float, q: np.ndarray | None = None) -> np.ndarray:
    """The balanced pose (29,) at knee angle ``knee``; upper body from ``q`` (default pose)."""
    in_range("knee", knee, *KNEE_RANGE)
    q = default_pose() if q is None else np.asarray(q, dtype=np.float64)
    upper = tuple(float(v) for v in q[group_slice("legs").stop :])
    return leg_pose(_balanced_hip(round(float(knee), 6), upper), knee, q)


def squat_pose(base_height: float, q: np.ndarray | None = None) -> np.ndarray:
    """The balanced pose (29,) whose pelvis stands ``base_height`` metres above the floor.

    Raises:
        ValueError: the height is outside what balanced stances reach (the message says the range).
    """
    lo, hi = stance_height_range()
    in_range("base_height", base_height, lo, hi)
    knee = brentq(lambda k: base_height_for(balanced_pose(k, q)) - base_height, *KNEE_RANGE, xtol=1e-5)
    return balanced_pose(knee, q)


@lru_cache(maxsize=1)
def stance_height_range() -> tuple[float, float]:
    """Lowest and highest pelvis heights (m) of balanced stances over :data:`KNEE_RANGE`."""
    heights = [base_height_for(balanced_pose(k)) for k in KNEE_RANGE]
    return min(heights), max(heights)
