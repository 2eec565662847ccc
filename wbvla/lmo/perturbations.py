"""Upper-body perturbations: what drives the 14 arm joints while the legs learn (paper §3.2, A.2).

* Stage I (HOMIE-style): random arm pose targets, redrawn every ``pose_interval_s`` and linearly
  interpolated, within default +- ratio * (half joint range); the curriculum ratio widens from
  ``initial_ratio`` to 1 (:class:`PoseTargetCurriculum`).
* Stage II: replay of short arm-motion clips with App. A.2's time warp (:class:`ClipReplay`):
  omega_{i+1} = min(L, omega_i + (gamma + delta_i) dt), q_tar_i = q_arm(omega_i) + eps_i.

Both are batched torch state machines; :class:`UpperBodyCommand` is the mjlab command term that
steps one of them each policy step and writes the arm (and the held waist / gripper) PD targets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch
from mjlab.managers.command_manager import CommandTerm, CommandTermCfg

from wbvla.lmo.clips import load_clip_source
from wbvla.lmo.config import ArmPerturbationConfig
from wbvla.sim.joints import default_pose, joint_names, limits

if TYPE_CHECKING:
    from mjlab.envs import ManagerBasedRlEnv

ARM_JOINTS = joint_names("arms")
HELD_JOINTS = joint_names("waist") + joint_names("grippers")


# --- App. A.2 time warp -----------------------------------------------------------------------
def time_warp_step(omega: torch.Tensor, length: torch.Tensor, gamma: torch.Tensor, delta: torch.Tensor, dt: float) -> torch.Tensor:
    """One step of the replay clock (all (N,) tensors, seconds of clip time)."""
    # App. A.2:  omega_{i+1} = min(L, omega_i + (gamma + delta_i) dt),  omega_0 = 0
    return torch.minimum(length, omega + (gamma + delta) * dt)


@dataclass
class ClipLibrary:
    """Arm clips resampled on one time grid and padded into one tensor, for batched lookup."""

    q: torch.Tensor  # (C, T, 14) joint positions, last frame repeated past each clip's end
    duration: torch.Tensor  # (C,) seconds
    dt: float  # grid step (s)

    @classmethod
    def from_arrays(cls, clips: list[tuple[np.ndarray, np.ndarray]], dt: float = 0.02, device: str = "cpu") -> ClipLibrary:
        """``clips``: list of (t (T,), q (T, 14)) with increasing t; resampled to step ``dt``."""
        if not clips:
            raise ValueError("the clip library is empty")
        grids = []
        for k, (t, q) in enumerate(clips):
            t, q = np.asarray(t, float), np.asarray(q, float)
            if q.ndim != 2 or q.shape[1] != len(ARM_JOINTS) or t.shape != (q.shape[0],) or len(t) < 2:
                raise ValueError(f"clip {k}: expected t (T,) and q (T, 14) with T >= 2, got {t.shape} and {q.shape}")
            if np.any(np.diff(t) <= 0):
                raise ValueError(f"clip {k}: time stamps must increase strictly")
            ts = np.arange(0.0, t[-1] - t[0] + 1e-9, dt)
            grids.append(np.stack([np.interp(ts, t - t[0], q[:, j]) for j in range(q.shape[1])], axis=1))
        T = max(len(g) for g in grids)
        padded = np.stack([np.concatenate([g, np.repeat(g[-1:], T - len(g), 0)]) for g in grids])
        dur = np.array([(len(g) - 1) * dt for g in grids])
        return cls(torch.tensor(padded, dtype=torch.float32, device=device),
                   torch.tensor(dur, dtype=torch.float32, device=device), dt)

    def sample(self, clip: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Linear interpolation of clip ``clip`` (N,) at clip time ``t`` (N,) -> (N, 14)."""
        t = t.clamp(min=0.0)
        t = torch.minimum(t, self.duration[clip])
        f = t / self.dt
        i0 = f.floor().long().clamp(max=self.q.shape[1] - 1)
        i1 = (i0 + 1).clamp(max=self.q.shape[1] - 1)
        w = (f - i0.float())[:, None]
        return (1 - w) * self.q[clip, i0] + w * self.q[clip, i1]


def default_clip_library(device: str = "cpu", dt: float = 0.02, source: str = "synthetic") -> ClipLibrary:
    """The shipped clips of ``source`` (:func:`wbvla.lmo.clips.load_clip_source`; ``synthetic``:
    :data:`wbvla.lmo.clips.CLIP_FILE`) as a batched :class:`ClipLibrary`."""
    return ClipLibrary.from_arrays(load_clip_source(source), dt=dt, device=device)


class PoseTargetCurriculum:
    """Stage I: interpolated random arm pose targets with a widening range."""

    def __init__(self, cfg: ArmPerturbationConfig, num_envs: int, device: str = "cpu"):
        self.cfg = cfg
        lo, hi = limits("arms")
        self.default = torch.tensor(default_pose("arms"), dtype=torch.float32, device=device)
        self.half_range = torch.tensor((hi - lo) / 2, dtype=torch.float32, device=device)
        self.lo = torch.tensor(lo, dtype=torch.float32, device=device)
        self.hi = torch.tensor(hi, dtype=torch.float32, device=device)
        self.ratio = cfg.initial_ratio
        self.prev = self.default.repeat(num_envs, 1)
        self.next = self.default.repeat(num_envs, 1)
        self.t = torch.zeros(num_envs, device=device)

    def _draw(self, n: int) -> torch.Tensor:
        u = 2 * torch.rand(n, self.default.numel(), device=self.default.device) - 1
        return torch.clamp(self.default + self.ratio * u * self.half_range, self.lo, self.hi)

    def reset(self, env_ids: torch.Tensor, current: torch.Tensor | None = None) -> None:
        """Start ``env_ids`` from ``current`` (n, 14) (default pose if None) toward a new target."""
        self.prev[env_ids] = self.default if current is None else current
        self.next[env_ids] = self._draw(len(env_ids))
        self.t[env_ids] = 0.0

    def target(self) -> torch.Tensor:
        w = (self.t / self.cfg.pose_interval_s).clamp(0, 1)[:, None]
        return (1 - w) * self.prev + w * self.next  # (N, 14)

    def step(self, dt: float) -> torch.Tensor:
        self.t += dt
        done = self.t >= self.cfg.pose_interval_s
        if bool(done.any()):
            ids = done.nonzero().flatten()
            self.prev[ids] = self.next[ids]
            self.next[ids] = self._draw(len(ids))
            self.t[ids] -= self.cfg.pose_interval_s
        return self.target()


class ClipReplay:
    """Stage II: time-warped replay of clip segments with Gaussian target noise (App. A.2)."""

    def __init__(self, cfg: ArmPerturbationConfig, library: ClipLibrary, num_envs: int, device: str = "cpu"):
        self.cfg, self.lib = cfg, library
        n = num_envs
        lo, hi = limits("arms")
        self.lo = torch.tensor(lo, dtype=torch.float32, device=device)
        self.hi = torch.tensor(hi, dtype=torch.float32, device=device)
        self.clip = torch.zeros(n, dtype=torch.long, device=device)
        self.start = torch.zeros(n, device=device)
        self.length = torch.zeros(n, device=device)  # L
        self.gamma = torch.zeros(n, device=device)
        self.omega = torch.zeros(n, device=device)
        self.hold = torch.zeros(n, device=device)
        self.since = torch.zeros(n, device=device)  # wall time since the segment began
        self.default = torch.tensor(default_pose("arms"), dtype=torch.float32, device=device)
        self.blend_from = self.default.repeat(n, 1)
        self.last = self.blend_from.clone()

    def _u(self, lo_hi, n):
        return lo_hi[0] + (lo_hi[1] - lo_hi[0]) * torch.rand(n, device=self.omega.device)

    def new_segment(self, env_ids: torch.Tensor) -> None:
        n = len(env_ids)
        clip = torch.randint(0, self.lib.q.shape[0], (n,), device=self.omega.device)
        length = self._u(self.cfg.segment_length_s, n)
        self.clip[env_ids] = clip
        self.length[env_ids] = length
        self.start[env_ids] = torch.rand(n, device=self.omega.device) * (self.lib.duration[clip] - length).clamp_min(0)
        self.gamma[env_ids] = self._u(self.cfg.rate, n)
        self.hold[env_ids] = self._u(self.cfg.hold_s, n)
        self.omega[env_ids] = 0.0
        self.since[env_ids] = 0.0
        self.blend_from[env_ids] = self.last[env_ids]

    def reset(self, env_ids: torch.Tensor, current: torch.Tensor | None = None) -> None:
        """New episode for ``env_ids``: the first segment blends in from ``current`` (n, 14), the
        arm pose the episode starts in (default pose if None), never from the last episode's."""
        self.last[env_ids] = self.default if current is None else current
        self.new_segment(env_ids)

    def step(self, dt: float) -> torch.Tensor:
        delta = self._u(self.cfg.rate_jitter, self.omega.numel())
        finished = self.omega >= self.length
        self.hold = torch.where(finished, self.hold - dt, self.hold)
        self.omega = time_warp_step(self.omega, self.length, self.gamma, delta, dt)
        self.since += dt
        q = self.lib.sample(self.clip, self.start + self.omega)
        if self.cfg.blend_s > 0:
            beta = (self.since / self.cfg.blend_s).clamp(0, 1)[:, None]
            q = (1 - beta) * self.blend_from + beta * q
        # App. A.2:  q_tar_i = q_arm(omega_i) + eps_i,  eps_i ~ N(0, 0.05^2)
        target = torch.clamp(q + self.cfg.noise_std * torch.randn_like(q), self.lo, self.hi)
        self.last = q
        done = finished & (self.hold <= 0)
        if bool(done.any()):
            self.new_segment(done.nonzero().flatten())
        return target


class UpperBodyCommand(CommandTerm):
    """mjlab command term: steps the stage's perturbation source and writes the arm PD targets.

    Its ``command`` is the current 14-D arm target (for a privileged critic); the waist and the
    grippers are held at their defaults.
    """

    cfg: UpperBodyCommandCfg

    def __init__(self, cfg: UpperBodyCommandCfg, env: ManagerBasedRlEnv):
        super().__init__(cfg, env)
        self.robot = env.scene[cfg.entity_name]
        names = list(self.robot.joint_names)
        self._arm_ids = torch.tensor([names.index(j) for j in ARM_JOINTS], device=self.device)
        self._held_ids = torch.tensor([names.index(j) for j in HELD_JOINTS], device=self.device)
        if cfg.stage == 1:
            self.source = PoseTargetCurriculum(cfg.arms, self.num_envs, self.device)
        else:
            library = cfg.clip_library
            if library is None:
                library = default_clip_library(self.device, source=cfg.clip_source)
            self.source = ClipReplay(cfg.arms, library, self.num_envs, self.device)
        self.target = torch.tensor(default_pose("arms"), dtype=torch.float32, device=self.device).repeat(self.num_envs, 1)
        self._default = self.target.clone()  # (N, 14)
        self.still = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        """Envs whose arms stay at the default pose this episode (Stage II ``still_fraction``)."""

    @property
    def command(self) -> torch.Tensor:
        return self.target  # (N, 14)

    @property
    def ratio(self) -> float:
        return getattr(self.source, "ratio", 1.0)

    def set_ratio(self, ratio: float) -> None:
        if isinstance(self.source, PoseTargetCurriculum):
            self.source.ratio = float(min(max(ratio, 0.0), 1.0))

    def _resample_command(self, env_ids: torch.Tensor) -> None:
        # Called on reset (the resampling interval is effectively infinite), after the reset
        # events placed the robot: the arms start where the episode starts, not where the last
        # episode ended.
        current = self.robot.data.joint_pos[env_ids][:, self._arm_ids]
        self.source.reset(env_ids, current)
        self.target[env_ids] = current
        if self.cfg.stage != 1 and self.cfg.arms.still_fraction > 0:
            self.still[env_ids] = torch.rand(len(env_ids), device=self.device) < self.cfg.arms.still_fraction
            self.target[env_ids] = torch.where(self.still[env_ids, None], self._default[env_ids], current)

    def _update_command(self, env_ids: torch.Tensor | None) -> None:
        if env_ids is None:
            self.target = self.source.step(self._env.step_dt)
            if self.still.any():
                self.target = torch.where(self.still[:, None], self._default, self.target)
        held = self.robot.data.default_joint_pos[:, self._held_ids]
        self.robot.set_joint_position_target(self.target, joint_ids=self._arm_ids)
        self.robot.set_joint_position_target(held, joint_ids=self._held_ids)

    def _update_metrics(self) -> None:
        pass


@dataclass(kw_only=True)
class UpperBodyCommandCfg(CommandTermCfg):
    """mjlab config of :class:`UpperBodyCommand`."""

    entity_name: str = "robot"
    arms: ArmPerturbationConfig = field(default_factory=ArmPerturbationConfig)
    stage: int = 1
    clip_library: ClipLibrary | None = None
    """Stage II clips; None loads the shipped library of ``clip_source`` (:func:`default_clip_library`)."""
    clip_source: str = "synthetic"
    """Which shipped clips (:data:`wbvla.lmo.clips.CLIP_SOURCES`) when ``clip_library`` is None."""
    resampling_time_range: tuple[float, float] = (1e9, 1e9)

    def build(self, env: ManagerBasedRlEnv) -> UpperBodyCommand:
        return UpperBodyCommand(self, env)


def arm_ratio_schedule(env: ManagerBasedRlEnv, env_ids: torch.Tensor, command_name: str, initial: float, steps: int) -> dict:
    """mjlab curriculum term: widen the Stage I arm range linearly with the global step count."""
    del env_ids
    term = env.command_manager.get_term(command_name)
    ratio = initial + (1.0 - initial) * min(1.0, env.common_step_counter / steps)
    term.set_ratio(ratio)
    return {"arm_ratio": torch.tensor(term.ratio)}
