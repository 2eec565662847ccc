"""Every number a peer sends is bounded by what the receiver stores (ints are int64): a value
beyond its bounds is refused with ``field_range``, and one such message (``seq = 2^63`` or
``2^64 - 1``, once enough to kill the runner) never stops the runner, with or without a log path.
A chunk's row count and row time come back as ``chunk_size`` / ``chunk_dt``."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import msgpack
import numpy as np
import pytest
import zmq
from runtime_helpers import FakeServer, StandingBackend, command, observation

from wbvla.control.backend import RecordingBackend
from wbvla.runtime import messages as msgs
from wbvla.runtime.config import LinkConfig, RunnerConfig
from wbvla.runtime.link import wait_for
from wbvla.runtime.messages import EStop, Welcome
from wbvla.runtime.runner import RobotRunner, save_log
from wbvla.runtime.wire import ProtocolError

MAX = 1 << 20
REPO = Path(__file__).resolve().parents[2]
VALID = {"welcome": Welcome(True, "", 123, "m", "standin", "flags", "x", 8, 0.1), "obs": observation(),
         "cmd": command(), "estop": EStop(5, 9, "operator")}
BOUNDED = [(kind, name, lo, hi) for kind, fields in msgs.FIELD_BOUNDS.items() for name, (lo, hi) in fields.items()]
BEYOND_INT64 = (2**63, 2**64 - 1)


def _with(kind: str, **values) -> bytes:
    m = msgpack.unpackb(msgs.encode(VALID[kind]))
    m.update(values)
    return msgpack.packb(m)


def _reason(buf: bytes) -> str | None:
    try:
        msgs.decode(buf, MAX)
    except ProtocolError as err:
        return err.reason
    return None


@pytest.mark.parametrize("kind, name, lo, hi", BOUNDED, ids=[f"{k}.{n}" for k, n, _, _ in BOUNDED])
def test_every_bounded_field_takes_its_bounds_and_refuses_beyond_them(kind, name, lo, hi):
    for v in (lo, hi):
        assert getattr(msgs.decode(_with(kind, **{name: v}), MAX), name) == v
    if type(lo) is int:
        assert hi <= msgs.INT64_MAX  # what an int64 store holds
        beyond = [lo - 1, hi + 1, *(b for b in BEYOND_INT64 if b > hi)]
    else:
        beyond = [math.nextafter(lo, -math.inf), math.nextafter(hi, math.inf)]
    for v in beyond:
        assert _reason(_with(kind, **{name: v})) == "field_range", (name, v)


def test_ints_beyond_int64_are_refused_in_every_int_field_of_a_command():
    for name in ("session", "seq", "obs_seq", "obs_t_robot_ns"):
        for v in (*BEYOND_INT64, -1, -(2**63)):
            assert _reason(_with("cmd", **{name: v})) == "field_range", (name, v)


def _runner(port: int, ctx) -> tuple[RobotRunner, RecordingBackend]:
    cfg = RunnerConfig(link=LinkConfig(port=port))
    backend = RecordingBackend(StandingBackend(), cfg.safety, cfg.period_s)
    return RobotRunner(cfg, backend, None, ctx=ctx), backend


def test_chunk_length_and_row_time_are_refused_with_their_own_codes():
    runner, _ = _runner(5975, None)
    runner._link_enabled = False
    now = [10**9]
    runner.clock = lambda: now[0]
    runner.start()
    runner.gate.new_session(7)
    cases = [({"h": 0}, {}, "chunk_size"), ({"h": msgs.MAX_CHUNK + 1}, {}, "chunk_size"),
             ({}, {"dt": 0.0}, "chunk_dt"), ({}, {"dt": 0.019}, "chunk_dt"), ({}, {"dt": 0.51}, "chunk_dt"),
             ({}, {"dt": 1e9}, "chunk_dt"), ({"h": msgs.MAX_CHUNK}, {"dt": 0.5}, "accepted")]
    for seq, (shape, fields, want) in enumerate(cases, start=1):
        runner.gate.record_sent(seq, now[0])
        cmd = command(seq=seq, obs_seq=seq, t_obs_ns=now[0], **shape)
        for k, v in fields.items():
            setattr(cmd, k, v)
        assert runner.on_command_bytes(msgs.encode(cmd), now[0]) == want, (shape, fields)
    runner.close()


def _answer(fake: FakeServer, seq: int, timeout_s: float = 10.0) -> None:
    obs = fake.next_observation(timeout_s)
    assert obs is not None, "the runner sent no observation"
    fake.send(msgs.encode(command(seq=seq, obs_seq=obs.seq, t_obs_ns=obs.t_robot_ns, session=fake.session)))


def test_seq_beyond_int64_is_refused_and_the_runner_keeps_running_in_process(tmp_path):
    ctx = zmq.Context()
    fake = FakeServer(ctx, 5976)
    runner, backend = _runner(5976, ctx)
    stop = threading.Event()
    errors = []

    def loop():
        try:
            runner.run(None, stop=stop)
        except BaseException as err:  # what the bug did: the loop thread died
            errors.append(err)

    th = threading.Thread(target=loop, daemon=True)
    th.start()
    try:
        for i, seq in enumerate(BEYOND_INT64, start=1):
            _answer(fake, seq)
            assert wait_for(lambda i=i: runner.rejected["field_range"] == i, 5.0), dict(runner.rejected)
        _answer(fake, 1)  # a valid command after them is followed
        assert wait_for(lambda: runner.accepted == 1, 5.0), dict(runner.rejected)
        ticks = runner.log.n
        assert wait_for(lambda: runner.log.n > ticks + 10, 5.0) and th.is_alive() and not errors
    finally:
        stop.set()
        th.join(timeout=5)
        fake.close()
        runner.close()
        ctx.destroy(linger=0)
    assert not errors, errors
    save_log(runner, tmp_path / "log.npz")
    with np.load(tmp_path / "log.npz") as z:
        assert z["cmd_seq"].max() == 1 and z["cmd_seq"].dtype == np.int64
        assert str(z["events"]).count("field_range") == 2
    assert backend.violations == []


@pytest.mark.parametrize("log_path", [True, False], ids=["with_log_path", "without_log_path"])
def test_seq_beyond_int64_never_kills_the_runner_process(tmp_path, log_path):
    """The deployed script (deploy/robot_runner.py on the sim twin), as the issue found it."""
    port = 5980 if log_path else 5984
    ctx = zmq.Context()
    fake = FakeServer(ctx, port)
    log = tmp_path / "runner.npz"
    cmd = [sys.executable, str(REPO / "deploy" / "robot_runner.py"), "sim-ideal-base", "--config.link.port", str(port),
           "--config.sim.image-size", "32", "32", "--duration-s", "120", *(["--log-path", str(log)] if log_path else [])]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl"), "PYTHONUNBUFFERED": "1"})
    try:
        for i, seq in enumerate(BEYOND_INT64):
            _answer(fake, seq, 120.0 if i == 0 else 10.0)  # start-up (scene, handshake) is slow on a loaded CPU
        _answer(fake, 1)
        fake.next_observation(timeout_s=2.0)  # observations keep coming: the loop runs on
        assert proc.poll() is None, proc.communicate()[0][-3000:]
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
        fake.close()
        ctx.destroy(linger=0)
    assert proc.returncode == 0, out[-3000:]
    assert "Traceback" not in out and "'field_range': 2" in out and "accepted 1," in out, out[-3000:]
    if log_path:
        with np.load(log) as z:
            assert z["cmd_seq"].max() == 1 and str(z["events"]).count("field_range") == 2
