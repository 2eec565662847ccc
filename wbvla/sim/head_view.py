"""Where the work falls in the head image: the grasp targets and both hands, projected.

A policy that reads only the head camera can aim a hand at a bar only if it sees both: the
paper's setup (one head camera, no wrist camera) needs the grasp targets *and* the hands in the
frame while it reaches. This module names the four work keypoints of a task layout and projects
them with the camera model (:func:`wbvla.sim.camera.project_points`):

* ``left_grasp`` / ``right_grasp``: where each hand grasps. Bag and tote: the carrying bar's
  ``handle_left`` / ``handle_right`` sites; cart: the handle's centre site
  ``handle_half_spacing`` to either side along the handle (as the scripted expert grasps it);
* ``left_hand`` / ``right_hand``: each hand's TCP site, between the two fingertips (the finger
  boxes end at the TCP's height), the point the expert places on the bar.

:func:`visible_in_head_camera` tells, for the current state, where each keypoint falls and
whether it is inside the image (in frame; occlusion is not tested). The task suite's per-phase
measurement is :mod:`wbvla.tasks.work_view`; the vision pretraining renders
(:mod:`wbvla.data.vision_renders`) use the same keypoints as labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wbvla.sim.camera import check_resolution, in_image, project_points
from wbvla.sim.robot import HEAD_CAMERA, TCP_SITES
from wbvla.sim.scene import Scene
from wbvla.validation import positive, require

KEYPOINTS: tuple[str, ...] = ("left_grasp", "right_grasp", "left_hand", "right_hand")
"""Names of the work keypoints, in the order of every array here."""
GRASP_OBJECT: dict[str, str] = {"bag_packing": "bag", "box_loading": "box", "cart_pushing": "cart"}
"""The object each task (and its scene layout of the same name) grasps first."""
CART_HANDLE_HALF_SPACING = 0.15
"""Hands this far left / right of the cart handle's centre (m); the expert's default
(``ExpertConfig.handle_half_spacing``)."""


def grasp_points(scene: Scene, task: str, handle_half_spacing: float = CART_HANDLE_HALF_SPACING) -> np.ndarray:
    """World positions (2, 3) of the left and right grasp targets of ``task`` in ``scene`` (module
    docstring); ``data`` must hold current kinematics."""
    require(task in GRASP_OBJECT, f"unknown task {task!r}; choose one of {tuple(GRASP_OBJECT)}")
    obj = GRASP_OBJECT[task]
    require(obj in scene.objects, f"scene {scene.config.name!r} has no {obj!r} for task {task!r}")
    d, sites = scene.data, scene.objects[obj].sites
    if task == "cart_pushing":
        centre = d.site(sites["handle"]).xpos
        across = d.body(obj).xmat.reshape(3, 3)[:, 1]
        return np.stack([centre + handle_half_spacing * across, centre - handle_half_spacing * across])
    return np.stack([d.site(sites["handle_left"]).xpos, d.site(sites["handle_right"]).xpos])


def hand_points(scene: Scene) -> np.ndarray:
    """World positions (2, 3) of the left and right TCP (between the fingertips)."""
    return np.stack([scene.data.site(name).xpos for name in TCP_SITES])


def work_keypoints(scene: Scene, task: str, handle_half_spacing: float = CART_HANDLE_HALF_SPACING) -> np.ndarray:
    """World positions (4, 3) of :data:`KEYPOINTS`."""
    return np.concatenate([grasp_points(scene, task, handle_half_spacing), hand_points(scene)])


@dataclass(frozen=True)
class WorkView:
    """Where the work keypoints fall in one head image."""

    uv: np.ndarray
    """(4, 3): u (right), v (down) in pixels of the ``image_size`` image and depth (m); NaN
    behind the camera. Rows in :data:`KEYPOINTS` order."""
    inside: np.ndarray
    """(4,) bool: in frame (at least ``margin_px`` inside the border)."""
    image_size: int

    @property
    def all_inside(self) -> bool:
        """Both grasp targets and both hands in frame."""
        return bool(self.inside.all())

    def as_dict(self) -> dict:
        """JSON-friendly: per keypoint u, v, depth (None behind the camera) and in-frame."""
        return {name: {"u": fmt_num(self.uv[i, 0]), "v": fmt_num(self.uv[i, 1]), "depth": fmt_num(self.uv[i, 2]),
                       "inside": bool(self.inside[i])} for i, name in enumerate(KEYPOINTS)}


def fmt_num(x: float) -> float | None:
    """``x`` rounded to 0.01 for JSON; None where it is not finite."""
    return None if not np.isfinite(x) else round(float(x), 2)


def visible_in_head_camera(scene: Scene, task: str, image_size: int = 128, margin_px: float = 0.0,
                           handle_half_spacing: float = CART_HANDLE_HALF_SPACING) -> WorkView:
    """Project the work keypoints of ``task`` into the square ``image_size`` head image of the
    current state of ``scene`` (see the module docstring).

    Raises:
        ValueError: a bad image size or margin, a scene without a robot or without the task's object.
    """
    check_resolution(image_size, image_size)
    positive("margin_px", margin_px, allow_zero=True)
    require(scene.robot is not None, "visible_in_head_camera needs a scene with the robot (its head camera)")
    uv = project_points(scene.model, scene.data, HEAD_CAMERA, work_keypoints(scene, task, handle_half_spacing),
                        image_size, image_size)
    return WorkView(uv, in_image(uv, image_size, image_size, margin_px), image_size)
