"""The teleoperation dataset's layout: feature keys, vector layouts and rates, in one place.

The scripted expert writes it (LeRobot v3, :mod:`wbvla.data.lerobot_v3`), Stage III trains on it,
the closed-loop runner and the deployment protocol use the same state and action layouts. Numpy
and the joint table only: this module is imported by the robot side too.

Per frame, at :data:`FPS` (10 Hz, the VLA rate of App. B):

* ``observation.images.head``  the X2 head-camera RGB image (video feature)
* ``observation.state``        s_t, :data:`STATE_NAMES` (17,): arm joint positions (14, rad),
                               gripper openings (2, m), measured pelvis height above the floor (m)
* ``action``                   a_t, :data:`ACTION_NAMES` (20,): arm PD targets (14, rad), gripper
                               targets (2, m), the LMO command u_t = [s_x, s_y, s_yaw] in {-1, 0, 1}
                               and h* (m)
* ``reference_velocity``       the Eq. 2-shaped velocity reference (v_x, v_y, w_z) the locomotion
                               backend was asked to realize at that frame (base frame; m/s, rad/s):
                               the regression target of a velocity-commanding decoder
                               (Table 2's "w/ velocity-based RL" row)
* ``subgoal_index``            which of the task's two subgoals the expert was working on (0, 1)
* ``expert_phase``              the scripted expert's phase at that frame: an index into
                               :data:`EXPERT_PHASES`, :data:`NO_PHASE` (-1) where the policy reports
                               none (e.g. a learned policy). Datasets recorded before this column
                               existed read as -1 everywhere (:mod:`wbvla.vla.teleop_data`)

An action row is what was commanded during its frame, i.e. held over [t, t + 1/FPS).
"""

from __future__ import annotations

import numpy as np

from wbvla.sim.joints import joint_names

FPS = 10
"""Frames per second of teleoperation data and of VLA ticks (paper App. B: VLA ~10 Hz)."""

IMAGE_KEY = "observation.images.head"
STATE_KEY = "observation.state"
ACTION_KEY = "action"
REFERENCE_VELOCITY_KEY = "reference_velocity"
SUBGOAL_KEY = "subgoal_index"
PHASE_KEY = "expert_phase"

ARM_JOINTS: tuple[str, ...] = joint_names("arms")
GRIPPER_JOINTS: tuple[str, ...] = joint_names("grippers")

STATE_NAMES: tuple[str, ...] = (*ARM_JOINTS, *GRIPPER_JOINTS, "base_height")
"""s_t, the decoder's robot state (17,)."""
ACTION_NAMES: tuple[str, ...] = (
    *(f"{n}.target" for n in ARM_JOINTS), *(f"{n}.target" for n in GRIPPER_JOINTS),
    "s_x", "s_y", "s_yaw", "h_star",
)
"""a_t (20,): 14 arm targets, 2 gripper targets, then u_t = [s_x, s_y, s_yaw, h*]."""
REFERENCE_VELOCITY_NAMES: tuple[str, ...] = ("v_x", "v_y", "w_z")

STATE_DIM, ACTION_DIM = len(STATE_NAMES), len(ACTION_NAMES)
STATE_ARMS, STATE_GRIPPERS, STATE_HEIGHT = slice(0, 14), slice(14, 16), 16
ACTION_ARMS, ACTION_GRIPPERS, ACTION_FLAGS, ACTION_HEIGHT = slice(0, 14), slice(14, 16), slice(16, 19), 19
ACTION_COMMAND = slice(16, 20)
"""u_t = [s_x, s_y, s_yaw, h*] inside an action vector."""

TASKS: tuple[str, ...] = ("bag_packing", "box_loading", "cart_pushing")
"""The paper's three loco-manipulation tasks (§4.1), each a scene layout of :mod:`wbvla.sim.scene`."""
SUBGOALS: dict[str, tuple[str, str]] = {
    "bag_packing": ("grasp_bags", "move_and_squat"),
    "box_loading": ("squat_and_grasp", "rise_and_turn"),
    "cart_pushing": ("grab_handle", "push_ahead"),
}
"""Table 2's two subgoals per task, in order (App. B.3: a failed first subgoal fails the second)."""
INSTRUCTIONS: dict[str, str] = {
    "bag_packing": "Pick up the paper bag, step sideways to the carton, squat and put the bag in it.",
    "box_loading": "Squat and pick up the box, stand up, turn to the cart and put the box on it.",
    "cart_pushing": "Grab the cart handle with both hands and push the cart straight ahead.",
}
"""The canonical language instruction of each task."""


EXPERT_PHASES: tuple[str, ...] = (
    "start", "raise", "approach", "pregrasp", "grasp", "lift", "rise", "carry", "turn_and_walk", "place",
    "release", "retreat", "push", "done",
    "approach_timeout", "carry_timeout", "turn_and_walk_timeout", "push_timeout",
)
"""Every phase the scripted expert (:class:`wbvla.tasks.expert.ScriptedExpert`) reports in its policy
output's ``info["phase"]``, in rough trial order; the ``*_timeout`` ones are locomotion phases that gave
up. The :data:`PHASE_KEY` column stores the position in this tuple. Append new phases at the end: a
dataset records the vocabulary it was written with in ``meta/wbvla.json`` (:data:`PHASES_META_KEY`) and
:func:`remap_phases` maps its indices to this one."""
NO_PHASE = -1
"""The :data:`PHASE_KEY` value of a frame without an expert phase (a policy that reports none)."""
PHASES_META_KEY = "expert_phases"
"""``meta/wbvla.json`` key holding the :data:`EXPERT_PHASES` a dataset's phase column indexes."""


def phase_index(name: str | None) -> int:
    """A phase name (``PolicyOutput.info["phase"]``) -> its :data:`PHASE_KEY` value; None -> :data:`NO_PHASE`.

    Raises:
        ValueError: a name that is not in :data:`EXPERT_PHASES` (the vocabulary must know every phase).
    """
    if name is None:
        return NO_PHASE
    if name not in EXPERT_PHASES:
        raise ValueError(f"unknown expert phase {name!r}: add it to teleop_schema.EXPERT_PHASES (at the end), "
                         f"which holds {EXPERT_PHASES}")
    return EXPERT_PHASES.index(name)


def phase_name(index: int) -> str:
    """Inverse of :func:`phase_index`: a :data:`PHASE_KEY` value -> the phase name, ``"none"`` for :data:`NO_PHASE`."""
    index = int(index)
    if index == NO_PHASE:
        return "none"
    if not 0 <= index < len(EXPERT_PHASES):
        raise ValueError(f"expert phase index {index} is outside -1..{len(EXPERT_PHASES) - 1}")
    return EXPERT_PHASES[index]


def remap_phases(indices: np.ndarray, vocabulary: list[str] | tuple[str, ...] | None) -> np.ndarray:
    """Phase indices recorded with ``vocabulary`` (a dataset's ``meta/wbvla.json`` :data:`PHASES_META_KEY`)
    -> indices into :data:`EXPERT_PHASES` (int64). ``None``: recorded with this vocabulary. A name this
    vocabulary lacks becomes :data:`NO_PHASE`.

    Raises:
        ValueError: an index outside ``-1 .. len(vocabulary) - 1``.
    """
    indices = np.asarray(indices, np.int64)
    vocab = tuple(EXPERT_PHASES if vocabulary is None else vocabulary)
    bad = indices[(indices < NO_PHASE) | (indices >= len(vocab))]
    if bad.size:
        raise ValueError(f"expert phase index {int(bad[0])} is outside -1..{len(vocab) - 1} (vocabulary {vocab})")
    if vocab == EXPERT_PHASES:
        return indices.copy()
    table = np.array([EXPERT_PHASES.index(n) if n in EXPERT_PHASES else NO_PHASE for n in vocab] + [NO_PHASE], np.int64)
    return table[indices]  # -1 picks the appended NO_PHASE


def split_action(action: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(..., 20) action -> arm targets (..., 14), gripper targets (..., 2), u_t (..., 4)."""
    action = np.asarray(action)
    if action.shape[-1] != ACTION_DIM:
        raise ValueError(f"an action has {ACTION_DIM} values ({', '.join(ACTION_NAMES[:2])}, ...), got shape {action.shape}")
    return action[..., ACTION_ARMS], action[..., ACTION_GRIPPERS], action[..., ACTION_COMMAND]


def join_action(arms: np.ndarray, grippers: np.ndarray, command: np.ndarray) -> np.ndarray:
    """Inverse of :func:`split_action`: (..., 14), (..., 2), (..., 4) -> (..., 20) float32."""
    return np.concatenate([np.asarray(arms), np.asarray(grippers), np.asarray(command)], axis=-1).astype(np.float32)
