"""The LMO's discrete command interface (paper §3.2, App. A.2) and the baseline's velocity command.

u_t = [s_x, s_y, s_yaw, h*] with flags s in {-1, 0, 1}. Each flag is smoothed and gated into a
velocity reference (Eq. 2); a *flag episode* starts when the flags leave all-zero and ends when
they are back to zero and the base has settled, and its heading drift J_dir (Eq. 3) is handed to
the reward at that moment.

The pure functions (Eq. 2, Eq. 3, :class:`FlagEpisodeTracker`) work on batched torch tensors and
are tested against hand-computed values; :class:`DiscreteCommand` and :class:`VelocityCommand` are
mjlab command terms built on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
from mjlab.managers.command_manager import CommandTerm, CommandTermCfg

from wbvla.lmo.config import CommandConfig, HeightConfig, VelocityCommandConfig
from wbvla.lmo.shaping import (  # noqa: F401  (re-exported: Eq. 2 / Eq. 3 live in shaping.py)
    heading_drift,
    reference_as_printed,
    reference_gated,
    reference_symmetric,
    reference_velocity,
    smooth_flags,
)

if TYPE_CHECKING:
    from mjlab.envs import ManagerBasedRlEnv


@dataclass
class FlagEpisodeTracker:
    """Finds flag episodes in a batch of flag streams and measures J_dir when each one ends.

    A flag episode begins when the flags leave all-zero and ends when they are all zero again
    and the base has settled: |v_xy| and |w_z| under their thresholds for ``settle_steps``
    consecutive steps, or ``settle_timeout_s`` after the flags returned to zero.
    """

    num_envs: int
    settle_lin_speed: float
    settle_yaw_rate: float
    settle_steps: int
    settle_timeout_s: float
    device: str = "cpu"
    active: torch.Tensor = field(init=False)
    psi_start: torch.Tensor = field(init=False)
    intended_yaw: torch.Tensor = field(init=False)
    zero_time: torch.Tensor = field(init=False)
    settle_count: torch.Tensor = field(init=False)

    def __post_init__(self) -> None:
        n, dev = self.num_envs, self.device
        self.active = torch.zeros(n, dtype=torch.bool, device=dev)
        self.psi_start = torch.zeros(n, device=dev)
        self.intended_yaw = torch.zeros(n, device=dev)
        self.zero_time = torch.zeros(n, device=dev)
        self.settle_count = torch.zeros(n, dtype=torch.long, device=dev)

    @classmethod
    def from_config(cls, cfg: CommandConfig, num_envs: int, device: str = "cpu") -> FlagEpisodeTracker:
        return cls(num_envs, cfg.settle_lin_speed, cfg.settle_yaw_rate, cfg.settle_steps,
                   cfg.settle_timeout_s, device)

    def reset(self, env_ids: torch.Tensor | slice | None = None) -> None:
        ids = slice(None) if env_ids is None else env_ids
        self.active[ids] = False
        self.intended_yaw[ids] = 0.0
        self.zero_time[ids] = 0.0
        self.settle_count[ids] = 0

    def update(
        self,
        flags: torch.Tensor,  # (N, 3)
        psi: torch.Tensor,  # (N,) base yaw
        lin_speed: torch.Tensor,  # (N,) |v_xy|
        yaw_rate: torch.Tensor,  # (N,) w_z
        v_ref_yaw: torch.Tensor,  # (N,)
        dt: float,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Advance one step; returns (ended (N,) bool, J_dir (N,), 0 where no episode ended)."""
        moving = torch.any(flags != 0, dim=-1)
        start = moving & ~self.active
        self.psi_start = torch.where(start, psi, self.psi_start)
        self.intended_yaw = torch.where(start, torch.zeros_like(psi), self.intended_yaw)
        self.active |= start
        self.intended_yaw = torch.where(self.active, self.intended_yaw + v_ref_yaw * dt, self.intended_yaw)
        stopping = self.active & ~moving
        settled = (lin_speed < self.settle_lin_speed) & (yaw_rate.abs() < self.settle_yaw_rate)
        self.zero_time = torch.where(stopping, self.zero_time + dt, torch.zeros_like(self.zero_time))
        self.settle_count = torch.where(stopping & settled, self.settle_count + 1, torch.zeros_like(self.settle_count))
        ended = stopping & ((self.settle_count >= self.settle_steps) | (self.zero_time >= self.settle_timeout_s - 1e-5))
        j_dir = torch.where(ended, heading_drift(self.psi_start, psi, self.intended_yaw), torch.zeros_like(psi))
        self.active &= ~ended
        self.zero_time = torch.where(ended, torch.zeros_like(self.zero_time), self.zero_time)
        self.settle_count = torch.where(ended, torch.zeros_like(self.settle_count), self.settle_count)
        return ended, j_dir


# --- sampling the command stream -----------------------------------------------------------------
def sample_flags(n: int, p_multi_axis: float, device: str = "cpu", generator=None) -> torch.Tensor:
    """Flags (n, 3) of an active segment: one random axis (or, with p_multi_axis, each axis on
    independently), each active one with a random sign. Never all zero."""
    single = torch.zeros(n, 3, device=device)
    axis = torch.randint(0, 3, (n,), device=device, generator=generator)
    single[torch.arange(n, device=device), axis] = 1.0
    multi = (torch.rand(n, 3, device=device, generator=generator) < 0.5).float()
    multi[multi.sum(-1) == 0] = single[multi.sum(-1) == 0]
    use_multi = torch.rand(n, 1, device=device, generator=generator) < p_multi_axis
    on = torch.where(use_multi, multi, single)
    sign = torch.where(torch.rand(n, 3, device=device, generator=generator) < 0.5, -1.0, 1.0)
    return on * sign


def sample_height(height: torch.Tensor, env_ids: torch.Tensor, cfg: HeightConfig) -> None:
    """Redraw h* of ``env_ids`` in place with probability p_height_change (nominal w.p.
    p_nominal_height, else uniform in the range)."""
    k, dev = len(env_ids), height.device
    change = torch.rand(k, device=dev) < cfg.p_height_change
    nominal = torch.rand(k, device=dev) < cfg.p_nominal_height
    h = cfg.height_range[0] + (cfg.height_range[1] - cfg.height_range[0]) * torch.rand(k, device=dev)
    h = torch.where(nominal, torch.full_like(h, cfg.nominal_height), h)
    height[env_ids] = torch.where(change, h, height[env_ids])


class _CommandBase(CommandTerm):
    """What the rewards read from either command: v_ref, the height target, standing mask."""

    v_ref: torch.Tensor  # (N, 3) reference (v_x, v_y, w_z) in the base frame
    height_target: torch.Tensor  # (N,)

    @property
    def is_standing(self) -> torch.Tensor:
        raise NotImplementedError


class DiscreteCommand(_CommandBase):
    """u_t = [s_x, s_y, s_yaw, h*] with Eq. 2 shaping and flag episodes (J_dir, Eq. 3)."""

    cfg: DiscreteCommandCfg

    def __init__(self, cfg: DiscreteCommandCfg, env: ManagerBasedRlEnv):
        super().__init__(cfg, env)
        self.robot = env.scene[cfg.entity_name]
        c, n, dev = cfg.command, self.num_envs, self.device
        self.flags = torch.zeros(n, 3, device=dev)
        self.s_bar = torch.zeros(n, 3, device=dev)
        self.v_goal = torch.zeros(n, 3, device=dev)
        self.v_ref = torch.zeros(n, 3, device=dev)
        self.height_target = torch.full((n,), cfg.height.nominal_height, device=dev)
        self.segment_active = torch.zeros(n, dtype=torch.bool, device=dev)
        self.tracker = FlagEpisodeTracker.from_config(c, n, dev)
        self.episode_ended = torch.zeros(n, dtype=torch.bool, device=dev)
        self.j_dir = torch.zeros(n, device=dev)
        self.metrics["heading_drift_sum"] = torch.zeros(n, device=dev)
        self.metrics["flag_episodes"] = torch.zeros(n, device=dev)
        self._v_max = torch.tensor(c.v_max, device=dev)
        self._cruise = torch.tensor(c.cruise, device=dev)

    @property
    def command(self) -> torch.Tensor:
        return torch.cat([self.flags, self.height_target[:, None]], dim=-1)  # (N, 4)

    @property
    def is_standing(self) -> torch.Tensor:
        return torch.all(self.flags == 0, dim=-1)

    def reset(self, env_ids):
        self.segment_active[env_ids] = torch.rand(len(env_ids), device=self.device) < 0.5
        extras = super().reset(env_ids)
        self.s_bar[env_ids] = 0.0
        self.v_ref[env_ids] = 0.0
        self.tracker.reset(env_ids)
        self.episode_ended[env_ids] = False
        self.j_dir[env_ids] = 0.0
        return extras

    def _resample_command(self, env_ids: torch.Tensor) -> None:
        c, dev, k = self.cfg.command, self.device, len(env_ids)
        # Alternate: an active segment is always followed by a stop; after a stop, stand again
        # with p_stand.
        was_active = self.segment_active[env_ids]
        activate = ~was_active & (torch.rand(k, device=dev) >= c.p_stand)
        flags = sample_flags(k, c.p_multi_axis, dev) * activate[:, None]
        self.flags[env_ids] = flags
        self.segment_active[env_ids] = activate
        lo_hi = torch.tensor([c.active_s, c.stop_s], device=dev)[(~activate).long()]  # (k, 2)
        self.time_left[env_ids] = lo_hi[:, 0] + (lo_hi[:, 1] - lo_hi[:, 0]) * torch.rand(k, device=dev)
        # Goal speeds are drawn when an axis turns on and kept while it ramps down (Eq. 2 needs
        # v_goal through the whole gate).
        if self.cfg.stage == 1:
            goal = torch.rand(k, 3, device=dev) * self._v_max  # U[0, v_max]
        else:
            goal = self._cruise.expand(k, 3)  # v_bar
        on = flags != 0
        self.v_goal[env_ids] = torch.where(on, goal, self.v_goal[env_ids])
        sample_height(self.height_target, env_ids, self.cfg.height)

    def _update_command(self, env_ids: torch.Tensor | None) -> None:
        c = self.cfg.command
        if env_ids is not None:  # reset path: no time passes
            self.v_ref[env_ids] = reference_velocity(
                self.flags[env_ids], self.s_bar[env_ids], self.v_goal[env_ids], c.alpha, c.reference_form)
            return
        self.s_bar = smooth_flags(self.s_bar, self.flags, c.smoothing)
        self.v_ref = reference_velocity(self.flags, self.s_bar, self.v_goal, c.alpha, c.reference_form)
        data = self.robot.data
        lin = torch.linalg.norm(data.root_link_lin_vel_b[:, :2], dim=-1)
        ended, j = self.tracker.update(self.flags, data.heading_w, lin, data.root_link_ang_vel_b[:, 2],
                                       self.v_ref[:, 2], self._env.step_dt)
        self.episode_ended, self.j_dir = ended, j
        self.metrics["heading_drift_sum"] += j
        self.metrics["flag_episodes"] += ended.float()

    def _update_metrics(self) -> None:
        pass


@dataclass(kw_only=True)
class DiscreteCommandCfg(CommandTermCfg):
    """mjlab config of :class:`DiscreteCommand`."""

    entity_name: str = "robot"
    command: CommandConfig = field(default_factory=CommandConfig)
    height: HeightConfig = field(default_factory=HeightConfig)
    stage: int = 1
    resampling_time_range: tuple[float, float] = (1.0, 1.0)  # overwritten per segment

    def build(self, env: ManagerBasedRlEnv) -> DiscreteCommand:
        return DiscreteCommand(self, env)


class VelocityCommand(_CommandBase):
    """Continuous (v_x, v_y, w_z, h) of the velocity-tracking baseline (HOMIE-style)."""

    cfg: VelocityCommandCfg

    def __init__(self, cfg: VelocityCommandCfg, env: ManagerBasedRlEnv):
        super().__init__(cfg, env)
        n, dev = self.num_envs, self.device
        self.v_ref = torch.zeros(n, 3, device=dev)
        self.height_target = torch.full((n,), cfg.height.nominal_height, device=dev)
        self.metrics["error_vel_xy"] = torch.zeros(n, device=dev)
        self._robot = env.scene[cfg.entity_name]

    @property
    def command(self) -> torch.Tensor:
        return torch.cat([self.v_ref, self.height_target[:, None]], dim=-1)  # (N, 4)

    @property
    def is_standing(self) -> torch.Tensor:
        return torch.linalg.norm(self.v_ref, dim=-1) < self.cfg.command.standing_threshold

    def _resample_command(self, env_ids: torch.Tensor) -> None:
        c, dev, k = self.cfg.command, self.device, len(env_ids)
        r = torch.rand(k, 3, device=dev)
        lo = torch.tensor([c.lin_vel_x[0], c.lin_vel_y[0], c.ang_vel_z[0]], device=dev)
        hi = torch.tensor([c.lin_vel_x[1], c.lin_vel_y[1], c.ang_vel_z[1]], device=dev)
        v = lo + (hi - lo) * r
        v[torch.rand(k, device=dev) < c.p_standing] = 0.0
        self.v_ref[env_ids] = v
        sample_height(self.height_target, env_ids, self.cfg.height)

    def _update_command(self, env_ids: torch.Tensor | None) -> None:
        del env_ids

    def _update_metrics(self) -> None:
        err = torch.linalg.norm(self.v_ref[:, :2] - self._robot.data.root_link_lin_vel_b[:, :2], dim=-1)
        steps = self.cfg.command.resample_s[1] / self._env.step_dt
        self.metrics["error_vel_xy"] += err / steps


@dataclass(kw_only=True)
class VelocityCommandCfg(CommandTermCfg):
    """mjlab config of :class:`VelocityCommand`."""

    entity_name: str = "robot"
    command: VelocityCommandConfig = field(default_factory=VelocityCommandConfig)
    height: HeightConfig = field(default_factory=HeightConfig)
    resampling_time_range: tuple[float, float] = (3.0, 8.0)

    def __post_init__(self) -> None:
        self.resampling_time_range = tuple(self.command.resample_s)

    def build(self, env: ManagerBasedRlEnv) -> VelocityCommand:
        return VelocityCommand(self, env)
