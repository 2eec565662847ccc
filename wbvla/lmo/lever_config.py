"""Configs of the sample-efficiency levers (see :mod:`wbvla.lmo.levers` for what each does and why).

Light on purpose (no torch, no mjlab): the CLI, notebooks and ``deploy/`` build and print them cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from wbvla.validation import in_range, one_of, positive, require

GAIT_TERM = ("gait_phase", 2)
"""The gait clock's observation term (sin 2 pi phi, cos 2 pi phi), appended after the paper's six."""
SYMMETRY_MODES = ("none", "augment", "loss", "augment+loss")
"""Values of :attr:`LeverConfig.symmetry`."""
ARM_CLIP_SOURCES = ("synthetic", "teleop", "both")
"""Values of :attr:`LeverConfig.arm_clips` (:func:`wbvla.lmo.clips.load_clip_source` reads them)."""
LEGACY_LEVERS = {"symmetry": "none", "mirror_loss_weight": 1.0, "still_arms_fraction": 0.0, "height_sharpness": None,
                 "arm_clips": "synthetic", "stance_posture": False}
"""What a stored LeverConfig (a run's ``run.json``) trained with where it lacks a field added since:
the value that reproduces that run's training (a resumed run keeps its recipe)."""


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
    arm_clips: str = "synthetic"
    """Which arm clips Stage II replays (:data:`ARM_CLIP_SOURCES`): ``synthetic`` (the
    procedural library), ``teleop`` (the arm targets of the teleoperation episodes: the poses the
    tasks make the LMO carry) or ``both``. The CPU engine reads it; mjlab runs replay ``synthetic``."""
    stance_posture: bool = False
    """Add the squat posture of the commanded h* (:func:`wbvla.lmo.gait.stance_leg_offsets`: hip pitch
    -a, knee +2a, ankle pitch -a, a from the kinematics, 0 at the nominal 0.655) to the leg targets,
    so the policy learns a residual around it. Reason: the shipped s5_lmo policy stood at 0.649 m
    whatever h* it was given; reaching 0.53 takes a = 0.455 rad (knee +0.91 rad), 9 action units at
    the knee's 0.1 rad scale. Changes the action mapping: the exported ONNX says so and the robot
    side adds the same offsets."""
    height_sharpness: float | None = None
    """Override of the 4 in the height term exp{-4 (h_t - h*)^2} (None: Table 4's 4). With h in
    metres Table 4's kernel barely tells heights apart: ignoring a 0.125 m squat command (h* 0.53 at
    the nominal 0.655) keeps exp(-4 x 0.0156) = 94 % of the term, and the shipped s5_lmo policy
    stood at 0.649 m whatever h* it was given. At 100 that costs 79 % and a 5 cm error 22 %."""
    assist: AssistConfig = field(default_factory=AssistConfig)
    """The decaying assistive pelvis force."""
    symmetry: Literal["none", "augment", "loss", "augment+loss"] = "none"
    """Left-right symmetry in PPO's update (rsl-rl's symmetry extension, Mittal et al. 2024;
    :mod:`wbvla.lmo.symmetry` holds the mirror of the X2, of every observation term and of the leg
    actions). ``augment``: every minibatch also holds its mirrored copy (mirrored observations and
    actions, the same advantages and returns); ``loss``: a mirror loss, ``mirror_loss_weight`` x
    MSE(pi(mirror(o)), mirror(pi(o))) on the action means; ``augment+loss``: both. Reason: the
    task is mirror-symmetric but nothing in PPO makes the policy so; the measured policy without
    it turns and walks sideways faster one way than the other and drifts in heading (HOMIE and
    Isaac Lab's locomotion tasks augment). Augmentation treats the mirrored samples as on-policy,
    true only for a near-symmetric policy (a run from scratch); to symmetrize a trained, asymmetric
    policy use ``loss``. Measured on a copy of the plan's s2_lmo (model_2450, 25 PPO iterations of
    256 x 24 samples, /tmp study, issue 22 report): rollout mirror MSE 0.52 -> 0.037 with ``loss``,
    0.48 with ``augment``, 0.52 with ``none``, at the same reward and episode length. Costs a larger
    PPO update (measured at 256 envs: iteration 6.6-6.9 s -> 9.1-9.6 s with ``augment``). Logged as
    ``Loss/symmetry`` (the mirror MSE) whenever on. Paper: none. Default ``none``: the recipe of the
    runs started before the lever (:data:`LEGACY_LEVERS`); a plan step opts in."""
    mirror_loss_weight: float = 1.0
    """Weight of the mirror loss (modes with ``loss``)."""
    still_arms_fraction: float = 0.0
    """Stage II: share of episodes whose arms stay at the default pose instead of replaying clips
    (:attr:`~wbvla.lmo.config.ArmPerturbationConfig.still_fraction`). Reason: App. B.4's locomotion
    trials, and a VLA that is not moving its arms, hold the arms still, which the paper's Stage II
    (every episode replays clips) never shows the policy. Measured (``tools/lmo_train_env_probe.py``,
    s4_lmo model_1000 in its own training env without randomization, 32 envs, 5 s backward then
    10 s stand): 0/32 falls with the arms replaying clips, 32/32 with the arms held at the default
    pose (h* at nominal: 0/32). 0: the paper's Stage II (and the recipe of runs before the lever)."""

    def __post_init__(self) -> None:
        in_range("still_arms_fraction", self.still_arms_fraction, 0.0, 1.0)
        in_range("gait_period_s", self.gait_period_s, 0.3, 2.0)
        require(abs(self.gait_period_s / 0.02 - round(self.gait_period_s / 0.02)) < 1e-9,
                f"gait_period_s must be a whole number of 0.02 s policy steps, got {self.gait_period_s}")
        one_of("reference_gait", self.reference_gait, ("none", "sinusoid"))
        in_range("reference_amplitude", self.reference_amplitude, 0.0, 0.6)
        for n in ("contact_schedule_weight", "swing_height_weight", "progress_weight"):
            positive(n, getattr(self, n), allow_zero=True)
        in_range("swing_height", self.swing_height, 0.0, 0.3)
        for n in ("intent_sharpness", "height_sharpness"):
            if getattr(self, n) is not None:
                positive(n, getattr(self, n))
        require(not (self.reference_gait != "none" and not self.gait_clock),
                "reference_gait needs gait_clock=True (the reference is a function of the clock phase)")
        require(not ((self.contact_schedule_weight or self.swing_height_weight) and not self.gait_clock),
                "the contact-schedule and swing-height terms need gait_clock=True")
        one_of("symmetry", self.symmetry, SYMMETRY_MODES)
        one_of("arm_clips", self.arm_clips, ARM_CLIP_SOURCES)
        positive("mirror_loss_weight", self.mirror_loss_weight, allow_zero=True)
        steps = round(self.gait_period_s / 0.02)
        require(not (self.symmetry != "none" and self.gait_clock and steps % 2),
                f"symmetry={self.symmetry!r} with the gait clock needs an even number of 0.02 s steps per period "
                f"(the mirror runs the clock half a period on), got gait_period_s={self.gait_period_s} ({steps} steps)")

    @classmethod
    def paper(cls) -> LeverConfig:
        """Every lever off: the paper's observation, action and Table 4 rewards."""
        return cls(gait_clock=False, reference_gait="none", contact_schedule_weight=0.0, swing_height_weight=0.0,
                   progress_weight=0.0, intent_sharpness=None, assist=AssistConfig(enabled=False), symmetry="none")

    def extra_reward_weights(self) -> dict[str, float]:
        """Weights of the lever reward terms this config switches on."""
        w = {"contact_schedule": self.contact_schedule_weight, "swing_height": -self.swing_height_weight,
             "intent_progress": self.progress_weight}
        return {k: v for k, v in w.items() if v != 0.0}
