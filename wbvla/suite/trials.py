"""Trial units and what runs one: policies of the rows, backends of the columns, one record.

A :class:`TrialUnit` is one independent piece of work: (policy, backend, task, variation, seed).
:func:`run_unit` runs it in a worker through the one closed-loop runner
(:func:`wbvla.tasks.runner.run_trial`) with the policy wrapped in
:class:`~wbvla.suite.trace.TracedPolicy`, classifies a failure (:mod:`wbvla.suite.failures`),
optionally writes the trial's log and video, and returns a JSON record for the store.

Policies (:class:`PolicySpec`): the scripted expert, or a trained VLA variant found by its folder
(:func:`policy_dir`): the shipped ``data/vla`` policy, a ``build_variant`` run of the tutorial
sizes in the cache, or a run of the scaling study's own sizes in its own folder. A policy is
identified in every record by its ``model_id`` (from ``policy.json``), which is part of the unit's
key, so retraining a variant makes the suite run its trials again.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from wbvla.control.config import ExecutionConfig
from wbvla.io import atomic_path
from wbvla.paths import PACKAGE_DIR, cache_dir, data_dir
from wbvla.suite.config import ROW_VARIANT, TrainingSizes
from wbvla.validation import require
from wbvla.vla.config import sized_finetune_config
from wbvla.vla.variants import shipped_policy_dir, variant_config

EXPERT_ID = "scripted_expert"
TASK_SOURCES = ("tasks/specs.py", "tasks/subgoals.py", "tasks/runner.py", "sim/scene.py", "sim/scene_objects.py", "sim/robot.py",
                "control/tick.py", "control/targets.py", "control/config.py", "control/sim_backend.py", "control/lmo.py",
                "lmo/onnx_policy.py")
"""The sources that define a trial (scenes, checks, the runner and its control tick, the LMO's
controller): their digest is recorded with every trial."""
EXPERT_SOURCES = ("tasks/expert.py", "tasks/expert_config.py", "tasks/expert_arms.py", "tasks/expert_pulses.py",
                  "tasks/expert_stance.py")
SPLIT_SOURCES = ("suite/split.py", "suite/dagger.py")
"""What a split-control row's expert half runs besides :data:`EXPERT_SOURCES`."""


def digest(paths) -> str:
    """Short SHA-1 of the files' bytes (relative to the ``wbvla`` package or absolute)."""
    import hashlib

    h = hashlib.sha1()
    for p in paths:
        h.update(Path(p if Path(p).is_absolute() else PACKAGE_DIR / p).read_bytes())
    return h.hexdigest()[:10]


def versions(unit: TrialUnit) -> dict:
    """What the outcome of ``unit`` depends on besides its key: the task sources, the expert's
    sources (expert row), the locomotion backend (the shipped ONNX policy of the physics legs, or
    the ideal base's source). Recorded with every trial; ``rerun_stale`` reruns trials whose
    recorded versions differ from the current ones."""
    from wbvla.locomotion.physics import DEFAULT_ONNX  # lazy: torch (the locomotion backends)

    out = {"tasks": digest(TASK_SOURCES)}
    if unit.policy.variant == "expert":
        out["expert"] = digest(EXPERT_SOURCES)
    elif unit.policy.split is not None:  # the expert drives half of a split row
        out["expert"] = digest([*EXPERT_SOURCES, *SPLIT_SOURCES])
    if unit.backend == "ideal_base":
        out["backend"] = digest(["locomotion/ideal_base.py", "locomotion/reference.py"])
    else:
        out["backend"] = digest([data_dir() / DEFAULT_ONNX["velocity_rl" if unit.policy.variant == "velocity_rl" else "lmo"]])
    return out


@dataclass(frozen=True)
class PolicySpec:
    """Which policy a row / a scaling model is."""

    label: str
    """Row name (``wholebodyvla``, ..., ``expert``) or scaling model label (``human0.25_d10``)."""
    variant: str
    """``expert`` or a :data:`wbvla.vla.variants.VARIANTS` name."""
    human_video_fraction: float = 1.0
    robot_video_fraction: float = 1.0
    max_demos_per_task: int | None = None
    shipped: bool = False
    """Use the shipped ``data/vla`` policy (the ``wholebodyvla`` row) when it exists."""
    expert_noise: bool = False
    own_dirs: bool = False
    """Train / find the run in folders named by the training sizes (the scaling study), not in
    the default ``build_variant`` folders (the tutorial sizes)."""
    folder: str | None = None
    """An explicit policy folder (overrides everything above; e.g. a SMOKE stand-in)."""
    split: str | None = None
    """A split-control diagnostic row (:mod:`wbvla.suite.split`): the learner drives only this part
    (``arms`` or ``legs``), the scripted expert the rest. None: the learner drives everything."""


def row_spec(row: str, shipped_wholebodyvla: bool = False, expert_noise: bool = False) -> PolicySpec:
    """The :class:`PolicySpec` of a Table 2 row."""
    if row == "expert":
        return PolicySpec(row, "expert", expert_noise=expert_noise)
    require(row in ROW_VARIANT, f"unknown row {row!r}; choose one of {(*ROW_VARIANT, 'expert')}")
    return PolicySpec(row, ROW_VARIANT[row], shipped=shipped_wholebodyvla and row == "wholebodyvla")


def finetune_config(spec: PolicySpec, sizes: TrainingSizes, threads: int = 1):
    """The Stage III config (with its Stage II inside) of a learned ``spec``."""
    base = sized_finetune_config(sizes.corpus_size, sizes.pretrain_steps, sizes.finetune_steps,
                                 dataset_size=sizes.dataset_size, vision_tower=sizes.vision_tower,
                                 lam_features=sizes.lam_features, threads=threads,
                                 progress=False)
    cfg = variant_config(spec.variant, base, human_video_fraction=spec.human_video_fraction,
                         robot_video_fraction=spec.robot_video_fraction, max_demos_per_task=spec.max_demos_per_task)
    if spec.own_dirs:
        root = (cache_dir() / "vla_runs" / sizes.corpus_size /
                f"suite_{sizes.dataset_size}_p{sizes.pretrain_steps}_f{sizes.finetune_steps}")
        cfg = replace(cfg, output_dir=root / "finetune" / cfg.run_name(),
                      pretrain=replace(cfg.pretrain, output_dir=root / "pretrain" / cfg.pretrain.run_name()))
    return cfg


def policy_dir(spec: PolicySpec, sizes: TrainingSizes) -> Path | None:
    """Folder of the trained policy of ``spec`` (None for the expert); it may not exist yet."""
    if spec.variant == "expert":
        return None
    if spec.folder is not None:
        return Path(spec.folder)
    if spec.shipped:
        if (shipped_policy_dir() / "policy.json").is_file():
            return shipped_policy_dir()
    from wbvla.vla.finetune import run_dir_for  # lazy: torch, Lightning, transformers

    cfg = finetune_config(spec, sizes)
    return Path(cfg.export_dir) if cfg.export_dir is not None else run_dir_for(cfg) / "policy"


def model_id(spec: PolicySpec, sizes: TrainingSizes) -> str | None:
    """``model_id`` of the trained policy (read from its ``policy.json``); None if not trained."""
    if spec.variant == "expert":
        return EXPERT_ID + ("+noise" if spec.expert_noise else "")
    meta = policy_dir(spec, sizes) / "policy.json"
    if not meta.is_file():
        return None
    learner = json.loads(meta.read_text())["model_id"]
    return learner if spec.split is None else f"split-{spec.split}({learner})"


def train_policy(spec: PolicySpec, sizes: TrainingSizes, threads: int = 1) -> str:
    """Train (or resume / find finished) the policy of ``spec``; returns its folder. Stage II
    runs are shared by the specs that differ only in Stage III."""
    import torch

    from wbvla.vla.finetune import finetune  # lazy: torch, Lightning, transformers

    torch.set_num_threads(threads)
    require(spec.variant != "expert", "the scripted expert is not trained")
    return str(finetune(finetune_config(spec, sizes, threads)).policy_dir)


def export_checkpoint(run: Path, planned_steps: int) -> Path:
    """Export the last checkpoint (its last validation) of a Stage III run folder as ``run/policy``
    without finishing the run, for a row whose training cannot finish in the time there is:
    ``policy.json`` records ``steps`` (reached) and ``planned_steps``, and the model id changes with
    the weights, so its trials are never mixed with those of the finished run. Resuming the run
    (``train_policy`` / ``build_variant``) continues from the same checkpoint and re-exports."""
    import torch

    from wbvla.vla.finetune import FinetuneModule  # lazy: torch, Lightning, transformers
    from wbvla.vla.policy import export_policy  # lazy: torch, transformers

    run = Path(run)
    ckpt = run / "checkpoints" / "last.ckpt"
    require(ckpt.is_file() and (run / "base" / "vla.json").is_file(),
            f"{run}: no Stage III checkpoint to export (checkpoints/last.ckpt and base/ are written at the first validation)")
    step = int(torch.load(ckpt, map_location="cpu", weights_only=False)["global_step"])
    module = FinetuneModule.load_from_checkpoint(str(ckpt), map_location="cpu", weights_only=False)
    return export_policy(module, run / "base", run / "policy",
                         {"run": module.cfg.run_name(), "steps": step, "planned_steps": int(planned_steps)})


def pretrain_policy(spec: PolicySpec, sizes: TrainingSizes, threads: int = 1) -> str | None:
    """Train only the Stage II run of ``spec`` (None for w/o LAM, which has none)."""
    import torch

    from wbvla.vla.pretrain import pretrain  # lazy: torch, Lightning, transformers

    torch.set_num_threads(threads)
    cfg = finetune_config(spec, sizes, threads)
    return None if cfg.lam_variant == "none" else str(pretrain(cfg.pretrain).model_dir)


@dataclass(frozen=True)
class TrialUnit:
    """One trial: the unit of scheduling, storing and resuming."""

    policy: PolicySpec
    model_id: str
    backend: str
    """Suite column: ``lmo`` (physics legs) or ``ideal_base``."""
    task: str
    variation: str
    seed: int
    group: str = "table2"
    """Which experiment (``table2``, ``scaling``): records of different experiments never mix."""
    video: bool = False
    """Record head-camera + third-person video."""
    execution: str = "chunk"
    """How the tick follows the chunks (:meth:`wbvla.control.config.ExecutionConfig.label`); in the
    key unless ``chunk`` (so the keys of the runs before the switch stay valid)."""

    @property
    def key(self) -> str:
        parts = (self.group, self.policy.label, self.backend, self.task, self.variation, str(self.seed), self.model_id)
        return "|".join(parts if self.execution == "chunk" else (*parts, self.execution))


# ---------------------------------------------------------------------------------------------
# In a worker
# ---------------------------------------------------------------------------------------------
_POLICIES: dict = {}


def _policy(spec: PolicySpec, sizes: TrainingSizes, threads: int, backend: str):
    from wbvla.tasks.expert import (  # lazy: torch, MuJoCo (workers only)
        ExpertNoiseConfig,
        ScriptedExpert,
        expert_config_for,
    )

    if spec.variant == "expert":  # it steers as the column's legs follow (expert_config_for)
        return ScriptedExpert(expert_config_for(backend, noise=ExpertNoiseConfig() if spec.expert_noise else ExpertNoiseConfig.off()))
    folder = policy_dir(spec, sizes)
    if folder not in _POLICIES:
        from wbvla.vla.policy import VLAPolicy  # lazy: torch, transformers (workers only)

        _POLICIES.clear()  # keep one loaded policy per worker (units arrive grouped by policy)
        _POLICIES[folder] = VLAPolicy.load(folder, threads=threads)
    if spec.split is not None:
        from wbvla.suite.split import split_policy  # lazy: torch, MuJoCo (workers only)

        return split_policy(_POLICIES[folder], spec.split)  # a fresh expert half per trial
    return _POLICIES[folder]


def backend_for(column: str, command_kind: str):
    """The locomotion backend of a suite column for a policy's command kind: ``lmo`` is the
    physics LMO for flags and the velocity-tracking RL policy for velocities; ``ideal_base`` is
    the kinematic stand-in fed either."""
    from wbvla.locomotion import make_backend  # lazy: torch, MuJoCo (workers only)

    if column == "ideal_base":
        return make_backend("ideal_base", command_kind=command_kind)
    return make_backend("lmo" if command_kind == "flags" else "velocity_rl")


def latent_usage(latents: list[dict]) -> dict:
    """How often each latent code was chosen, per LAM: ``{lam: {code: ticks}}``."""
    out: dict[str, dict[str, int]] = {}
    for tick in latents:
        for lam, codes in tick.items():
            for c in codes:
                out.setdefault(lam, {}).setdefault(str(int(c)), 0)
                out[lam][str(int(c))] += 1
    return out


def save_trial_video(result, path: Path) -> Path:
    """Head camera (upscaled to the third-person size) beside the third-person view, 10 fps."""
    from wbvla.viz.video import save_video  # lazy: matplotlib, mediapy

    third = result.third_person_frames
    head = result.head_frames
    k = max(1, third.shape[1] // head.shape[1])
    head = np.repeat(np.repeat(head, k, axis=1), k, axis=2)[:, : third.shape[1], : third.shape[2]]
    pad = third.shape[1] - head.shape[1]
    if pad > 0:
        head = np.pad(head, ((0, 0), (0, pad), (0, 0), (0, 0)))
    return save_video(np.concatenate([head, third], axis=2), path, fps=10)


MAX_STEM = 160
"""Longest file stem of a trial's log and video: file systems allow 255 bytes per name, and the
atomic writer adds a dot, a ``.tmp<pid>`` and the extension."""


def file_stem(key: str) -> str:
    """A trial key (``group|row|backend|task|variation|seed|model``) as a file stem: separators made
    file-safe; a stem longer than :data:`MAX_STEM` (long Stage III run names appear twice in a key)
    keeps its first characters and ends in 12 hex digits of the key's SHA-1, so it stays unique."""
    safe = key.replace("|", "__").replace(":", "-").replace("/", "-")
    if len(safe) <= MAX_STEM:
        return safe
    return safe[:MAX_STEM - 13] + "-" + hashlib.sha1(key.encode()).hexdigest()[:12]


def run_unit(unit: TrialUnit, sizes: TrainingSizes, settings: dict, out_dir: str) -> dict:
    """Run one unit (in a worker) and return its record (see :func:`record_of`)."""
    import torch

    from wbvla.suite.failures import classify_failure  # lazy: torch, MuJoCo (workers only)
    from wbvla.suite.trace import (  # lazy: torch, MuJoCo (workers only)
        FrozenSceneConfig,
        TracedPolicy,
    )
    from wbvla.tasks.runner import RunnerConfig, run_trial  # lazy: torch, MuJoCo (workers only)
    from wbvla.tasks.specs import make_task  # lazy: MuJoCo (workers only)

    torch.set_num_threads(settings.get("threads", 1))
    t0, cpu0 = time.perf_counter(), time.process_time()
    policy = _policy(unit.policy, sizes, settings.get("threads", 1), unit.backend)
    frozen_s = settings.get("stop_frozen_s")
    traced = TracedPolicy(policy, FrozenSceneConfig(window_s=frozen_s, away_m=settings.get("stop_away_m")) if frozen_s else None)
    backend = backend_for(unit.backend, policy.command_kind)
    execution = ExecutionConfig(**settings.get("execution", {}))
    require(execution.label() == unit.execution,
            f"unit {unit.key} was planned with execution {unit.execution!r}, the settings say {execution.label()!r}")
    cfg = RunnerConfig(backend=backend.name, image_size=settings.get("image_size"), time_limit_s=settings.get("time_limit_s"),
                       third_person=unit.video, keep_head_frames=unit.video, execution=execution)
    task = make_task(unit.task, unit.seed, unit.variation)
    result = run_trial(traced, task, cfg, backend=backend, stop_early=traced.observe)
    trace = traced.finish()
    failure = classify_failure(trace, result.success, result.subgoal_times, result.fell)
    out = Path(out_dir)
    safe = file_stem(unit.key)
    files = {}
    if settings.get("save_logs", True):
        with atomic_path(out / "logs" / f"{safe}.npz") as tmp:
            np.savez_compressed(tmp, **{f"runner_{k}": v for k, v in result.log.items()},
                                **{f"trace_{k}": v for k, v in trace.arrays().items()},
                                goals=np.array(json.dumps(trace.goals)), latents=np.array(json.dumps(result.latents)))
        files["log"] = f"logs/{safe}.npz"
    if unit.video and result.third_person_frames is not None and result.head_frames is not None:
        save_trial_video(result, out / "videos" / f"{safe}.mp4")
        files["video"] = f"videos/{safe}.mp4"
    rec = record_of(unit, result, failure, files)
    rec["versions"] = versions(unit)
    rec["unit_wall_s"] = time.perf_counter() - t0
    rec["unit_cpu_s"] = time.process_time() - cpu0  # this process, all its threads (rendering included)
    rec["pid"] = os.getpid()
    return rec


def record_of(unit: TrialUnit, result, failure: dict, files: dict) -> dict:
    """The JSON record of a finished unit."""
    return {
        "key": unit.key, "group": unit.group, "row": unit.policy.label, "policy": asdict(unit.policy),
        "model_id": unit.model_id, "backend": unit.backend, "backend_used": result.backend, "task": unit.task,
        "variation": unit.variation, "seed": unit.seed, "success": list(result.success),
        "subgoal_times": list(result.subgoal_times), "fell": result.fell, "fall_time": result.fall_time,
        "duration_s": result.duration_s, "wall_s": result.wall_s, "ticks": result.ticks, "steps_per_s": result.steps_per_s,
        "failure": failure, "latent_usage": latent_usage(result.latents), "files": files,
        "final_phase": result.info.get("final_phase"), "stopped_early": result.info.get("stopped_early"),
        "execution": unit.execution,
    }
