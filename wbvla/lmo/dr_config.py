"""Table 5 domain randomization and the learning curriculum that ramps it (and the penalties) in.

No mjlab import. :class:`DomainRandConfig` holds every Table 5 row at its full range;
:class:`CurriculumConfig` says how training reaches those ranges: each range is shrunk toward its
neutral value (no randomization) by a *DR level* in [0, 1] (:func:`scaled_range`), and the Table 4
regularizers are multiplied by a *penalty scale* in (0, 1]; both follow one progress variable that
rises while the policy stops falling and falls back when it falls (legged_gym's terrain curriculum
and HOMIE's regularization curriculum work the same way), with a floor that reaches 1 on a
schedule so the full Table 5 ranges and Table 4 weights are trained by the end of Stage II.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from wbvla.validation import in_range, positive, require


def check_pair(name: str, value: tuple[float, float], lo: float = -math.inf, hi: float = math.inf) -> None:
    """``value`` is a finite (min, max) pair with lo <= min <= max <= hi."""
    require(len(value) == 2, f"{name} must be a (min, max) pair, got {value!r}")
    require(
        all(isinstance(v, (int, float)) and math.isfinite(v) for v in value),
        f"{name} must hold finite numbers, got {value!r}",
    )
    require(lo <= value[0] <= value[1] <= hi, f"{name} must satisfy {lo} <= min <= max <= {hi}, got {value!r}")


def scaled_range(value: tuple[float, float], neutral: float, level: float) -> tuple[float, float]:
    """A Table 5 range shrunk toward ``neutral`` (its no-randomization value) by ``level`` in [0, 1]:
    [n + level (lo - n), n + level (hi - n)]. Level 1 is the full range, level 0 the point ``neutral``."""
    lo, hi = value
    return level * lo + (1.0 - level) * neutral, level * hi + (1.0 - level) * neutral


def scaled_lag(value: tuple[int, int], level: float) -> tuple[int, int]:
    """A lag range (physics steps, neutral 0) scaled by ``level`` and rounded to whole steps."""
    return round(level * value[0]), round(level * value[1])


NEUTRAL: dict[str, float] = {
    "torque_injection": 0.0, "actuation_offset": 0.0, "link_mass_scale": 1.0, "com_displacement": 0.0,
    "body_displacement": 0.0, "friction": 1.0, "restitution": 0.0, "torso_payload": 0.0, "hand_payload": 0.0,
    "kp_scale": 1.0, "kd_scale": 1.0, "init_joint_scale": 1.0,
}
"""The value of each ranged Table 5 row that means "not randomized" (friction 1.0 is the nominal
foot friction of the model; restitution 0 is MuJoCo's default critically damped contact)."""


@dataclass
class DomainRandConfig:
    """Table 5, every row, at its full range (the curriculum scales it, see :class:`CurriculumConfig`).
    Lags count physics steps (5 ms): HOMIE-lineage code steps its lag buffers inside the PD loop,
    and 10 policy steps (200 ms) of IMU lag would not be a latency model of any real robot."""

    enabled: bool = True
    """Master switch (the evaluation and the obs-equality test turn everything off)."""
    torque_injection: tuple[float, float] = (-0.05, 0.05)
    """Joint torque injection: additive leg torque, as a fraction of each joint's effort limit,
    redrawn every policy step."""
    actuation_offset: tuple[float, float] = (-0.05, 0.05)
    """Actuation offset: constant per-episode offset on each leg PD target (rad)."""
    link_mass_scale: tuple[float, float] = (0.8, 1.2)
    """Link mass scale (mass and inertia scaled together)."""
    com_displacement: tuple[float, float] = (-0.1, 0.1)
    """COM displacement of the torso (heavy upper body), per axis (m). Table 5 does not name the
    body; our reading."""
    body_displacement: tuple[float, float] = (-0.1, 0.1)
    """Body displacement: COM offset of the pelvis (base), per axis (m). Our reading."""
    friction: tuple[float, float] = (0.1, 3.0)
    """Foot friction coefficient (absolute)."""
    restitution: tuple[float, float] = (0.0, 1.0)
    """Restitution coefficient e of the foot contacts, mapped to MuJoCo's solref damping ratio
    zeta = -ln e / sqrt(pi^2 + ln^2 e) (spring-damper contact), floored at ``min_damping_ratio``."""
    min_damping_ratio: float = 0.3
    """Floor of that damping ratio. MuJoCo's soft contact is a spring-damper that acts for as long
    as the feet touch the floor, whereas PhysX (Isaac Gym/Lab, where Table 5 comes from) applies
    restitution only to impacts above a bounce-threshold velocity, so a standing robot never
    feels it. With a floor of 0.1 the bouncing feet alone topple a zero-action X2 within about
    0.7 s (in the mjlab env: 61 falls among 48 envs in 150 steps); at 0.3 none falls
    (``tests/unit/test_lmo_contact.py`` holds the stance on the most bouncy feet)."""
    torso_payload: tuple[float, float] = (-5.0, 10.0)
    """Mass added to the torso (kg)."""
    hand_payload: tuple[float, float] = (-0.1, 0.3)
    """Mass added to each hand (kg)."""
    kp_scale: tuple[float, float] = (0.9, 1.1)
    """PD stiffness scale."""
    kd_scale: tuple[float, float] = (0.9, 1.1)
    """PD damping scale."""
    init_joint_scale: tuple[float, float] = (0.8, 1.2)
    """Initial joint position = default pose times U[scale] (per joint) at reset."""
    push_velocity: float = 0.5
    """Pushes set a random horizontal base velocity of up to this (m/s) ..."""
    push_interval_s: float = 4.0
    """... every this many seconds (Stage II; Stage I uses ``stage1_push_scale``)."""
    stage1_push_scale: float = 0.5
    """Stage I pushes are this fraction of the Stage II strength and this factor less frequent
    ("Stage II increases the strength and frequency of perturbations", App. A.2; ours)."""
    action_lag: tuple[int, int] = (2, 8)
    """Action lag (physics steps), drawn per episode."""
    dof_lag: tuple[int, int] = (0, 8)
    """Joint state (q, qdot) lag (physics steps), drawn per episode."""
    imu_lag: tuple[int, int] = (1, 10)
    """IMU (omega, g) lag (physics steps), drawn per episode."""

    def __post_init__(self) -> None:
        check_pair("torque_injection", self.torque_injection, -1.0, 1.0)
        check_pair("actuation_offset", self.actuation_offset, -0.5, 0.5)
        check_pair("link_mass_scale", self.link_mass_scale, 0.1, 10.0)
        check_pair("com_displacement", self.com_displacement, -0.5, 0.5)
        check_pair("body_displacement", self.body_displacement, -0.5, 0.5)
        check_pair("friction", self.friction, 0.0, 10.0)
        check_pair("restitution", self.restitution, 0.0, 1.0)
        in_range("min_damping_ratio", self.min_damping_ratio, 1e-3, 1.0)
        check_pair("torso_payload", self.torso_payload, -10.0, 50.0)
        check_pair("hand_payload", self.hand_payload, -0.3, 5.0)
        check_pair("kp_scale", self.kp_scale, 0.1, 10.0)
        check_pair("kd_scale", self.kd_scale, 0.1, 10.0)
        check_pair("init_joint_scale", self.init_joint_scale, 0.0, 2.0)
        positive("push_velocity", self.push_velocity, allow_zero=True)
        positive("push_interval_s", self.push_interval_s)
        in_range("stage1_push_scale", self.stage1_push_scale, 0.0, 1.0)
        for name in ("action_lag", "dof_lag", "imu_lag"):
            lag = getattr(self, name)
            check_pair(name, lag, 0, 100)
            require(all(isinstance(v, int) for v in lag), f"{name} must hold integers, got {lag!r}")

    def push_schedule(self, stage: int) -> tuple[float, float]:
        """Pushes of curriculum ``stage``: (largest velocity change per horizontal axis in m/s,
        seconds between pushes). Stage II: ``push_velocity`` every ``push_interval_s``; Stage I
        (and the velocity baseline) ``stage1_push_scale`` times as strong and as frequent. Of a
        config at a DR level (:meth:`at_level`), the velocity is that level's."""
        require(stage in (1, 2), f"stage must be 1 or 2, got {stage!r}")
        scale = 1.0 if stage == 2 else self.stage1_push_scale
        return self.push_velocity * scale, self.push_interval_s / max(scale, 1e-6)

    def disabled(self) -> DomainRandConfig:
        """The same config with everything switched off (nominal robot, no lag, no pushes)."""
        return replace(self, enabled=False)

    def at_level(self, level: float) -> DomainRandConfig:
        """Every range scaled toward its neutral value by ``level`` (pushes and lags too); the
        config a curriculum at that level trains with (``tools/lmo_zero_action_dr.py`` uses it)."""
        in_range("level", level, 0.0, 1.0)
        ranges = {k: scaled_range(getattr(self, k), n, level) for k, n in NEUTRAL.items()}
        lags = {k: scaled_lag(getattr(self, k), level) for k in ("action_lag", "dof_lag", "imu_lag")}
        return replace(self, **ranges, **lags, push_velocity=self.push_velocity * level)


PENALTY_CURRICULUM_EXEMPT: tuple[str, ...] = (
    "roll_pitch", "vertical_velocity", "angular_velocity_xy", "heading_drift", "termination",
)
"""Negative-weight terms the penalty scale does *not* touch: the upright and base-motion terms that
tell the policy how not to fall, J_dir (Eq. 3 must act at every training scale) and the fall
penalty. Every other negative-weight term of Table 4 (posture, joint limits, locomotion structure,
energy and smoothness, stand-still, joint tracking) is multiplied by the penalty scale."""


@dataclass
class CurriculumConfig:
    """Performance-driven curriculum of the Table 5 ranges and the Table 4 regularizers.

    One progress variable p in [0, 1] drives both: DR level = initial_dr_level + (1 -
    initial_dr_level) p and penalty scale = initial_penalty_scale + (1 - initial_penalty_scale) p.
    Every ``update_every_steps`` policy steps the falls of the last window give a mean time to
    fall per env; p rises by ``step`` when it is at least ``promote_fraction`` of an episode and
    drops by ``step`` when it is under ``demote_fraction`` (never below 0 or the floor). A floor
    raises p linearly to 1 over ``floor_ramp_steps`` (when set), so a run of known length ends at
    the full Table 5 ranges and Table 4 weights whatever its performance.
    """

    use_curriculum: bool = True
    """Off: full Table 5 ranges and Table 4 weights from the first step (the paper as printed)."""
    initial_dr_level: float = 0.2
    """DR level at p = 0. At 0.2, a zero-action stance does not fall (measured with
    ``tools/lmo_zero_action_dr.py --level 0.2``; the full table topples 30 of 32 envs)."""
    initial_penalty_scale: float = 0.1
    """Penalty scale at p = 0: a random policy's step reward is then mostly positive, so the
    intent and upright terms, not the regularizers, shape the first iterations."""
    start_progress: float = 0.0
    """p at the start of this run (a resumed chunk or Stage II continues from the saved value)."""
    update_every_steps: int = 24
    """Policy steps between updates (one PPO rollout), the same for any env count."""
    promote_fraction: float = 0.8
    """p rises when the mean time to fall is at least this fraction of the episode length ..."""
    demote_fraction: float = 0.4
    """... and drops when it is under this fraction."""
    step: float = 0.02
    """Change of p per update."""
    floor_ramp_steps: int = 0
    """Policy steps over which the floor of p rises linearly from 0 to 1 (0: no floor).
    The training plan sets it so Stage II (and the baseline) end at full ranges and weights."""

    def __post_init__(self) -> None:
        in_range("initial_dr_level", self.initial_dr_level, 0.0, 1.0)
        in_range("initial_penalty_scale", self.initial_penalty_scale, 1e-3, 1.0)
        in_range("start_progress", self.start_progress, 0.0, 1.0)
        require(isinstance(self.update_every_steps, int) and self.update_every_steps >= 1,
                f"update_every_steps must be an int >= 1, got {self.update_every_steps!r}")
        in_range("promote_fraction", self.promote_fraction, 0.0, 10.0)
        in_range("demote_fraction", self.demote_fraction, 0.0, self.promote_fraction)
        in_range("step", self.step, 0.0, 1.0)
        require(isinstance(self.floor_ramp_steps, int) and self.floor_ramp_steps >= 0,
                f"floor_ramp_steps must be an int >= 0, got {self.floor_ramp_steps!r}")

    def dr_level(self, progress: float) -> float:
        """DR level at progress ``progress`` (1 when the curriculum is off)."""
        return 1.0 if not self.use_curriculum else self.initial_dr_level + (1.0 - self.initial_dr_level) * progress

    def penalty_scale(self, progress: float) -> float:
        """Multiplier of the curriculated penalties at ``progress`` (1 when the curriculum is off)."""
        return 1.0 if not self.use_curriculum else self.initial_penalty_scale + (1.0 - self.initial_penalty_scale) * progress

    def floor(self, steps: int) -> float:
        """The scheduled floor of p after ``steps`` policy steps of this run: steps / ramp, capped
        at 1 (0 without a ramp). It depends on the run's step count only, so a resumed chunk
        continues the same schedule."""
        if self.floor_ramp_steps <= 0:
            return 0.0
        return min(1.0, steps / self.floor_ramp_steps)

    def next_progress(self, progress: float, mean_time_to_fall_s: float, episode_s: float, steps: int,
                      observed_s: float = math.inf) -> float:
        """One update of p from the window's mean time to fall (s) per env.

        ``observed_s``: policy time since this curriculum started counting (a run or a resumed
        chunk starts every env afresh). Until it reaches ``promote_fraction`` of an episode a
        window without falls says nothing about surviving that long, so p does not rise yet (it
        can still drop): without this, every resumed chunk promoted p for its first few windows."""
        frac = mean_time_to_fall_s / episode_s
        if frac >= self.promote_fraction and observed_s >= self.promote_fraction * episode_s:
            progress += self.step
        elif frac < self.demote_fraction:
            progress -= self.step
        return float(min(1.0, max(progress, 0.0, self.floor(steps))))
