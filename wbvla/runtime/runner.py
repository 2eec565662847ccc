"""The 50 Hz robot runner: the loop that owns the robot, on wall time over ZeroMQ.

Each tick, at an absolute deadline ``t0 + k * period`` (never ``sleep(period)``, which drifts by
the work done), the runner reads joint states and IMU from the backend, runs the control tick
(:class:`~wbvla.control.tick.ControlTick`: watchdog, chunk timing, target filter and rate limits,
the LMO on the backend's arrays; the same tick the task suite runs on a simulated clock), writes
all 29 targets to the backend, and every ``obs_every`` ticks sends an observation.

Between ticks it waits on the command socket (so a command is time-stamped when it arrives),
then spins the last ``spin_s`` on the clock. Commands are decoded and judged
(:class:`~wbvla.runtime.supervisor.CommandGate`) as they arrive; every rejection is counted and
logged with its reason; an accepted command goes to the tick. The LMO runs every tick in every
mode: it never stops balancing.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field

import numpy as np
import zmq

from wbvla.control.backend import RobotBackend, RobotState
from wbvla.control.lmo import LMOStage
from wbvla.control.policy_contract import DEFAULT_IMAGE_SIZE
from wbvla.control.targets import ARMS, GRIPPERS
from wbvla.control.tick import ControlTick
from wbvla.control.x2 import X2Backend
from wbvla.io import atomic_path
from wbvla.runtime import messages as msgs
from wbvla.runtime.config import RunnerConfig
from wbvla.runtime.messages import EStop, Hello, Observation
from wbvla.runtime.supervisor import CommandGate
from wbvla.runtime.wire import ProtocolError

log = logging.getLogger("wbvla.runtime.runner")
MODE_CODES = {m: i for i, m in enumerate(msgs.MODES)}


@dataclass
class TickLog:
    """Per-tick records (numpy columns, grown in blocks) and per-event records."""

    capacity: int = 0
    """Most ticks kept (0: unbounded); older ticks are dropped in blocks."""
    block: int = 3000
    cols: dict[str, list[np.ndarray]] = field(default_factory=dict)
    n: int = 0
    events: deque = field(default_factory=lambda: deque(maxlen=200_000))
    """(t_ns, kind, detail) for accepts, rejections (with reason), mode changes, e-stops, handshakes."""

    SPEC = {"deadline_ns": ((), np.int64), "wake_ns": ((), np.int64), "written_ns": ((), np.int64),
            "mode": ((), np.int8), "u": ((4,), np.float32), "q_target": ((29,), np.float32),
            "q": ((29,), np.float32), "base_height": ((), np.float32), "fallen": ((), np.bool_),
            "lmo_ms": ((), np.float32), "valid_ns": ((), np.int64), "cmd_seq": ((), np.int64)}

    def append(self, **row) -> None:
        i = self.n % self.block
        if i == 0:
            for k, (shape, dt) in self.SPEC.items():
                self.cols.setdefault(k, []).append(np.zeros((self.block, *shape), dt))
            if self.capacity and len(self.cols["mode"]) * self.block > self.capacity + self.block:
                for k in self.cols:
                    self.cols[k].pop(0)
        for k, v in row.items():
            self.cols[k][-1][i] = v
        self.n += 1

    def arrays(self) -> dict[str, np.ndarray]:
        """The kept ticks as one array per column."""
        if not self.n:
            return {k: np.zeros((0, *s), d) for k, (s, d) in self.SPEC.items()}
        tail = self.n % self.block or self.block
        return {k: np.concatenate([*blocks[:-1], blocks[-1][:tail]]) for k, blocks in self.cols.items()}


class RobotRunner:
    """See the module docstring. ``link=False`` runs without sockets (commands via :meth:`on_command_bytes`)."""

    def __init__(self, cfg: RunnerConfig, backend: RobotBackend, lmo: LMOStage | None = None, link: bool = True,
                 ctx: zmq.Context | None = None, link_factory=None):
        """``link_factory(link_cfg, hello, retry_s, timeout_s, ctx, clock=...)`` builds the link
        (default :class:`~wbvla.runtime.link.RobotLink`; tests pass one without a thread)."""
        if lmo is None and not backend.kinematic_base:
            raise ValueError(f"backend {backend.name!r} needs the LMO to balance: pass an LMOStage")
        self.cfg, self.backend, self.lmo = cfg, backend, lmo
        self.period_ns = round(cfg.period_s * 1e9)
        self.kind = lmo.kind if lmo is not None and not backend.kinematic_base else "flags"
        self.control = ControlTick(cfg.safety, cfg.period_s, self.kind, None if backend.kinematic_base else lmo,
                                   clock=lambda: self.clock(), execution=cfg.execution)
        self.gate = CommandGate(cfg.safety, self.kind, self.control.limits)
        self.sup, self.filter = self.control.sup, self.control.filter
        self.log = TickLog(cfg.log_ticks)
        self.rejected: Counter[str] = Counter()
        self.accepted = 0
        self.obs_seq = 0
        self.tick_index = 0
        self.missed_deadlines = 0
        self.lmo_nonfinite = 0
        self.obs_to_cmd_ms: list[float] = []
        """Robot clock: observation read -> its command received, for accepted commands (ms)."""
        self.inference_ms: deque[float] = deque(maxlen=100_000)
        """The server-reported policy time of every decoded command (ms)."""
        self.obs_to_any_cmd_ms: deque[float] = deque(maxlen=100_000)
        """Like :attr:`obs_to_cmd_ms` for every decoded command answering a known observation."""
        self.welcome = None
        self.clock = time.perf_counter_ns
        self._poller = None
        self._link_enabled, self._ctx, self._link_factory = link, ctx, link_factory
        self.link = None
        self._last_reject_log = 0.0
        self._started = False
        self._t_heard = 0
        """When (runner clock) the last message of the current session arrived."""
        self._console: deque = deque(maxlen=1000)
        self._report_stop = threading.Event()
        self._reporter = threading.Thread(target=self._report, name="runner-console", daemon=True)

    # --- setup ---------------------------------------------------------------------------------
    def start(self) -> RobotState:
        self._started = True
        self._reporter.start()
        state = self.backend.start()
        self.control.reset(state)
        if self._link_enabled:
            from wbvla.runtime.link import RobotLink  # lazy: pyzmq, only with a link

            hello = Hello(self.cfg.robot_id, msgs.ROBOT_JOINTS, self.kind, self.cfg.model_id, self.cfg.image_encoding,
                          (*self.backend_image_shape(), 3))
            factory = self._link_factory or RobotLink
            self.link = factory(self.cfg.link, hello, self.cfg.rehandshake_s, self.cfg.handshake_timeout_s, self._ctx,
                                clock=lambda: self.clock())
            self._poller = zmq.Poller()
            self._poller.register(self.link.cmd, zmq.POLLIN)
        # after the camera/handshake threads exist: they keep the normal policy
        self.set_scheduling(self.cfg.realtime_priority, self.cfg.cpu_affinity)
        gc.freeze()  # start-up objects (models, scenes, modules) leave the collector: no long gen-2 pauses in the loop
        return state

    def backend_image_shape(self) -> tuple[int, int]:
        """(height, width) of the backend's head camera (announced in the hello)."""
        backend = getattr(self.backend, "inner", self.backend)  # a RecordingBackend's robot
        size = getattr(backend, "image_size", None)
        return tuple(size) if size is not None else (DEFAULT_IMAGE_SIZE, DEFAULT_IMAGE_SIZE)

    @staticmethod
    def set_scheduling(priority: int = 0, cpus: tuple[int, ...] = ()) -> None:
        """Documented options, off by default, for the calling (loop) thread only: SCHED_FIFO at
        ``priority`` (1-99; 0 = the normal policy; needs CAP_SYS_NICE) and CPU affinity."""
        if cpus:
            os.sched_setaffinity(0, set(cpus))
        if priority:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
        elif os.sched_getscheduler(0) != os.SCHED_OTHER:
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))

    def close(self) -> None:
        self._report_stop.set()
        if self._reporter.is_alive():
            self._reporter.join(timeout=2.0)
        if self.link is not None:
            self.link.close()
            self.link = None
        self.backend.close()

    # --- console ---------------------------------------------------------------------------------
    def _say(self, level: int, msg: str, *args) -> None:
        """Queue a console line; a reporter thread writes it. The loop thread never does I/O (a
        blocked stderr, or a lock held by a starved thread, would stall a real-time loop)."""
        self._console.append((level, msg, args))

    def _report(self) -> None:
        while not self._report_stop.wait(0.2):
            self._flush_console()
        self._flush_console()

    def _flush_console(self) -> None:
        while self._console:
            level, msg, args = self._console.popleft()
            log.log(level, msg, *args)

    # --- commands ------------------------------------------------------------------------------
    def estop(self, reason: str = "local") -> None:
        """Latch the e-stop now (also what an ``estop`` message does)."""
        if self.sup.mode != "estop":
            self.log.events.append((self.clock(), "estop", reason))
            self._say(logging.WARNING, "E-STOP: %s", reason)
        self.sup.estop(reason)

    def on_command_bytes(self, buf: bytes, rx_ns: int | None = None) -> str:
        """Decode and judge one message from the command socket; returns ``"accepted"``,
        ``"estop"`` or the rejection reason. Never raises on bad input."""
        rx_ns = self.clock() if rx_ns is None else rx_ns
        try:
            msg = msgs.decode(buf, self.cfg.link.max_command_bytes, expect=("cmd", "estop"))
            if msg.session == self.gate.session:
                self._t_heard = rx_ns  # the server of this session is alive (whatever we think of its message)
            if isinstance(msg, EStop):  # stopping is always safe: no session/order check
                self.estop(f"server: {msg.reason}")
                return "estop"
            self.inference_ms.append(msg.inference_ms)  # the server's tick, accepted or not
            if msg.obs_seq in self.gate.sent:
                self.obs_to_any_cmd_ms.append((rx_ns - self.gate.sent[msg.obs_seq]) / 1e6)
            if self.sup.mode == "estop":
                raise ProtocolError("estop_latched", "the e-stop is latched; commands are refused until restart")
            t_obs = self.gate.check(msg, rx_ns)
        except ProtocolError as err:
            self._reject(err, rx_ns)
            return err.reason
        self.control.accept(msg, t_obs, rx_ns)  # a wire command has a Chunk's fields
        self.accepted += 1
        self.obs_to_cmd_ms.append((rx_ns - t_obs) / 1e6)
        self.log.events.append((rx_ns, "accept", {"seq": msg.seq, "obs_seq": msg.obs_seq, "latents": msg.latents,
                                                   "inference_ms": msg.inference_ms, "u": msg.command.tolist()}))
        return "accepted"

    def _reject(self, err: ProtocolError, t_ns: int) -> None:
        self.rejected[err.reason] += 1
        self.log.events.append((t_ns, "reject", f"{err.reason}: {err.detail}"))
        now = time.monotonic()
        if now - self._last_reject_log > 1.0:  # the console gets at most one line a second; the event log gets all
            self._say(logging.WARNING, "command rejected (%s): %s [totals %s]", err.reason, err.detail, dict(self.rejected))
            self._last_reject_log = now

    def _drain_link(self) -> None:
        while (buf := self.link.recv_command()) is not None:
            self.on_command_bytes(buf, self.clock())

    def _adopt_session(self) -> None:
        welcome = self.link.take_welcome()
        if welcome is not None:
            if self.welcome is not None:  # a re-handshake after a silence: fresh data sockets too
                self._poller.unregister(self.link.cmd)
                self.link.reconnect()
                self._poller.register(self.link.cmd, zmq.POLLIN)
            self.gate.new_session(welcome.session)
            self.welcome = welcome
            self.log.events.append((self.clock(), "handshake", {"session": welcome.session, "model_id": welcome.model_id,
                                                               "policy_kind": welcome.policy_kind}))
            self._say(logging.INFO, "session %d with model %s (%s)", welcome.session, welcome.model_id, welcome.policy_kind)

    # --- the loop ------------------------------------------------------------------------------
    def wait_until(self, deadline_ns: int) -> None:
        """Wait for ``deadline_ns``: poll the command socket, sleep, then spin the last ``spin_s``."""
        spin_ns = round(self.cfg.spin_s * 1e9)
        while True:
            remaining = deadline_ns - self.clock()
            if remaining <= spin_ns:
                break
            wait_ms = (remaining - spin_ns) // 1_000_000
            if self._poller is not None and wait_ms >= 1:
                if self._poller.poll(wait_ms):
                    self._drain_link()
            else:
                time.sleep((remaining - spin_ns) / 1e9)
                break
        if self.link is not None:
            self._drain_link()
        while self.clock() < deadline_ns:
            pass

    def tick(self, deadline_ns: int) -> None:
        """One control period (see the module docstring)."""
        wake = self.clock()
        if self.link is not None:
            self._adopt_session()
        state = self.backend.read()
        state.t_ns = self.clock()  # observation times are the runner's clock, whatever the backend's
        prev_mode = self.sup.mode
        out = self.control.step(wake, state)
        mode = out.mode
        if mode != prev_mode:
            self.log.events.append((wake, "mode", f"{prev_mode}->{mode}"))
        if not out.lmo_ok:
            self.lmo_nonfinite += 1
            self.log.events.append((wake, "lmo_nonfinite", "LMO output not finite: legs hold"))
        self.backend.write(out.q, out.u)
        written = self.clock()
        if self.link is not None:
            if self.welcome is not None and mode != "estop":  # silent: the server may have restarted, or the link broke
                self.link.request_handshake(wake, self._t_heard, max(self.cfg.rehandshake_s, self.cfg.safety.hold_after_s))
            if self.tick_index % self.cfg.obs_every == 0 and self.gate.session is not None:
                self._send_observation(state, mode)
        self.log.append(deadline_ns=deadline_ns, wake_ns=wake, written_ns=written, mode=MODE_CODES[mode], u=out.u,
                        q_target=out.q, q=state.q, base_height=state.base_height, fallen=state.fallen, lmo_ms=out.lmo_ms,
                        valid_ns=self.sup.t_valid_ns or 0, cmd_seq=self.gate.last_seq)
        self.tick_index += 1

    def _send_observation(self, state: RobotState, mode: str) -> None:
        image = self.backend.latest_image()
        if image is None:
            return
        self.obs_seq += 1
        obs = Observation(self.gate.session, self.obs_seq, state.t_ns, image, state.q[ARMS], state.dq[ARMS],
                          state.q[GRIPPERS], state.base_height, state.gyro, state.gravity, self.control.u, mode,
                          state.fallen, sum(self.rejected.values()), self.cfg.image_encoding)
        self.gate.record_sent(self.obs_seq, state.t_ns)
        self.link.send_observation(msgs.encode(obs, self.cfg.jpeg_quality))

    def run(self, duration_s: float | None = None, stop=None) -> None:
        """Run the loop for ``duration_s`` (None: until ``stop`` is set or KeyboardInterrupt)."""
        if not self._started:
            self.start()
        t0 = self.clock()
        deadline = t0 + self.period_ns
        end = None if duration_s is None else t0 + round(duration_s * 1e9)
        while (end is None or deadline <= end) and not (stop is not None and stop.is_set()):
            self.wait_until(deadline)
            self.tick(deadline)
            deadline += self.period_ns
            late = self.clock() - deadline
            if late >= self.period_ns:  # whole periods were lost: skip them instead of bursting ticks
                skipped = late // self.period_ns
                self.missed_deadlines += int(skipped)
                deadline += skipped * self.period_ns


def make_backend(cfg: RunnerConfig) -> RobotBackend:
    """The backend ``cfg.backend`` names: ``sim`` (the MuJoCo twin) or ``x2`` (the SDK seam)."""
    if cfg.backend == "sim":
        from wbvla.runtime.backends.sim import (
            SimBackend,  # lazy: MuJoCo, torch (the simulated robot)
        )

        return SimBackend(cfg.sim, cfg.safety)
    return X2Backend()


def build_runner(cfg: RunnerConfig, backend: RobotBackend | None = None, **kwargs) -> RobotRunner:
    """A runner with the configured backend and, unless the backend moves its base itself, the LMO."""
    backend = backend or make_backend(cfg)
    lmo = None if backend.kinematic_base else LMOStage(cfg.lmo_path)
    return RobotRunner(cfg, backend, lmo, **kwargs)


def save_log(runner: RobotRunner, path) -> None:
    """The per-tick columns and the event list as one ``.npz`` (atomic write)."""
    import json

    arrays = runner.log.arrays()
    events = json.dumps([(int(t), k, d) for t, k, d in runner.log.events], default=str)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, events=np.array(events), **arrays)
