"""The deployment wire format: exact bytes, round trips, and a clear refusal for every malformation."""

from __future__ import annotations

import re
from pathlib import Path

import msgpack
import numpy as np
import pytest
from runtime_helpers import command, observation

from wbvla.runtime import messages as msgs
from wbvla.runtime import wire
from wbvla.runtime.messages import EStop, Hello, Welcome
from wbvla.runtime.wire import ProtocolError

MAX = 1 << 20


def test_array_bytes_are_little_endian_c_order():
    packed = wire.pack_array(np.array([[1.0, -2.0]], np.float32), "<f4")
    # 1.0f = 0x3f800000, -2.0f = 0xc0000000, little-endian
    assert packed == {"dtype": "<f4", "shape": [1, 2], "data": b"\x00\x00\x80\x3f\x00\x00\x00\xc0"}
    assert wire.get_array({"a": packed}, "a", "<f4", (1, 2)).tolist() == [[1.0, -2.0]]


@pytest.mark.parametrize("msg", [
    Hello("x2-sim", msgs.ROBOT_JOINTS, "flags", "", "raw", (24, 32, 3)),
    Welcome(True, "", 123, "standin:x", "standin", "flags", "do it", 8, 0.1),
    EStop(5, 9, "operator"),
])
def test_small_messages_round_trip(msg):
    assert msgs.decode(msgs.encode(msg), MAX) == msg


def test_observation_and_command_round_trip():
    obs = observation()
    back = msgs.decode(msgs.encode(obs), MAX)
    for f in ("q_arm", "dq_arm", "grippers", "gyro", "gravity", "last_command", "image"):
        np.testing.assert_array_equal(getattr(back, f), np.asarray(getattr(obs, f), getattr(back, f).dtype))
    assert (back.session, back.seq, back.t_robot_ns, back.mode, back.fallen, back.rejected) == (7, 1, 1000, "active", False, 3)
    assert back.state().shape == (17,) and back.state()[16] == pytest.approx(0.65)
    cmd = command()
    c = msgs.decode(msgs.encode(cmd), MAX)
    np.testing.assert_array_equal(c.arm, cmd.arm.astype(np.float32))
    assert c.latents == {"mani": (3,), "loco": (11,)} and c.command_kind == "flags" and c.dt == 0.1


def test_jpeg_image_round_trip_and_dimension_check():
    img = np.zeros((48, 64, 3), np.uint8)
    img[:, :32] = 200
    back = msgs.decode(msgs.encode(observation(image=img, encoding="jpeg")), MAX)
    assert back.image.shape == (48, 64, 3) and np.abs(back.image.astype(int) - img).mean() < 3
    m = msgpack.unpackb(msgs.encode(observation(image=img, encoding="jpeg")))
    m["image"]["shape"] = [64, 48, 3]  # declared dims must match the JPEG header
    with pytest.raises(ProtocolError) as e:
        msgs.decode(msgpack.packb(m), MAX)
    assert e.value.reason == "bad_image"


def _mutated(**changes) -> bytes:
    m = msgpack.unpackb(msgs.encode(command()))
    for k, v in changes.items():
        if v is KeyError:
            del m[k]
        else:
            m[k] = v
    return msgpack.packb(m)


@pytest.mark.parametrize("buf, reason", [
    (b"\xc1", "not_msgpack"),
    (msgpack.packb([1, 2]), "not_a_map"),
    (_mutated(v=2), "version"),
    (_mutated(v=True), "version"),
    (_mutated(type="obs"), "unexpected_type"),
    (_mutated(extra=1), "bad_schema"),
    (_mutated(latents=KeyError), "bad_schema"),
    (_mutated(seq=True), "bad_field"),
    (_mutated(seq=-1), "field_range"),
    (_mutated(seq=2**63), "field_range"),
    (_mutated(seq=2**64 - 1), "field_range"),
    (_mutated(dt=float("nan")), "non_finite"),
    (_mutated(arm={"dtype": "<f8", "shape": [4, 14], "data": b"\0" * 448}), "bad_field"),
    (_mutated(arm={"dtype": "<f4", "shape": [4, 13], "data": b"\0" * 208}), "bad_field"),
    (_mutated(arm={"dtype": "<f4", "shape": [4, 14], "data": b"\0" * 10}), "bad_field"),
    (_mutated(command={"dtype": "<f4", "shape": [4], "data": np.array([np.nan, 0, 0, 0.6], "<f4").tobytes()}), "non_finite"),
    (_mutated(latents={"mani": [-1]}), "field_range"),
    (_mutated(latents={"mani": ["x"]}), "bad_field"),
    (_mutated(command_kind="torque"), "bad_field"),
])
def test_malformed_commands_are_refused_with_a_reason(buf, reason):
    with pytest.raises(ProtocolError) as e:
        msgs.decode(buf, MAX, expect=("cmd", "estop"))
    assert e.value.reason == reason


def test_size_is_checked_before_parsing():
    buf = msgs.encode(command())
    with pytest.raises(ProtocolError) as e:
        msgs.decode(buf, len(buf) - 1)
    assert e.value.reason == "too_large"
    # a tiny message announcing a huge container is refused by msgpack's limits, not allocated
    with pytest.raises(ProtocolError) as e:
        msgs.decode(b"\xdd\xff\xff\xff\xff", MAX)
    assert e.value.reason == "not_msgpack"


def test_protocol_doc_lists_exactly_the_fields_of_each_message():
    doc = (Path(__file__).resolve().parents[2] / "deploy" / "PROTOCOL.md").read_text()
    for kind, keys in msgs._KEYS.items():
        section = re.search(rf"### `{kind}`(.*?)(?=\n### |\n## |\Z)", doc, re.S)
        assert section, f"PROTOCOL.md has no section for {kind!r}"
        documented = set(re.findall(r"^\| `(\w+)` \|", section.group(1), re.M)) - {"v", "type"}
        assert documented == set(keys), f"{kind}: doc {sorted(documented)} vs code {sorted(keys)}"
    assert f"schema version is **{msgs.SCHEMA_VERSION}**" in doc
