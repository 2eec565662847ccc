"""Subgoal checks on hand-made scene states (pure functions), the App. B.3 sequential tracker, and
read_state on a real scene."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wbvla.data.teleop_schema import SUBGOALS, TASKS
from wbvla.tasks.subgoals import (
    CHECKS,
    SceneState,
    SubgoalThresholds,
    SubgoalTracker,
    grab_handle,
    grasp_bags,
    move_and_squat,
    push_ahead,
    read_state,
    rise_and_turn,
)

TH = SubgoalThresholds()
BOTH = frozenset({"left", "right"})


def rot_z(yaw: float) -> np.ndarray:
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])


def rot_x(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[1.0, 0, 0], [0, c, -s], [0, s, c]])


def state(t=0.0, poses=None, touched=None, pinched=None, touching=(), fallen=False) -> SceneState:
    sizes = {"bag": np.array([0.07, 0.17, 0.06]), "carton": np.array([0.18, 0.24, 0.16]),
             "box": np.array([0.10, 0.16, 0.07]), "cart": np.array([0.35, 0.25, 0.425])}
    return SceneState(time=t, fallen=fallen, base_pos=np.zeros(3), base_yaw=0.0,
                      poses={k: (np.asarray(p, float), r) for k, (p, r) in (poses or {}).items()}, sizes=sizes,
                      touched_by=touched or {}, pinched_by=pinched or {},
                      touching=frozenset(frozenset(p) for p in touching), deck_top={"cart": 0.42})


EYE = np.eye(3)


def test_checks_are_named_like_the_schema_subgoals():
    for task in TASKS:
        assert tuple(f.__name__ for f in CHECKS[task]) == SUBGOALS[task]


def test_grasp_needs_both_grippers_and_the_lift():
    start = state(poses={"bag": ((0.6, 0, 0.60), EYE)})
    lifted = {"bag": ((0.6, 0, 0.60 + 0.031), EYE)}
    assert grasp_bags(state(poses=lifted, touched={"bag": BOTH}), start, TH)
    assert not grasp_bags(state(poses=lifted, touched={"bag": frozenset({"left"})}), start, TH)
    assert not grasp_bags(state(poses={"bag": ((0.6, 0, 0.62), EYE)}, touched={"bag": BOTH}), start, TH)  # 2 cm < 3 cm


def test_bag_in_carton_inner_volume_and_released():
    start = state()
    carton = ((1.0, 1.0, 0.0), rot_z(0.3))
    inside = (np.array([1.0, 1.0, 0.01]) + rot_z(0.3) @ np.array([0.10, 0.0, 0.0]), EYE)
    assert move_and_squat(state(poses={"bag": inside, "carton": carton}), start, TH)
    # Held by a finger: not placed yet.
    assert not move_and_squat(state(poses={"bag": inside, "carton": carton}, touched={"bag": frozenset({"right"})}), start, TH)
    # Centre beyond the inner wall (0.18 - 0.006 = 0.174 m in the carton's x).
    outside = (np.array([1.0, 1.0, 0.01]) + rot_z(0.3) @ np.array([0.18, 0.0, 0.0]), EYE)
    assert not move_and_squat(state(poses={"bag": outside, "carton": carton}), start, TH)
    # Resting on the rim (centre above it): not inside.
    on_rim = ((1.0, 1.0, 0.30), EYE)
    assert not move_and_squat(state(poses={"bag": on_rim, "carton": carton}), start, TH)
    # Carton knocked over.
    assert not move_and_squat(state(poses={"bag": inside, "carton": ((1.0, 1.0, 0.0), rot_x(math.radians(40)))}), start, TH)


def test_tote_on_the_deck():
    start = state()
    cart = ((2.0, 0.0, 0.0), rot_z(math.pi / 2))
    on = ((2.1, 0.0, 0.425), EYE)  # bottom 5 mm above the 0.42 m deck top
    touching = [("box", "cart")]
    assert rise_and_turn(state(poses={"box": on, "cart": cart}, touching=touching), start, TH)
    assert not rise_and_turn(state(poses={"box": on, "cart": cart}), start, TH)  # not touching the cart
    high = ((2.1, 0.0, 0.45), EYE)  # 3 cm above the deck: > deck_gap
    assert not rise_and_turn(state(poses={"box": high, "cart": cart}, touching=touching), start, TH)
    off = ((2.0, 0.30, 0.425), EYE)  # 0.30 m along the cart's x (it is turned 90 deg): deck half-length 0.35 -> on
    assert rise_and_turn(state(poses={"box": off, "cart": cart}, touching=touching), start, TH)
    beyond = ((2.30, 0.0, 0.425), EYE)  # 0.30 m along the cart's y: deck half-width 0.25 -> off
    assert not rise_and_turn(state(poses={"box": beyond, "cart": cart}, touching=touching), start, TH)
    tilted = ((2.1, 0.0, 0.425), rot_x(math.radians(25)))
    assert not rise_and_turn(state(poses={"box": tilted, "cart": cart}, touching=touching), start, TH)


def test_handle_and_push_ahead_thresholds():
    h0 = 0.4
    start = state(poses={"cart": ((1.0, 0.0, 0.0), rot_z(h0))})
    assert grab_handle(state(pinched={"cart": BOTH}), start, TH)
    assert not grab_handle(state(pinched={"cart": frozenset({"left"})}, touched={"cart": BOTH}), start, TH)

    def moved(ahead, lateral, dyaw, touched=BOTH):
        d = ahead * np.array([math.cos(h0), math.sin(h0)]) + lateral * np.array([-math.sin(h0), math.cos(h0)])
        return state(poses={"cart": ((1.0 + d[0], d[1], 0.0), rot_z(h0 + dyaw))}, touched={"cart": touched})

    assert push_ahead(moved(1.0, 0.0, 0.0), start, TH)
    assert not push_ahead(moved(0.99, 0.0, 0.0), start, TH)
    assert not push_ahead(moved(1.2, 0.26, 0.0), start, TH)
    assert push_ahead(moved(1.2, -0.24, math.radians(14)), start, TH)
    assert not push_ahead(moved(1.2, 0.0, math.radians(16)), start, TH)
    assert not push_ahead(moved(1.2, 0.0, 0.0, frozenset({"left"})), start, TH)


def test_tracker_is_sequential_and_counts_falls():
    start = state(poses={"cart": ((1.0, 0.0, 0.0), EYE)})
    tr = SubgoalTracker("cart_pushing", start)
    pushed = state(t=3.0, poses={"cart": ((2.5, 0.0, 0.0), EYE)}, touched={"cart": BOTH})
    assert tr.update(pushed) == 0  # the push "holds", but the first subgoal was never achieved
    assert tr.success == (False, False)
    assert tr.update(state(t=4.0, poses={"cart": ((1.0, 0.0, 0.0), EYE)}, pinched={"cart": BOTH})) == 1
    assert tr.times[0] == pytest.approx(4.0)
    tr.update(state(t=5.0, poses={"cart": ((2.5, 0.0, 0.0), EYE)}, touched={"cart": BOTH}))
    assert tr.success == (True, True) and tr.done and tr.times[1] == pytest.approx(5.0)

    tr = SubgoalTracker("cart_pushing", start)
    tr.update(state(t=1.0, poses={"cart": ((1.0, 0.0, 0.0), EYE)}, pinched={"cart": BOTH}))
    tr.update(state(t=2.0, poses={"cart": ((1.0, 0.0, 0.0), EYE)}, fallen=True))
    assert tr.fell and tr.fall_time == pytest.approx(2.0) and tr.done and tr.success == (True, False)
    tr.update(state(t=3.0, poses={"cart": ((2.5, 0.0, 0.0), EYE)}, touched={"cart": BOTH}))
    assert tr.success == (True, False)  # frozen after the fall


def test_bad_thresholds_and_tasks_fail_clearly():
    with pytest.raises(ValueError, match="push_distance"):
        SubgoalThresholds(push_distance=0.0)
    with pytest.raises(ValueError, match="push_heading_tol_deg"):
        SubgoalThresholds(push_heading_tol_deg=120.0)
    with pytest.raises(ValueError, match="unknown task"):
        SubgoalTracker("dishes", state())


def test_read_state_sees_poses_sizes_and_contacts_of_a_scene():
    from wbvla.tasks.specs import make_task

    task = make_task("box_loading", 5)
    s = read_state(task.scene)
    assert {"table", "box", "cart"} <= set(s.poses)
    assert not s.fallen and s.touched_by == {}
    assert frozenset(("box", "table")) in s.touching  # the tote rests on its table
    assert s.deck_top["cart"] == pytest.approx(0.42)
    np.testing.assert_allclose(s.sizes["box"], [0.10, 0.18, 0.07])
