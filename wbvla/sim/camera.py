"""Offscreen rendering of the X2's egocentric head camera (and any other camera) at any resolution.

The head camera stands in for the paper's Intel RealSense D435i RGB stream: 69.4 x 42.5 degree
field of view (16:9 sensor), mounted where the official model mounts the D435i, 40 degrees below
horizontal. The frustum is fixed by the sensor, not by the output size: rendering it at 224x224
squeezes the 16:9 view exactly as resizing a real D435i frame to a square VLA input would.

Rendering uses MuJoCo's OpenGL renderer through EGL (``MUJOCO_GL=egl``): Mesa on a CPU-only
machine, the NVIDIA driver on a GPU machine; the code is the same.
"""

from __future__ import annotations

import math
import os
import platform
from dataclasses import dataclass

import mujoco
import numpy as np

from wbvla.validation import in_range, positive, require

MAX_RESOLUTION = 2048
"""Largest width or height we render (offscreen framebuffers are sized to fit)."""


@dataclass(frozen=True)
class HeadCameraConfig:
    """Intrinsics of the egocentric head camera (RealSense D435i RGB-like)."""

    fovy_deg: float = 42.5
    """Vertical field of view (degrees). D435i RGB: 42.5."""
    aspect: float = 16 / 9
    """Sensor aspect ratio (width / height). D435i RGB at 1920x1080: 16:9 (69.4 deg horizontal)."""
    focal_mm: float = 1.93
    """Focal length (mm); with ``fovy_deg`` it sets the sensor size. Only the ratio matters."""

    def __post_init__(self) -> None:
        in_range("fovy_deg", self.fovy_deg, 5.0, 170.0)
        positive("aspect", self.aspect)
        positive("focal_mm", self.focal_mm)

    @property
    def sensor_size_m(self) -> tuple[float, float]:
        """Sensor width and height (m) that give ``fovy_deg`` at ``focal_mm``."""
        h = 2.0 * (self.focal_mm / 1000.0) * math.tan(math.radians(self.fovy_deg) / 2.0)
        return h * self.aspect, h

    @property
    def fovx_deg(self) -> float:
        w, _ = self.sensor_size_m
        return math.degrees(2.0 * math.atan(w / 2.0 / (self.focal_mm / 1000.0)))

    def focal_pixels(self, width: int, height: int) -> tuple[float, float]:
        """Focal lengths (f_x, f_y) in pixels of a ``width`` x ``height`` image of this sensor
        (the sensor fills the image: f W / sensor_w, f H / sensor_h); what :func:`focal_pixels`
        reads from a model this config was applied to."""
        check_resolution(width, height)
        w, h = self.sensor_size_m
        f = self.focal_mm / 1000.0
        return f / w * width, f / h * height


def apply_camera_intrinsics(model: mujoco.MjModel, camera: str, config: HeadCameraConfig) -> None:
    """Give ``camera`` a physical sensor (fixed frustum) in a compiled model."""
    cid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera)
    require(cid >= 0, f"model has no camera named {camera!r}")
    w, h = config.sensor_size_m
    model.cam_sensorsize[cid] = (w, h)
    model.cam_intrinsic[cid] = (config.focal_mm / 1000.0, config.focal_mm / 1000.0, 0.0, 0.0)
    model.cam_fovy[cid] = config.fovy_deg


def _camera_id(model: mujoco.MjModel, camera: str | int) -> int:
    if isinstance(camera, str):
        cid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera)
        require(cid >= 0, f"model has no camera named {camera!r}")
        return cid
    require(0 <= int(camera) < model.ncam, f"camera id must be in [0, {model.ncam}), got {camera!r}")
    return int(camera)


def focal_pixels(model: mujoco.MjModel, camera: str | int, width: int, height: int) -> tuple[float, float]:
    """Focal lengths (f_x, f_y) in pixels of a ``width`` x ``height`` render of ``camera``: a
    physical sensor maps onto the whole image (f_x = f W / sensor_w, f_y = f H / sensor_h, unequal
    when a 16:9 sensor is squeezed into a square); without one, square pixels from ``fovy``.
    An object at depth z moves ``f / z`` pixels per metre across the image."""
    check_resolution(width, height)
    cid = _camera_id(model, camera)
    sensor = model.cam_sensorsize[cid]
    if sensor[0] > 0 and sensor[1] > 0:
        fx, fy = model.cam_intrinsic[cid][:2]
        return float(fx / sensor[0] * width), float(fy / sensor[1] * height)
    f = 0.5 * height / math.tan(math.radians(model.cam_fovy[cid]) / 2.0)
    return float(f), float(f)


def project_points(model: mujoco.MjModel, data: mujoco.MjData, camera: str | int, points: np.ndarray,
                   width: int, height: int) -> np.ndarray:
    """Pixel coordinates of world points in a ``width`` x ``height`` render of ``camera``.

    The pinhole model MuJoCo renders with: camera frame x right, y up, looking along -z; a camera
    with a physical sensor (:func:`apply_camera_intrinsics`) maps the sensor, whatever its aspect,
    onto the whole image (a square render squeezes a 16:9 sensor), principal point at the centre:

        u = (f_x x / (-z) / sensor_w + 1/2) W,    v = (1/2 - f_y y / (-z) / sensor_h) H

    (u to the right, v down, pixel centres at +0.5; a camera without a sensor uses ``fovy`` and
    square pixels). Returns (N, 3): u, v and the depth -z (m); rows of points behind the camera
    (depth <= 0) are NaN. ``camera`` is a name or an id; ``data`` must hold current kinematics.
    """
    cid = _camera_id(model, camera)
    sx, sy = focal_pixels(model, cid, width, height)
    pts = np.asarray(points, dtype=np.float64)
    require(pts.ndim == 2 and pts.shape[1] == 3, f"points must have shape (N, 3), got {pts.shape}")
    rot = data.cam_xmat[cid].reshape(3, 3)
    v = (pts - data.cam_xpos[cid]) @ rot  # (N, 3) camera frame
    depth = -v[:, 2]
    out = np.full((len(pts), 3), np.nan)
    front = depth > 0
    out[front, 0] = width / 2.0 + sx * v[front, 0] / depth[front]
    out[front, 1] = height / 2.0 - sy * v[front, 1] / depth[front]
    out[front, 2] = depth[front]
    return out


def in_image(uv: np.ndarray, width: int, height: int, margin_px: float = 0.0) -> np.ndarray:
    """Which projected points (rows of :func:`project_points`) fall inside the image, at least
    ``margin_px`` from its border; points behind the camera never do. Returns (N,) bool."""
    uv = np.asarray(uv, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return ((uv[:, 0] >= margin_px) & (uv[:, 0] <= width - margin_px)
                & (uv[:, 1] >= margin_px) & (uv[:, 1] <= height - margin_px))


def ensure_headless_gl() -> None:
    """Use EGL when MuJoCo picked GLFW on a Linux machine without a display.

    MuJoCo chooses its OpenGL backend from ``MUJOCO_GL`` when it is first imported; importing
    ``wbvla`` first sets ``MUJOCO_GL=egl``. If ``mujoco`` was imported earlier without it, it falls
    back to GLFW, which needs an X display. Its renderer reads the backend at construction time, so
    switching it to EGL here is enough.
    """
    from mujoco.rendering.classic import gl_context

    chosen = getattr(gl_context, "GLContext", None)
    headless = platform.system() == "Linux" and not os.environ.get("DISPLAY")
    if chosen is not None and chosen.__module__.startswith("mujoco.glfw") and headless:
        try:
            from mujoco.egl import GLContext
        except Exception as err:  # pragma: no cover - depends on the machine's GL stack
            raise RuntimeError(
                "MuJoCo is using GLFW but there is no display; set MUJOCO_GL=egl before importing "
                f"mujoco (import wbvla first) and make sure libEGL is installed ({err})"
            ) from err
        gl_context.GLContext = GLContext


def check_resolution(width: int, height: int) -> None:
    """Raise a clear ``ValueError`` unless 1 <= width, height <= :data:`MAX_RESOLUTION`."""
    for name, v in (("width", width), ("height", height)):
        require(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) and 1 <= v <= MAX_RESOLUTION,
            f"render {name} must be an integer in [1, {MAX_RESOLUTION}], got {v!r}",
        )


class CameraRenderer:
    """Renders named cameras of one model to ``(H, W, 3)`` uint8 RGB arrays.

    Use as a context manager (or call :meth:`close`) to free the GL context deterministically.
    """

    def __init__(self, model: mujoco.MjModel, width: int = 224, height: int = 224) -> None:
        check_resolution(width, height)
        # Offscreen buffers must be at least as large as the image.
        model.vis.global_.offwidth = max(model.vis.global_.offwidth, width)
        model.vis.global_.offheight = max(model.vis.global_.offheight, height)
        self.model = model
        self.width, self.height = width, height
        self._renderer = None
        ensure_headless_gl()
        self._renderer = mujoco.Renderer(model, height=height, width=width)

    def render(self, data: mujoco.MjData, camera: str | int) -> np.ndarray:
        """Render ``camera`` (name or id) for the state in ``data``; returns (H, W, 3) uint8."""
        if isinstance(camera, str):
            cid = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_CAMERA, camera)
            if cid < 0:
                names = [self.model.camera(i).name for i in range(self.model.ncam)]
                raise ValueError(f"no camera named {camera!r}; cameras in this model: {names}")
            camera = cid
        self._renderer.update_scene(data, camera=camera)
        return self._renderer.render().copy()

    def render_free(self, data: mujoco.MjData, lookat, distance: float, azimuth: float, elevation: float) -> np.ndarray:
        """Render from a free (third-person) camera orbiting ``lookat``."""
        cam = mujoco.MjvCamera()
        cam.lookat[:] = lookat
        cam.distance, cam.azimuth, cam.elevation = distance, azimuth, elevation
        self._renderer.update_scene(data, camera=cam)
        return self._renderer.render().copy()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def __enter__(self) -> CameraRenderer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:  # best effort; prefer close()
        try:
            self.close()
        except Exception:
            pass
