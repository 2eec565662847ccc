"""What a trial leaves behind for the failure analysis: a compact per-tick trace of the scene.

:class:`TracedPolicy` wraps any policy for :func:`wbvla.tasks.runner.run_trial` (the one
closed-loop runner) and is its ``stop_early`` hook: after every 10 Hz tick it receives the
snapshot the subgoal checks judged (:func:`wbvla.tasks.subgoals.read_state`) and keeps the few
numbers the failure rules need; with a :class:`FrozenSceneConfig` it ends a trial whose scene and
policy output stood still (a fixed point of a deterministic policy). It also records, once at the start, the privileged *goals* of the task: where the
scripted expert would stand to grasp (``approach``), the place target (the carton / the cart) and
the heading to place from.

Trace arrays (T = ticks + 1), world frame:

* ``t`` (T,) s since the start; ``base`` (T, 3) pelvis x, y, yaw;
* ``obj`` (T, 4) the manipulated object's x, y, z, yaw (bag / tote / cart);
* ``touch`` (T,) how many grippers touch it (0, 1, 2);
* ``target`` (T, 3) the place target's x, y, yaw (carton / cart; zeros for cart pushing);
* ``grip_cmd`` (T,) mean commanded gripper opening of the tick (m; NaN on the final row).

Row k is the state at the start of tick k (row 0: after the reset; row k + 1: the state the runner
judged after tick k, handed to :meth:`TracedPolicy.observe`, the runner's ``stop_early`` hook).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from wbvla.tasks.expert import ExpertConfig
from wbvla.tasks.specs import TaskInstance
from wbvla.tasks.subgoals import SceneState, read_state

OBJECT = {"bag_packing": "bag", "box_loading": "box", "cart_pushing": "cart"}
"""The object each task manipulates."""
TARGET = {"bag_packing": "carton", "box_loading": "cart", "cart_pushing": None}
"""Where it must end up (None: cart pushing moves the object itself)."""


def _yaw(rot: np.ndarray) -> float:
    return float(np.arctan2(rot[1, 0], rot[0, 0]))


@dataclass
class TrialTrace:
    """Per-tick trace and task goals of one trial (see the module docstring)."""

    task: str
    t: np.ndarray
    base: np.ndarray
    obj: np.ndarray
    touch: np.ndarray
    target: np.ndarray
    grip_cmd: np.ndarray
    goals: dict = field(default_factory=dict)
    """``approach`` [x, y, yaw] (stance to grasp from), ``target_half`` [hx, hy] (footprint of the
    place target), ``place_yaw`` (heading to place from), ``cart_start`` [x, y, yaw]."""

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: getattr(self, k) for k in ("t", "base", "obj", "touch", "target", "grip_cmd")}

    @classmethod
    def from_arrays(cls, task: str, arrays: dict, goals: dict) -> TrialTrace:
        return cls(task, *(np.asarray(arrays[k]) for k in ("t", "base", "obj", "touch", "target", "grip_cmd")),
                   goals=dict(goals))


def task_goals(task: TaskInstance, expert: ExpertConfig | None = None) -> dict:
    """Privileged goals of ``task`` from its start state: the expert's grasp stance (object or
    handle ``grasp_reach`` / ``handle_reach`` m straight ahead, facing along the object's x axis),
    the place target's footprint and the heading to place from."""
    c = expert or ExpertConfig()
    scene, name = task.scene, task.name
    obj = scene.data.body(OBJECT[name])
    heading = _yaw(obj.xmat.reshape(3, 3))
    if name == "cart_pushing":
        point, reach = scene.site_pos(scene.objects["cart"].sites["handle"]), c.handle_reach
    else:
        point, reach = obj.xpos.copy(), c.grasp_reach
    goals = {"approach": [float(point[0] - reach * np.cos(heading)), float(point[1] - reach * np.sin(heading)), heading]}
    target = TARGET[name]
    if target is not None:
        trot = scene.data.body(target).xmat.reshape(3, 3)
        goals["target_half"] = [float(v) for v in scene.objects[target].size[:2]]
        # bag packing: sidestep with the grasp heading; box loading: face the cart (handle side away)
        goals["place_yaw"] = heading if name == "bag_packing" else float(np.arctan2(-trot[1, 0], -trot[0, 0]))
    else:
        goals["cart_start"] = [float(obj.xpos[0]), float(obj.xpos[1]), heading]
    return goals


@dataclass(frozen=True)
class FrozenSceneConfig:
    """When a trial may end early: the scene and the policy's output have not changed for
    ``window_s``. The VLA is deterministic (greedy decoding) and reads only the image, the
    instruction and s_t, so a frozen scene with a frozen output is a fixed point: the rest of the
    trial would look the same (the record says it stopped early, and why)."""

    window_s: float = 3.0
    """How long everything must have stood still (s)."""
    motion_tol: float = 2e-3
    """Largest change of any tracked position (m) or heading (rad) over the window: base, both
    hands' tool centre points, every task object."""
    output_tol: float = 2e-3
    """Largest change of the arm targets (rad) and gripper targets (m) over the window; latent codes
    and locomotion flags must be identical, h* within this (m)."""

    away_m: float | None = None
    """Also end a trial whose base is farther than this (m) from the task's object (bag, box or
    cart) while that object has not moved from where it started: the robot walked away from the
    whole task. Every start pose of the suite is within 2 m of the object, so a policy this far
    out has left the states its demonstrations cover (overshooting VLAs otherwise walked on for
    the rest of the 40-60 s time limit). None: never."""

    def __post_init__(self) -> None:
        if not (self.window_s > 0 and self.motion_tol > 0 and self.output_tol > 0):
            raise ValueError(f"FrozenSceneConfig values must be > 0, got {self}")
        if self.away_m is not None and not self.away_m > 0:
            raise ValueError(f"FrozenSceneConfig.away_m must be > 0 or None, got {self.away_m!r}")


def _signature(s: SceneState) -> np.ndarray:
    """Everything that moves, as one vector: base position and heading, hands, object positions."""
    parts = [s.base_pos, [s.base_yaw], *(s.tcp[k] for k in sorted(s.tcp)), *(s.poses[k][0] for k in sorted(s.poses))]
    return np.concatenate([np.ravel(p) for p in parts])


def _output_vector(out) -> np.ndarray:
    return np.concatenate([out.arm_targets[0], out.grippers[0], out.command])


class TracedPolicy:
    """Wraps a policy; records a :class:`TrialTrace` of the trial it is bound to and, as the
    runner's ``stop_early`` hook (:meth:`observe`), ends a trial whose scene froze."""

    def __init__(self, policy, frozen: FrozenSceneConfig | None = None):
        self.policy = policy
        self.frozen = frozen
        self.task: TaskInstance | None = None

    def __getattr__(self, name):  # model_id, command_kind, uses_image, phase, ...
        if name in ("policy", "frozen", "task"):
            raise AttributeError(name)
        return getattr(self.policy, name)

    def bind(self, task: TaskInstance) -> None:
        self.task, self._rows, self._grip, self._recent = task, [], [], []
        self.goals = task_goals(task)
        self._append(read_state(task.scene))
        if hasattr(self.policy, "bind"):
            self.policy.bind(task)
        else:
            self.policy.reset()

    def reset(self) -> None:
        self.policy.reset()

    def _append(self, s: SceneState) -> None:
        name = self.task.name
        pos, rot = s.poses[OBJECT[name]]
        target = TARGET[name]
        tgt = (s.poses[target][0][0], s.poses[target][0][1], _yaw(s.poses[target][1])) if target else (0.0, 0.0, 0.0)
        self._rows.append((s.time, (s.base_pos[0], s.base_pos[1], s.base_yaw), (*pos, _yaw(rot)),
                           len(s.touched_by.get(OBJECT[name], ())), tgt))

    def act(self, image, instruction, state):
        if self.task is None:
            raise RuntimeError("TracedPolicy.act before bind(task)")
        out = self.policy.act(image, instruction, state)
        self._grip.append(float(np.mean(out.grippers[0])))
        self._last_out = out
        return out

    def observe(self, state: SceneState) -> str | None:
        """The runner's ``stop_early`` hook: record the state after a tick; a reason when frozen."""
        self._append(state)
        if self.frozen is None:
            return None
        away = self._walked_away()
        if away:
            return away
        out = self._last_out
        self._recent.append((_signature(state), _output_vector(out), tuple(sorted((k, tuple(v)) for k, v in out.latents.items()))))
        window = round(self.frozen.window_s * 10) + 1
        if len(self._recent) > window:
            self._recent.pop(0)
        if len(self._recent) < window:
            return None
        sig = np.stack([r[0] for r in self._recent])
        outs = np.stack([r[1] for r in self._recent])
        same_codes = len({r[2] for r in self._recent}) == 1
        same_flags = bool(np.all(outs[:, -4:-1] == outs[0, -4:-1]))
        if (same_codes and same_flags and np.ptp(sig, axis=0).max() <= self.frozen.motion_tol
                and np.ptp(outs, axis=0).max() <= self.frozen.output_tol):
            return f"frozen scene and policy output for {self.frozen.window_s:g} s"
        return None

    def _walked_away(self) -> str | None:
        """A reason when the base is more than ``away_m`` from the task's object and the object
        is still where it started (rows: (time, base, object pose, touches, target))."""
        if self.frozen.away_m is None:
            return None
        first, last = self._rows[0], self._rows[-1]
        obj_moved = np.linalg.norm(np.subtract(last[2][:2], first[2][:2]))
        dist = np.linalg.norm(np.subtract(last[1][:2], last[2][:2]))
        if dist > self.frozen.away_m and obj_moved < 0.05:
            return f"walked away: base {dist:.1f} m from the {OBJECT[self.task.name]} (limit {self.frozen.away_m:g} m), which never moved"
        return None

    def finish(self) -> TrialTrace:
        """The trace (T + 1 rows for T ticks: the start, then the state after every tick)."""
        if len(self._rows) == len(self._grip):  # the last tick was not observed (a fall)
            self._append(read_state(self.task.scene))
        t0 = self._rows[0][0]
        cols = list(zip(*self._rows, strict=True))
        return TrialTrace(self.task.name, np.asarray(cols[0]) - t0, np.asarray(cols[1], float), np.asarray(cols[2], float),
                          np.asarray(cols[3], np.int8), np.asarray(cols[4], float),
                          np.asarray([*self._grip, np.nan], float), goals=self.goals)
