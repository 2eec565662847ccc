"""What the robot runner accepts from the wire: :func:`check_command_ranges` judges a decoded
command's content (reject if no safe robot should try to follow it). Ranges come from the joint
table, tolerances from :class:`~wbvla.control.config.SafetyConfig`; the clamping and rate limits
every accepted target then goes through are the control tick's
(:class:`wbvla.control.targets.TargetFilter`).
"""

from __future__ import annotations

import numpy as np

from wbvla.control.config import SafetyConfig
from wbvla.control.targets import ARMS, EPS, FLAGS, GRIPPERS, HEIGHT, JointLimits
from wbvla.runtime.messages import Command
from wbvla.runtime.wire import ProtocolError


def check_command_ranges(cmd: Command, cfg: SafetyConfig, kind: str, lim: JointLimits) -> None:
    """Reject (``ProtocolError``) a command whose content no safe robot should try to follow.

    Arm and gripper rows may lie up to the configured tolerance outside their ranges (they are
    clamped later); beyond it the whole command is refused. Flags must be exactly -1, 0 or 1; h*
    within ``height_range`` (+- tolerance); velocities within ``velocity_limits``.
    """
    if cmd.command_kind != kind:
        raise ProtocolError("command_kind", f"command is {cmd.command_kind!r}, this robot's locomotion takes {kind!r}")
    if not 1 <= cmd.arm.shape[0] <= cfg.max_chunk:
        raise ProtocolError("chunk_size", f"{cmd.arm.shape[0]} rows outside [1, max_chunk {cfg.max_chunk}]")
    lo_dt, hi_dt = cfg.chunk_dt_range
    if not lo_dt <= cmd.dt <= hi_dt:
        raise ProtocolError("chunk_dt", f"dt {cmd.dt} outside {cfg.chunk_dt_range}")
    for name, rows, sl, tol in (("arm", cmd.arm, ARMS, cfg.arm_tolerance), ("grippers", cmd.grippers, GRIPPERS, cfg.gripper_tolerance)):
        below = rows < lim.lower[sl] - tol - EPS
        above = rows > lim.upper[sl] + tol + EPS
        if below.any() or above.any():
            r, j = np.argwhere(below | above)[0]
            raise ProtocolError("out_of_range", f"{name}[{r}, {j}] = {rows[r, j]:.4f} outside "
                                                f"[{lim.lower[sl][j]:.4f}, {lim.upper[sl][j]:.4f}] +- {tol}")
    u = cmd.command
    if kind == "flags":
        if not np.all(np.isin(u[FLAGS], (-1.0, 0.0, 1.0))):
            raise ProtocolError("out_of_range", f"flags {u[FLAGS].tolist()} not all in {{-1, 0, 1}}")
    else:
        for axis, (v, (lo, hi)) in enumerate(zip(u[FLAGS], cfg.velocity_limits, strict=True)):
            if not lo - EPS <= v <= hi + EPS:
                raise ProtocolError("out_of_range", f"velocity[{axis}] = {v:.3f} outside [{lo}, {hi}]")
    h_lo, h_hi = cfg.height_range
    if not h_lo - cfg.height_tolerance - EPS <= u[HEIGHT] <= h_hi + cfg.height_tolerance + EPS:
        raise ProtocolError("out_of_range", f"h* = {u[HEIGHT]:.3f} outside {cfg.height_range} +- {cfg.height_tolerance}")
