"""ACT's temporal ensembling in the one control tick (``ExecutionConfig.chunk_execution``): the
executed target is the exp(-m i)-weighted average (i = 0 the oldest) of every kept chunk's
prediction for the tick; m -> +inf follows the oldest covering chunk, m -> -inf the newest (the
``chunk`` mode); a hold forgets the kept chunks; ``chunk`` stays the default."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wbvla.control.backend import RobotState
from wbvla.control.config import ExecutionConfig, SafetyConfig
from wbvla.control.policy_contract import PolicyOutput
from wbvla.control.targets import ARMS, GRIPPERS
from wbvla.control.tick import Chunk, ControlTick, Supervisor, chunk_at, ensemble_at
from wbvla.sim.joints import default_pose

MS = 1_000_000
CFG = SafetyConfig()
A0 = float(default_pose("arms")[0])
STEP = 0.001
"""rad per chunk row of the test chunks: 0.01 rad/s, far below the 2 rad/s rate limit."""
TOL = 1e-3
"""Tolerance in rows (1e-6 rad): chunks travel as float32."""


def chunk(k: int, rows: int = 4, flags=(0.0, 0.0, 0.0)) -> Chunk:
    """Chunk ``k``: arm joint 0 = A0 + STEP * (10 k + r) at row r, gripper 0 = 0.001 * (10 k + r)."""
    r = 10 * k + np.arange(rows, dtype=np.float64)
    arm = np.tile(default_pose("arms"), (rows, 1))
    arm[:, 0] = A0 + STEP * r
    grip = np.zeros((rows, 2))
    grip[:, 0] = 0.001 * r
    return Chunk.of(PolicyOutput(arm, grip, np.array([*flags, 0.62]), "flags", dt=0.1))


def sup_with(m: float, n: int = 3, mode: str = "temporal_ensemble") -> Supervisor:
    """A supervisor that accepted chunks 0..n-1 answering observations at 0, 100, 200 ms."""
    sup = Supervisor(CFG, 0.02, "flags", ExecutionConfig(mode, m))
    for k in range(n):
        sup.accept(chunk(k), t_obs_ns=k * 100 * MS, rx_ns=k * 100 * MS)
    return sup


def desired_arm0(sup: Supervisor, now_ns: int) -> tuple[float, float]:
    """(arm joint 0 offset from A0 in rows, gripper 0 in rows) the supervisor wants at ``now_ns``."""
    assert sup.update(now_ns) == "active"
    arm, grip, _, _ = sup.desired(now_ns, default_pose("arms"), np.zeros(2), 0.62)
    return (arm[0] - A0) / STEP, grip[0] / 0.001


def test_default_is_chunk_execution():
    assert ExecutionConfig().chunk_execution == "chunk"
    assert Supervisor(CFG, 0.02, "flags").ensemble is False


def test_ensemble_is_the_hand_computed_weighted_average():
    # at 250 ms: chunk 0 is 0.25 s old (row 2.5 -> value 2.5), chunk 1 0.15 s (row 1.5 -> 11.5),
    # chunk 2 0.05 s (row 0.5 -> 20.5); weights exp(-0.5 * i), i = 0 the oldest
    w = [1.0, math.exp(-0.5), math.exp(-1.0)]
    expected = (2.5 * w[0] + 11.5 * w[1] + 20.5 * w[2]) / sum(w)
    arm0, grip0 = desired_arm0(sup_with(0.5), 250 * MS)
    assert arm0 == pytest.approx(expected, abs=TOL)
    assert grip0 == pytest.approx(expected, abs=TOL)  # grippers are averaged the same way


def test_plain_average_at_m_zero_and_a_chunk_that_ended_drops_out():
    # at 420 ms chunk 0 (span [0, 0.4 s)) has ended; chunk 1 is at row 3.2 (past its last row: 13),
    # chunk 2 at row 2.2 (22.2)
    arm0, _ = desired_arm0(sup_with(0.0), 420 * MS)
    assert arm0 == pytest.approx((13.0 + 22.2) / 2, abs=TOL)


def test_large_decay_follows_the_oldest_and_negative_the_newest():
    t = 250 * MS
    assert desired_arm0(sup_with(1e6), t)[0] == pytest.approx(2.5, abs=TOL)  # ACT's sign: i = 0 is the oldest
    newest, _ = desired_arm0(sup_with(-1e6), t)
    assert newest == pytest.approx(20.5, abs=TOL)
    assert newest == pytest.approx(desired_arm0(sup_with(0.0, mode="chunk"), t)[0], abs=1e-12)  # = chunk mode


def test_chunk_mode_follows_the_newest_chunk_only():
    sup = sup_with(0.5, mode="chunk")
    arm0, _ = desired_arm0(sup, 250 * MS)
    c = chunk(2)
    ref, _ = chunk_at(c.arm, c.grippers, c.dt, 0.05)
    assert arm0 == (ref[0] - A0) / STEP
    assert len(sup.kept) == 0  # nothing is kept in chunk mode


def test_without_a_covering_chunk_the_newest_last_row_holds():
    # one-row chunks cover only [t_obs, t_obs + 0.1 s): 150 ms after the newest one, none covers
    kept = [(chunk(0, rows=1), 0), (chunk(1, rows=1), 50 * MS)]
    arm, grip = ensemble_at(kept, 200 * MS, 0.5)
    assert (arm[0] - A0) / STEP == pytest.approx(10.0, abs=TOL)
    assert grip[0] / 0.001 == pytest.approx(10.0, abs=TOL)


def test_a_hold_forgets_the_kept_chunks():
    sup = sup_with(0.0)
    assert len(sup.kept) == 3
    assert sup.update(600 * MS) == "hold"  # 0.4 s without a command
    assert len(sup.kept) == 0
    sup.accept(chunk(5), t_obs_ns=600 * MS, rx_ns=600 * MS)
    arm0, _ = desired_arm0(sup, 650 * MS)
    assert arm0 == pytest.approx(50.5, abs=TOL)  # only the new chunk (row 0.5), not the pre-hold ones


def test_the_tick_executes_the_ensemble_and_the_newest_u():
    """Through ControlTick: the filter passes the slow targets unchanged; u_t is the newest chunk's."""
    tick = ControlTick(CFG, 0.02, "flags", execution=ExecutionConfig("temporal_ensemble", 0.3))
    state = RobotState(0, default_pose(), np.zeros(29), np.zeros(3), np.array([0.0, 0.0, -1.0]), 0.62)
    tick.reset(state)
    flags = [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, -1.0)]
    out = None
    for k in range(16):  # ticks at 0 .. 300 ms; chunks answer the observations of 0, 100, 200 ms
        now = k * 20 * MS
        out = tick.step(now, state)
        if k % 5 == 0 and k // 5 < 3:
            tick.accept(chunk(k // 5, flags=flags[k // 5]), t_obs_ns=now, rx_ns=now)
    # last tick at 300 ms: chunk 0 at row 3 (value 3), chunk 1 at row 2 (12), chunk 2 at row 1 (21)
    w = [1.0, math.exp(-0.3), math.exp(-0.6)]
    expected = (3.0 * w[0] + 12.0 * w[1] + 21.0 * w[2]) / sum(w)
    assert out.mode == "active"
    assert (out.q[ARMS][0] - A0) / STEP == pytest.approx(expected, abs=TOL)
    assert out.q[GRIPPERS][0] / 0.001 == pytest.approx(expected, abs=TOL)
    np.testing.assert_array_equal(out.u[:3], flags[2])


@pytest.mark.parametrize(("field", "value", "match"), [("chunk_execution", "ensemble", "chunk_execution"),
                                                        ("ensemble_decay", float("nan"), "ensemble_decay")])
def test_bad_execution_config_names_the_value(field, value, match):
    with pytest.raises(ValueError, match=match):
        ExecutionConfig(**{field: value})
