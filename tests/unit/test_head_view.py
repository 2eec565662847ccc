"""Camera projection (sim/camera.project_points) against the renderer, the work keypoints
(sim/head_view) and the expert's per-phase work view (tasks/work_view)."""

import mujoco
import numpy as np
import pytest

from wbvla.sim.camera import (
    HeadCameraConfig,
    apply_camera_intrinsics,
    focal_pixels,
    in_image,
    project_points,
)
from wbvla.sim.head_view import KEYPOINTS, grasp_points, visible_in_head_camera
from wbvla.sim.robot import HEAD_CAMERA, X2Index, reset_to_pose, scene_spec
from wbvla.tasks.specs import make_task
from wbvla.tasks.work_view import WorkViewRecorder, work_view_summary

MARKERS = np.array([[0.6, 0.0, 0.8], [0.5, 0.25, 0.6], [0.9, -0.3, 0.3], [0.45, -0.1, 1.0]])


@pytest.fixture(scope="module")
def marked_robot():
    """The robot standing with four small spheres in front of its head camera."""
    spec = scene_spec()
    for i, p in enumerate(MARKERS):
        spec.worldbody.add_geom(name=f"marker{i}", type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[0.01, 0, 0], pos=p,
                                contype=0, conaffinity=0)
    model = spec.compile()
    data = mujoco.MjData(model)
    apply_camera_intrinsics(model, HEAD_CAMERA, HeadCameraConfig())
    reset_to_pose(model, data, X2Index.from_model(model))
    return model, data


@pytest.mark.parametrize("size", [(128, 128), (320, 180)])
def test_projection_lands_on_the_rendered_pixels(marked_robot, size):
    """Each sphere's projected centre is within 0.5 px of the centroid of its pixels in a
    segmentation render (a 16:9 sensor squeezed into a square image and an unsqueezed one)."""
    model, data = marked_robot
    w, h = size
    renderer = mujoco.Renderer(model, h, w)
    try:
        renderer.enable_segmentation_rendering()
        renderer.update_scene(data, HEAD_CAMERA)
        seg = renderer.render()
    finally:
        renderer.close()
    uv = project_points(model, data, HEAD_CAMERA, MARKERS, w, h)
    for i in range(len(MARKERS)):
        ys, xs = np.nonzero((seg[..., 0] == model.geom(f"marker{i}").id) & (seg[..., 1] == mujoco.mjtObj.mjOBJ_GEOM))
        assert len(xs) >= 2, f"marker {i} not rendered"
        assert uv[i, 0] == pytest.approx(xs.mean() + 0.5, abs=0.5)
        assert uv[i, 1] == pytest.approx(ys.mean() + 0.5, abs=0.5)
    assert in_image(uv, w, h).all()


def test_points_behind_or_beside_the_camera_are_out_of_frame(marked_robot):
    model, data = marked_robot
    cam = data.cam_xpos[model.camera(HEAD_CAMERA).id]
    behind = cam - 0.5 * np.array([1.0, 0.0, 0.0])
    far_left = cam + np.array([0.3, 2.0, -0.3])
    uv = project_points(model, data, HEAD_CAMERA, np.stack([behind, far_left]), 128, 128)
    assert np.isnan(uv[0]).all() and uv[1, 0] < 0
    assert not in_image(uv, 128, 128).any()
    assert in_image(np.array([[3.0, 64.0, 1.0]]), 128, 128).all()
    assert not in_image(np.array([[3.0, 64.0, 1.0]]), 128, 128, margin_px=4).any()


def test_focal_pixels_of_the_squeezed_d435i_sensor(marked_robot):
    """A 16:9 sensor in a square image: f_x = (W/2) / tan(fovx/2), f_y = (H/2) / tan(fovy/2)."""
    model, _ = marked_robot
    cfg = HeadCameraConfig()
    fx, fy = focal_pixels(model, HEAD_CAMERA, 128, 128)
    assert fx == pytest.approx(64 / np.tan(np.radians(cfg.fovx_deg) / 2), rel=1e-6)
    assert fy == pytest.approx(64 / np.tan(np.radians(cfg.fovy_deg) / 2), rel=1e-6)
    assert focal_pixels(model, HEAD_CAMERA, 64, 64) == pytest.approx((fx / 2, fy / 2))
    assert cfg.focal_pixels(128, 128) == pytest.approx((fx, fy))


def test_projection_rejects_bad_input(marked_robot):
    model, data = marked_robot
    with pytest.raises(ValueError, match="no camera named 'nose'"):
        project_points(model, data, "nose", MARKERS, 64, 64)
    with pytest.raises(ValueError, match=r"shape \(N, 3\)"):
        project_points(model, data, HEAD_CAMERA, MARKERS[:, :2], 64, 64)
    with pytest.raises(ValueError, match="width must be an integer"):
        project_points(model, data, HEAD_CAMERA, MARKERS, 0, 64)


def test_work_view_of_a_task_start():
    """At the start pose the grasp targets are projected where the scene puts them; a hand raised
    far above the head leaves the frame."""
    task = make_task("cart_pushing", 1_000_000)
    pts = grasp_points(task.scene, "cart_pushing")
    handle = task.scene.data.site(task.scene.objects["cart"].sites["handle"]).xpos
    assert np.allclose(pts.mean(axis=0), handle) and np.linalg.norm(pts[0] - pts[1]) == pytest.approx(0.30)
    view = visible_in_head_camera(task.scene, "cart_pushing", 128)
    assert view.uv.shape == (4, 3) and set(view.as_dict()) == set(KEYPOINTS)
    assert view.inside[:2].all()  # the handle is ahead, in view
    uv_big = visible_in_head_camera(task.scene, "cart_pushing", 256).uv
    assert np.allclose(uv_big[:, :2], 2 * view.uv[:, :2], equal_nan=True)  # pixels scale with the image
    with pytest.raises(ValueError, match="no 'bag'"):
        visible_in_head_camera(task.scene, "bag_packing")
    with pytest.raises(ValueError, match="unknown task"):
        visible_in_head_camera(task.scene, "juggling")


def test_summary_counts_ticks_per_phase_and_pools_the_work_phases():
    f, t = False, True
    records = ([{"phase": "approach", "inside": [t, t, f, f]}] * 3 + [{"phase": "pregrasp", "inside": [t, t, t, f]}]
               + [{"phase": "grasp", "inside": [t, t, t, t]}] * 3)
    s = work_view_summary(records)
    assert s["work"]["ticks"] == 4 and s["work"]["all_inside"] == pytest.approx(0.75)
    assert s["work"]["inside"]["right_hand"] == pytest.approx(0.75) and s["work"]["inside"]["left_hand"] == 1.0
    assert s["by_phase"]["approach"]["all_inside"] == 0.0 and s["by_phase"]["approach"]["ticks"] == 3
    assert work_view_summary([])["work"]["all_inside"] is None


def test_recorder_needs_a_binding_policy():
    with pytest.raises(ValueError, match="bind"):
        WorkViewRecorder(object())
