import pytest

from wbvla.sim import joints as J
from wbvla.sim.kinematics import READY_ARM_POSE
from wbvla.sim.robot import base_height_for
from wbvla.sim.stance import _balancer, balanced_pose, squat_pose, stance_height_range


def test_default_pose_is_the_balanced_stance():
    q = balanced_pose(J.default_pose()[3])
    assert q[J.group_slice("legs")] == pytest.approx(J.default_pose("legs"), abs=0.005)
    assert abs(_balancer().com_offset(J.default_pose())) < 0.005


def test_balance_accounts_for_the_arms():
    q = J.default_pose()
    q[J.group_slice("arms")] = READY_ARM_POSE  # arms forward move the CoM forward ...
    assert _balancer().com_offset(q) > 0.01
    assert abs(_balancer().com_offset(balanced_pose(0.5, q))) < 1e-3  # ... the hips compensate


def test_squat_reaches_the_requested_height_with_flat_feet():
    lo, hi = stance_height_range()
    assert lo < 0.55 < hi
    q = squat_pose(0.55)
    assert base_height_for(q) == pytest.approx(0.55, abs=1e-3)
    legs = q[J.group_slice("legs")]
    assert legs[0] + legs[3] + legs[4] == pytest.approx(0.0)  # hip + knee + ankle: flat foot
    with pytest.raises(ValueError, match="base_height must be in"):
        squat_pose(0.2)
