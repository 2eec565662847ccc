"""deploy/PROTOCOL.md is enough to write a client: its tables are parsed here and checked against
the code (joint table, bounds, limits, every refusal code the code can emit, h*), and its example
client is run against the real server on loopback, and without one (it must give up, not block)."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from wbvla.runtime import messages as msgs
from wbvla.runtime import protocol_doc
from wbvla.runtime.config import LinkConfig, RunnerConfig, SafetyConfig, ServerConfig
from wbvla.runtime.server import VLAServer, serve_in_thread
from wbvla.runtime.transport import HANDSHAKE_FAILURE_CODES
from wbvla.sim.joints import JOINTS, limits

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "deploy" / "PROTOCOL.md").read_text()
RUNTIME_SOURCES = sorted((REPO / "wbvla" / "runtime").rglob("*.py"))


def block(name: str) -> list[list[str]]:
    """The rows (cells stripped of backticks) of the generated table ``name``, header excluded."""
    m = re.search(rf"<!-- BEGIN GENERATED: {name} -->\n(.*?)<!-- END GENERATED: {name} -->", DOC, re.S)
    assert m, f"PROTOCOL.md has no generated block {name!r}"
    rows = [[c.strip().strip("`") for c in line.strip().strip("|").split("|")] for line in m.group(1).splitlines()]
    return rows[2:]


def example_client() -> str:
    m = re.search(r"## 8\..*?```python\n(.*?)```", DOC, re.S)
    assert m, "PROTOCOL.md section 8 has no python example"
    return m.group(1)


def test_generated_tables_are_current():
    assert protocol_doc.main(["--check"]) == 0, "run: python -m wbvla.runtime.protocol_doc"


def test_joint_table_lists_names_order_ranges_default_and_safe_pose():
    rows = block("joints")
    safe_arm = iter(SafetyConfig().safe_arm_pose)
    assert [r[1] for r in rows] == [j.name for j in JOINTS] == list(msgs.ROBOT_JOINTS)
    for row, j in zip(rows, JOINTS, strict=True):
        i, _, group, _, lower, upper, default, safe = row
        assert (group, float(lower), float(upper), float(default)) == (j.group, j.lower, j.upper, j.default), j.name
        if group == "arms":
            assert float(safe) == float(next(safe_arm)), j.name


def _emitted_codes() -> set[str]:
    """Every reason code written in the runtime's source: ProtocolError("code", ...) and _reject("code", ...)."""
    pattern = re.compile(r'(?:ProtocolError|_reject)\(\s*"(\w+)"')
    return {code for path in RUNTIME_SOURCES for code in pattern.findall(path.read_text())}


def test_every_refusal_code_the_code_can_emit_is_documented_and_none_other():
    documented = {r[0] for r in block("refusals")}
    assert documented == _emitted_codes(), (documented ^ _emitted_codes())
    assert set(msgs.DECODE_REASONS) <= documented
    acceptance = {c.strip().strip("`") for r in block("acceptance") for c in r[1].split(",")}
    assert acceptance <= documented and {"chunk_size", "chunk_dt", "field_range"} <= acceptance
    assert {r[0] for r in block("security")} == set(HANDSHAKE_FAILURE_CODES)


def _value(text: str) -> int | float:
    text = text.strip()
    if text == "2^63 - 1":
        return msgs.INT64_MAX
    if text == "2^31 - 1":
        return 2**31 - 1
    return int(text) if re.fullmatch(r"-?\d+", text) else float(text)


def test_bounds_table_equals_what_the_decoder_enforces():
    rows = {r[0]: r for r in block("bounds")}
    for kind, fields in msgs.FIELD_BOUNDS.items():
        for name, (lo, hi) in fields.items():
            row = rows.pop(f"{kind}.{name}")
            assert (_value(row[2]), _value(row[3]), row[4]) == (lo, hi, "field_range"), (kind, name)
            assert row[1] == ("int" if type(lo) is int else "float")
    s = SafetyConfig()
    assert [_value(v) for v in rows.pop("cmd.dt")[2:4]] == list(s.chunk_dt_range)
    assert [_value(v) for v in rows.pop("cmd.arm` / `cmd.grippers` rows H")[2:4]] == [1, s.max_chunk]
    assert _value(rows.pop("cmd.latents[*][*]")[3]) == msgs.LATENT_CODE_BOUND - 1
    assert _value(rows.pop("hello.image_shape[0:2]`, `obs.image.shape[0:2]")[3]) == msgs.MAX_IMAGE_SIDE
    assert not rows, f"rows the code does not know: {sorted(rows)}"
    # the cmd table's prose agrees: inference_ms in [0, 1e6]
    assert re.search(r"\| `inference_ms` \|.*in \[0, 1e6\]", DOC)


def test_limits_table_and_the_prose_numbers_equal_the_runner_defaults():
    r = RunnerConfig()
    sources = (r, r.safety, r.link)

    def default(name: str):
        owner = next(o for o in sources if hasattr(o, name))
        return getattr(owner, name)

    for name, value, *_ in block("limits"):
        want = default(name)
        if isinstance(want, tuple):
            got = [tuple(_value(x) for x in pair.strip(" []").split(",")) for pair in re.findall(r"\[[^\]]+\]", value)]
            assert got == ([tuple(want)] if not isinstance(want[0], tuple) else list(want)), name
        else:
            assert _value(value) == want, name
    for name, value in re.findall(r"`(\w+)` = ([\d.]+) s", DOC):  # e.g. "`handshake_timeout_s` = 0.5 s" in the prose
        assert float(value) == default(name), name


def test_height_range_and_nominal_height_are_the_runners():
    s = SafetyConfig()
    acceptance = " ".join(r[0] for r in block("acceptance"))
    lo, hi, tol = (float(x) for x in re.search(r"h\* in \[([\d.]+), ([\d.]+)\] \+- ([\d.]+) m", acceptance).groups())
    assert (lo, hi, tol) == (*s.height_range, s.height_tolerance) == (0.53, 0.655, 0.01)
    nominal = {float(x) for x in re.findall(r"h\* to ([\d.]+) m", " ".join(r[2] for r in block("watchdog")))}
    assert nominal == {s.nominal_height}
    assert "[0.53, 0.65]" not in DOC and "0.65 m" not in DOC  # the old, wrong numbers


def _literal(tree: ast.Module, name: str):
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            value = node.value.args[0] if isinstance(node.value, ast.Call) else node.value
            if isinstance(value, ast.BinOp):  # [ ... ] * 2
                return ast.literal_eval(value.left) * ast.literal_eval(value.right)
            return ast.literal_eval(value)
    raise AssertionError(f"the example defines no {name}")


def test_example_client_constants_equal_the_code():
    src = example_client()
    tree = ast.parse(src)
    lo, hi = limits("arms")
    assert _literal(tree, "JOINT_NAMES") == list(msgs.ROBOT_JOINTS)
    np.testing.assert_array_equal(_literal(tree, "ARM_LOWER"), lo)
    np.testing.assert_array_equal(_literal(tree, "ARM_UPPER"), hi)
    np.testing.assert_array_equal(_literal(tree, "SAFE_ARM"), SafetyConfig().safe_arm_pose)
    s = SafetyConfig()
    for rule in (f"min({s.max_command_age_s}, m[\"valid_for_s\"])", f"1 <= arm.shape[0] <= {s.max_chunk}",
                 f"{s.chunk_dt_range[0]} <= m[\"dt\"] <= {s.chunk_dt_range[1]}",
                 f"not {round(s.height_range[0] - s.height_tolerance, 6)} <= u[3] <= {round(s.height_range[1] + s.height_tolerance, 6)}",
                 f"ARM_LOWER - {s.arm_tolerance}", f"ARM_UPPER + {s.arm_tolerance}", f"grip.min() < -{s.gripper_tolerance}",
                 "req.poll(500)", "zmq.MAXMSGSIZE, 65536", "zmq.MAXMSGSIZE, 16384"):
        assert rule in src, rule
    assert RunnerConfig().handshake_timeout_s == 0.5 and LinkConfig().max_command_bytes == 65536


def _run_example(tmp_path, port: int, run_s: float) -> subprocess.CompletedProcess:
    script = tmp_path / "example_client.py"
    script.write_text(example_client())
    env = {**os.environ, "WBVLA_PORT": str(port), "WBVLA_RUN_S": str(run_s)}
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=60)


def test_example_client_runs_against_the_real_server(tmp_path):
    server = VLAServer(ServerConfig(link=LinkConfig(port=5940), stats_every_s=0, policy="standin:bag_packing")).start()
    th = serve_in_thread(server)
    try:
        done = _run_example(tmp_path, 5940, 3.0)
    finally:
        server.stop()
        th.join()
        server.close()
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["session"] == server.session and out["model_id"].startswith("standin:")
    assert out["observations"] >= 20 and out["accepted"] >= 5, out
    assert set(out) - {"session", "model_id", "observations"} <= {"accepted", "stale"}, out  # nothing else refused
    assert server.answered >= 5 and not server.rejected, dict(server.rejected)


def test_example_client_gives_up_without_a_server_instead_of_blocking(tmp_path):
    t0 = time.monotonic()
    done = _run_example(tmp_path, 5944, 1.5)  # nobody listens here
    assert done.returncode == 1 and "no server answered" in done.stderr, done.stderr[-2000:]
    assert time.monotonic() - t0 < 1.5 + 8.0  # its deadline plus one 0.5 s attempt and Python's start-up
