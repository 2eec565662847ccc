"""Malformed messages for fuzzing both ends of the link, and the in-process fuzz harness.

:func:`malformed_command` derives one broken message from a valid command: truncated, oversized,
random bytes, deeply nested, msgpack ext types, wrong types, NaN/inf, wrong dtype/shape/length,
missing/extra keys, wrong version/type, out-of-range targets, chunks of a refused length or row
time, ints beyond int64 (or negative), and well-formed commands that break a rule (wrong session,
unknown or re-timed observation, duplicate, stale). Every one of them must
be refused. :func:`fuzz_runner` fires them at a runner (``link=False``) between control ticks and
valid commands, on a fake clock, and counts crashes, reasons and what reached the actuators.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import msgpack
import numpy as np

from wbvla.runtime import messages as msgs
from wbvla.runtime.messages import Command
from wbvla.sim.joints import default_pose, limits

CATEGORIES = ("truncated", "oversized", "random_bytes", "deep_nesting", "ext_type", "wrong_type", "nan_inf",
              "wrong_dtype", "wrong_shape", "wrong_length", "missing_key", "extra_key", "version", "msg_type",
              "out_of_range", "flags", "height", "chunk_size", "chunk_dt", "int_bounds", "session", "unknown_obs",
              "timestamp", "duplicate", "stale")
_BEYOND_INT64 = (2**63, 2**63 + 1, 2**64 - 1, -1, -(2**63))
"""Ints msgpack carries that no field may hold (fields are int64 and non-negative)."""
_WRONG_VALUES = ("x", b"\x00", [1, 2], {"a": 1}, None, True, 1.5, -1, 2**64 - 1)


def valid_command(session: int, seq: int, obs_seq: int, t_obs_ns: int, rng: np.random.Generator, h: int = 8) -> Command:
    """A command every check accepts: arm targets inside their ranges, flags in {-1, 0, 1}."""
    lo, hi = limits("arms")
    arm = np.clip(default_pose("arms") + rng.normal(0.0, 0.2, (h, 14)), lo, hi)
    grip = rng.uniform(0.0, 0.04, (h, 2))
    u = np.array([*rng.integers(-1, 2, 3), rng.uniform(0.54, 0.65)], float)
    return Command(session, seq, obs_seq, t_obs_ns, arm, grip, 0.1, u, "flags", 5.0, 0.25,
                   {"mani": (int(rng.integers(32)),), "loco": (int(rng.integers(32)),)})


def _array_field(m: dict, rng) -> str:
    return str(rng.choice(["arm", "grippers", "command"]))


def malformed_command(valid: Command, rng: np.random.Generator, max_bytes: int, category: str | None = None,
                      stale_obs: tuple[int, int] | None = None) -> tuple[str, bytes]:
    """One broken message derived from ``valid`` (see the module docstring) and its category.

    ``stale`` needs ``stale_obs = (obs_seq, t_ns)``: an observation the robot sent too long ago
    that no command has answered yet (the harness makes one)."""
    cat = category or str(rng.choice(CATEGORIES))
    good = msgs.encode(valid)
    m = msgpack.unpackb(good)
    keys = [k for k in m if k not in ("v", "type")]
    if cat == "truncated":
        return cat, good[: int(rng.integers(0, len(good)))]
    if cat == "oversized":
        m["pad"] = b"\0" * (max_bytes + int(rng.integers(1, 1024)))
        return cat, msgpack.packb(m)
    if cat == "random_bytes":
        return cat, rng.integers(0, 256, int(rng.integers(0, 2048)), dtype=np.uint8).tobytes()
    if cat == "deep_nesting":
        depth = int(rng.integers(100, 5000))
        return cat, b"\x81\xa1v" + b"\x91" * depth + b"\x00"  # {"v": [[[...0]]]}
    if cat == "ext_type":
        m[str(rng.choice(keys))] = msgpack.ExtType(int(rng.integers(0, 127)), b"\x01\x02")
    elif cat == "wrong_type":
        k = str(rng.choice(keys))
        value = _WRONG_VALUES[int(rng.integers(len(_WRONG_VALUES)))]
        if type(value) is type(m[k]) or (isinstance(m[k], float) and type(value) is int):
            value = {"nested": [value]}  # the same type would not be wrong
        m[k] = value
    elif cat == "nan_inf":
        bad = float(rng.choice([math.nan, math.inf, -math.inf]))
        if rng.random() < 0.5:
            m[str(rng.choice(["dt", "inference_ms", "valid_for_s"]))] = bad
        else:
            f = _array_field(m, rng)
            a = np.frombuffer(m[f]["data"], "<f4").copy()
            a[int(rng.integers(a.size))] = bad
            m[f]["data"] = a.tobytes()
    elif cat == "wrong_dtype":
        f = _array_field(m, rng)
        m[f]["dtype"] = str(rng.choice(["<f8", ">f4", "|u1", "<i4", "O", "float32", ""]))
    elif cat == "wrong_shape":
        f = _array_field(m, rng)
        shape = list(m[f]["shape"])
        shape[int(rng.integers(len(shape)))] += int(rng.choice([-1, 1, 100]))
        m[f]["shape"] = shape if rng.random() < 0.8 else shape + [1]
    elif cat == "wrong_length":
        f = _array_field(m, rng)
        d = m[f]["data"]
        m[f]["data"] = d[: int(rng.integers(0, len(d)))] if rng.random() < 0.5 else d + b"\0" * int(rng.integers(1, 64))
    elif cat == "missing_key":
        del m[str(rng.choice([*keys, "v", "type"]))]
    elif cat == "extra_key":
        m[str(rng.choice(["extra", "cmd", "sessions", "pickle"]))] = 1
    elif cat == "version":
        m["v"] = int(rng.choice([0, 2, 99, -1]))
    elif cat == "msg_type":
        m["type"] = str(rng.choice(["obs", "hello", "welcome", "CMD", ""]))
    elif cat == "int_bounds":  # beyond what an int64 store holds, or negative
        m[str(rng.choice(["session", "seq", "obs_seq", "obs_t_robot_ns"]))] = _BEYOND_INT64[int(rng.integers(len(_BEYOND_INT64)))]
    elif cat in ("out_of_range", "flags", "height", "chunk_size", "chunk_dt"):
        c = Command(**{**valid.__dict__})
        c.seq = valid.seq + 1  # newer than the last accepted, so the range checks are reached
        lo, hi = limits("arms")
        if cat == "chunk_size":  # no rows, or more than MAX_CHUNK (well within the size limit)
            h = 0 if rng.random() < 0.3 else int(rng.integers(msgs.MAX_CHUNK + 1, 3 * msgs.MAX_CHUNK))
            c.arm = np.resize(valid.arm, (h, 14))
            c.grippers = np.resize(valid.grippers, (h, 2))
        elif cat == "chunk_dt":
            c.dt = float(rng.choice([0.0, -0.1, 0.005, 0.019, 0.51, 3.0, 1e9]))
        elif cat == "out_of_range":
            j, r = int(rng.integers(14)), int(rng.integers(c.arm.shape[0]))
            c.arm = c.arm.copy()
            c.arm[r, j] = (hi[j] + 0.06 + rng.exponential(1.0)) if rng.random() < 0.5 else (lo[j] - 0.06 - rng.exponential(1.0))
        elif cat == "flags":
            c.command = c.command.copy()
            c.command[int(rng.integers(3))] = float(rng.choice([0.5, -0.3, 2.0, -1.5]))
        else:
            c.command = c.command.copy()
            c.command[3] = float(rng.choice([0.3, 0.7, 0.0, 1.5]))
        return cat, msgs.encode(c)
    else:  # well-formed commands that break an acceptance rule
        c = Command(**{**valid.__dict__})
        if cat == "session":
            c.session = valid.session + 1 + int(rng.integers(1000))
        elif cat == "unknown_obs":
            c.obs_seq = valid.obs_seq + 1000 + int(rng.integers(1000))
        elif cat == "timestamp":
            c.obs_t_robot_ns = valid.obs_t_robot_ns + 1 + int(rng.integers(10**9))
        elif cat == "duplicate":
            c.seq = valid.seq - int(rng.integers(0, 3))  # equal to or below the last accepted
        elif cat == "stale":
            if stale_obs is None:
                raise ValueError("the 'stale' category needs stale_obs")
            c.seq = valid.seq + 1
            c.obs_seq, c.obs_t_robot_ns = stale_obs
        else:
            raise ValueError(f"unknown fuzz category {cat!r}; choose from {CATEGORIES}")
        return cat, msgs.encode(c)
    return cat, msgpack.packb(m)


@dataclass
class FuzzResult:
    messages: int = 0
    crashes: int = 0
    accepted_malformed: int = 0
    by_category: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    valid_sent: int = 0
    valid_accepted: int = 0
    crash_examples: list = field(default_factory=list)


def fuzz_runner(runner, n: int, seed: int = 0, valid_every: int = 10, tick_every: int = 5) -> FuzzResult:
    """Fire ``n`` malformed messages at ``runner.on_command_bytes`` (a runner built with
    ``link=False``), with valid commands and control ticks in between, on a fake clock."""
    rng = np.random.default_rng(seed)
    res = FuzzResult()
    now = [10**9]
    runner.clock = lambda: now[0]
    runner.start()
    session = 4242
    runner.gate.new_session(session)
    seq, obs_seq, last_valid = 0, 0, None
    for i in range(n):
        now[0] += 2_000_000  # 2 ms per message
        if i % valid_every == 0:  # a fresh observation and its valid answer keep the robot active
            obs_seq += 1
            runner.gate.record_sent(obs_seq, now[0])
            seq += 1
            last_valid = valid_command(session, seq, obs_seq, now[0], rng)
            now[0] += 1_000_000
            res.valid_sent += 1
            res.valid_accepted += runner.on_command_bytes(msgs.encode(last_valid), now[0]) == "accepted"
        cat = str(rng.choice(CATEGORIES))
        stale_obs = None
        if cat == "stale":  # an observation sent 0.3 s ago (> max_command_age_s) answered only now
            obs_seq += 1
            stale_obs = (obs_seq, now[0] - 300_000_000)
            runner.gate.record_sent(*stale_obs)
        cat, buf = malformed_command(last_valid, rng, runner.cfg.link.max_command_bytes, cat, stale_obs)
        res.messages += 1
        res.by_category[cat] += 1
        try:
            outcome = runner.on_command_bytes(buf, now[0])
            if i % tick_every == 0:
                runner.tick(now[0])
        except Exception as err:  # a crash: what the test must never see
            res.crashes += 1
            if len(res.crash_examples) < 5:
                res.crash_examples.append((cat, repr(err)))
            continue
        if outcome == "accepted":
            res.accepted_malformed += 1
        else:
            res.reasons[outcome] += 1
    return res


def malformed_observation(valid: bytes, rng: np.random.Generator, max_bytes: int) -> bytes:
    """A broken observation for the server: truncated, random, oversized, or a bad field/image."""
    kind = int(rng.integers(6))
    if kind == 0:
        return valid[: int(rng.integers(0, len(valid)))]
    if kind == 1:
        return rng.integers(0, 256, int(rng.integers(0, 4096)), dtype=np.uint8).tobytes()
    m = msgpack.unpackb(valid)
    if kind == 2:
        m["image"]["data"] = b"\xff\xd8" + rng.integers(0, 256, 500, dtype=np.uint8).tobytes()  # not a JPEG
        m["image"]["encoding"] = "jpeg"
    elif kind == 3:
        m["image"]["shape"] = [int(rng.integers(-5, 5000)), 3, 4]  # 4 channels: never a valid shape
    elif kind == 4:
        k = str(rng.choice(list(m)))
        value = _WRONG_VALUES[int(rng.integers(len(_WRONG_VALUES)))]
        m[k] = value if type(value) is not type(m[k]) else {"nested": [value]}
    else:
        m["pad"] = b"\0" * (max_bytes + 1)
    return msgpack.packb(m)
