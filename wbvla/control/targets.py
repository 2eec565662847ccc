"""Joint ranges and rate limits of the control tick: every target the actuators get passes here.

Ranges come from the joint table (:mod:`wbvla.sim.joints`, the single source of truth); rates
from :class:`~wbvla.control.config.SafetyConfig`.

* :class:`TargetFilter`: every target is clamped to its range and moves at most ``rate * period``
  per tick from the last output (the last stage before the backend);
* :func:`jump_violations`: the definition of a "jump", asserted on the backend's input by the
  tests: a target out of range, a target step above ``rate * period``, a non-finite value, a
  flag outside {-1, 0, 1}, an h* step above ``height_rate * period``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wbvla.control.config import SafetyConfig
from wbvla.sim.joints import default_pose, group_slice, limits

LEGS, WAIST, ARMS, GRIPPERS = (group_slice(g) for g in ("legs", "waist", "arms", "grippers"))
N_JOINTS = 29
FLAGS = slice(0, 3)
HEIGHT = 3
EPS = 1e-6
"""Float slack of the range / rate checks (targets travel as float32)."""


@dataclass(frozen=True)
class JointLimits:
    """Per-joint position ranges (29,) from the joint table and rates (29,) from the safety config."""

    lower: np.ndarray
    upper: np.ndarray
    rate: np.ndarray
    """Largest target speed per joint (rad/s or m/s)."""

    @classmethod
    def from_config(cls, cfg: SafetyConfig) -> JointLimits:
        lo, hi = limits()
        rate = np.zeros(N_JOINTS)
        rate[LEGS], rate[WAIST], rate[ARMS], rate[GRIPPERS] = cfg.leg_rate, cfg.arm_rate, cfg.arm_rate, cfg.gripper_rate
        return cls(lo, hi, rate)


def step_toward(current: np.ndarray, desired: np.ndarray, max_step: np.ndarray | float) -> np.ndarray:
    """Move ``current`` toward ``desired`` by at most ``max_step`` per element."""
    return current + np.clip(desired - current, -max_step, max_step)


class TargetFilter:
    """The last stage before the actuators: clamp to range, then rate-limit from the last output.

    Holds the last output (29 joint targets and h*), so a new command, a mode change or a
    watchdog ramp can never make a target jump.
    """

    def __init__(self, cfg: SafetyConfig, period_s: float, lim: JointLimits | None = None):
        self.cfg, self.period = cfg, period_s
        self.lim = lim or JointLimits.from_config(cfg)
        self.q = default_pose()
        self.h = cfg.nominal_height

    def reset(self, q_measured: np.ndarray, h_measured: float) -> None:
        """Start from the measured pose (clamped into range), so the first target equals reality."""
        q = np.asarray(q_measured, np.float64)
        q = np.where(np.isfinite(q), q, default_pose())  # a broken sensor never seeds a target
        self.q = np.clip(q, self.lim.lower, self.lim.upper)
        self.h = float(np.clip(h_measured, *self.cfg.height_range)) if np.isfinite(h_measured) else self.cfg.nominal_height

    def upper(self, arm: np.ndarray, grippers: np.ndarray, h: float, arm_rate: float | None = None) -> None:
        """Advance the arm, gripper and h* targets one tick toward the desired values."""
        step = self.lim.rate * self.period
        if arm_rate is not None:
            step = step.copy()
            step[ARMS] = min(arm_rate, self.cfg.arm_rate) * self.period
        for sl, want in ((ARMS, arm), (GRIPPERS, grippers)):
            want = np.clip(want, self.lim.lower[sl], self.lim.upper[sl])
            self.q[sl] = np.clip(step_toward(self.q[sl], want, step[sl]), self.lim.lower[sl], self.lim.upper[sl])
        h = float(np.clip(h, *self.cfg.height_range))
        self.h = float(step_toward(np.array(self.h), np.array(h), self.cfg.height_rate * self.period))

    def legs(self, legs: np.ndarray) -> bool:
        """Advance the leg targets toward the LMO's output (clamped, rate-limited backstop).
        A non-finite output (a broken policy or sensor) is not followed: the legs hold; returns False."""
        legs = np.asarray(legs, np.float64)
        if not np.all(np.isfinite(legs)):
            return False
        want = np.clip(legs, self.lim.lower[LEGS], self.lim.upper[LEGS])
        self.q[LEGS] = np.clip(step_toward(self.q[LEGS], want, self.lim.rate[LEGS] * self.period),
                               self.lim.lower[LEGS], self.lim.upper[LEGS])
        return True

    def waist(self, waist: np.ndarray) -> None:
        want = np.clip(waist, self.lim.lower[WAIST], self.lim.upper[WAIST])
        self.q[WAIST] = step_toward(self.q[WAIST], want, self.lim.rate[WAIST] * self.period)


def jump_violations(q: np.ndarray, u: np.ndarray, q_prev: np.ndarray | None, u_prev: np.ndarray | None,
                    cfg: SafetyConfig, period_s: float, kind: str = "flags", lim: JointLimits | None = None) -> list[str]:
    """What is wrong with one tick's backend input (targets ``q`` (29,), command ``u`` (4,)), given
    the previous tick's; an empty list means "no jump". The definition the tests assert on."""
    lim = lim or JointLimits.from_config(cfg)
    out = []
    if not (np.all(np.isfinite(q)) and np.all(np.isfinite(u))):
        return ["non-finite target"]
    bad = np.flatnonzero((q < lim.lower - EPS) | (q > lim.upper + EPS))
    out += [f"joint {j} target {q[j]:.4f} out of range" for j in bad]
    if kind == "flags" and not np.all(np.isin(u[FLAGS], (-1.0, 0.0, 1.0))):
        out.append(f"flags {u[FLAGS].tolist()} not in {{-1, 0, 1}}")
    h_lo, h_hi = cfg.height_range
    if not h_lo - EPS <= u[HEIGHT] <= h_hi + EPS:
        out.append(f"h* {u[HEIGHT]:.4f} out of range")
    if q_prev is not None:
        over = np.flatnonzero(np.abs(q - q_prev) > lim.rate * period_s * 1.0001 + EPS)
        out += [f"joint {j} step {q[j] - q_prev[j]:+.4f} > {lim.rate[j] * period_s:.4f}" for j in over]
    if u_prev is not None and abs(u[HEIGHT] - u_prev[HEIGHT]) > cfg.height_rate * period_s * 1.0001 + EPS:
        out.append(f"h* step {u[HEIGHT] - u_prev[HEIGHT]:+.4f}")
    return out


def is_stand(u: np.ndarray) -> bool:
    """The stand command: all three locomotion components zero (flags or velocities)."""
    return bool(np.all(np.asarray(u)[FLAGS] == 0.0))
