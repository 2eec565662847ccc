"""Fuzzing: >= 10,000 malformed messages -> no crash, each refused with a reason, nothing out of
range reaches the actuators; plus smaller socket-level runs against both ends."""

from __future__ import annotations

import time

import numpy as np
import pytest
import zmq
from runtime_helpers import StandingBackend, observation

from wbvla.control.backend import RecordingBackend
from wbvla.runtime import messages as msgs
from wbvla.runtime.config import LinkConfig, RunnerConfig, ServerConfig
from wbvla.runtime.fuzz import (
    CATEGORIES,
    fuzz_runner,
    malformed_command,
    malformed_observation,
    valid_command,
)
from wbvla.runtime.link import wait_for
from wbvla.runtime.messages import Welcome
from wbvla.runtime.runner import RobotRunner
from wbvla.runtime.server import VLAServer

N_FUZZ = 10_000


def make_runner(port: int = 5900, link: bool = False, **kw) -> tuple[RobotRunner, RecordingBackend]:
    cfg = RunnerConfig(link=LinkConfig(port=port), **kw)
    backend = RecordingBackend(StandingBackend(), cfg.safety, cfg.period_s)
    return RobotRunner(cfg, backend, None, link=link), backend


def test_ten_thousand_malformed_commands_no_crash_each_refused_nothing_out_of_range():
    runner, backend = make_runner()
    res = fuzz_runner(runner, N_FUZZ, seed=0)
    assert res.messages >= N_FUZZ
    assert res.crashes == 0, res.crash_examples
    assert res.accepted_malformed == 0
    assert sum(res.reasons.values()) == res.messages  # every one refused with a reason ...
    rejects = [e for e in runner.log.events if e[1] == "reject"]
    assert len(rejects) == res.messages  # ... that the runner's event log holds
    assert set(res.by_category) == set(CATEGORIES)
    for reason in ("not_msgpack", "too_large", "bad_field", "field_range", "non_finite", "bad_schema", "version",
                   "unexpected_type", "out_of_range", "chunk_size", "chunk_dt", "session", "unknown_obs",
                   "timestamp_mismatch", "not_newer", "stale"):
        assert res.reasons[reason] > 0, reason
    # the robot kept following the valid commands in between, and the actuators saw no violation
    assert res.valid_accepted == res.valid_sent and runner.sup.mode == "active"
    assert backend.writes and backend.violations == [] and backend.out_of_range_sent == 0


def test_out_of_range_chunk_inside_the_tolerance_is_clamped_before_the_actuators():
    runner, backend = make_runner()
    now = [10**9]
    runner.clock = lambda: now[0]
    runner.start()
    runner.gate.new_session(1)
    runner.gate.record_sent(1, now[0])
    cmd = valid_command(1, 1, 1, now[0], np.random.default_rng(0))
    cmd.arm[:, 3] = 0.049  # elbow upper limit is 0.0: within the 0.05 rad tolerance
    assert runner.on_command_bytes(msgs.encode(cmd), now[0]) == "accepted"
    for _ in range(200):
        now[0] += 20_000_000
        runner.tick(now[0])
    q = np.array([w[0] for w in backend.writes])
    assert q[:, 13 + 3].max() <= 0.0 and backend.violations == []


def test_malformed_observations_and_hellos_never_break_the_server():
    server = VLAServer(ServerConfig(link=LinkConfig(port=5905), stats_every_s=0, policy="standin:bag_packing"))
    rng = np.random.default_rng(1)
    good_hello = msgs.encode(msgs.Hello("r", msgs.ROBOT_JOINTS, "flags", "", "raw", (24, 32, 3)))
    assert server.handle_hello(good_hello).accepted
    valid = msgs.encode(observation(session=server.session))
    for _ in range(2000):
        assert server.check_observation(malformed_observation(valid, rng, server.cfg.link.max_observation_bytes)) is None
        w = server.handle_hello(good_hello[: int(rng.integers(len(good_hello)))])
        assert not w.accepted and w.reason
    assert sum(server.rejected.values()) >= 4000
    bad_joints = msgs.encode(msgs.Hello("r", msgs.ROBOT_JOINTS[::-1], "flags", "", "raw", (24, 32, 3)))
    assert "joint names" in server.handle_hello(bad_joints).reason
    assert "wants model" in server.handle_hello(msgs.encode(msgs.Hello("r", msgs.ROBOT_JOINTS, "flags", "vla-7b", "raw", (8, 8, 3)))).reason


class RogueServer:
    """Answers every hello with a welcome for ``session`` and pushes whatever the test sends."""

    def __init__(self, ctx, port: int, session: int):
        self.rep, self.push = ctx.socket(zmq.REP), ctx.socket(zmq.PUSH)
        for s in (self.rep, self.push):
            s.linger = 0
        self.rep.bind(f"tcp://127.0.0.1:{port}")
        self.push.bind(f"tcp://127.0.0.1:{port + 2}")
        self.welcome = msgs.encode(Welcome(True, "", session, "rogue", "standin", "flags", "x", 8, 0.1))
        self.hellos = 0

    def serve_hellos(self) -> None:
        while self.rep.poll(0):
            self.rep.recv()
            self.rep.send(self.welcome)
            self.hellos += 1

    def send(self, buf: bytes) -> bool:
        try:
            self.push.send(buf, zmq.NOBLOCK)
            return True
        except zmq.Again:  # the runner dropped the connection (oversized message): it re-handshakes
            return False


def test_socket_level_fuzz_of_the_runner():
    ctx = zmq.Context()
    port = 5910
    rogue = RogueServer(ctx, port, session=77)
    runner, backend = make_runner(port=port, link=True)
    runner.start()
    rng = np.random.default_rng(2)
    valid = valid_command(77, 1, 1, 0, rng)
    cats = [c for c in CATEGORIES if c not in ("stale", "oversized")]  # stale needs the harness's clock
    sent, t_end = 0, time.monotonic() + 60
    i = 0
    try:
        while sent < 400 and time.monotonic() < t_end:
            rogue.serve_hellos()
            if runner.gate.session is not None:
                cat = "oversized" if i in (100, 250) else cats[i % len(cats)]  # each oversized one costs a re-handshake
                i += 1
                sent += rogue.send(malformed_command(valid, rng, runner.cfg.link.max_command_bytes, cat)[1])
            runner.wait_until(runner.clock() + 5_000_000)  # the loop's own wait receives and judges them
            runner.tick(runner.clock())
        seen = sum(runner.rejected.values()) + runner.accepted
        reconnects = runner.link.reconnects
    finally:
        runner.close()
        ctx.destroy(linger=0)
    # conflation drops some; an oversized message costs the connection until the re-handshake
    assert sent >= 400 and seen >= 100 and runner.accepted == 0, (sent, seen, dict(runner.rejected))
    assert reconnects >= 1 and rogue.hellos >= 2
    assert backend.violations == []


@pytest.mark.parametrize("port", [5920])
def test_socket_level_fuzz_of_the_server_then_a_real_robot_still_works(port):
    from wbvla.runtime.server import serve_in_thread

    server = VLAServer(ServerConfig(link=LinkConfig(port=port), stats_every_s=0, policy="standin:bag_packing")).start()
    th = serve_in_thread(server)
    ctx = zmq.Context()
    rng = np.random.default_rng(3)
    try:
        obs_push = ctx.socket(zmq.PUSH)
        obs_push.linger = 0
        obs_push.connect(f"tcp://127.0.0.1:{port + 1}")
        valid = msgs.encode(observation())
        for _ in range(500):
            obs_push.send(malformed_observation(valid, rng, server.cfg.link.max_observation_bytes))
        for _ in range(30):  # malformed hellos get a refusal, never silence
            req = ctx.socket(zmq.REQ)
            req.linger = 0
            req.connect(f"tcp://127.0.0.1:{port}")
            req.send(rng.integers(0, 256, int(rng.integers(1, 300)), dtype=np.uint8).tobytes())
            assert req.poll(5000)
            assert not msgs.decode(req.recv(), 1 << 16).accepted
            req.close()
        obs_push.close()
        assert wait_for(lambda: sum(server.rejected.values()) >= 30, 10)
        runner, backend = make_runner(port=port, link=True)
        runner.run(2.0)
        assert runner.accepted > 5 and backend.violations == [], (dict(runner.rejected), dict(server.rejected))
        runner.close()
    finally:
        server.stop()
        th.join()
        server.close()
        ctx.destroy(linger=0)
