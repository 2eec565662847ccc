"""A fault-injecting proxy between the VLA server and the robot runner (loopback, for tests).

The robot connects to the proxy's three ports as if it were the server; the proxy forwards the
handshake and observations untouched and passes commands through a fault model: drop,
duplicate, delay (fixed + jitter), reorder (hold one message back until the next has passed),
corrupt (flip a byte); plus two switches: ``cut`` drops every command, ``freeze`` replaces every
command by a copy of the last one forwarded (a stuck sender). It runs in one thread with a
poller; a seeded RNG makes a campaign repeatable.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import Counter
from dataclasses import dataclass, replace

import numpy as np
import zmq

from wbvla.runtime.config import LinkConfig
from wbvla.validation import in_range, positive


@dataclass
class Faults:
    """Per-command fault probabilities and delays."""

    drop: float = 0.0
    """Probability a command is dropped."""
    duplicate: float = 0.0
    """Probability a command is sent twice."""
    reorder: float = 0.0
    """Probability a command is held back and sent after the next one."""
    corrupt: float = 0.0
    """Probability one byte of a command is flipped."""
    delay_s: float = 0.0
    """Fixed delay added to every command (s)."""
    jitter_s: float = 0.0
    """Extra uniform random delay in [0, jitter_s] (s)."""
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("drop", "duplicate", "reorder", "corrupt"):
            in_range(name, getattr(self, name), 0.0, 1.0)
        positive("delay_s", self.delay_s, allow_zero=True)
        positive("jitter_s", self.jitter_s, allow_zero=True)


class FaultProxy:
    """Forwards control and observations, and commands through :class:`Faults` (see the module docstring)."""

    def __init__(self, server: LinkConfig, robot_port: int, faults: Faults | None = None, ctx: zmq.Context | None = None):
        if not server.loopback or server.curve_dir is not None:
            raise ValueError("the fault proxy is for plaintext loopback tests only")
        self.server, self.faults = server, faults or Faults()
        self.robot_link = replace(server, port=robot_port)
        self.ctx = ctx or zmq.Context.instance()
        self.rng = np.random.default_rng(self.faults.seed)
        self.counts: Counter[str] = Counter()
        self.cut = threading.Event()
        """While set, every command is dropped (the server seems silent to the robot)."""
        self.freeze = threading.Event()
        """While set, each command is replaced by a copy of the last one forwarded before (duplicates only)."""
        self._last: bytes | None = None
        self._stop = threading.Event()
        self._queue: list[tuple[float, int, bytes]] = []
        self._tie = itertools.count()
        self._held: bytes | None = None
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)
        self._ready = threading.Event()

    def start(self) -> FaultProxy:
        self._thread.start()
        self._ready.wait(5.0)
        return self

    def set_faults(self, faults: Faults) -> None:
        self.faults = faults

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)

    def _run(self) -> None:
        ctx, s, r = self.ctx, self.server, self.robot_link
        sock = {"ctl_front": ctx.socket(zmq.ROUTER), "ctl_back": ctx.socket(zmq.DEALER),
                "obs_front": ctx.socket(zmq.PULL), "obs_back": ctx.socket(zmq.PUSH),
                "cmd_back": ctx.socket(zmq.PULL), "cmd_front": ctx.socket(zmq.PUSH)}
        for k in sock.values():
            k.linger = 0
        sock["ctl_front"].bind(r.endpoint("control", bind=True))
        sock["obs_front"].bind(r.endpoint("obs", bind=True))
        sock["cmd_front"].bind(r.endpoint("cmd", bind=True))
        sock["ctl_back"].connect(s.endpoint("control"))
        sock["obs_back"].connect(s.endpoint("obs"))
        sock["cmd_back"].connect(s.endpoint("cmd"))
        poller = zmq.Poller()
        for name in ("ctl_front", "ctl_back", "obs_front", "cmd_back"):
            poller.register(sock[name], zmq.POLLIN)
        self._ready.set()
        try:
            while not self._stop.is_set():
                timeout = 5 if self._queue else 50
                for k, _ in poller.poll(timeout):
                    if k is sock["ctl_front"]:
                        sock["ctl_back"].send_multipart(k.recv_multipart())
                    elif k is sock["ctl_back"]:
                        sock["ctl_front"].send_multipart(k.recv_multipart())
                    elif k is sock["obs_front"]:
                        self._forward(sock["obs_back"], k.recv())
                    else:
                        self._on_command(k.recv())
                self._release(sock["cmd_front"])
        finally:
            for k in sock.values():
                k.close(linger=0)

    @staticmethod
    def _forward(out: zmq.Socket, buf: bytes) -> None:
        try:
            out.send(buf, zmq.NOBLOCK)
        except zmq.Again:
            pass

    def _on_command(self, buf: bytes) -> None:
        f, rng = self.faults, self.rng
        self.counts["received"] += 1
        if self.cut.is_set():
            self.counts["cut"] += 1
            return
        if self.freeze.is_set():
            if self._last is not None:
                heapq.heappush(self._queue, (time.monotonic(), next(self._tie), self._last))
                self.counts["frozen"] += 1
            return
        self._last = buf
        if rng.random() < f.drop:
            self.counts["dropped"] += 1
            return
        if rng.random() < f.corrupt and buf:
            b = bytearray(buf)
            b[int(rng.integers(len(b)))] ^= 1 << int(rng.integers(8))
            buf = bytes(b)
            self.counts["corrupted"] += 1
        copies = 2 if rng.random() < f.duplicate else 1
        self.counts["duplicated"] += copies - 1
        if self._held is None and rng.random() < f.reorder:
            self._held = buf  # goes out right after the next command
            self.counts["reordered"] += 1
            return
        delay = f.delay_s + (rng.uniform(0.0, f.jitter_s) if f.jitter_s else 0.0)
        due = time.monotonic() + delay
        for _ in range(copies):
            heapq.heappush(self._queue, (due, next(self._tie), buf))
        if self._held is not None:
            heapq.heappush(self._queue, (due, next(self._tie), self._held))
            self._held = None

    def _release(self, out: zmq.Socket) -> None:
        now = time.monotonic()
        while self._queue and self._queue[0][0] <= now:
            _, _, buf = heapq.heappop(self._queue)
            self._forward(out, buf)
            self.counts["forwarded"] += 1
