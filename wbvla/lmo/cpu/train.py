"""Train the LMO on the CPU engine with rsl-rl PPO: resumable, deadline-bounded, slim checkpoints.

A run folder holds ``model_<it>.pt`` (atomic writes; :func:`wbvla.lmo.train.slim_checkpoint`
drops the optimizer state of the kept ones so they can be committed), ``curves.jsonl`` (one row per
PPO iteration: every reward term, losses, learning rate, KL, action std, episode length, env steps,
throughput) and ``run.json`` (the config and one record per chunk). Calling :func:`train_cpu`
again on the same folder resumes from its newest checkpoint, with the curriculum progress and the
env step counter (which drives the Stage I arm range and the assist decay) of the last chunk, and
with the Table 5 rows the run started with (``engine.dr_rows`` of its ``run.json``; a run.json
without the field is a run of :data:`~wbvla.lmo.cpu.config.LEGACY_DR_ROWS`), whatever the
config passed says: a run never changes its randomization halfway.

``wbvla lmo-train --engine cpu`` is this; ``--engine mjlab`` is :mod:`wbvla.lmo.train`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import sys
import time
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

import torch
import tyro
from mjlab.rl import MjlabOnPolicyRunner  # rsl-rl's runner + config clean-up and ONNX export

from wbvla.io import atomic_path, write_json_atomic
from wbvla.lmo.cpu.config import LEGACY_DR_ROWS, CpuTrainConfig
from wbvla.lmo.cpu.env import CpuLMOEnv
from wbvla.lmo.env_cfg import make_runner_cfg
from wbvla.lmo.lever_config import LEGACY_LEVERS
from wbvla.lmo.symmetry import rsl_rl_symmetry_cfg
from wbvla.lmo.train import (
    LOGGER,
    JsonlLogWriter,
    _hardware,
    _learn,
    _resume,
    latest_checkpoint,
    slim_checkpoint,
)


def runner_cfg(cfg: CpuTrainConfig) -> dict:
    agent = asdict(make_runner_cfg(cfg.ppo, "wbvla_lmo_cpu", seed=cfg.engine.seed))
    agent["save_interval"] = cfg.save_interval
    agent["logger"] = dict(LOGGER)
    agent["obs_groups"] = {"actor": ["actor"], "critic": ["critic"]}
    symmetry = rsl_rl_symmetry_cfg(cfg.engine.levers.symmetry, cfg.engine.levers.mirror_loss_weight)
    if symmetry is not None:  # the symmetry lever (logs Loss/symmetry)
        agent["algorithm"]["symmetry_cfg"] = symmetry
    return agent


def _runner(env, cfg: CpuTrainConfig, run_dir: Path | None):
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


def resumed_dr_rows(cfg: CpuTrainConfig, stored: dict) -> CpuTrainConfig:
    """``cfg`` with the Table 5 rows of the run whose stored config (run.json's ``config``) is
    ``stored``: its ``engine.dr_rows``, or :data:`LEGACY_DR_ROWS` where the field is absent."""
    rows = stored["engine"].get("dr_rows", LEGACY_DR_ROWS)
    if rows == cfg.engine.dr_rows:
        return cfg
    print(f"[wbvla] {cfg.run_dir} was started with engine.dr_rows={rows!r}: it resumes with those rows, "
          f"not {cfg.engine.dr_rows!r}", flush=True)
    return replace(cfg, engine=replace(cfg.engine, dr_rows=rows))


def stored_levers(stored: dict) -> dict:
    """The levers of the run whose stored config (run.json's ``config``) is ``stored``, as
    ``asdict(LeverConfig)``: a field the run predates takes its :data:`LEGACY_LEVERS` value (what it
    trained with), so adding a lever never stops a run from resuming with its own recipe."""
    return {**LEGACY_LEVERS, **stored["engine"]["levers"]}


def train_cpu(cfg: CpuTrainConfig) -> Path:
    """Run one chunk (to ``minutes`` or ``max_env_steps``); returns the newest checkpoint."""
    torch.set_num_threads(cfg.torch_threads)
    run_dir = Path(cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    meta_path = run_dir / "run.json"
    if meta_path.exists():
        old = json.loads(meta_path.read_text())["config"]
        for key in ("task", "stage", "ablation"):
            was = old.get(key, "lmo")  # runs from before the velocity baseline came to the CPU engine are LMO runs
            if was != getattr(cfg, key):
                raise ValueError(f"{run_dir} holds a run with {key}={was!r}, not {getattr(cfg, key)!r}; pass another run_dir")
        if stored_levers(old) != asdict(cfg.engine.levers):
            raise ValueError(f"{run_dir} was trained with other levers ({old['engine']['levers']}); pass another run_dir")
        cfg = resumed_dr_rows(cfg, old)
    chunks = _chunks(run_dir)
    task = cfg.task_config()
    # The curriculum continues: from this run's last chunk, or (a new Stage II) from the run it starts from.
    parent = _chunks(Path(cfg.init_from).parent) if (not chunks and cfg.init_from) else []
    if chunks or parent:
        task = replace(task, curriculum=replace(task.curriculum, start_progress=(chunks or parent)[-1]["progress"]))
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
    cfg = tyro.cli(CpuTrainConfig, args=argv)
    print(train_cpu(cfg))


if __name__ == "__main__":
    main()
