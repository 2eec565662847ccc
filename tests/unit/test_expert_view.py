"""The scripted expert keeps its hands and the grasp targets in the head image (issue 20): the
raised hands of the approach and the pre-grasp hands at the grasp stance project inside the
frame; the former stance and raised pose did not."""

import mujoco
import numpy as np
import pytest

from wbvla.sim.camera import in_image, project_points
from wbvla.sim.kinematics import ArmKinematics
from wbvla.sim.robot import HEAD_CAMERA, base_height_for
from wbvla.sim.scene import build_scene
from wbvla.sim.scene_objects import HAND_SPACING
from wbvla.tasks.expert import ExpertConfig, raised_arms

SIZE, MARGIN = 128, 3.0


@pytest.fixture(scope="module")
def standing():
    scene = build_scene(name="empty")
    mujoco.mj_forward(scene.model, scene.data)
    b = scene.robot.base_body
    pos, rot = scene.data.xpos[b].copy(), scene.data.xmat[b].reshape(3, 3).copy()

    def uv(points_base: np.ndarray) -> np.ndarray:
        """Arm-base-frame points (N, 3) of the standing robot -> head-image pixels (N, 3)."""
        world = (np.asarray(points_base) - [0.0, 0.0, base_height_for()]) @ rot.T + pos
        return project_points(scene.model, scene.data, HEAD_CAMERA, world, SIZE, SIZE)

    return uv


def _tcps(q: np.ndarray) -> np.ndarray:
    kin = ArmKinematics()
    return np.stack([kin.tcp_pose(s, q)[0] for s in ("left", "right")])


def test_raised_hands_are_in_frame(standing):
    new = standing(_tcps(raised_arms(ExpertConfig().raised_hands)))
    assert in_image(new, SIZE, SIZE, MARGIN).all(), new
    old = standing(_tcps(raised_arms((0.25, 0.20, 0.92))))
    assert not in_image(old, SIZE, SIZE, MARGIN).all(), old


@pytest.mark.parametrize("reach, visible", [(ExpertConfig().grasp_reach, True), (0.33, False)])
def test_pregrasp_fingertips_and_bar_in_frame_at_the_grasp_stance(standing, reach, visible):
    """Bar ``reach`` ahead at ``grasp_height`` (the squat brings it there, and the camera moves with
    the pelvis), the TCPs ``pregrasp_back`` behind the grasp point and 1 cm up (as ``_grasp``)."""
    c = ExpertConfig()
    bar = np.array([[reach, s * HAND_SPACING, c.grasp_height] for s in (1, -1)])
    pre = bar + [c.beyond - c.pregrasp_back, 0.0, 0.01]
    assert in_image(standing(bar), SIZE, SIZE, MARGIN).all()
    assert in_image(standing(pre), SIZE, SIZE, MARGIN).all() == visible


def test_bad_expert_stance_values():
    with pytest.raises(ValueError, match="raised_hands must be 3 numbers"):
        ExpertConfig(raised_hands=(0.3, 0.2))
    with pytest.raises(ValueError, match=r"raised_hands\[2\] \(high\)"):
        ExpertConfig(raised_hands=(0.3, 0.2, 2.0))
    with pytest.raises(ValueError, match="carry_reach"):
        ExpertConfig(carry_reach=0.9)
