"""Privileged success checks of the three tasks' Table 2 subgoals, all in this one module.

A check is a pure function ``check(state, start, thresholds) -> bool`` of two
:class:`SceneState` snapshots (now, and at the start of the trial) and the documented
:class:`SubgoalThresholds`; :func:`read_state` takes the snapshot from a simulated scene, so the
checks can be unit-tested on hand-made states. :class:`SubgoalTracker` evaluates a task's two
subgoals sequentially as App. B.3 does: the second is only judged once the first has succeeded
(a failed first subgoal fails the second), a subgoal counts as achieved the first time its check
holds, and a fall ends the trial (remaining subgoals fail, the fall is recorded as such).

| task | subgoal | holds when |
| --- | --- | --- |
| bag_packing | grasp_bags | both grippers touch the bag and it is >= ``lift_height`` above its start |
| bag_packing | move_and_squat | the bag is inside the carton's inner volume, released, the carton upright |
| box_loading | squat_and_grasp | both grippers touch the tote and it is >= ``lift_height`` above its start |
| box_loading | rise_and_turn | the tote rests on the cart deck (inside its outline, touching it), released, upright |
| cart_pushing | grab_handle | both grippers are closed on the handle (both fingers of each touch it) |
| cart_pushing | push_ahead | the cart moved >= ``push_distance`` along its start heading, within the lateral and heading tolerances, both hands still on the handle |

Contacts are those of the last physics step. A gripper *touches* an object when one of its fingers
does, and *pinches* it when both do. A carried load is judged by touch plus lift (nothing but the
hands can lift it off the table; a heavy tote hangs on the lower fingers, which the grip force
cannot close on), *released* means no finger touches it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mujoco
import numpy as np

from wbvla.data.teleop_schema import SUBGOALS, TASKS
from wbvla.sim.angles import wrap_angle
from wbvla.sim.contacts import fall_reason
from wbvla.sim.robot import TCP_SITES
from wbvla.sim.scene import Scene
from wbvla.validation import positive, require

SIDES = ("left", "right")
FINGERS = {s: (f"{s}_finger_a_collision", f"{s}_finger_b_collision") for s in SIDES}


@dataclass(frozen=True)
class SubgoalThresholds:
    """The numbers behind every check (metres, degrees)."""

    lift_height: float = 0.03
    """A grasped bag / tote must be this far above its start height (off the table)."""
    place_margin: float = 0.0
    """The bag's centre must lie this far inside the carton's inner walls (x and y)."""
    container_tilt_deg: float = 30.0
    """The carton (bag packing) must be tilted less than this (it was not knocked over)."""
    object_tilt_deg: float = 20.0
    """The placed tote must be tilted less than this (it rests flat on the deck)."""
    deck_gap: float = 0.02
    """The tote's bottom must be within this height above the cart deck's top surface."""
    push_distance: float = 1.0
    """The cart must move at least this far along its start heading (the paper: several metres
    on the real robot; 1 m keeps a trial short in simulation)."""
    push_lateral_tol: float = 0.25
    """... with at most this sideways drift of its centre ..."""
    push_heading_tol_deg: float = 15.0
    """... and its heading within this of the start heading."""

    def __post_init__(self) -> None:
        for name in ("lift_height", "deck_gap", "push_distance", "push_lateral_tol"):
            positive(name, getattr(self, name))
        positive("place_margin", self.place_margin, allow_zero=True)
        for name in ("container_tilt_deg", "object_tilt_deg", "push_heading_tol_deg"):
            require(0 < getattr(self, name) < 90, f"{name} must be in (0, 90) degrees, got {getattr(self, name)!r}")


@dataclass(frozen=True)
class SceneState:
    """What the checks see: a snapshot of the scene (world frame)."""

    time: float
    """Simulated time (s)."""
    fallen: bool
    """The robot is down (:func:`wbvla.sim.contacts.is_fallen`: pelvis too low, base too tilted, or
    a body part other than the feet and hands on the floor or furniture)."""
    base_pos: np.ndarray
    """Pelvis position (3,)."""
    base_yaw: float
    """Pelvis heading (rad)."""
    poses: dict[str, tuple[np.ndarray, np.ndarray]]
    """Each task object's position (3,) (its body origin: the bottom centre for bags, totes,
    cartons and carts) and rotation matrix (3, 3)."""
    sizes: dict[str, np.ndarray]
    """Each object's half-extents (3,) in its own frame (``SceneObject.size``)."""
    touched_by: dict[str, frozenset[str]] = field(default_factory=dict)
    """For each object, the grippers (``left`` / ``right``) with a finger touching it."""
    pinched_by: dict[str, frozenset[str]] = field(default_factory=dict)
    """For each object, the grippers whose two fingers both touch it."""
    touching: frozenset[frozenset[str]] = frozenset()
    """Unordered pairs of objects in contact (object names, ``floor`` for the ground)."""
    deck_top: dict[str, float] = field(default_factory=dict)
    """Height (m) of each cart deck's top surface above the cart's origin."""
    tcp: dict[str, np.ndarray] = field(default_factory=dict)
    """Each hand's tool-centre-point position (3,)."""
    fall_reason: str | None = None
    """Why the robot is down (:func:`wbvla.sim.contacts.fall_reason`), None when it is not."""


def _yaw(rot: np.ndarray) -> float:
    return float(np.arctan2(rot[1, 0], rot[0, 0]))


def _tilt_deg(rot: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip(rot[2, 2], -1.0, 1.0))))


def read_state(scene: Scene) -> SceneState:
    """Snapshot ``scene`` (kinematics and contacts of its last step) for the checks."""
    m, d, idx = scene.model, scene.data, scene.robot
    root_name = {}
    for name in scene.objects:
        bid = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, name)
        if bid >= 0:
            root_name[bid] = name
    geom_owner: dict[int, str] = {}
    for g in range(m.ngeom):
        root = int(m.body_rootid[m.geom_bodyid[g]])
        if root in root_name:
            geom_owner[g] = root_name[root]
        elif m.geom_bodyid[g] == 0:
            geom_owner[g] = "floor"
    finger_ids = {mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, f): (s, f) for s, fs in FINGERS.items() for f in fs}
    finger_touch: dict[str, dict[str, set[str]]] = {}
    touching = set()
    for c in d.contact[: d.ncon]:
        g1, g2 = int(c.geom1), int(c.geom2)
        for a, b in ((g1, g2), (g2, g1)):
            if a in finger_ids and b in geom_owner:
                side, finger = finger_ids[a]
                finger_touch.setdefault(geom_owner[b], {}).setdefault(side, set()).add(finger)
        if g1 in geom_owner and g2 in geom_owner and geom_owner[g1] != geom_owner[g2]:
            touching.add(frozenset((geom_owner[g1], geom_owner[g2])))
    touched_by = {obj: frozenset(sides) for obj, sides in finger_touch.items()}
    pinched_by = {obj: frozenset(s for s, fingers in sides.items() if len(fingers) == 2) for obj, sides in finger_touch.items()}
    poses = {n: (d.body(n).xpos.copy(), d.body(n).xmat.reshape(3, 3).copy())
             for n in scene.objects if mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, n) >= 0}
    deck_top = {n: float(o.top_z) for n, o in scene.objects.items() if o.kind == "cart"}
    base = d.xpos[idx.base_body].copy()
    why_down = fall_reason(d, idx)
    return SceneState(
        time=float(d.time), fallen=why_down is not None, fall_reason=why_down, base_pos=base,
        base_yaw=_yaw(d.xmat[idx.base_body].reshape(3, 3)), poses=poses,
        sizes={n: np.asarray(o.size, float) for n, o in scene.objects.items()}, touched_by=touched_by, pinched_by=pinched_by,
        touching=frozenset(touching), deck_top=deck_top,
        tcp={s: d.site(site).xpos.copy() for s, site in zip(SIDES, TCP_SITES, strict=True)},
    )


# ---------------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------------
def _both(sides: dict[str, frozenset[str]], obj: str) -> bool:
    return sides.get(obj, frozenset()) == frozenset(SIDES)


def _released(state: SceneState, obj: str) -> bool:
    return not state.touched_by.get(obj)


def _in_frame(state: SceneState, point: np.ndarray, obj: str) -> np.ndarray:
    pos, rot = state.poses[obj]
    return rot.T @ (np.asarray(point) - pos)


def _grasped_and_lifted(state: SceneState, start: SceneState, obj: str, th: SubgoalThresholds) -> bool:
    lifted = state.poses[obj][0][2] - start.poses[obj][0][2] >= th.lift_height
    return _both(state.touched_by, obj) and bool(lifted)


def grasp_bags(state: SceneState, start: SceneState, th: SubgoalThresholds) -> bool:
    """Bag packing 1: both grippers touch the bag, lifted >= ``lift_height`` off its start."""
    return _grasped_and_lifted(state, start, "bag", th)


def move_and_squat(state: SceneState, start: SceneState, th: SubgoalThresholds) -> bool:
    """Bag packing 2: the bag's centre is inside the carton's inner walls (minus ``place_margin``)
    and below its rim, no finger touches the bag, and the carton is tilted < ``container_tilt_deg``."""
    if not _released(state, "bag"):
        return False
    half = state.sizes["carton"]
    wall = 0.006
    centre = state.poses["bag"][0] + state.poses["bag"][1] @ np.array([0.0, 0.0, state.sizes["bag"][2]])
    local = _in_frame(state, centre, "carton")
    inside_xy = bool(np.all(np.abs(local[:2]) <= half[:2] - wall - th.place_margin))
    below_rim = bool(0.0 <= local[2] <= 2 * half[2])
    return inside_xy and below_rim and _tilt_deg(state.poses["carton"][1]) < th.container_tilt_deg


def squat_and_grasp(state: SceneState, start: SceneState, th: SubgoalThresholds) -> bool:
    """Box loading 1: both grippers touch the tote, lifted >= ``lift_height`` off its start."""
    return _grasped_and_lifted(state, start, "box", th)


def rise_and_turn(state: SceneState, start: SceneState, th: SubgoalThresholds) -> bool:
    """Box loading 2: the tote touches the cart, its centre lies inside the deck outline, its
    bottom is within ``deck_gap`` above the deck top, it is tilted < ``object_tilt_deg``, and no
    finger touches it."""
    if not _released(state, "box") or frozenset(("box", "cart")) not in state.touching:
        return False
    local = _in_frame(state, state.poses["box"][0], "cart")
    deck = state.sizes["cart"]
    on_deck = bool(np.all(np.abs(local[:2]) <= deck[:2]))
    gap = local[2] - state.deck_top["cart"]
    return on_deck and -0.01 <= gap <= th.deck_gap and _tilt_deg(state.poses["box"][1]) < th.object_tilt_deg


def grab_handle(state: SceneState, start: SceneState, th: SubgoalThresholds) -> bool:
    """Cart pushing 1: both grippers pinch the cart (both fingers of each on the handle)."""
    return _both(state.pinched_by, "cart")


def push_ahead(state: SceneState, start: SceneState, th: SubgoalThresholds) -> bool:
    """Cart pushing 2: the cart moved >= ``push_distance`` along its start heading with a lateral
    drift <= ``push_lateral_tol`` and a heading change <= ``push_heading_tol_deg``, both grippers
    touching it."""
    p0, r0 = start.poses["cart"]
    p1, r1 = state.poses["cart"]
    h0 = _yaw(r0)
    delta = p1[:2] - p0[:2]
    ahead = delta @ np.array([np.cos(h0), np.sin(h0)])
    lateral = delta @ np.array([-np.sin(h0), np.cos(h0)])
    heading = abs(np.degrees(wrap_angle(_yaw(r1) - h0)))
    return (bool(ahead >= th.push_distance) and abs(lateral) <= th.push_lateral_tol
            and heading <= th.push_heading_tol_deg and _both(state.touched_by, "cart"))


CHECKS = {
    "bag_packing": (grasp_bags, move_and_squat),
    "box_loading": (squat_and_grasp, rise_and_turn),
    "cart_pushing": (grab_handle, push_ahead),
}
"""The two checks of each task, in Table 2 order (names as in :data:`wbvla.data.teleop_schema.SUBGOALS`)."""
assert all(tuple(f.__name__ for f in CHECKS[t]) == SUBGOALS[t] for t in TASKS)


class SubgoalTracker:
    """Sequential evaluation of one trial (App. B.3). Call :meth:`update` with every new state."""

    def __init__(self, task: str, start: SceneState, thresholds: SubgoalThresholds | None = None):
        require(task in CHECKS, f"unknown task {task!r}; choose one of {tuple(CHECKS)}")
        self.task, self.start = task, start
        self.thresholds = thresholds or SubgoalThresholds()
        self.checks = CHECKS[task]
        self.times: list[float | None] = [None] * len(self.checks)
        """Simulated time (s since the start) at which each subgoal was first achieved."""
        self.fell = False
        self.fall_time: float | None = None
        self.fall_reason: str | None = None
        """What made it a fall (``height``, ``tilt`` or ``contact: <robot geom> on <geom>``)."""

    @property
    def current(self) -> int:
        """Index of the subgoal being worked on (== number achieved; 2 when all are)."""
        return sum(t is not None for t in self.times)

    @property
    def success(self) -> tuple[bool, ...]:
        return tuple(t is not None for t in self.times)

    @property
    def done(self) -> bool:
        """All subgoals achieved, or the robot fell."""
        return self.fell or self.current == len(self.checks)

    def update(self, state: SceneState) -> int:
        """Judge ``state``; returns :attr:`current`. A fall freezes the result."""
        if self.done:
            return self.current
        if state.fallen:
            self.fell, self.fall_time = True, state.time - self.start.time
            self.fall_reason = state.fall_reason
            return self.current
        k = self.current
        if self.checks[k](state, self.start, self.thresholds):
            self.times[k] = state.time - self.start.time
        return self.current
