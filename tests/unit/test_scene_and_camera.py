import mujoco
import numpy as np
import pytest

from wbvla.sim.camera import CameraRenderer, HeadCameraConfig, check_resolution
from wbvla.sim.scene import SCENES, SceneConfig, build_scene


@pytest.mark.parametrize("name", SCENES)
def test_every_scene_builds_and_robot_stands(name):
    scene = build_scene(name=name, seed=3)
    assert scene.robot is not None
    for _ in range(100):  # 0.5 s
        mujoco.mj_step(scene.model, scene.data)
    assert scene.data.qpos[scene.robot.base_qpos + 2] > 0.6
    assert np.all(np.isfinite(scene.data.qpos))


def test_task_objects_are_named():
    assert {"table", "bag", "carton"} <= set(build_scene(name="bag_packing").objects)
    assert {"table", "box", "cart"} <= set(build_scene(name="box_loading").objects)
    cart = build_scene(name="cart_pushing").objects["cart"]
    assert cart.kind == "cart" and "handle" in cart.sites
    room = build_scene(name="room", seed=2).objects
    kinds = {o.kind for o in room.values()}
    assert {"table", "shelf", "drawer", "cart", "carton"} <= kinds
    heights = [o.top_z for o in room.values() if o.kind == "table"]
    assert all(0.2 <= h <= 0.6 for h in heights)


def test_seed_randomizes_layout_and_is_deterministic():
    a, b, c = (build_scene(name="room", seed=s) for s in (5, 5, 6))
    pa, pb, pc = (s.model.body_pos.copy() for s in (a, b, c))
    assert np.array_equal(pa, pb)
    assert pa.shape != pc.shape or not np.allclose(pa, pc)
    assert not np.array_equal(a.model.tex_data, c.model.tex_data)


def test_cart_mass_is_settable():
    light = build_scene(name="cart_pushing", cart_mass=10.0)
    heavy = build_scene(name="cart_pushing", cart_mass=60.0)
    m = lambda s: s.model.body_subtreemass[s.model.body("cart").id]  # noqa: E731
    assert m(heavy) - m(light) == pytest.approx(50.0)


def test_bad_scene_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="scene name must be one of"):
        SceneConfig(name="kitchen")
    with pytest.raises(ValueError, match="cart_mass"):
        SceneConfig(name="cart_pushing", cart_mass=-1.0)
    with pytest.raises(ValueError, match="seed"):
        SceneConfig(seed=-3)


def test_scene_without_robot_and_free_camera():
    scene = build_scene(name="room", seed=1, with_robot=False, free_camera_fovy=100.0)
    assert scene.robot is None
    scene.set_free_camera([0.0, 0.0, 1.6], [1.0, 0.0, 0.0, 0.0])
    mujoco.mj_forward(scene.model, scene.data)
    with CameraRenderer(scene.model, 64, 48) as r:
        img = r.render(scene.data, "free_cam")
    assert img.shape == (48, 64, 3) and img.dtype == np.uint8 and img.std() > 5


@pytest.mark.parametrize("size", [(128, 128), (224, 224), (320, 180)])
def test_head_camera_renders_any_resolution(size):
    scene = build_scene(name="tabletop")
    with CameraRenderer(scene.model, *size) as r:
        img = r.render(scene.data, "head_rgb")
    assert img.shape == (size[1], size[0], 3)
    assert img.std() > 5  # not a blank frame


def test_head_camera_has_d435i_field_of_view():
    cfg = HeadCameraConfig()
    assert cfg.fovx_deg == pytest.approx(69.4, abs=0.5)
    scene = build_scene(name="empty")
    cid = scene.model.camera("head_rgb").id
    w, h = scene.model.cam_sensorsize[cid]
    assert w / h == pytest.approx(16 / 9)
    # Optical axis 40 degrees below horizontal, as in the official D435i mount.
    mujoco.mj_forward(scene.model, scene.data)
    axis = -scene.data.cam_xmat[cid].reshape(3, 3)[:, 2]
    assert np.degrees(np.arcsin(-axis[2])) == pytest.approx(40.0, abs=1.0)


def test_bad_render_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="width must be an integer"):
        check_resolution(0, 10)
    with pytest.raises(ValueError, match="height must be an integer"):
        check_resolution(10, 99999)
    scene = build_scene(name="empty")
    with CameraRenderer(scene.model, 32, 32) as r, pytest.raises(ValueError, match="no camera named"):
        r.render(scene.data, "nose_cam")
