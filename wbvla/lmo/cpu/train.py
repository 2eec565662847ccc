"""Train the LMO on the CPU engine with rsl-rl PPO: resumable, deadline-bounded, slim checkpoints.

A run folder holds ``model_<it>.pt`` (atomic writes; :func:`wbvla.lmo.train.slim_checkpoint`
drops the optimizer state of the kept ones so they can be committed), ``curves.jsonl`` (one row per
PPO iteration: every reward term, losses, learning rate, KL, action std, episode length, env steps,
throughput) and ``run.json`` (the config and one record per chunk). Calling :func:`train_cpu`
again on the same folder resumes from its newest checkpoint, with the curriculum progress and the
env step counter (which drives the Stage I arm range and the assist decay) of the last chunk.

``wbvla lmo-train --engine cpu`` is this; ``--engine mjlab`` is :mod:`wbvla.lmo.train`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from wbvla.config import require
from wbvla.io import atomic_path, write_json_atomic
from wbvla.lmo.config import ABLATIONS, LMOTaskConfig, PPOConfig
from wbvla.lmo.cpu.env import CpuEngineConfig
from wbvla.lmo.train import LOGGER, JsonlLogWriter, _hardware, _learn, latest_checkpoint, slim_checkpoint


def cpu_ppo() -> PPOConfig:
    """PPO settings of CPU training: mjlab's G1 recipe with the learning-rate fix.

    Measured on the CPU engine (256 envs x 24 steps = 6,144 samples per iteration): with the adaptive
    KL schedule (desired KL 0.01) rsl-rl's learning rate sat at its 1e-5 floor in most iterations of
    every earlier CPU run (``data/lmo/curves``), so PPO barely moved. A fixed rate of 3e-4 (the rate
    rsl-rl's adaptive schedule settles near on large GPU batches) keeps learning; the logged KL
    shows whether it is too large."""
    return PPOConfig(actor_hidden=(256, 128, 128), critic_hidden=(256, 128, 128), learning_rate=3e-4, schedule="fixed")


@dataclass
class CpuTrainConfig:
    """One CPU training run (one stage of the plan); the same dataclass drives the CLI and notebooks."""

    run_dir: str = "runs/lmo_cpu/stage1"
    """Run folder (created; an existing one is resumed from its newest checkpoint)."""
    stage: int = 1
    """Curriculum stage (1: gait acquisition, 2: precision and stability)."""
    ablation: Literal["none", "no_eq3", "no_stage2", "no_stage1"] = "none"
    """Table 3 ablation (see :class:`~wbvla.lmo.config.LMOTaskConfig`)."""
    engine: CpuEngineConfig = field(default_factory=CpuEngineConfig)
    """Env count, threads and the sample-efficiency levers."""
    ppo: PPOConfig = field(default_factory=cpu_ppo)
    """PPO settings."""
    domain_rand: bool = True
    """Table 5 randomization (as implemented on the CPU engine, scaled by the curriculum)."""
    episode_length_s: float = 20.0
    """Episode length (s)."""
    max_env_steps: int = 50_000_000
    """Stop once the run (all chunks) has seen this many env steps."""
    minutes: float | None = None
    """Wall-clock budget of this chunk (None: until ``max_env_steps``)."""
    init_from: str | None = None
    """Checkpoint to start a new run from (Stage II from Stage I)."""
    save_interval: int = 50
    """Keep a checkpoint every this many iterations (the newest is always kept)."""
    torch_threads: int = 1
    """torch threads (1: on a busy 2-core machine 2 threads ran 20x slower)."""

    def __post_init__(self) -> None:
        require(self.stage in (1, 2), f"stage must be 1 or 2, got {self.stage!r}")
        require(self.ablation in ABLATIONS, f"ablation must be one of {ABLATIONS}, got {self.ablation!r}")
        require(self.max_env_steps >= 1, f"max_env_steps must be >= 1, got {self.max_env_steps}")
        require(self.minutes is None or self.minutes > 0, f"minutes must be > 0, got {self.minutes}")
        require(self.torch_threads >= 1, f"torch_threads must be >= 1, got {self.torch_threads}")

    def task(self) -> LMOTaskConfig:
        t = LMOTaskConfig(task="lmo", stage=self.stage, ablation=self.ablation, num_envs=self.engine.num_envs,
                          episode_length_s=self.episode_length_s, seed=self.engine.seed)
        return t if self.domain_rand else replace(t, domain_rand=t.domain_rand.disabled())


def runner_cfg(cfg: CpuTrainConfig) -> dict:
    from wbvla.lmo.env_cfg import make_runner_cfg

    agent = asdict(make_runner_cfg(cfg.ppo, "wbvla_lmo_cpu", seed=cfg.engine.seed))
    agent["save_interval"] = cfg.save_interval
    agent["logger"] = dict(LOGGER)
    agent["obs_groups"] = {"actor": ["actor"], "critic": ["critic"]}
    return agent


def _runner(env, cfg: CpuTrainConfig, run_dir: Path | None):
    from mjlab.rl import MjlabOnPolicyRunner  # rsl-rl's runner + config clean-up and ONNX export

    class Runner(MjlabOnPolicyRunner):
        def save(self, path: str, infos=None) -> None:  # atomic: a killed job never leaves half a file
            with atomic_path(path) as tmp:
                super().save(str(tmp), infos)
            if isinstance(self.logger.writer, JsonlLogWriter):
                self.logger.writer.flush()

    runner = Runner(env, runner_cfg(cfg), None if run_dir is None else str(run_dir), "cpu")
    runner.logger.git_status_repos = []
    return runner


@contextlib.contextmanager
def _stop_on_sigterm():
    """Turn SIGTERM into KeyboardInterrupt while training, so ``kill`` ends a chunk cleanly."""
    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _chunks(run_dir: Path) -> list[dict]:
    meta = run_dir / "run.json"
    return json.loads(meta.read_text()).get("chunks", []) if meta.exists() else []


def train_cpu(cfg: CpuTrainConfig) -> Path:
    """Run one chunk (to ``minutes`` or ``max_env_steps``); returns the newest checkpoint."""
    import torch

    from wbvla.lmo.cpu.env import CpuLMOEnv
    from wbvla.lmo.train import _resume

    torch.set_num_threads(cfg.torch_threads)
    run_dir = Path(cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    meta_path = run_dir / "run.json"
    if meta_path.exists():
        old = json.loads(meta_path.read_text())["config"]
        for key in ("stage", "ablation"):
            if old[key] != getattr(cfg, key):
                raise ValueError(f"{run_dir} holds a run with {key}={old[key]!r}, not {getattr(cfg, key)!r}; pass another run_dir")
        if old["engine"]["levers"] != asdict(cfg.engine.levers):
            raise ValueError(f"{run_dir} was trained with other levers ({old['engine']['levers']}); pass another run_dir")
    chunks = _chunks(run_dir)
    task = cfg.task()
    if chunks:
        task = replace(task, curriculum=replace(task.curriculum, start_progress=chunks[-1]["progress"]))
    env = CpuLMOEnv(task, cfg.engine)
    if chunks:
        env.env_steps = chunks[-1]["env_steps_end"]
    runner = _runner(env, cfg, run_dir)
    resume = latest_checkpoint(run_dir)
    if resume is not None:
        _resume(runner, resume, "cpu")
        print(f"[wbvla] resuming {run_dir} from {resume.name} ({env.env_steps:,} env steps)", flush=True)
    elif cfg.init_from is not None:
        runner.load(cfg.init_from, load_cfg={"actor": True, "critic": True}, map_location="cpu")
        print(f"[wbvla] initialized from {cfg.init_from}", flush=True)
    per_it = cfg.engine.num_envs * cfg.ppo.num_steps_per_env
    left = max(0, (cfg.max_env_steps - env.env_steps) // per_it)
    deadline = None if cfg.minutes is None else time.time() + 60 * cfg.minutes
    start_steps, start_it, t0 = env.env_steps, runner.current_learning_iteration, time.time()
    try:
        with _stop_on_sigterm():
            done, stop = _learn(runner, left, deadline) if left else (0, "max_env_steps")
    except KeyboardInterrupt:  # SIGTERM / Ctrl-C: keep what was learned, record the chunk
        it = runner.current_learning_iteration
        runner.save(str(run_dir / f"model_{it}.pt"))
        done, stop = it - start_it + 1, "interrupted"
    wall = time.time() - t0
    newest = latest_checkpoint(run_dir)
    for p in run_dir.glob("model_*.pt"):
        it = int(p.stem.split("_")[1])
        if p != newest and it % cfg.save_interval:
            p.unlink()
        else:
            slim_checkpoint(p)
    chunk = {"started": datetime.fromtimestamp(t0, UTC).isoformat(timespec="seconds"), "iterations": done,
             "stop": stop, "wall_s": round(wall, 1), "env_steps": env.env_steps - start_steps,
             "env_steps_start": start_steps, "env_steps_end": env.env_steps,
             "env_steps_per_s": round((env.env_steps - start_steps) / max(wall, 1e-9), 1),
             "progress": env.progress, "curriculum": {"progress": env.progress}, "load": os.getloadavg(),
             "hardware": _hardware("cpu") + ", C MuJoCo engine", "command": shlex.join(sys.argv)}
    # ``task``, ``init_from`` and the chunk fields are those of mjlab runs (wbvla.lmo.train.run_summary reads both).
    write_json_atomic(meta_path, {"engine": "cpu", "task": asdict(task), "config": asdict(cfg), "init_from": cfg.init_from,
                                  "chunks": chunks + [chunk]})
    return newest


def main(argv: list[str] | None = None) -> None:
    """``python -m wbvla.lmo.cpu.train --run-dir ... --minutes 60`` (tyro over :class:`CpuTrainConfig`)."""
    import tyro

    cfg = tyro.cli(CpuTrainConfig, args=argv)
    print(train_cpu(cfg))


if __name__ == "__main__":
    main()
