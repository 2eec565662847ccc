"""Sample-efficiency levers of CPU training: named switches, each a departure from the paper.

The paper trains the LMO with PPO on thousands of GPU environments and Table 4's rewards alone.
On two CPU cores (~3-6 k env steps/s) that recipe sits in the *standing optimum*: at the 0.3 m/s
cruise, a robot that stands still earns exp(-4 x 0.3^2) = 0.70 of the forward intent reward, and a
few million samples never find the gait that would earn the rest. Each lever below is a named,
documented switch (:class:`LeverConfig`), off in the paper's configuration, measured against it by
the learning-signal benchmark (:mod:`wbvla.lmo.cpu.bench`), and listed in the model card.

The terms are written against the same env interface as :mod:`wbvla.lmo.rewards` (mjlab's names),
so both engines can use them; the gait clock is a command-like term registered as ``"gait"``.

Levers:

* **gait clock** (Humanoid-Gym, Siekmann et al. 2021): a phase phi in [0, 1) with period T; the
  actor sees (sin 2 pi phi, cos 2 pi phi). The left leg swings while sin > 0, the right while sin < 0.
  The clock runs only while the command moves the robot; standing holds both feet down.
* **reference gait** (residual): the leg PD target is default + r(phi) + scale * a, with r a
  joint-space stepping pattern (hip pitch -A, knee +2A, ankle pitch -A on the swing leg, so the
  sole stays parallel to the floor), Humanoid-Gym's ``compute_ref_state``. From the first iteration
  the robot steps in place; the policy learns balance and where to put the feet.
* **contact schedule**: +1 per foot whose contact matches the clock (stance when its swing signal
  is off), -0.3 otherwise (Humanoid-Gym's ``feet_contact_number``).
* **swing height**: -(z_foot - h_swing)^2 on swing feet (legged-gym style foot clearance, gated by
  the clock instead of the foot speed).
* **intent progress**: a linear reward for the base velocity along the commanded direction,
  clip(v . v_ref / |v_ref|^2, -1, 1); unlike exp(-4 e^2) it pays every cm/s toward the goal.
* **assist force** (Yu, Turk & Liu 2018, "Learning symmetric and low-energy locomotion"): a
  virtual spring-damper on pelvis height, roll and pitch whose gain decays linearly to zero; early
  episodes survive long enough to learn stepping. Never active in evaluation. While it acts, the
  performance curriculum's progress (Table 5 ranges, Table 4 penalty scale) is capped at
  1 - assist scale: an assisted robot does not fall, which says little about the policy.
* **left-right symmetry** (Mittal et al. 2024; HOMIE, Isaac Lab): PPO's minibatches also hold the
  mirrored samples and / or a mirror loss pulls pi(mirror(o)) to mirror(pi(o)); the mirror of the
  X2, of every observation term and of the actions is :mod:`wbvla.lmo.symmetry`. Only the update
  changes (no reward, observation or action), so it is wired into the PPO config, not the env.
"""

from __future__ import annotations

import torch

from wbvla.lmo.gait import (  # noqa: F401  (re-exported: the clock's functions live in lmo.gait, torch-free)
    advance_clock,
    clock_phase,
    gait_observation,
    gait_swing,
    reference_leg_offsets,
)
from wbvla.lmo.lever_config import GAIT_TERM, AssistConfig, LeverConfig  # noqa: F401  (re-exported)
from wbvla.lmo.rewards import _foot_sites


class GaitClock:
    """The gait phase of every env; registered as the ``"gait"`` term. Advances only while moving."""

    def __init__(self, num_envs: int, period_s: float, dt: float, device: str = "cpu"):
        self.period, self.dt = period_s, dt
        self.steps = torch.zeros(num_envs, dtype=torch.long, device=device)  # (N,) policy steps since moving
        self.moving = torch.zeros(num_envs, dtype=torch.bool, device=device)

    @property
    def phase(self) -> torch.Tensor:
        return clock_phase(self.steps, self.dt, self.period)  # (N,) in [0, 1)

    def reset(self, env_ids) -> None:
        self.steps[env_ids] = 0
        self.moving[env_ids] = False

    def step(self, moving: torch.Tensor) -> None:
        self.moving = moving
        self.steps = advance_clock(self.steps, moving.long())

    @property
    def observation(self) -> torch.Tensor:
        return gait_observation(self.phase)  # (N, 2)

    @property
    def swing(self) -> torch.Tensor:
        return gait_swing(self.phase, self.moving)  # (N, 2)


# --- lever reward terms (same (env, **params) -> (N,) contract as wbvla.lmo.rewards) -------------
def contact_schedule(env, sensor_name: str = "feet_contact", threshold: float = 1.0) -> torch.Tensor:
    """Mean over feet of +1 where contact matches the clock (stance <-> contact), else -0.3.
    Standing envs (clock stopped) are asked for both feet down."""
    swing = env.command_manager.get_term("gait").swing > 0  # (N, 2)
    contact = env.scene[sensor_name].data.force.norm(dim=-1) > threshold
    match = contact == ~swing
    return torch.where(match, 1.0, -0.3).mean(-1)


def swing_height(env, asset_cfg, target: float) -> torch.Tensor:
    """sum over swing feet of (z_sole - target * swing)^2: lift the swing foot to ``target`` at
    mid-swing, following the clock's swing profile."""
    swing = env.command_manager.get_term("gait").swing  # (N, 2)
    z = _foot_sites(env, asset_cfg)[0][..., 2]  # (N, 2)
    return ((z - target * swing).square() * (swing > 0)).sum(-1)


def intent_progress(env, command_name: str = "command") -> torch.Tensor:
    """clip(v . v_ref / |v_ref|^2, -1, 1) on (v_x, v_y, w_z), 0 where |v_ref| is ~0."""
    data = env.scene["robot"].data
    v = torch.cat([data.root_link_lin_vel_b[:, :2], data.root_link_ang_vel_b[:, 2:3]], dim=-1)  # (N, 3)
    ref = env.command_manager.get_term(command_name).v_ref  # (N, 3)
    n2 = ref.square().sum(-1)
    p = (v * ref).sum(-1) / n2.clamp_min(1e-6)
    return torch.where(n2 > 1e-4, p.clamp(-1.0, 1.0), torch.zeros_like(p))
