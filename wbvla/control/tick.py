"""The one control tick: time, the accepted chunk and the robot's state in, 29 joint targets and
u_t out. The suite's runner (:func:`wbvla.tasks.runner.run_trial`, a simulated clock) and the robot
runner (:class:`wbvla.runtime.runner.RobotRunner`, wall time over ZeroMQ) both run it.

Each tick at time ``now_ns``:

1. the watchdog (:class:`Supervisor`) sets the mode and the desired arm, gripper and h* targets:
   the accepted chunk at this instant (:func:`chunk_at`; with
   :attr:`~wbvla.control.config.ExecutionConfig.chunk_execution` ``temporal_ensemble`` the
   weighted average of every kept chunk's prediction for this instant, :func:`ensemble_at`), or
   hold / safe pose;
2. the target filter (:class:`~wbvla.control.targets.TargetFilter`) clamps and rate-limits them;
3. u_t = the chunk's locomotion components (flags, or velocities; all 0 outside ``active``) and
   the filtered h*; ``command_map`` may turn it into what the LMO takes (the suite's flags ->
   Eq. 2 velocities for the velocity baseline);
4. the LMO (:class:`~wbvla.control.lmo.LMOStage`) turns u_t and the state into leg targets
   (clamped and rate-limited too), unless the backend moves its base itself (the labelled ideal
   base: ``lmo=None``); the waist goes to its default.

The watchdog's modes:

=========  ==================================================================================
``wait``   no command yet: stand (flags 0), arms ramp to the safe pose, h* to nominal
``active`` follow the chunk (interpolated from the observation's timestamp) and u_t
``hold``   no valid command for ``hold_after_s``: flags 0 (stand), arms/grippers/h* hold
``safe``   no valid command for ``safe_after_s``: flags 0, arms ramp to the safe pose, h* to nominal
``estop``  latched by an e-stop: flags 0, everything holds, commands are not followed
=========  ==================================================================================

Watchdog timing: a tick's targets are in effect for one period after it, so the watchdog
switches at the first tick whose *next* deadline (plus ``watchdog_margin_s``, 5 ms) lies beyond
``last_valid + hold_after_s``: the target in effect when ``hold_after_s`` has elapsed is already
the stand target, even if the next tick wakes a few ms late.

The **stand state** (what "safe within 300 ms" measures): mode ``hold``/``safe``/``estop`` and a
u_t with all locomotion components 0, written to the backend.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from wbvla.control.backend import RobotState
from wbvla.control.config import ExecutionConfig, SafetyConfig
from wbvla.control.lmo import LMOStage
from wbvla.control.policy_contract import CommandKind, PolicyOutput
from wbvla.control.targets import ARMS, FLAGS, GRIPPERS, HEIGHT, JointLimits, TargetFilter
from wbvla.sim.joints import default_pose

NS = 1_000_000_000
MODES = ("wait", "active", "hold", "safe", "estop")
"""The watchdog's modes, in the order the wire protocol numbers them."""
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


def covers(chunk: Chunk, t_rel: float) -> bool:
    """Whether ``chunk`` predicts a target ``t_rel`` seconds after its observation: its rows span
    ``[0, H * dt)`` (row ``i`` holds over ``[i dt, (i + 1) dt)``, :class:`PolicyOutput`); a time
    before the observation counts as row 0."""
    return t_rel / chunk.dt < chunk.arm.shape[0] - 1e-6


def ensemble_at(chunks: Sequence[tuple[Chunk, int]], now_ns: int, decay: float) -> tuple[np.ndarray, np.ndarray]:
    """ACT's temporal ensembling (Zhao et al. 2023, §3.3) at ``now_ns``: arm (14,) and gripper (2,) targets.

    ``chunks``: (chunk, t_obs_ns) oldest first. Each chunk that covers ``now_ns`` (:func:`covers`)
    predicts ``a_i = chunk_at(chunk, now - t_obs)``; with ``i = 0`` the oldest of them,

        a = sum_i w_i a_i / sum_i w_i,   w_i = exp(-m i),   m = ``decay``

    (m > 0 weighs older chunks more, m < 0 newer ones; computed as a softmax of ``-m i``, so any
    finite m is safe). With no chunk covering ``now_ns`` the newest chunk's :func:`chunk_at` (its
    last row, held)."""
    preds = []
    for chunk, t_obs in chunks:
        t_rel = (now_ns - t_obs) / NS
        if covers(chunk, t_rel):
            preds.append(chunk_at(chunk.arm, chunk.grippers, chunk.dt, t_rel))
    if not preds:
        chunk, t_obs = chunks[-1]
        return chunk_at(chunk.arm, chunk.grippers, chunk.dt, (now_ns - t_obs) / NS)
    logits = -decay * np.arange(len(preds), dtype=np.float64)
    w = np.exp(logits - logits.max())
    w /= w.sum()
    arm = np.einsum("i,ij->j", w, np.stack([p[0] for p in preds]))
    grip = np.einsum("i,ij->j", w, np.stack([p[1] for p in preds]))
    return arm, grip


@dataclass(frozen=True)
class Chunk:
    """What the tick follows of one policy answer (a wire command has the same four fields)."""

    arm: np.ndarray
    """(H, 14) arm targets (rad); row ``i`` belongs to ``i * dt`` after the observation."""
    grippers: np.ndarray
    """(H, 2) gripper openings (m)."""
    dt: float
    """Time between rows (s)."""
    command: np.ndarray
    """(4,) u_t as the policy sent it."""

    @classmethod
    def of(cls, out: PolicyOutput) -> Chunk:
        return cls(out.arm_targets, out.grippers, float(out.dt), out.command)


class Supervisor:
    """The safety mode and the desired targets of each tick (before the target filter).

    ``accept`` takes anything with ``arm``, ``grippers``, ``dt`` and ``command`` (a :class:`Chunk`
    or a decoded wire command), with the time of the observation it answers and when it arrived.
    ``execution`` says how the ``active`` mode follows the chunks (:class:`ExecutionConfig`): the
    newest (``chunk``) or the ensemble of the kept ones (``temporal_ensemble``, :func:`ensemble_at`).
    """

    def __init__(self, cfg: SafetyConfig, period_s: float, kind: str, execution: ExecutionConfig | None = None):
        self.cfg, self.period, self.kind = cfg, period_s, kind
        self.execution = execution or ExecutionConfig()
        self.ensemble = self.execution.chunk_execution == "temporal_ensemble"
        self.mode = "wait"
        self.command: Chunk | None = None
        self.kept: deque[tuple[Chunk, int]] = deque()
        """(chunk, t_obs_ns) of the accepted chunks that may still cover a tick, oldest first
        (``temporal_ensemble`` only; the newest is always kept)."""
        self.t_obs_ns = 0
        self.t_valid_ns: int | None = None
        """Receipt time (the runner's clock) of the last accepted command."""
        self.estop_reason = ""
        self._hold: tuple[np.ndarray, np.ndarray, float] | None = None
        self.safe_arm = np.asarray(cfg.safe_arm_pose, np.float64)

    def accept(self, cmd: Chunk, t_obs_ns: int, rx_ns: int) -> None:
        if self.mode == "estop":
            return
        self.command, self.t_obs_ns, self.t_valid_ns = cmd, t_obs_ns, rx_ns
        if self.ensemble:
            self.kept.append((cmd, t_obs_ns))

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
        if mode != "active":
            self.kept.clear()  # after a hold the ensemble starts again from the next accepted chunk
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
            if self.ensemble:
                while len(self.kept) > 1 and not covers(self.kept[0][0], (now_ns - self.kept[0][1]) / NS):
                    self.kept.popleft()  # ticks only move forward: a chunk that ended never covers again
                arm, grip = ensemble_at(self.kept, now_ns, self.execution.ensemble_decay)
            else:
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


@dataclass
class TickOutput:
    """What one tick writes to the backend, and how it got there."""

    q: np.ndarray
    """(29,) joint position targets in joint-table order (the filter's output; a copy)."""
    u: np.ndarray
    """(4,) u_t as written (after ``command_map``)."""
    mode: str
    """The watchdog's mode of this tick."""
    lmo_ms: float = 0.0
    """Time the LMO took (ms, by the tick's clock)."""
    lmo_ok: bool = True
    """False when the LMO's output was not finite (the legs held)."""


class ControlTick:
    """One tick of the loop (see the module docstring). ``lmo=None``: the backend moves its base
    itself (kinematic) and the leg targets are left where they are."""

    def __init__(self, safety: SafetyConfig, period_s: float, kind: CommandKind, lmo: LMOStage | None = None,
                 command_map: Callable[[np.ndarray], np.ndarray] | None = None,
                 clock: Callable[[], int] = time.perf_counter_ns, execution: ExecutionConfig | None = None):
        """``kind``: what the chunks' u_t holds (``flags`` or ``velocity``). ``command_map``: turns
        the tick's u_t (4,) into what the LMO / backend takes, once per tick. ``clock`` times the LMO.
        ``execution``: how chunks are followed (default :class:`ExecutionConfig`: the newest chunk)."""
        if lmo is not None and abs(lmo.policy.control_dt - period_s) > 1e-9:
            raise ValueError(f"the LMO {lmo.policy.path} steps every {lmo.policy.control_dt} s (its gait clock counts "
                             f"those steps); the tick's period is {period_s} s")
        self.cfg, self.period_s, self.kind, self.lmo = safety, period_s, kind, lmo
        self.command_map, self.clock = command_map, clock
        self.limits = JointLimits.from_config(safety)
        self.sup = Supervisor(safety, period_s, kind, execution)
        self.filter = TargetFilter(safety, period_s, self.limits)
        self.waist_default = default_pose("waist")
        self.u = np.array([0.0, 0.0, 0.0, safety.nominal_height])
        """The last u_t written."""

    def reset(self, state: RobotState) -> None:
        """Start from the measured pose: the first targets equal reality."""
        self.filter.reset(state.q, state.base_height)
        self.u = np.array([0.0, 0.0, 0.0, self.filter.h])
        if self.lmo is not None:
            self.lmo.reset()

    def accept(self, chunk: Chunk, t_obs_ns: int, rx_ns: int) -> None:
        """Follow ``chunk`` (answering the observation of ``t_obs_ns``) from the next tick on."""
        self.sup.accept(chunk, t_obs_ns, rx_ns)

    def estop(self, reason: str) -> None:
        self.sup.estop(reason)

    @property
    def mode(self) -> str:
        return self.sup.mode

    def step(self, now_ns: int, state: RobotState) -> TickOutput:
        """The targets of the tick at ``now_ns`` for the state read at its start."""
        mode = self.sup.update(now_ns)
        f = self.filter
        arm, grip, u, arm_rate = self.sup.desired(now_ns, f.q[ARMS], f.q[GRIPPERS], f.h)
        f.upper(arm, grip, float(u[HEIGHT]), arm_rate)
        u = np.array([u[0], u[1], u[2], f.h])
        if self.command_map is not None:
            u = np.asarray(self.command_map(u), np.float64)
        lmo_ms, ok = 0.0, True
        if self.lmo is not None:
            t0 = self.clock()
            ok = f.legs(self.lmo.step(state, u))
            lmo_ms = (self.clock() - t0) / 1e6
        f.waist(self.waist_default)
        self.u = u
        return TickOutput(f.q.copy(), u, mode, lmo_ms, ok)
