"""The expert's pulse approach for a physics LMO (``ExpertConfig.navigation="pulses"``): one axis at a
time, a stop between pulses, the settle-back learned; the config switch by backend."""

import numpy as np
import pytest

from wbvla.tasks.expert import ExpertConfig, expert_config_for
from wbvla.tasks.expert_pulses import (
    TICK_S,
    PulseNavigationConfig,
    SettleCorrection,
    choose_axis,
    pulse_navigation,
)


class ToyBase:
    """A base that moves 0.3 per second along each flagged axis and, on every release, moves
    ``back`` against the direction it went (the settle-back measured on the physics LMO)."""

    def __init__(self, target, back: float = 0.0):
        self.pose, self.target, self.back = np.zeros(3), np.asarray(target, float), back
        self.last, self.flags_seen = np.zeros(3), []

    def error(self) -> np.ndarray:
        return self.target - self.pose

    def apply(self, flags: np.ndarray) -> None:
        released = (self.last != 0) & (flags == 0)
        self.pose += 0.3 * TICK_S * flags - self.back * self.last * released
        self.last = flags.copy()
        self.flags_seen.append(flags.copy())


def _drive(base: ToyBase, cfg: PulseNavigationConfig, timeout_s: float = 60.0) -> bool:
    nav = pulse_navigation(base.error, lambda: np.zeros(3), cfg, timeout_s)
    try:
        while True:
            base.apply(next(nav))
    except StopIteration as done:
        return done.value


def test_choose_axis_turns_first_then_the_axis_most_tolerances_off():
    cfg = PulseNavigationConfig(tol_xy=0.05, tol_yaw=0.1, turn_first=0.25)
    assert choose_axis(np.array([1.0, 0.0, 0.3]), cfg) == 2  # heading error above turn_first
    assert choose_axis(np.array([0.2, 0.3, 0.2]), cfg) == 1  # 6 tolerances off beats 4 and 2
    assert choose_axis(np.array([0.04, -0.04, 0.09]), cfg) is None  # all within tolerance


def test_pulses_reach_the_stance_one_axis_at_a_time_with_a_stop_between():
    base = ToyBase([0.6, -0.2, 0.0])
    cfg = PulseNavigationConfig()
    assert _drive(base, cfg)
    assert np.all(np.abs(base.error()) <= cfg.tolerance)
    flags = np.array(base.flags_seen)
    assert np.all((flags != 0).sum(axis=1) <= 1)  # never two axes at once
    # every pulse is followed by at least settle_min_s of standing
    runs, k = [], 0
    while k < len(flags):
        j = k
        while j < len(flags) and (flags[j] != 0).any() == (flags[k] != 0).any():
            j += 1
        runs.append(((flags[k] != 0).any(), j - k))
        k = j
    stops_after_pulses = [n for i, (moving, n) in enumerate(runs) if not moving and i > 0]
    assert stops_after_pulses and min(stops_after_pulses) * TICK_S >= cfg.settle_min_s - 1e-9


def test_the_settle_back_is_learned_so_short_pulses_still_make_progress():
    """A base that steps back 9 cm on every release (the shipped LMO stepped back 6 cm after 0.5 s
    forward pulses): without the learned correction every pulse would end 9 cm short, forever."""
    base = ToyBase([0.3, 0.0, 0.0], back=0.09)
    assert _drive(base, PulseNavigationConfig(), timeout_s=60.0)
    assert abs(base.error()[0]) <= 0.05


def test_it_gives_up_after_the_timeout():
    base = ToyBase([5.0, 0.0, 0.0])
    assert not _drive(base, PulseNavigationConfig(max_pulse_s=1.0), timeout_s=4.0)
    assert len(base.flags_seen) <= round(4.0 / TICK_S) + 1


def test_settle_correction_averages_per_axis_and_sign_and_clips():
    c = SettleCorrection(rate=0.5, limit=0.3)
    c.update(0, 1.0, -0.06)
    assert c.get(0, 1.0) == pytest.approx(-0.03) and c.get(0, -1.0) == 0.0 and c.get(1, 1.0) == 0.0
    c.update(0, 1.0, -0.06)
    assert c.get(0, 1.0) == pytest.approx(-0.045)
    c.update(2, -1.0, 5.0)
    assert c.get(2, -1.0) == pytest.approx(0.15)  # clipped to 0.3, half of it blended in


def test_expert_config_by_backend_and_validation():
    ideal, lmo = expert_config_for("ideal_base"), expert_config_for("lmo")
    assert (ideal.navigation, ideal.track_bar, ideal.raise_arms_at) == ("reference", False, "start")
    assert (lmo.navigation, lmo.track_bar, lmo.raise_arms_at) == ("pulses", True, "stance")
    assert expert_config_for("velocity_rl").navigation == "pulses"
    assert expert_config_for("lmo", navigation="reference").navigation == "reference"  # fields override
    with pytest.raises(ValueError, match="navigation"):
        ExpertConfig(navigation="teleport")
    with pytest.raises(ValueError, match="raise_arms_at"):
        ExpertConfig(raise_arms_at="never")
    with pytest.raises(ValueError, match="min_pulse_s"):
        PulseNavigationConfig(min_pulse_s=2.0, max_pulse_s=1.0)
