"""Scripted 14-DoF arm motions: reach, grasp, lift, place, push and wipe, single- or dual-arm.

These stand in for the arm trajectories of AgiBot World. The manipulation corpus renders them
(the X2's static head camera watching its arms), and the LMO replays them as structured upper-body
perturbations (paper App. A.2) and in the CoM-sway evaluation (App. B.4).

A clip is a list of task-space waypoints (TCP positions in the robot's *base frame*: origin on the
floor under the pelvis, x forward, y left, z up), solved by damped-least-squares IK
(:mod:`wbvla.sim.kinematics`) and joined by minimum-jerk interpolation in joint space.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from wbvla.sim.joints import GRIPPER_OPEN
from wbvla.sim.kinematics import READY_ARM_POSE, ArmKinematics, arm_slice
from wbvla.validation import one_of, positive

ARM_MOTION_KINDS: tuple[str, ...] = ("reach", "grasp", "lift", "place", "push", "wipe")
ARM_CHOICES: tuple[str, ...] = ("left", "right", "both")
DOWN = np.array([0.0, 0.0, -1.0])
FORWARD_DOWN = np.array([1.0, 0.0, -1.0]) / np.sqrt(2.0)  # a 45-degree pushing palm
CLOSED = 0.0


@dataclass(frozen=True)
class ArmClip:
    """One arm trajectory, sampled uniformly in time."""

    kind: str
    """One of :data:`ARM_MOTION_KINDS`."""
    arms: str
    """Which arm(s) move: ``left``, ``right`` or ``both``."""
    t: np.ndarray
    """Time stamps (s), shape (T,), starting at 0."""
    q: np.ndarray
    """Arm joint positions (rad) in canonical order (left 7, right 7), shape (T, 14)."""
    gripper: np.ndarray
    """Gripper openings (m), shape (T, 2) (left, right)."""
    keypoints: dict[str, np.ndarray] = field(default_factory=dict)
    """Task-space points the clip was built from (base frame, m)."""
    seed: int = 0

    @property
    def duration(self) -> float:
        return float(self.t[-1])


@dataclass(frozen=True)
class _Waypoint:
    duration: float  # seconds to reach this waypoint from the previous one
    q: np.ndarray  # (14,)
    grip: np.ndarray  # (2,)


class ClipBuilder:
    """Turns task-space waypoints into an :class:`ArmClip` (IK per waypoint, min-jerk between)."""

    def __init__(self, kinematics: ArmKinematics | None = None, hz: float = 50.0) -> None:
        positive("hz", hz)
        self.kin = kinematics or ArmKinematics()
        self.hz = hz

    def solve(self, q: np.ndarray, side: str, pos, axis) -> np.ndarray:
        """Arms ``q`` (14,) with ``side`` moved so its TCP reaches ``pos``; raises if unreachable."""
        pos = np.asarray(pos, float)
        axis = None if axis is None else np.asarray(axis, float)
        res = self.kin.solve(side, pos, axis, q_init=q)
        if not (res.position_error < 0.01 and res.axis_error < 0.35):
            res = self.kin.solve(side, pos, axis, q_init=READY_ARM_POSE)  # restart from ready
        if not (res.position_error < 0.01 and res.axis_error < 0.35):
            raise _Unreachable(f"{side} TCP cannot reach {np.round(pos, 3)} (err {res.position_error:.3f} m)")
        out = q.copy()
        out[arm_slice(side)] = res.q_arm
        return out

    def build(self, kind: str, arms: str, waypoints: list[_Waypoint], keypoints: dict, seed: int) -> ArmClip:
        qs, grips = [waypoints[0].q[None]], [waypoints[0].grip[None]]
        for prev, nxt in zip(waypoints[:-1], waypoints[1:], strict=True):
            n = max(2, int(round(nxt.duration * self.hz)))
            s = np.arange(1, n + 1) / n
            blend = (10 * s**3 - 15 * s**4 + 6 * s**5)[:, None]  # minimum-jerk profile
            qs.append(prev.q + blend * (nxt.q - prev.q))
            grips.append(prev.grip + blend * (nxt.grip - prev.grip))
        q = np.concatenate(qs)
        return ArmClip(kind, arms, np.arange(len(q)) / self.hz, q, np.concatenate(grips), keypoints, seed)


class _Unreachable(RuntimeError):
    pass


def _sample_object(rng: np.random.Generator, side: str, surface_z: float) -> np.ndarray:
    y_sign = {"left": 1.0, "right": -1.0, "both": 0.0}[side]
    # The standing X2 reaches table height with fingers down only up to ~0.35 m in front of the
    # base (measured with ArmKinematics on a grid), so objects are sampled inside that workspace.
    x = rng.uniform(0.22, 0.32)
    y = y_sign * rng.uniform(0.08, 0.22) if side != "both" else rng.uniform(-0.04, 0.04)
    return np.array([x, y, surface_z])


def _plan(kind: str, arms: str, rng: np.random.Generator, surface_z: float, obj: np.ndarray):
    """Yield (label, duration, {side: (pos, axis)}, gripper opening) task-space waypoints."""
    sides = ("left", "right") if arms == "both" else (arms,)
    half = rng.uniform(0.09, 0.16)  # dual-arm: half distance between the two handles

    def at(offset, axis=DOWN):
        pts = {}
        for s in sides:
            p = obj + offset
            if arms == "both":
                p = p + np.array([0.0, half if s == "left" else -half, 0.0])
            pts[s] = (p, axis)
        return pts

    grasp_h = rng.uniform(0.05, 0.09)  # grasp height above the surface
    pre_h = grasp_h + rng.uniform(0.08, 0.14)
    open_, closed = GRIPPER_OPEN, CLOSED
    dur = lambda lo=0.6, hi=1.1: float(rng.uniform(lo, hi))  # noqa: E731
    if kind == "reach":
        return [("pre", dur(), at([0, 0, pre_h]), open_), ("touch", dur(0.5, 0.8), at([0, 0, grasp_h]), open_),
                ("hold", dur(0.2, 0.4), at([0, 0, grasp_h]), open_), ("back", dur(), None, open_)]
    if kind == "grasp":
        return [("pre", dur(), at([0, 0, pre_h]), open_), ("grasp", dur(0.5, 0.8), at([0, 0, grasp_h]), open_),
                ("close", dur(0.3, 0.5), at([0, 0, grasp_h]), closed), ("hold", dur(0.2, 0.4), at([0, 0, grasp_h]), closed)]
    if kind == "lift":
        lift = rng.uniform(0.10, 0.20)
        return [("grasped", 0.0, at([0, 0, grasp_h]), closed), ("lift", dur(0.8, 1.4), at([0, 0, grasp_h + lift]), closed),
                ("hold", dur(0.3, 0.6), at([0, 0, grasp_h + lift]), closed)]
    if kind == "place":
        move = np.array([rng.uniform(-0.06, 0.06), rng.uniform(-0.12, 0.12) if arms == "both" else 0.0, 0.0])
        if arms != "both":
            move[1] = -np.sign(obj[1]) * rng.uniform(0.0, 0.08)
        carry = grasp_h + rng.uniform(0.12, 0.18)
        return [("carried", 0.0, at([0, 0, carry]), closed), ("over", dur(0.8, 1.3), at(move + [0, 0, carry]), closed),
                ("lower", dur(0.6, 0.9), at(move + [0, 0, grasp_h]), closed), ("release", dur(0.3, 0.5), at(move + [0, 0, grasp_h]), open_),
                ("retreat", dur(0.5, 0.8), at(move + [0, 0, pre_h]), open_)]
    if kind == "push":
        dist = rng.uniform(0.08, 0.14)
        h = rng.uniform(0.05, 0.08)
        return [("behind", dur(), at([-0.08, 0, h], FORWARD_DOWN), open_),
                ("push", dur(0.9, 1.5), at([-0.08 + dist, 0, h], FORWARD_DOWN), open_),
                ("retreat", dur(0.5, 0.8), at([-0.12 + dist, 0, h + 0.08], FORWARD_DOWN), open_)]
    if kind == "wipe":
        amp, h = rng.uniform(0.05, 0.09), rng.uniform(0.03, 0.05)
        strokes = [("down", dur(), at([0, 0, h]), closed)]
        for i in range(int(rng.integers(2, 4))):
            for sgn in (1.0, -1.0):
                strokes.append((f"stroke{i}{'+' if sgn > 0 else '-'}", dur(0.4, 0.6), at([0.02 * i, sgn * amp, h]), closed))
        return strokes + [("up", dur(0.4, 0.6), at([0.04, 0, h + 0.1]), closed)]
    raise ValueError(f"unknown arm motion kind {kind!r}; choose one of {ARM_MOTION_KINDS}")


def generate_clip(
    kind: str,
    seed: int,
    arms: str | None = None,
    surface_z: float | None = None,
    object_pos: np.ndarray | None = None,
    builder: ClipBuilder | None = None,
    max_tries: int = 20,
) -> ArmClip:
    """Generate one scripted clip.

    Args:
        kind: one of :data:`ARM_MOTION_KINDS`.
        seed: seeds target sampling and timing; the same seed gives the same clip.
        arms: ``left``/``right``/``both``; sampled when None (wipe and push are single-arm more
            often, grasp/lift/place are dual-arm half the time).
        surface_z: table surface height in the base frame (m); sampled in [0.55, 0.62] when None.
        object_pos: object position on the surface (base frame); sampled in reach when None.
        builder: reuse a :class:`ClipBuilder` (its IK model) across many clips.
        max_tries: resample targets this many times when IK cannot reach them.

    Raises:
        ValueError: unknown ``kind``/``arms``; RuntimeError: no reachable targets were found.
    """
    one_of("kind", kind, ARM_MOTION_KINDS)
    rng = np.random.default_rng(seed)
    if arms is None:
        p_both = {"grasp": 0.5, "lift": 0.5, "place": 0.5, "reach": 0.5, "push": 0.3, "wipe": 0.0}[kind]
        arms = "both" if rng.random() < p_both else str(rng.choice(["left", "right"]))
    one_of("arms", arms, ARM_CHOICES)
    if kind == "wipe" and arms == "both":
        raise ValueError("wipe is a single-arm motion; use arms='left' or 'right'")
    builder = builder or ClipBuilder()
    last_err = None
    for _ in range(max_tries):
        z = float(rng.uniform(0.55, 0.62)) if surface_z is None else float(surface_z)
        obj = _sample_object(rng, arms, z) if object_pos is None else np.asarray(object_pos, float)
        plan = _plan(kind, arms, rng, z, obj)
        try:
            q = READY_ARM_POSE.copy()
            grip = np.full(2, GRIPPER_OPEN if plan[0][3] > 0 else CLOSED)
            waypoints = []
            if plan[0][1] > 0:  # clips that start from the ready pose
                waypoints.append(_Waypoint(0.0, q.copy(), np.full(2, GRIPPER_OPEN)))
            keypoints = {}
            for label, duration, targets, opening in plan:
                if targets is None:
                    q = READY_ARM_POSE.copy()
                else:
                    for side, (pos, axis) in targets.items():
                        q = builder.solve(q, side, pos, axis)
                        keypoints[f"{label}/{side}"] = np.asarray(pos, float)
                grip = grip.copy()
                for side in ("left", "right") if arms == "both" else (arms,):
                    grip[0 if side == "left" else 1] = opening
                waypoints.append(_Waypoint(duration, q.copy(), grip.copy()))
            return builder.build(kind, arms, waypoints, {"object": obj, **keypoints}, seed)
        except _Unreachable as err:
            last_err = err
            if object_pos is not None:
                break
    raise RuntimeError(f"could not generate a reachable {kind!r} clip ({arms}): {last_err}")


def arm_clip_library(n: int, seed: int = 0, kinds: tuple[str, ...] = ARM_MOTION_KINDS) -> list[ArmClip]:
    """``n`` clips cycling through ``kinds`` with seeds derived from ``seed`` (deterministic)."""
    positive("n", n)
    builder = ClipBuilder()
    return [generate_clip(kinds[i % len(kinds)], seed * 100_003 + i, builder=builder) for i in range(n)]
