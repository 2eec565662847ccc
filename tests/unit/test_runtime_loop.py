"""The whole deployment on loopback with the sim twin: following commands, e-stop, faults,
server killed and restarted; no jump ever reaches the actuators, the robot stands in time."""

from __future__ import annotations

import time

import numpy as np
import pytest

from wbvla.control.targets import ARMS, is_stand
from wbvla.runtime import messages as msgs
from wbvla.runtime.analysis import loop_timing
from wbvla.runtime.experiments import FAULT_KINDS, Faults, loopback_rig, run_campaign
from wbvla.runtime.runner import RobotRunner


@pytest.fixture
def rigs():
    """Start loopback rigs with ``rigs(port, ...)``; all are closed after the test."""
    made = []

    def make(port: int, **kw):
        made.append(loopback_rig(port, **kw))
        return made[-1]

    yield make
    for rig in made:
        rig.close()


def _run_until_active(runner, timeout_s: float = 15.0) -> None:
    """Run the loop until the robot follows commands (a loaded CPU can make the start slow)."""
    t_end = time.monotonic() + timeout_s
    while runner.sup.mode != "active" and time.monotonic() < t_end:
        runner.run(0.5)
    assert runner.sup.mode == "active", runner.sup.mode


def _stand_within(run: dict, log: dict, limit_ms: float = 300.0) -> bool:
    """Stood within the limit, allowing for the stand tick's own wake-up lateness (a loaded CPU)."""
    i = run["stand_tick"]
    late_ms = (log["wake_ns"][i] - log["deadline_ns"][i]) / 1e6
    return run["latency_ms"] <= limit_ms + max(0.0, late_ms)


def test_runner_follows_the_server_on_the_sim_twin(rigs):
    rig = rigs(6000, faults=Faults())
    rig.runner.run(4.0)
    log = rig.runner.log.arrays()
    r = rig.runner
    assert r.welcome.policy_kind == "standin" and r.welcome.model_id.startswith("standin:")
    assert r.accepted >= 15 and dict(r.rejected) == {}
    assert rig.backend.violations == []
    assert np.mean(log["mode"] == msgs.MODES.index("active")) > 0.5  # mostly following (a loaded CPU may stall the server)
    # the scripted stand-in raises the arms: measured arm joints moved away from the default pose
    assert np.abs(log["q"][-1, ARMS] - log["q"][0, ARMS]).max() > 0.1
    timing = loop_timing(log, 0.02)
    assert timing["period_ms"]["p50"] == pytest.approx(20.0, abs=0.5)
    # a real round trip (JPEG encode + ZeroMQ both ways + decode + the stand-in): not zero, not stalled; the
    # twin's 128 px head image (the policy's size since the one control loop) made it ~1.7 ms, below the old 2 ms
    assert 0.5 < np.median(r.obs_to_cmd_ms) < 150.0


def test_estop_message_latches_at_once_and_the_robot_keeps_standing(rigs):
    rig = rigs(6010, faults=Faults())
    r = rig.runner
    _run_until_active(r)
    rig.server.server.estop("test")
    r.run(1.0)
    events = [e for e in r.log.events if e[1] == "estop"]
    assert len(events) == 1 and "test" in events[0][2]
    log = r.log.arrays()
    after = log["written_ns"] > events[0][0]
    first = np.flatnonzero(after)[0]
    # the e-stop acts at the first tick after it arrived (whatever that tick's own wake-up delay)
    assert 0 <= log["deadline_ns"][first] - events[0][0] <= 20_000_000
    assert np.all(log["mode"][after] == msgs.MODES.index("estop"))
    assert all(is_stand(u) for u in log["u"][after])
    assert np.all(log["q_target"][after][:, ARMS] == log["q_target"][first][ARMS])  # arms hold
    assert rig.backend.violations == []
    assert sum(e[1] == "handshake" for e in r.log.events) == 1  # e-stops keep the session alive: no re-handshake


def test_local_estop_refuses_later_commands(rigs):
    rig = rigs(6020, faults=Faults())
    r = rig.runner
    _run_until_active(r)
    r.estop("operator")
    r.run(0.8)
    assert r.sup.mode == "estop" and r.rejected["estop_latched"] >= 3


def test_fault_campaign_robot_stands_in_time_and_never_jumps(rigs):
    rig = rigs(6030)
    res = run_campaign(rig.runner, rig.server, rig.proxy, n_runs=2 * len(FAULT_KINDS), safe_every=4, seed=1)
    log = rig.runner.log.arrays()
    assert len(res.runs) == 2 * len(FAULT_KINDS)
    assert all(run["stood"] for run in res.runs)
    assert all(_stand_within(run, log) for run in res.runs), [round(r["latency_ms"], 1) for r in res.runs]
    assert rig.backend.violations == [] and not log["fallen"].any()
    assert msgs.MODES.index("safe") in log["mode"]  # the 1.0 s safe-pose ramp was exercised too
    assert rig.server.restarts == 2 and rig.runner.rejected["not_newer"] > 0 and rig.runner.rejected["stale"] > 0
    assert res.proxy_counts["reordered"] > 0 and res.proxy_counts["duplicated"] > 0


def test_lmo_mode_runs_the_onnx_policy_every_tick_without_jumps(rigs):
    rig = rigs(6040, locomotion="lmo", faults=Faults())
    rig.runner.run(2.0)
    log = rig.runner.log.arrays()
    assert np.all(log["lmo_ms"] > 0) and rig.runner.accepted > 5
    assert rig.backend.violations == []


@pytest.mark.slow
def test_watchdog_100_runs_with_a_killed_and_restarted_server_process(rigs, tmp_path):
    """The issue's 100/100, with the loop thread at SCHED_FIFO 50 (the documented option for a
    robot computer; on a CPU shared with other jobs, normal scheduling lets a tick wake late).
    The stand-in turns instead of walking (``:in_place``): each of the 25 server restarts starts its
    script again from the first row, so the walking script drifted 3.7 m sideways over the campaign
    until a raised arm touched the wall, which the one fall test counts. This test checks the
    watchdog, not the room."""
    rig = rigs(6050, process=True, server_log=tmp_path / "server.log", policy="standin:bag_packing:in_place")
    try:
        RobotRunner.set_scheduling(50)
    except PermissionError:
        pytest.skip("SCHED_FIFO is not permitted here")
    try:
        res = run_campaign(rig.runner, rig.server, rig.proxy, n_runs=100, safe_every=10, seed=0, recover_timeout_s=30)
    finally:
        RobotRunner.set_scheduling(0)
    log = rig.runner.log.arrays()
    assert len(res.runs) == 100 and all(r["stood"] for r in res.runs)
    assert res.summary()["safe_within_300ms"] == 100, res.summary()
    assert rig.server.restarts == 25
    assert rig.backend.violations == [] and not log["fallen"].any()
