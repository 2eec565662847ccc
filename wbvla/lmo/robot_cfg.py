"""The X2 as an mjlab entity, built from the same MJCF and joint table as the rest of wbvla.

Gains, torque limits and the default pose come from :mod:`wbvla.sim.joints` (one source of
truth): each joint gets one mjlab ``BuiltinPositionActuatorCfg`` (a MuJoCo ``<position>``
actuator, ``tau = kp (target - q) - kd qdot`` clipped to the official effort limit). Collisions
are declared with mjlab's ``CollisionCfg``: every ``*_collision`` geom touches the floor, the
robot does not collide with itself (as in ``x2.xml``), feet get 3-D friction and priority.
"""

from __future__ import annotations

from mjlab.actuator import BuiltinPositionActuatorCfg
from mjlab.entity import EntityArticulationInfoCfg, EntityCfg
from mjlab.utils.spec_config import CollisionCfg

from wbvla.sim.joints import JOINTS
from wbvla.sim.robot import FOOT_GEOMS, base_height_for, x2_spec

FOOT_GEOM_EXPR = r"^(left|right)_foot_collision$"
FOOT_SITES = ("left_foot", "right_foot")
"""Sites at the sole centres (world z = sole height)."""
FOOT_BODIES = ("left_ankle_roll_link", "right_ankle_roll_link")
KNEE_BODIES = ("left_knee_link", "right_knee_link")
HAND_BODIES = ("left_wrist_roll_link", "right_wrist_roll_link")
TORSO_BODY = "torso_link"
BASE_BODY = "pelvis"

X2_COLLISION = CollisionCfg(
    geom_names_expr=(".*_collision",),
    # Same bitmasks as x2.xml: robot contype=2 / conaffinity=1 collides with the floor
    # (contype=1) but not with itself (2 & 1 == 0).
    contype=2,
    conaffinity=1,
    condim={FOOT_GEOM_EXPR: 3, ".*": 3},
    priority={FOOT_GEOM_EXPR: 1, ".*": 0},
    friction={FOOT_GEOM_EXPR: (1.0, 0.02, 0.01)},
)


def x2_actuators() -> tuple[BuiltinPositionActuatorCfg, ...]:
    """One position actuator per actuated joint, gains and effort limit from the joint table."""
    return tuple(
        BuiltinPositionActuatorCfg(
            target_names_expr=(f"^{j.name}$",),
            stiffness=j.kp,
            damping=j.kd,
            effort_limit=j.effort_limit,
        )
        for j in JOINTS
    )


def x2_init_state() -> EntityCfg.InitialStateCfg:
    """The default (statically balanced) stance with the soles on the floor."""
    return EntityCfg.InitialStateCfg(
        pos=(0.0, 0.0, base_height_for()),
        joint_pos={f"^{j.name}$": j.default for j in JOINTS} | {".*_gripper_mirror_joint": JOINTS[-1].default},
        joint_vel={".*": 0.0},
    )


def x2_entity_cfg() -> EntityCfg:
    """A fresh mjlab ``EntityCfg`` of the X2 (new instance per call; configs get mutated)."""
    assert len(FOOT_GEOMS) == 2
    return EntityCfg(
        init_state=x2_init_state(),
        spec_fn=lambda: x2_spec(actuated=False),
        articulation=EntityArticulationInfoCfg(
            actuators=x2_actuators(), soft_joint_pos_limit_factor=0.95
        ),
        collisions=(X2_COLLISION,),
        sort_actuators=True,
    )
