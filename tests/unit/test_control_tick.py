"""The one control tick: chunk timing from the observation's timestamp, the target filter's clamps
and rate limits, the watchdog, u_t (filtered h*, the command map) and the LMO's leg targets."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from wbvla.control.backend import RobotState
from wbvla.control.config import SafetyConfig
from wbvla.control.policy_contract import PolicyOutput
from wbvla.control.targets import ARMS, GRIPPERS, LEGS, WAIST, jump_violations
from wbvla.control.tick import Chunk, ControlTick
from wbvla.sim.joints import default_pose, limits

MS = 1_000_000
PERIOD = 0.02
CFG = SafetyConfig()


def standing(t_ns: int = 0) -> RobotState:
    return RobotState(t_ns, default_pose(), np.zeros(29), np.zeros(3), np.array([0.0, 0.0, -1.0]), CFG.nominal_height)


def chunk(rows: np.ndarray, flags=(1.0, 0.0, 0.0), h: float = 0.6, dt: float = 0.1) -> Chunk:
    """A chunk whose arm joint 0 follows ``rows`` (the other joints at the default pose)."""
    arm = np.tile(default_pose("arms"), (len(rows), 1))
    arm[:, 0] = rows
    out = PolicyOutput(arm, np.full((len(rows), 2), 0.02), np.array([*flags, h]), "flags", dt=dt)
    return Chunk.of(out)


class ConstantLegs:
    """An LMO stand-in: always the same leg targets; counts its calls."""

    def __init__(self, legs: np.ndarray, control_dt: float = PERIOD):
        self.legs, self.calls, self.resets = legs, 0, 0
        self.policy = SimpleNamespace(control_dt=control_dt, path="constant.onnx")

    def reset(self) -> None:
        self.resets += 1

    def step(self, state, u):
        self.calls += 1
        self.u = u
        return self.legs


def test_rows_belong_to_the_observation_time_plus_i_dt():
    tick = ControlTick(CFG, PERIOD, "flags")
    tick.reset(standing())
    a0 = default_pose("arms")[0]
    # rows a0, a0 + 0.02, a0 + 0.04: slow enough that the 2 rad/s limit never binds (0.2 rad/s)
    tick.accept(chunk(a0 + np.array([0.0, 0.02, 0.04])), t_obs_ns=0, rx_ns=0)
    got = [tick.step(k * 20 * MS, standing(k * 20 * MS)).q[ARMS][0] - a0 for k in range(1, 13)]
    # t = 20 ms .. 240 ms after the observation: 0.2 rad/s along the rows, then the last row held
    expected = [min(0.2 * 0.02 * k, 0.04) for k in range(1, 13)]
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_the_arm_rate_limit_binds_and_every_write_is_jump_free():
    tick = ControlTick(CFG, PERIOD, "flags")
    tick.reset(standing())
    a0 = default_pose("arms")[0]
    lo, hi = limits("arms")
    target = min(a0 + 1.0, hi[0])
    prev_q, prev_u, arm = None, None, []
    for k in range(1, 40):
        if k % 5 == 1:  # a fresh answer every 100 ms keeps the watchdog active
            tick.accept(chunk(np.array([target])), (k - 1) * 20 * MS, (k - 1) * 20 * MS)
        out = tick.step(k * 20 * MS, standing(k * 20 * MS))
        assert jump_violations(out.q, out.u, prev_q, prev_u, CFG, PERIOD) == []
        prev_q, prev_u = out.q, out.u
        arm.append(out.q[ARMS][0])
        assert out.mode == "active"
    steps = np.diff([a0, *arm])
    step = CFG.arm_rate * PERIOD  # 0.04 rad per tick
    n_full = int((target - a0) / step)
    np.testing.assert_allclose(steps[:n_full], step, atol=1e-9)
    assert arm[-1] == pytest.approx(target)


def test_u_holds_the_flags_and_the_rate_limited_height_and_the_watchdog_stands():
    tick = ControlTick(CFG, PERIOD, "flags")
    tick.reset(standing())
    tick.accept(chunk(np.array([default_pose("arms")[0]]), flags=(0.0, 1.0, -1.0), h=0.55), 0, 0)
    us, modes = [], []
    for k in range(1, 30):
        out = tick.step(k * 20 * MS, standing(k * 20 * MS))
        us.append(out.u)
        modes.append(out.mode)
    us = np.array(us)
    # h* moves 0.15 m/s * 20 ms = 3 mm a tick from the measured nominal height toward 0.55
    np.testing.assert_allclose(us[:5, 3], CFG.nominal_height - 0.003 * np.arange(1, 6), atol=1e-9)
    # active while the last command is younger than hold_after_s (minus one period and the margin)
    n_active = modes.count("active")
    assert modes[:n_active] == ["active"] * n_active and set(modes[n_active:]) == {"hold"}
    silent_at_switch = (n_active + 1) * PERIOD + PERIOD + CFG.watchdog_margin_s
    assert silent_at_switch > CFG.hold_after_s >= silent_at_switch - PERIOD
    assert np.all(us[:n_active, :3] == [0.0, 1.0, -1.0]) and np.all(us[n_active:, :3] == 0.0)


def test_command_map_and_lmo_legs_go_through_the_filter():
    legs = default_pose("legs") + 1.0  # far away: the 20 rad/s backstop moves 0.4 rad a tick
    lmo = ConstantLegs(legs)
    mapped = []
    tick = ControlTick(CFG, PERIOD, "flags", lmo, command_map=lambda u: mapped.append(u.copy()) or u * [2.0, 2.0, 2.0, 1.0])
    tick.reset(standing())
    assert lmo.resets == 1
    tick.accept(chunk(np.array([default_pose("arms")[0]]), flags=(1.0, 0.0, 0.0)), 0, 0)
    out = tick.step(20 * MS, standing(20 * MS))
    np.testing.assert_allclose(mapped[0][:3], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(out.u[:3], [2.0, 0.0, 0.0])  # the LMO and the backend get the mapped command
    np.testing.assert_allclose(lmo.u, out.u)
    lo, hi = limits("legs")
    want = np.clip(legs, lo, hi)
    step = np.clip(want - default_pose("legs"), -CFG.leg_rate * PERIOD, CFG.leg_rate * PERIOD)
    np.testing.assert_allclose(out.q[LEGS], default_pose("legs") + step, atol=1e-12)
    np.testing.assert_allclose(out.q[WAIST], default_pose("waist"))
    np.testing.assert_allclose(out.q[GRIPPERS], default_pose("grippers") + np.clip(0.02 - default_pose("grippers"), -0.004, 0.004))


def test_a_kinematic_base_runs_no_lmo_and_a_nonfinite_lmo_holds_the_legs():
    tick = ControlTick(CFG, PERIOD, "flags")
    tick.reset(standing())
    out = tick.step(20 * MS, standing(20 * MS))
    assert out.mode == "wait" and out.lmo_ok
    np.testing.assert_allclose(out.q[LEGS], default_pose("legs"))
    broken = ControlTick(CFG, PERIOD, "flags", ConstantLegs(np.full(12, np.nan)))
    broken.reset(standing())
    out = broken.step(20 * MS, standing(20 * MS))
    assert not out.lmo_ok and np.all(out.q[LEGS] == default_pose("legs"))
    with pytest.raises(ValueError, match="steps every 0.01 s"):  # its gait clock would run at the wrong rate
        ControlTick(CFG, PERIOD, "flags", ConstantLegs(np.zeros(12), control_dt=0.01))
