"""The restitution randomization (Table 5) must not make standing itself impossible.

MuJoCo's contact is a spring-damper acting for as long as the feet touch the floor, so the
damping ratio that models restitution (``wbvla.lmo.dr_model.restitution_to_damping_ratio``) is
floored at ``DomainRandConfig.min_damping_ratio``. These tests hold the X2's default pose with
its PD actuators on the worst-case (most bouncy) feet the randomization can produce.
"""
import re

import mujoco
import numpy as np
import pytest

import wbvla.sim.robot as R
from wbvla.lmo.config import DomainRandConfig
from wbvla.lmo.robot_cfg import FOOT_GEOM_EXPR


def _min_height_with_foot_damping(zeta: float, seconds: float = 3.0) -> float:
    m = R.scene_spec().compile()
    feet = [g for g in range(m.ngeom) if re.match(FOOT_GEOM_EXPR, mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_GEOM, g) or "")]
    assert len(feet) == 2
    m.geom_solref[feet, 1] = zeta
    d = mujoco.MjData(m)
    idx = R.X2Index.from_model(m)
    R.reset_to_pose(m, d, idx)
    d.qpos[idx.base_qpos + 2] += 0.02  # dropped from 2 cm, like the env's reset
    heights = []
    for _ in range(int(seconds / m.opt.timestep)):
        mujoco.mj_step(m, d)
        heights.append(d.qpos[idx.base_qpos + 2])
    return float(np.min(heights))


def test_most_bouncy_randomized_feet_still_stand():
    nominal = _min_height_with_foot_damping(1.0)
    worst = _min_height_with_foot_damping(DomainRandConfig().min_damping_ratio)
    assert worst > nominal - 0.05


@pytest.mark.parametrize("zeta", [0.1])
def test_an_underdamped_contact_topples_the_stance(zeta):
    """Why the floor exists (and that the test above can fail): at zeta = 0.1 the X2 falls."""
    assert _min_height_with_foot_damping(zeta) < 0.35
