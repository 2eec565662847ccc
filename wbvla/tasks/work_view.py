"""Does the head camera see the work while the expert works? Per-phase in-frame fractions.

:class:`WorkViewRecorder` wraps the scripted expert and records, every tick, its phase and where
the four work keypoints (both grasp targets, both hands; :mod:`wbvla.sim.head_view`) fall in the
head image; :func:`work_view_summary` turns the records into the in-frame fraction per phase and
over the manipulation phases from pre-grasp on (:data:`WORK_PHASES`). ``wbvla expert-eval``
reports it per task (``work_view``).
"""

from __future__ import annotations

import numpy as np

from wbvla.sim.camera import check_resolution
from wbvla.sim.head_view import CART_HANDLE_HALF_SPACING, KEYPOINTS, fmt_num, visible_in_head_camera
from wbvla.validation import require

WORK_PHASES: tuple[str, ...] = ("pregrasp", "grasp", "lift", "push")
"""Expert phases from pre-grasp on in which the hands work at the grasp targets (bag / tote:
pre-grasp, slide onto the bar, close, lift; cart: the same without lift, then pushing)."""


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
            out["pixels"] = {k: {axis: [fmt_num(x) for x in np.nanpercentile(uv[:, i, a], (5, 50, 95))] if np.isfinite(uv[:, i, a]).any()
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
