"""The scripted expert's approach for a physics LMO: one axis at a time, a stop between pulses.

On the kinematic ideal base a flag moves the base exactly along Eq. 2's reference, so the expert
may set several flags at once and change them every tick (:meth:`ScriptedExpert._navigate
<wbvla.tasks.expert.ScriptedExpert._navigate>`, ``navigation="reference"``). The physics LMO was
trained on one-axis segments of 2-6 s, each followed by a stop (:class:`~wbvla.lmo.config.CommandConfig`:
``active_s``, ``stop_s``, ``p_multi_axis`` 0.1); under the expert's multi-axis commands that flip
every ~0.6 s it barely walks and fell in 8 of 15 suite trials (issue 22). Measured with
``tools/lmo_pulse_response.py`` on the shipped LMO (raised arms, 3 trials each): one-axis pulses of
0.3-5 s never fell, but how far a pulse goes varies with axis and sign and comes with drift on the
other axes, so the approach re-measures after every pulse.

:func:`pulse_navigation` (``navigation="pulses"``) is that approach, as a generator of flags (one per
10 Hz tick):

1. pick the axis: turning while the heading error exceeds ``turn_first``; else the axis whose error
   is the most tolerances off;
2. hold its flag until what is left on that axis, less what the base will still move after a
   release, is within half the tolerance (at least ``min_pulse_s``). What it still moves is what
   Eq. 2's reference still travels (the LMO tracks the reference) plus a correction learned from the
   pulses so far on that axis and sign (:class:`SettleCorrection`): measured on the shipped LMO, a
   0.5 s forward pulse moved the pelvis 6 cm and the stop after it 6 cm back, so without the
   correction short pulses went nowhere;
3. release and stand until the base is still (``still_speed`` over ``still_window_s``, at least
   ``settle_min_s``, at most ``settle_max_s``);
4. repeat until every axis is within its tolerance, still.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from wbvla.validation import positive, require

TICK_S = 0.1
"""The expert's tick (s)."""


@dataclass
class PulseNavigationConfig:
    """How the expert approaches a stance on a physics LMO (``ExpertConfig.navigation="pulses"``)."""

    tol_xy: float = 0.05
    """Position tolerance of the stance (m); the reference approach's is 0.015, which the physics
    LMO cannot resolve (a 0.3 s pulse moves it 0-6 cm; standing, it drifts a few cm). The arms make
    up the rest (``ExpertConfig.track_bar``)."""
    tol_yaw: float = 0.1
    """Heading tolerance (rad)."""
    turn_first: float = 0.25
    """With a heading error above this (rad) it turns before translating."""
    min_pulse_s: float = 0.3
    """Shortest pulse (s): shorter ones do not start a step."""
    max_pulse_s: float = 8.0
    """Longest pulse (s); then it stops and re-measures."""
    settle_min_s: float = 0.8
    """Shortest stand between pulses (s): the LMO was trained with a stop after every segment."""
    settle_max_s: float = 3.0
    """Longest wait for the base to come still (s)."""
    still_speed: float = 0.05
    """Still: the pose error changes slower than this (m/s; rad/s for the heading) ..."""
    still_window_s: float = 0.5
    """... over this long."""

    def __post_init__(self) -> None:
        for name in ("tol_xy", "tol_yaw", "turn_first", "min_pulse_s", "max_pulse_s", "settle_min_s", "settle_max_s",
                     "still_speed", "still_window_s"):
            positive(name, getattr(self, name))
        require(self.min_pulse_s <= self.max_pulse_s, f"min_pulse_s ({self.min_pulse_s}) must be <= max_pulse_s ({self.max_pulse_s})")
        require(self.settle_min_s <= self.settle_max_s,
                f"settle_min_s ({self.settle_min_s}) must be <= settle_max_s ({self.settle_max_s})")

    @property
    def tolerance(self) -> np.ndarray:
        """(x, y, yaw) tolerances (3,)."""
        return np.array([self.tol_xy, self.tol_xy, self.tol_yaw])


class SettleCorrection:
    """What the base moved after releasing a pulse beyond what the reference predicted, per axis and
    sign (progress toward the target: positive = further), as an exponential average of the pulses
    so far (``rate``: weight of the newest)."""

    def __init__(self, rate: float = 0.5, limit: float = 0.3):
        self.rate, self.limit = rate, limit
        self.value = np.zeros((3, 2))  # (axis, sign +/-)

    def get(self, axis: int, sign: float) -> float:
        return float(self.value[axis, 0 if sign > 0 else 1])

    def update(self, axis: int, sign: float, measured: float) -> None:
        """Blend in one pulse's measured extra progress after its release (clipped to +-``limit``)."""
        j = 0 if sign > 0 else 1
        self.value[axis, j] += self.rate * (float(np.clip(measured, -self.limit, self.limit)) - self.value[axis, j])


def choose_axis(err: np.ndarray, cfg: PulseNavigationConfig) -> int | None:
    """The axis to move next for the stance error ``err`` = (dx, dy, dyaw) in the base frame, or None
    when every axis is within its tolerance."""
    if abs(err[2]) > cfg.turn_first:
        return 2
    over = np.abs(err) / cfg.tolerance  # (3,) tolerances off
    axis = int(np.argmax(over))
    return axis if over[axis] > 1.0 else None


def pulse_navigation(error: Callable[[], np.ndarray], coast: Callable[[], np.ndarray], cfg: PulseNavigationConfig,
                     timeout_s: float) -> Iterator[np.ndarray]:
    """Flags (3,) per tick that bring the stance error ``error()`` within tolerance; returns True once
    it is, still, or False after ``timeout_s``.

    ``error()``: (dx, dy, dyaw) from the pelvis to the target stance, in the base frame, now;
    ``coast()``: what Eq. 2's reference still travels per axis if every flag is released now."""
    tol = cfg.tolerance
    correction = SettleCorrection()
    last: tuple[int, float, float, float] | None = None  # (axis, sign, error at release, predicted coast)
    window = deque(maxlen=max(2, round(cfg.still_window_s / TICK_S) + 1))
    ticks, limit = 0, round(timeout_s / TICK_S)

    def still() -> bool:
        if len(window) < window.maxlen:
            return False
        span = np.abs(window[-1] - window[0]) / (TICK_S * (len(window) - 1))  # (3,)
        return bool(np.all(span < cfg.still_speed))

    while ticks < limit:
        # Stand until still (a stop after every pulse, as in training).
        window.clear()
        for k in range(round(cfg.settle_max_s / TICK_S)):
            window.append(error())
            if k * TICK_S >= cfg.settle_min_s and still():
                break
            if ticks >= limit:
                return False
            ticks += 1
            yield np.zeros(3)
        err = error()
        if last is not None:  # learn how far the base went after the last release, beyond the reference
            ax, sg, at_release, predicted = last
            correction.update(ax, sg, sg * (at_release - err[ax]) - predicted)
        axis = choose_axis(err, cfg)
        if axis is None:
            return True
        sign = float(np.sign(err[axis]))
        flags = np.zeros(3)
        flags[axis] = sign
        for k in range(round(cfg.max_pulse_s / TICK_S)):
            ticks += 1
            yield flags
            e, glide = error()[axis], sign * coast()[axis]
            left = sign * e - glide - correction.get(axis, sign)  # what is left once the base has stopped
            if ((k + 1) * TICK_S >= cfg.min_pulse_s and left <= 0.5 * tol[axis]) or ticks >= limit:
                break
        last = (axis, sign, e, glide)
    return False
