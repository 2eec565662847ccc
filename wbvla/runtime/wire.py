"""The wire format under every deployment message: msgpack maps, ndarrays as raw little-endian bytes.

Never pickle: a message is a msgpack map of plain values (ints, floats, strings, booleans, lists,
maps, binary). An ndarray travels as a map ``{"dtype": "<f4", "shape": [14], "data": <bin>}``
whose ``data`` holds the array's bytes in C order, little-endian. Decoding is defensive: the byte
length is checked *before* msgpack sees the buffer, msgpack runs with container and string limits,
and every array is checked against the dtype and shape the schema expects, so a hostile or broken
peer can cost at most one bounded parse and a :class:`ProtocolError` naming the reason.
"""

from __future__ import annotations

import math
import reprlib

import msgpack
import numpy as np

ALLOWED_DTYPES: dict[str, np.dtype] = {"<f4": np.dtype("<f4"), "<f8": np.dtype("<f8"), "|u1": np.dtype("|u1"),
                                       "<i4": np.dtype("<i4")}
"""The only dtypes a peer may send (numpy ``dtype.str`` spelling, explicit byte order)."""
MAX_CONTAINER = 4096
"""Most entries any list or map of a message may hold."""
MAX_STRING = 4096
"""Longest string (bytes, UTF-8) a message may hold."""
INT64_MAX = 2**63 - 1
"""Largest int any field may hold: both sides store ints as int64 (numpy logs, counters), so a
larger one is refused (``field_range``) before it can reach a store that would overflow."""


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 2, 60, 60
_REPR.maxlist = _REPR.maxdict = _REPR.maxtuple = 6


def short(value) -> str:
    """A bounded repr of untrusted data (depth, length): a deeply nested or huge value from a
    peer must never make an error message recurse or allocate without bound."""
    return _REPR.repr(value)


class ProtocolError(ValueError):
    """A message was refused. ``reason`` is a short machine-readable code (logged and counted),
    the message text says what exactly was wrong."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def pack_array(a: np.ndarray, dtype: str) -> dict:
    """Encode ``a`` as ``{"dtype", "shape", "data"}`` with ``dtype`` one of :data:`ALLOWED_DTYPES`."""
    dt = ALLOWED_DTYPES[dtype]
    a = np.ascontiguousarray(np.asarray(a), dtype=dt)
    return {"dtype": dtype, "shape": list(a.shape), "data": a.tobytes()}


def encode(message: dict) -> bytes:
    """One message (a dict of plain values) to msgpack bytes."""
    return msgpack.packb(message, use_bin_type=True)


def decode(buf: bytes, max_bytes: int) -> dict:
    """msgpack bytes to a dict, refusing anything over ``max_bytes`` before parsing it.

    Raises:
        ProtocolError: ``too_large``, ``not_msgpack`` (not parseable, trailing bytes, limits hit)
            or ``not_a_map``.
    """
    if not isinstance(buf, (bytes, bytearray, memoryview)):
        raise ProtocolError("not_bytes", f"expected bytes, got {type(buf).__name__}")
    if len(buf) > max_bytes:
        raise ProtocolError("too_large", f"{len(buf)} bytes > limit {max_bytes}")
    try:
        obj = msgpack.unpackb(
            buf, raw=False, strict_map_key=True, use_list=True, max_bin_len=max_bytes,
            max_str_len=MAX_STRING, max_array_len=MAX_CONTAINER, max_map_len=MAX_CONTAINER, max_ext_len=0,
        )
    except Exception as err:  # msgpack raises several types (ExtraData, ValueError, FormatError, ...)
        raise ProtocolError("not_msgpack", f"{type(err).__name__}: {short(str(err))}") from None
    if not isinstance(obj, dict):
        raise ProtocolError("not_a_map", f"top level is {type(obj).__name__}, expected a map")
    return obj


# --- typed field readers: each raises ProtocolError naming the field ----------------------------
# ``bad_field``: wrong type or structure; ``field_range``: a number outside its documented bounds.
def _bad(field: str, why: str) -> ProtocolError:
    return ProtocolError("bad_field", f"{field}: {why}")


def _out_of_bounds(field: str, v, lo, hi) -> ProtocolError:
    return ProtocolError("field_range", f"{field}: {short(v)} outside [{lo}, {hi}]")


def get_int(msg: dict, field: str, lo: int = 0, hi: int = INT64_MAX) -> int:
    v = msg.get(field)
    if type(v) is not int:  # bool is an int subclass: refuse it too
        raise _bad(field, f"expected an int, got {type(v).__name__}")
    if not lo <= v <= hi:
        raise _out_of_bounds(field, v, lo, hi)
    return v


def get_float(msg: dict, field: str, lo: float = -math.inf, hi: float = math.inf) -> float:
    v = msg.get(field)
    if type(v) not in (int, float):
        raise _bad(field, f"expected a number, got {type(v).__name__}")
    v = float(v)
    if not math.isfinite(v):
        raise ProtocolError("non_finite", f"{field} = {v}")
    if not lo <= v <= hi:
        raise _out_of_bounds(field, v, lo, hi)
    return v


def get_str(msg: dict, field: str, choices: tuple[str, ...] | None = None, max_len: int = 256) -> str:
    v = msg.get(field)
    if type(v) is not str:
        raise _bad(field, f"expected a string, got {type(v).__name__}")
    if len(v) > max_len:
        raise _bad(field, f"string of {len(v)} characters > {max_len}")
    if choices is not None and v not in choices:
        raise _bad(field, f"{short(v)} is not one of {choices}")
    return v


def get_bool(msg: dict, field: str) -> bool:
    v = msg.get(field)
    if type(v) is not bool:
        raise _bad(field, f"expected a bool, got {type(v).__name__}")
    return v


def get_map(msg: dict, field: str) -> dict:
    v = msg.get(field)
    if not isinstance(v, dict):
        raise _bad(field, f"expected a map, got {type(v).__name__}")
    return v


def get_array(msg: dict, field: str, dtype: str, shape: tuple[int | None, ...], max_dim: int = 4096,
              finite: bool = True, min_dim: int = 1) -> np.ndarray:
    """Read an array field, checking dtype (exactly), rank, each fixed dimension, byte count and,
    for float arrays, finiteness. ``None`` in ``shape`` accepts any size in [min_dim, max_dim]."""
    v = msg.get(field)
    if not isinstance(v, dict) or set(v) != {"dtype", "shape", "data"}:
        raise _bad(field, "expected an array map {dtype, shape, data}")
    if v["dtype"] != dtype:
        raise _bad(field, f"dtype {short(v['dtype'])}, expected {dtype!r}")
    got = v["shape"]
    if not isinstance(got, list) or len(got) != len(shape) or any(type(n) is not int for n in got):
        raise _bad(field, f"shape {short(got)}, expected rank {len(shape)}")
    for n, want in zip(got, shape, strict=True):
        if (want is not None and n != want) or not min_dim <= n <= max_dim:
            raise _bad(field, f"shape {short(got)}, expected {list(shape)}")
    data = v["data"]
    dt = ALLOWED_DTYPES[dtype]
    if not isinstance(data, bytes) or len(data) != math.prod(got) * dt.itemsize:
        raise _bad(field, f"{len(data) if isinstance(data, bytes) else type(data).__name__} data bytes for "
                          f"shape {short(got)} of {dtype}")
    a = np.frombuffer(data, dtype=dt).reshape(got)
    if finite and dt.kind == "f" and not np.all(np.isfinite(a)):
        raise ProtocolError("non_finite", f"{field} holds NaN or inf")
    return a.astype(dt.newbyteorder("="), copy=False)


def check_keys(msg: dict, required: tuple[str, ...], kind: str) -> None:
    """Exactly ``required`` keys: a missing or an unknown key is an error (strict schema)."""
    keys = set(msg)
    missing = sorted(set(required) - keys)
    extra = sorted(repr(k)[:40] for k in keys - set(required))  # keys may be bytes: repr sorts anything
    if missing or extra:
        raise ProtocolError("bad_schema", f"{kind}: missing {missing}, unknown {extra}")
