"""The code-derived tables of ``deploy/PROTOCOL.md``: joints, limits, bounds, refusal codes.

Each table sits in the document between ``<!-- BEGIN GENERATED: name -->`` and
``<!-- END GENERATED: name -->`` and is rendered here from the values the code enforces (the joint
table of :mod:`wbvla.sim.joints`, :class:`~wbvla.control.config.SafetyConfig`, the decoder's
:data:`~wbvla.runtime.messages.FIELD_BOUNDS`, ...), so the contract cannot drift from the code:
``python -m wbvla.runtime.protocol_doc`` rewrites the blocks, ``--check`` fails if one is stale
(tests/unit/test_runtime_protocol_doc.py runs the check and parses the tables independently).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from wbvla.io import write_text_atomic
from wbvla.runtime import messages as msgs
from wbvla.runtime.config import LinkConfig, RunnerConfig, SafetyConfig
from wbvla.runtime.transport import HANDSHAKE_FAILURE_CODES
from wbvla.sim.joints import GRIPPER_OPEN, JOINTS

DOC = Path(__file__).resolve().parents[2] / "deploy" / "PROTOCOL.md"
BLOCK = re.compile(r"(<!-- BEGIN GENERATED: (\w+) -->\n)(.*?)(<!-- END GENERATED: \2 -->)", re.S)

REFUSALS: dict[str, tuple[str, str]] = {
    # decoding (both sides), section 2
    "too_large": ("both", "the frame is longer than the channel's size limit (checked before parsing)"),
    "not_bytes": ("both", "the frame is not a byte string (never from ZeroMQ; a guard for other callers)"),
    "not_msgpack": ("both", "not one msgpack object: unparseable, trailing bytes, an `ext` type, or a container/string over its limit"),
    "not_a_map": ("both", "the top level is not a map"),
    "version": ("both", "`v` is not an int equal to this side's schema version"),
    "unexpected_type": ("both", "`type` is not one this channel carries"),
    "bad_schema": ("both", "a key is missing or unknown"),
    "bad_field": ("both", "a value has the wrong type or structure (an array's dtype, rank, fixed dimension or byte count; a string too long; a choice not listed)"),
    "field_range": ("both", "a number outside its bounds (table Bounds): ints beyond int64 or negative, floats outside their range"),
    "non_finite": ("both", "NaN or infinity in a float or a float array"),
    "bad_image": ("server", "`obs.image`: a JPEG that does not decode, or whose size differs from its declared `shape`"),
    # the robot's rules, section 5
    "estop_latched": ("robot", "an e-stop is latched: every command is refused until the runner restarts"),
    "session": ("both", "robot: a `cmd` of another session; server: an `obs` of another session"),
    "unknown_obs": ("robot", "`obs_seq` is not one of the robot's last 64 observations"),
    "timestamp_mismatch": ("robot", "`obs_t_robot_ns` differs from the time the robot recorded for that observation"),
    "not_newer": ("both", "robot: `seq` not above the last accepted one, or `obs_seq` below; server: an `obs` whose `seq` is not above the last answered"),
    "stale": ("robot", "the observation it answers is older than min(`max_command_age_s`, `valid_for_s`)"),
    "command_kind": ("robot", "`command_kind` is not the robot's"),
    "chunk_size": ("robot", "the chunk has no rows, or more than `max_chunk`"),
    "chunk_dt": ("robot", "`dt` outside `chunk_dt_range`"),
    "out_of_range": ("robot", "an arm/gripper target beyond its joint range + tolerance, a flag not in {-1, 0, 1}, a velocity outside `velocity_limits`, or h* outside `height_range` + tolerance"),
    # the server's own, section 6
    "handshake": ("server", "a `hello` refused (the `welcome` carries `accepted = false` and the reason in words)"),
    "policy_error": ("server", "the policy raised on this observation: no answer (the robot's watchdog covers it)"),
}
"""Every refusal reason the code can give on the wire, with the side that gives it and its meaning."""


def _num(x) -> str:
    return repr(float(x)) if isinstance(x, float) or hasattr(x, "dtype") else str(x)


def _table(head: tuple[str, ...], rows: list[tuple]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def joints_table(safety: SafetyConfig | None = None) -> str:
    """Index, name, group, range and safe pose of the 29 joints, in wire order."""
    safety = safety or SafetyConfig()
    arms = iter(safety.safe_arm_pose)
    rows = []
    for i, j in enumerate(JOINTS):
        unit = "m" if j.group == "grippers" else "rad"
        safe = {"arms": lambda j=j: _num(float(next(arms))), "waist": lambda j=j: _num(j.default),
                "legs": lambda j=j: "LMO (balancing)", "grippers": lambda j=j: "holds"}[j.group]()
        rows.append((i, f"`{j.name}`", j.group, unit, _num(j.lower), _num(j.upper), _num(j.default), safe))
    return _table(("#", "name", "group", "unit", "lower", "upper", "default pose", "safe pose"), rows)


def limits_table(runner: RunnerConfig | None = None) -> str:
    """The numbers the robot runner enforces (defaults of its config)."""
    r = runner or RunnerConfig()
    s, lk = r.safety, r.link
    rows = [
        ("`period_s`", _num(r.period_s), "s", "control period (50 Hz)"),
        ("`obs_every`", r.obs_every, "ticks", "an `obs` every this many ticks once a session is open (10 Hz)"),
        ("`handshake_timeout_s`", _num(r.handshake_timeout_s), "s", "how long one handshake attempt waits for the `welcome`"),
        ("`rehandshake_s`", _num(r.rehandshake_s), "s", "handshake retry period; silence that triggers a re-handshake is max(this, `hold_after_s`)"),
        ("`max_command_age_s`", _num(s.max_command_age_s), "s", "a command answering an older observation is `stale`"),
        ("`hold_after_s`", _num(s.hold_after_s), "s", "watchdog: stand and hold after this silence"),
        ("`safe_after_s`", _num(s.safe_after_s), "s", "watchdog: ramp to the safe pose after this silence"),
        ("`watchdog_margin_s`", _num(s.watchdog_margin_s), "s", "the watchdog switches this much early (plus one period)"),
        ("`max_chunk`", s.max_chunk, "rows", "most rows of an accepted chunk (at least 1)"),
        ("`chunk_dt_range`", f"[{_num(s.chunk_dt_range[0])}, {_num(s.chunk_dt_range[1])}]", "s", "accepted `dt` between chunk rows"),
        ("`arm_tolerance`", _num(s.arm_tolerance), "rad", "arm targets may lie this far outside their range (then clamped)"),
        ("`gripper_tolerance`", _num(s.gripper_tolerance), "m", "the same for gripper openings"),
        ("`height_range`", f"[{_num(s.height_range[0])}, {_num(s.height_range[1])}]", "m", "h* the LMO was trained for"),
        ("`height_tolerance`", _num(s.height_tolerance), "m", "h* may lie this far outside `height_range` (then clamped into it)"),
        ("`nominal_height`", _num(s.nominal_height), "m", "h* of the `wait` and `safe` modes (the default pose stands here)"),
        ("`velocity_limits`", ", ".join(f"[{_num(lo)}, {_num(hi)}]" for lo, hi in s.velocity_limits), "m/s, m/s, rad/s",
         "accepted v_x, v_y, w_z of a `velocity` command"),
        ("`arm_rate`", _num(s.arm_rate), "rad/s", "largest arm target speed"),
        ("`gripper_rate`", _num(s.gripper_rate), "m/s", "largest gripper target speed"),
        ("`height_rate`", _num(s.height_rate), "m/s", "largest h* speed"),
        ("`leg_rate`", _num(s.leg_rate), "rad/s", "largest leg target speed (a backstop on the LMO's output)"),
        ("`safe_ramp_rate`", _num(s.safe_ramp_rate), "rad/s", "arm speed of the ramp to the safe pose"),
        ("`max_observation_bytes`", lk.max_observation_bytes, "bytes", "largest `obs` frame"),
        ("`max_command_bytes`", lk.max_command_bytes, "bytes", "largest `cmd` / `estop` frame"),
        ("`max_control_bytes`", lk.max_control_bytes, "bytes", "largest `hello` / `welcome` frame"),
    ]
    assert LinkConfig().port == lk.port
    return _table(("name", "value", "unit", "meaning"), rows)


def bounds_table() -> str:
    """Every bounded number field and its refusal code."""
    rows = []
    for kind, fields in msgs.FIELD_BOUNDS.items():
        for name, (lo, hi) in fields.items():
            hi_s = "2^63 - 1" if hi == msgs.INT64_MAX else _num(hi)
            rows.append((f"`{kind}.{name}`", "int" if type(lo) is int else "float", _num(lo), hi_s, "`field_range`"))
    rows += [("`hello.image_shape[0:2]`, `obs.image.shape[0:2]`", "int", 1, msgs.MAX_IMAGE_SIDE, "`field_range`"),
             ("`cmd.latents[*][*]`", "int", 0, "2^31 - 1", "`field_range`"),
             ("`cmd.dt`", "float", _num(SafetyConfig().chunk_dt_range[0]), _num(SafetyConfig().chunk_dt_range[1]),
              "`chunk_dt` (robot's rules)"),
             ("`cmd.arm` / `cmd.grippers` rows H", "int", 1, SafetyConfig().max_chunk, "`chunk_size` (robot's rules)")]
    return _table(("field", "type", "lowest", "highest", "refused as"), rows)


def refusals_table() -> str:
    rows = [(f"`{code}`", side, meaning) for code, (side, meaning) in REFUSALS.items()]
    return _table(("reason", "given by", "meaning"), rows)


def security_table() -> str:
    return _table(("code", "meaning"), [(f"`{c}`", m) for c, m in HANDSHAKE_FAILURE_CODES.items()])


def acceptance_table(safety: SafetyConfig | None = None) -> str:
    """The robot's checks of a command, in order, with their refusal codes."""
    s = safety or SafetyConfig()
    decode = ", ".join(f"`{r}`" for r in msgs.DECODE_REASONS if REFUSALS[r][0] != "server")
    lo, hi = s.height_range
    rows = [
        ("it decodes (sections 2-3, Bounds)", decode),
        ("no e-stop is latched", "`estop_latched`"),
        ("`session` is the current session", "`session`"),
        ("`obs_seq` is one of the robot's last 64 observations", "`unknown_obs`"),
        ("`obs_t_robot_ns` equals the time the robot recorded for it", "`timestamp_mismatch`"),
        ("`seq` > last accepted `seq` and `obs_seq` >= last accepted `obs_seq`", "`not_newer`"),
        (f"now - t_obs <= min({_num(s.max_command_age_s)} s, `valid_for_s`)", "`stale`"),
        ("`command_kind` is the robot's", "`command_kind`"),
        (f"1 <= H <= {s.max_chunk}", "`chunk_size`"),
        (f"`dt` in [{_num(s.chunk_dt_range[0])}, {_num(s.chunk_dt_range[1])}] s", "`chunk_dt`"),
        (f"every arm target within its joint range +- {_num(s.arm_tolerance)} rad, every gripper within "
         f"[0, {_num(GRIPPER_OPEN)}] +- {_num(s.gripper_tolerance)} m; flags each exactly -1, 0 or 1 (`velocity`: within "
         f"`velocity_limits`); h* in [{_num(lo)}, {_num(hi)}] +- {_num(s.height_tolerance)} m, i.e. "
         f"[{_num(round(lo - s.height_tolerance, 6))}, {_num(round(hi + s.height_tolerance, 6))}]", "`out_of_range`"),
    ]
    return _table(("check", "refusal reason"), rows)


def watchdog_table(safety: SafetyConfig | None = None) -> str:
    s = safety or SafetyConfig()
    h = _num(s.nominal_height)
    rows = [("no command yet", "`wait`", f"stand (flags 0), arms ramp to the safe pose ({_num(s.safe_ramp_rate)} rad/s), h* to {h} m"),
            (f"< {_num(s.hold_after_s)} s", "`active`", "follow the accepted command"),
            (f"> {_num(s.hold_after_s)} s", "`hold`", "**stand state**: flags 0, arm/gripper/h* targets held where they are"),
            (f"> {_num(s.safe_after_s)} s", "`safe`", f"flags 0, arms ramp to the safe pose, h* to {h} m, grippers hold"),
            ("e-stop", "`estop`", "flags 0, everything holds; latched until the runner restarts")]
    return _table(("silence", "mode", "what the robot does"), rows)


RENDERERS = {"joints": joints_table, "limits": limits_table, "bounds": bounds_table, "refusals": refusals_table,
             "security": security_table, "acceptance": acceptance_table, "watchdog": watchdog_table}


def render(doc: str) -> str:
    """``doc`` with every generated block re-rendered. Raises KeyError for an unknown block name."""
    return BLOCK.sub(lambda m: m.group(1) + RENDERERS[m.group(2)]() + m.group(4), doc)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Rewrite (or --check) the generated tables of deploy/PROTOCOL.md")
    p.add_argument("--check", action="store_true", help="exit 1 if a generated block is stale")
    p.add_argument("--path", type=Path, default=DOC)
    args = p.parse_args(argv)
    doc = args.path.read_text()
    new = render(doc)
    if args.check:
        if new != doc:
            print(f"{args.path}: generated tables are stale; run python -m wbvla.runtime.protocol_doc", file=sys.stderr)
            return 1
        return 0
    if new != doc:
        write_text_atomic(args.path, new)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
