"""What a trial leaves behind for the failure analysis: a compact per-tick trace of the scene.

:class:`TracedPolicy` wraps any policy for :func:`wbvla.tasks.runner.run_trial` (the one
closed-loop runner, unchanged): at every 10 Hz tick, before the wrapped policy acts, it snapshots
the scene with :func:`wbvla.tasks.subgoals.read_state` (the same snapshot the subgoal checks see)
and keeps the few numbers the failure rules need. :meth:`TracedPolicy.finish` adds the state after
the last tick. It also records, once at the start, the privileged *goals* of the task: where the
scripted expert would stand to grasp (``approach``), the place target (the carton / the cart) and
the heading to place from.

Trace arrays (T = ticks + 1), world frame:

* ``t`` (T,) s since the start; ``base`` (T, 3) pelvis x, y, yaw;
* ``obj`` (T, 4) the manipulated object's x, y, z, yaw (bag / tote / cart);
* ``touch`` (T,) how many grippers touch it (0, 1, 2);
* ``target`` (T, 3) the place target's x, y, yaw (carton / cart; zeros for cart pushing);
* ``grip_cmd`` (T,) mean commanded gripper opening of the tick (m; NaN on the final row).
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


class TracedPolicy:
    """Wraps a policy; records a :class:`TrialTrace` of the trial it is bound to."""

    def __init__(self, policy):
        self.policy = policy
        self.task: TaskInstance | None = None
        self._rows: list[tuple] = []

    def __getattr__(self, name):  # model_id, command_kind, uses_image, phase, ...
        if name == "policy":
            raise AttributeError(name)
        return getattr(self.policy, name)

    def bind(self, task: TaskInstance) -> None:
        self.task, self._rows = task, []
        self.goals = task_goals(task)
        if hasattr(self.policy, "bind"):
            self.policy.bind(task)
        else:
            self.policy.reset()

    def reset(self) -> None:
        self._rows = []
        self.policy.reset()

    def _snapshot(self, grip_cmd: float) -> None:
        s: SceneState = read_state(self.task.scene)
        name = self.task.name
        pos, rot = s.poses[OBJECT[name]]
        target = TARGET[name]
        tgt = (s.poses[target][0][0], s.poses[target][0][1], _yaw(s.poses[target][1])) if target else (0.0, 0.0, 0.0)
        self._rows.append((s.time, (s.base_pos[0], s.base_pos[1], s.base_yaw), (*pos, _yaw(rot)),
                           len(s.touched_by.get(OBJECT[name], ())), tgt, grip_cmd))

    def act(self, image, instruction, state):
        if self.task is None:
            raise RuntimeError("TracedPolicy.act before bind(task)")
        out = self.policy.act(image, instruction, state)
        self._snapshot(float(np.mean(out.grippers[0])))
        return out

    def finish(self) -> TrialTrace:
        """The trace, with the state after the last tick appended."""
        self._snapshot(float("nan"))
        t0 = self._rows[0][0]
        cols = list(zip(*self._rows, strict=True))
        return TrialTrace(self.task.name, np.asarray(cols[0]) - t0, np.asarray(cols[1], float), np.asarray(cols[2], float),
                          np.asarray(cols[3], np.int8), np.asarray(cols[4], float), np.asarray(cols[5], float),
                          goals=self.goals)
