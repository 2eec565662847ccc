"""The simulated X2 against the official description (AgibotTech/agibot_x2_urdf, X2-Ultra v1.4.0).

The official values below are written out as facts, independently of wbvla/sim/joints.py.
"""

import mujoco
import numpy as np
import pytest

from wbvla.sim import joints as J
from wbvla.sim import robot as R

# name: (lower, upper, actuatorfrcrange) from X2_URDF-v1.4.0/X2-Ultra.xml
OFFICIAL_JOINTS = {
    "left_hip_pitch_joint": (-2.705260, 2.556907, 120),
    "left_hip_roll_joint": (-0.235619, 2.905973, 120),
    "left_hip_yaw_joint": (-1.858775925, 3.604104925, 120),
    "left_knee_joint": (0.0, 2.408554, 120),
    "left_ankle_pitch_joint": (-0.802851, 0.453786, 60),
    "left_ankle_roll_joint": (-0.2967059728, 0.2967059728, 36),
    "right_hip_pitch_joint": (-2.705260, 2.556907, 120),
    "right_hip_roll_joint": (-2.905973, 0.235619, 120),
    "right_hip_yaw_joint": (-3.604104925, 1.858775925, 120),
    "right_knee_joint": (0.0, 2.408554, 120),
    "right_ankle_pitch_joint": (-0.802851, 0.453786, 60),
    "right_ankle_roll_joint": (-0.2967059728, 0.2967059728, 36),
    "waist_yaw_joint": (-3.429572, 2.120575, 120),
    "left_shoulder_pitch_joint": (-3.080506, 2.033309, 60),
    "left_shoulder_roll_joint": (-0.061087, 3.045600, 60),
    "left_shoulder_yaw_joint": (-2.556907, 2.556907, 36),
    "left_elbow_joint": (-2.356194, 0.0, 36),
    "left_wrist_yaw_joint": (-2.556907, 2.556907, 36),
    "left_wrist_pitch_joint": (-0.523599, 0.523599, 6),
    "left_wrist_roll_joint": (-1.509710, 0.724312, 6),
    "right_shoulder_pitch_joint": (-3.080506, 2.033309, 60),
    "right_shoulder_roll_joint": (-3.045600, 0.061087, 60),
    "right_shoulder_yaw_joint": (-2.556907, 2.556907, 36),
    "right_elbow_joint": (-2.356194, 0.0, 36),
    "right_wrist_yaw_joint": (-2.556907, 2.556907, 36),
    "right_wrist_pitch_joint": (-0.523599, 0.523599, 6),
    "right_wrist_roll_joint": (-0.724312, 1.509710, 6),
}
OFFICIAL_AXES = {"hip_pitch": (0, 1, 0), "hip_roll": (1, 0, 0), "hip_yaw": (0, 0, 1), "knee": (0, 1, 0),
                 "ankle_pitch": (0, 1, 0), "ankle_roll": (1, 0, 0), "waist_yaw": (0, 0, 1),
                 "shoulder_pitch": (0, 1, 0), "shoulder_roll": (1, 0, 0), "shoulder_yaw": (0, 0, 1),
                 "elbow": (0, 1, 0), "wrist_yaw": (0, 0, 1), "wrist_pitch": (0, 1, 0), "wrist_roll": (1, 0, 0)}
OFFICIAL_MASSES = {
    "pelvis": 3.59, "left_hip_pitch_link": 1.474, "left_hip_roll_link": 1.667, "left_hip_yaw_link": 2.087,
    "left_knee_link": 1.838, "left_ankle_pitch_link": 0.949, "left_ankle_roll_link": 1.048,
    "right_hip_pitch_link": 1.476, "right_hip_roll_link": 1.669, "right_hip_yaw_link": 2.072,
    "right_knee_link": 1.826, "right_ankle_pitch_link": 0.948, "right_ankle_roll_link": 1.046,
    "waist_yaw_link": 1.788, "waist_pitch_link": 0.42, "torso_link": 10.986,
    "left_shoulder_pitch_link": 0.927, "left_shoulder_roll_link": 0.741, "left_shoulder_yaw_link": 0.703,
    "left_elbow_link": 0.675, "left_wrist_yaw_link": 0.37, "left_wrist_pitch_link": 0.344, "left_wrist_roll_link": 0.338,
    "right_shoulder_pitch_link": 0.936, "right_shoulder_roll_link": 0.73, "right_shoulder_yaw_link": 0.696,
    "right_elbow_link": 0.674, "right_wrist_yaw_link": 0.373, "right_wrist_pitch_link": 0.336, "right_wrist_roll_link": 0.337,
    "head_yaw_link": 0.709, "head_pitch_link": 1.028,
}


# The official feet: 12 contact spheres of radius 5 mm per ankle-roll link; the ten sole spheres
# have centres at z = -0.068 (the toe-tip one at -0.066), x in [-0.065, 0.139], y in [-0.06, 0.06].
OFFICIAL_SOLE_Z = -0.068 - 0.005
OFFICIAL_FOOTPRINT_X = (-0.065 - 0.005, 0.139 + 0.005)
OFFICIAL_FOOTPRINT_Y = (-0.06 - 0.005, 0.06 + 0.005)


@pytest.fixture(scope="module")
def model():
    return R.scene_spec().compile()


def test_joint_table_order_and_groups():
    assert len(J.JOINTS) == 29
    assert [len(J.joints_in(g)) for g in J.GROUPS] == [12, 1, 14, 2]
    assert J.JOINT_NAMES[:12] == tuple(n for n in OFFICIAL_JOINTS if "hip" in n or "knee" in n or "ankle" in n)
    assert J.JOINT_NAMES[12] == "waist_yaw_joint"
    assert J.JOINT_NAMES[13:27] == tuple(n for n in OFFICIAL_JOINTS if any(k in n for k in ("shoulder", "elbow", "wrist")))


@pytest.mark.parametrize("name", list(OFFICIAL_JOINTS))
def test_ranges_and_torque_limits_match_official(model, name):
    lo, hi, effort = OFFICIAL_JOINTS[name]
    spec = J.joint(name)
    assert (spec.lower, spec.upper, spec.effort_limit) == pytest.approx((lo, hi, effort), abs=1e-9)
    jid = model.joint(name).id
    assert model.jnt_range[jid] == pytest.approx([lo, hi], abs=1e-9)
    assert model.jnt_actfrcrange[jid] == pytest.approx([-effort, effort])
    act = model.actuator(name)
    assert act.forcerange == pytest.approx([-effort, effort])
    short = name.removeprefix("left_").removeprefix("right_").removesuffix("_joint")
    assert model.jnt_axis[jid] == pytest.approx(OFFICIAL_AXES[short])


def test_link_masses_match_official(model):
    for body, mass in OFFICIAL_MASSES.items():
        assert model.body(body).mass[0] == pytest.approx(mass), body
    assert sum(OFFICIAL_MASSES.values()) == pytest.approx(R.OFFICIAL_TOTAL_MASS, abs=1e-6)
    total = model.body_subtreemass[model.body("pelvis").id]
    assert total == pytest.approx(R.OFFICIAL_TOTAL_MASS + 2 * R.GRIPPER_MASS)


def test_paper_configuration_locks_waist_pitch_roll_and_head(model):
    names = {model.joint(i).name for i in range(model.njnt)}
    for locked in J.LOCKED_JOINTS:
        assert locked not in names
    assert model.nu == 29  # legs 12 + waist 1 + arms 14 + grippers 2
    assert model.opt.timestep == pytest.approx(R.PHYSICS_DT)
    assert R.DECIMATION == 4


def test_bad_joint_targets_raise_clear_errors():
    q = J.default_pose()
    q[3] = 3.0  # left knee beyond 2.4085
    with pytest.raises(ValueError, match="left_knee_joint.*outside its range"):
        J.check_targets(q)
    with pytest.raises(ValueError, match="expected 14 joint targets"):
        J.check_targets(np.zeros(3), "arms")
    with pytest.raises(ValueError, match="unknown joint group"):
        J.joints_in("tail")


def test_x2index_round_trip(model):
    data = mujoco.MjData(model)
    idx = R.X2Index.from_model(model)
    q = J.default_pose()
    q[J.group_slice("grippers")] = 0.01
    idx.set_joint_pos(data, q)
    assert idx.joint_pos(data) == pytest.approx(q)
    assert data.qpos[idx.gripper_mirror_qpos] == pytest.approx([0.01, 0.01])


def test_stands_five_seconds_under_pd_hold(model):
    """The default pose is statically balanced: a PD hold keeps the base within 5 cm for 5 s."""
    data = mujoco.MjData(model)
    idx = R.X2Index.from_model(model)
    R.reset_to_pose(model, data, idx)
    z0 = data.qpos[idx.base_qpos + 2]
    heights = []
    for _ in range(int(5.0 / model.opt.timestep)):
        mujoco.mj_step(model, data)
        heights.append(data.qpos[idx.base_qpos + 2])
    assert np.max(np.abs(np.array(heights) - z0)) < 0.05
    assert np.linalg.norm(data.qpos[idx.base_qpos : idx.base_qpos + 2]) < 0.05


def test_falls_without_actuation(model):
    """Sanity check that the stand test can fail: with zero gains the robot collapses."""
    spec = R.scene_spec(actuated=False)
    m = spec.compile()
    data = mujoco.MjData(m)
    idx = R.X2Index.from_model(m)
    R.reset_to_pose(m, data, idx)
    z0 = data.qpos[2]
    for _ in range(int(3.0 / m.opt.timestep)):
        mujoco.mj_step(m, data)
    assert z0 - data.qpos[2] > 0.05


def test_feet_match_the_official_sole_plane_and_footprint(model):
    """The box soles lie in the official contact spheres' sole plane and span their footprint."""
    from wbvla.lmo.rewards import FOOT_HALF_LENGTH, FOOT_HALF_WIDTH

    for side in ("left", "right"):
        g = model.geom(f"{side}_foot_collision")
        assert model.body(g.bodyid[0]).name == f"{side}_ankle_roll_link"
        (hx, hy, hz), (px, py, pz) = g.size, g.pos
        assert pz - hz == pytest.approx(OFFICIAL_SOLE_Z, abs=1e-9)
        assert (px - hx, px + hx) == pytest.approx(OFFICIAL_FOOTPRINT_X, abs=1e-9)
        assert (py - hy, py + hy) == pytest.approx(OFFICIAL_FOOTPRINT_Y, abs=1e-9)
        assert (hx, hy) == pytest.approx((FOOT_HALF_LENGTH, FOOT_HALF_WIDTH))
        site = model.site(f"{side}_foot")
        assert site.pos[2] == pytest.approx(OFFICIAL_SOLE_Z) and site.pos[0] == pytest.approx(px)


def test_default_stance_height_on_the_official_soles(model):
    """Straight legs: the pelvis stands 0.67495 m above the sole (official spheres); the default
    (bent) stance 0.6554 m, which is HeightConfig's nominal h*."""
    from wbvla.lmo.config import HeightConfig

    straight = np.zeros(len(J.JOINTS))
    straight[J.group_slice("grippers")] = J.GRIPPER_OPEN
    assert R.base_height_for(straight) == pytest.approx(0.67495, abs=2e-4)
    assert R.base_height_for() == pytest.approx(HeightConfig().nominal_height, abs=1e-3)
