"""The robot's geom roles, furniture, and the one fall test (issue 19 part 3): pelvis height and
tilt, and a body part other than the feet and hands touching the floor or furniture."""

from __future__ import annotations

import math

import mujoco
import numpy as np
import pytest

from wbvla.lmo.config import TERMINATION_HEIGHT, TERMINATION_TILT
from wbvla.sim.contacts import (
    FALL_HEIGHT,
    FALL_TILT,
    fall_reason,
    furniture_geoms,
    is_fallen,
    robot_geoms,
    tilt,
)
from wbvla.sim.joints import group_slice
from wbvla.sim.scene import build_scene
from wbvla.tasks.expert import raised_arms


def _names(model, mask) -> set[str]:
    return {mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, g) for g in np.flatnonzero(mask)} - {None}


def test_robot_geoms_split_into_feet_hands_and_body():
    scene = build_scene(name="box_loading", seed=3)
    roles = robot_geoms(scene.model, scene.robot)
    assert _names(scene.model, roles.feet) == {"left_foot_collision", "right_foot_collision"}
    hands = _names(scene.model, roles.hands)
    assert {"left_palm_collision", "right_finger_a_collision", "left_hand_collision"} <= hands
    body = _names(scene.model, roles.body)
    assert {"torso_collision", "pelvis_collision", "left_forearm_collision", "right_knee_cap_collision", "head_collision"} <= body
    assert not (roles.feet & roles.hands).any() and not (roles.body & (roles.feet | roles.hands)).any()
    np.testing.assert_array_equal(roles.feet | roles.hands | roles.body, roles.robot)
    assert not roles.robot[scene.model.geom("table_top").id]


def test_furniture_is_the_floor_static_bodies_and_heavy_movables():
    scene = build_scene(name="box_loading", seed=3)
    m = scene.model
    names = _names(m, furniture_geoms(m, scene.robot))
    assert {"floor", "wall0", "table_top", "table_leg2", "cart_deck", "cart_handle", "cart_wheel1_geom"} <= names
    assert not any(n.startswith("box_") for n in names)  # the 1-2 kg tote is a prop
    assert not names & _names(m, robot_geoms(m, scene.robot).robot)
    light = furniture_geoms(m, scene.robot, min_mass=1e6)  # a 50 kg cart is not furniture above 1 t
    assert "cart_deck" not in _names(m, light) and "table_top" in _names(m, light)


def test_height_and_tilt_limits_are_the_rl_termination():
    assert (FALL_HEIGHT, FALL_TILT) == (TERMINATION_HEIGHT, TERMINATION_TILT)
    scene = build_scene(name="empty", seed=0)
    d, idx, b = scene.data, scene.robot, scene.robot.base_qpos
    assert fall_reason(d, idx) is None
    d.qpos[b + 3 : b + 7] = (math.cos(math.radians(32.5)), math.sin(math.radians(32.5)), 0, 0)  # 65 deg roll
    assert fall_reason(d, idx) == "tilt" and tilt(d, idx) == pytest.approx(math.radians(65))
    d.qpos[b + 3 : b + 7] = (1, 0, 0, 0)
    d.qpos[b + 2] = 0.30
    assert fall_reason(d, idx) == "height" and is_fallen(d, idx)


def test_a_robot_leaning_on_a_table_has_fallen():
    """The quickstart's bag-packing slump, built by hand: the robot stands 0.15 m from the table
    pitched 15 deg forward and tips onto it. It ends with its pelvis high and tilted far less
    than 60 deg, so only the contact tells the fall."""
    scene = build_scene(name="bag_packing", seed=1_000_000)
    m, d, idx = scene.model, scene.data, scene.robot
    b = idx.base_qpos
    d.qpos[b] = d.body("table").xpos[0] - scene.objects["table"].size[0] - 0.27
    d.qpos[b + 3 : b + 7] = (math.cos(math.radians(7.5)), 0, math.sin(math.radians(7.5)), 0)
    mujoco.mj_forward(m, d)
    assert fall_reason(d, idx) is None
    for _ in range(600):  # 3 s
        mujoco.mj_step(m, d)
    assert d.qpos[b + 2] > FALL_HEIGHT + 0.1 and tilt(d, idx) < math.radians(50)
    reason = fall_reason(d, idx)
    assert reason is not None and reason.startswith("contact: ") and reason.endswith(" on table_top")


def test_the_body_touching_a_wall_is_a_fall_and_a_hand_on_it_is_not():
    scene = build_scene(name="empty", seed=0)
    m, d, idx = scene.model, scene.data, scene.robot
    wall = m.geom("wall0")
    roles = robot_geoms(m, idx)
    finger, torso = m.geom("right_finger_a_collision").id, m.geom("torso_collision").id
    d.qpos[idx.qpos[group_slice("arms")]] = raised_arms()  # hands ahead of the body, fingers forward

    def place_wall_at(x):  # move the static wall body so its inner face is at world x
        m.body_pos[wall.bodyid[0]][0] = x - wall.pos[0] - wall.size[0]
        mujoco.mj_forward(m, d)

    mujoco.mj_forward(m, d)
    place_wall_at(d.geom_xpos[finger][0] + 0.005)  # only the fingers reach past it
    assert any(roles.hands[g] for g in d.contact.geom[: d.ncon].ravel()) and fall_reason(d, idx) is None
    place_wall_at(d.geom_xpos[torso][0] + 0.06)  # the torso box (0.075 m half depth) is in it
    assert fall_reason(d, idx).startswith("contact: ")


@pytest.mark.slow
def test_the_quickstart_bag_packing_slump_on_the_physics_lmo_is_a_fall():
    """``wbvla quickstart --task bag_packing --backend lmo``: the shipped VLA on the physics LMO
    slumps forward onto the table at about 6 s (forearms on the table top, pelvis ~0.55 m, tilt
    ~40 deg) and stayed there for the rest of the trial, reported as ``fell: false`` before the
    contact rule."""
    import torch

    from wbvla.quickstart import load_policy
    from wbvla.quickstart_config import QuickstartConfig
    from wbvla.suite.trials import backend_for
    from wbvla.tasks.runner import RunnerConfig, run_trial
    from wbvla.tasks.specs import make_task

    torch.set_num_threads(1)
    config = QuickstartConfig(task="bag_packing", backend="lmo")
    policy = load_policy(config)
    backend = backend_for("lmo", policy.command_kind)
    result = run_trial(policy, make_task("bag_packing", config.seed), RunnerConfig(backend="lmo", time_limit_s=10.0),
                       backend=backend)
    assert result.fell and result.info["fall_reason"].startswith("contact: ")
    assert result.info["fall_reason"].endswith("on table_top")
