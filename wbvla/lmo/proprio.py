"""Proprioception in training, without mjlab: the lag ring buffer of Table 5's sensor/action
delays, the training noise per term, and the observation layout (defined in
:mod:`wbvla.lmo.obs_layout`, which the robot side reads without torch)."""

from __future__ import annotations

import torch

from wbvla.lmo.obs_layout import FRAME_DIM, OBS_JOINTS, OBS_TERMS, obs_dim  # noqa: F401  (the layout, for training)
from wbvla.sim.joints import default_pose, joint_names

NOISE = {"base_ang_vel": 0.2, "projected_gravity": 0.05, "joint_pos": 0.01, "joint_vel": 1.5}
"""Half-widths of the uniform training noise per term (mjlab's velocity-task values)."""


def default_obs_joint_pos() -> torch.Tensor:
    order = {n: i for i, n in enumerate(joint_names())}
    q = default_pose()
    return torch.tensor([q[order[n]] for n in OBS_JOINTS], dtype=torch.float32)


class LagBuffer:
    """Per-environment fixed-lag ring buffer: ``get()`` returns what was pushed ``lag`` pushes ago.

    One instance per delayed signal. ``push`` is called once per physics step (lags count physics
    steps); ``fill`` makes a freshly reset environment's whole history equal to its current value,
    so a new episode never sees the previous one.
    """

    def __init__(self, num_envs: int, dim: int, max_lag: int, device: str = "cpu"):
        if max_lag < 0:
            raise ValueError(f"max_lag must be >= 0, got {max_lag}")
        self.size = max_lag + 1
        self.max_lag = max_lag
        self.buffer = torch.zeros(num_envs, self.size, dim, device=device)  # (N, L+1, D)
        self.lag = torch.zeros(num_envs, dtype=torch.long, device=device)  # (N,)
        self.head = 0
        self._rows = torch.arange(num_envs, device=device)

    def set_lag(self, lag: torch.Tensor, env_ids: torch.Tensor | slice | None = None) -> None:
        ids = slice(None) if env_ids is None else env_ids
        lag = torch.as_tensor(lag, device=self.buffer.device).long()
        if torch.any(lag < 0) or torch.any(lag > self.max_lag):
            raise ValueError(f"lags must be in [0, {self.max_lag}], got {lag.tolist()}")
        self.lag[ids] = lag

    def sample_lag(self, lo: int, hi: int, env_ids: torch.Tensor | slice | None = None) -> None:
        """Draw integer lags uniformly in [lo, hi] (inclusive) for ``env_ids``."""
        n = self.lag[slice(None) if env_ids is None else env_ids].numel()
        self.set_lag(torch.randint(lo, hi + 1, (n,), device=self.buffer.device), env_ids)

    def push(self, value: torch.Tensor) -> None:
        """Append one frame for every environment; value is (N, D)."""
        self.head = (self.head + 1) % self.size
        self.buffer[:, self.head] = value

    def fill(self, value: torch.Tensor, env_ids: torch.Tensor | slice | None = None) -> None:
        """Overwrite the whole history of ``env_ids`` with ``value`` ((n, D) or (N, D))."""
        ids = slice(None) if env_ids is None else env_ids
        self.buffer[ids] = value[:, None, :]

    def get(self) -> torch.Tensor:
        """The delayed frame of every environment, (N, D)."""
        idx = torch.remainder(self.head - self.lag, self.size)
        return self.buffer[self._rows, idx]
