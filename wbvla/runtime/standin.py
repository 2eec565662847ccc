"""A STAND-IN policy for the deployment server: deterministic replay of a scripted action sequence.

Until a trained VLA ships under ``data/vla/``, the server, the tests and notebook 11 drive the
robot with :class:`ReplayPolicy`: it has the VLA's :meth:`act` signature and output
(:class:`~wbvla.control.policy_contract.PolicyOutput`), ignores the image and instruction, and replays a (T, 20)
action sequence (:data:`wbvla.data.teleop_schema.ACTION_NAMES`) at 10 Hz, one chunk per call.
It chooses no latent actions (``latents`` is empty). Its ``model_id`` starts with ``standin:`` and
the handshake reports ``policy_kind = "standin"``, so nobody mistakes it for the VLA.

:func:`scripted_actions` writes the sequence for a task: arms raise to the ready pose, grippers
close, a sidestep, a squat, a turn and a walk, the loco-manipulation primitives of the paper, then
the walk, the turn and the sidestep undone, so a looped replay returns to where it started.
"""

from __future__ import annotations

import numpy as np

from wbvla.control.policy_contract import PolicyOutput
from wbvla.data.teleop_schema import ACTION_DIM, FPS, TASKS, join_action, split_action
from wbvla.lmo.config import HeightConfig
from wbvla.sim.joints import GRIPPER_OPEN, default_pose
from wbvla.sim.kinematics import READY_ARM_POSE

SCRIPT_VERSION = 2
"""2: the sequence ends by undoing its moves (a looped replay no longer drifts away)."""


def _ease(n: int) -> np.ndarray:
    """Smooth 0 -> 1 ramp of ``n`` samples (cosine)."""
    return 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n))


def scripted_actions(task: str = "bag_packing", in_place: bool = False) -> np.ndarray:
    """The stand-in's (T, 20) action sequence at 10 Hz for ``task`` (deterministic). ``in_place``:
    every walk and sidestep becomes a turn of the same sign, so the robot never leaves its spot,
    however the replay is cut (a restarted server starts the script again from its first row)."""
    if task not in TASKS:
        raise ValueError(f"no scripted stand-in for task {task!r}; tasks: {TASKS}")
    nominal, low = HeightConfig().nominal_height, 0.56
    down, ready = default_pose("arms"), READY_ARM_POSE
    side = {"bag_packing": (0.0, 1.0, 0.0), "box_loading": (0.0, 0.0, 1.0), "cart_pushing": (1.0, 0.0, 0.0)}[task]
    # (seconds, arm start -> end, gripper opening, flags, h* start -> end)
    segments = [
        (1.0, (down, down), GRIPPER_OPEN, (0, 0, 0), (nominal, nominal)),
        (1.5, (down, ready), GRIPPER_OPEN, (0, 0, 0), (nominal, nominal)),
        (0.5, (ready, ready), 0.0, (0, 0, 0), (nominal, nominal)),
        (2.0, (ready, ready), 0.0, side, (nominal, nominal)),
        (1.0, (ready, ready), 0.0, (0, 0, 0), (nominal, nominal)),
        (1.5, (ready, ready), 0.0, (0, 0, 0), (nominal, low)),
        (0.5, (ready, ready), GRIPPER_OPEN, (0, 0, 0), (low, low)),
        (1.5, (ready, down), GRIPPER_OPEN, (0, 0, 0), (low, nominal)),
        (1.5, (down, down), GRIPPER_OPEN, (0, 0, 1), (nominal, nominal)),
        (1.5, (down, down), GRIPPER_OPEN, (1, 0, 0), (nominal, nominal)),
        (1.0, (down, down), GRIPPER_OPEN, (0, 0, 0), (nominal, nominal)),
        # ... and back the way it came (walk back, turn back, sidestep back), so that a looped replay
        # stays where it started instead of drifting into the furniture over minutes
        (1.5, (down, down), GRIPPER_OPEN, (-1, 0, 0), (nominal, nominal)),
        (1.0, (down, down), GRIPPER_OPEN, (0, 0, 0), (nominal, nominal)),
        (1.5, (down, down), GRIPPER_OPEN, (0, 0, -1), (nominal, nominal)),
        (1.0, (down, down), GRIPPER_OPEN, (0, 0, 0), (nominal, nominal)),
        (2.0, (down, down), GRIPPER_OPEN, tuple(-f for f in side), (nominal, nominal)),
        (1.0, (down, down), GRIPPER_OPEN, (0, 0, 0), (nominal, nominal)),
    ]
    rows = []
    for seconds, (a0, a1), grip, flags, (h0, h1) in segments:
        n = int(round(seconds * FPS))
        w = _ease(n)[:, None]
        arms = (1 - w) * a0 + w * a1  # (n, 14)
        grippers = np.full((n, 2), grip)
        if in_place and any(flags[:2]):
            flags = (0, 0, flags[0] or flags[1])
        command = np.column_stack([np.tile(np.asarray(flags, float), (n, 1)), h0 + (h1 - h0) * w[:, 0]])
        rows.append(join_action(arms, grippers, command))
    return np.concatenate(rows)  # (T, 20)


class ReplayPolicy:
    """Replays a (T, 20) action sequence as a policy (see the module docstring). Labelled stand-in."""

    command_kind = "flags"
    standin = True
    """Marks this as a stand-in: the server reports ``policy_kind = "standin"`` in the handshake."""

    def __init__(self, actions: np.ndarray, model_id: str, chunk_size: int = 8, loop: bool = True):
        actions = np.asarray(actions, np.float32)
        if actions.ndim != 2 or actions.shape[1] != ACTION_DIM or len(actions) < 1:
            raise ValueError(f"actions must be (T, {ACTION_DIM}), got {actions.shape}")
        if not model_id.startswith("standin:"):
            raise ValueError(f"a stand-in's model_id must start with 'standin:', got {model_id!r}")
        self.actions, self.model_id, self.chunk_size, self.loop = actions, model_id, int(chunk_size), loop
        self.t = 0

    @classmethod
    def scripted(cls, task: str = "bag_packing", chunk_size: int = 8, in_place: bool = False) -> ReplayPolicy:
        suffix = "-in_place" if in_place else ""
        return cls(scripted_actions(task, in_place), f"standin:script-{task}{suffix}-v{SCRIPT_VERSION}", chunk_size)

    def reset(self) -> None:
        self.t = 0

    def act(self, image: np.ndarray, instruction: str, state: np.ndarray) -> PolicyOutput:
        """The next chunk of the sequence; the inputs are ignored (a stand-in sees nothing)."""
        n = len(self.actions)
        idx = np.arange(self.t, self.t + self.chunk_size)
        idx = idx % n if self.loop else np.minimum(idx, n - 1)
        arms, grippers, command = split_action(self.actions[idx])
        self.t += 1
        return PolicyOutput(arms, grippers, command[0], "flags", latents={}, dt=1.0 / FPS,
                            info={"model_id": self.model_id, "step": self.t - 1})
