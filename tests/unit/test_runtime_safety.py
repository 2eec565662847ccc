"""Acceptance rules, the watchdog's modes, clamps, rate limits and the "no jump" definition."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
from runtime_helpers import command

from wbvla.control.targets import ARMS, GRIPPERS, TargetFilter, is_stand, jump_violations
from wbvla.control.tick import Supervisor, chunk_at
from wbvla.control.x2 import X2Backend, open_x2_sdk, projected_gravity
from wbvla.runtime.config import LinkConfig, RunnerConfig, SafetyConfig
from wbvla.runtime.supervisor import CommandGate
from wbvla.runtime.wire import ProtocolError
from wbvla.sim.joints import default_pose, limits

MS = 1_000_000
CFG = SafetyConfig()


def test_chunk_interpolation_hand_computed():
    arm = np.zeros((3, 14))
    arm[:, 0] = [0.0, 1.0, 3.0]
    grip = np.zeros((3, 2))
    grip[:, 1] = [0.0, 0.02, 0.04]
    a, g = chunk_at(arm, grip, 0.1, 0.05)  # halfway between rows 0 and 1
    assert a[0] == pytest.approx(0.5) and g[1] == pytest.approx(0.01)
    assert chunk_at(arm, grip, 0.1, 0.175)[0][0] == pytest.approx(1.0 + 0.75 * 2.0)
    assert chunk_at(arm, grip, 0.1, -0.3)[0][0] == 0.0  # before row 0: row 0
    assert chunk_at(arm, grip, 0.1, 5.0)[0][0] == 3.0  # after the last row: hold it


def test_filter_clamps_to_the_joint_table_and_limits_rates():
    f = TargetFilter(CFG, 0.02)
    f.reset(default_pose(), 0.65)
    lo, hi = limits("arms")
    want = default_pose("arms").copy()
    want[0] = hi[0] + 5.0  # far beyond the range
    f.upper(want, np.array([0.0, 0.04]), 0.40)
    # one tick: at most 2.0 rad/s * 0.02 s = 0.04 rad; gripper 0.2 m/s * 0.02 = 0.004 m; h* 0.15 * 0.02 = 0.003 m
    assert f.q[ARMS][0] == pytest.approx(default_pose("arms")[0] + 0.04)
    assert f.q[GRIPPERS][0] == pytest.approx(0.04 - 0.004) and f.q[GRIPPERS][1] == pytest.approx(0.04)
    assert f.h == pytest.approx(0.65 - 0.003)
    for _ in range(500):
        f.upper(want, np.array([0.0, 0.04]), 0.40)
    assert f.q[ARMS][0] == pytest.approx(hi[0]) and f.h == pytest.approx(CFG.height_range[0])  # clamped, never beyond


def test_non_finite_lmo_output_is_not_followed():
    f = TargetFilter(CFG, 0.02)
    f.reset(default_pose(), 0.65)
    legs = default_pose("legs") + 0.01
    assert f.legs(legs)
    held = f.q.copy()
    bad = legs.copy()
    bad[3] = np.nan
    assert not f.legs(bad) and np.array_equal(f.q, held)


def test_range_tolerance_accepts_near_misses_and_rejects_the_rest():
    gate = CommandGate(CFG, "flags")
    gate.new_session(7)
    gate.record_sent(1, 1_000)
    lo, hi = limits("arms")
    near = command()
    near.arm[:, 3] = hi[3] + 0.04  # elbow 0.04 rad beyond its upper limit: inside the 0.05 band
    gate.check(near, 10 * MS)
    far = command(seq=2)
    far.arm[1, 3] = hi[3] + 0.06
    with pytest.raises(ProtocolError, match=r"arm\[1, 3\]") as e:
        gate.check(far, 10 * MS)
    assert e.value.reason == "out_of_range"


@pytest.mark.parametrize("mutate, reason", [
    (lambda c: setattr(c, "session", 8), "session"),
    (lambda c: setattr(c, "obs_seq", 99), "unknown_obs"),
    (lambda c: setattr(c, "obs_t_robot_ns", 12345), "timestamp_mismatch"),
    (lambda c: setattr(c, "command", np.array([0.5, 0.0, 0.0, 0.6])), "out_of_range"),
    (lambda c: setattr(c, "command", np.array([0.0, 0.0, 0.0, 0.70])), "out_of_range"),
    (lambda c: setattr(c, "command_kind", "velocity"), "command_kind"),
    (lambda c: setattr(c, "dt", 0.01), "chunk_dt"),
    (lambda c: setattr(c, "valid_for_s", 0.005), "stale"),
    (lambda c: setattr(c, "grippers", c.grippers + 0.03), "out_of_range"),
])
def test_gate_refusals(mutate, reason):
    gate = CommandGate(CFG, "flags")
    gate.new_session(7)
    gate.record_sent(1, 1_000)
    cmd = command()
    mutate(cmd)
    with pytest.raises(ProtocolError) as e:
        gate.check(cmd, 1_000 + 10 * MS)
    assert e.value.reason == reason


def test_gate_ordering_staleness_and_new_session():
    gate = CommandGate(CFG, "flags")
    with pytest.raises(ProtocolError, match="session"):
        gate.check(command(), 0)  # before any handshake
    gate.new_session(7)
    for seq, t in ((1, 0), (2, 100 * MS), (3, 200 * MS)):
        gate.record_sent(seq, t)
    assert gate.check(command(seq=5, obs_seq=2, t_obs_ns=100 * MS), 150 * MS) == 100 * MS
    for dup in (command(seq=5, obs_seq=2, t_obs_ns=100 * MS), command(seq=4, obs_seq=3, t_obs_ns=200 * MS),
                command(seq=6, obs_seq=1, t_obs_ns=0)):
        with pytest.raises(ProtocolError) as e:  # duplicate, reordered (older seq), older observation
            gate.check(dup, 210 * MS)
        assert e.value.reason == "not_newer"
    with pytest.raises(ProtocolError) as e:
        gate.check(command(seq=7, obs_seq=3, t_obs_ns=200 * MS), 200 * MS + 251 * MS)
    assert e.value.reason == "stale"
    gate.new_session(9)  # a restarted server counts from 1 again
    gate.record_sent(1, 500 * MS)
    gate.check(command(seq=1, obs_seq=1, t_obs_ns=500 * MS, session=9), 510 * MS)


def run_ticks(sup: Supervisor, f: TargetFilter, t0_ns: int, n: int, period_ns: int = 20 * MS):
    out = []
    for k in range(n):
        now = t0_ns + k * period_ns
        mode = sup.update(now)
        arm, grip, u, rate = sup.desired(now, f.q[ARMS], f.q[GRIPPERS], f.h)
        f.upper(arm, grip, u[3], rate)
        out.append((now, mode, np.array([*u[:3], f.h]), f.q.copy()))
    return out


def test_watchdog_switches_so_the_stand_target_is_in_effect_at_300ms():
    sup, f = Supervisor(CFG, 0.02, "flags"), TargetFilter(CFG, 0.02)
    f.reset(default_pose(), 0.65)
    assert sup.update(0) == "wait"
    sup.accept(command(), t_obs_ns=0, rx_ns=10 * MS)
    ticks = run_ticks(sup, f, 20 * MS, 70)
    modes = [(t, m) for t, m, _, _ in ticks]
    first_hold = next(t for t, m in modes if m == "hold")
    first_safe = next(t for t, m in modes if m == "safe")
    # hold at the first tick whose next deadline is beyond 10 ms + 300 ms: the tick at 300 ms
    assert first_hold == 300 * MS and first_hold - 10 * MS <= 300 * MS
    assert first_safe == 1000 * MS
    held = [q for t, m, u, q in ticks if m == "hold"]
    assert all(np.array_equal(q, held[0]) for q in held)  # hold: targets frozen
    assert all(is_stand(u) for t, m, u, _ in ticks if m != "active")
    assert all(u[0] == 1.0 for t, m, u, _ in ticks if m == "active")


def test_safe_mode_ramps_to_the_safe_pose_at_nominal_height_then_recovers():
    sup, f = Supervisor(CFG, 0.02, "flags"), TargetFilter(CFG, 0.02)
    f.reset(default_pose(), 0.65)
    cmd = command(height=0.56)
    cmd.arm[:] = default_pose("arms") + 0.3
    sup.accept(cmd, 0, 0)
    ticks = run_ticks(sup, f, 0, 250)
    safe = [(u, q) for _, m, u, q in ticks if m == "safe"]
    steps = np.abs(np.diff([q[ARMS] for _, q in safe], axis=0))
    assert steps.max() <= CFG.safe_ramp_rate * 0.02 + 1e-9
    assert np.allclose(safe[-1][1][ARMS], CFG.safe_arm_pose) and safe[-1][0][3] == pytest.approx(CFG.nominal_height)
    sup.accept(command(seq=2), 5000 * MS, 5000 * MS)
    assert sup.update(5010 * MS) == "active"


def test_estop_latches():
    sup = Supervisor(CFG, 0.02, "flags")
    sup.accept(command(), 0, 0)
    sup.estop("test")
    sup.accept(command(seq=2), 10 * MS, 10 * MS)
    assert sup.update(20 * MS) == "estop" and sup.command.seq == 1


def test_jump_definition():
    q = default_pose()
    u = np.array([0.0, 0.0, 0.0, 0.65])
    assert jump_violations(q, u, q, u, CFG, 0.02) == []
    q2 = q.copy()
    q2[ARMS.start] += 0.05  # > 2.0 rad/s * 0.02 s
    assert any("step" in v for v in jump_violations(q2, u, q, u, CFG, 0.02))
    q3 = q.copy()
    q3[3] = 5.0  # knee beyond its range
    assert any("out of range" in v for v in jump_violations(q3, u, None, None, CFG, 0.02))
    assert jump_violations(q, np.array([0.5, 0, 0, 0.65]), None, None, CFG, 0.02)
    assert jump_violations(q, np.array([0, 0, 0, 0.65 - 0.01]), q, u, CFG, 0.02)  # h* step > 3 mm


def test_projected_gravity_matches_mujoco():
    rng = np.random.default_rng(0)
    for _ in range(5):
        quat = rng.normal(size=4)
        quat /= np.linalg.norm(quat)
        rot = np.zeros(9)
        mujoco.mju_quat2Mat(rot, quat)
        np.testing.assert_allclose(projected_gravity(quat), -rot.reshape(3, 3)[2], atol=1e-12)


def test_x2_backend_refuses_to_start_without_the_sdk():
    with pytest.raises(RuntimeError, match="AgiBot X2 SDK"):
        open_x2_sdk()
    with pytest.raises(RuntimeError, match="rclpy"):
        X2Backend().start()


@pytest.mark.parametrize("field, value, match", [
    ("safe_after_s", 0.2, "safe_after_s"), ("arm_rate", 0.0, "arm_rate"), ("safe_ramp_rate", 5.0, "safe_ramp_rate"),
    ("nominal_height", 0.9, "nominal_height"),
])
def test_bad_safety_config_names_the_value(field, value, match):
    with pytest.raises(ValueError, match=match):
        SafetyConfig(**{field: value})


def test_bad_link_and_runner_config():
    with pytest.raises(ValueError, match="port"):
        LinkConfig(port=80)
    with pytest.raises(ValueError, match="backend"):
        RunnerConfig(backend="robot")
    assert LinkConfig(host="127.0.0.5").loopback and LinkConfig(host="::1").loopback
    assert not LinkConfig(host="192.168.1.10").loopback and not LinkConfig(host="0.0.0.0").loopback
