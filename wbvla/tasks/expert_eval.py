"""``wbvla expert-eval``: the scripted expert's success per subgoal on held-out seeds, per backend.

The expert is the ceiling row of the task suite; this measures it with each locomotion backend
(the labelled ideal base, the physics LMO, the velocity baseline fed the Eq. 2 reference of the
expert's flags) over ``trials`` evaluation seeds per task, judged by the privileged checks of
:mod:`wbvla.tasks.subgoals` (App. B.3 sequential rules, falls counted). :func:`aggregate` turns
any list of :class:`~wbvla.tasks.runner.TrialResult` into the Table 2 / Table 8 style numbers,
so a suite can reuse it.

Every trial also records where the grasp targets and both hands fall in the head image
(:class:`~wbvla.tasks.work_view.WorkViewRecorder`); :func:`aggregate` reports the in-frame
fraction from pre-grasp on (``work_view``) per task.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from wbvla.data.teleop_schema import SUBGOALS, TASKS
from wbvla.io import write_json_atomic
from wbvla.paths import cache_dir, portable_path
from wbvla.validation import require

EVAL_SEED_START = 1_000_000
"""First evaluation seed (``wbvla.tasks.specs.SEED_RANGES['eval']``)."""


@dataclass
class ExpertEvalConfig:
    """What ``wbvla expert-eval`` runs."""

    tasks: tuple[str, ...] = TASKS
    """Tasks to evaluate."""
    backends: tuple[str, ...] = ("ideal_base", "lmo", "velocity_rl")
    """Locomotion backends, each a separate row."""
    trials: int = 25
    """Trials per task and backend (App. B.3: 25), seeds EVAL_SEED_START + 0 .. trials - 1."""
    variation: str = "none"
    """A :data:`wbvla.tasks.specs.VARIATIONS` preset (tasks it does not apply to are skipped)."""
    noise: bool = False
    """Command noise in the expert (off: the clean ceiling)."""
    workers: int = 1
    """Parallel processes."""
    output: Path | None = None
    """Result JSON; None: ``cache_dir()/tasks/expert_eval_<variation>.json``."""
    grasp_reach: float | None = None
    """Override ``ExpertConfig.grasp_reach`` (bag / tote bar ahead of the pelvis at the grasp, m);
    None: the expert's default."""
    handle_reach: float | None = None
    """Override ``ExpertConfig.handle_reach`` (cart handle ahead of the pelvis, m); None: the default."""
    image_size: int = 128
    """Side of the head image in which the work keypoints are located (``work_view``)."""
    lmo_onnx: Path | None = None
    """The ``lmo`` backend's policy (an ``wbvla lmo-export`` ONNX, e.g. a CPU-plan candidate from
    ``python -m wbvla.lmo.cpu.plan export``); None: the shipped ``data/lmo/lmo.onnx``."""

    def __post_init__(self) -> None:
        require(len(self.tasks) > 0 and all(t in TASKS for t in self.tasks), f"tasks must come from {TASKS}, got {self.tasks!r}")
        require(all(b in ("ideal_base", "lmo", "velocity_rl") for b in self.backends) and len(self.backends) > 0,
                f"backends must come from ideal_base, lmo, velocity_rl, got {self.backends!r}")
        require(isinstance(self.trials, int) and 1 <= self.trials <= 100_000, f"trials must be an int >= 1, got {self.trials!r}")
        require(isinstance(self.workers, int) and self.workers >= 1, f"workers must be an int >= 1, got {self.workers!r}")
        for name in ("grasp_reach", "handle_reach"):
            v = getattr(self, name)
            require(v is None or (isinstance(v, (int, float)) and 0.1 <= v <= 0.8), f"{name} must be None or in [0.1, 0.8] m, got {v!r}")
        require(isinstance(self.image_size, int) and 16 <= self.image_size <= 2048,
                f"image_size must be an int in [16, 2048], got {self.image_size!r}")
        if self.lmo_onnx is not None:
            self.lmo_onnx = Path(self.lmo_onnx).expanduser()
            require(self.lmo_onnx.is_file(), f"lmo_onnx: {self.lmo_onnx} is not a file (an ONNX written by wbvla lmo-export)")
            require("lmo" in self.backends, f"lmo_onnx is the lmo backend's policy; backends {self.backends!r} has no lmo")

    def expert_overrides(self) -> dict:
        """The ``ExpertConfig`` fields this evaluation changes."""
        return {k: v for k, v in (("grasp_reach", self.grasp_reach), ("handle_reach", self.handle_reach)) if v is not None}


def _trial(job: tuple[str, int, str, str, bool, dict, int, str | None]):
    task, seed, variation, backend, noise, overrides, image_size, lmo_onnx = job
    import torch

    torch.set_num_threads(1)
    from wbvla.tasks.expert import (  # lazy: torch, MuJoCo
        ExpertNoiseConfig,
        ScriptedExpert,
        expert_config_for,
    )
    from wbvla.tasks.runner import RunnerConfig, run_trial  # lazy: torch, MuJoCo
    from wbvla.tasks.specs import make_task  # lazy: MuJoCo
    from wbvla.tasks.work_view import WorkViewRecorder  # lazy: MuJoCo

    config = expert_config_for(backend, noise=ExpertNoiseConfig() if noise else ExpertNoiseConfig.off(), **overrides)
    expert = WorkViewRecorder(ScriptedExpert(config, seed=seed), image_size, config.handle_half_spacing)
    onnx = lmo_onnx if backend == "lmo" else None
    result = run_trial(expert, make_task(task, seed, variation), RunnerConfig(backend=backend, onnx_path=onnx))
    result.log, result.latents = {}, []  # keep the outcome only (pickled back to the parent)
    result.info["work_view"] = [{"phase": r["phase"], "inside": r["inside"].tolist(), "uv": r["uv"][:, :2].round(1).tolist()}
                                for r in expert.records]
    return result


def aggregate(results: list) -> dict:
    """Per (backend, task): successes per subgoal (count and rate), falls, mean subgoal times over
    the successful trials (Table 8), the average score over both subgoals, wall time and
    closed-loop control steps per second; where the trials carry ``info['work_view']`` records
    (:func:`_trial`), the in-frame fractions of :func:`wbvla.tasks.work_view.work_view_summary`."""
    from wbvla.tasks.work_view import work_view_summary  # lazy: MuJoCo (CLI start-up)

    out: dict = {}
    for r in results:
        out.setdefault(r.backend, {}).setdefault(r.task, []).append(r)
    table = {}
    for backend, per_task in out.items():
        table[backend] = {}
        for task, rs in per_task.items():
            n = len(rs)
            names = SUBGOALS[task]
            succ = [sum(r.success[i] for r in rs) for i in range(len(names))]
            times = [[r.subgoal_times[i] for r in rs if r.subgoal_times[i] is not None] for i in range(len(names))]
            table[backend][task] = {
                "trials": n, "successes": dict(zip(names, succ, strict=True)),
                "success_rate": {k: v / n for k, v in zip(names, succ, strict=True)},
                "score": sum(succ) / (n * len(names)), "falls": sum(r.fell for r in rs),
                "mean_subgoal_time_s": {k: (float(np.mean(t)) if t else None) for k, t in zip(names, times, strict=True)},
                "wall_s": float(sum(r.wall_s for r in rs)),
                "control_steps_per_s": float(np.mean([r.steps_per_s for r in rs])),
                "final_phases": sorted({str(r.info.get("final_phase")) for r in rs}),
                "failed_seeds": [r.seed for r in rs if not all(r.success)],
            }
            records = [row for r in rs for row in r.info.get("work_view", [])]
            if records:
                table[backend][task]["work_view"] = work_view_summary(records)
        scores = [v["score"] for v in table[backend].values()]
        table[backend]["average_score"] = float(np.mean(scores))
    return table


def run_expert_eval(config: ExpertEvalConfig) -> dict:
    """Run the evaluation of ``config``; writes and returns the result."""
    from wbvla.tasks.specs import VARIATIONS  # lazy: MuJoCo (the CLI imports this module)
    from wbvla.viz.report import provenance  # lazy: matplotlib

    require(config.variation in VARIATIONS, f"unknown variation {config.variation!r}; choose one of {tuple(VARIATIONS)}")
    tasks = [t for t in config.tasks if t in VARIATIONS[config.variation].tasks]
    onnx = None if config.lmo_onnx is None else str(config.lmo_onnx)
    jobs = [(t, EVAL_SEED_START + k, config.variation, b, config.noise, config.expert_overrides(), config.image_size, onnx)
            for b in config.backends for t in tasks for k in range(config.trials)]
    load0, t0 = os.getloadavg(), time.perf_counter()
    if config.workers > 1:
        with mp.get_context("spawn").Pool(config.workers) as pool:
            results = pool.map(_trial, jobs, chunksize=1)
    else:
        results = [_trial(j) for j in jobs]
    wall = time.perf_counter() - t0
    out = {"results": aggregate(results),
           "config": {k: (portable_path(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()},
           "wall_s": wall, "cpu": {"count": os.cpu_count(), "workers": config.workers, "load_avg_start": load0,
                                   "load_avg_end": os.getloadavg()},
           "provenance": provenance()}
    path = Path(config.output) if config.output else cache_dir() / "tasks" / f"expert_eval_{config.variation}.json"
    write_json_atomic(path, out)
    out["path"] = str(path)
    return out
