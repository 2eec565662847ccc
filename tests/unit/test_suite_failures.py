"""Failure classification rules (Fig. 7 analog) on hand-made trial traces, one per mode."""

from __future__ import annotations

import numpy as np
import pytest

from wbvla.suite.failures import FailureThresholds, classify_failure, name_error, over_target
from wbvla.suite.trace import TrialTrace


def _trace(task, base, obj=None, touch=None, target=None, grip=None, goals=None) -> TrialTrace:
    base = np.asarray(base, float)
    n = len(base)
    return TrialTrace(task, np.arange(n) / 10.0, base,
                      np.zeros((n, 4)) if obj is None else np.asarray(obj, float),
                      np.zeros(n, np.int8) if touch is None else np.asarray(touch, np.int8),
                      np.zeros((n, 3)) if target is None else np.asarray(target, float),
                      np.zeros(n) if grip is None else np.asarray(grip, float), goals=goals or {})


def _walk(end, n=30, start=(0.0, 0.0, 0.0)):
    """Base poses moving linearly from start to end (x, y, yaw)."""
    return np.linspace(start, end, n)


APPROACH = {"approach": [0.5, 0.0, 0.0]}


@pytest.mark.parametrize("end,mode,stage", [
    ((0.5, 0.01, 0.02), "missed_grasp", "manipulation"),   # reached the stance, grasp failed
    ((0.3, 0.0, 0.0), "early_stop", "locomotion"),          # stopped 0.2 m short
    ((0.75, 0.0, 0.0), "overshoot", "locomotion"),          # walked 0.25 m past (the best tick is still past)
    ((0.5, 0.3, 0.0), "path_deviation", "locomotion"),      # 0.3 m to the side
    ((0.5, 0.0, 0.6), "wrong_orientation", "locomotion"),   # heading 0.6 rad off
])
def test_first_subgoal_rules(end, mode, stage):
    base = np.concatenate([np.zeros((5, 3)), _walk(end), np.tile(end, (5, 1))])  # stand, walk, stand
    f = classify_failure(_trace("bag_packing", base, goals=APPROACH), (False, False), (None, None), fell=False)
    assert (f["mode"], f["stage"], f["subgoal"]) == (mode, stage, 0), f


def test_passing_through_the_goal_is_no_stance():
    # walks through the goal (0.5 m) at 0.3 m/s without stopping, stops at 0.75 m: an overshoot,
    # although one tick of the walk was exactly at the goal
    base = np.concatenate([np.zeros((5, 3)), _walk((0.75, 0.0, 0.0), 26), np.tile([0.75, 0.0, 0.0], (5, 1))])
    assert np.any(np.all(np.isclose(base, [0.5, 0.0, 0.0], atol=0.02), axis=1))
    f = classify_failure(_trace("box_loading", base, goals=APPROACH), (False, False), (None, None), fell=False)
    assert f["mode"] == "overshoot" and f["evidence"]["stance_pos_err_m"] == pytest.approx(0.25), f


def test_walking_on_past_the_goal_to_the_end_is_an_overshoot_not_a_stop_at_the_start():
    # stands 5 ticks at the start (0.5 m from the goal), then walks through the goal and keeps walking
    # to x = 3 m at the last tick: the start is not a stance it chose, the end is 2.5 m past
    base = np.concatenate([np.zeros((5, 3)), _walk((3.0, 0.0, 0.0), 40)])
    f = classify_failure(_trace("cart_pushing", base, goals=APPROACH), (False, False), (None, None), fell=False)
    assert f["mode"] == "overshoot" and f["evidence"]["tick"] == 44 and f["evidence"]["stance_pos_err_m"] == pytest.approx(2.5), f
    # never set off: the start is where it stopped (0.5 m short)
    f = classify_failure(_trace("cart_pushing", np.zeros((20, 3)), goals=APPROACH), (False, False), (None, None), fell=False)
    assert f["mode"] == "early_stop" and f["evidence"]["tick"] == 0, f


def test_fall_and_success():
    tr = _trace("cart_pushing", _walk((0.1, 0, 0), 5), goals=APPROACH)
    assert classify_failure(tr, (True, False), (1.0, None), fell=True)["mode"] == "fall"
    assert classify_failure(tr, (False, False), (None, None), fell=True)["stage"] == "locomotion"
    ok = classify_failure(tr, (True, True), (1.0, 2.0), fell=False)
    assert ok == {"stage": None, "mode": None, "subgoal": None, "evidence": {}}


PLACE = {"approach": [0.0, 0.0, 0.0], "target_half": [0.2, 0.15], "place_yaw": 0.0}


def _placement(obj_end, lost_at, grip_open, n=40, yaw=0.0):
    """Carry the load from (0, 0) toward a target at (0, -0.8): grasped at tick 10 (t = 1 s); the
    load is ``lost_at`` (no gripper on it from then on), with the grippers commanded open or not."""
    obj = np.zeros((n, 4))
    obj[10:, :2] = np.linspace((0.0, 0.0), obj_end, n - 10)
    touch = np.full(n, 2)
    grip = np.zeros(n)
    if lost_at is not None:
        obj[lost_at:, :2] = obj[lost_at, :2]
        touch[lost_at:] = 0
        if grip_open:
            grip[lost_at - 2:] = 0.04
    base = np.zeros((n, 3))
    base[:, 2] = yaw
    target = np.tile([0.0, -0.8, 0.0], (n, 1))
    return _trace("bag_packing", base, obj, touch, target, grip, PLACE)


@pytest.mark.parametrize("obj_end,lost_at,grip_open,yaw,mode", [
    ((0.0, -0.8), 35, True, 0.0, "inaccurate_placement"),   # let go over the carton, check never held
    ((0.0, -0.8), 25, False, 0.0, "dropped_object"),        # slipped out of closed hands on the way
    ((0.0, -0.4), 35, True, 0.0, "early_stop"),             # released halfway: stopped short
    ((0.0, -1.3), 35, True, 0.0, "overshoot"),              # released past the carton
    ((0.45, -0.8), 35, True, 0.0, "path_deviation"),        # beside it
    ((0.0, -0.4), 35, True, 1.2, "wrong_orientation"),      # heading 1.2 rad off when releasing
    ((0.0, -0.4), None, True, 0.0, "early_stop"),           # never released, never got there
    ((0.0, -0.8), None, True, 0.0, "inaccurate_placement"), # over the carton but never put it down
])
def test_second_subgoal_placement_rules(obj_end, lost_at, grip_open, yaw, mode):
    tr = _placement(obj_end, lost_at, grip_open, yaw=yaw)
    f = classify_failure(tr, (True, False), (1.0, None), fell=False)
    assert f["mode"] == mode and f["subgoal"] == 1, f


def _push(cart_end, cart_yaw=0.0, let_go_at=None, n=40):
    obj = np.zeros((n, 4))
    obj[:, 0] = 1.0
    obj[10:, :2] = np.linspace((1.0, 0.0), cart_end, n - 10)
    obj[10:, 3] = np.linspace(0.0, cart_yaw, n - 10)
    touch = np.full(n, 2)
    if let_go_at is not None:
        touch[let_go_at:] = 0
        obj[let_go_at:] = obj[let_go_at]
    return _trace("cart_pushing", np.zeros((n, 3)), obj, touch, goals={"approach": [0, 0, 0], "cart_start": [1.0, 0.0, 0.0]})


@pytest.mark.parametrize("cart_end,yaw,let_go,mode", [
    ((1.5, 0.0), 0.0, None, "early_stop"),
    ((2.2, 0.0), 0.5, None, "wrong_orientation"),
    ((2.2, 0.4), 0.0, None, "path_deviation"),
    ((2.2, 0.0), 0.0, 15, "dropped_object"),
])
def test_second_subgoal_push_rules(cart_end, yaw, let_go, mode):
    f = classify_failure(_push(cart_end, yaw, let_go), (True, False), (1.0, None), fell=False)
    assert f["mode"] == mode, f


def test_name_error_and_over_target_by_hand():
    travel = np.array([1.0, 0.0])
    assert name_error(np.array([0.2, 0.1]), travel, 0.5, 2.0) == "overshoot"
    assert name_error(np.array([-0.2, 0.1]), travel, 0.5, 2.0) == "early_stop"
    assert name_error(np.array([0.1, 0.3]), travel, 0.5, 2.0) == "path_deviation"
    assert name_error(np.array([0.1, 0.3]), travel, 3.0, 2.0) == "wrong_orientation"
    # a target rotated 90 degrees: its x half-extent lies along world y
    assert over_target(np.array([0.0, 0.35]), np.array([0.0, 0.0, np.pi / 2]), np.array([0.4, 0.1]))
    assert not over_target(np.array([0.35, 0.0]), np.array([0.0, 0.0, np.pi / 2]), np.array([0.4, 0.1]))


def test_thresholds_are_validated():
    with pytest.raises(ValueError, match="stance_pos_tol"):
        FailureThresholds(stance_pos_tol=0.0)
    with pytest.raises(ValueError, match="loss_ticks"):
        FailureThresholds(loss_ticks=0)
