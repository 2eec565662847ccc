"""The suite's runner: the one control tick on a simulated clock, without sockets.

Teleoperation recording, the task suite, DAgger, the quickstart and the expert evaluation run
trials here; the robot runner (:class:`wbvla.runtime.runner.RobotRunner`) runs the same tick
(:class:`wbvla.control.tick.ControlTick`: watchdog, chunk timing, target filter and rate limits,
the LMO on the robot's arrays) on wall time over ZeroMQ, and a test drives both with one policy
and seed to the same targets.

Clock and rates (paper App. B): control ticks at ``t = k * 20 ms`` (50 Hz), physics at 200 Hz
inside the simulated robot (:class:`wbvla.control.sim_backend.SimRobot`: the task's scene, the
ideal base or physics legs with the LMO in the tick). Every ``replan_every`` policy ticks (10 Hz,
5 control ticks each), at the first control tick of a policy tick and after its write, the policy
acts on that tick's observation (the head image and s_t of the state read at the tick's start);
its chunk is accepted with the observation's timestamp and followed from the next control tick,
one period of latency (the least a robot can have; on the robot, the time the answer takes).
Row ``i`` of a chunk is the target at ``t_obs + i * dt``; every target is clamped and rate-limited
(:class:`~wbvla.control.config.SafetyConfig`). Subgoals are judged every policy tick
(:class:`~wbvla.tasks.subgoals.SubgoalTracker`, App. B.3 sequential rules, falls counted as such).

A policy that commands flags can drive a velocity backend (the velocity-tracking baseline): the
tick turns the flags into the Eq. 2 velocity reference once per control tick (the "expert with
velocity RL" rows). Every trial returns a :class:`TrialResult` (per policy tick: u_t, the reference
velocity, latents, base pose, subgoal; per control tick: u_t and the 29 targets written; subgoal
times, falls, wall time and closed-loop speed) that a suite can aggregate, and can record its
frames to a LeRobot v3 writer (the teleoperation dataset).

    task = make_task("cart_pushing", seed=1_000_000)
    result = run_trial(ScriptedExpert(), task, RunnerConfig(backend="ideal_base"))
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from wbvla.control.config import ExecutionConfig, SafetyConfig
from wbvla.control.lmo import LMOStage
from wbvla.control.policy_contract import Policy, PolicyOutput, check_state, image_size_of
from wbvla.control.sim_backend import SimRobot
from wbvla.control.tick import MODES, Chunk, ControlTick
from wbvla.data import teleop_schema as ts
from wbvla.io import atomic_path
from wbvla.lmo.config import CommandConfig
from wbvla.locomotion import BACKENDS, LocomotionBackend, VelocityReference, make_backend
from wbvla.sim.camera import CameraRenderer
from wbvla.sim.robot import DECIMATION, PHYSICS_DT
from wbvla.tasks import subgoals
from wbvla.tasks.specs import TaskInstance
from wbvla.validation import one_of, positive, require

CONTROL_DT = DECIMATION * PHYSICS_DT
STEPS_PER_TICK = round(1.0 / ts.FPS / CONTROL_DT)
"""50 Hz control ticks per 10 Hz policy tick (5)."""


@dataclass
class RunnerConfig:
    """How a trial is run."""

    backend: str = "ideal_base"
    """Locomotion backend, one of :data:`wbvla.locomotion.BACKENDS` (recorded in the result)."""
    onnx_path: str | None = None
    """Policy of a physics backend; None uses the shipped ``data/lmo`` ONNX."""
    time_limit_s: float | None = None
    """Simulated seconds before the trial is cut; None uses the task's ``time_limit_s``."""
    image_size: int | None = None
    """Side of the square head-camera image given to the policy (and recorded); None: what the
    policy consumes (:func:`wbvla.control.policy_contract.image_size_of`)."""
    settle_s: float = 1.0
    """Keep running this long after the last subgoal (the recorded episode shows the result)."""
    replan_every: int = 1
    """Policy ticks (0.1 s) between ``act()`` calls; in between, the chunk's later rows are followed.
    The watchdog holds the robot if answers come slower than ``safety.hold_after_s``."""
    safety: SafetyConfig = field(default_factory=SafetyConfig)
    """The tick's rate limits, ranges and watchdog times (the robot runner's defaults)."""
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)
    """How the tick follows the chunks: the newest (``chunk``, default) or ACT's temporal ensemble
    of the overlapping ones (``temporal_ensemble``, needs ``replan_every = 1`` to overlap fully)."""
    third_person: bool = False
    """Also render a third-person view every tick (for videos)."""
    video_size: int = 256
    """Side of the third-person frames."""
    keep_head_frames: bool = False
    """Keep the head-camera frames in the result (videos of chosen trials)."""

    def __post_init__(self) -> None:
        one_of("backend", self.backend, BACKENDS)
        if self.time_limit_s is not None:
            positive("time_limit_s", self.time_limit_s)
        require(self.image_size is None or (isinstance(self.image_size, int) and self.image_size >= 16
                                            and self.image_size % 2 == 0),
                f"image_size must be None or an even int >= 16, got {self.image_size!r}")
        positive("settle_s", self.settle_s, allow_zero=True)
        require(isinstance(self.replan_every, int) and self.replan_every >= 1,
                f"replan_every must be an int >= 1, got {self.replan_every!r}")
        gap = (self.replan_every * STEPS_PER_TICK + 1) * CONTROL_DT + self.safety.watchdog_margin_s
        require(gap <= self.safety.hold_after_s + 1e-9,
                f"replan_every={self.replan_every}: {gap:.3f} s between answers would trip the watchdog "
                f"(safety.hold_after_s={self.safety.hold_after_s})")


@dataclass
class TrialResult:
    """Outcome and log of one trial (JSON summary via :meth:`summary`, arrays via :meth:`save_log`)."""

    task: str
    seed: int
    variation: str
    backend: str
    policy: str
    success: tuple[bool, ...]
    """Per subgoal (Table 2 order), judged sequentially (App. B.3)."""
    subgoal_times: tuple[float | None, ...]
    """Simulated seconds from the start to each achieved subgoal (Table 8's execution time)."""
    fell: bool
    fall_time: float | None
    duration_s: float
    """Simulated time the trial ran."""
    wall_s: float
    """Wall-clock time of the trial (rendering, policy and physics)."""
    ticks: int
    info: dict = field(default_factory=dict)
    """The task's drawn parameters, the expert's final phase, if any, and after a fall its
    ``fall_reason`` (:func:`wbvla.sim.contacts.fall_reason`)."""
    log: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    """Per tick: ``t`` (T,), ``command`` u_t (T, 4) as sent by the policy, ``reference_velocity``
    (T, 3), ``base`` pelvis x, y, z, yaw (T, 4), ``subgoal`` (T,), ``action`` (T, 20)."""
    control: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    """Per 50 Hz control tick: ``t`` (N,), ``u`` u_t as written (N, 4), ``q_target`` the 29 joint
    targets as written (N, 29), ``mode`` the watchdog's mode (N,) (index in
    :data:`wbvla.control.tick.MODES`)."""
    latents: list[dict] = field(default_factory=list, repr=False)
    """``PolicyOutput.latents`` of every tick."""
    head_frames: np.ndarray | None = field(default=None, repr=False)
    third_person_frames: np.ndarray | None = field(default=None, repr=False)

    @property
    def steps_per_s(self) -> float:
        """Closed-loop 50 Hz control steps per wall-clock second."""
        return self.ticks * STEPS_PER_TICK / max(self.wall_s, 1e-9)

    @property
    def completed(self) -> bool:
        return all(self.success)

    def summary(self) -> dict:
        """JSON-friendly outcome (no arrays)."""
        skip = ("log", "control", "latents", "head_frames", "third_person_frames")
        out = {k: v for k, v in asdict(self).items() if k not in skip}
        out["steps_per_s"] = self.steps_per_s
        return out

    def save_log(self, path: str | Path) -> Path:
        """Write the per-tick log, the control ticks (``control_*``) and the latents (JSON text) to an
        ``.npz``, atomically."""
        import json

        with atomic_path(path) as tmp:
            np.savez_compressed(tmp, **self.log, **{f"control_{k}": v for k, v in self.control.items()},
                                latents=np.array(json.dumps(self.latents)),
                                summary=np.array(json.dumps(self.summary(), default=str)))
        return Path(path)


def _base_pose(task: TaskInstance) -> np.ndarray:
    d, b = task.scene.data, task.scene.robot.base_body
    rot = d.xmat[b].reshape(3, 3)
    return np.array([*d.xpos[b], np.arctan2(rot[1, 0], rot[0, 0])])


def _third_image(renderer: CameraRenderer, data, base: np.ndarray) -> np.ndarray:
    yaw = np.degrees(base[3])
    return renderer.render_free(data, [base[0] + 0.5 * np.cos(base[3]), base[1] + 0.5 * np.sin(base[3]), 0.6],
                                2.8, yaw + 150.0, -25.0)


def simulated_robot(task: TaskInstance, backend: LocomotionBackend, image_size: int | None
                    ) -> tuple[SimRobot, LMOStage | None]:
    """The task's scene as a robot backend and, for a physics backend, the LMO the tick runs: the
    ideal base moves the base itself; ``lmo`` / ``velocity_rl`` put their ONNX policy in the tick
    and leave the legs to physics. Falls are judged by the trial's subgoal tracker."""
    size = None if image_size is None else (image_size, image_size)
    if backend.kinematic:
        return SimRobot(task.scene, backend, size, fall_check=False), None
    return SimRobot(task.scene, None, size, fall_check=False), LMOStage(policy=backend.policy)


def _command_map(policy_kind: str, target_kind: str, reference: VelocityReference, backend: str):
    """Per control tick, what turns the chunk's u_t into what the LMO / base takes (or None)."""
    if policy_kind == target_kind:
        return None
    require(policy_kind == "flags", f"a velocity command cannot drive the {backend!r} backend")
    return lambda u: np.array([*reference.step(u[:3]), u[3]])  # Eq. 2 once per control tick


def run_trial(policy: Policy, task: TaskInstance, config: RunnerConfig | None = None, *,
              backend: LocomotionBackend | None = None, writer=None, command_config: CommandConfig | None = None,
              stop_early=None) -> TrialResult:
    """Run ``policy`` on ``task`` (reset first) and judge it; see the module docstring.

    Args:
        policy: anything with ``act(image, instruction, state) -> PolicyOutput`` and ``reset()``;
            a policy with a ``bind(task)`` method (the scripted expert) is bound to the trial.
        task: the trial (:func:`wbvla.tasks.specs.make_task`); it is reset here.
        config: rates, limits, rendering.
        backend: what moves the base (else built from ``config.backend``): the ideal base, or a
            physics backend whose ONNX policy becomes the tick's LMO.
        writer: a LeRobot v3 writer; every policy tick's frame is added (the caller saves or
            discards the episode), its expert phase from the policy output's ``info["phase"]``
            (-1 where the policy reports none). The image is then always rendered.
        command_config: Eq. 2 parameters for the logged reference velocity and for turning flags
            into velocities for a velocity backend (default ``CommandConfig()``).
        stop_early: optional ``f(state) -> reason | None`` called with the
            :class:`~wbvla.tasks.subgoals.SceneState` after every policy tick (unless the robot
            fell); a reason ends an unfinished trial there (recorded as ``info["stopped_early"]``),
            e.g. the task suite's detector of a frozen scene. It also sees every state (trial traces).
    """
    cfg = config or RunnerConfig()
    backend = backend or make_backend(cfg.backend, onnx_path=cfg.onnx_path)
    require(backend.name == cfg.backend or config is None,
            f"backend {backend.name!r} differs from config.backend {cfg.backend!r}")
    task.reset()
    scene = task.scene
    image_size = cfg.image_size or image_size_of(policy)
    render_head = writer is not None or cfg.keep_head_frames or getattr(policy, "uses_image", True)
    robot, lmo = simulated_robot(task, backend, image_size if render_head else None)
    policy_kind = getattr(policy, "command_kind", "flags")
    target_kind = lmo.kind if lmo is not None else backend.command_kind
    shaping, logged = VelocityReference(command_config), VelocityReference(command_config)
    control = ControlTick(cfg.safety, CONTROL_DT, policy_kind, lmo, _command_map(policy_kind, target_kind, shaping, backend.name),
                          execution=cfg.execution)
    period_ns = round(CONTROL_DT * 1e9)
    now = [0]
    robot.clock = lambda: now[0]  # the simulated clock stamps every state
    control.reset(robot.start())
    task.start_state = subgoals.read_state(scene)
    tracker = subgoals.SubgoalTracker(task.name, task.start_state, task.thresholds)
    if hasattr(policy, "bind"):
        policy.bind(task)
    else:
        policy.reset()
    third = CameraRenderer(scene.model, cfg.video_size, cfg.video_size) if cfg.third_person else None
    blank = np.zeros((image_size, image_size, 3), np.uint8)
    limit = cfg.time_limit_s or task.spec.time_limit_s
    n_ticks = round(limit * ts.FPS)
    obs_every = STEPS_PER_TICK * cfg.replan_every
    log = {k: [] for k in ("t", "command", "reference_velocity", "base", "subgoal", "action")}
    ctl = {k: [] for k in ("t", "u", "q_target", "mode")}
    latents, heads, thirds = [], [], []
    out: PolicyOutput | None = None
    settle_left = round(cfg.settle_s * ts.FPS)
    stop_reason = None
    t0 = time.perf_counter()
    tick = 0
    try:
        for tick in range(n_ticks):
            subgoal = tracker.current
            v_refs = []
            for j in range(STEPS_PER_TICK):
                k = tick * STEPS_PER_TICK + j
                now[0] = k * period_ns
                state = robot.read()
                if j == 0:
                    s_t = check_state(state.policy_state())
                    image = robot.latest_image() if render_head else blank
                    if cfg.third_person:
                        thirds.append(_third_image(third, scene.data, _base_pose(task)))
                    if cfg.keep_head_frames:
                        heads.append(image)
                step = control.step(now[0], state)
                robot.write(step.q, step.u)
                v_refs.append(logged.step(step.u[:3]) if target_kind == "flags" else step.u[:3].copy())
                for key, value in (("t", now[0] / 1e9), ("u", step.u), ("q_target", step.q), ("mode", MODES.index(step.mode))):
                    ctl[key].append(value)
                if k % obs_every == 0:  # the observation of this tick; its answer is followed from the next
                    out = policy.act(image, task.instruction, s_t)
                    control.accept(Chunk.of(out), state.t_ns, now[0])
            row = min(tick % cfg.replan_every, out.chunk_size - 1)
            action = ts.join_action(out.arm_targets[row], out.grippers[row], out.command)
            v_ref = np.mean(v_refs, axis=0).astype(np.float32)
            if writer is not None:
                writer.add_frame({ts.IMAGE_KEY: image, ts.STATE_KEY: s_t, ts.ACTION_KEY: action,
                                  ts.REFERENCE_VELOCITY_KEY: v_ref, ts.SUBGOAL_KEY: np.array([min(subgoal, 1)], np.int64),
                                  ts.PHASE_KEY: np.array([ts.phase_index(out.info.get("phase"))], np.int64)},
                                 task=task.instruction)
            for key, value in (("t", tick / ts.FPS), ("command", out.command), ("reference_velocity", v_ref),
                               ("base", _base_pose(task)), ("subgoal", subgoal), ("action", action)):
                log[key].append(value)
            latents.append(dict(out.latents))
            snapshot = subgoals.read_state(scene)
            tracker.update(snapshot)
            if tracker.fell:
                break
            if stop_early is not None:
                reason = stop_early(snapshot)
                if reason and not tracker.done:
                    stop_reason = reason
                    break
            if tracker.done:
                settle_left -= 1
                if settle_left < 0:
                    break
    finally:
        robot.close()
        if third is not None:
            third.close()
    wall = time.perf_counter() - t0
    info = dict(task.info)
    if stop_reason:
        info["stopped_early"] = stop_reason
    if tracker.fell:
        info["fall_reason"] = tracker.fall_reason
    if hasattr(policy, "phase"):
        info["final_phase"] = policy.phase
    return TrialResult(
        task=task.name, seed=task.seed, variation=task.variation, backend=backend.name,
        policy=getattr(policy, "model_id", type(policy).__name__), success=tracker.success,
        subgoal_times=tuple(tracker.times), fell=tracker.fell, fall_time=tracker.fall_time,
        duration_s=(tick + 1) / ts.FPS, wall_s=wall, ticks=tick + 1, info=info,
        log={k: np.asarray(v) for k, v in log.items()},
        control={k: np.asarray(v, np.int8 if k == "mode" else None) for k, v in ctl.items()}, latents=latents,
        head_frames=np.stack(heads) if heads else None, third_person_frames=np.stack(thirds) if thirds else None,
    )
