"""The settings of the one control tick: the safety limits (what a chunk may contain and how fast
any target may move, the watchdog's times: :class:`SafetyConfig`) and how the tick executes the
policy's action chunks (:class:`ExecutionConfig`). The suite's simulated runner and the robot
runner use the same values; ``wbvla.runtime.config.RunnerConfig.safety`` / ``.execution`` are them.

Units: seconds, radians (joints), metres (grippers, heights), rad/s and m/s (rates).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from wbvla.lmo.config import HeightConfig, VelocityCommandConfig
from wbvla.sim.joints import default_pose
from wbvla.validation import in_range, one_of, positive, require

MAX_CHUNK = 64
"""Most rows a chunk may have (the wire protocol's bound too)."""

_HEIGHT, _VEL = HeightConfig(), VelocityCommandConfig()

ChunkExecution = Literal["chunk", "temporal_ensemble"]
CHUNK_EXECUTIONS: tuple[str, ...] = ("chunk", "temporal_ensemble")


@dataclass
class SafetyConfig:
    """What the robot runner accepts and how fast any target may move. Ranges come from the joint
    table (:mod:`wbvla.sim.joints`); the rates and timeouts are ours (the table has no rate limits)."""

    hold_after_s: float = 0.3
    """Watchdog: with no valid command for this long, stand (flags 0) and hold the arms. The
    target in effect at this instant is already the stand target (see :mod:`.supervisor`)."""
    watchdog_margin_s: float = 0.005
    """The watchdog acts this much earlier than needed on top of the one-period lead, so a tick
    that wakes a few ms late still has the stand target in effect by ``hold_after_s``."""
    safe_after_s: float = 1.0
    """Watchdog: with no valid command for this long, ramp the arms to the safe pose and h* to nominal."""
    max_command_age_s: float = 0.25
    """A command answering an observation older than this (robot clock) is stale and rejected."""
    arm_tolerance: float = 0.05
    """An arm target up to this far (rad) outside its joint range is clamped; farther: the command is rejected."""
    gripper_tolerance: float = 0.005
    """The same for gripper openings (m)."""
    height_tolerance: float = 0.01
    """The same for h* (m) around :attr:`height_range`."""
    arm_rate: float = 2.0
    """Largest arm target speed (rad/s): a target moves at most ``arm_rate * period`` per tick."""
    gripper_rate: float = 0.2
    """Largest gripper target speed (m/s); 0.2 opens a gripper fully in 0.2 s."""
    leg_rate: float = 20.0
    """Largest leg target speed (rad/s) of the LMO's output: a backstop against a broken policy
    (0.4 rad per tick), far above what a balancing policy commands."""
    height_rate: float = 0.15
    """Largest h* speed (m/s)."""
    safe_ramp_rate: float = 0.5
    """Arm target speed (rad/s) of the ramp to the safe pose (mode ``safe``); <= arm_rate."""
    safe_arm_pose: tuple[float, ...] = tuple(default_pose("arms"))
    """The 14 arm targets of the safe pose (default: the joint table's standing pose, arms down)."""
    height_range: tuple[float, float] = _HEIGHT.height_range
    """Accepted h* (m): the LMO's training range."""
    nominal_height: float = _HEIGHT.nominal_height
    """h* of the safe state (m)."""
    velocity_limits: tuple[tuple[float, float], ...] = (_VEL.lin_vel_x, _VEL.lin_vel_y, _VEL.ang_vel_z)
    """Accepted (v_x, v_y, w_z) of a ``velocity`` command: the baseline's training ranges."""
    max_chunk: int = MAX_CHUNK
    """Most rows of an accepted chunk."""
    chunk_dt_range: tuple[float, float] = (0.02, 0.5)
    """Accepted time between chunk rows (s)."""

    def __post_init__(self) -> None:
        positive("hold_after_s", self.hold_after_s)
        require(self.safe_after_s > self.hold_after_s,
                f"safe_after_s ({self.safe_after_s}) must exceed hold_after_s ({self.hold_after_s})")
        in_range("watchdog_margin_s", self.watchdog_margin_s, 0.0, 0.05)
        positive("max_command_age_s", self.max_command_age_s)
        for name in ("arm_tolerance", "gripper_tolerance", "height_tolerance"):
            positive(name, getattr(self, name), allow_zero=True)
        for name in ("arm_rate", "gripper_rate", "leg_rate", "height_rate", "safe_ramp_rate"):
            positive(name, getattr(self, name))
        require(self.safe_ramp_rate <= self.arm_rate,
                f"safe_ramp_rate ({self.safe_ramp_rate}) must not exceed arm_rate ({self.arm_rate})")
        require(len(self.safe_arm_pose) == 14, f"safe_arm_pose needs 14 values, got {len(self.safe_arm_pose)}")
        require(len(self.height_range) == 2 and self.height_range[0] < self.height_range[1],
                f"height_range must be (low, high), got {self.height_range!r}")
        in_range("nominal_height", self.nominal_height, *self.height_range)
        require(len(self.velocity_limits) == 3 and all(lo <= 0 <= hi for lo, hi in self.velocity_limits),
                f"velocity_limits must be three (low <= 0 <= high) pairs, got {self.velocity_limits!r}")
        require(isinstance(self.max_chunk, int) and 1 <= self.max_chunk <= MAX_CHUNK,
                f"max_chunk must be an int in [1, {MAX_CHUNK}], got {self.max_chunk!r}")
        require(0 < self.chunk_dt_range[0] < self.chunk_dt_range[1],
                f"chunk_dt_range must be (low, high) > 0, got {self.chunk_dt_range!r}")


@dataclass
class ExecutionConfig:
    """How the tick turns the accepted action chunks into the arm and gripper targets of each
    50 Hz tick (before the target filter). The paper says only that the decoder's outputs are
    executed at ~10 Hz (§3, App. A); the switch is ours, measured in the task suite (issue 20).

    u_t (the locomotion flags / velocities) always comes from the newest chunk: flags in
    {-1, 0, 1} are not averaged.
    """

    chunk_execution: ChunkExecution = "chunk"
    """``chunk``: follow the newest accepted chunk (:func:`wbvla.control.tick.chunk_at`: row ``i``
    at ``t_obs + i * dt``, linear between rows, last row held); the behaviour before this switch.
    ``temporal_ensemble``: ACT's temporal ensembling (Zhao et al. 2023, §3.3): every accepted
    chunk whose span ``[t_obs, t_obs + H * dt)`` contains the tick predicts a target for it
    (:func:`~wbvla.control.tick.chunk_at`); the tick follows their weighted average, weights
    ``w_i = exp(-ensemble_decay * i)`` with ``i = 0`` the oldest chunk
    (:func:`~wbvla.control.tick.ensemble_at`). It needs overlapping chunks, i.e. a policy asked
    every 10 Hz tick (the suite's ``replan_every = 1``, the robot runner's ``obs_every = 5``, both
    the defaults) with H > 1; with fewer, fewer chunks overlap. A watchdog hold / safe / e-stop
    forgets the kept chunks."""
    ensemble_decay: float = 0.01
    """m of the ensemble weights ``w_i = exp(-m * i)``, ``i`` counting the overlapping chunks from the
    oldest (one per policy query). ``m > 0`` weighs older predictions more (ACT's choice, m = 0.01:
    nearly a plain average), ``m = 0`` a plain average, ``m < 0`` weighs newer predictions more
    (LeRobot's ``temporal_ensemble_coeff`` reads the same); ``m -> +inf`` follows the oldest
    chunk still covering the tick, ``m -> -inf`` the newest, i.e. ``chunk``. Used only by
    ``temporal_ensemble``."""

    def label(self) -> str:
        """``chunk``, or ``temporal_ensemble:m=<m>``: names the mode in trial keys and records."""
        return "chunk" if self.chunk_execution == "chunk" else f"{self.chunk_execution}:m={self.ensemble_decay:g}"

    def __post_init__(self) -> None:
        one_of("chunk_execution", self.chunk_execution, CHUNK_EXECUTIONS)
        require(isinstance(self.ensemble_decay, (int, float)) and math.isfinite(self.ensemble_decay),
                f"ensemble_decay must be a finite number, got {self.ensemble_decay!r}")
