"""The VLA server: answers the robot's latest observation with a command, ~10 Hz (paper App. B).

It binds the three sockets of :mod:`wbvla.runtime.transport`, shakes hands (schema version, joint
names, command kind, model id), and for each observation it receives (latest only: conflated
socket, and it drains whatever else is queued) runs ``policy.act(image, instruction, state)`` and
sends back a :class:`~wbvla.runtime.messages.Command` that names the observation it answers.
The policy is any object with the :class:`wbvla.control.policy_contract.Policy` interface (:func:`load_policy`).

An e-stop (:meth:`VLAServer.estop`) latches: from then on every message to the robot is an
``estop``, re-sent each 0.1 s, so conflation can never replace it with a command.
"""

from __future__ import annotations

import importlib
import logging
import secrets
import threading
import time
from collections import Counter, deque
from pathlib import Path

import numpy as np
import zmq

from wbvla.data.teleop_schema import INSTRUCTIONS
from wbvla.lmo.config import HeightConfig
from wbvla.runtime import messages as msgs
from wbvla.runtime import transport
from wbvla.runtime.config import ServerConfig
from wbvla.runtime.messages import Command, EStop, Hello, Observation, Welcome
from wbvla.runtime.standin import ReplayPolicy
from wbvla.runtime.wire import ProtocolError
from wbvla.sim.joints import default_pose
from wbvla.vla.config import BackboneConfig
from wbvla.vla.variants import shipped_policy_dir

log = logging.getLogger("wbvla.runtime.server")


def load_policy(spec: str, task: str = "bag_packing", threads: int | None = 1):
    """A policy from a spec string.

    * ``auto``: the shipped VLA (``data/vla/tutorial``) when it exists, else ``standin:<task>``;
    * ``standin:<task>``: the labelled scripted stand-in (:mod:`wbvla.runtime.standin`);
      ``standin:<task>:in_place`` turns instead of walking (long fault campaigns);
    * ``python:<module>:<factory>``: ``factory()`` returns any object with ``act``/``reset``/``model_id``;
    * ``timing:<preset>``: an *untrained* VLA of the backbone preset (``tiny``, ``smollm2``) for
      measuring the tick time of the real architecture in the loop; its outputs mean nothing, it is
      labelled a stand-in (:func:`wbvla.vla.bench.timing_policy`);
    * a VLA policy folder (``policy.json`` + safetensors, e.g. under ``data/vla/``): loaded by
      :meth:`wbvla.vla.policy.VLAPolicy.load`.
    """
    if spec == "auto":
        shipped = shipped_policy_dir()
        if (shipped / "policy.json").is_file():
            return load_policy(str(shipped), task, threads)
        log.warning("no shipped VLA at %s: serving the labelled stand-in standin:%s", shipped, task)
        spec = f"standin:{task}"
    if spec.startswith("standin:"):
        task_name, _, mode = spec.split(":", 1)[1].partition(":")
        if mode not in ("", "in_place"):
            raise ValueError(f"policy {spec!r}: a stand-in is 'standin:<task>' or 'standin:<task>:in_place'")
        return ReplayPolicy.scripted(task_name, in_place=mode == "in_place")
    if spec.startswith("timing:"):
        import torch

        from wbvla.vla.bench import timing_policy  # lazy: torch, transformers, only the GPU side

        torch.set_num_threads(threads or 1)
        policy = timing_policy(BackboneConfig(preset=spec.split(":", 1)[1]))
        policy.standin = True  # untrained: a stand-in for timing, never a result
        return policy
    if spec.startswith("python:"):
        module, _, factory = spec[len("python:"):].partition(":")
        return getattr(importlib.import_module(module), factory)()
    path = Path(spec).expanduser()
    if not (path / "policy.json").is_file():
        raise FileNotFoundError(f"policy {spec!r}: not a VLA policy folder (no policy.json); use 'standin:<task>', "
                                "'python:<module>:<factory>' or a folder made by `wbvla vla-finetune` (data/vla/...)")
    from wbvla.vla.policy import VLAPolicy  # lazy: torch, transformers, only the GPU side

    return VLAPolicy.load(path, threads=threads)


def default_state() -> np.ndarray:
    """s_t (17,) of the default stance: arms and grippers at their default pose, nominal height."""
    return np.concatenate([default_pose("arms"), default_pose("grippers"),
                           [HeightConfig().nominal_height]]).astype(np.float32)


def chunk_size_of(policy) -> int:
    """Rows per chunk the policy makes (a VLA keeps it in its metadata)."""
    return int(getattr(policy, "chunk_size", 0) or getattr(policy, "meta", {}).get("chunk_size", 1))


def policy_kind(policy) -> str:
    return "standin" if getattr(policy, "standin", False) else "vla"


class VLAServer:
    """See the module docstring. ``serve()`` blocks; ``stop()`` (any thread) ends it."""

    def __init__(self, cfg: ServerConfig, policy=None, ctx: zmq.Context | None = None):
        self.cfg = cfg
        self.policy = policy if policy is not None else load_policy(cfg.policy, cfg.task, cfg.threads)
        for attr in ("act", "reset", "model_id", "command_kind"):
            if not hasattr(self.policy, attr):
                raise TypeError(f"policy {type(self.policy).__name__} lacks {attr!r} (see wbvla.control.policy_contract.Policy)")
        self.instruction = cfg.instruction or INSTRUCTIONS[cfg.task]
        self.warmup_ms = self._warm_up(cfg.warmup_ticks)
        self.ctx = ctx or zmq.Context.instance()
        self.session: int | None = None
        self.robot_id = ""
        self.seq = 0
        self.last_obs_seq = -1
        self.estop_reason: str | None = None
        self.stop_event = threading.Event()
        self.rejected: Counter[str] = Counter()
        self.act_ms: deque[float] = deque(maxlen=100_000)
        self.tick_ms: deque[float] = deque(maxlen=100_000)
        self.answered = 0
        self._auth = None
        self._socks: dict[str, zmq.Socket] = {}
        self.security = transport.HandshakeMonitor("server")
        """Failed security handshakes (CURVE refusals) on the three sockets, logged and counted."""
        self._last_reject_log = 0.0

    def _warm_up(self, ticks: int) -> list[float]:
        """``ticks`` calls of ``act()`` on a blank 96x96 image and the default state, then
        ``reset()``; returns their times (ms). A policy that raises here is logged and served anyway:
        serving answers its failures the way it answers any failing tick (see :meth:`_answer`)."""
        times = []
        for _ in range(ticks):
            t0 = time.perf_counter()
            try:
                self.policy.act(np.zeros((96, 96, 3), np.uint8), self.instruction, default_state())
            except Exception:  # noqa: BLE001 - reported, then handled per tick while serving
                log.exception("warm-up: policy.act failed")
                break
            times.append((time.perf_counter() - t0) * 1e3)
        if ticks:
            self.policy.reset()
            log.info("warm-up: %d act() calls, %s ms", ticks, ", ".join(f"{t:.1f}" for t in times))
        return times

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self) -> VLAServer:
        """Check security (refuses a non-loopback bind without CURVE), bind the sockets."""
        link = self.cfg.link
        sec = transport.server_security(link)
        self._auth = transport.start_authenticator(self.ctx, sec)
        s = self._socks
        s["control"] = transport.socket(self.ctx, zmq.REP, sec, True, link.max_control_bytes)
        s["obs"] = transport.socket(self.ctx, zmq.PULL, sec, True, link.max_observation_bytes, conflate=True)
        s["cmd"] = transport.socket(self.ctx, zmq.PUSH, sec, True, conflate=True)
        for name, sock in s.items():
            self.security.watch(sock, name)
            sock.bind(link.endpoint(name, bind=True))
        log.info("VLA server on %s:%d-%d (%s), policy %s (%s)", link.host, link.port, link.port + 2,
                 "CURVE" if sec else "plaintext loopback", self.policy.model_id, policy_kind(self.policy))
        return self

    def stop(self) -> None:
        self.stop_event.set()

    def close(self) -> None:
        self.security.close()
        for sock in self._socks.values():
            sock.close(linger=0)
        self._socks.clear()
        if self._auth is not None:
            self._auth.stop()
            self._auth = None

    def estop(self, reason: str = "operator") -> None:
        """Latch the e-stop: only e-stop messages go to the robot from now on."""
        self.estop_reason = reason
        log.warning("E-STOP latched: %s", reason)

    # --- the loop ------------------------------------------------------------------------------
    def serve(self, duration_s: float | None = None) -> None:
        poller = zmq.Poller()
        poller.register(self._socks["control"], zmq.POLLIN)
        poller.register(self._socks["obs"], zmq.POLLIN)
        for mon in self.security.monitors:
            poller.register(mon, zmq.POLLIN)
        t_end = None if duration_s is None else time.monotonic() + duration_s
        next_estop = next_stats = time.monotonic()
        while not self.stop_event.is_set() and (t_end is None or time.monotonic() < t_end):
            events = dict(poller.poll(50))
            if self._socks["control"] in events:
                self._on_control(self._socks["control"].recv(copy=True))
            if self._socks["obs"] in events:
                self._on_observation()
            if any(mon in events for mon in self.security.monitors):
                self.security.drain()
            now = time.monotonic()
            if self.estop_reason is not None and now >= next_estop:
                self._send(EStop(self.session or 0, self._next_seq(), self.estop_reason))
                next_estop = now + 0.1
            if self.cfg.stats_every_s and now >= next_stats:
                self._log_stats()
                next_stats = now + self.cfg.stats_every_s

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def _send(self, msg) -> None:
        try:
            self._socks["cmd"].send(msgs.encode(msg), zmq.NOBLOCK)
        except zmq.Again:  # no robot connected: nothing to queue (latest-only)
            pass

    def _reject(self, reason: str, detail: str) -> None:
        self.rejected[reason] += 1
        now = time.monotonic()
        if now - self._last_reject_log > 1.0:  # at most one console line a second; all are counted
            log.warning("rejected (%s): %s [totals %s]", reason, detail[:200], dict(self.rejected))
            self._last_reject_log = now

    def _on_control(self, buf: bytes) -> None:
        self._socks["control"].send(msgs.encode(self.handle_hello(buf)))

    def handle_hello(self, buf: bytes) -> Welcome:
        """Judge a ``hello`` (any bytes); opens a new session when it is acceptable."""
        try:
            hello = msgs.decode(buf, self.cfg.link.max_control_bytes, expect=("hello",))
            reason = self._check_hello(hello)
        except ProtocolError as err:
            hello, reason = None, str(err)
        ok = not reason
        if ok:
            self.session = secrets.randbelow(msgs.INT64_MAX) + 1  # [1, 2^63 - 1]: 0 means "no session"
            self.robot_id, self.last_obs_seq = hello.robot_id, -1
            self.policy.reset()
            log.info("robot %r shook hands: session %d", hello.robot_id, self.session)
        else:
            self._reject("handshake", reason)
        return Welcome(ok, reason[:1000], self.session if ok else 0, str(self.policy.model_id), policy_kind(self.policy),
                       self.policy.command_kind, self.instruction, chunk_size_of(self.policy),
                       float(getattr(self.policy, "dt", 0.1)))

    def _check_hello(self, hello: Hello) -> str:
        if tuple(hello.joint_names) != msgs.ROBOT_JOINTS:
            return f"joint names differ from the joint table ({len(hello.joint_names)} given, {len(msgs.ROBOT_JOINTS)} expected)"
        if hello.command_kind != self.policy.command_kind:
            return f"robot takes {hello.command_kind!r} commands, policy makes {self.policy.command_kind!r}"
        if hello.model_id and hello.model_id != self.policy.model_id:
            return f"robot wants model {hello.model_id!r}, server runs {self.policy.model_id!r}"
        if self.cfg.robot_id_allow and hello.robot_id not in self.cfg.robot_id_allow:
            return f"robot id {hello.robot_id!r} is not allowed"
        return ""

    def _on_observation(self) -> None:
        sock, latest = self._socks["obs"], None
        t_rx = time.perf_counter_ns()
        while True:  # drain: only the newest observation is answered
            try:
                buf = sock.recv(zmq.NOBLOCK, copy=True)
            except zmq.Again:
                break
            obs = self.check_observation(buf)
            if obs is not None and (latest is None or obs.seq > latest.seq):
                latest = obs
        if latest is not None:
            self._answer(latest, t_rx)

    def check_observation(self, buf: bytes) -> Observation | None:
        """Decode and judge one observation (any bytes): the observation, or None (counted reason)."""
        try:
            obs = msgs.decode(buf, self.cfg.link.max_observation_bytes, expect=("obs",))
        except ProtocolError as err:
            self._reject(err.reason, err.detail)
            return None
        if self.session is None or obs.session != self.session:
            self._reject("session", f"observation of session {obs.session}, current {self.session}")
        elif obs.seq <= self.last_obs_seq:
            self._reject("not_newer", f"observation {obs.seq} <= {self.last_obs_seq}")
        else:
            return obs
        return None

    def _answer(self, obs: Observation, t_rx: int) -> None:
        self.last_obs_seq = obs.seq
        if self.estop_reason is not None:
            self._send(EStop(self.session, self._next_seq(), self.estop_reason))
            return
        t0 = time.perf_counter_ns()
        try:
            out = self.policy.act(np.asarray(obs.image), self.instruction, obs.state())
        except Exception as err:  # a policy failure costs this tick only; the robot's watchdog covers it
            self._reject("policy_error", f"{type(err).__name__}: {err}")
            log.exception("policy.act failed")
            return
        act_ms = (time.perf_counter_ns() - t0) / 1e6
        cmd = Command(self.session, self._next_seq(), obs.seq, obs.t_robot_ns, out.arm_targets, out.grippers, float(out.dt),
                      out.command, out.command_kind, act_ms, self.cfg.valid_for_s,
                      {k: tuple(int(c) for c in v) for k, v in out.latents.items()})
        self._send(cmd)
        self.answered += 1
        self.act_ms.append(act_ms)
        self.tick_ms.append((time.perf_counter_ns() - t_rx) / 1e6)

    def _log_stats(self) -> None:
        if self.act_ms:
            a = np.asarray(self.act_ms)
            t = np.asarray(self.tick_ms)
            log.info("answered %d; policy.act p50 %.2f / p99 %.2f ms; tick p50 %.2f / p99 %.2f ms; rejected %s",
                     self.answered, np.percentile(a, 50), np.percentile(a, 99), np.percentile(t, 50),
                     np.percentile(t, 99), dict(self.rejected))


def serve_in_thread(server: VLAServer) -> threading.Thread:
    """Start ``server.serve()`` in a daemon thread (tests and notebooks); ``server.stop()`` ends it."""
    th = threading.Thread(target=server.serve, name="vla-server", daemon=True)
    th.start()
    return th
