"""Locomotion backends: the ideal base follows the Eq. 2 reference exactly, reaches h* and holds;
the physics backends run the shipped ONNX policies and the fall test is the training one."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wbvla.lmo.config import CommandConfig
from wbvla.locomotion import (
    BACKENDS,
    IdealBase,
    IdealBaseConfig,
    PhysicsLMO,
    VelocityReference,
    VelocityRL,
    is_fallen,
    make_backend,
)
from wbvla.sim.contacts import fall_reason, furniture_geoms, robot_geoms, touches
from wbvla.sim.joints import default_pose, group_slice
from wbvla.sim.robot import FOOT_GEOMS
from wbvla.sim.scene import build_scene

ARMS, OPEN = default_pose("arms"), np.array([0.04, 0.04])
GATED = CommandConfig(reference_form="gated", alpha=4.0, smoothing=0.05, cruise=(0.3, 0.2, 0.5))


def _ideal(yaw: float = 0.0, config: CommandConfig = GATED):
    scene = build_scene(name="empty", seed=0, robot_yaw=yaw)
    base = IdealBase(IdealBaseConfig(command=config))
    base.reset(scene.model, scene.data, scene.robot)
    return scene, base


def _run(scene, base, command, steps):
    for _ in range(steps):
        base.step(scene.data, np.asarray(command, float), ARMS, OPEN)


def _yaw(scene) -> float:
    q = scene.robot.base_pose(scene.data)[1]
    return 2 * math.atan2(q[3], q[0])


def _hand_gated(v_goal: float, steps: int) -> float:
    """Travel of `steps` control steps of flag +1 from rest: s_bar_k = 1 - 0.95^k, v_k = v_goal tanh(4 s_bar_k)."""
    return sum(v_goal * math.tanh(4.0 * (1.0 - 0.95**k)) * 0.02 for k in range(1, steps + 1))


def test_ideal_base_travels_the_integrated_reference_forward():
    scene, base = _ideal()
    _run(scene, base, [1, 0, 0, 0.65], 50)
    pos = scene.robot.base_pose(scene.data)[0]
    assert pos[0] == pytest.approx(_hand_gated(0.3, 50), abs=1e-9)
    assert pos[1] == pytest.approx(0.0, abs=1e-12)
    assert base.velocity[0] == pytest.approx(0.3 * math.tanh(4 * (1 - 0.95**50)), abs=1e-12)


def test_ideal_base_turns_by_the_integrated_yaw_rate_and_strafes_in_its_own_frame():
    scene, base = _ideal()
    _run(scene, base, [0, 0, -1, 0.65], 40)
    assert _yaw(scene) == pytest.approx(-_hand_gated(0.5, 40), abs=1e-9)
    # Facing +y (yaw = pi/2), a left step (s_y = +1) moves the robot along world -x.
    scene, base = _ideal(yaw=math.pi / 2)
    _run(scene, base, [0, 1, 0, 0.65], 30)
    pos = scene.robot.base_pose(scene.data)[0]
    assert pos[0] == pytest.approx(-_hand_gated(0.2, 30), abs=1e-9)
    assert pos[1] == pytest.approx(0.0, abs=1e-9)


def test_ideal_base_reads_the_reference_form_from_the_config():
    printed = CommandConfig(reference_form="as_printed", alpha=4.0, smoothing=0.05, cruise=(0.3, 0.3, 0.3))
    scene, base = _ideal(config=printed)
    _run(scene, base, [1, 0, 0, 0.65], 10)
    # Eq. 2 as printed: v_k = 0.3 tanh(4 (1 - s_bar_k)) = 0.3 tanh(4 * 0.95^k)
    hand = sum(0.3 * math.tanh(4.0 * 0.95**k) * 0.02 for k in range(1, 11))
    assert scene.robot.base_pose(scene.data)[0][0] == pytest.approx(hand, abs=1e-9)


def test_ideal_base_holds_still_on_zero_flags_and_reaches_h_star_with_flat_feet():
    scene, base = _ideal()
    p0 = scene.robot.base_pose(scene.data)[0].copy()
    _run(scene, base, [0, 0, 0, 0.55], 50)  # 1 s: 0.10 m at <= 0.15 m/s takes 0.67 s
    pos = scene.robot.base_pose(scene.data)[0]
    assert pos[:2] == pytest.approx(p0[:2], abs=1e-12)
    assert _yaw(scene) == pytest.approx(0.0, abs=1e-12)
    assert pos[2] == pytest.approx(0.55, abs=1e-9)
    import mujoco

    mujoco.mj_forward(scene.model, scene.data)
    for name in FOOT_GEOMS:  # soles flat on the floor (box half-height 1 cm, level)
        g = scene.model.geom(name).id
        assert scene.data.geom_xpos[g][2] == pytest.approx(0.01, abs=4e-3)
        assert scene.data.geom_xmat[g][8] == pytest.approx(1.0, abs=1e-3)
    _run(scene, base, [0, 0, 0, 0.20], 50)  # below the LMO's range: clipped to 0.53
    assert scene.robot.base_pose(scene.data)[0][2] == pytest.approx(0.53, abs=1e-9)


def test_ideal_base_follows_velocity_commands_when_asked():
    scene = build_scene(name="empty", seed=0)
    base = make_backend("ideal_base", command_kind="velocity")
    base.reset(scene.model, scene.data, scene.robot)
    _run(scene, base, [0.25, 0.0, 0.0, 0.65], 25)
    assert scene.robot.base_pose(scene.data)[0][0] == pytest.approx(0.25 * 0.5, abs=1e-9)


def _drive_into(scene, command, steps, config: IdealBaseConfig | None = None):
    """Drive the ideal base with ``command``; returns the deepest penetration (m, >= 0) of any robot
    geom into furniture over the run (MuJoCo contact ``dist``) and every fall reason seen."""
    import mujoco

    base = IdealBase(config)
    base.reset(scene.model, scene.data, scene.robot)
    robot = robot_geoms(scene.model, scene.robot).robot
    furniture = furniture_geoms(scene.model, scene.robot)
    deepest, reasons = 0.0, set()
    for _ in range(steps):
        base.step(scene.data, np.asarray(command, float), ARMS, OPEN)
        mujoco.mj_forward(scene.model, scene.data)
        for t in touches(scene.model, scene.data, robot, furniture):
            deepest = max(deepest, -t.dist)
        reasons.add(fall_reason(scene.data, scene.robot))
    return deepest, reasons - {None}


@pytest.mark.parametrize("layout, xy, yaw, command", [
    ("bag_packing", (0.0, 0.0), 0.0, [1, 0, 0, 0.65]),   # into the table
    ("bag_packing", (0.0, 0.0), 0.0, [1, 0, 0, 0.53]),   # into the table, squatting
    ("empty", (3.0, 0.0), 0.0, [1, 0, 0, 0.65]),         # into a wall
    ("empty", (3.0, 0.0), 0.6, [1, 0, 0, 0.65]),         # into a wall at an angle
    ("cart_pushing", (0.0, 0.0), 0.0, [1, 0, 0, 0.65]),  # into the 50 kg cart's handle
])
def test_ideal_base_is_blocked_by_furniture_not_passing_through(layout, xy, yaw, command):
    scene = build_scene(name=layout, seed=1_000_000, robot_xy=xy, robot_yaw=yaw)
    cart0 = scene.object_pose("cart")[0] if layout == "cart_pushing" else None
    deepest, reasons = _drive_into(scene, command, 250)  # 5 s: 1.3 m at 0.3 m/s, past every obstacle
    assert deepest < 0.02, f"penetration {deepest:.3f} m"
    assert reasons == set()  # stopped short: nothing but the hands touches (a blocked robot is not a fallen one)
    x = scene.robot.base_pose(scene.data)[0][0]
    if layout == "bag_packing":
        table_edge = scene.object_pose("table")[0][0] - scene.objects["table"].size[0]
        assert table_edge - 0.4 < x < table_edge - 0.08  # stopped in front of the table (torso 0.075 m deep), not under or past it
    elif layout == "empty":
        assert 3.5 < x < 3.9  # the wall's face is at 3.95 m
    else:
        # The hanging hands may nudge it (they push what they touch); the body does not drive it along.
        assert np.linalg.norm(scene.object_pose("cart")[0][:2] - cart0[:2]) < 0.25
        assert x < cart0[0] - 0.3


def test_ideal_base_slides_along_a_wall_and_passes_through_only_without_collisions():
    scene = build_scene(name="empty", seed=0, robot_xy=(3.0, 0.0), robot_yaw=0.6)
    _drive_into(scene, [1, 0, 0, 0.65], 400)
    pos = scene.robot.base_pose(scene.data)[0]
    assert pos[0] < 3.9 and pos[1] > 1.0  # blocked across the wall, slid along it
    # The stand-in before issue 19 walked through the table (so the checks above can fail):
    scene = build_scene(name="bag_packing", seed=1_000_000)
    _, reasons = _drive_into(scene, [1, 0, 0, 0.65], 250, IdealBaseConfig(collide=False))
    far_edge = scene.object_pose("table")[0][0] + scene.objects["table"].size[0]
    assert scene.robot.base_pose(scene.data)[0][0] > far_edge and any(r.endswith("on table_top") for r in reasons)


def test_ideal_base_pushes_a_cart_through_its_grasp():
    """The cart is furniture for the torso and legs, not for the hands: the expert grabs the handle
    and walks the cart 1 m ahead (both subgoals)."""
    from wbvla.tasks.expert import ExpertConfig, ExpertNoiseConfig, ScriptedExpert
    from wbvla.tasks.runner import RunnerConfig, run_trial
    from wbvla.tasks.specs import make_task

    expert = ScriptedExpert(ExpertConfig(noise=ExpertNoiseConfig.off()), seed=0)
    result = run_trial(expert, make_task("cart_pushing", 1_000_002), RunnerConfig(backend="ideal_base", settle_s=0.2))
    assert result.success == (True, True) and not result.fell


def test_velocity_reference_coast_is_the_stopping_distance():
    ref = VelocityReference(GATED)
    for _ in range(100):
        ref.step(np.array([1.0, 0.0, 0.0]))
    s_bar = ref.s_bar[0]
    hand = sum(0.3 * math.tanh(4.0 * s_bar * 0.95**k) * 0.02 for k in range(1, 201))
    assert ref.coast()[0] == pytest.approx(hand, rel=1e-9)
    assert ref.s_bar[0] == s_bar  # coast does not change the state


def test_bad_commands_and_names_fail_clearly():
    scene, base = _ideal()
    with pytest.raises(ValueError, match="flags must be 3 values"):
        base.step(scene.data, np.array([0.5, 0, 0, 0.65]), ARMS, OPEN)
    with pytest.raises(RuntimeError, match="reset"):
        IdealBase().step(scene.data, np.zeros(4), ARMS, OPEN)
    with pytest.raises(ValueError, match="locomotion backend"):
        make_backend("walker")
    with pytest.raises(ValueError, match="velocity"):
        make_backend("velocity_rl", command_kind="flags")
    from wbvla.paths import data_dir

    with pytest.raises(ValueError, match="'lmo' policy"):
        VelocityRL(data_dir() / "lmo" / "lmo.onnx")


def test_fall_test_matches_training_thresholds():
    scene = build_scene(name="empty", seed=0)
    d, idx = scene.data, scene.robot
    assert not is_fallen(d, idx)
    b = idx.base_qpos
    d.qpos[b + 3 : b + 7] = (math.cos(0.5 * math.radians(65)), math.sin(0.5 * math.radians(65)), 0, 0)  # 65 deg roll
    assert is_fallen(d, idx)
    d.qpos[b + 3 : b + 7] = (1, 0, 0, 0)
    d.qpos[b + 2] = 0.30
    assert is_fallen(d, idx)


@pytest.mark.parametrize("name", ["lmo", "velocity_rl"])
def test_physics_backends_run_the_shipped_policies(name):
    scene = build_scene(name="empty", seed=0)
    backend = make_backend(name)
    assert isinstance(backend, PhysicsLMO if name == "lmo" else VelocityRL)
    assert name in BACKENDS and not backend.kinematic
    backend.reset(scene.model, scene.data, scene.robot)
    fell_at = None
    for k in range(150):  # 3 s standing still
        backend.step(scene.data, np.array([0, 0, 0, 0.65]), ARMS, OPEN)
        assert np.all(np.isfinite(scene.data.qpos))
        if fell_at is None and backend.fallen(scene.data):
            fell_at = k
    # Whatever the shipped policy does, the backend's fall flag agrees with the common test.
    assert backend.fallen(scene.data) == is_fallen(scene.data, scene.robot)
    assert backend.last_action.shape == (12,)
    arms = ARMS + 0.1
    backend.step(scene.data, np.array([0, 0, 0, 0.6]), arms, np.array([0.01, 0.02]))  # the caller's arms and grippers
    np.testing.assert_allclose(scene.data.ctrl[scene.robot.actuator[group_slice("grippers")]], [0.01, 0.02])
    np.testing.assert_allclose(scene.data.ctrl[scene.robot.actuator[group_slice("arms")]], arms)
