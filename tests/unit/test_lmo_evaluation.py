"""Eq. 5 (CoM sway) by hand, the App. B.4 arm stream, and a smoke run of the whole protocol."""

import math

import numpy as np
import pytest
from lmo_helpers import tiny_policy

from wbvla.lmo.evaluation import PAPER_TABLE3, ArmReplay, com_sway, evaluate, wrap
from wbvla.lmo.job_config import EvalConfig


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


def test_wrap():
    assert wrap(3 * math.pi / 2) == pytest.approx(-math.pi / 2)
    assert wrap(-0.1) == pytest.approx(-0.1)


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


def test_protocol_smoke_with_a_random_policy(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _, lmo = tiny_policy(tmp_path / "a", "lmo")
    _, vel = tiny_policy(tmp_path / "b", "velocity")
    out = evaluate(EvalConfig(policies={"LMO": lmo, "velocity_baseline": vel}, smoke=True))
    for name in ("LMO", "velocity_baseline"):
        r = out[name]
        for prim in ("forward", "lateral", "turning"):
            assert set(r[prim]) >= {"pos_err", "yaw_err", "pos_std", "yaw_std", "falls", "trials"}
            assert r[prim]["trials"] == 2
        assert {"standing", "squatting"} <= set(r["com_sway"])
        assert 0 <= r["falls"] <= r["total_trials"] == 10
    assert out["paper"]["LMO"] == PAPER_TABLE3["LMO"]
    assert out["protocol"]["trials"] == 2
