"""The scripted expert's settings: :class:`ExpertConfig` (what it does and how precisely),
:class:`ExpertNoiseConfig` (teleoperator-like command errors) and :func:`expert_config_for` (the
settings for the legs it drives: the kinematic ideal base or a physics LMO)."""

from __future__ import annotations

from dataclasses import dataclass, field

from wbvla.lmo.config import CommandConfig, HeightConfig
from wbvla.sim.joints import GRIPPER_OPEN
from wbvla.tasks.expert_pulses import PulseNavigationConfig
from wbvla.validation import in_range, positive, require


@dataclass
class ExpertNoiseConfig:
    """Teleoperator-like command errors during locomotion phases (then corrected)."""

    p_late_release: float = 0.3
    """Probability, per locomotion phase, that one flag is released late ..."""
    late_s: tuple[float, float] = (0.3, 0.8)
    """... by this long (s, uniform)."""
    p_wrong_flag: float = 0.2
    """Probability, per locomotion phase, of one wrong flag pulse (random axis and sign) ..."""
    wrong_s: tuple[float, float] = (0.2, 0.5)
    """... lasting this long (s, uniform)."""
    stance_offset: tuple[float, float] = (0.0, 0.0)
    """(metres, radians): per episode, the grasp stance the expert walks to is moved by up to this
    much along, across (uniform in +-metres each) and in heading (+-radians); the arms' IK then
    grasps from there. (0, 0): the nominal stance. Why: the learned policy stops 5-15 cm from the
    stance (issue 20) and the demonstrations never grasp from anywhere but within 1.5-3 cm of it."""

    def __post_init__(self) -> None:
        in_range("p_late_release", self.p_late_release, 0.0, 1.0)
        in_range("p_wrong_flag", self.p_wrong_flag, 0.0, 1.0)
        require(len(self.stance_offset) == 2 and 0.0 <= self.stance_offset[0] <= 0.15 and 0.0 <= self.stance_offset[1] <= 0.3,
                f"stance_offset must be (metres in [0, 0.15], radians in [0, 0.3]), got {self.stance_offset!r}")

    @classmethod
    def off(cls) -> ExpertNoiseConfig:
        return cls(p_late_release=0.0, p_wrong_flag=0.0)


@dataclass
class ExpertConfig:
    """How the expert moves."""

    noise: ExpertNoiseConfig = field(default_factory=ExpertNoiseConfig)
    """Command noise (set ``ExpertNoiseConfig.off()`` for clean demonstrations)."""
    command: CommandConfig = field(default_factory=CommandConfig)
    """The Eq. 2 parameters of the locomotion backend (to predict how far the base coasts)."""
    height: HeightConfig = field(default_factory=HeightConfig)
    """h* range."""
    grasp_reach: float = 0.38
    """Bag / tote centre (its carrying bar) this far ahead of the pelvis when grasping (m). 0.38
    (was 0.33) keeps both hands in the head image from pre-grasp on: at 0.33 the pre-grasp
    fingertips sat below the frame (``wbvla expert-eval`` reports ``work_view``; issue 20)."""
    grasp_height: float = 0.78
    """Wanted bar height in the arm base frame when grasping (m; the horizontal-finger grasp
    reaches down to about 0.74); h* is chosen to get it (a squat for low bars)."""
    min_hand_height: float = 0.75
    """Lowest TCP height in the arm base frame when lowering a load (m)."""
    handle_reach: float = 0.42
    """Cart handle this far ahead of the pelvis when grasping it (m)."""
    handle_half_spacing: float = 0.15
    """Hands this far left / right of the cart handle's centre (m)."""
    raised_hands: tuple[float, float, float] = (0.28, 0.16, 0.92)
    """Where the first phase raises the TCPs (arm base frame: ahead, to each side, height; m):
    clear of tables and handles while walking, and inside the head image (the former
    (0.25, 0.20, 0.92) put the left hand just outside its left edge)."""
    beyond: float = 0.03
    """TCP (fingertips) this far past the bar axis along the fingers (m)."""
    pregrasp_back: float = 0.08
    """Pre-grasp TCP this far behind the grasp along the fingers (m) ..."""
    pregrasp_opening: float = 0.025
    """... with the grippers this far open (m per finger; fully open 0.04 would hit the load)."""
    lift: float = 0.08
    """Lift of a grasped bag / tote (m) ..."""
    carry_reach: float = 0.36
    """... while the TCPs come back to this far ahead of the pelvis (arm base frame, m): where
    they held the load when the grasp stance was 0.33 m, the carry the placement is tuned for
    (held farther out, 3 of 8 bags stayed on the fingers when let go)."""
    body_clearance: float = 0.02
    """Where it puts a load down, its legs and body stay this far from the carton or cart (m) at
    every pelvis height of the squat (the knees move forward as it squats)."""
    place_margin: float = 0.07
    """A load put down off centre keeps its edge this far inside the carton's or the deck's outline (m)."""
    twist_lift: float = 0.05
    """Hands rise this much while twisting a bag off the fingers (m; see ``_release``)."""
    tol_xy: float = 0.015
    """Position dead band of the approach (m)."""
    tol_yaw: float = 0.035
    """Heading dead band (rad)."""
    reengage_xy: float = 0.03
    """A settled axis starts again only if its predicted error exceeds this (m) ..."""
    reengage_yaw: float = 0.07
    """... or this (rad)."""
    turn_first: float = 0.25
    """With a heading error above this (rad) the robot turns in place before translating."""
    push_extra: float = 0.15
    """Keep pushing this far past the subgoal distance (m)."""
    arm_move_s: float = 1.5
    """Duration of a large arm motion (s); short ones take 2/3 of it."""
    grip_s: float = 0.6
    """Time to close or open the grippers (s)."""
    phase_timeout_s: float = 25.0
    """A locomotion phase that does not settle within this gives up (the trial then fails)."""
    navigation: str = "reference"
    """How locomotion phases steer: ``reference`` (several flags at once, released when Eq. 2's
    reference would coast onto the target, dead band ``tol_xy`` / ``tol_yaw``: what the kinematic
    ideal base follows exactly) or ``pulses`` (one axis at a time with a stop between pulses,
    :mod:`wbvla.tasks.expert_pulses`: what the physics LMO was trained to follow). Command noise
    applies to ``reference`` only. :func:`expert_config_for` picks it by backend."""
    pulses: PulseNavigationConfig = field(default_factory=PulseNavigationConfig)
    """Settings of ``navigation="pulses"``."""
    raise_arms_at: str = "start"
    """When the first phase raises the arms (``raised_hands``): at the ``start``, before walking to the
    load, or at the ``stance``, once the approach has settled (it walks with the arms in their
    default pose). Measured with ``tools/lmo_pulse_response.py`` on the shipped LMO
    (``data/lmo/pulse_response_{raised,default}.json``, 3 trials each): with the arms raised a 3 s
    forward flag moved it 0.29 m and a 1 s turning flag 0.01 rad; with the default arms 0.64 m and
    0.34 rad (its training replays arm motion, not a held raised pose).
    :func:`expert_config_for` picks ``stance`` on a physics backend."""
    place_backoff: float = 0.0
    """Where it puts a load down, the pelvis stands this much farther back than the stance probe
    allows (m), and the arms reach the difference: the load still lands where the probe planned it
    (``track_bar`` also takes up the stance error there). Under the physics LMO a forward pulse
    overshoots by a few cm and the hips hit the carton (seen in 8 of 10 bag trials with 0).
    :func:`expert_config_for` sets it on a physics backend (:data:`PHYSICS_OVERRIDES`)."""
    turn_clearance: float = 0.0
    """Box loading: before it turns to the cart, the pelvis steps straight back this far from where it
    rose with the tote (m; part of the ``turn_and_walk`` phase). 0: it turns where it stands, which the
    kinematic ideal base can (its legs follow the pelvis). Under a physics LMO a thigh or hip touched the
    table top during this phase in 8 of 12 s11_lmo box trials (a body on furniture is a fall,
    :mod:`wbvla.sim.contacts`); 0.35 m halved those falls but no tote then reached the cart (0 of 8), so
    :func:`expert_config_for` leaves it at 0 on every backend (docs/details.md)."""
    max_reach_shift: float = 0.2
    """Largest horizontal shift of the hands that a put-down makes up for (m)."""
    settle_before_arms: bool = True
    """After a locomotion phase (``reference`` navigation), wait until Eq. 2's reference has coasted
    to rest (|s_bar| < 0.03 on every axis, the stance inside ``reengage_*``) before the next arm
    motion starts. True is the behaviour before this switch. False: the next phase starts as soon
    as every flag is released and the coast is predicted to end inside ``reengage_*``, and the arm
    IK is re-solved at every tick as with ``track_bar`` (the base is still coasting). Why (issue 20):
    the wait is about 1 s, 12 to 18 of the 25 to 34 approach frames, and one head image cannot tell
    it from the state right after it (a robot at rest at the stance, arms raised); a single-frame
    policy cloned from it learned to hold there forever (the traced bag trials of the fixed-layout
    policy stopped within 0.1 m of the stance, arms raised, flags 0, until the time limit)."""
    track_bar: bool = False
    """Re-solve the arm IK for the bar or handle at every tick of the pre-grasp, grasp and grip
    motions (else once per motion). The kinematic ideal base stands still; under the physics LMO
    the pelvis drifts a few cm while standing (measured: 4 cm in x and 8 cm in y over 13 s), more
    than the 1.5 cm the grasp tolerates. :func:`expert_config_for` sets it with ``pulses``."""

    def __post_init__(self) -> None:
        positive("place_backoff", self.place_backoff, allow_zero=True)
        positive("turn_clearance", self.turn_clearance, allow_zero=True)
        positive("max_reach_shift", self.max_reach_shift, allow_zero=True)
        for name in ("grasp_reach", "grasp_height", "min_hand_height", "handle_reach", "handle_half_spacing", "beyond",
                     "pregrasp_back", "lift", "body_clearance", "place_margin", "twist_lift", "tol_xy", "tol_yaw", "reengage_xy", "reengage_yaw", "turn_first",
                     "arm_move_s", "grip_s", "phase_timeout_s"):
            positive(name, getattr(self, name))
        in_range("pregrasp_opening", self.pregrasp_opening, 0.0, GRIPPER_OPEN)
        if self.raise_arms_at not in ("start", "stance"):
            raise ValueError(f"raise_arms_at must be 'start' or 'stance', got {self.raise_arms_at!r}")
        if self.navigation not in NAVIGATION:
            raise ValueError(f"navigation must be one of {NAVIGATION}, got {self.navigation!r}")
        in_range("carry_reach", self.carry_reach, 0.2, 0.6)
        self.raised_hands = tuple(self.raised_hands)
        if len(self.raised_hands) != 3:
            raise ValueError(f"raised_hands must be 3 numbers (ahead, to each side, high; m), got {self.raised_hands!r}")
        for name, v, lo, hi in zip(("raised_hands[0] (ahead)", "raised_hands[1] (to each side)", "raised_hands[2] (high)"),
                                   self.raised_hands, (0.1, 0.0, 0.6), (0.6, 0.4, 1.2), strict=True):
            in_range(name, v, lo, hi)


NAVIGATION = ("reference", "pulses")
"""Values of :attr:`ExpertConfig.navigation`."""
PHYSICS_BACKENDS = ("lmo", "velocity_rl")
"""Backends whose legs are a learned policy under physics (they get :data:`PHYSICS_OVERRIDES`)."""
PHYSICS_OVERRIDES = {"track_bar": True, "raise_arms_at": "stance", "place_backoff": 0.15, "carry_reach": 0.28}
"""What the expert changes besides ``navigation="pulses"`` when a physics LMO carries it (each field
says why). Measured on the shipped LMO, bag packing, seeds 1000000-1000009 (bags put in the carton /
falls of 10) by (``carry_reach``, ``place_backoff``): (0.36, 0.08) 0 / 7; (0.28, 0.08) 3 / 4;
(0.36, 0.15) 2 / 5; (0.28, 0.15) 2 / 1; (0.24, 0.12) 2 / 3; (0.24, 0.08) 2 / 2: a load held closer to
the body and a stance farther from the carton fall less; what is left is mostly the time limit."""


def expert_config_for(backend: str, **fields) -> ExpertConfig:
    """The expert's config for driving ``backend`` (``ideal_base``, ``lmo``, ``velocity_rl``): ``pulses``
    navigation and :data:`PHYSICS_OVERRIDES` on a physics backend, ``reference`` on the ideal base; ``fields`` override."""
    physics = backend in PHYSICS_BACKENDS
    return ExpertConfig(**{"navigation": "pulses" if physics else "reference",
                           **(PHYSICS_OVERRIDES if physics else {}), **fields})
