"""The scripted privileged expert: a :class:`~wbvla.control.policy_contract.Policy` that solves the three tasks.

It reads the true object and base poses of the scene it is bound to (:meth:`ScriptedExpert.bind`,
done by the runner at the start of a trial) and runs a finite-state machine per task, one state
per phase, emitting at 10 Hz exactly what the VLA has to learn: 14 arm targets, 2 gripper
targets and u_t = [s_x, s_y, s_yaw, h*] with flags in {-1, 0, 1}.

* ``bag_packing``: approach the bag -> pre-grasp -> grasp (both grab bars) -> lift -> sidestep to
  the carton -> squat and lower -> release;
* ``box_loading``: approach the tote -> squat, pre-grasp -> grasp -> rise with the tote -> turn
  to the cart -> step to it -> lower onto the deck -> release.

  Where it puts a load down it stands as close as its squatting body allows (legs and body
  ``body_clearance`` from the carton or the cart, :mod:`wbvla.tasks.expert_stance`), squatting
  less deep where the knees would keep the load from landing inside;
* ``cart_pushing``: approach the handle -> pre-grasp -> grab the handle -> push ahead (heading
  held with s_yaw, drift corrected with s_y) -> stop.

Locomotion is closed-loop on the base pose: per axis a flag is set while the error exceeds what
the Eq. 2 reference still travels after a release (:meth:`VelocityReference.coast`), with a dead
band; with a large heading error the robot turns in place first. Arm motions are minimum-jerk in
joint space between damped-least-squares IK solutions (:mod:`wbvla.tasks.expert_arms`).

**Command noise** (:class:`ExpertNoiseConfig`): during a locomotion phase the expert may release a
flag late (overshoot) or send a short wrong flag, then corrects; so the demonstrations contain
recoveries, and the recorded actions are the commands actually sent (as in teleoperation).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from wbvla.control.policy_contract import PolicyOutput
from wbvla.locomotion.reference import VelocityReference
from wbvla.sim.angles import wrap_angle
from wbvla.sim.joints import GRIPPER_OPEN, default_pose
from wbvla.sim.kinematics import READY_ARM_POSE, ArmKinematics, arm_slice
from wbvla.sim.robot import DECIMATION, PHYSICS_DT
from wbvla.tasks.expert_arms import ArmServo, GraspFrame
from wbvla.tasks.expert_config import (  # re-exported (__all__): callers import the expert and its settings from here
    NAVIGATION,
    PHYSICS_BACKENDS,
    PHYSICS_OVERRIDES,
    ExpertConfig,
    ExpertNoiseConfig,
    expert_config_for,
)
from wbvla.tasks.expert_pulses import pulse_navigation
from wbvla.tasks.expert_stance import StanceProbe
from wbvla.tasks.specs import TaskInstance

__all__ = ["NAVIGATION", "PHYSICS_BACKENDS", "PHYSICS_OVERRIDES", "ExpertConfig", "ExpertNoiseConfig", "ScriptedExpert",
           "expert_config_for", "raised_arms"]

TICK_S = 0.1
CONTROL_STEPS_PER_TICK = round(TICK_S / (DECIMATION * PHYSICS_DT))


@dataclass
class _Tick:
    arms: np.ndarray
    grippers: np.ndarray
    flags: np.ndarray
    h: float


@lru_cache(maxsize=4)
def raised_arms(hands: tuple[float, float, float] = ExpertConfig.raised_hands) -> np.ndarray:
    """Arm pose (14,) of the expert's first phase: TCPs ``hands`` = (ahead of the pelvis, to each
    side, high) in the arm base frame (``ExpertConfig.raised_hands``), fingers forward, closing
    vertically."""
    ahead, out, high = hands
    kin = ArmKinematics()
    q = READY_ARM_POSE.copy()
    for side, k in (("left", 1.0), ("right", -1.0)):
        res = kin.solve(side, np.array([ahead, k * out, high]), np.array([1.0, 0.0, 0.0]), q_init=q,
                        closing_axis=np.array([0.0, 0.0, 1.0]), iterations=400)
        q[arm_slice(side)] = res.q_arm
    return q


def _min_jerk(a: float) -> float:
    a = min(max(a, 0.0), 1.0)
    return a * a * a * (10 - 15 * a + 6 * a * a)


class ScriptedExpert:
    """Policy with privileged access to the scene (see the module docstring)."""

    model_id = "scripted_expert"
    command_kind = "flags"
    uses_image = False
    """The expert reads the scene, not the camera: the runner need not render for it."""

    def __init__(self, config: ExpertConfig | None = None, seed: int = 0):
        self.config = config or ExpertConfig()
        self.seed = seed
        self.task: TaskInstance | None = None
        self.phase = "unbound"
        self._script: Iterator[None] | None = None
        self.accept_stance: Callable[[np.ndarray], bool] | None = None
        """Also end the approach where the robot stands once ``accept_stance(stance_error)`` says
        so (it then grasps from there; its arm IK solves for the bar where it is). None: never
        (the expert always reaches its own stance tolerance). Set by DAgger and the split rows
        (:mod:`wbvla.suite.dagger`) to grasp from a learner's imprecise stance."""

    # --- Policy protocol -----------------------------------------------------------------
    def bind(self, task: TaskInstance) -> None:
        """Give the expert the trial it is about to act in (privileged state)."""
        self.task = task
        self.reset()

    def reset(self) -> None:
        self.rng = np.random.default_rng([self.seed, self.task.seed if self.task else 0])
        self.ref = VelocityReference(self.config.command)
        self.phase = "start"
        self.subgoal = 0
        if self.task is None:
            self._script = None
            return
        self.arm = ArmServo(self.task.scene)
        self.stance = StanceProbe(self.task.scene)
        lo, hi = self.config.height.height_range
        self.h_lo, self.h_hi = lo, hi
        self.cmd = _Tick(default_pose("arms"), np.full(2, GRIPPER_OPEN), np.zeros(3), hi)
        self.payload = 0.0
        self.stance_offset = np.zeros(3)
        """(along, across, heading) this episode's grasp stance is moved by (ExpertNoiseConfig.stance_offset)."""
        self._intended_flags: np.ndarray | None = None
        self.intended_command: np.ndarray | None = None
        """u_t (4,) a noise-free expert commands at the last :meth:`act`: the flags sent there, except
        where :class:`ExpertNoiseConfig` holds a flag late or pulses a wrong one (teleoperation
        labels, ``TeleopDataConfig.labels``)."""
        self._script = getattr(self, f"_script_{self.task.name}")()

    def act(self, image: np.ndarray, instruction: str, state: np.ndarray) -> PolicyOutput:
        if self._script is None:
            raise RuntimeError("ScriptedExpert.act before bind(task): the expert needs the privileged scene")
        self._intended_flags = None
        try:
            next(self._script)
        except StopIteration:  # done: hold still
            self.cmd.flags = np.zeros(3)
            self.phase = "done"
        intended = self.cmd.flags if self._intended_flags is None else self._intended_flags
        self.intended_command = np.array([*intended, self.cmd.h], np.float32)
        for _ in range(CONTROL_STEPS_PER_TICK):  # mirror the backend's Eq. 2 state
            self.ref.step(self.cmd.flags)
        arms = self.arm.feedforward(self.cmd.arms, self.payload)
        command = np.array([*self.cmd.flags, self.cmd.h], np.float32)
        return PolicyOutput(arms[None], self.cmd.grippers[None].copy(), command, "flags",
                            info={"phase": self.phase, "subgoal": self.subgoal})

    # --- state ----------------------------------------------------------------------------
    @property
    def scene(self):
        return self.task.scene

    def _base(self) -> tuple[np.ndarray, float]:
        pos, rot = self.arm.pelvis()
        return pos, float(np.arctan2(rot[1, 0], rot[0, 0]))

    def stance_error(self, target: tuple[float, float, float]) -> np.ndarray:
        """(dx, dy, dyaw) from the pelvis to the pelvis pose ``target`` = (x, y, yaw), in the base frame."""
        tx, ty, tyaw = target
        pos, yaw = self._base()
        cy, sy = np.cos(yaw), np.sin(yaw)
        d = np.array([tx - pos[0], ty - pos[1]])
        return np.array([cy * d[0] + sy * d[1], -sy * d[0] + cy * d[1], wrap_angle(tyaw - yaw)])

    def _body(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        b = self.scene.data.body(name)
        return b.xpos.copy(), b.xmat.reshape(3, 3).copy()

    def _site(self, obj: str, role: str) -> np.ndarray:
        return self.scene.data.site(self.scene.objects[obj].sites[role]).xpos.copy()

    # --- primitives (generators: one yield per 10 Hz tick) --------------------------------
    @property
    def _tracks_bar(self) -> bool:
        """Re-solve the arm IK at every tick: ``track_bar``, or arms that start while the base still
        coasts (``settle_before_arms=False``)."""
        return self.config.track_bar or not self.config.settle_before_arms

    def _hold(self, seconds: float) -> Iterator[None]:
        self.cmd.flags = np.zeros(3)
        for _ in range(max(1, round(seconds / TICK_S))):
            yield

    def _move_arms(self, q_goal: np.ndarray | Callable[[], np.ndarray], seconds: float, grippers: np.ndarray | None = None,
                   h: float | None = None) -> Iterator[None]:
        """Minimum-jerk joint motion to ``q_goal`` (and grippers), optionally changing h*. A callable
        ``q_goal`` is evaluated every tick (a goal that moves with the base)."""
        goal = q_goal if callable(q_goal) else (lambda: q_goal)
        q0, g0, h0 = self.cmd.arms.copy(), self.cmd.grippers.copy(), self.cmd.h
        g1 = g0 if grippers is None else np.asarray(grippers, float)
        h1 = h0 if h is None else float(np.clip(h, self.h_lo, self.h_hi))
        n = max(1, round(seconds / TICK_S))
        self.cmd.flags = np.zeros(3)
        for k in range(1, n + 1):
            a = _min_jerk(k / n)
            self.cmd.arms = q0 + a * (goal() - q0)
            self.cmd.grippers = g0 + a * (g1 - g0)
            self.cmd.h = h0 + a * (h1 - h0)
            yield

    def _track_arms(self, frames: Callable[[], dict[str, GraspFrame]], seconds: float, grippers: np.ndarray | None = None,
                    h: float | None = None) -> Iterator[None]:
        """:meth:`_move_arms` toward the IK solution of ``frames()``, re-solved every tick (``track_bar``;
        else solved once, at the start)."""
        goal = (lambda: self._solve(frames())) if self._tracks_bar else self._solve(frames())
        yield from self._move_arms(goal, seconds, grippers, h)

    def _grip(self, opening: float, frames: Callable[[], dict[str, GraspFrame]] | None = None) -> Iterator[None]:
        """Close or open the grippers; with ``frames`` (and ``track_bar``) the hands keep to them."""
        if frames is not None and self._tracks_bar:
            yield from self._track_arms(frames, self.config.grip_s, np.full(2, opening))
        else:
            yield from self._move_arms(self.cmd.arms, self.config.grip_s, np.full(2, opening))

    def _wait_height(self, timeout: float = 3.0) -> Iterator[None]:
        """Hold until the pelvis is within 1 cm of h* (the squat has happened)."""
        for _ in range(round(timeout / TICK_S)):
            if abs(self._base()[0][2] - self.cmd.h) < 0.01:
                return
            yield

    def _navigate(self, target: Callable[[], tuple[float, float, float]], phase: str) -> Iterator[None]:
        """Closed-loop flags until the pelvis is at ``target()`` = (x, y, yaw), settled."""
        c = self.config
        self.phase = phase
        if c.navigation == "pulses":
            yield from self._navigate_pulses(target, phase)
            return
        noise = c.noise
        late_left = 0
        late_armed = self.rng.random() < noise.p_late_release
        wrong_at = int(self.rng.integers(1, 15)) if self.rng.random() < noise.p_wrong_flag else -1
        wrong_left, wrong = 0, np.zeros(3)
        for k in range(round(c.phase_timeout_s / TICK_S)):
            err = self.stance_error(target())
            pred = err - self.ref.coast()  # error left if every flag were released now
            tol = np.array([c.tol_xy, c.tol_xy, c.tol_yaw])
            re = np.array([c.reengage_xy, c.reengage_xy, c.reengage_yaw])
            slack = 0.5 * np.abs(self.ref.v_ref) * TICK_S  # release half a tick early on average
            flags = self.cmd.flags.copy()
            intended = flags.copy()  # what a noise-free expert commands here (the flags it sends may be noisy)
            for ax in range(3):
                s = flags[ax]
                if s != 0 and s * pred[ax] <= slack[ax] + 0.5 * tol[ax]:
                    intended[ax] = 0.0
                    if late_armed and late_left == 0:
                        late_left, late_armed = round(self.rng.uniform(*noise.late_s) / TICK_S), False
                    if late_left > 0:
                        late_left -= 1
                    else:
                        flags[ax] = 0.0
                elif s == 0 and abs(pred[ax]) > re[ax]:
                    flags[ax] = intended[ax] = np.sign(pred[ax])
            if abs(err[2]) > c.turn_first and abs(pred[2]) > c.turn_first:  # turn in place first
                flags[:2] = intended[:2] = 0.0
            self._intended_flags = intended
            if k == wrong_at:
                ax = int(self.rng.integers(3))
                wrong = np.zeros(3)
                wrong[ax] = self.rng.choice([-1.0, 1.0])
                wrong_left = round(self.rng.uniform(*noise.wrong_s) / TICK_S)
            if wrong_left > 0:
                wrong_left -= 1
                flags = np.where(wrong != 0, wrong, flags)
            if c.settle_before_arms:
                settled = np.all(np.abs(self.ref.s_bar) < 0.03) and np.all(np.abs(err) <= re)
            else:  # the coast will end inside the dead band: the arms need not wait for it
                settled = np.all(np.abs(pred) <= re)
            if not flags.any() and settled and wrong_left == 0:
                self.cmd.flags, self._intended_flags = flags, None
                return
            self.cmd.flags = flags
            if phase == "approach" and self.accept_stance is not None and self.accept_stance(err):
                self.cmd.flags, self._intended_flags = np.zeros(3), None
                return
            yield
        self.phase = f"{phase}_timeout"
        while True:  # gave up: stand still (the trial will fail on time)
            self.cmd.flags = np.zeros(3)
            yield

    def _navigate_pulses(self, target: Callable[[], tuple[float, float, float]], phase: str) -> Iterator[None]:
        """``navigation="pulses"``: :func:`~wbvla.tasks.expert_pulses.pulse_navigation` to ``target()``."""
        nav = pulse_navigation(lambda: self.stance_error(target()), self.ref.coast, self.config.pulses,
                               self.config.phase_timeout_s)
        while True:
            try:
                self.cmd.flags = next(nav)
            except StopIteration as done:
                self.cmd.flags = np.zeros(3)
                if done.value:
                    return
                break
            if phase == "approach" and self.accept_stance is not None and self.accept_stance(self.stance_error(target())):
                self.cmd.flags = np.zeros(3)
                return
            yield
        self.phase = f"{phase}_timeout"
        while True:  # gave up: stand still (the trial will fail on time)
            self.cmd.flags = np.zeros(3)
            yield

    def _offset_stance(self, target: Callable[[], tuple[float, float, float]]) -> Callable[[], tuple[float, float, float]]:
        """``target`` moved by this episode's :attr:`ExpertNoiseConfig.stance_offset` (along and across
        its heading, and in heading); ``target`` itself when that is (0, 0) (no random draw then)."""
        metres, radians = self.config.noise.stance_offset
        if metres == 0.0 and radians == 0.0:
            return target
        d = self.rng.uniform(-1.0, 1.0, 3) * np.array([metres, metres, radians])  # (along, across, heading)
        self.stance_offset = d

        def moved() -> tuple[float, float, float]:
            x, y, h = target()
            return x + np.cos(h) * d[0] - np.sin(h) * d[1], y + np.sin(h) * d[0] + np.cos(h) * d[1], h + d[2]

        return moved

    def _stand_target(self, point: np.ndarray, heading: float, reach: float) -> tuple[float, float, float]:
        """Pelvis pose with ``point`` ``reach`` m straight ahead and the given heading."""
        return float(point[0] - reach * np.cos(heading)), float(point[1] - reach * np.sin(heading)), heading

    def _solve(self, frames: dict[str, GraspFrame]) -> np.ndarray:
        q, _ = self.arm.solve(frames, self.cmd.arms)
        return q

    def _h_for(self, bar_world_z: float) -> float:
        """h* that puts a bar at ``grasp_height`` in the arm base frame."""
        return float(np.clip(bar_world_z - self.config.grasp_height + self.arm.h0, self.h_lo, self.h_hi))

    def _bar_frames(self, obj: str, dz: float = 0.0) -> dict[str, GraspFrame]:
        """Both hands on the carrying bar of ``obj`` (bag, tote) or the cart handle, fingers along
        the object's x axis; ``dz``: the pelvis will be this much higher than now."""
        _, rot = self._body(obj)
        frames = {}
        for side in ("left", "right"):
            if obj == "cart":
                point = self._site(obj, "handle") + (1 if side == "left" else -1) * self.config.handle_half_spacing * rot[:, 1]
            else:
                point = self._site(obj, f"handle_{side}")
            frames[side] = self.arm.handle_grasp(point - np.array([0.0, 0.0, dz]), rot[:, 0], self.config.beyond)
        return frames

    def _grasp(self, obj: str, h: float, lift: float) -> Iterator[None]:
        """Pre-grasp behind the bar (grippers half open, h* -> ``h``), slide onto it, close, lift
        (and bring the load in to ``carry_reach``)."""
        c = self.config
        self.phase = "pregrasp"

        def pre() -> dict[str, GraspFrame]:  # solved for the pelvis after the squat
            return {s: f.shifted(-c.pregrasp_back, 0.01) for s, f in self._bar_frames(obj, dz=h - self._base()[0][2]).items()}

        yield from self._track_arms(pre, c.arm_move_s * 2 / 3, np.full(2, c.pregrasp_opening), h)
        yield from self._wait_height()
        self.phase = "grasp"
        frames = self._frames = self._bar_frames(obj)
        yield from self._track_arms(lambda: self._bar_frames(obj), c.arm_move_s * 2 / 3)
        yield from self._grip(0.0, lambda: self._bar_frames(obj))
        if lift > 0:
            self.phase = "lift"
            self.payload = float(self.scene.model.body(obj).subtreemass[0])
            carry = {s: GraspFrame(np.array([c.carry_reach, f.pos[1], f.pos[2] + lift]), f.approach, f.closing)
                     for s, f in frames.items()}
            yield from self._move_arms(self._solve(carry), c.arm_move_s)

    def _release(self, twist: bool = False, retreat_up: float = 0.06) -> Iterator[None]:
        """Open the grippers; with ``twist``, also roll the hands a quarter turn about the fingers
        so a bar resting on the lower finger drops through the open gap (a load that hangs in the
        air would otherwise stay on the fingers), then slide the fingers back out from under the
        bar, level (a bar that still lies across both fingers falls off their tips); then pull the
        hands back and up."""
        self.phase = "release"
        yield from self._grip(GRIPPER_OPEN)
        self.payload = 0.0
        frames = {s: GraspFrame(self.arm.tcp_base(s), f.approach, f.closing) for s, f in self._frames.items()}
        if twist:
            # Up a little too: the arms cannot turn the closing line sideways at their lowest reach.
            up = np.array([0.0, 0.0, self.config.twist_lift])
            frames = {s: GraspFrame(f.pos + up, f.approach, np.cross(f.approach, f.closing)) for s, f in frames.items()}
            yield from self._move_arms(self._solve(frames), self.config.grip_s)
        self.phase = "retreat"
        if twist:  # a bar still lying across the open fingers: slide them out from under it, level
            q = self._solve({s: f.shifted(-self.config.pregrasp_back, -self.config.twist_lift) for s, f in frames.items()})
            yield from self._move_arms(q, self.config.arm_move_s * 2 / 3)
        q = self._solve({s: f.shifted(-self.config.pregrasp_back, retreat_up) for s, f in frames.items()})
        yield from self._move_arms(q, self.config.arm_move_s * 2 / 3)
        yield from self._hold(1.0)

    # --- the three tasks -------------------------------------------------------------------
    def _raise_arms(self, when: str) -> Iterator[None]:
        """Forearms up and forward, hands high and close to the body: clear of tables and handles
        (only if ``when`` is the configured :attr:`ExpertConfig.raise_arms_at`)."""
        if when != self.config.raise_arms_at:
            return
        self.phase = "raise"
        yield from self._move_arms(raised_arms(tuple(self.config.raised_hands)), self.config.arm_move_s * 2 / 3)

    def _approach_and_grasp(self, obj: str) -> Iterator[None]:
        """Raise the arms, stand ``grasp_reach`` behind ``obj`` facing along its x axis, squat as
        its bar needs, grasp and lift it (the first subgoal of bag packing and box loading)."""
        yield from self._raise_arms("start")
        pos, rot = self._body(obj)
        heading = float(np.arctan2(rot[1, 0], rot[0, 0]))
        yield from self._navigate(self._offset_stance(lambda: self._stand_target(pos, heading, self.config.grasp_reach)), "approach")
        yield from self._raise_arms("stance")
        yield from self._grasp(obj, self._h_for(self._site(obj, "handle")[2]), self.config.lift)
        self.subgoal = 1

    def _script_bag_packing(self) -> Iterator[None]:
        yield from self._approach_and_grasp("bag")
        # Sidestep (same heading) until the carton's centre is ahead of the bag, its wall clear of
        # the squatting knees; squat, lower, let go.
        carton = self._body("carton")[0]
        _, yaw = self._base()
        bottom = carton[2] + self.scene.objects["carton"].size[2] * 2 + 0.02
        reach, h = self._place_stance("bag", bottom, "carton", carton, yaw)
        landing = self._landing("bag", carton, yaw, reach)
        yield from self._navigate(lambda: self._stand_target(carton, yaw, reach + self.config.place_backoff), "carry")
        yield from self._lower_and_release("bag", bottom, twist=True, h=h, landing=landing)

    def _script_box_loading(self) -> Iterator[None]:
        c = self.config
        yield from self._approach_and_grasp("box")
        self.phase = "rise"
        yield from self._move_arms(self.cmd.arms, c.arm_move_s, h=self.h_hi)
        yield from self._wait_height()
        # Turn to the cart (its handle side faces away) and step up to its deck, knees clear of it.
        cart, crot = self._body("cart")
        face = float(np.arctan2(-crot[1, 0], -crot[0, 0]))
        bottom = cart[2] + self.scene.objects["cart"].top_z + 0.01
        reach, h = self._place_stance("box", bottom, "cart", cart, face)
        landing = self._landing("box", cart, face, reach)
        if c.turn_clearance > 0:  # step back from the table first: turning in place there swings a thigh into it
            pos, yaw = self._base()
            back = (float(pos[0] - c.turn_clearance * np.cos(yaw)), float(pos[1] - c.turn_clearance * np.sin(yaw)), yaw)
            yield from self._navigate(lambda: back, "turn_and_walk")
        yield from self._navigate(lambda: self._stand_target(cart, face, reach + c.place_backoff), "turn_and_walk")
        yield from self._lower_and_release("box", bottom, h=h, landing=landing)

    def _place_height(self, obj: str, bottom_z: float) -> float:
        """h* that brings ``obj``'s bottom down to ``bottom_z`` (world), as far as a squat can."""
        drop = self._body(obj)[0][2] - bottom_z
        return float(np.clip(self._base()[0][2] - drop, self.h_lo, self.h_hi))

    def _place_stance(self, obj: str, bottom_z: float, target: str, point: np.ndarray, heading: float) -> tuple[float, float]:
        """Pelvis distance behind ``point`` along ``heading`` and h* to put ``obj`` down onto
        ``target`` from, its bottom at ``bottom_z`` (world): :meth:`StanceProbe.place`."""
        ahead = float(self.arm.to_base(self._body(obj)[0])[0])
        return self.stance.place(point, heading, ahead, float(self._base()[0][2]), self._place_height(obj, bottom_z),
                                 target, obj, self.config.body_clearance, self.config.place_margin)

    def _landing(self, obj: str, point: np.ndarray, heading: float, reach: float) -> np.ndarray:
        """World xy where ``obj`` (held where it is now, ahead of the pelvis) lands from the stance
        ``reach`` behind ``point`` along ``heading``."""
        ahead = float(self.arm.to_base(self._body(obj)[0])[0])
        return np.asarray(point[:2]) - (reach - ahead) * np.array([np.cos(heading), np.sin(heading)])

    def _lower_and_release(self, obj: str, bottom_z: float, twist: bool = False, h: float | None = None,
                           landing: np.ndarray | None = None) -> Iterator[None]:
        """Bring ``obj``'s bottom down to ``bottom_z`` (world): squat first (to ``h``, default: as
        deep as that needs), then lower the arms as far as they reach (``min_hand_height``); open
        the grippers and pull the hands back. With ``landing`` (world xy) and ``track_bar`` the
        hands also shift the load over it (at most ``max_reach_shift``): what ``place_backoff`` and
        the stance error left."""
        c = self.config
        self.phase = "place"
        drop = self._body(obj)[0][2] - bottom_z
        h = self._place_height(obj, bottom_z) if h is None else h
        dz = h - self._base()[0][2]
        frames = {s: GraspFrame(self.arm.tcp_base(s), f.approach, f.closing) for s, f in self._frames.items()}
        lower = max(drop + dz, 0.0)  # what the squat leaves to the arms
        shift = np.zeros(2)
        if landing is not None and self._tracks_bar:  # base frame: from the load now to where it should land
            z = self._body(obj)[0][2]
            shift = (self.arm.to_base(np.array([*landing, z])) - self.arm.to_base(self._body(obj)[0]))[:2]
            shift *= min(1.0, c.max_reach_shift / max(float(np.linalg.norm(shift)), 1e-9))
        low = {s: GraspFrame(np.array([*(f.pos[:2] + shift), max(f.pos[2] - lower, c.min_hand_height)]), f.approach, f.closing)
               for s, f in frames.items()}
        yield from self._move_arms(self._solve(low), c.arm_move_s, h=h)
        yield from self._wait_height()
        yield from self._release(twist)

    def _script_cart_pushing(self) -> Iterator[None]:
        c = self.config
        yield from self._raise_arms("start")
        cart, rot = self._body("cart")
        heading = float(np.arctan2(rot[1, 0], rot[0, 0]))
        handle = self._site("cart", "handle")
        yield from self._navigate(self._offset_stance(lambda: self._stand_target(handle, heading, c.handle_reach)), "approach")
        yield from self._raise_arms("stance")
        yield from self._grasp("cart", self.h_hi, 0.0)
        self.subgoal = 1
        yield from self._push(cart, heading)

    def _push(self, start: np.ndarray, heading: float) -> Iterator[None]:
        """Walk forward with the cart, holding the start heading and line, until far enough."""
        c = self.config
        self.phase = "push"
        goal = self.task.thresholds.push_distance + c.push_extra
        along = np.array([np.cos(heading), np.sin(heading)])
        across = np.array([-np.sin(heading), np.cos(heading)])
        for _ in range(round(c.phase_timeout_s / TICK_S)):
            cart = self._body("cart")[0][:2] - start[:2]
            _, yaw = self._base()
            ahead, drift = cart @ along, cart @ across
            remaining = goal - ahead
            flags = np.zeros(3)
            if remaining > self.ref.coast()[0]:
                flags[0] = 1.0
            yaw_err = wrap_angle(heading - yaw)
            if abs(yaw_err - self.ref.coast()[2]) > c.tol_yaw:
                flags[2] = np.sign(yaw_err)
            if abs(drift) > 0.08 and flags[0]:
                flags[1] = -np.sign(drift)
            self.cmd.flags = flags
            if not flags.any() and np.all(np.abs(self.ref.s_bar) < 0.03):
                return
            yield
        self.phase = "push_timeout"

