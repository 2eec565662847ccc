"""The deployment messages (schema version :data:`SCHEMA_VERSION`), documented in ``deploy/PROTOCOL.md``.

Five message types, each a msgpack map with ``v`` (schema version) and ``type``:

* ``hello``    robot -> server (control socket, request): who I am, my joints, what I accept
* ``welcome``  server -> robot (reply): accepted or not and why, the session id, the model id
* ``obs``      robot -> server, ~10 Hz: image, proprioception, the last u_t, status
* ``cmd``      server -> robot: an arm/gripper chunk, u_t, latents, answering one ``obs``
* ``estop``    server -> robot: stop at once (latched on both sides)

:func:`decode` checks *structure* (version, type, exact keys, dtypes, shapes, finiteness, sizes);
whether a well-formed command is acceptable (session, freshness, ordering, joint ranges) is the
robot's decision (:mod:`wbvla.runtime.gate`). Numpy + msgpack (+ Pillow for JPEG) only.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np

from wbvla.control.config import MAX_CHUNK
from wbvla.control.policy_contract import DEFAULT_IMAGE_SIZE
from wbvla.control.tick import MODES  # the watchdog's modes, numbered on the wire in this order
from wbvla.data.teleop_schema import ARM_JOINTS, GRIPPER_JOINTS
from wbvla.runtime import wire
from wbvla.runtime.wire import ProtocolError
from wbvla.sim.joints import JOINT_NAMES

SCHEMA_VERSION = 1
"""Bumped on any change of fields, types or meaning; peers of different versions refuse each other."""
MESSAGE_TYPES = ("hello", "welcome", "obs", "cmd", "estop")
COMMAND_KINDS = ("flags", "velocity")
IMAGE_ENCODINGS = ("raw", "jpeg")
MAX_IMAGE_SIDE = 2048
MAX_LATENT_KEYS, MAX_LATENT_CODES = 8, 64
LATENT_CODE_BOUND = 2**31
"""Latent codes lie in [0, 2^31)."""
INT64_MAX = wire.INT64_MAX

FIELD_BOUNDS: dict[str, dict[str, tuple[float, float]]] = {
    "welcome": {"session": (0, INT64_MAX), "chunk_size": (1, MAX_CHUNK), "dt": (1e-3, 1.0)},
    "obs": {"session": (0, INT64_MAX), "seq": (0, INT64_MAX), "t_robot_ns": (0, INT64_MAX),
            "base_height": (0.0, 2.0), "rejected": (0, INT64_MAX)},
    "cmd": {"session": (0, INT64_MAX), "seq": (0, INT64_MAX), "obs_seq": (0, INT64_MAX),
            "obs_t_robot_ns": (0, INT64_MAX), "inference_ms": (0.0, 1e6), "valid_for_s": (0.0, 10.0)},
    "estop": {"session": (0, INT64_MAX), "seq": (0, INT64_MAX)},
}
"""Inclusive bounds of every scalar number field, per message type: a value outside is refused
with ``field_range`` (deploy/PROTOCOL.md, "Bounds"). Ints are int64 at most: both sides store them
as int64. A command's ``dt`` and chunk length are judged by the robot's rules instead
(``chunk_dt``, ``chunk_size``: :func:`wbvla.runtime.safety.check_command_ranges`)."""

N_ARM, N_GRIP = len(ARM_JOINTS), len(GRIPPER_JOINTS)


# --- messages ----------------------------------------------------------------------------------
@dataclass
class Hello:
    robot_id: str
    joint_names: tuple[str, ...]
    command_kind: str
    model_id: str = ""
    """The model the robot insists on; "" accepts whatever the server runs (logged)."""
    image_encoding: str = "raw"
    image_shape: tuple[int, int, int] = (DEFAULT_IMAGE_SIZE, DEFAULT_IMAGE_SIZE, 3)


@dataclass
class Welcome:
    accepted: bool
    reason: str
    session: int
    model_id: str
    policy_kind: str
    """``vla`` (a trained checkpoint) or ``standin`` (a labelled deterministic stand-in)."""
    command_kind: str
    instruction: str
    chunk_size: int
    dt: float


@dataclass
class Observation:
    session: int
    seq: int
    t_robot_ns: int
    image: np.ndarray
    """(H, W, 3) uint8 RGB."""
    q_arm: np.ndarray
    """(14,) rad."""
    dq_arm: np.ndarray
    """(14,) rad/s."""
    grippers: np.ndarray
    """(2,) m."""
    base_height: float
    gyro: np.ndarray
    """(3,) base angular velocity, base frame, rad/s."""
    gravity: np.ndarray
    """(3,) unit gravity direction in the base frame (projected gravity)."""
    last_command: np.ndarray
    """(4,) the u_t applied at the last control tick."""
    mode: str
    fallen: bool
    rejected: int
    """Commands rejected since the runner started."""
    image_encoding: str = "raw"

    def state(self) -> np.ndarray:
        """s_t (17,) of :data:`wbvla.data.teleop_schema.STATE_NAMES`: arms, grippers, height."""
        return np.concatenate([self.q_arm, self.grippers, [self.base_height]]).astype(np.float32)


@dataclass
class Command:
    session: int
    seq: int
    obs_seq: int
    obs_t_robot_ns: int
    arm: np.ndarray
    """(H, 14) rad."""
    grippers: np.ndarray
    """(H, 2) m."""
    dt: float
    command: np.ndarray
    """(4,) u_t."""
    command_kind: str
    inference_ms: float
    valid_for_s: float
    latents: dict[str, tuple[int, ...]] = field(default_factory=dict)


@dataclass
class EStop:
    session: int
    seq: int
    reason: str


Message = Hello | Welcome | Observation | Command | EStop


# --- images ------------------------------------------------------------------------------------
def encode_image(image: np.ndarray, encoding: str, jpeg_quality: int = 90) -> dict:
    image = np.ascontiguousarray(image, dtype=np.uint8)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3) uint8, got {image.shape}")
    if encoding == "raw":
        data = image.tobytes()
    elif encoding == "jpeg":
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(image).save(buf, format="JPEG", quality=jpeg_quality)
        data = buf.getvalue()
    else:
        raise ValueError(f"image encoding must be one of {IMAGE_ENCODINGS}, got {encoding!r}")
    return {"encoding": encoding, "shape": list(image.shape), "data": data}


def _image_shape(shape, field: str) -> list[int]:
    """``[H, W, 3]`` with each side in [1, MAX_IMAGE_SIDE]: ``bad_field`` if not that structure,
    ``field_range`` if a side is out of bounds."""
    if not isinstance(shape, list) or len(shape) != 3 or any(type(n) is not int for n in shape) or shape[2] != 3:
        raise ProtocolError("bad_field", f"{field}: {wire.short(shape)} is not [H, W, 3]")
    if not all(1 <= n <= MAX_IMAGE_SIDE for n in shape[:2]):
        raise ProtocolError("field_range", f"{field}: sides of {shape} must lie in [1, {MAX_IMAGE_SIDE}]")
    return shape


def decode_image(obj) -> tuple[np.ndarray, str]:
    if not isinstance(obj, dict) or set(obj) != {"encoding", "shape", "data"}:
        raise ProtocolError("bad_field", "image: expected a map {encoding, shape, data}")
    enc = wire.get_str(obj, "encoding", IMAGE_ENCODINGS)
    shape = _image_shape(obj["shape"], "image.shape")
    data = obj["data"]
    if not isinstance(data, bytes):
        raise ProtocolError("bad_field", f"image: data is {type(data).__name__}, expected bytes")
    if enc == "raw":
        if len(data) != shape[0] * shape[1] * 3:
            raise ProtocolError("bad_field", f"image: {len(data)} bytes for raw shape {shape}")
        return np.frombuffer(data, np.uint8).reshape(shape), enc
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data), formats=["JPEG"]) as im:
            if im.size != (shape[1], shape[0]):  # checked from the header, before decoding pixels
                raise ProtocolError("bad_image", f"JPEG is {im.size[0]}x{im.size[1]}, declared {shape[1]}x{shape[0]}")
            arr = np.asarray(im.convert("RGB"))
    except ProtocolError:
        raise
    except Exception as err:
        raise ProtocolError("bad_image", f"JPEG does not decode: {type(err).__name__}") from None
    return arr, enc


# --- encoding ----------------------------------------------------------------------------------
def _header(kind: str) -> dict:
    return {"v": SCHEMA_VERSION, "type": kind}


def encode(msg: Message, jpeg_quality: int = 90) -> bytes:
    """Any message to its wire bytes."""
    if isinstance(msg, Hello):
        body = {"robot_id": msg.robot_id, "joint_names": list(msg.joint_names), "command_kind": msg.command_kind,
                "model_id": msg.model_id, "image_encoding": msg.image_encoding, "image_shape": list(msg.image_shape)}
        kind = "hello"
    elif isinstance(msg, Welcome):
        body = {"accepted": msg.accepted, "reason": msg.reason, "session": msg.session, "model_id": msg.model_id,
                "policy_kind": msg.policy_kind, "command_kind": msg.command_kind, "instruction": msg.instruction,
                "chunk_size": msg.chunk_size, "dt": float(msg.dt)}
        kind = "welcome"
    elif isinstance(msg, Observation):
        body = {"session": msg.session, "seq": msg.seq, "t_robot_ns": msg.t_robot_ns,
                "image": encode_image(msg.image, msg.image_encoding, jpeg_quality),
                "q_arm": wire.pack_array(msg.q_arm, "<f4"), "dq_arm": wire.pack_array(msg.dq_arm, "<f4"),
                "grippers": wire.pack_array(msg.grippers, "<f4"), "base_height": float(msg.base_height),
                "gyro": wire.pack_array(msg.gyro, "<f4"), "gravity": wire.pack_array(msg.gravity, "<f4"),
                "last_command": wire.pack_array(msg.last_command, "<f4"), "mode": msg.mode,
                "fallen": bool(msg.fallen), "rejected": int(msg.rejected)}
        kind = "obs"
    elif isinstance(msg, Command):
        body = {"session": msg.session, "seq": msg.seq, "obs_seq": msg.obs_seq, "obs_t_robot_ns": msg.obs_t_robot_ns,
                "arm": wire.pack_array(msg.arm, "<f4"), "grippers": wire.pack_array(msg.grippers, "<f4"),
                "dt": float(msg.dt), "command": wire.pack_array(msg.command, "<f4"),
                "command_kind": msg.command_kind, "inference_ms": float(msg.inference_ms),
                "valid_for_s": float(msg.valid_for_s),
                "latents": {str(k): [int(c) for c in v] for k, v in msg.latents.items()}}
        kind = "cmd"
    elif isinstance(msg, EStop):
        body = {"session": msg.session, "seq": msg.seq, "reason": msg.reason}
        kind = "estop"
    else:
        raise TypeError(f"not a deployment message: {type(msg).__name__}")
    return wire.encode({**_header(kind), **body})


# --- decoding ----------------------------------------------------------------------------------
_KEYS = {
    "hello": ("robot_id", "joint_names", "command_kind", "model_id", "image_encoding", "image_shape"),
    "welcome": ("accepted", "reason", "session", "model_id", "policy_kind", "command_kind", "instruction",
                "chunk_size", "dt"),
    "obs": ("session", "seq", "t_robot_ns", "image", "q_arm", "dq_arm", "grippers", "base_height", "gyro",
            "gravity", "last_command", "mode", "fallen", "rejected"),
    "cmd": ("session", "seq", "obs_seq", "obs_t_robot_ns", "arm", "grippers", "dt", "command", "command_kind",
            "inference_ms", "valid_for_s", "latents"),
    "estop": ("session", "seq", "reason"),
}


def _str_list(msg: dict, field: str, max_items: int) -> tuple[str, ...]:
    v = msg.get(field)
    if not isinstance(v, list) or len(v) > max_items or any(type(s) is not str or len(s) > 128 for s in v):
        raise ProtocolError("bad_field", f"{field}: expected a list of at most {max_items} short strings")
    return tuple(v)


def _latents(msg: dict) -> dict[str, tuple[int, ...]]:
    v = wire.get_map(msg, "latents")
    if len(v) > MAX_LATENT_KEYS:
        raise ProtocolError("bad_field", f"latents: {len(v)} keys > {MAX_LATENT_KEYS}")
    out = {}
    for k, codes in v.items():
        if type(k) is not str or len(k) > 32:
            raise ProtocolError("bad_field", "latents: keys must be strings of <= 32 characters")
        if not isinstance(codes, list) or len(codes) > MAX_LATENT_CODES or any(type(c) is not int for c in codes):
            raise ProtocolError("bad_field", f"latents[{wire.short(k)}]: expected a list of <= {MAX_LATENT_CODES} ints")
        if any(not 0 <= c < LATENT_CODE_BOUND for c in codes):
            raise ProtocolError("field_range", f"latents[{wire.short(k)}]: codes must lie in [0, 2^31)")
        out[k] = tuple(codes)
    return out


def _decode_body(kind: str, m: dict) -> Message:
    g = wire
    bounds = FIELD_BOUNDS.get(kind, {})

    def num(field: str):  # a bounded scalar of FIELD_BOUNDS (int or float by its bounds' type)
        lo, hi = bounds[field]
        return g.get_int(m, field, lo, hi) if type(lo) is int else g.get_float(m, field, lo, hi)

    if kind == "hello":
        shape = _image_shape(m.get("image_shape"), "image_shape")
        return Hello(g.get_str(m, "robot_id", max_len=128), _str_list(m, "joint_names", 64),
                     g.get_str(m, "command_kind", COMMAND_KINDS), g.get_str(m, "model_id"),
                     g.get_str(m, "image_encoding", IMAGE_ENCODINGS), tuple(shape))
    if kind == "welcome":
        return Welcome(g.get_bool(m, "accepted"), g.get_str(m, "reason", max_len=1024), num("session"),
                       g.get_str(m, "model_id"), g.get_str(m, "policy_kind", ("vla", "standin")),
                       g.get_str(m, "command_kind", COMMAND_KINDS), g.get_str(m, "instruction", max_len=1024),
                       num("chunk_size"), num("dt"))
    if kind == "obs":
        image, enc = decode_image(m.get("image"))
        return Observation(
            num("session"), num("seq"), num("t_robot_ns"), image,
            g.get_array(m, "q_arm", "<f4", (N_ARM,)), g.get_array(m, "dq_arm", "<f4", (N_ARM,)),
            g.get_array(m, "grippers", "<f4", (N_GRIP,)), num("base_height"),
            g.get_array(m, "gyro", "<f4", (3,)), g.get_array(m, "gravity", "<f4", (3,)),
            g.get_array(m, "last_command", "<f4", (4,)), g.get_str(m, "mode", MODES), g.get_bool(m, "fallen"),
            num("rejected"), enc)
    if kind == "cmd":
        # any row count (0 included) and any finite dt decode: the robot's rules refuse them with
        # their own codes (chunk_size, chunk_dt), in the documented order; the size limit bounds H
        arm = g.get_array(m, "arm", "<f4", (None, N_ARM), min_dim=0)
        grippers = g.get_array(m, "grippers", "<f4", (arm.shape[0], N_GRIP), min_dim=0)
        return Command(
            num("session"), num("seq"), num("obs_seq"), num("obs_t_robot_ns"),
            arm, grippers, g.get_float(m, "dt"), g.get_array(m, "command", "<f4", (4,)),
            g.get_str(m, "command_kind", COMMAND_KINDS), num("inference_ms"), num("valid_for_s"), _latents(m))
    return EStop(num("session"), num("seq"), g.get_str(m, "reason", max_len=1024))


DECODE_REASONS = ("not_bytes", "too_large", "not_msgpack", "not_a_map", "version", "unexpected_type", "bad_schema",
                  "bad_field", "field_range", "non_finite", "bad_image")
"""Every refusal reason :func:`decode` can give (deploy/PROTOCOL.md lists each)."""


def decode(buf: bytes, max_bytes: int, expect: tuple[str, ...] = MESSAGE_TYPES) -> Message:
    """Wire bytes to a message of one of the ``expect`` types.

    Raises:
        ProtocolError: with ``reason`` one of :data:`DECODE_REASONS`; never anything else,
            whatever the bytes.
    """
    m = wire.decode(buf, max_bytes)
    v = m.get("v")
    if v != SCHEMA_VERSION or type(v) is not int:
        raise ProtocolError("version", f"schema version {wire.short(v)}, this side speaks {SCHEMA_VERSION}")
    kind = m.get("type")
    if kind not in expect or type(kind) is not str:
        raise ProtocolError("unexpected_type", f"message type {wire.short(kind)}, expected one of {expect}")
    body = {k: val for k, val in m.items() if k not in ("v", "type")}
    wire.check_keys(body, _KEYS[kind], kind)
    try:
        return _decode_body(kind, body)
    except ProtocolError:
        raise
    except Exception as err:  # a checker missed a case: still a clean refusal, never a crash
        raise ProtocolError("bad_field", f"{kind}: {type(err).__name__}: {wire.short(str(err))}") from None


ROBOT_JOINTS: tuple[str, ...] = JOINT_NAMES
"""What a robot announces in ``hello.joint_names``: the joint table's 29 names in canonical order."""
