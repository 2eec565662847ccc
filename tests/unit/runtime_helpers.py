"""Shared helpers of the runtime tests: a MuJoCo-free standing backend and valid messages."""

from __future__ import annotations

import numpy as np

from wbvla.control.backend import RobotBackend, RobotState
from wbvla.runtime.messages import Command, Observation
from wbvla.sim.joints import default_pose


class StandingBackend(RobotBackend):
    """A robot that stands still in the default pose (kinematic: the runner runs no LMO)."""

    name = "standing"
    kinematic_base = True

    def __init__(self, image_shape=(32, 32)):
        self.image = np.zeros((*image_shape, 3), np.uint8)
        self.t = 0
        self.writes = 0

    def start(self) -> RobotState:
        return self.read()

    def read(self) -> RobotState:
        self.t += 1
        return RobotState(self.t, default_pose(), np.zeros(29), np.zeros(3), np.array([0.0, 0.0, -1.0]), 0.65)

    def latest_image(self):
        return self.image

    def write(self, q, u) -> None:
        self.writes += 1


def observation(seq: int = 1, session: int = 7, t_ns: int = 1_000, image=None, encoding: str = "raw") -> Observation:
    image = np.arange(24 * 32 * 3, dtype=np.uint8).reshape(24, 32, 3) if image is None else image
    return Observation(session, seq, t_ns, image, default_pose("arms"), np.zeros(14), np.full(2, 0.02), 0.65,
                       np.array([0.01, -0.02, 0.03]), np.array([0.0, 0.0, -1.0]), np.array([0.0, 1.0, 0.0, 0.6]),
                       "active", False, 3, encoding)


def command(seq: int = 1, obs_seq: int = 1, t_obs_ns: int = 1_000, session: int = 7, h: int = 4,
            flags=(1.0, 0.0, 0.0), height: float = 0.6) -> Command:
    arm = np.tile(default_pose("arms"), (h, 1))
    arm[:, 0] += np.linspace(0.0, 0.1, h)
    grip = np.full((h, 2), 0.02)
    return Command(session, seq, obs_seq, t_obs_ns, arm, grip, 0.1, np.array([*flags, height]), "flags", 12.5, 0.25,
                   {"mani": (3,), "loco": (11,)})


class FakeServer:
    """The server's three sockets on loopback, driven by the test: welcomes every hello with
    ``session``, keeps the newest observation, pushes whatever the test sends."""

    def __init__(self, ctx, port: int, session: int = 77):
        import zmq

        from wbvla.runtime import messages as msgs

        self._zmq, self._msgs = zmq, msgs
        self.rep, self.pull, self.push = ctx.socket(zmq.REP), ctx.socket(zmq.PULL), ctx.socket(zmq.PUSH)
        for s in (self.rep, self.pull, self.push):
            s.linger = 0
        self.pull.setsockopt(zmq.CONFLATE, 1)
        self.rep.bind(f"tcp://127.0.0.1:{port}")
        self.pull.bind(f"tcp://127.0.0.1:{port + 1}")
        self.push.bind(f"tcp://127.0.0.1:{port + 2}")
        self.session = session
        self.hellos = 0

    def serve_hellos(self) -> None:
        while self.rep.poll(0):
            self.rep.recv()
            self.rep.send(self._msgs.encode(self._msgs.Welcome(True, "", self.session, "fake", "standin", "flags", "x", 4, 0.1)))
            self.hellos += 1

    def next_observation(self, timeout_s: float = 10.0):
        """The next observation (answering hellos while waiting), or None on timeout."""
        import time

        t_end = time.monotonic() + timeout_s
        while time.monotonic() < t_end:
            self.serve_hellos()
            if self.pull.poll(20):
                return self._msgs.decode(self.pull.recv(), 1 << 22, expect=("obs",))
        return None

    def send(self, buf: bytes) -> None:
        self.push.send(buf)

    def close(self) -> None:
        for s in (self.rep, self.pull, self.push):
            s.close(linger=0)
