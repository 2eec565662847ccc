"""The one closed-loop runner: teleoperation data collection and the task suite both use it.

Rates (paper App. B): the policy's ``act()`` at 10 Hz on the head-camera image, the instruction
and s_t; its arm / gripper chunk is interpolated to the 50 Hz control loop (linearly from the
previous target to the chunk row, over the tick); u_t goes to the locomotion backend at 50 Hz;
physics at 200 Hz (inside the backend's step). Subgoals are judged every tick
(:class:`~wbvla.tasks.subgoals.SubgoalTracker`, App. B.3 sequential rules, falls counted as such).

A policy that commands flags can drive a velocity backend (the velocity-tracking baseline): the
runner turns the flags into the Eq. 2 velocity reference (the "expert with velocity RL" rows).
Every trial returns a :class:`TrialResult` (per-tick log of u_t, the reference velocity, latents,
base pose, subgoal times, falls, wall time and closed-loop speed) that a suite can aggregate, and
can record its frames to a LeRobot v3 writer (the teleoperation dataset).

    task = make_task("cart_pushing", seed=1_000_000)
    result = run_trial(ScriptedExpert(), task, RunnerConfig(backend="ideal_base"))
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from wbvla.control.policy_contract import Policy, PolicyOutput, check_state
from wbvla.data import teleop_schema as ts
from wbvla.io import atomic_path
from wbvla.lmo.config import CommandConfig
from wbvla.locomotion import BACKENDS, LocomotionBackend, VelocityReference, make_backend
from wbvla.sim.camera import CameraRenderer
from wbvla.sim.joints import group_slice
from wbvla.sim.robot import DECIMATION, HEAD_CAMERA, PHYSICS_DT
from wbvla.tasks.specs import TaskInstance
from wbvla.tasks.subgoals import SubgoalTracker, read_state
from wbvla.validation import one_of, positive, require

CONTROL_DT = DECIMATION * PHYSICS_DT
STEPS_PER_TICK = round(1.0 / ts.FPS / CONTROL_DT)
"""50 Hz control steps per 10 Hz policy tick (5)."""


@dataclass
class RunnerConfig:
    """How a trial is run."""

    backend: str = "ideal_base"
    """Locomotion backend, one of :data:`wbvla.locomotion.BACKENDS` (recorded in the result)."""
    onnx_path: str | None = None
    """Policy of a physics backend; None uses the shipped ``data/lmo`` ONNX."""
    time_limit_s: float | None = None
    """Simulated seconds before the trial is cut; None uses the task's ``time_limit_s``."""
    image_size: int = 128
    """Side of the square head-camera image given to the policy (and recorded)."""
    settle_s: float = 1.0
    """Keep running this long after the last subgoal (the recorded episode shows the result)."""
    replan_every: int = 1
    """Ticks between ``act()`` calls; in between, the next rows of the last chunk are executed."""
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
        require(isinstance(self.image_size, int) and self.image_size >= 16 and self.image_size % 2 == 0,
                f"image_size must be an even int >= 16, got {self.image_size!r}")
        positive("settle_s", self.settle_s, allow_zero=True)
        require(isinstance(self.replan_every, int) and self.replan_every >= 1,
                f"replan_every must be an int >= 1, got {self.replan_every!r}")


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
        out = {k: v for k, v in asdict(self).items() if k not in ("log", "latents", "head_frames", "third_person_frames")}
        out["steps_per_s"] = self.steps_per_s
        return out

    def save_log(self, path: str | Path) -> Path:
        """Write the per-tick log (and latents as JSON text) to an ``.npz``, atomically."""
        import json

        with atomic_path(path) as tmp:
            np.savez_compressed(tmp, **self.log, latents=np.array(json.dumps(self.latents)),
                                summary=np.array(json.dumps(self.summary(), default=str)))
        return Path(path)


def robot_state(task: TaskInstance) -> np.ndarray:
    """s_t (17,): arm joint positions, gripper openings, pelvis height (``teleop_schema.STATE_NAMES``)."""
    d, idx = task.scene.data, task.scene.robot
    q = d.qpos[idx.qpos]
    return np.concatenate([q[group_slice("arms")], q[group_slice("grippers")], [d.qpos[idx.base_qpos + 2]]]).astype(np.float32)


def _base_pose(task: TaskInstance) -> np.ndarray:
    d, b = task.scene.data, task.scene.robot.base_body
    rot = d.xmat[b].reshape(3, 3)
    return np.array([*d.xpos[b], np.arctan2(rot[1, 0], rot[0, 0])])


class _Renderers:
    def __init__(self, task: TaskInstance, cfg: RunnerConfig, head: bool):
        m = task.scene.model
        self.head = CameraRenderer(m, cfg.image_size, cfg.image_size) if head else None
        self.third = CameraRenderer(m, cfg.video_size, cfg.video_size) if cfg.third_person else None
        self.blank = np.zeros((cfg.image_size, cfg.image_size, 3), np.uint8)

    def head_image(self, data) -> np.ndarray:
        return self.head.render(data, HEAD_CAMERA) if self.head else self.blank

    def third_image(self, data, base: np.ndarray) -> np.ndarray:
        yaw = np.degrees(base[3])
        return self.third.render_free(data, [base[0] + 0.5 * np.cos(base[3]), base[1] + 0.5 * np.sin(base[3]), 0.6],
                                      2.8, yaw + 150.0, -25.0)

    def close(self) -> None:
        for r in (self.head, self.third):
            if r is not None:
                r.close()


def run_trial(policy: Policy, task: TaskInstance, config: RunnerConfig | None = None, *,
              backend: LocomotionBackend | None = None, writer=None, command_config: CommandConfig | None = None,
              stop_early=None) -> TrialResult:
    """Run ``policy`` on ``task`` (reset first) and judge it; see the module docstring.

    Args:
        policy: anything with ``act(image, instruction, state) -> PolicyOutput`` and ``reset()``;
            a policy with a ``bind(task)`` method (the scripted expert) is bound to the trial.
        task: the trial (:func:`wbvla.tasks.specs.make_task`); it is reset here.
        config: rates, limits, rendering.
        backend: a ready backend (else built from ``config.backend``).
        writer: a LeRobot v3 writer; every tick's frame is added (the caller saves or discards
            the episode). The image is then always rendered.
        command_config: Eq. 2 parameters for the logged reference velocity and for turning flags
            into velocities for a velocity backend (default ``CommandConfig()``).
        stop_early: optional ``f(state) -> reason | None`` called with the
            :class:`~wbvla.tasks.subgoals.SceneState` after every tick (unless the robot fell); a
            reason ends an unfinished trial there (recorded as ``info["stopped_early"]``), e.g. the
            task suite's detector of a frozen scene. It also sees every state (trial traces).
    """
    cfg = config or RunnerConfig()
    backend = backend or make_backend(cfg.backend, onnx_path=cfg.onnx_path)
    require(backend.name == cfg.backend or config is None,
            f"backend {backend.name!r} differs from config.backend {cfg.backend!r}")
    task.reset()
    scene = task.scene
    model, data = scene.model, scene.data
    backend.reset(model, data, scene.robot)
    task.start_state = read_state(scene)
    tracker = SubgoalTracker(task.name, task.start_state, task.thresholds)
    reference = VelocityReference(command_config)
    if hasattr(policy, "bind"):
        policy.bind(task)
    else:
        policy.reset()
    render_head = writer is not None or cfg.keep_head_frames or getattr(policy, "uses_image", True)
    renderers = _Renderers(task, cfg, render_head)
    limit = cfg.time_limit_s or task.spec.time_limit_s
    n_ticks = round(limit * ts.FPS)
    arm_target = data.ctrl[scene.robot.actuator[group_slice("arms")]].astype(np.float64).copy()
    grip_target = data.ctrl[scene.robot.actuator[group_slice("grippers")]].astype(np.float64).copy()
    log = {k: [] for k in ("t", "command", "reference_velocity", "base", "subgoal", "action")}
    latents, heads, thirds = [], [], []
    out: PolicyOutput | None = None
    settle_left = round(cfg.settle_s * ts.FPS)
    stop_reason = None
    t0 = time.perf_counter()
    tick = 0
    for tick in range(n_ticks):
        state = check_state(robot_state(task))
        image = renderers.head_image(data)
        row = tick % cfg.replan_every
        if row == 0 or out is None or row >= out.chunk_size:
            out = policy.act(image, task.instruction, state)
            row = 0
        arm_row, grip_row, command = out.arm_targets[row].astype(np.float64), out.grippers[row].astype(np.float64), out.command
        subgoal = tracker.current
        if cfg.third_person:
            thirds.append(renderers.third_image(data, _base_pose(task)))
        if cfg.keep_head_frames:
            heads.append(image)
        v_refs = []
        for j in range(1, STEPS_PER_TICK + 1):
            a = j / STEPS_PER_TICK
            arms = arm_target + a * (arm_row - arm_target)
            grips = grip_target + a * (grip_row - grip_target)
            if out.command_kind == "flags":
                v = reference.step(command[:3])
                u = command if backend.command_kind == "flags" else np.array([*v, command[3]])
            else:
                require(backend.command_kind == "velocity", f"a velocity command cannot drive the {backend.name!r} backend")
                v, u = command[:3].astype(np.float64), command
            v_refs.append(v)
            backend.step(data, np.asarray(u, np.float64), arms, grips)
        arm_target, grip_target = arm_row, grip_row
        action = ts.join_action(arm_row, grip_row, command)
        v_ref = np.mean(v_refs, axis=0).astype(np.float32)
        if writer is not None:
            writer.add_frame({ts.IMAGE_KEY: image, ts.STATE_KEY: state, ts.ACTION_KEY: action,
                              ts.REFERENCE_VELOCITY_KEY: v_ref, ts.SUBGOAL_KEY: np.array([min(subgoal, 1)], np.int64)},
                             task=task.instruction)
        for key, value in (("t", tick / ts.FPS), ("command", command), ("reference_velocity", v_ref),
                           ("base", _base_pose(task)), ("subgoal", subgoal), ("action", action)):
            log[key].append(value)
        latents.append(dict(out.latents))
        snapshot = read_state(scene)
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
    wall = time.perf_counter() - t0
    renderers.close()
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
        log={k: np.asarray(v) for k, v in log.items()}, latents=latents,
        head_frames=np.stack(heads) if heads else None, third_person_frames=np.stack(thirds) if thirds else None,
    )
