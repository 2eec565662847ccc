"""The X2 joint table: the single source of truth for joint order.

Every component that touches joints (the MJCF actuators, the mjlab LMO task, datasets, the
deploy loop) takes its order, limits, gains and default pose from :data:`JOINTS`.

Groups, in order:

* ``legs``     12  left hip pitch/roll/yaw, knee, ankle pitch/roll, then the right leg
* ``waist``     1  waist yaw (the paper's robot has a 1-DoF waist, App. B.1)
* ``arms``     14  left shoulder pitch/roll/yaw, elbow, wrist yaw/pitch/roll, then the right arm
* ``grippers``  2  one opening joint per parallel gripper (Omnipicker stand-in), in metres

Names, ranges and torque limits (``actuatorfrcrange``) are the official ones
(:mod:`wbvla.sim.official_x2`, from ``AgibotTech/agibot_x2_urdf`` ``X2-Ultra.xml``, Mulan PSL v2). Waist pitch/roll and
head yaw/pitch exist on the real X2 but are locked in the paper's configuration; we weld them
(:data:`LOCKED_JOINTS`). PD gains are ours, chosen for a 50 Hz policy over 200 Hz physics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wbvla.sim.official_x2 import JOINT_LIMITS

GROUPS: tuple[str, ...] = ("legs", "waist", "arms", "grippers")


@dataclass(frozen=True)
class JointSpec:
    """One actuated joint of the simulated X2."""

    name: str
    """Official joint name (``left_knee_joint``), or ``{side}_gripper_joint`` for the grippers."""
    group: str
    """One of :data:`GROUPS`."""
    lower: float
    """Lower position limit (rad; m for grippers)."""
    upper: float
    """Upper position limit (rad; m for grippers)."""
    effort_limit: float
    """Peak torque (N m; N for grippers): the official ``actuatorfrcrange``."""
    default: float
    """Position in the default standing pose (rad; m)."""
    kp: float
    """PD stiffness (N m/rad; N/m for grippers)."""
    kd: float
    """PD damping (N m s/rad; N s/m for grippers)."""

    def __post_init__(self) -> None:
        if self.group not in GROUPS:
            raise ValueError(f"joint {self.name!r}: group {self.group!r} is not one of {GROUPS}")
        if not self.lower < self.upper:
            raise ValueError(f"joint {self.name!r}: lower {self.lower} >= upper {self.upper}")
        if not self.lower <= self.default <= self.upper:
            raise ValueError(
                f"joint {self.name!r}: default {self.default} outside [{self.lower}, {self.upper}]"
            )
        if self.effort_limit <= 0 or self.kp <= 0 or self.kd < 0:
            raise ValueError(f"joint {self.name!r}: effort/kp must be > 0 and kd >= 0")


# Gains: (kp, kd) per joint type, kd = kp / 40. When the robot leans, hip, knee and ankle pitch
# yield together, so their PD springs act in series against gravity (~m g h = 265 N m/rad for the
# X2). Leg gains are therefore stiffer than the ~40 N m/rad ankles common in RL setups: with
# these, a plain PD hold of the default pose stands (tests/unit/test_x2_model.py), and the LMO
# policy learns on top of the same actuators. Wrist motors are 6 N m, so their gains are small.
_LEG_GAINS = {
    "hip_pitch": (200.0, 5.0),
    "hip_roll": (200.0, 5.0),
    "hip_yaw": (150.0, 3.75),
    "knee": (300.0, 7.5),
    "ankle_pitch": (300.0, 7.5),
    "ankle_roll": (150.0, 3.75),
}
_ARM_GAINS = {
    "shoulder_pitch": (60.0, 2.0),
    "shoulder_roll": (60.0, 2.0),
    "shoulder_yaw": (40.0, 1.5),
    "elbow": (40.0, 1.5),
    "wrist_yaw": (15.0, 0.5),
    "wrist_pitch": (10.0, 0.4),
    "wrist_roll": (10.0, 0.4),
}

# Default standing pose (rad) per joint type: the statically balanced stance (CoM over mid-foot,
# solved by wbvla.sim.stance) with slightly bent knees and arms hanging with a small elbow bend.
_DEFAULTS = {
    "hip_pitch": -0.23, "hip_roll": 0.0, "hip_yaw": 0.0, "knee": 0.5, "ankle_pitch": -0.27,
    "ankle_roll": 0.0, "shoulder_pitch": 0.0, "shoulder_roll": 0.0, "shoulder_yaw": 0.0,
    "elbow": -0.3, "wrist_yaw": 0.0, "wrist_pitch": 0.0, "wrist_roll": 0.0,
}

GRIPPER_OPEN = 0.04
"""Gripper opening joint travel (m): each finger slides this far from the closed position."""


def _official(name: str, group: str, default: float, kp: float, kd: float) -> JointSpec:
    lo, hi, effort = JOINT_LIMITS[name]
    return JointSpec(name, group, lo, hi, effort, default, kp, kd)


def _side_joints(gains: dict, group: str, side: str) -> list[JointSpec]:
    return [_official(f"{side}_{short}_joint", group, _DEFAULTS[short], *gains[short]) for short in gains]


JOINTS: tuple[JointSpec, ...] = (
    *_side_joints(_LEG_GAINS, "legs", "left"),
    *_side_joints(_LEG_GAINS, "legs", "right"),
    _official("waist_yaw_joint", "waist", 0.0, 200.0, 5.0),
    *_side_joints(_ARM_GAINS, "arms", "left"),
    *_side_joints(_ARM_GAINS, "arms", "right"),
    JointSpec("left_gripper_joint", "grippers", 0.0, GRIPPER_OPEN, 40.0, GRIPPER_OPEN, 800.0, 20.0),
    JointSpec("right_gripper_joint", "grippers", 0.0, GRIPPER_OPEN, 40.0, GRIPPER_OPEN, 800.0, 20.0),
)
"""All actuated joints in canonical order: legs (12), waist (1), arms (14), grippers (2)."""

LOCKED_JOINTS: tuple[str, ...] = (
    "waist_pitch_joint",
    "waist_roll_joint",
    "head_yaw_joint",
    "head_pitch_joint",
)
"""Official joints that are welded in the paper's configuration (1-DoF waist, fixed head)."""

JOINT_NAMES: tuple[str, ...] = tuple(j.name for j in JOINTS)
_BY_NAME = {j.name: j for j in JOINTS}


def joints_in(group: str | None = None) -> tuple[JointSpec, ...]:
    """The joints of one group (or all of them when ``group`` is None), in canonical order."""
    if group is None:
        return JOINTS
    if group not in GROUPS:
        raise ValueError(f"unknown joint group {group!r}; choose one of {GROUPS}")
    return tuple(j for j in JOINTS if j.group == group)


def joint_names(group: str | None = None) -> tuple[str, ...]:
    """Names of the joints of ``group`` (or all), in canonical order."""
    return tuple(j.name for j in joints_in(group))


def joint(name: str) -> JointSpec:
    """Look up one joint by its official name."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no actuated X2 joint named {name!r}; known: {JOINT_NAMES}") from None


def group_slice(group: str) -> slice:
    """Slice of ``group`` inside a vector ordered like :data:`JOINTS`."""
    idx = [i for i, j in enumerate(JOINTS) if j.group == group]
    if not idx:
        raise ValueError(f"unknown joint group {group!r}; choose one of {GROUPS}")
    return slice(idx[0], idx[-1] + 1)


def default_pose(group: str | None = None) -> np.ndarray:
    """Default standing pose of ``group`` (or all joints), shape ``(n,)``."""
    return np.array([j.default for j in joints_in(group)], dtype=np.float64)


def limits(group: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper position limits of ``group`` (or all joints), each of shape ``(n,)``."""
    js = joints_in(group)
    return np.array([j.lower for j in js]), np.array([j.upper for j in js])


def check_targets(q: np.ndarray, group: str | None = None, tol: float = 1e-6) -> np.ndarray:
    """Validate joint position targets for ``group``; returns them as a float array.

    Raises:
        ValueError: wrong length, non-finite values, or a target outside the joint's range
            (the message names the joint, the value and the range).
    """
    js = joints_in(group)
    q = np.asarray(q, dtype=np.float64)
    if q.shape != (len(js),):
        raise ValueError(
            f"expected {len(js)} joint targets for group {group or 'all'!r}, got shape {q.shape}"
        )
    for j, v in zip(js, q, strict=True):
        if not np.isfinite(v):
            raise ValueError(f"joint target for {j.name} is not finite: {v}")
        if v < j.lower - tol or v > j.upper + tol:
            raise ValueError(
                f"joint target {v:.4f} for {j.name} is outside its range [{j.lower:.4f}, {j.upper:.4f}]"
            )
    return q


def joint_table() -> list[dict]:
    """The joint table as rows (for pandas / display): name, group, limits, effort, default, gains."""
    return [
        {"index": i, "name": j.name, "group": j.group, "lower": j.lower, "upper": j.upper,
         "effort_limit": j.effort_limit, "default": j.default, "kp": j.kp, "kd": j.kd}
        for i, j in enumerate(JOINTS)
    ]
