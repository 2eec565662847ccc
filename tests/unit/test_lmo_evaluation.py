"""Eq. 5 (CoM sway) by hand, the App. B.4 arm stream, and a smoke run of the whole protocol."""

import math

import numpy as np
import pytest
from lmo_helpers import tiny_policy

from wbvla.lmo.evaluation import PAPER_TABLE3, ArmReplay, b4_errors, com_sway, evaluate
from wbvla.lmo.job_config import EvalConfig
from wbvla.sim.angles import wrap_angle


def test_com_sway_hand_values():
    # two samples 2 m apart: c_bar in the middle, every sample 1 m away -> CoMS = 1
    assert com_sway(np.array([[0.0, 0.0], [2.0, 0.0]])) == pytest.approx(1.0)
    # (0,0) x2 and (3,4) x2: mean (1.5, 2), each 2.5 m away
    assert com_sway(np.array([[0, 0], [0, 0], [3, 4], [3, 4.0]])) == pytest.approx(2.5)
    # deviations 0.03 and 0: sqrt((0.03^2 + 0.03^2 + 0) / 3) around the mean
    c = np.array([[0.03, 0.0], [-0.03, 0.0], [0.0, 0.0]])
    assert com_sway(c) == pytest.approx(math.sqrt(2 * 0.03**2 / 3))
    assert com_sway(np.ones((10, 2))) == 0.0
    with pytest.raises(ValueError, match=r"\(T >= 2, 2\)"):
        com_sway(np.zeros((5, 3)))


def test_arm_replay_speed_and_amplitude():
    t = np.linspace(0, 2, 101)
    q = np.zeros((101, 14))
    q[:, 0] = -0.5 * t  # shoulder pitch ramps down (inside its limits)
    rep = ArmReplay([(t, q)], speed=2.0, amplitude=1.5, noise=0.0, rng=np.random.default_rng(0))
    first = rep(0.1)  # clock 0
    second = rep(0.1)  # clock 0.2 s of clip time (2x speed)
    mean = q[:, 0].mean()
    assert first[0] == pytest.approx(mean + 1.5 * (0.0 - mean))
    assert second[0] == pytest.approx(mean + 1.5 * (-0.1 - mean))


def _scripted_trial(v, n_active=250, n_settle=500, drift=(0.0, 0.0, 0.0), yaw0=0.7, p0=(1.0, -2.0)):
    """A trajectory that follows the step command exactly (body frame, start heading yaw0), then
    stands; ``drift`` = (forward m, left m, yaw rad) added once the settling phase starts."""
    c, s = math.cos(yaw0), math.sin(yaw0)
    xy, yaw = [], []
    for k in range(n_active + n_settle):
        t = min(k + 1, n_active) * 0.02
        off = np.array(drift) if k >= n_active else np.zeros(3)
        fwd, left = v[0] * t + off[0], v[1] * t + off[1]
        xy.append((p0[0] + c * fwd - s * left, p0[1] + s * fwd + c * left))
        yaw.append(wrap_angle(yaw0 + v[2] * t + off[2]))
    return np.array(xy), np.array(yaw), np.array(p0), yaw0


@pytest.mark.parametrize("v", [(0.3, 0, 0), (-0.3, 0, 0), (0, 0.3, 0), (0, 0, 0.3), (0, 0, -0.3)])
def test_b4_scores_a_perfect_trajectory_at_zero(v):
    xy, yaw, p0, yaw0 = _scripted_trial(np.array(v, float))
    pos, yaw_err = b4_errors(xy, yaw, p0, yaw0, np.array(v, float), 250)
    assert pos == pytest.approx(0.0, abs=1e-9) and yaw_err == pytest.approx(0.0, abs=1e-9)


def test_b4_scores_a_drifting_trajectory_at_its_known_error():
    # stops 0.12 m long and 0.05 m to the left of the reference, turned by 0.08 rad
    v = np.array([0.3, 0.0, 0.0])
    xy, yaw, p0, yaw0 = _scripted_trial(v, drift=(0.12, 0.05, 0.08))
    pos, yaw_err = b4_errors(xy, yaw, p0, yaw0, v, 250)
    assert pos == pytest.approx(math.hypot(0.12, 0.05), abs=1e-9) and yaw_err == pytest.approx(0.08, abs=1e-9)
    # a turn that overshoots by 0.1 rad across the +-pi seam is still 0.1 rad
    v = np.array([0.0, 0.0, 0.3])
    xy, yaw, p0, yaw0 = _scripted_trial(v, drift=(0.0, 0.0, 0.1), yaw0=math.pi - 1.6)
    assert b4_errors(xy, yaw, p0, yaw0, v, 250)[1] == pytest.approx(0.1, abs=1e-9)


def test_b4_errors_reject_bad_shapes():
    with pytest.raises(ValueError, match="T > active_steps"):
        b4_errors(np.zeros((10, 2)), np.zeros(10), np.zeros(2), 0.0, np.zeros(3), 10)
    with pytest.raises(ValueError, match=r"xy \(T, 2\)"):
        b4_errors(np.zeros((10, 3)), np.zeros(10), np.zeros(2), 0.0, np.zeros(3), 5)


def test_protocol_smoke_with_a_random_policy(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _, lmo = tiny_policy(tmp_path / "a", "lmo")
    _, vel = tiny_policy(tmp_path / "b", "velocity")
    out = evaluate(EvalConfig(policies={"LMO": lmo, "velocity_baseline": vel}, smoke=True))
    for name in ("LMO", "velocity_baseline"):
        r = out[name]
        fell = 0
        for prim in ("forward", "lateral", "turning"):
            p = r[prim]
            assert p["trials"] == 2 and p["ok_trials"] + p["falls"] == 2
            # errors are averaged over the trials that did not fall (NaN when all fell)
            assert (p["ok_trials"] == 0) == math.isnan(p["pos_err"])
            fell += p["falls"]
        sway = r["com_sway"]
        for posture in ("standing", "squatting"):
            assert sway[f"{posture}_ok_trials"] + sway[f"{posture}_falls"] == 2
            assert (sway[f"{posture}_ok_trials"] == 0) == math.isnan(sway[posture])
            fell += sway[f"{posture}_falls"]
        assert r["falls"] == fell and r["total_trials"] == 10
        for key in ("stand", "stand_arms"):
            st = r[key]
            assert st["trials"] == 2 and st["seconds"] == 1.0
            # CoM sway and final height over the stands that did not fall, a fall time over those that did
            assert (st["falls"] == 2) == math.isnan(st["final_height"]) == math.isnan(st["com_sway"])
            assert (st["falls"] == 0) == math.isnan(st["mean_fall_time_s"])
            assert math.isnan(st["final_height"]) or 0.35 < st["final_height"] < 1.0
        assert r["stand"]["arms"] != r["stand_arms"]["arms"]
        assert set(r["stance_height"]) == {"0.530", "0.590", "0.655"}  # reported apart from the B.4 falls
        for h, st in r["stance_height"].items():
            assert st["trials"] == 1 and (st["falls"] == 1) == math.isnan(st["error"])
            assert math.isnan(st["error"]) or st["error"] == pytest.approx(abs(st["height"] - float(h)))
    assert out["paper"]["LMO"] == PAPER_TABLE3["LMO"] and "LMO_no_eq3" not in out["paper"]
    assert out["protocol"]["trials"] == 2 and out["policy_files"] == {"LMO": "lmo.onnx", "velocity_baseline": "velocity.onnx"}


class _FallingSim:
    """Stands still, then falls after ``fall_after`` policy steps of the trial (pre-roll included)."""

    def __init__(self, fall_after: int):
        self.fall_after, self.steps, self.data = fall_after, 0, None
        self.ctrl = self

    def reset(self, rng, noise):
        self.steps = 0

    def command(self, axis, sign, speed, height):
        return np.zeros(4)

    def step(self, data, u):
        self.steps += 1

    def pose(self):
        return np.zeros(2), 0.0

    def fallen(self):
        return self.steps >= self.fall_after


def test_trial_trace_runs_up_to_the_fall():
    """The trace of a trial that falls holds every step up to the fall (notebook 09 plotted nothing:
    the trace was dropped whenever the trial fell)."""
    from wbvla.lmo.evaluation import locomotion_trial

    cfg = EvalConfig(smoke=False)  # pre-roll 1 s = 50 steps, then 5 s active
    trace: list = []
    assert locomotion_trial(_FallingSim(50 + 60), cfg, 0, 1.0, np.random.default_rng(0), trace) == {"fell": True}
    arr = np.array(trace)
    assert arr.shape == (60, 4) and arr[-1, 0] == pytest.approx(60 * 0.02)
    # it never moved: the position error is the commanded speed times the elapsed time
    np.testing.assert_allclose(np.abs(arr[:, 1]), cfg.speed * arr[:, 0], atol=1e-9)
    trace.clear()
    assert locomotion_trial(_FallingSim(10), cfg, 0, 1.0, np.random.default_rng(0), trace) == {"fell": True}
    assert trace == []  # fell in the pre-roll: nothing to trace


def test_figures_draw_falls_and_every_policy():
    import matplotlib

    matplotlib.use("Agg")
    from wbvla.lmo.eval_figures import evaluation_figure, trials_figure

    t = np.arange(1, 61) * 0.02
    fell = np.column_stack([t, 0.3 * t, 0 * t, 0 * t])
    fig = trials_figure({"LMO": {"forward": fell, "lateral": fell, "turning": np.zeros((0, 4))}}, 5.0, 10.0, 0.3)
    axes = fig.axes
    assert [a.get_title() for a in axes] == ["forward / backward: 0.3 m/s for 5 s", "lateral: 0.3 m/s for 5 s",
                                             "turning: 0.3 rad/s for 5 s"]
    assert "LMO: fell at 1.2 s" in [x.get_text() for x in axes[0].texts]
    assert "LMO: fell in the pre-roll" in [x.get_text() for x in axes[2].texts]
    assert all(len(a.lines) >= 2 for a in axes[:2]) and fig.legends
    prim = {"pos_err": 0.2, "yaw_err": 0.1, "trials": 4, "falls": 0, "ok_trials": 4}
    gone = {"pos_err": None, "yaw_err": None, "trials": 4, "falls": 4, "ok_trials": 0}
    sway = {"standing": 0.03, "squatting": None, "standing_falls": 1, "standing_ok_trials": 3, "squatting_falls": 4,
            "squatting_ok_trials": 0}
    results = {"LMO": {"forward": prim, "lateral": prim, "turning": gone, "com_sway": sway},
               "paper": {"LMO": PAPER_TABLE3["LMO"]}}
    fig = evaluation_figure(results)
    pos, yaw, sway_ax, falls = fig.axes
    assert len(pos.patches) == 2 * 3 and len(sway_ax.patches) == 2 * 2  # ours + the paper's
    assert [x.get_text() for x in pos.texts] == ["all fell"] and [x.get_text() for x in sway_ax.texts] == ["all fell"]
    assert [round(p.get_height(), 2) for p in falls.patches] == [0, 0, 1, 0.25, 1]
    assert [x.get_text() for x in falls.texts] == ["0", "0"]  # zero bars are written out
    assert len(fig.legends) == 1 and not any(a.get_legend() for a in fig.axes)


def test_moved_in_active_phase_and_first_walking_hand_values():
    import math

    from wbvla.lmo.evaluation import first_walking, moved_in_active_phase

    # start at (1, 2) facing +y (yaw pi/2); 10 active steps; ends 1.2 m further along +y, 0.1 m to -x
    xy = np.array([[1.0, 2.0]] * 9 + [[0.9, 3.2]] + [[0.0, 0.0]] * 5)
    yaw = np.array([math.pi / 2] * 9 + [math.pi / 2 + 0.4] + [0.0] * 5)
    assert moved_in_active_phase(xy, yaw, np.array([1.0, 2.0]), math.pi / 2, 0, 1.0, 10) == pytest.approx(1.2)
    assert moved_in_active_phase(xy, yaw, np.array([1.0, 2.0]), math.pi / 2, 0, -1.0, 10) == pytest.approx(-1.2)
    assert moved_in_active_phase(xy, yaw, np.array([1.0, 2.0]), math.pi / 2, 1, 1.0, 10) == pytest.approx(0.1)  # left of +y is -x
    assert moved_in_active_phase(xy, yaw, np.array([1.0, 2.0]), math.pi / 2, 2, 1.0, 10) == pytest.approx(0.4)
    # a 3.5 rad turn (0.7 rad/s for 5 s) is reported as 3.5, not wrapped to 3.5 - 2 pi
    spin = wrap_angle(0.1 + np.linspace(0.0, 3.5, 251)[1:])
    assert moved_in_active_phase(np.zeros((250, 2)), spin, np.zeros(2), 0.1, 2, 1.0, 250) == pytest.approx(3.5)
    assert moved_in_active_phase(np.zeros((250, 2)), spin, np.zeros(2), 0.1, 2, -1.0, 250) == pytest.approx(-3.5)
    ok = {"trials": 20, "falls": 0, "pos_err": 0.3, "yaw_err": 0.1}
    res = {"forward": ok, "lateral": ok | {"pos_err": 0.6}, "turning": ok | {"yaw_err": 0.5}}
    fw = first_walking(res)
    assert [fw["checks"][k]["ok"] for k in ("forward", "lateral", "turning")] == [True, False, True]
    assert not fw["walks"]
    assert first_walking(res | {"lateral": ok})["walks"]
    assert not first_walking(res | {"lateral": ok | {"falls": 1}})["walks"]
    assert not first_walking(res | {"lateral": ok}, trials=21)["walks"]


def test_height_trial_reports_the_error_to_the_commanded_stance():
    """A policy that ignores h* (the shipped s5 LMO stood at 0.649 m when asked for 0.53) shows a
    0.12 m error; one that squats shows a small one. A controller stub holds the pelvis at a set height."""
    from wbvla.lmo.evaluation import height_trial
    from wbvla.lmo.job_config import EvalConfig

    class _Hold:
        def __init__(self, z):
            self.z, self.data, self.idx = z, type("D", (), {})(), type("I", (), {"base_qpos": 0})()
            self.data.qpos = np.zeros(7)
            self.ctrl = self

        def reset(self, rng, noise):
            self.data.qpos[2] = 0.65

        def command(self, axis, sign, speed, height):
            return np.array([0, 0, 0, height], np.float32)

        def step(self, data, u):
            data.qpos[2] = self.z if self.z is not None else float(u[3])

        def fallen(self):
            return False

    cfg = EvalConfig(trials=1).resolved()
    rng = np.random.default_rng(0)
    ignores = height_trial(_Hold(0.649), cfg, 0.53, rng)
    assert ignores["error"] == pytest.approx(0.119) and not ignores["fell"]
    assert height_trial(_Hold(None), cfg, 0.53, rng)["error"] == pytest.approx(0.0, abs=1e-6)
