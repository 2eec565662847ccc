"""Goal-directed locomotion: sequences of the eight primitives toward potential manipulation targets.

The paper's operators walk up to objects they *could* manipulate (tables, cartons, carts,
shelves), turning, advancing, sidestepping to line up, squatting to low targets, rising and
backing off (App. A.1, Fig. 4). :func:`plan_path` scripts exactly that on a ``room`` scene's props
and integrates it at the video frame rate, one primitive label per frame.

The same planner drives both embodiments; :class:`Gait` holds what differs (speeds, step rate,
bob/sway amplitudes). Poses are planar (x, y, yaw) plus a squat fraction in [0, 1] and a gait
phase; the renderers (:mod:`wbvla.data.render_clips`) turn them into a head-camera pose (human)
or a robot base pose with animated legs (X2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wbvla.sim.angles import wrap_angle
from wbvla.validation import positive, require


@dataclass(frozen=True)
class Gait:
    """Speeds and body motion of one embodiment (ranges are sampled per segment)."""

    advance: tuple[float, float]
    """Forward walking speed (m/s)."""
    retreat: tuple[float, float]
    """Backward walking speed (m/s)."""
    sidestep: tuple[float, float]
    """Lateral stepping speed (m/s)."""
    turn: tuple[float, float]
    """In-place turning rate (rad/s)."""
    squat_time: tuple[float, float]
    """Duration of a full squat or rise (s)."""
    step_hz: tuple[float, float]
    """Step frequency (steps/s); the stride (two steps) is half of it."""
    bob: float
    """Vertical head bob amplitude while stepping (m)."""
    sway: float
    """Lateral head sway amplitude while stepping (m)."""
    stop_distance: tuple[float, float]
    """Distance from the target's centre where the approach stops (m)."""

    def __post_init__(self) -> None:
        for name in ("advance", "retreat", "sidestep", "turn", "squat_time", "step_hz", "stop_distance"):
            lo, hi = getattr(self, name)
            require(0 < lo <= hi, f"Gait.{name} must be a range 0 < lo <= hi, got {(lo, hi)}")
        positive("bob", self.bob, allow_zero=True)
        positive("sway", self.sway, allow_zero=True)


HUMAN_GAIT = Gait(advance=(0.6, 1.0), retreat=(0.35, 0.55), sidestep=(0.3, 0.45), turn=(0.6, 1.0),
                  squat_time=(1.0, 1.5), step_hz=(1.7, 2.1), bob=0.025, sway=0.02, stop_distance=(0.7, 0.95))
"""A person walking with a head-mounted camera."""
ROBOT_GAIT = Gait(advance=(0.3, 0.5), retreat=(0.2, 0.3), sidestep=(0.15, 0.25), turn=(0.4, 0.7),
                  squat_time=(1.2, 1.8), step_hz=(1.6, 2.0), bob=0.012, sway=0.01, stop_distance=(0.6, 0.8))
"""The X2 driven by the LMO (slower, smaller head motion)."""


@dataclass(frozen=True)
class Target:
    """A potential manipulation target: a prop's name, floor position and top height."""

    name: str
    xy: np.ndarray
    top_z: float


@dataclass
class Path:
    """A planned clip, sampled at ``fps``; every array has T rows."""

    t: np.ndarray
    """Time (s), (T,)."""
    xy: np.ndarray
    """Body position on the floor (m), (T, 2)."""
    yaw: np.ndarray
    """Heading (rad), (T,)."""
    squat: np.ndarray
    """Squat fraction, 0 standing .. 1 fully squatted, (T,)."""
    phase: np.ndarray
    """Stride phase (rad), advancing only while stepping, (T,)."""
    stepping: np.ndarray
    """Stepping amplitude envelope in [0, 1], (T,)."""
    labels: list[str]
    """Primitive executed from frame i to i+1, (T,) (the last frame repeats the one before)."""
    targets: list[str]
    """Name of the target being approached at each frame, (T,)."""


def _envelope(n: int, fps: float, ramp_s: float = 0.15) -> np.ndarray:
    """Speed profile of a segment of ``n`` frames: smooth ramps in and out, 1 in between."""
    r = max(1, int(round(ramp_s * fps)))
    env = np.ones(n)
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, r + 2)[1:-1])
    if n > 2 * r:
        env[:r], env[-r:] = ramp, ramp[::-1]
    return env


class _Walker:
    """Integrates primitives frame by frame, truncating any that would leave the room or hit a prop."""

    def __init__(self, xy, yaw, fps, gait: Gait, rng, bounds: float, obstacles: np.ndarray):
        self.fps, self.gait, self.rng, self.bounds, self.obstacles = fps, gait, rng, bounds, obstacles
        self.xy, self.yaw, self.squat, self.phase = np.array(xy, float), float(yaw), 0.0, 0.0
        self.rows: list[tuple] = []
        self.step_hz = float(rng.uniform(*gait.step_hz))

    def _free(self, xy) -> bool:
        if np.any(np.abs(xy) > self.bounds):
            return False
        return len(self.obstacles) == 0 or float(np.min(np.linalg.norm(self.obstacles - xy, axis=1))) > 0.55

    def run(self, primitive: str, amount: float, rate: float, target: str) -> None:
        """Execute ``primitive`` for ``amount`` (m, rad or squat fraction) at ``rate`` per second."""
        dt = 1.0 / self.fps
        n = int(np.ceil(abs(amount) / rate * self.fps / 0.85)) + 1  # the ramps cost ~15 %
        env = _envelope(n, self.fps)
        step = amount / env.sum()  # per-frame increments sum to ``amount``
        stepping = primitive not in ("squat_down", "rise")
        rows = []
        xy, yaw, squat, phase = self.xy.copy(), self.yaw, self.squat, self.phase
        for e in env:
            rows.append((xy.copy(), yaw, squat, phase, e if stepping else 0.0, primitive, target))
            d = step * e
            fwd, left = np.array([np.cos(yaw), np.sin(yaw)]), np.array([-np.sin(yaw), np.cos(yaw)])
            new_xy = xy
            if primitive in ("advance", "retreat"):
                new_xy = xy + d * fwd
            elif primitive in ("sidestep_left", "sidestep_right"):
                new_xy = xy + d * left
            elif primitive in ("turn_left", "turn_right"):
                yaw = yaw + d
            else:  # squat_down / rise
                squat = float(np.clip(squat + d, 0.0, 1.0))
            if not self._free(new_xy):
                break
            xy = new_xy
            if stepping:
                phase += np.pi * self.step_hz * dt * max(e, 0.3)
        if len(rows) < max(3, int(0.4 * self.fps)):  # truncated to nothing useful: drop it
            return
        self.rows.extend(rows)
        self.xy, self.yaw, self.squat, self.phase = xy, yaw, squat, phase


def plan_path(
    rng: np.random.Generator,
    targets: list[Target],
    fps: float,
    gait: Gait,
    n_goals: int = 2,
    bounds: float = 3.4,
    start_xy: np.ndarray | None = None,
    start_yaw: float | None = None,
) -> Path:
    """Script a clip that approaches ``n_goals`` targets in turn (App. A.1 collection protocol).

    Per goal: turn toward a point beside the target, advance to the stop distance, sidestep to
    line up, turn to face it squarely, squat down and rise for low targets, retreat. Turning and
    sidestepping directions follow from the geometry, so all eight primitives occur.

    Raises:
        ValueError: no targets, or a bad frame rate.
    """
    require(len(targets) > 0, "plan_path needs at least one target")
    positive("fps", fps)
    obstacles = np.array([t.xy for t in targets]) if targets else np.zeros((0, 2))
    if start_xy is None:
        for _ in range(200):
            start_xy = rng.uniform(-bounds + 0.5, bounds - 0.5, 2)
            if np.min(np.linalg.norm(obstacles - start_xy, axis=1)) > 1.2:
                break
    yaw0 = float(rng.uniform(-np.pi, np.pi)) if start_yaw is None else float(start_yaw)
    w = _Walker(start_xy, yaw0, fps, gait, rng, bounds, obstacles)
    u = rng.uniform
    order = rng.permutation(len(targets))
    for g in range(n_goals):
        tgt = targets[int(order[g % len(targets)])]
        offset = float(rng.choice([-1.0, 1.0]) * u(0.25, 0.55))  # aim beside the target, then sidestep
        to = tgt.xy - w.xy
        dist = float(np.linalg.norm(to))
        stop = float(u(*gait.stop_distance))
        side = np.array([-to[1], to[0]]) / max(dist, 1e-6)
        aim = tgt.xy + offset * side - w.xy
        dyaw = wrap_angle(float(np.arctan2(aim[1], aim[0])) - w.yaw)
        if abs(dyaw) > 0.2:
            w.run("turn_left" if dyaw > 0 else "turn_right", dyaw, u(*gait.turn), tgt.name)
        advance = min(max(dist - stop, 0.0), 3.0 * gait.advance[1])
        if advance > 0.3:
            w.run("advance", advance, u(*gait.advance), tgt.name)
        rel = tgt.xy - w.xy
        lateral = float(-np.sin(w.yaw) * rel[0] + np.cos(w.yaw) * rel[1])  # target's offset to the left
        if abs(lateral) < 0.15:
            lateral = float(rng.choice([-1.0, 1.0]) * u(0.2, 0.4))
        lateral = float(np.clip(lateral, -0.8, 0.8))
        w.run("sidestep_left" if lateral > 0 else "sidestep_right", lateral, u(*gait.sidestep), tgt.name)
        rel = tgt.xy - w.xy
        dyaw = wrap_angle(float(np.arctan2(rel[1], rel[0])) - w.yaw)
        if abs(dyaw) > 0.25:
            w.run("turn_left" if dyaw > 0 else "turn_right", dyaw, u(*gait.turn), tgt.name)
        if tgt.top_z < 0.7 or rng.random() < 0.3:
            w.run("squat_down", 1.0 - w.squat, 1.0 / u(*gait.squat_time), tgt.name)
            w.run("rise", -w.squat, 1.0 / u(*gait.squat_time), tgt.name)
        w.run("retreat", -u(0.4, 0.9), u(*gait.retreat), tgt.name)
    require(len(w.rows) > 1, "the planned path is empty (start boxed in by props?)")
    xy, yaw, squat, phase, env, labels, names = zip(*w.rows, strict=True)
    return Path(t=np.arange(len(xy)) / fps, xy=np.array(xy), yaw=np.array(yaw), squat=np.array(squat),
                phase=np.array(phase), stepping=np.array(env), labels=list(labels), targets=list(names))
