"""Does the head camera see the work? Where the grasp targets and both hands fall in the head image.

A policy that reads only the head camera can aim a hand at a bar only if it sees both: the
paper's setup (one head camera, no wrist camera) needs the grasp targets *and* the hands in the
frame while it reaches. This module names the four work keypoints of a task and projects them
with the camera model (:func:`wbvla.sim.camera.project_points`):

* ``left_grasp`` / ``right_grasp``: where each hand grasps. Bag and tote: the carrying bar's
  ``handle_left`` / ``handle_right`` sites; cart: the handle's centre site
  ``handle_half_spacing`` to either side along the handle (as the expert grasps it);
* ``left_hand`` / ``right_hand``: each hand's TCP site, between the two fingertips (the finger
  boxes end at the TCP's height), the point the expert places on the bar.

:func:`visible_in_head_camera` tells, for the current state, where each keypoint falls and
whether it is inside the image (in frame; occlusion is not tested). :func:`work_view_summary`
turns per-tick records (phase + visibility) into the in-frame fraction per phase and over the
manipulation phases from pre-grasp on (:data:`WORK_PHASES`); the ``wbvla work-view`` measurement
(:mod:`wbvla.tasks.work_view_eval`) runs the expert and records them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wbvla.config import positive, require
from wbvla.sim.camera import check_resolution, in_image, project_points
from wbvla.sim.robot import HEAD_CAMERA, TCP_SITES
from wbvla.sim.scene import Scene

KEYPOINTS: tuple[str, ...] = ("left_grasp", "right_grasp", "left_hand", "right_hand")
"""Names of the work keypoints, in the order of every array here."""
GRASP_OBJECT: dict[str, str] = {"bag_packing": "bag", "box_loading": "box", "cart_pushing": "cart"}
"""The object each task grasps first."""
CART_HANDLE_HALF_SPACING = 0.15
"""Hands this far left / right of the cart handle's centre (m); the expert's default
(``ExpertConfig.handle_half_spacing``)."""
WORK_PHASES: tuple[str, ...] = ("pregrasp", "grasp", "lift", "push")
"""Expert phases from pre-grasp on in which the hands work at the grasp targets (bag / tote:
pre-grasp, slide onto the bar, close, lift; cart: the same without lift, then pushing)."""


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
        return {name: {"u": _num(self.uv[i, 0]), "v": _num(self.uv[i, 1]), "depth": _num(self.uv[i, 2]),
                       "inside": bool(self.inside[i])} for i, name in enumerate(KEYPOINTS)}


def _num(x: float) -> float | None:
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


def work_view_summary(records: list[dict], phases: tuple[str, ...] = WORK_PHASES) -> dict:
    """In-frame fractions of per-tick ``records`` (each ``{"phase": str, "inside": (4,) bool}``,
    optionally ``"uv": (4, >=2)`` pixels, e.g. from several trials): per phase, the fraction of
    ticks with all four keypoints in frame and per keypoint (``inside``); with ``uv``, the 5th /
    50th / 95th percentile image row ``v`` and column ``u`` of each keypoint. ``work`` pools the
    ``phases`` (pre-grasp on). Empty groups give None."""
    def frac(rows: list[dict]) -> dict:
        if not rows:
            return {"ticks": 0, "all_inside": None, "inside": None}
        inside = np.array([r["inside"] for r in rows], bool)  # (T, 4)
        out = {"ticks": len(rows), "all_inside": float(inside.all(axis=1).mean()),
               "inside": {k: float(inside[:, i].mean()) for i, k in enumerate(KEYPOINTS)}}
        if all("uv" in r for r in rows):
            uv = np.array([np.asarray(r["uv"], float)[:, :2] for r in rows])  # (T, 4, 2)
            out["pixels"] = {k: {axis: [_num(x) for x in np.nanpercentile(uv[:, i, a], (5, 50, 95))] if np.isfinite(uv[:, i, a]).any()
                                 else None for a, axis in enumerate(("u", "v"))} for i, k in enumerate(KEYPOINTS)}
        return out

    by_phase: dict[str, list[dict]] = {}
    for r in records:
        by_phase.setdefault(r["phase"], []).append(r)
    return {"work": frac([r for r in records if r["phase"] in phases]),
            "by_phase": {p: frac(rows) for p, rows in by_phase.items()}}


class WorkViewRecorder:
    """Wraps a policy that binds to its trial (the scripted expert) and records, at every
    ``act()``, the policy's phase (``PolicyOutput.info['phase']``) and the :class:`WorkView` of the
    state the policy acted on, in ``records`` (cleared by ``bind`` / ``reset``). Everything else
    is the wrapped policy's."""

    def __init__(self, policy, image_size: int = 128, handle_half_spacing: float = CART_HANDLE_HALF_SPACING):
        require(hasattr(policy, "bind"), f"WorkViewRecorder needs a policy with bind(task), got {type(policy).__name__}")
        check_resolution(image_size, image_size)
        self.policy, self.image_size, self.handle_half_spacing = policy, image_size, handle_half_spacing
        self.task = None
        self.records: list[dict] = []

    def __getattr__(self, name: str):
        return getattr(self.__dict__["policy"], name)

    def bind(self, task) -> None:
        self.task, self.records = task, []
        self.policy.bind(task)

    def reset(self) -> None:
        self.records = []
        self.policy.reset()

    def act(self, image, instruction, state):
        out = self.policy.act(image, instruction, state)
        view = visible_in_head_camera(self.task.scene, self.task.name, self.image_size,
                                      handle_half_spacing=self.handle_half_spacing)
        self.records.append({"phase": str(out.info.get("phase")), "inside": view.inside.copy(), "uv": view.uv.copy()})
        return out
