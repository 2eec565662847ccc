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
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from wbvla.config import in_range, one_of, positive, require
from wbvla.lmo.rewards import _foot_sites


GAIT_TERM = ("gait_phase", 2)
"""The gait clock's observation term (sin 2 pi phi, cos 2 pi phi), appended after the paper's six."""


@dataclass
class AssistConfig:
    """The decaying assistive pelvis wrench (Yu, Turk & Liu 2018). Gains at full strength."""

    enabled: bool = False
    """Apply the assist during training (never in evaluation or deployment)."""
    height_kp: float = 1500.0
    """N/m on pelvis height error (the robot weighs 446 N: 1 cm sag -> 15 N)."""
    height_kd: float = 100.0
    """N s/m on pelvis vertical velocity."""
    tilt_kp: float = 300.0
    """N m/rad on roll and pitch."""
    tilt_kd: float = 20.0
    """N m s/rad on roll and pitch rates."""
    decay_env_steps: int = 20_000_000
    """Env steps (summed over environments) over which the gains fall linearly to 0."""

    def __post_init__(self) -> None:
        for n in ("height_kp", "height_kd", "tilt_kp", "tilt_kd"):
            positive(n, getattr(self, n), allow_zero=True)
        require(isinstance(self.decay_env_steps, int) and self.decay_env_steps >= 1,
                f"decay_env_steps must be an int >= 1, got {self.decay_env_steps!r}")

    def scale(self, env_steps: int) -> float:
        """Gain multiplier after ``env_steps`` training samples (1 -> 0 linearly, 0 if disabled)."""
        return 0.0 if not self.enabled else max(0.0, 1.0 - env_steps / self.decay_env_steps)


@dataclass
class LeverConfig:
    """Which sample-efficiency levers a run uses. ``paper()`` switches every one off."""

    gait_clock: bool = True
    """Add the gait phase (sin, cos) to the actor observation (a term ``gait_phase`` of 2 values
    per frame, after the paper's six). Reason: a policy without a clock must discover rhythm from
    scratch; with it, stepping is a function of the phase (Humanoid-Gym). Paper: no clock."""
    gait_period_s: float = 0.8
    """Period T of one left-right stride cycle (s)."""
    reference_gait: Literal["none", "sinusoid"] = "sinusoid"
    """``sinusoid``: residual policy on top of the joint-space stepping pattern r(phi) while moving
    (see the module docstring); ``none``: the paper's target default + scale * a."""
    reference_amplitude: float = 0.25
    """A of r(phi): peak hip-pitch flexion of the swing leg (rad); the knee gets 2A."""
    contact_schedule_weight: float = 1.0
    """Weight of the contact-schedule reward (per second, like Table 4's weights; 0: off)."""
    swing_height_weight: float = 10.0
    """Weight of the swing-height penalty (0: off)."""
    swing_height: float = 0.08
    """Sole height the swing-height term asks for at mid-swing (m)."""
    progress_weight: float = 1.0
    """Weight of the linear intent-progress reward (0: off)."""
    intent_sharpness: float | None = None
    """Override of the 4 in exp{-4 e^2} of the intent terms (None: Table 4's 4). 25 makes
    standing at a 0.3 m/s command earn exp(-25 x 0.09) = 0.11 instead of 0.70."""
    assist: AssistConfig = field(default_factory=AssistConfig)
    """The decaying assistive pelvis force."""

    def __post_init__(self) -> None:
        in_range("gait_period_s", self.gait_period_s, 0.3, 2.0)
        require(abs(self.gait_period_s / 0.02 - round(self.gait_period_s / 0.02)) < 1e-9,
                f"gait_period_s must be a whole number of 0.02 s policy steps, got {self.gait_period_s}")
        one_of("reference_gait", self.reference_gait, ("none", "sinusoid"))
        in_range("reference_amplitude", self.reference_amplitude, 0.0, 0.6)
        for n in ("contact_schedule_weight", "swing_height_weight", "progress_weight"):
            positive(n, getattr(self, n), allow_zero=True)
        in_range("swing_height", self.swing_height, 0.0, 0.3)
        if self.intent_sharpness is not None:
            positive("intent_sharpness", self.intent_sharpness)
        require(not (self.reference_gait != "none" and not self.gait_clock),
                "reference_gait needs gait_clock=True (the reference is a function of the clock phase)")
        require(not ((self.contact_schedule_weight or self.swing_height_weight) and not self.gait_clock),
                "the contact-schedule and swing-height terms need gait_clock=True")

    @classmethod
    def paper(cls) -> LeverConfig:
        """Every lever off: the paper's observation, action and Table 4 rewards."""
        return cls(gait_clock=False, reference_gait="none", contact_schedule_weight=0.0, swing_height_weight=0.0,
                   progress_weight=0.0, intent_sharpness=None, assist=AssistConfig(enabled=False))

    def extra_reward_weights(self) -> dict[str, float]:
        """Weights of the lever reward terms this config switches on."""
        w = {"contact_schedule": self.contact_schedule_weight, "swing_height": -self.swing_height_weight,
             "intent_progress": self.progress_weight}
        return {k: v for k, v in w.items() if v != 0.0}


def gait_swing(phase, moving):
    """Swing signal per foot (left, right) in [0, 1], shape (..., 2), for phases phi (...) and a
    moving mask (...): the positive part of sin 2 pi phi for the left foot, of -sin for the right,
    zeroed near the crossings (double support) and while standing. numpy or torch in, same out
    (training and the deployed controller share this one definition)."""
    xp = torch if isinstance(phase, torch.Tensor) else np
    s = xp.sin(2 * math.pi * phase)
    sw = xp.stack([s, -s], -1)
    sw = xp.where(sw < 0.1, 0.0 * sw, sw)  # below 0.1 (and every negative part): double support
    return sw * (moving[..., None] * 1.0)


def gait_observation(phase):
    """(sin 2 pi phi, cos 2 pi phi), shape (..., 2): the actor's ``gait_phase`` term."""
    xp = torch if isinstance(phase, torch.Tensor) else np
    a = 2 * math.pi * phase
    return xp.stack([xp.sin(a), xp.cos(a)], -1)


def advance_clock(steps, moving):
    """The clock's step counter: +1 where moving, else 0 (a stopped clock puts both feet down).
    An integer counter, so training (float32 torch) and deployment (numpy) see the same phase."""
    return (steps + 1) * moving


def clock_phase(steps, dt: float, period: float):
    """phi = (k mod P) / P with P = T / dt policy steps per period: exact for any counter k."""
    per = round(period / dt)
    if isinstance(steps, torch.Tensor):
        return (torch.remainder(steps, per).double() / per).float()
    return np.remainder(np.asarray(steps, np.int64), per) / per


def reference_leg_offsets(swing, amplitude: float):
    """r(phi): leg joint offsets (..., 12) in canonical leg order (hip pitch, hip roll, hip yaw, knee,
    ankle pitch, ankle roll per leg) from the swing signals (..., 2): hip pitch -A s (flexion is
    negative), knee +2 A s, ankle pitch -A s (the sole stays parallel to the floor)."""
    xp = torch if isinstance(swing, torch.Tensor) else np
    pattern = xp.zeros(swing.shape[:-1] + (2, 6)) if xp is np else torch.zeros(*swing.shape[:-1], 2, 6)
    shape = [-1.0, 0.0, 0.0, 2.0, -1.0, 0.0]
    unit = xp.asarray(shape) if xp is np else torch.tensor(shape)
    pattern = pattern + unit * (amplitude * swing[..., :, None])
    return pattern.reshape(swing.shape[:-1] + (12,)) if xp is np else pattern.reshape(*swing.shape[:-1], 12)


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
