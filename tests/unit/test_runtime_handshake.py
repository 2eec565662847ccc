"""The re-handshake after a silence happens exactly once, however the welcome lands against the
ticks (issue 19: a welcome arriving mid-tick was followed by a second handshake 0.5 s later,
while commands flowed). Deterministic: the runner's clock is a counter and the handshake
thread's turn is called by the test at a chosen point of a tick (before it, inside the backend's
read or write, after it), so 200 cycles take seconds, without a sleep."""

from __future__ import annotations

import numpy as np
import zmq
from runtime_helpers import StandingBackend, command

from wbvla.runtime import messages as msgs
from wbvla.runtime.config import LinkConfig, RunnerConfig
from wbvla.runtime.link import RobotLink
from wbvla.runtime.messages import Welcome
from wbvla.runtime.runner import RobotRunner

PHASES = ("before_tick", "in_read", "in_write", "after_tick")
CYCLES = 200


class HookedBackend(StandingBackend):
    """Calls ``hooks[name]()`` (once) when the runner reads or writes: a point inside a tick."""

    def __init__(self):
        super().__init__((16, 16))
        self.hooks: dict = {}

    def _fire(self, name: str) -> None:
        hook = self.hooks.pop(name, None)
        if hook is not None:
            hook()

    def read(self):
        self._fire("in_read")
        return super().read()

    def write(self, q, u) -> None:
        super().write(q, u)
        self._fire("in_write")


def test_a_welcome_timed_against_the_ticks_never_causes_a_second_handshake():
    rng = np.random.default_rng(0)
    now = [10**9]
    period = 20_000_000
    sessions = iter(range(1, 10**6))

    def attempt() -> Welcome:  # the server: accepts at once with a new session
        return Welcome(True, "", next(sessions), "fake", "standin", "flags", "x", 4, 0.1)

    links: list[RobotLink] = []

    def factory(*args, **kw):
        links.append(RobotLink(*args, **kw, attempt=attempt, thread=False))
        return links[-1]

    ctx = zmq.Context()
    backend = HookedBackend()
    cfg = RunnerConfig(link=LinkConfig(port=5995))
    runner = RobotRunner(cfg, backend, None, ctx=ctx, link_factory=factory)
    runner.clock = lambda: now[0]
    runner.start()
    link = links[0]
    quiet_s = max(cfg.rehandshake_s, cfg.safety.hold_after_s)
    seq = 0

    def tick(respond: bool, thread_turn: bool = True) -> None:
        nonlocal seq
        if "before_tick" in backend.hooks:
            backend.hooks.pop("before_tick")()
        now[0] += period
        runner.tick(now[0])
        if "after_tick" in backend.hooks:
            backend.hooks.pop("after_tick")()
        sent = runner.gate.sent
        if respond and sent:  # the server answers the newest observation 5 ms later
            obs_seq, t_obs = next(reversed(sent.items()))
            if obs_seq > runner.gate.last_obs_seq:
                seq += 1
                cmd = command(seq=seq, obs_seq=obs_seq, t_obs_ns=t_obs, session=runner.gate.session)
                assert runner.on_command_bytes(msgs.encode(cmd), now[0] + 5_000_000) == "accepted"
        if thread_turn:  # the handshake thread's turn (it waits retry_s between turns in real life)
            link.handshake_step()

    try:
        link.handshake_step()  # the first handshake, at start
        for cycle in range(CYCLES):
            for _ in range(50):  # 1 s of commands flowing
                tick(respond=True)
            assert runner.sup.mode == "active"
            # silence: the server stops answering; the runner asks for a handshake once it is quiet too long
            t_silent = now[0]
            while not link.want_handshake.is_set():
                tick(respond=False, thread_turn=False)
                assert now[0] - t_silent < (quiet_s + 0.1) * 1e9
            # the welcome lands at a random point of one of the next ticks
            phase = PHASES[cycle % len(PHASES)]
            for _ in range(int(rng.integers(0, 3))):
                now[0] += period
                runner.tick(now[0])
            backend.hooks[phase] = link.handshake_step
            tick(respond=False)
            assert (link.pending is None) == (phase == "before_tick")  # adopted at a tick's start only
            tick(respond=False)  # adopted at this tick at the latest
            assert runner.gate.session == link.last_welcome.session and not link.want_handshake.is_set(), phase
        for _ in range(50):
            tick(respond=True)
    finally:
        runner.close()
        ctx.destroy(linger=0)
    handshakes = [e for e in runner.log.events if e[1] == "handshake"]
    assert link.attempts == CYCLES + 1, f"{link.attempts - CYCLES - 1} extra handshakes"
    assert len(handshakes) == CYCLES + 1 and runner.accepted >= 9 * CYCLES  # ~10 commands per second of flow
    assert dict(runner.rejected) == {}


def test_no_handshake_is_requested_while_a_welcome_waits_or_right_after_one():
    now = [5 * 10**9]
    link = RobotLink(LinkConfig(port=5996), msgs.Hello("r", msgs.ROBOT_JOINTS, "flags"), 0.5, 0.5, zmq.Context.instance(),
                     clock=lambda: now[0], attempt=lambda: Welcome(True, "", 9, "m", "standin", "flags", "x", 4, 0.1),
                     thread=False)
    try:
        assert link.handshake_step().session == 9 and link.pending is not None
        now[0] += 10**9
        assert not link.request_handshake(now[0], 0, 0.5)  # the welcome waits: never ask again
        assert link.take_welcome().session == 9
        assert not link.request_handshake(now[0] - 6 * 10**8, 0, 0.5)  # 0.4 s after the welcome
        assert link.request_handshake(now[0], 0, 0.5) and link.want_handshake.is_set()  # 1 s after it
        assert link.attempts == 1
    finally:
        link.close()


def test_a_request_is_withdrawn_when_the_session_speaks_before_the_attempt_but_not_during_one():
    now = [5 * 10**9]
    during: list[bool] = []

    def attempt():
        during.append(link.request_handshake(now[0], now[0], 0.5))  # the session speaks while the hello is out
        return Welcome(True, "", 10 + len(during), "m", "standin", "flags", "x", 4, 0.1)

    link = RobotLink(LinkConfig(port=5997), msgs.Hello("r", msgs.ROBOT_JOINTS, "flags"), 0.5, 0.5, zmq.Context.instance(),
                     clock=lambda: now[0], attempt=attempt, thread=False)
    try:
        link.handshake_step()
        link.take_welcome()
        now[0] += 10**9
        assert link.request_handshake(now[0], 0, 0.5)  # quiet for 1 s: asked
        assert not link.request_handshake(now[0], now[0], 0.5)  # a command arrived before the thread's turn
        assert not link.want_handshake.is_set() and link.handshake_step() is None and link.attempts == 1
        assert link.request_handshake(now[0] + 10**9, now[0], 0.5)  # quiet again: asked again
        assert link.handshake_step().session == 12 and during == [False, False]  # an attempt in flight completes
        assert link.attempts == 2 and not link.want_handshake.is_set()
    finally:
        link.close()
