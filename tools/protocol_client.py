"""A client of the deployment link written from deploy/PROTOCOL.md alone (numpy, msgpack, pyzmq).

No wbvla protocol code is imported: the joint table, limits, modes and refusal codes are read from
the document's tables, and the messages are built and checked from its section 3. Used by
``tools/protocol_checks.py``: :class:`FakeServer` (the server's three sockets, driving the real
robot runner), :func:`fuzz_message` (a message of each kind the robot must refuse, with the
refusal the doc gives for it), and the robot side's helpers (:func:`hello`, :func:`ask`,
:func:`observation`, :func:`cmd_problems`) for driving the real VLA server.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path

import msgpack
import numpy as np
import zmq

REPO = Path(__file__).resolve().parents[1]
DOC = (REPO / "deploy" / "PROTOCOL.md").read_text()


# --- what PROTOCOL.md says ---------------------------------------------------------------------
def doc_table(name: str) -> list[list[str]]:
    m = re.search(rf"<!-- BEGIN GENERATED: {name} -->\n(.*?)<!-- END", DOC, re.S)
    return [[c.strip().strip("`") for c in line.strip().strip("|").split("|")] for line in m.group(1).splitlines()[2:]]


JOINTS = doc_table("joints")
NAMES = [r[1] for r in JOINTS]
LOWER, UPPER = (np.array([float(r[i]) for r in JOINTS]) for i in (4, 5))
ARMS = [i for i, r in enumerate(JOINTS) if r[2] == "arms"]
GRIPS = [i for i, r in enumerate(JOINTS) if r[2] == "grippers"]
SAFE_ARM = np.array([float(JOINTS[i][7]) for i in ARMS])
LIMITS = {r[0]: r[1] for r in doc_table("limits")}
H_LO, H_HI = (float(x) for x in LIMITS["height_range"].strip("[]").split(","))
H_TOL, ARM_TOL, GRIP_TOL = (float(LIMITS[k]) for k in ("height_tolerance", "arm_tolerance", "gripper_tolerance"))
MODES = re.search(r"\| `mode` \| str \| the runner's mode: (.*?) \(", DOC).group(1).replace("`", "").split(", ")
REFUSALS = {r[0] for r in doc_table("refusals")}


def arr(a, dt: str = "<f4") -> dict:
    a = np.ascontiguousarray(a, dt)
    return {"dtype": dt, "shape": list(a.shape), "data": a.tobytes()}


def unarr(m: dict) -> np.ndarray:
    return np.frombuffer(m["data"], m["dtype"]).reshape(m["shape"])


def pack(m) -> bytes:
    return msgpack.packb(m, use_bin_type=True)


def obs_problems(m: dict) -> list[str]:
    """Where an ``obs`` breaks the doc's table (section 3), as short labels."""
    keys = {"v", "type", "session", "seq", "t_robot_ns", "image", "q_arm", "dq_arm", "grippers", "base_height", "gyro",
            "gravity", "last_command", "mode", "fallen", "rejected"}
    if set(m) != keys:
        return ["keys"]
    bad = [k for k in ("session", "seq", "t_robot_ns", "rejected") if type(m[k]) is not int or not 0 <= m[k] < 2**63]
    for k, n in (("q_arm", 14), ("dq_arm", 14), ("grippers", 2), ("gyro", 3), ("gravity", 3), ("last_command", 4)):
        if m[k]["dtype"] != "<f4" or m[k]["shape"] != [n] or not np.isfinite(unarr(m[k])).all():
            bad.append(k)
    img = m["image"]
    if img["encoding"] != "raw" or len(img["data"]) != int(np.prod(img["shape"])) or img["shape"][2] != 3:
        bad.append("image")
    if m["mode"] not in MODES or type(m["fallen"]) is not bool or not 0 <= m["base_height"] <= 2:
        bad.append("mode/fallen/base_height")
    return bad


# --- the server side: drives the real runner ------------------------------------------------------
class FakeServer:
    def __init__(self, ctx: zmq.Context, port: int):
        self.rep, self.pull, self.push = ctx.socket(zmq.REP), ctx.socket(zmq.PULL), ctx.socket(zmq.PUSH)
        for s, off in ((self.rep, 0), (self.pull, 1), (self.push, 2)):
            s.linger = 0
            if s is not self.rep:
                s.setsockopt(zmq.CONFLATE, 1)
            s.bind(f"tcp://127.0.0.1:{port + off}")
        self.pull.setsockopt(zmq.MAXMSGSIZE, 4 * 2**20)
        self.rng = np.random.default_rng(0)
        self.session, self.seq, self.hellos = None, 0, []
        self.recent: dict[int, tuple[int, float]] = {}  # obs seq -> (t_robot_ns, my receipt time)
        self.obs_seen, self.problems, self.last_obs = 0, Counter(), None
        self.valid_seqs: set[int] = set()
        self.poller = zmq.Poller()
        self.poller.register(self.rep, zmq.POLLIN)
        self.poller.register(self.pull, zmq.POLLIN)

    def pump(self, timeout_ms: int = 5):
        """Answer hellos; return the newest new observation of the session (or None)."""
        newest = None
        events = dict(self.poller.poll(timeout_ms))
        if self.rep in events:
            hello = msgpack.unpackb(self.rep.recv())
            ok = hello.get("joint_names") == NAMES and hello.get("command_kind") == "flags"
            self.session = int(self.rng.integers(1, 2**63 - 1)) if ok else self.session
            self.hellos.append(time.monotonic())
            self.rep.send(pack({"v": 1, "type": "welcome", "accepted": ok, "reason": "" if ok else "joints", "session":
                                self.session if ok else 0, "model_id": "standin:independent-client", "policy_kind": "standin",
                                "command_kind": "flags", "instruction": "x", "chunk_size": 8, "dt": 0.1}))
        if self.pull in events:
            m = msgpack.unpackb(self.pull.recv())
            self.obs_seen += 1
            for p in obs_problems(m):
                self.problems[p] += 1
            if m.get("session") == self.session and (self.last_obs is None or m["seq"] > self.last_obs["seq"]
                                                     or m["session"] != self.last_obs["session"]):
                self.last_obs = newest = m
                self.recent[m["seq"]] = (m["t_robot_ns"], time.monotonic())
                self.recent.pop(m["seq"] - 100, None)
        return newest

    def command(self, obs: dict, **over) -> dict:
        self.seq += 1
        t = np.arange(8)[:, None] * 0.1
        arm = SAFE_ARM + 0.2 * np.sin(t + self.seq * 0.05)
        m = {"v": 1, "type": "cmd", "session": self.session, "seq": self.seq, "obs_seq": obs["seq"],
             "obs_t_robot_ns": obs["t_robot_ns"], "arm": arr(np.clip(arm, LOWER[ARMS], UPPER[ARMS])),
             "grippers": arr(np.full((8, 2), 0.03)), "dt": 0.1, "command": arr([1.0, 0.0, 0.0, 0.6]),
             "command_kind": "flags", "inference_ms": 5.0, "valid_for_s": 0.25, "latents": {}}
        m.update(over)
        return m

    def answer(self, obs: dict) -> None:
        m = self.command(obs)
        self.valid_seqs.add(m["seq"])
        self.push.send(pack(m))


EXPECTED = {"arm_out_of_range": "out_of_range", "gripper_out_of_range": "out_of_range", "flag_half": "out_of_range",
            "h_star_high": "out_of_range", "h_star_low": "out_of_range", "chunk_empty": "chunk_size",
            "chunk_long": "chunk_size", "dt_small": "chunk_dt", "dt_large": "chunk_dt", "seq_2_63": "field_range",
            "seq_2_64_minus_1": "field_range", "negative_seq": "field_range", "wrong_session": "session",
            "unknown_obs": "unknown_obs", "timestamp_mismatch": "timestamp_mismatch", "duplicate": "not_newer",
            "stale": "stale", "velocity_kind": "command_kind", "nan_arm": "non_finite", "inf_dt": "non_finite",
            "truncated": "not_msgpack", "random_bytes": "not_msgpack", "not_a_map": "not_a_map", "version": "version",
            "msg_type": "unexpected_type", "missing_key": "bad_schema", "extra_key": "bad_schema", "f8_dtype": "bad_field",
            "bad_shape": "bad_field", "bool_seq": "bad_field", "ext_type": "not_msgpack", "deep_nesting": "not_msgpack"}
"""The refusal PROTOCOL.md gives for each fuzz category (random bytes may also fail later checks)."""
UNSAFE = ("arm_out_of_range", "gripper_out_of_range", "flag_half", "h_star_high", "h_star_low", "chunk_empty",
          "chunk_long", "dt_small", "dt_large", "seq_2_63", "seq_2_64_minus_1", "wrong_session", "unknown_obs",
          "timestamp_mismatch", "duplicate", "stale", "velocity_kind", "nan_arm", "inf_dt", "negative_seq")
MALFORMED = ("truncated", "random_bytes", "not_a_map", "version", "msg_type", "missing_key", "extra_key", "f8_dtype",
             "bad_shape", "bool_seq", "ext_type", "deep_nesting")


def fuzz_message(fs: FakeServer, obs: dict, cat: str, rng) -> bytes:
    """One message of category ``cat`` that the doc says the robot must refuse."""
    m = fs.command(obs)  # seq above every accepted one: the later checks are reached
    arm = unarr(m["arm"]).copy()
    if cat == "arm_out_of_range":
        j = int(rng.integers(14))
        arm[0, j] = UPPER[ARMS][j] + ARM_TOL + 0.01 + rng.exponential(0.5)
        m["arm"] = arr(arm)
    elif cat == "gripper_out_of_range":
        m["grippers"] = arr(np.full((8, 2), 0.04 + GRIP_TOL + 0.002))
    elif cat == "flag_half":
        m["command"] = arr([0.5, 0.0, 0.0, 0.6])
    elif cat in ("h_star_high", "h_star_low"):
        m["command"] = arr([0.0, 0.0, 0.0, H_HI + H_TOL + 0.003 if cat == "h_star_high" else H_LO - H_TOL - 0.003])
    elif cat in ("chunk_empty", "chunk_long"):
        h = 0 if cat == "chunk_empty" else 65
        m["arm"], m["grippers"] = arr(np.resize(arm, (h, 14))), arr(np.full((h, 2), 0.03))
    elif cat in ("dt_small", "dt_large", "inf_dt"):
        m["dt"] = {"dt_small": 0.01, "dt_large": 0.6, "inf_dt": float("inf")}[cat]
    elif cat in ("seq_2_63", "seq_2_64_minus_1", "negative_seq"):
        m["seq"] = {"seq_2_63": 2**63, "seq_2_64_minus_1": 2**64 - 1, "negative_seq": -5}[cat]
    elif cat == "wrong_session":
        m["session"] = (fs.session + 1) % 2**63
    elif cat == "unknown_obs":
        m["obs_seq"] = obs["seq"] + 10_000
    elif cat == "timestamp_mismatch":
        m["obs_t_robot_ns"] = obs["t_robot_ns"] + 1
    elif cat == "duplicate":
        m["seq"] = max(fs.valid_seqs)
    elif cat == "stale":  # section 5: stale once now - t_obs > min(0.25 s, valid_for_s); an older obs would be not_newer
        m["valid_for_s"] = 0.0
    elif cat == "velocity_kind":
        m["command_kind"] = "velocity"
    elif cat == "nan_arm":
        arm[3, 2] = np.nan
        m["arm"] = arr(arm)
    elif cat == "truncated":
        b = pack(m)
        return b[: int(rng.integers(1, len(b)))]
    elif cat == "random_bytes":
        return rng.integers(0, 256, int(rng.integers(1, 600)), dtype=np.uint8).tobytes()
    elif cat == "not_a_map":
        return pack([1, 2, 3])
    elif cat == "version":
        m["v"] = 2
    elif cat == "msg_type":
        m["type"] = "obs"
    elif cat == "missing_key":
        del m["latents"]
    elif cat == "extra_key":
        m["priority"] = 1
    elif cat == "f8_dtype":
        m["arm"] = arr(arm, "<f8")
    elif cat == "bad_shape":
        m["arm"]["shape"] = [8, 13]
    elif cat == "bool_seq":
        m["seq"] = True
    elif cat == "ext_type":
        m["latents"] = msgpack.ExtType(5, b"\x00")
    elif cat == "deep_nesting":
        return b"\x81\xa1v" + b"\x91" * 3000 + b"\x00"
    return pack(m)


# --- the robot side: drives the real server --------------------------------------------------------
def hello(**over) -> dict:
    h = {"v": 1, "type": "hello", "robot_id": "independent", "joint_names": NAMES, "command_kind": "flags",
         "model_id": "", "image_encoding": "raw", "image_shape": [48, 64, 3]}
    h.update(over)
    return h


def ask(ctx, port: int, payload: bytes, curve: tuple | None = None, timeout_ms: int = 500):
    req = ctx.socket(zmq.REQ)
    req.linger = 0
    if curve is not None:
        req.curve_publickey, req.curve_secretkey, req.curve_serverkey = curve
    req.connect(f"tcp://127.0.0.1:{port}")
    req.send(payload)
    reply = msgpack.unpackb(req.recv()) if req.poll(timeout_ms) else None
    req.close()
    return reply


def observation(session: int, seq: int, image: np.ndarray | None = None) -> dict:
    image = np.zeros((48, 64, 3), np.uint8) if image is None else image
    return {"v": 1, "type": "obs", "session": session, "seq": seq, "t_robot_ns": time.monotonic_ns(),
            "image": {"encoding": "raw", "shape": list(image.shape), "data": image.tobytes()}, "q_arm": arr(SAFE_ARM),
            "dq_arm": arr(np.zeros(14)), "grippers": arr([0.04, 0.04]), "base_height": 0.655, "gyro": arr(np.zeros(3)),
            "gravity": arr([0.0, 0.0, -1.0]), "last_command": arr([0.0, 0.0, 0.0, 0.655]), "mode": "active",
            "fallen": False, "rejected": 0}


def cmd_problems(m: dict, session: int, sent: dict) -> list[str]:
    bad = []
    if m.get("type") != "cmd":
        return [f"type {m.get('type')}"]
    arm, grip, u = unarr(m["arm"]), unarr(m["grippers"]), unarr(m["command"])
    if m["session"] != session or sent.get(m["obs_seq"]) != m["obs_t_robot_ns"]:
        bad.append("session/obs")
    if not 1 <= arm.shape[0] <= 64 or arm.shape[1] != 14 or grip.shape != (arm.shape[0], 2):
        bad.append("shape")
    if (arm < LOWER[ARMS] - ARM_TOL).any() or (arm > UPPER[ARMS] + ARM_TOL).any():
        bad.append("arm_range")
    if not np.isin(u[:3], (-1.0, 0.0, 1.0)).all() or not H_LO - H_TOL <= u[3] <= H_HI + H_TOL:
        bad.append("u")
    if not 0.02 <= m["dt"] <= 0.5 or not 0 <= m["inference_ms"] <= 1e6 or not 0 <= m["valid_for_s"] <= 10:
        bad.append("scalars")
    return bad
