"""The primitive vocabularies of the two corpora and which split (Table 9) each belongs to.

Labels are ground truth for *evaluation only* (RRG per primitive, retrieval purity); no LAM ever
sees them during training.
"""

from __future__ import annotations

from wbvla.sim.arm_motions import ARM_MOTION_KINDS

LOCO_PRIMITIVES: tuple[str, ...] = (
    "advance", "retreat", "sidestep_left", "sidestep_right", "turn_left", "turn_right", "squat_down", "rise",
)
"""The eight canonical locomotion primitives of the paper's data collection (App. A.1, Fig. 4)."""

MANI_PRIMITIVES: tuple[str, ...] = tuple(ARM_MOTION_KINDS)
"""Scripted arm motions of the manipulation corpus: reach, grasp, lift, place, push, wipe."""

PRIMITIVE_SPLIT: dict[str, str] = {
    **{p: "manipulation" for p in MANI_PRIMITIVES},
    **{p: "locomotion" for p in LOCO_PRIMITIVES},
}
"""``primitive -> "manipulation" | "locomotion"`` (the two halves of Table 9)."""

CORPORA: tuple[str, ...] = ("loco_human", "loco_robot", "mani")
"""Corpus names: human-like locomotion video (free head camera), the same primitives seen from the
X2's head camera, and the X2's static head camera watching its arms."""

DOMAIN: dict[str, str] = {"loco_human": "human", "loco_robot": "robot", "mani": "robot"}
"""Embodiment that produced each corpus."""
