"""The Eq. 2-shaped velocity reference of a stream of flag commands, as a small stateful object.

The ideal base realizes it, the closed-loop runner logs it (the ``reference_velocity`` column of
the teleoperation data) and converts flags to velocities for the velocity-tracking baseline, and
the scripted expert uses it to predict how far the base still travels after it releases a flag.
All of them step the same :class:`VelocityReference`, which calls the pure functions of
:mod:`wbvla.lmo.shaping` with the parameters of a :class:`wbvla.lmo.config.CommandConfig`
(its ``reference_form``, ``alpha``, ``smoothing`` and ``cruise`` speeds), so the shaping is
implemented once and its form is always read from the config.
"""

from __future__ import annotations

import numpy as np
import torch

from wbvla.lmo.config import CommandConfig
from wbvla.lmo.shaping import reference_velocity, smooth_flags
from wbvla.sim.robot import POLICY_DT


class VelocityReference:
    """s_bar and v_ref of Eq. 2 for one robot, updated once per 50 Hz control step.

    ``step(flags)`` applies the smoother, then returns v_ref = (v_x, v_y, w_z) in the base
    (heading) frame: m/s, m/s, rad/s, with the goal speeds v_goal = ``config.cruise``.
    """

    def __init__(self, config: CommandConfig | None = None):
        self.config = config or CommandConfig()
        self._v_goal = torch.tensor(self.config.cruise, dtype=torch.float64)
        self.s_bar = np.zeros(3)
        self.flags = np.zeros(3)
        self.v_ref = np.zeros(3)

    def reset(self) -> None:
        self.s_bar[:] = 0.0
        self.flags[:] = 0.0
        self.v_ref[:] = 0.0

    def _reference(self, s: np.ndarray, s_bar: np.ndarray) -> np.ndarray:
        c = self.config
        v = reference_velocity(torch.from_numpy(s), torch.from_numpy(s_bar), self._v_goal, c.alpha, c.reference_form)
        return v.numpy()

    def step(self, flags: np.ndarray) -> np.ndarray:
        """One control step with ``flags`` (3,) in {-1, 0, 1}; returns v_ref (3,)."""
        flags = np.asarray(flags, dtype=np.float64)
        if flags.shape != (3,) or not np.all(np.isin(flags, (-1.0, 0.0, 1.0))):
            raise ValueError(f"flags must be 3 values in {{-1, 0, 1}} (s_x, s_y, s_yaw), got {flags!r}")
        # Eq. 2:  s_bar <- (1 - lambda) s_bar + lambda s   (then v_ref from s and s_bar)
        self.s_bar = smooth_flags(self.s_bar, flags, self.config.smoothing)
        self.flags = flags.copy()
        self.v_ref = self._reference(flags, self.s_bar)
        return self.v_ref.copy()

    def coast(self, flags: np.ndarray | None = None, horizon_s: float = 4.0) -> np.ndarray:
        """Base-frame displacement (dx, dy, dyaw) still to come if ``flags`` (default: all 0)
        were held from now on for ``horizon_s`` seconds, without changing this object's state.

        With zero flags this is the stopping distance of the shaped reference: how far the base
        keeps going after a flag is released (the scripted expert releases flags this early).
        The x/y parts ignore the turn over the horizon (they are per-axis travel).
        """
        flags = np.zeros(3) if flags is None else np.asarray(flags, dtype=np.float64)
        k = np.arange(1, round(horizon_s / POLICY_DT) + 1)[:, None]  # (K, 1) future steps
        # Eq. 2's smoother with s held: s_bar_k = s + (s_bar_0 - s) (1 - lambda)^k   (K, 3)
        s_bar = flags + (self.s_bar - flags) * (1.0 - self.config.smoothing) ** k
        v = self._reference(np.broadcast_to(flags, s_bar.shape).copy(), s_bar)  # (K, 3)
        return v.sum(axis=0) * POLICY_DT
