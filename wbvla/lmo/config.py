"""Typed, validated configs of the LMO policy (paper §3.2, App. A.2, Tables 4-5) and its baseline.

Everything a training run, a notebook or the evaluation needs is a field here, documented where it
is declared. No mjlab import: the CLI and the notebooks can build and print configs cheaply.

Units: speeds in m/s (x, y) and rad/s (yaw); heights in m; durations in s; lags in *physics*
steps of 5 ms (see :class:`DomainRandConfig`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from wbvla.lmo.dr_config import (  # noqa: F401  (re-exported: Table 5 and its curriculum live in dr_config.py)
    PENALTY_CURRICULUM_EXEMPT,
    CurriculumConfig,
    DomainRandConfig,
    check_pair,
)
from wbvla.sim.joints import joints_in
from wbvla.validation import in_range, one_of, positive, require

AXES = ("x", "y", "yaw")
"""The three flag axes of the discrete command, in the order of u_t."""
STAGES = (1, 2)
ABLATIONS = ("none", "no_eq3", "no_stage2", "no_stage1")
"""Table 3 rows: the full LMO and its three ablations."""
REFERENCE_FORMS = ("symmetric", "gated", "as_printed")
"""The Eq. 2 shapings of :func:`wbvla.lmo.shaping.reference_velocity` (see ``CommandConfig.reference_form``)."""
TASKS = ("lmo", "velocity")
"""The LMO task and the HOMIE-style velocity-tracking baseline."""
SOLVER_ITERATIONS = 10
"""Newton solver iterations (mjlab's default for locomotion), in training and evaluation alike."""
SOLVER_LS_ITERATIONS = 20
"""Line-search iterations of the solver."""
TERMINATION_TILT = math.radians(60.0)
"""An episode ends (a fall) when the base tilts more than this ..."""
TERMINATION_HEIGHT = 0.35
"""... or the pelvis drops below this height (m). The evaluation counts falls the same way."""


_pair = check_pair


def _triple(name: str, value: tuple[float, float, float], allow_zero: bool = True) -> None:
    require(len(value) == 3, f"{name} needs one value per axis {AXES}, got {value!r}")
    for axis, v in zip(AXES, value, strict=True):
        positive(f"{name}[{axis}]", v, allow_zero=allow_zero)


@dataclass
class CommandConfig:
    """The discrete command u_t = [s_x, s_y, s_yaw, h*] and its reference shaping (Eq. 2)."""

    alpha: float = 4.0
    """Gain of the tanh gate in Eq. 2."""
    smoothing: float = 0.05
    """lambda of Eq. 2: s_bar <- (1 - lambda) s_bar + lambda s, once per 50 Hz policy step."""
    reference_form: Literal["symmetric", "gated", "as_printed"] = "symmetric"
    """How v_ref is formed from the smoothed flag (all three share the s_bar update):

    * ``symmetric`` (default): v_goal sign(s_bar) g(|s_bar|) with the point-symmetric tanh gate
      g(x) = 1/2 + tanh(alpha (x - 1/2)) / (2 tanh(alpha/2)), so g(0) = 0, g(1) = 1 and
      g(1 - x) = 1 - g(x). Why: App. B.4 scores the stop against the *step* command integrated
      over the active phase. After a release s_bar decays as (1 - lambda)^k, the mirror image
      1 - (its rise after the flip), so with this gate the distance a tracker of v_ref loses
      while ramping up equals what it gains while ramping down: a perfect tracker of the training
      reference ends exactly on the B.4 reference (measured: 0.002 m / 0.002 rad mean settle
      error at alpha 4, lambda 0.05; ``tests/unit/test_lmo_commands.py``), so the LMO is not
      handicapped against the velocity baseline, which is trained on the step itself.
    * ``gated``: v_goal tanh(alpha s_bar), the first reading of App. A.2's "soft gate". It rises
      fast and decays slowly, so a perfect tracker overshoots the B.4 reference: 0.22 m forward
      and 0.22 rad turning at alpha 4, above the paper's own 0.21 m / 0.19 rad.
    * ``as_printed``: v_goal tanh(alpha (s - s_bar)), Eq. 2 exactly as printed; its value decays
      to 0 while a flag is held (s_bar -> s), so it cannot be a cruise reference."""
    v_max: tuple[float, float, float] = (0.6, 0.4, 0.6)
    """Stage I: goal speed magnitudes are drawn from U[0, v_max] per active axis."""
    cruise: tuple[float, float, float] = (0.3, 0.3, 0.3)
    """Stage II: fixed cruise speeds v_bar per axis. 0.3 matches App. B.4, so a flag of +-1 is
    exactly the |v| = 0.3 m/s (rad/s) the evaluation commands."""
    active_s: tuple[float, float] = (2.0, 6.0)
    """Duration of a segment with a non-zero flag (s), uniform."""
    stop_s: tuple[float, float] = (1.5, 4.0)
    """Duration of an all-zero (stand) segment (s), uniform. Every active segment is followed by
    one, so each flag episode has an explicit start and stop."""
    p_stand: float = 0.3
    """Probability that a segment after a stop is another stop (stationary episodes)."""
    p_multi_axis: float = 0.1
    """Probability that an active segment sets more than one flag (otherwise exactly one)."""
    settle_lin_speed: float = 0.1
    """A flag episode ends once all flags are 0 and the base moves slower than this (m/s) ..."""
    settle_yaw_rate: float = 0.1
    """... and turns slower than this (rad/s) ..."""
    settle_steps: int = 10
    """... for this many consecutive policy steps."""
    settle_timeout_s: float = 2.0
    """A flag episode also ends this long after the flags returned to 0 (s)."""

    def __post_init__(self) -> None:
        positive("alpha", self.alpha)
        in_range("smoothing", self.smoothing, 1e-6, 1.0)
        one_of("reference_form", self.reference_form, REFERENCE_FORMS)
        _triple("v_max", self.v_max, allow_zero=False)
        _triple("cruise", self.cruise, allow_zero=False)
        for name in ("p_stand", "p_multi_axis"):
            in_range(name, getattr(self, name), 0.0, 1.0)
        _pair("active_s", self.active_s, 0.1)
        _pair("stop_s", self.stop_s, 0.1)
        positive("settle_lin_speed", self.settle_lin_speed)
        positive("settle_yaw_rate", self.settle_yaw_rate)
        require(isinstance(self.settle_steps, int) and self.settle_steps >= 1,
                f"settle_steps must be an int >= 1, got {self.settle_steps!r}")
        positive("settle_timeout_s", self.settle_timeout_s)


@dataclass
class HeightConfig:
    """The stance-height part h* of the command, shared by the LMO and the baseline."""

    height_range: tuple[float, float] = (0.53, 0.655)
    """Range of h* (pelvis above the floor, m); balanced stances reach 0.532-0.671, the default
    pose stands at 0.655."""
    nominal_height: float = 0.655
    """h* of the default stance (its pelvis stands 0.6554 m above the soles)."""
    p_height_change: float = 0.3
    """Probability that a new command segment (LMO) or resample (baseline) also redraws h*."""
    p_nominal_height: float = 0.5
    """When h* is redrawn: probability of the nominal height instead of U[height_range]."""

    def __post_init__(self) -> None:
        _pair("height_range", self.height_range, 0.3, 0.8)
        in_range("nominal_height", self.nominal_height, *self.height_range)
        in_range("p_height_change", self.p_height_change, 0.0, 1.0)
        in_range("p_nominal_height", self.p_nominal_height, 0.0, 1.0)


@dataclass
class VelocityCommandConfig:
    """Continuous commands (v_x, v_y, w_z, h) of the HOMIE-style velocity-tracking baseline."""

    lin_vel_x: tuple[float, float] = (-0.6, 0.6)
    """Range of the commanded forward speed (m/s), uniform."""
    lin_vel_y: tuple[float, float] = (-0.4, 0.4)
    """Range of the commanded lateral speed (m/s), uniform."""
    ang_vel_z: tuple[float, float] = (-0.6, 0.6)
    """Range of the commanded yaw rate (rad/s), uniform."""
    p_standing: float = 0.15
    """Probability that a resample commands zero velocity."""
    resample_s: tuple[float, float] = (3.0, 8.0)
    """Time between resamples (s), uniform."""
    standing_threshold: float = 0.1
    """|command| below which the stand-still penalty applies (the baseline has no flags)."""

    def __post_init__(self) -> None:
        _pair("lin_vel_x", self.lin_vel_x)
        _pair("lin_vel_y", self.lin_vel_y)
        _pair("ang_vel_z", self.ang_vel_z)
        in_range("p_standing", self.p_standing, 0.0, 1.0)
        _pair("resample_s", self.resample_s, 0.1)
        positive("standing_threshold", self.standing_threshold)


@dataclass(frozen=True)
class RewardSpec:
    """One row of Table 4: a reward term with its Stage I and Stage II weight."""

    name: str
    """Function name in :mod:`wbvla.lmo.rewards`."""
    category: str
    """Table 4 category."""
    sketch: str
    """Table 4's equation sketch (our exact formula is in the function's docstring)."""
    stage1: float
    """Weight in Stage I."""
    stage2: float
    """Weight in Stage II."""


REWARD_TABLE: tuple[RewardSpec, ...] = (
    # Intent execution
    RewardSpec("forward_intent", "intent", "exp{-4 (v_x - s_x v_goal_x)^2}", 1.5, 1.8),
    RewardSpec("lateral_intent", "intent", "exp{-4 (v_y - s_y v_goal_y)^2}", 1.0, 1.2),
    RewardSpec("yaw_intent", "intent", "exp{-4 (w_yaw - s_yaw v_goal_yaw)^2}", 2.0, 2.0),
    RewardSpec("height_tracking", "intent", "exp{-4 (h_t - h_r,t)^2}", 2.0, 2.0),
    RewardSpec("vertical_velocity", "intent", "v_r,z", -0.5, -0.75),
    RewardSpec("angular_velocity_xy", "intent", "||w_r,xy||^2", -0.025, -0.05),
    # Posture & joints
    RewardSpec("roll_pitch", "posture", "||g_x||^2 + ||g_y||^2", -1.5, -1.5),
    RewardSpec("hip_deviation", "posture", "||th_hip - th_default||^2", -0.2, -0.2),
    RewardSpec("ankle_deviation", "posture", "||th_ankle - th_default||^2", -0.5, -0.5),
    RewardSpec("knee_deviation", "posture", "penalty on knee angle / height", -0.75, -0.75),
    RewardSpec("dof_acceleration", "posture", "||qd_i - qd_i-1||^2 / dt", -2.5e-7, -2.5e-7),
    RewardSpec("dof_pos_limits", "posture", "sum out_i", -2.0, -2.0),
    RewardSpec("dof_velocity", "posture", "sum thd_i^2", -1e-4, -1e-4),
    RewardSpec("dof_velocity_limits", "posture", "sum RELU(thd_i - thd_max_i)", -0.002, -0.002),
    RewardSpec("torque_limits", "posture", "sum RELU(tau_i - tau_max_i)", -0.1, -0.1),
    # Locomotion structure
    RewardSpec("feet_air_time", "structure", "1(first contact)(T_air - 0.5)", 0.05, 0.05),
    RewardSpec("foot_clearance", "structure", "(p_target_z - p_i,z)^2 v_i,xy", -0.25, -0.25),
    RewardSpec("foot_spacing", "structure", "|y_L - y_R| - d_min", 0.5, 0.5),
    RewardSpec("knee_spacing", "structure", "|y_left knee - y_right knee| - d_min", 1.0, 1.0),
    RewardSpec("feet_ground_parallel", "structure", "sum Var(H_i)", -2.0, -2.0),
    RewardSpec("feet_parallel", "structure", "Var(D)", -3.0, -3.0),
    RewardSpec("no_fly", "structure", "1{only one foot on ground}", 0.75, 0.75),
    RewardSpec("foot_slip", "structure", "|v_foot| 1_new contact", -0.25, -0.25),
    RewardSpec("foot_stumble", "structure", "1{|F_xy| > 3 |F_z|}", -1.5, -1.5),
    # Energy & smoothness
    RewardSpec("action_rate", "energy", "||a_t - a_t-1||^2", -0.01, -0.01),
    RewardSpec("action_smoothness", "energy", "||a_t - 2 a_t-1 + a_t-2||^2", -0.05, -0.05),
    RewardSpec("joint_power", "energy", "||w_i||_1 + 0.2 ||w_i||^2", -2.0e-5, -2.0e-5),
    RewardSpec("torque_usage", "energy", "sum tau_i^2 / kp_i", -2.5e-6, -2.5e-6),
    RewardSpec("feet_contact_force", "energy", "sum RELU(F_z,i - F_th)", -0.00025, -0.00025),
    # Printed as +0.00025; a positive weight would reward hard impacts, so we use the sign of a
    # penalty (documented in rewards.contact_momentum).
    RewardSpec("contact_momentum", "energy", "sum |v_z,i F_z,i|", -0.00025, -0.00025),
    RewardSpec("action_vanish", "energy", "max(0, a_i - a_max) + ...", -1.0, -1.0),
    RewardSpec("roll_action_zero", "energy", "roll actuator -> 0", -0.05, -0.1),
    # Stability
    RewardSpec("stand_still", "stability", "||a_leg||^2 1[s_x = s_y = s_yaw = 0] (Eq. 4)", -0.05, -0.1),
    RewardSpec("joint_tracking", "stability", "||th_i - th_target_i||^2", -0.1, -0.1),
    # Not in Table 4: the Stage II yaw-drift penalty J_dir (Eq. 3), applied once at the end of each
    # flag episode. The paper gives no weight; ours is a choice (Stage I does not use it).
    RewardSpec("heading_drift", "stability", "J_dir = |wrap(psi_end - psi_start)| (Eq. 3)", 0.0, -2.0),
    # Not in Table 4: a fall ends the episode with this penalty (reward units per fall). Without it
    # (and without legged_gym's total clip, which wiped out the learning signal) a negative step
    # total would make an early fall the best policy. 10 is about the discounted value of a
    # walking episode's remaining intent reward (gamma 0.99: ~100 steps of <= 0.13).
    RewardSpec("termination", "stability", "1{fall} (not in Table 4)", -10.0, -10.0),
)
"""Table 4 (every term, Stage I / Stage II weight) plus J_dir (Eq. 3) and the fall penalty.
Weights are per second (mjlab multiplies each term by the 0.02 s policy period); J_dir and the
fall penalty are impulses whose functions divide by that period, so one event pays weight x value."""

INTENT_TERMS = ("forward_intent", "lateral_intent", "yaw_intent")
VELOCITY_TRACKING_TERMS = ("track_lin_vel_x", "track_lin_vel_y", "track_ang_vel_z")


def reward_table_names() -> tuple[str, ...]:
    return tuple(r.name for r in REWARD_TABLE)


@dataclass
class RewardParams:
    """Numbers inside the reward formulas (Table 4 gives sketches; these make them concrete)."""

    tracking_sharpness: float = 4.0
    """The 4 in exp{-4 e^2} of the intent / height terms."""
    foot_clearance_target: float = 0.08
    """p_target_z: swing-foot sole height the clearance term asks for (m)."""
    air_time_target: float = 0.5
    """T_air reference of the air-time term (s)."""
    feet_min_distance: float = 0.20
    """d_min of the foot lateral spacing (m); feet are 0.27 m apart in the default pose."""
    knees_min_distance: float = 0.20
    """d_min of the knee lateral spacing (m)."""
    contact_force_threshold: float = 550.0
    """F_th of the contact-force term (N); the robot weighs 446 N."""
    contact_threshold: float = 1.0
    """Normal force above which a foot counts as in contact (N)."""
    leg_velocity_limit: float = 15.0
    """thd_max of the leg joints (rad/s). The joint table has no velocity limits; this is ours."""
    torque_soft_limit: float = 0.9
    """torque_limits penalizes the unclipped PD torque beyond this fraction of the effort limit."""
    action_bound: float = 4.0
    """a_max of the action-vanish term, in action units (|a| beyond it is penalized)."""

    def __post_init__(self) -> None:
        for name in ("tracking_sharpness", "foot_clearance_target", "air_time_target",
                     "feet_min_distance", "knees_min_distance", "contact_force_threshold",
                     "contact_threshold", "leg_velocity_limit", "action_bound"):
            positive(name, getattr(self, name))
        in_range("torque_soft_limit", self.torque_soft_limit, 0.1, 1.0)


@dataclass
class ArmPerturbationConfig:
    """The upper-body perturbation source that drives the 14 arm joints (not policy outputs)."""

    pose_interval_s: float = 1.5
    """Stage I (HOMIE-style): a new random arm pose target every this many seconds; the target
    is linearly interpolated from the previous one over the interval."""
    initial_ratio: float = 0.0
    """Stage I curriculum factor at the start (Table 5 "Init upper-body ratio 0.0"): targets are
    default + ratio * U[-1, 1] * (half joint range), clipped to the limits."""
    ratio_steps: int = 480 * 24
    """Policy steps (per env) over which the Stage I ratio widens linearly to 1: 480 PPO iterations
    of 24 steps, 80 % of the training plan's 600 Stage I iterations, so Stage I ends with arm
    targets over the whole range (at 2,000 iterations, the earlier value, the plan's Stage I
    ended at a ratio of 0.3 and a 126-iteration CPU run at 0.06; that CPU Stage I policy stands
    with its arms at rest but falls within 2-3 s once arm clips replay)."""
    segment_length_s: tuple[float, float] = (0.8, 2.5)
    """Stage II: L ~ U[...] (s), the clip-time length of one replayed segment (App. A.2)."""
    rate: tuple[float, float] = (0.8, 1.5)
    """Stage II: gamma ~ U[...], the base replay rate."""
    rate_jitter: tuple[float, float] = (-0.25, 0.25)
    """Stage II: delta_i ~ U[...], redrawn every step."""
    noise_std: float = 0.05
    """Stage II: eps_i ~ N(0, std^2) added to the per-step targets (rad)."""
    hold_s: tuple[float, float] = (0.0, 1.0)
    """Stage II: after omega reaches L the last pose is held this long before the next segment."""
    blend_s: float = 0.3
    """Stage II: a new segment blends in from the previous target over this long (avoids steps)."""
    still_fraction: float = 0.0
    """Stage II: share of episodes (drawn at each reset) whose arms stay at the default pose for the
    whole episode instead of replaying clips. 0: the paper's Stage II (every episode replays); the
    CPU route sets it through :attr:`~wbvla.lmo.lever_config.LeverConfig.still_arms_fraction`."""

    def __post_init__(self) -> None:
        positive("pose_interval_s", self.pose_interval_s)
        in_range("still_fraction", self.still_fraction, 0.0, 1.0)
        in_range("initial_ratio", self.initial_ratio, 0.0, 1.0)
        require(isinstance(self.ratio_steps, int) and self.ratio_steps >= 1,
                f"ratio_steps must be an int >= 1, got {self.ratio_steps!r}")
        _pair("segment_length_s", self.segment_length_s, 1e-3)
        _pair("rate", self.rate, 0.0)
        _pair("rate_jitter", self.rate_jitter)
        positive("noise_std", self.noise_std, allow_zero=True)
        _pair("hold_s", self.hold_s, 0.0)
        positive("blend_s", self.blend_s, allow_zero=True)


@dataclass
class ObservationConfig:
    """O_t = [u_t, omega, g, q, qdot, a_t-1] with a short history (proprioceptive only)."""

    history: int = 5
    """Frames stacked per term (the current one included)."""
    noise: bool = True
    """Uniform sensor noise on omega, g, q, qdot during training (never in evaluation)."""

    def __post_init__(self) -> None:
        require(isinstance(self.history, int) and 1 <= self.history <= 50,
                f"history must be an int in [1, 50], got {self.history!r}")


@dataclass
class PPOConfig:
    """rsl-rl-lib PPO and runner settings (mjlab's G1 velocity defaults, scaled to the X2)."""

    actor_hidden: tuple[int, ...] = (512, 256, 128)
    """Actor MLP hidden sizes."""
    critic_hidden: tuple[int, ...] = (512, 256, 128)
    """Critic MLP hidden sizes."""
    init_std: float = 0.5
    """Initial action standard deviation (mjlab's G1 uses 1.0). With one action unit asking for a
    quarter of each motor's torque limit, 1.0 shakes the X2 over: measured on the CPU with 128
    envs, at 1.0 the mean time to fall in Stage I stayed at ~3 s for 100 PPO iterations and the
    deterministic policy then fell within 4.5 s of a plain stand; at 0.5 the envs survived 8-17 s
    after 6 iterations and the policy of iteration 20 stood 10 s."""
    learning_rate: float = 1e-3
    """Adam learning rate (adaptive KL schedule)."""
    entropy_coef: float = 0.01
    """Entropy bonus."""
    num_steps_per_env: int = 24
    """Rollout length per iteration."""
    num_learning_epochs: int = 5
    """PPO epochs per iteration."""
    num_mini_batches: int = 4
    """Mini-batches per epoch."""
    gamma: float = 0.99
    """Discount."""
    lam: float = 0.95
    """GAE lambda."""
    desired_kl: float = 0.01
    """Target KL of the adaptive learning-rate schedule."""
    schedule: Literal["adaptive", "fixed"] = "adaptive"
    """rsl-rl's learning-rate schedule: ``adaptive`` (KL-driven, mjlab's default) or ``fixed``
    (``learning_rate`` throughout; the CPU engine's default, see :func:`wbvla.lmo.cpu.train.cpu_ppo`)."""
    only_positive_rewards: bool = False
    """Clip each step's total reward at 0 before PPO sees it (legged_gym's
    ``only_positive_rewards``). Off by default: measured on the Stage I env with full Table 5
    randomization, 93 % of a random policy's steps clip to 0, and the clip also erases J_dir
    (Eq. 3) and any fall penalty. The fall penalty (``termination`` in :data:`REWARD_TABLE`) and
    the penalty curriculum (:class:`CurriculumConfig`) do its job instead. Kept as an option."""

    def __post_init__(self) -> None:
        require(len(self.actor_hidden) >= 1 and all(h > 0 for h in self.actor_hidden),
                f"actor_hidden must be positive sizes, got {self.actor_hidden!r}")
        require(len(self.critic_hidden) >= 1 and all(h > 0 for h in self.critic_hidden),
                f"critic_hidden must be positive sizes, got {self.critic_hidden!r}")
        for name in ("init_std", "learning_rate", "desired_kl"):
            positive(name, getattr(self, name))
        positive("entropy_coef", self.entropy_coef, allow_zero=True)
        for name in ("num_steps_per_env", "num_learning_epochs", "num_mini_batches"):
            v = getattr(self, name)
            require(isinstance(v, int) and v >= 1, f"{name} must be an int >= 1, got {v!r}")
        in_range("gamma", self.gamma, 0.0, 1.0)
        in_range("lam", self.lam, 0.0, 1.0)
        one_of("schedule", self.schedule, ("adaptive", "fixed"))


@dataclass
class LMOTaskConfig:
    """One training task: which policy, which stage, which ablation, and all its parts."""

    task: Literal["lmo", "velocity"] = "lmo"
    """``lmo``: discrete commands (the paper's policy). ``velocity``: the HOMIE-style baseline."""
    stage: int = 1
    """Curriculum stage (1: gait acquisition, 2: precision and stability)."""
    ablation: Literal["none", "no_eq3", "no_stage2", "no_stage1"] = "none"
    """Table 3 ablation. ``no_eq3`` zeroes J_dir in Stage II; ``no_stage2`` / ``no_stage1`` only
    change which stages the training plan runs (see :mod:`wbvla.lmo.train`)."""
    num_envs: int = 4096
    """Parallel environments."""
    episode_length_s: float = 20.0
    """Episode length (s)."""
    command: CommandConfig = field(default_factory=CommandConfig)
    """LMO command and Eq. 2."""
    velocity_command: VelocityCommandConfig = field(default_factory=VelocityCommandConfig)
    """Baseline command."""
    height: HeightConfig = field(default_factory=HeightConfig)
    """Stance height h* (both policies)."""
    rewards: RewardParams = field(default_factory=RewardParams)
    """Reward formula constants (weights live in :data:`REWARD_TABLE`)."""
    domain_rand: DomainRandConfig = field(default_factory=DomainRandConfig)
    """Table 5."""
    arms: ArmPerturbationConfig = field(default_factory=ArmPerturbationConfig)
    """Upper-body perturbations."""
    observations: ObservationConfig = field(default_factory=ObservationConfig)
    """Observation layout."""
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)
    """How the Table 5 ranges and the Table 4 regularizers are ramped in."""
    action_scale: float = 0.25
    """Leg PD target = default + scale_i * a_i (rad), clipped to the joint range; see ``action_scaling``."""
    action_scaling: Literal["effort", "uniform"] = "effort"
    """``effort`` (default): scale_i = action_scale * effort_limit_i / kp_i (mjlab's G1 convention),
    so one action unit asks every joint for the same 25 % of its torque limit (0.15 rad at the
    hips, 0.10 at the knees, 0.05 at the ankle pitch, 0.06 at the ankle roll). ``uniform``:
    scale_i = action_scale rad for every joint, which asks the ankle pitch for 125 % and the
    ankle roll for 104 % of their torque limits per unit."""
    seed: int = 0
    """Environment seed."""

    def __post_init__(self) -> None:
        one_of("task", self.task, TASKS)
        one_of("stage", self.stage, STAGES)
        one_of("ablation", self.ablation, ABLATIONS)
        require(isinstance(self.num_envs, int) and self.num_envs >= 1,
                f"num_envs must be an int >= 1, got {self.num_envs!r}")
        positive("episode_length_s", self.episode_length_s)
        positive("action_scale", self.action_scale)
        one_of("action_scaling", self.action_scaling, ("effort", "uniform"))
        require(not (self.task == "velocity" and self.ablation != "none"),
                f"ablations apply to the LMO only, got task='velocity' with ablation={self.ablation!r}")

    def leg_action_scales(self) -> tuple[float, ...]:
        """Per-joint action scale (rad per action unit) of the 12 leg joints, canonical order."""
        return leg_action_scales(self.action_scale, self.action_scaling)

    def reward_weights(self) -> dict[str, float]:
        """Weight of every reward term for this task/stage/ablation (0-weight terms included)."""
        col = "stage1" if self.stage == 1 else "stage2"
        weights = {r.name: getattr(r, col) for r in REWARD_TABLE}
        if self.ablation == "no_eq3":
            weights["heading_drift"] = 0.0
        if self.task == "velocity":
            # Same Table 4 regularizers; intent terms become continuous velocity tracking, and
            # there are no flag episodes, so no J_dir.
            for intent, track in zip(INTENT_TERMS, VELOCITY_TRACKING_TERMS, strict=True):
                weights[track] = weights.pop(intent)
            weights.pop("heading_drift")
        return weights


def leg_action_scales(action_scale: float, scaling: str = "effort") -> tuple[float, ...]:
    """Per-joint leg action scales (rad per unit, canonical order) for ``LMOTaskConfig.action_scaling``."""
    one_of("action_scaling", scaling, ("effort", "uniform"))
    legs = joints_in("legs")
    if scaling == "uniform":
        return tuple(float(action_scale) for _ in legs)
    return tuple(action_scale * j.effort_limit / j.kp for j in legs)


SMOKE_ENVS = 16
"""Environments of the CPU smoke runs (tests, notebooks)."""
