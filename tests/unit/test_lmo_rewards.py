"""Every reward term on a constructed state: shape (num_envs,) and a hand-computed value."""

import math
from types import SimpleNamespace as NS

import pytest
import torch

from wbvla.lmo import rewards as R
from wbvla.lmo.config import reward_table_names

N, J = 2, 12
LEGS = NS(joint_ids=list(range(12)))
FEET = NS(site_ids=[0, 1])
KNEES = NS(body_ids=[0, 1])


def rot_y(a):
    c, s = math.cos(a), math.sin(a)
    return torch.tensor([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def rot_z(a):
    c, s = math.cos(a), math.sin(a)
    return torch.tensor([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def make_env():
    z = lambda *s: torch.zeros(*s)  # noqa: E731
    data = NS(
        root_link_lin_vel_b=z(N, 3), root_link_ang_vel_b=z(N, 3), root_link_pos_w=z(N, 3),
        root_link_quat_w=torch.tensor([[1.0, 0, 0, 0]] * N), projected_gravity_b=torch.tensor([[0, 0, -1.0]] * N),
        joint_pos=z(N, J), default_joint_pos=z(N, J), joint_vel=z(N, J), joint_acc=z(N, J),
        soft_joint_pos_limits=torch.tensor([[-1.0, 1.0]]).repeat(N, J, 1), qfrc_actuator=z(N, J),
        body_link_pos_w=torch.tensor([[[0, 0.15, 0.3], [0, -0.15, 0.3]]] * N),
    )
    robot = NS(data=data, indexing=NS(site_ids=torch.tensor([0, 1]), root_body_id=0))
    sim = NS(
        data=NS(site_xpos=torch.tensor([[[0, 0.13, 0.0], [0, -0.13, 0.0]]] * N), site_xmat=torch.eye(3).reshape(1, 1, 9).repeat(N, 2, 1),
                cvel=z(N, 3, 6), subtree_com=z(N, 3, 3)),
        model=NS(site_bodyid=torch.tensor([1, 2])),
    )
    cmd = NS(v_ref=z(N, 3), height_target=torch.full((N,), 0.65), is_standing=torch.tensor([False, True]), j_dir=z(N))
    first = torch.zeros(N, 2, dtype=torch.bool)
    contact = NS(data=NS(force=z(N, 2, 3), last_air_time=z(N, 2)), compute_first_contact=lambda dt: first, first=first)
    legs = NS(applied_target=z(N, 12))
    am = NS(action=z(N, 12), prev_action=z(N, 12), prev_prev_action=z(N, 12), get_term=lambda name: legs, legs=legs)
    env = NS(scene={"robot": robot, "feet_contact": contact}, sim=sim, step_dt=0.02, action_manager=am,
             command_manager=NS(get_term=lambda name: cmd), cmd=cmd, robot=robot, contact=contact)
    return env


def check(value, expected):
    assert value.shape == (N,)
    assert torch.isfinite(value).all()
    assert value.tolist() == pytest.approx(expected, abs=1e-6)


def test_intent_and_height_tracking():
    env = make_env()
    env.robot.data.root_link_lin_vel_b[0] = torch.tensor([0.3, 0.1, 0.05])
    env.robot.data.root_link_ang_vel_b[0] = torch.tensor([0.1, -0.2, 0.2])
    env.cmd.v_ref[0] = torch.tensor([0.3, 0.0, 0.0])
    env.robot.data.root_link_pos_w[:, 2] = torch.tensor([0.6, 0.65])
    check(R.forward_intent(env, "c"), [1.0, 1.0])
    check(R.lateral_intent(env, "c"), [math.exp(-0.04), 1.0])
    check(R.yaw_intent(env, "c"), [math.exp(-0.16), 1.0])
    check(R.height_tracking(env, "c"), [math.exp(-4 * 0.05**2), 1.0])
    check(R.vertical_velocity(env), [0.0025, 0.0])
    check(R.angular_velocity_xy(env), [0.05, 0.0])


def test_posture_terms():
    env = make_env()
    d = env.robot.data
    d.projected_gravity_b[0] = torch.tensor([0.1, 0.2, -0.97])
    check(R.roll_pitch(env), [0.05, 0.0])
    d.joint_pos[0, 1], d.joint_pos[0, 8], d.joint_pos[0, 5] = 0.1, -0.2, 0.05
    check(R.hip_deviation(env, NS(joint_ids=[1, 2, 7, 8])), [0.05, 0.0])
    check(R.ankle_deviation(env, NS(joint_ids=[5, 11])), [0.0025, 0.0])
    k = R.knee_for_height(torch.tensor([0.65])).item()
    d.joint_pos[:, 3] = d.joint_pos[:, 9] = k
    d.joint_pos[0, 3] = k + 0.1
    check(R.knee_deviation(env, "c", NS(joint_ids=[3, 9])), [0.01, 0.0])
    d.joint_acc[0] = 10.0
    check(R.dof_acceleration(env, LEGS), [1200.0, 0.0])
    d.joint_pos[1, 0], d.joint_pos[1, 6] = 1.2, -1.5
    check(R.dof_pos_limits(env, LEGS), [0.0, 0.7])
    d.joint_vel[0, 0] = 2.0
    check(R.dof_velocity(env, LEGS), [4.0, 0.0])
    check(R.dof_velocity_limits(env, LEGS, limit=1.5), [0.5, 0.0])


def test_knee_reference_matches_the_default_pose():
    # the default pose (knee 0.5) is the balanced stance at 0.650 m
    assert R.knee_for_height(torch.tensor([0.6554])).item() == pytest.approx(0.5, abs=0.01)
    deeper = R.knee_for_height(torch.tensor([0.55, 0.60]))
    assert deeper[0] > deeper[1] > 0.5


def test_torque_terms():
    env = make_env()
    d = env.robot.data
    env.action_manager.legs.applied_target[0, 0] = 1.0  # hip pitch: kp 200 -> 200 N m asked, limit 120
    check(R.torque_limits(env, LEGS, soft=0.9), [200 - 108.0, 0.0])
    d.qfrc_actuator[0, 0], d.joint_vel[0, 0] = 10.0, 2.0
    check(R.joint_power(env, LEGS), [20 + 0.2 * 400, 0.0])
    check(R.torque_usage(env, LEGS), [100 / 200.0, 0.0])
    d.joint_pos[1, 2] = 0.3
    check(R.joint_tracking(env, LEGS), [1.0, 0.09])


def test_foot_clearance_slip_and_momentum():
    env = make_env()
    env.sim.data.site_xpos[0, 0, 2] = 0.02
    env.sim.data.cvel[0, 1, 3:] = torch.tensor([0.3, 0.4, 0.0])  # left foot moving, angular 0
    check(R.foot_clearance(env, FEET, target=0.08), [0.06**2 * 0.5, 0.08**2 * 0.0])
    env.contact.data.force[0, 1, 2] = 300.0  # right foot loaded
    env.sim.data.cvel[0, 2, 3:] = torch.tensor([0.1, 0.0, -0.2])
    check(R.foot_slip(env, FEET, "feet_contact", threshold=1.0), [0.1, 0.0])
    check(R.contact_momentum(env, FEET, "feet_contact"), [0.2 * 300, 0.0])
    env.contact.data.force[1, :, 2] = 600.0
    check(R.feet_contact_force(env, "feet_contact", threshold=550.0), [0.0, 100.0])


def test_foot_velocity_includes_rotation():
    env = make_env()
    # body 1 spins about z at 1 rad/s around the subtree CoM at the origin; the site at y=0.13
    env.sim.data.cvel[0, 1, 2] = 1.0
    vel = R._foot_sites(env, FEET)[2]
    assert vel[0, 0].tolist() == pytest.approx([-0.13, 0.0, 0.0], abs=1e-6)


def test_spacing_and_parallel_terms():
    env = make_env()
    check(R.foot_spacing(env, FEET, d_min=0.2), [0.0, 0.0])
    env.sim.data.site_xpos[1, 1, 1] = -0.05  # right foot at y = -0.05: gap 0.18
    check(R.foot_spacing(env, FEET, d_min=0.2), [0.0, -0.02])
    env.robot.data.body_link_pos_w[0, 1, 1] = -0.05  # knees 0.15 and -0.05: gap 0.20 ... then 0.15
    env.robot.data.body_link_pos_w[0, 0, 1] = 0.10
    check(R.knee_spacing(env, KNEES, d_min=0.2), [-0.05, 0.0])
    check(R.feet_ground_parallel(env, FEET), [0.0, 0.0])
    env.sim.data.site_xmat[0, 0] = rot_y(0.1).reshape(9)
    check(R.feet_ground_parallel(env, FEET), [(0.107 * math.sin(0.1)) ** 2, 0.0])
    env.sim.data.site_xmat[1, 0] = rot_z(0.2).reshape(9)
    check(R.feet_parallel(env, FEET), [0.0, (0.107 * math.sin(0.2)) ** 2])


def test_contact_pattern_terms():
    env = make_env()
    f = env.contact.data.force
    f[:, 1, 2] = 300.0  # right foot down in both envs; env 1 is standing
    check(R.no_fly(env, "c", "feet_contact", threshold=1.0), [1.0, 0.0])
    f[0, 0] = torch.tensor([100.0, 0.0, 10.0])  # sideways hit
    check(R.foot_stumble(env, "feet_contact"), [1.0, 0.0])
    env.contact.first[0, 0] = True
    env.contact.data.last_air_time[0] = torch.tensor([0.4, 0.7])
    check(R.feet_air_time(env, "c", "feet_contact", target=0.5), [-0.1, 0.0])


def test_action_terms_and_eq4():
    env = make_env()
    am = env.action_manager
    am.action[:, 0] = torch.tensor([1.0, 2.0])
    am.prev_action[:, 0] = torch.tensor([0.5, 2.0])
    am.prev_prev_action[:, 0] = torch.tensor([0.5, 1.0])
    check(R.action_rate(env), [0.25, 0.0])
    check(R.action_smoothness(env), [(1 - 1 + 0.5) ** 2, (2 - 4 + 1) ** 2])
    # Eq. 4: ||a_leg||^2 only where all flags are 0 (env 1)
    check(R.stand_still(env, "c"), [0.0, 4.0])
    am.action[0, 5], am.action[0, 11] = 0.3, -0.4
    check(R.roll_action_zero(env), [0.25, 0.0])
    am.action[1, 3], am.action[1, 4] = 5.0, -6.0
    check(R.action_vanish(env, bound=4.0), [0.0, 1.0 + 2.0])


def test_heading_drift_is_an_impulse_of_eq3():
    env = make_env()
    env.cmd.j_dir[:] = torch.tensor([0.1, 0.0])
    check(R.heading_drift(env, "c"), [0.1 / 0.02, 0.0])  # x dt (mjlab) x weight = weight * J_dir


def test_termination_is_an_impulse_on_falls_only():
    env = make_env()
    env.termination_manager = NS(terminated=torch.tensor([True, False]))  # time-outs are not in .terminated
    check(R.termination(env), [1 / 0.02, 0.0])  # x dt (mjlab) x weight = weight per fall


def test_velocity_tracking_matches_intent_terms():
    env = make_env()
    env.robot.data.root_link_lin_vel_b[:, 1] = torch.tensor([0.2, -0.1])
    for axis, fn in enumerate((R.forward_intent, R.lateral_intent, R.yaw_intent)):
        assert torch.equal(R.velocity_tracking(env, "c", axis), fn(env, "c"))


def test_every_table_term_was_exercised():
    tested = {"forward_intent", "lateral_intent", "yaw_intent", "height_tracking", "vertical_velocity",
              "angular_velocity_xy", "roll_pitch", "hip_deviation", "ankle_deviation", "knee_deviation",
              "dof_acceleration", "dof_pos_limits", "dof_velocity", "dof_velocity_limits", "torque_limits",
              "feet_air_time", "foot_clearance", "foot_spacing", "knee_spacing", "feet_ground_parallel",
              "feet_parallel", "no_fly", "foot_slip", "foot_stumble", "action_rate", "action_smoothness",
              "joint_power", "torque_usage", "feet_contact_force", "contact_momentum", "action_vanish",
              "roll_action_zero", "stand_still", "joint_tracking", "heading_drift", "termination"}
    assert set(reward_table_names()) == tested
