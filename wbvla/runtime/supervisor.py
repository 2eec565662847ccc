"""What the robot runner does with commands: accept or reject them, and the watchdog's modes.

:class:`CommandGate` decides whether a well-formed command may be followed: right session, it
answers an observation this robot really sent (its timestamp is looked up on the robot's own
clock, so staleness needs no clock sync), newer than the last accepted one, fresh, and within
the joint table's ranges. Each refusal is a :class:`~wbvla.runtime.wire.ProtocolError` with a
reason code that the runner logs and counts.

:class:`Supervisor` holds the safety mode and turns the accepted command into desired targets:

=========  ==================================================================================
``wait``   no command yet: stand (flags 0), arms ramp to the safe pose, h* to nominal
``active`` follow the chunk (interpolated to 50 Hz from the observation's timestamp) and u_t
``hold``   no valid command for ``hold_after_s``: flags 0 (stand), arms/grippers/h* hold
``safe``   no valid command for ``safe_after_s``: flags 0, arms ramp to the safe pose, h* to nominal
``estop``  latched by an e-stop message or call: flags 0, everything holds, commands refused
=========  ==================================================================================

Watchdog timing: a tick's targets are in effect for one period after it, so the watchdog
switches at the first tick whose *next* deadline (plus ``watchdog_margin_s``, 5 ms) lies beyond
``last_valid + hold_after_s``: the target in effect when ``hold_after_s`` has elapsed is already
the stand target, even if the next tick wakes a few ms late.

The **stand state** (what "safe within 300 ms" measures): mode ``hold``/``safe``/``estop`` and a
u_t with all locomotion components 0, written to the backend.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from wbvla.runtime.config import SafetyConfig
from wbvla.runtime.messages import Command
from wbvla.runtime.safety import FLAGS, HEIGHT, JointLimits, check_command_ranges
from wbvla.runtime.wire import ProtocolError

NS = 1_000_000_000
STAND_MODES = ("hold", "safe", "estop")


def chunk_at(arm: np.ndarray, grippers: np.ndarray, dt: float, t_rel: float) -> tuple[np.ndarray, np.ndarray]:
    """Arm (14,) and gripper (2,) targets ``t_rel`` seconds after the chunk's observation.

    Row ``i`` belongs to time ``i * dt``; between rows the target is interpolated linearly, before
    row 0 it is row 0, after the last row it holds the last row.
    """
    h = arm.shape[0]
    x = max(t_rel, 0.0) / dt
    i = int(x)
    if i >= h - 1:
        return arm[-1].astype(np.float64), grippers[-1].astype(np.float64)
    w = x - i
    return ((1 - w) * arm[i] + w * arm[i + 1]).astype(np.float64), ((1 - w) * grippers[i] + w * grippers[i + 1]).astype(np.float64)


class CommandGate:
    """Acceptance rules for commands, on the robot's clock (see the module docstring)."""

    def __init__(self, cfg: SafetyConfig, kind: str, lim: JointLimits | None = None, remember: int = 64):
        self.cfg, self.kind = cfg, kind
        self.lim = lim or JointLimits.from_config(cfg)
        self.remember = remember
        self.session: int | None = None
        self.sent: OrderedDict[int, int] = OrderedDict()
        self.last_seq = -1
        self.last_obs_seq = -1

    def new_session(self, session: int) -> None:
        """A handshake succeeded: forget ordering state of the previous server."""
        self.session = session
        self.sent.clear()
        self.last_seq = self.last_obs_seq = -1

    def record_sent(self, obs_seq: int, t_ns: int) -> None:
        self.sent[obs_seq] = t_ns
        while len(self.sent) > self.remember:
            self.sent.popitem(last=False)

    def check(self, cmd: Command, now_ns: int) -> int:
        """Raise ``ProtocolError`` unless ``cmd`` may be followed; returns its observation time (ns)."""
        if self.session is None or cmd.session != self.session:
            raise ProtocolError("session", f"session {cmd.session} is not the current one ({self.session})")
        t_obs = self.sent.get(cmd.obs_seq)
        if t_obs is None:
            raise ProtocolError("unknown_obs", f"obs_seq {cmd.obs_seq} is not a recent observation of this robot")
        if cmd.obs_t_robot_ns != t_obs:
            raise ProtocolError("timestamp_mismatch", f"obs {cmd.obs_seq} was sent at {t_obs} ns, command says {cmd.obs_t_robot_ns}")
        if cmd.seq <= self.last_seq or cmd.obs_seq < self.last_obs_seq:
            raise ProtocolError("not_newer", f"seq {cmd.seq} (obs {cmd.obs_seq}) is not newer than the last accepted "
                                             f"{self.last_seq} (obs {self.last_obs_seq})")
        age = (now_ns - t_obs) / NS
        limit = min(self.cfg.max_command_age_s, cmd.valid_for_s)
        if age > limit:
            raise ProtocolError("stale", f"answers an observation {age * 1e3:.0f} ms old > {limit * 1e3:.0f} ms")
        check_command_ranges(cmd, self.cfg, self.kind, self.lim)
        self.last_seq, self.last_obs_seq = cmd.seq, cmd.obs_seq
        return t_obs


class Supervisor:
    """The runner's safety mode and the desired targets of each tick (before the target filter)."""

    def __init__(self, cfg: SafetyConfig, period_s: float, kind: str):
        self.cfg, self.period, self.kind = cfg, period_s, kind
        self.mode = "wait"
        self.command: Command | None = None
        self.t_obs_ns = 0
        self.t_valid_ns: int | None = None
        """Receipt time (robot clock) of the last accepted command."""
        self.estop_reason = ""
        self._hold: tuple[np.ndarray, np.ndarray, float] | None = None
        self.safe_arm = np.asarray(cfg.safe_arm_pose, np.float64)

    def accept(self, cmd: Command, t_obs_ns: int, rx_ns: int) -> None:
        if self.mode == "estop":
            return
        self.command, self.t_obs_ns, self.t_valid_ns = cmd, t_obs_ns, rx_ns

    def estop(self, reason: str) -> None:
        """Latch the e-stop (never left until the runner restarts)."""
        if self.mode != "estop":
            self.mode, self.estop_reason, self._hold = "estop", reason, None

    def update(self, now_ns: int) -> str:
        """Watchdog transitions at a tick at ``now_ns``; returns the mode for this tick."""
        if self.mode == "estop" or self.t_valid_ns is None:
            return self.mode
        # the target written now is in effect until the next tick: switch if it would outlive the
        # limit (plus a small margin for a late next tick)
        silent = (now_ns - self.t_valid_ns) / NS + self.period + self.cfg.watchdog_margin_s
        mode = "safe" if silent > self.cfg.safe_after_s else "hold" if silent > self.cfg.hold_after_s else "active"
        if mode != self.mode and mode != "safe":
            self._hold = None  # a fresh hold captures the targets at its first tick
        self.mode = mode
        return mode

    def desired(self, now_ns: int, current_arm: np.ndarray, current_grip: np.ndarray, current_h: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float | None]:
        """Desired arm (14,), grippers (2,), u_t (4,) and an arm-rate override for this tick.

        ``current_*`` are the target filter's last outputs (what the actuators hold now).
        """
        u = np.zeros(4)
        if self.mode == "active":
            cmd = self.command
            arm, grip = chunk_at(cmd.arm, cmd.grippers, cmd.dt, (now_ns - self.t_obs_ns) / NS)
            u[:] = cmd.command
            return arm, grip, u, None
        if self.mode in ("hold", "estop"):
            if self._hold is None:
                self._hold = (current_arm.copy(), current_grip.copy(), float(current_h))
            arm, grip, u[HEIGHT] = self._hold
            return arm, grip, u, None
        # wait / safe: ramp to the safe pose at nominal h*, grippers keep what they hold
        if self._hold is None:
            self._hold = (current_arm.copy(), current_grip.copy(), float(current_h))
        u[HEIGHT] = self.cfg.nominal_height
        u[FLAGS] = 0.0
        return self.safe_arm, self._hold[1], u, self.cfg.safe_ramp_rate

    def silence_s(self, now_ns: int) -> float | None:
        """Seconds since the last accepted command (None before the first)."""
        return None if self.t_valid_ns is None else (now_ns - self.t_valid_ns) / NS
