"""What the X2 touches: its collision geoms by role, the scene's furniture, and the one fall test.

Roles of the robot's collision geoms (:class:`RobotGeoms`):

* **feet**   the two soles, the only parts that may bear the robot's weight on the floor;
* **hands**  each hand and gripper (the wrist roll link and everything below it): they grasp,
             push a cart handle and may brace on a table;
* **body**   everything else: pelvis, legs above the feet, waist, torso, head, and each arm from
             the shoulder down to the wrist.

**Furniture** (:func:`furniture_geoms`): the floor, every static body (walls, tables, shelves, the
drawer cabinet and its drawer) and every movable body tree of at least
:data:`FURNITURE_MIN_MASS` kg (the 50 kg cart, the 60 kg barbell plates). Light props (bags,
boxes, cartons, totes) are not furniture: the hands handle them and the legs may push them.

**The fall test** (:func:`fall_reason`, :func:`is_fallen`), used by the LMO's evaluation, every
locomotion backend, the task suite, the quickstart and the simulated robot of the runtime: the
robot is down when its pelvis is below :data:`FALL_HEIGHT`, its base is tilted more than
:data:`FALL_TILT` from upright, or a *body* geom touches furniture (a contact with ``dist < 0``):
a robot leaning on a table with its forearms, sitting on the floor or lying on a cart has fallen
even when its pelvis is high and level enough. Feet on anything and hands on anything do not
count. (RL training ends its episodes on height and tilt alone, with the same two numbers.)
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

import mujoco
import numpy as np

from wbvla.sim.robot import FOOT_GEOMS, X2Index

FALL_TILT = math.radians(60.0)
"""The robot is down when its base tilts more than this from upright ..."""
FALL_HEIGHT = 0.35
"""... or its pelvis is below this height (m) ..."""
FURNITURE_MIN_MASS = 5.0
"""... or a body geom touches furniture: static bodies and movable body trees at least this heavy
(kg). The heaviest prop a hand carries is a 2.1 kg tote; the lightest cart load 50 kg."""
HAND_ROOT_BODIES = ("left_wrist_roll_link", "right_wrist_roll_link")
"""The hand of each arm is this body and its subtree (hand, palm, fingers)."""


@dataclass(frozen=True)
class RobotGeoms:
    """Boolean masks over a model's geoms (``(ngeom,)`` each): the robot's geoms by role (visual
    geoms included: they never collide, so they never show up in a contact)."""

    robot: np.ndarray
    """Every geom of the robot."""
    feet: np.ndarray
    hands: np.ndarray
    body: np.ndarray
    """``robot`` minus ``feet`` and ``hands``."""


_ROBOT_GEOMS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def robot_geoms(model: mujoco.MjModel, idx: X2Index) -> RobotGeoms:
    """The robot's collision geoms by role in ``model`` (cached per model)."""
    cached = _ROBOT_GEOMS.get(model)
    if cached is not None and cached[0] == idx.base_body:
        return cached[1]
    prefix = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, idx.base_body)[: -len("pelvis")]
    robot = model.body_rootid[model.geom_bodyid] == model.body_rootid[idx.base_body]
    feet = np.zeros(model.ngeom, bool)
    for name in FOOT_GEOMS:
        feet[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, prefix + name)] = True
    hand_bodies = {mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, prefix + n) for n in HAND_ROOT_BODIES}
    in_hand = np.zeros(model.nbody, bool)
    for b in range(model.nbody):  # parents come before children in MuJoCo's body order
        in_hand[b] = b in hand_bodies or (b > 0 and in_hand[model.body_parentid[b]])
    hands = robot & in_hand[model.geom_bodyid]
    geoms = RobotGeoms(robot=robot, feet=feet & robot, hands=hands, body=robot & ~feet & ~hands)
    _ROBOT_GEOMS[model] = (idx.base_body, geoms)
    return geoms


def furniture_geoms(model: mujoco.MjModel, idx: X2Index, min_mass: float = FURNITURE_MIN_MASS) -> np.ndarray:
    """Boolean mask ``(ngeom,)``: collision geoms of the floor, static bodies and movable body
    trees of at least ``min_mass`` kg other than the robot (see the module docstring)."""
    body = model.geom_bodyid
    root = model.body_rootid[body]
    static = model.body_weldid[body] == 0
    on_static = model.body_weldid[root] == 0  # a drawer on its cabinet
    heavy = model.body_subtreemass[root] >= min_mass
    return (static | on_static | heavy) & ~robot_geoms(model, idx).robot


@dataclass(frozen=True)
class Touch:
    """One contact between a robot geom and a scene geom."""

    robot_geom: int
    other_geom: int
    dist: float
    """Signed distance (m); negative: penetration."""
    normal: np.ndarray
    """Unit contact normal (3,) pointing from the robot geom into the other geom."""


def touches(model: mujoco.MjModel, data: mujoco.MjData, robot_mask: np.ndarray, other_mask: np.ndarray,
            max_dist: float = 0.0) -> list[Touch]:
    """Contacts in ``data.contact`` between a geom in ``robot_mask`` and one in ``other_mask`` with
    ``dist < max_dist`` (the contacts of the last collision pass)."""
    n = data.ncon
    if n == 0:
        return []
    geom = data.contact.geom[:n]  # (n, 2)
    dist = data.contact.dist[:n]  # (n,)
    first = robot_mask[geom[:, 0]] & other_mask[geom[:, 1]]
    second = robot_mask[geom[:, 1]] & other_mask[geom[:, 0]]
    out = []
    for i in np.flatnonzero((first | second) & (dist < max_dist)):
        normal = data.contact.frame[i, :3].copy()  # from geom1 to geom2
        if first[i]:
            out.append(Touch(int(geom[i, 0]), int(geom[i, 1]), float(dist[i]), normal))
        else:
            out.append(Touch(int(geom[i, 1]), int(geom[i, 0]), float(dist[i]), -normal))
    return out


def near(model: mujoco.MjModel, data: mujoco.MjData, robot_mask: np.ndarray, other_mask: np.ndarray,
         within: float) -> list[Touch]:
    """Pairs of a ``robot_mask`` geom and an ``other_mask`` geom closer than ``within`` (m) in the
    current kinematics of ``data`` (call ``mj_kinematics`` first): MuJoCo's collision detection
    with the robot geoms' margins widened to ``within`` for this one call (restored after).
    Overwrites ``data.contact``."""
    margin = model.geom_margin.copy()
    try:
        model.geom_margin[robot_mask] = np.maximum(margin[robot_mask], within)
        mujoco.mj_collision(model, data)
    finally:
        model.geom_margin[:] = margin
    return touches(model, data, robot_mask, other_mask, max_dist=within)


def tilt(data: mujoco.MjData, idx: X2Index) -> float:
    """Angle (rad) between the base's up axis and world up."""
    b = idx.base_qpos
    w, x, y, z = data.qpos[b + 3 : b + 7]
    up_z = 1.0 - 2.0 * (x * x + y * y)  # world z of the base's up axis (unit quaternion)
    return float(np.arccos(np.clip(up_z, -1.0, 1.0)))


def fall_reason(data: mujoco.MjData, idx: X2Index) -> str | None:
    """Why the robot is down, or None when it is not (see the module docstring): ``"height"``,
    ``"tilt"`` or ``"contact: <robot geom> on <furniture geom>"``. Reads ``data.contact``: call it
    after a physics step or ``mj_forward``."""
    b = idx.base_qpos
    if data.qpos[b + 2] < FALL_HEIGHT:
        return "height"
    if tilt(data, idx) > FALL_TILT:
        return "tilt"
    model = data.model
    hits = touches(model, data, robot_geoms(model, idx).body, furniture_geoms(model, idx))
    if hits:
        worst = min(hits, key=lambda t: t.dist)
        names = (mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, g) or f"geom {g}" for g in (worst.robot_geom, worst.other_geom))
        return "contact: {} on {}".format(*names)
    return None


def is_fallen(data: mujoco.MjData, idx: X2Index) -> bool:
    """The one fall test (:func:`fall_reason` is not None)."""
    return fall_reason(data, idx) is not None
