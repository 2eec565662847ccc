"""The lag ring buffer behind Table 5's action / DOF / IMU lags."""

import pytest
import torch

from wbvla.lmo.proprio import FRAME_DIM, OBS_JOINTS, OBS_TERMS, LagBuffer, obs_dim


def test_lag_returns_the_value_pushed_lag_steps_ago():
    buf = LagBuffer(num_envs=3, dim=1, max_lag=4)
    buf.set_lag(torch.tensor([0, 2, 4]))
    buf.fill(torch.zeros(3, 1))
    for t in range(1, 11):
        buf.push(torch.full((3, 1), float(t)))
        got = buf.get()[:, 0].tolist()
        assert got == [t, max(t - 2, 0), max(t - 4, 0)]


def test_fill_resets_history_of_selected_envs_only():
    buf = LagBuffer(2, 2, max_lag=3)
    buf.set_lag(torch.tensor([3, 3]))
    for t in range(5):
        buf.push(torch.full((2, 2), float(t)))
    buf.fill(torch.tensor([[9.0, 9.0]]), torch.tensor([1]))
    assert buf.get().tolist() == [[1.0, 1.0], [9.0, 9.0]]
    buf.push(torch.full((2, 2), 5.0))
    assert buf.get()[1].tolist() == [9.0, 9.0]  # still 3 pushes ago -> the filled value


def test_sampled_lags_stay_in_range():
    torch.manual_seed(0)
    buf = LagBuffer(500, 1, max_lag=10)
    buf.sample_lag(1, 10)
    assert buf.lag.min().item() == 1 and buf.lag.max().item() == 10


def test_bad_lags_raise():
    buf = LagBuffer(2, 1, max_lag=2)
    with pytest.raises(ValueError, match="lags must be in"):
        buf.set_lag(torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="max_lag"):
        LagBuffer(1, 1, max_lag=-1)


def test_observation_layout():
    assert [n for n, _ in OBS_TERMS] == ["command", "base_ang_vel", "projected_gravity", "joint_pos", "joint_vel", "last_action"]
    assert len(OBS_JOINTS) == 27 and FRAME_DIM == 76 and obs_dim(5) == 380


def test_restitution_to_damping_ratio_hand_values():
    import math

    from wbvla.lmo.dr_model import restitution_to_damping_ratio

    # zeta = -ln e / sqrt(pi^2 + ln^2 e): e = 0 -> critically damped; zeta = 0.5 <-> e = exp(-pi/sqrt(3))
    e_half = math.exp(-0.5 * math.pi / math.sqrt(0.75))
    z = restitution_to_damping_ratio(torch.tensor([0.0, e_half, 1.0]), min_ratio=0.1)
    assert z.tolist() == pytest.approx([1.0, 0.5, 0.1], abs=1e-5)
