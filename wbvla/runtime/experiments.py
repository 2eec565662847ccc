"""The loopback fault-injection campaign behind the watchdog figures (tests and notebook 11).

Server (a real ``deploy/vla_server.py`` process, or an in-process thread) -> :class:`FaultProxy`
-> robot runner (in this process, on a backend wrapped in a :class:`RecordingBackend`). While the
runner's loop runs, a harness thread repeats *runs*: wait until the robot follows commands again,
inject one fault at a random phase, keep it for ``observe_s``, remove it. Background faults
(drop, duplicate, reorder, corrupt, jitter) stay on the whole time. Fault kinds:

* ``drop``         the command stream is cut (every command dropped)
* ``stale``        every command is delayed past ``max_command_age_s`` (all rejected as stale)
* ``duplicate``    only copies of the last command before the fault get through (rejected: not newer)
* ``server_kill``  the server is killed (SIGKILL for a process) and restarted after the window

Each run yields the time from the last valid command to the stand state (from the runner's log,
:func:`wbvla.runtime.analysis.stand_latencies`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import zmq

from wbvla.control.backend import RecordingBackend
from wbvla.paths import REPO_ROOT
from wbvla.runtime.analysis import stand_latencies
from wbvla.runtime.config import LinkConfig, RunnerConfig, ServerConfig
from wbvla.runtime.faults import FaultProxy, Faults
from wbvla.runtime.link import wait_for
from wbvla.runtime.server import VLAServer, serve_in_thread

FAULT_KINDS = ("drop", "stale", "duplicate", "server_kill")
BACKGROUND = Faults(drop=0.1, duplicate=0.1, reorder=0.1, corrupt=0.02, jitter_s=0.03)
"""Faults present during the whole campaign, also while the robot follows commands."""


class ServerHandle:
    """A VLA server that can be killed and restarted: a subprocess (``process=True``) or a thread."""

    def __init__(self, cfg: ServerConfig, process: bool, log_path=None):
        self.cfg, self.process, self.log_path = cfg, process, log_path
        self.proc: subprocess.Popen | None = None
        self.server: VLAServer | None = None
        self.thread: threading.Thread | None = None
        self.restarts = 0
        self._ready_before = 0

    READY_LINE = b"VLA server on "
    """What ``VLAServer.start`` logs once the policy is loaded and the sockets are bound."""

    def start(self) -> None:
        if self.process:
            cmd = [sys.executable, str(REPO_ROOT / "deploy" / "vla_server.py"), "--link.host", self.cfg.link.host,
                   "--link.port", str(self.cfg.link.port), "--policy", self.cfg.policy, "--stats-every-s", "0",
                   "--instruction", self.cfg.instruction]
            if self.log_path is None:  # the log is how wait_ready sees the server come up
                self.log_path = Path(tempfile.mkstemp(prefix="wbvla_server_", suffix=".log")[1])
            self._ready_before = self._ready_count()
            out = open(self.log_path, "ab")  # noqa: SIM115
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        else:
            t_end = time.monotonic() + 5.0
            while True:  # the killed instance's ports may take a moment to free
                try:
                    self.server = VLAServer(self.cfg).start()
                    break
                except zmq.ZMQError:
                    if time.monotonic() > t_end:
                        raise
                    time.sleep(0.05)
            self.thread = serve_in_thread(self.server)

    def _ready_count(self) -> int:
        path = Path(self.log_path)
        return path.read_bytes().count(self.READY_LINE) if path.exists() else 0

    def wait_ready(self, timeout_s: float = 180.0) -> float:
        """Block until the server process started last has loaded its policy and bound its sockets
        (a real VLA takes seconds to load, more on a busy CPU); returns the seconds waited. Raises
        RuntimeError with the log's tail if the process exits or ``timeout_s`` passes first."""
        t0 = time.monotonic()
        if not self.process:
            return 0.0  # a thread server is bound when start() returns
        while self._ready_count() <= self._ready_before:
            exited = self.proc is None or self.proc.poll() is not None
            if exited or time.monotonic() - t0 > timeout_s:
                tail = Path(self.log_path).read_text(errors="replace")[-2000:]
                why = "exited" if exited else f"was not ready after {timeout_s:.0f} s"
                raise RuntimeError(f"VLA server process {why} (log {self.log_path}):\n{tail}")
            time.sleep(0.1)
        return time.monotonic() - t0

    def kill(self) -> None:
        """Kill without a goodbye: SIGKILL for a process; for a thread, stop and drop its sockets."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.proc = None
        if self.server is not None:
            self.server.stop()
            self.thread.join(timeout=5)
            self.server.close()
            self.server = None

    def restart(self) -> None:
        self.kill()
        self.start()
        self.restarts += 1

    def close(self) -> None:
        self.kill()


@dataclass
class CampaignResult:
    runs: list[dict] = field(default_factory=list)
    """One entry per run: kind, fault time, latency (ms), stood."""
    proxy_counts: dict = field(default_factory=dict)

    def summary(self, limit_ms: float = 300.0) -> dict:
        lat = np.array([r["latency_ms"] for r in self.runs], np.float64)
        ok = np.isfinite(lat) & (lat <= limit_ms)
        per_kind = {}
        for kind in sorted({r["kind"] for r in self.runs}):
            sel = np.array([r["kind"] == kind for r in self.runs])
            per_kind[kind] = {"runs": int(sel.sum()), "safe_within": int(ok[sel].sum()),
                              "latency_ms_max": float(np.nanmax(lat[sel])) if np.isfinite(lat[sel]).any() else None}
        return {"runs": len(self.runs), "safe_within_300ms": int(ok.sum()),
                "latency_ms": {"p50": float(np.nanpercentile(lat, 50)) if ok.any() else None,
                               "max": float(np.nanmax(lat)) if np.isfinite(lat).any() else None},
                "per_kind": per_kind}


def run_campaign(runner, server: ServerHandle, proxy: FaultProxy, n_runs: int, kinds=FAULT_KINDS,
                 active_s: float = 0.6, observe_s: float = 0.6, safe_every: int = 10, seed: int = 0,
                 recover_timeout_s: float = 20.0) -> CampaignResult:
    """Run ``n_runs`` fault runs while ``runner`` runs its loop in this thread (see the module
    docstring). Every ``safe_every``-th run keeps the fault long enough for the safe-pose ramp."""
    rng = np.random.default_rng(seed)
    stop = threading.Event()
    faults_at: list[tuple[str, int]] = []
    errors: list[BaseException] = []
    safety = runner.cfg.safety

    def harness() -> None:
        try:
            attempts = 0
            while len(faults_at) < n_runs:
                attempts += 1
                if attempts > 3 * n_runs:
                    raise RuntimeError(f"only {len(faults_at)} of {n_runs} runs in {attempts} attempts: background faults too strong")
                i = len(faults_at)
                kind = kinds[i % len(kinds)]
                # the robot must be following commands again, for a while, before the next fault
                if not wait_for(lambda: runner.sup.mode == "active", recover_timeout_s):
                    raise TimeoutError(f"run {i}: the robot did not return to 'active' within {recover_timeout_s} s")
                t_end = time.monotonic() + active_s
                wait_for(lambda t_end=t_end: runner.sup.mode != "active" or time.monotonic() > t_end, active_s + 1)
                time.sleep(float(rng.uniform(0.0, 0.1)))  # random phase relative to the 10 Hz commands
                if runner.sup.mode != "active":
                    continue  # a background fault caused a hold: try this run again
                faults_at.append((kind, runner.clock()))
                _inject(kind, server, proxy)
                time.sleep(safety.safe_after_s + 0.3 if (i + 1) % safe_every == 0 else observe_s)
                _remove(kind, server, proxy)
        except BaseException as err:  # reported after the loop stops
            errors.append(err)
        finally:
            stop.set()

    th = threading.Thread(target=harness, name="fault-harness", daemon=True)
    th.start()
    runner.run(None, stop=stop)
    th.join()
    if errors:
        raise errors[0]
    log = runner.log.arrays()
    lat = stand_latencies(log, [t for _, t in faults_at])
    res = CampaignResult([{"kind": k, **r} for (k, _), r in zip(faults_at, lat, strict=True)], dict(proxy.counts))
    return res


def _inject(kind: str, server: ServerHandle, proxy: FaultProxy) -> None:
    if kind == "drop":
        proxy.cut.set()
    elif kind == "stale":
        proxy.set_faults(Faults(delay_s=0.45, seed=int(proxy.rng.integers(1 << 31))))
    elif kind == "duplicate":
        proxy.freeze.set()
    elif kind == "server_kill":
        server.kill()
    else:
        raise ValueError(f"unknown fault kind {kind!r}; choose from {FAULT_KINDS}")


def _remove(kind: str, server: ServerHandle, proxy: FaultProxy) -> None:
    if kind == "drop":
        proxy.cut.clear()
    elif kind == "stale":
        proxy.set_faults(BACKGROUND)
    elif kind == "duplicate":
        proxy.freeze.clear()
    elif kind == "server_kill":
        server.start()
        server.restarts += 1


@dataclass
class Rig:
    """Server -> fault proxy -> runner on a recording sim twin, all on loopback."""

    server: ServerHandle
    proxy: FaultProxy
    runner: object
    backend: RecordingBackend

    def close(self) -> None:
        self.runner.close()
        self.proxy.close()
        self.server.close()


def loopback_rig(port: int, locomotion: str = "ideal_base", process: bool = False, faults: Faults = BACKGROUND,
                 policy: str = "standin:bag_packing", image_size: tuple[int, int] = (96, 96), scene: str = "bag_packing",
                 server_log=None, runner_cfg: RunnerConfig | None = None) -> Rig:
    """Start everything (server on ``port``..``port+2``, proxy on ``port+3``..``port+5``) and the
    runner's backend; the runner's loop is started by ``runner.run`` or :func:`run_campaign`."""
    from wbvla.runtime.backends.sim import SimBackend  # lazy: MuJoCo, torch
    from wbvla.runtime.runner import build_runner  # lazy: MuJoCo, torch

    server_link = LinkConfig(host="127.0.0.1", port=port)
    server = ServerHandle(ServerConfig(link=server_link, policy=policy, stats_every_s=0), process, server_log)
    server.start()
    server.wait_ready()  # loading a real VLA takes seconds: the runs start once the server answers
    proxy = FaultProxy(server_link, port + 3, faults).start()
    base = runner_cfg or RunnerConfig()
    cfg = replace(base, link=proxy.robot_link, sim=replace(base.sim, locomotion=locomotion, image_size=image_size, scene=scene))
    backend = RecordingBackend(SimBackend(cfg.sim, cfg.safety), cfg.safety, cfg.period_s)
    runner = build_runner(cfg, backend)
    runner.start()
    return Rig(server, proxy, runner, backend)


def run_with_schedule(runner, duration_s: float, schedule: list[tuple[float, str, object]]) -> list[tuple[str, int]]:
    """Run the loop for ``duration_s`` while a thread calls ``fn()`` at each ``(t_s, label, fn)``;
    returns ``(label, runner-clock ns)`` of each call (e.g. kill the server at 4 s, restart at 6 s)."""
    done: list[tuple[str, int]] = []
    stop = threading.Event()
    t0 = time.monotonic()

    def harness() -> None:
        for t_s, label, fn in sorted(schedule, key=lambda x: x[0]):
            if stop.wait(max(0.0, t0 + t_s - time.monotonic())):
                return
            done.append((label, runner.clock()))
            fn()

    th = threading.Thread(target=harness, name="schedule", daemon=True)
    th.start()
    runner.run(duration_s)
    stop.set()
    th.join()
    return done
