"""The policy contract: what a closed-loop runner, the task suite or the deployment server calls.

One call per VLA tick (~10 Hz, paper App. B):

    out = policy.act(image, instruction, state)

``image`` is the head-camera RGB frame (H, W, 3) uint8, ``instruction`` the task's language
instruction, ``state`` s_t laid out as :data:`wbvla.data.teleop_schema.STATE_NAMES` (17,). The
result is a :class:`PolicyOutput`: a short chunk of arm and gripper targets, the locomotion
command u_t for the locomotion backend, and the latent codes the VLA chose.

Numpy only, so the robot side of the deployment imports it without torch. It lives in
``control/``, below the VLA, the tasks and the locomotion backends, so that none of them imports
another to learn what a policy is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from wbvla.data.teleop_schema import FPS, STATE_DIM

DEFAULT_IMAGE_SIZE = 128
"""Side (pixels) of the square head-camera image a policy gets unless it says otherwise (its
``image_size``): the teleoperation data's frame size, which the VLA reads (issue 20)."""

CommandKind = Literal["flags", "velocity"]
"""``flags``: u_t = [s_x, s_y, s_yaw in {-1, 0, 1}, h*] for the LMO. ``velocity``: [v_x, v_y, w_z,
h*] (m/s, m/s, rad/s, m) for the velocity-tracking baseline (Table 2, "w/ velocity-based RL")."""


@dataclass
class PolicyOutput:
    """One tick's decision.

    Row ``i`` of a chunk is the target for the frame ``i`` ticks after the observation, i.e. it is
    held (or interpolated toward) over [t + i dt, t + (i + 1) dt); row 0 applies now.
    """

    arm_targets: np.ndarray
    """(H, 14) arm joint PD targets (rad), joint-table order of the ``arms`` group."""
    grippers: np.ndarray
    """(H, 2) gripper opening targets (m), 0 = closed."""
    command: np.ndarray
    """(4,) the locomotion command, see :data:`CommandKind`."""
    command_kind: CommandKind = "flags"
    latents: dict[str, tuple[int, ...]] = field(default_factory=dict)
    """The latent action codes chosen this tick, e.g. ``{"mani": (3,), "loco": (11,)}``; empty for
    a policy without latent actions (w/o LAM) or a scripted one."""
    dt: float = 1.0 / FPS
    """Time between chunk rows (s)."""
    info: dict = field(default_factory=dict)
    """Free-form extras (timings in ms, model id, ...); JSON-friendly values only."""

    def __post_init__(self) -> None:
        self.arm_targets = np.asarray(self.arm_targets, np.float32)
        self.grippers = np.asarray(self.grippers, np.float32)
        self.command = np.asarray(self.command, np.float32)
        h = self.arm_targets.shape[0] if self.arm_targets.ndim == 2 else -1
        if self.arm_targets.shape != (h, 14) or h < 1:
            raise ValueError(f"arm_targets must be (H, 14) with H >= 1, got {self.arm_targets.shape}")
        if self.grippers.shape != (h, 2):
            raise ValueError(f"grippers must be (H, 2) with H = {h} like arm_targets, got {self.grippers.shape}")
        if self.command.shape != (4,):
            raise ValueError(f"command must be (4,), got {self.command.shape}")
        if self.command_kind not in ("flags", "velocity"):
            raise ValueError(f"command_kind must be 'flags' or 'velocity', got {self.command_kind!r}")
        if self.command_kind == "flags" and not np.all(np.isin(self.command[:3], (-1.0, 0.0, 1.0))):
            raise ValueError(f"flag commands must be in {{-1, 0, 1}}, got {self.command[:3]}")
        if not self.dt > 0:
            raise ValueError(f"dt must be > 0, got {self.dt}")

    @property
    def chunk_size(self) -> int:
        return int(self.arm_targets.shape[0])


@runtime_checkable
class Policy(Protocol):
    """Anything the runners and the server can drive: the VLA, its ablations, a scripted expert."""

    model_id: str
    """Identifies the weights (checked in the deployment handshake)."""
    command_kind: CommandKind
    # optional: ``image_size: int``, the side of the square head image it consumes (see image_size_of)

    def reset(self) -> None:
        """Forget per-episode state (call at the start of each trial)."""

    def act(self, image: np.ndarray, instruction: str, state: np.ndarray) -> PolicyOutput:
        """One tick: image (H, W, 3) uint8, instruction, state (17,) -> :class:`PolicyOutput`."""


def image_size_of(policy) -> int:
    """The head-camera image side a policy consumes: its ``image_size`` if it says, else
    :data:`DEFAULT_IMAGE_SIZE` (a scripted policy that ignores the image gets the default too)."""
    size = getattr(policy, "image_size", None)
    if size is None:
        return DEFAULT_IMAGE_SIZE
    if not (isinstance(size, int) and 8 <= size <= 2048):
        raise ValueError(f"{type(policy).__name__}.image_size must be an int in [8, 2048], got {size!r}")
    return size


def check_state(state: np.ndarray) -> np.ndarray:
    """Validate s_t: shape (17,), finite; returns it as float32."""
    state = np.asarray(state, np.float32)
    if state.shape != (STATE_DIM,):
        raise ValueError(f"state must have shape ({STATE_DIM},) (teleop_schema.STATE_NAMES), got {state.shape}")
    if not np.all(np.isfinite(state)):
        raise ValueError(f"state has non-finite values: {state}")
    return state
