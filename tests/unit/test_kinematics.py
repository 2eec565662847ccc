import numpy as np
import pytest

from wbvla.sim import joints as J
from wbvla.sim.arm_motions import ARM_MOTION_KINDS, arm_clip_library, generate_clip
from wbvla.sim.kinematics import READY_ARM_POSE, ArmKinematics


@pytest.fixture(scope="module")
def kin():
    return ArmKinematics()


def test_ik_recovers_a_reachable_fk_pose(kin):
    q = READY_ARM_POSE.copy()
    q[:7] += np.array([-0.3, 0.2, 0.3, -0.2, 0.1, 0.1, 0.0])
    target, _ = kin.tcp_pose("left", q)
    res = kin.solve("left", target)
    assert res.converged
    reached, _ = kin.tcp_pose("left", np.concatenate([res.q_arm, READY_ARM_POSE[7:]]))
    assert np.linalg.norm(reached - target) < 2e-3


def test_ik_aligns_the_fingers(kin):
    res = kin.solve("right", np.array([0.3, -0.15, 0.72]), approach_axis=np.array([0.0, 0.0, -1.0]))
    assert res.converged and res.axis_error < 0.1


def test_ik_reports_unreachable_targets(kin):
    res = kin.solve("left", np.array([1.5, 0.2, 0.9]), iterations=50)
    assert not res.converged and res.position_error > 0.5
    with pytest.raises(ValueError, match="side must be one of"):
        kin.solve("middle", np.zeros(3))
    with pytest.raises(ValueError, match="target_pos"):
        kin.solve("left", np.array([np.nan, 0, 0]))


@pytest.mark.parametrize("kind", ARM_MOTION_KINDS)
def test_clips_are_smooth_within_limits_and_deterministic(kind):
    a, b = generate_clip(kind, seed=7), generate_clip(kind, seed=7)
    assert np.array_equal(a.q, b.q)
    lo, hi = J.limits("arms")
    assert a.q.shape[1] == 14 and a.q.shape[0] == len(a.t) == len(a.gripper)
    assert np.all(a.q >= lo - 1e-9) and np.all(a.q <= hi + 1e-9)
    assert np.abs(np.diff(a.q, axis=0)).max() / np.diff(a.t).max() < 6.0  # rad/s
    assert np.all((a.gripper >= 0) & (a.gripper <= J.GRIPPER_OPEN + 1e-9))


def test_library_cycles_kinds_and_bad_kind_errors():
    lib = arm_clip_library(6, seed=1)
    assert [c.kind for c in lib] == list(ARM_MOTION_KINDS)
    with pytest.raises(ValueError, match="kind must be one of"):
        generate_clip("juggle", seed=0)
