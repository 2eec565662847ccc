"""Which commands the robot runner follows: :class:`CommandGate` decides whether a well-formed
command may be followed: right session, it answers an observation this robot really sent (its
timestamp is looked up on the robot's own clock, so staleness needs no clock sync), newer than
the last accepted one, fresh, and within the joint table's ranges. Each refusal is a
:class:`~wbvla.runtime.wire.ProtocolError` with a reason code that the runner logs and counts.

An accepted command goes to the control tick (:class:`wbvla.control.tick.ControlTick`), whose
watchdog (:class:`wbvla.control.tick.Supervisor`) turns it into targets.
"""

from __future__ import annotations

from collections import OrderedDict

from wbvla.control.config import SafetyConfig
from wbvla.control.targets import JointLimits
from wbvla.control.tick import NS
from wbvla.runtime.messages import Command
from wbvla.runtime.safety import check_command_ranges
from wbvla.runtime.wire import ProtocolError


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
