"""Automatic failure classification (the Fig. 7 / App. C.3 analog), from the trial logs only.

Every failed trial gets one *stage* and one *mode*:

* **locomotion**: ``fall`` (the robot fell: stumble / fall), ``overshoot`` (went past the goal),
  ``early_stop`` (stopped short of it), ``wrong_orientation`` (heading off), ``path_deviation``
  (off sideways from the line of travel);
* **manipulation**: ``missed_grasp`` (a workable stance was reached but the grasp / lift never
  succeeded), ``dropped_object`` (the load slipped out of closed hands, or the cart handle was
  let go), ``inaccurate_placement`` (over the target, but the placement check never held).

The rules are pure functions of a :class:`~wbvla.suite.trace.TrialTrace`, the subgoal outcome
and the :class:`FailureThresholds`, applied in this order:

1. the robot fell -> ``fall``;
2. **first subgoal failed**: among the ticks at which the base stood still (a stance; passing
   through the goal while walking is none; once the base has moved more than ``stance_pos_tol``
   from where it started, the standing at the start is none either, so a robot that walks on
   past the goal to the end is judged where it ended), take the one at which the stance was best (smallest of
   max(|position error| / ``stance_pos_tol``, |heading error| / ``stance_yaw_tol``) to the
   expert's grasp stance). If that is within tolerance (<= 1) the locomotion delivered and the
   failure is ``missed_grasp``; otherwise it is locomotion, named by :func:`name_error` from the
   error at that tick (heading dominant -> ``wrong_orientation``; else, along the line from the
   start to the goal, past the goal -> ``overshoot``, mostly sideways -> ``path_deviation``,
   short -> ``early_stop``);
3. **second subgoal failed, bag packing / box loading**: find when the load left the hands
   (no gripper touching it for ``loss_ticks`` ticks after the grasp). Left while over the target
   (its centre inside the target's footprint) -> ``inaccurate_placement``; left elsewhere while
   the hands were commanded closed -> ``dropped_object``; released (commanded open) elsewhere ->
   locomotion, named from the load's offset to the target (line of travel: from the load at the
   grasp to the target) and the heading error to ``place_yaw``. Never left the hands: the stance
   (base standing still) at which the load was closest to the target decides the same way (over
   the target -> ``inaccurate_placement``);
4. **second subgoal failed, cart pushing**: at the tick of the largest progress along the cart's
   start heading: heading off by more than ``push_heading_tol_deg`` -> ``wrong_orientation``;
   drift beyond ``push_lateral_tol`` -> ``path_deviation``; the handle let go (no hand on it for
   ``loss_ticks``) before then -> ``dropped_object``; short of ``push_distance`` -> ``early_stop``.

Anything the rules cannot place is ``other`` (stage ``unknown``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from wbvla.sim.angles import wrap_angle
from wbvla.suite.trace import TrialTrace
from wbvla.validation import positive, require

LOCOMOTION_MODES = ("fall", "overshoot", "early_stop", "wrong_orientation", "path_deviation")
MANIPULATION_MODES = ("missed_grasp", "dropped_object", "inaccurate_placement")
MODES = (*LOCOMOTION_MODES, *MANIPULATION_MODES, "other")
STAGE_OF = {**{m: "locomotion" for m in LOCOMOTION_MODES}, **{m: "manipulation" for m in MANIPULATION_MODES},
            "other": "unknown"}


@dataclass(frozen=True)
class FailureThresholds:
    """The numbers of the rules (metres, radians, degrees, ticks)."""

    stance_pos_tol: float = 0.08
    """A grasp stance within this distance of the expert's counts as delivered (m)."""
    stance_yaw_tol: float = 0.15
    """... and within this heading error (rad)."""
    place_yaw_tol: float = 0.35
    """Heading error to ``place_yaw`` above which a misplaced load is a wrong orientation (rad)."""
    open_command: float = 0.01
    """A commanded gripper opening above this (m) means the policy let go on purpose."""
    loss_ticks: int = 3
    """The load counts as out of the hands after this many ticks without a gripper on it (a
    one-tick contact flicker is not a drop)."""
    settle_speed: float = 0.05
    """A stance is where the base stood: speed below this (m/s) ..."""
    settle_yaw_rate: float = 0.1
    """... and turn rate below this (rad/s); passing through the goal while walking is no stance."""
    push_distance: float = 1.0
    """As :class:`wbvla.tasks.subgoals.SubgoalThresholds`."""
    push_lateral_tol: float = 0.25
    push_heading_tol_deg: float = 15.0

    def __post_init__(self) -> None:
        for name in ("stance_pos_tol", "stance_yaw_tol", "place_yaw_tol", "open_command", "settle_speed", "settle_yaw_rate", "push_distance",
                     "push_lateral_tol", "push_heading_tol_deg"):
            positive(name, getattr(self, name))
        require(isinstance(self.loss_ticks, int) and self.loss_ticks >= 1, f"loss_ticks must be an int >= 1, got {self.loss_ticks!r}")


def _unit(v: np.ndarray, fallback_yaw: float) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-2 else np.array([np.cos(fallback_yaw), np.sin(fallback_yaw)])


def name_error(offset: np.ndarray, travel: np.ndarray, yaw_ratio: float, pos_ratio: float) -> str:
    """Name a locomotion error. ``offset`` (2,): where the robot (or its load) is minus where it
    should be; ``travel`` (2,): unit direction of travel toward the goal; ``yaw_ratio`` /
    ``pos_ratio``: heading / position error over their tolerances.

    Heading dominant (yaw_ratio >= pos_ratio) -> ``wrong_orientation``; else past the goal along
    the travel direction by at least the sideways error -> ``overshoot``; sideways error larger
    than the along error -> ``path_deviation``; else ``early_stop``.
    """
    if yaw_ratio >= pos_ratio:
        return "wrong_orientation"
    along = float(offset @ travel)
    perp = float(offset @ np.array([-travel[1], travel[0]]))
    if along > 0 and along >= abs(perp):
        return "overshoot"
    if abs(perp) > abs(along):
        return "path_deviation"
    return "early_stop"


def _first_run(mask: np.ndarray, start: int, length: int) -> int | None:
    """First index >= ``start`` that begins ``length`` consecutive True values."""
    run = 0
    for i in range(start, len(mask)):
        run = run + 1 if mask[i] else 0
        if run >= length:
            return i - length + 1
    return None


def settled_ticks(trace: TrialTrace, th: FailureThresholds) -> np.ndarray:
    """Indices of the ticks at which the base stood still (speed and turn rate below the
    ``settle_*`` thresholds, from finite differences), plus the last tick."""
    dt = np.maximum(np.diff(trace.t), 1e-6)
    v = np.linalg.norm(np.diff(trace.base[:, :2], axis=0), axis=1) / dt
    w = np.abs(wrap_angle(np.diff(trace.base[:, 2]))) / dt
    still = (v < th.settle_speed) & (w < th.settle_yaw_rate)  # (T - 1,): motion from tick i to i + 1
    mask = np.append(still, True)
    return np.flatnonzero(mask)


def _grasp_tick(trace: TrialTrace, t1: float) -> int:
    return int(min(np.searchsorted(trace.t, t1 - 1e-9), len(trace.t) - 1))


def over_target(point: np.ndarray, target: np.ndarray, half: np.ndarray) -> bool:
    """Whether ``point`` (x, y) lies inside the footprint ``half`` (hx, hy) of a target at
    ``target`` (x, y, yaw)."""
    c, s = np.cos(target[2]), np.sin(target[2])
    d = np.asarray(point[:2]) - target[:2]
    local = np.array([c * d[0] + s * d[1], -s * d[0] + c * d[1]])
    return bool(np.all(np.abs(local) <= np.asarray(half)))


def classify_first_subgoal(trace: TrialTrace, th: FailureThresholds) -> tuple[str, dict]:
    """Rule 2 (see the module docstring)."""
    gx, gy, gyaw = trace.goals["approach"]
    off = trace.base[:, :2] - np.array([gx, gy])  # (T, 2)
    pos_ratio = np.linalg.norm(off, axis=1) / th.stance_pos_tol
    yaw_ratio = np.abs(wrap_angle(trace.base[:, 2] - gyaw)) / th.stance_yaw_tol
    score = np.maximum(pos_ratio, yaw_ratio)
    candidates = settled_ticks(trace, th)
    left = np.flatnonzero(np.linalg.norm(trace.base[:, :2] - trace.base[0, :2], axis=1) > th.stance_pos_tol)
    if left.size:  # it set off: the start pose is no stance it chose (the last tick always stays)
        candidates = candidates[candidates >= left[0]]
    i = int(candidates[np.argmin(score[candidates])])
    evidence = {"tick": i, "stance_pos_err_m": float(np.linalg.norm(off[i])),
                "stance_yaw_err_rad": float(abs(wrap_angle(trace.base[i, 2] - gyaw))), "stance_score": float(score[i])}
    if score[i] <= 1.0:
        return "missed_grasp", evidence
    travel = _unit(np.array([gx, gy]) - trace.base[0, :2], gyaw)
    return name_error(off[i], travel, float(yaw_ratio[i]), float(pos_ratio[i])), evidence


def classify_placement(trace: TrialTrace, t1: float, th: FailureThresholds) -> tuple[str, dict]:
    """Rule 3 (bag packing, box loading)."""
    g = _grasp_tick(trace, t1)
    half = np.asarray(trace.goals["target_half"])
    lost = _first_run(trace.touch == 0, g, th.loss_ticks)
    if lost is not None:
        i = lost
        over = over_target(trace.obj[i, :2], trace.target[i], half)
        opened = bool(np.nanmax(trace.grip_cmd[max(g, i - 10) : i + 1]) > th.open_command)
    else:
        candidates = settled_ticks(trace, th)
        candidates = candidates[candidates >= g]
        dist = np.linalg.norm(trace.obj[candidates, :2] - trace.target[candidates, :2], axis=1)
        i = int(candidates[np.argmin(dist)])
        over, opened = over_target(trace.obj[i, :2], trace.target[i], half), True
    offset = trace.obj[i, :2] - trace.target[i, :2]
    yaw_err = float(abs(wrap_angle(trace.base[i, 2] - trace.goals["place_yaw"])))
    evidence = {"tick": i, "left_hands": lost is not None, "commanded_open": opened, "over_target": over,
                "offset_m": [float(v) for v in offset], "yaw_err_rad": yaw_err}
    if over:
        return "inaccurate_placement", evidence
    if not opened:
        return "dropped_object", evidence
    travel = _unit(trace.target[g, :2] - trace.obj[g, :2], trace.goals["place_yaw"])
    radius = float(np.min(half))
    return name_error(offset, travel, yaw_err / th.place_yaw_tol, float(np.linalg.norm(offset)) / radius), evidence


def classify_push(trace: TrialTrace, t1: float, th: FailureThresholds) -> tuple[str, dict]:
    """Rule 4 (cart pushing)."""
    g = _grasp_tick(trace, t1)
    x0, y0, h0 = trace.goals["cart_start"]
    d = trace.obj[:, :2] - np.array([x0, y0])
    ahead = d @ np.array([np.cos(h0), np.sin(h0)])
    lateral = d @ np.array([-np.sin(h0), np.cos(h0)])
    heading = np.degrees(np.abs(wrap_angle(trace.obj[:, 3] - h0)))
    i = g + int(np.argmax(ahead[g:]))
    lost = _first_run(trace.touch == 0, g, th.loss_ticks)
    evidence = {"tick": i, "ahead_m": float(ahead[i]), "lateral_m": float(lateral[i]), "heading_deg": float(heading[i]),
                "handle_let_go_tick": lost}
    if heading[i] > th.push_heading_tol_deg:
        return "wrong_orientation", evidence
    if abs(lateral[i]) > th.push_lateral_tol:
        return "path_deviation", evidence
    if lost is not None and lost <= i + th.loss_ticks:
        return "dropped_object", evidence
    if ahead[i] < th.push_distance:
        return "early_stop", evidence
    return ("dropped_object", evidence) if trace.touch[i] < 2 else ("other", evidence)


def classify_failure(trace: TrialTrace, success: tuple[bool, ...], subgoal_times: tuple[float | None, ...], fell: bool,
                     thresholds: FailureThresholds | None = None) -> dict:
    """The failure of one trial: ``{"stage", "mode", "subgoal", "evidence"}``; all None for a
    trial that achieved every subgoal. ``subgoal`` is the index of the first failed subgoal."""
    th = thresholds or FailureThresholds()
    success = tuple(bool(s) for s in success)
    if all(success):
        return {"stage": None, "mode": None, "subgoal": None, "evidence": {}}
    k = success.index(False)
    if fell:
        mode, evidence = "fall", {"fall_tick": int(len(trace.t) - 1)}
    elif k == 0:
        mode, evidence = classify_first_subgoal(trace, th)
    elif trace.task == "cart_pushing":
        mode, evidence = classify_push(trace, float(subgoal_times[0]), th)
    else:
        mode, evidence = classify_placement(trace, float(subgoal_times[0]), th)
    return {"stage": STAGE_OF[mode], "mode": mode, "subgoal": k, "evidence": evidence}


def thresholds_dict(th: FailureThresholds) -> dict:
    return asdict(th)
