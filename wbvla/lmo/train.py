"""Train the LMO (or its velocity baseline) with rsl-rl-lib PPO through mjlab's runner.

A run lives in one folder (``run_dir``): checkpoints ``model_<it>.pt`` (written atomically),
``curves.jsonl`` (one JSON row per PPO iteration, every scalar rsl-rl logs: rewards per term,
losses, episode length, fps), and ``run.json`` (configs plus one record per training chunk:
iterations, env steps, wall time, device, command). Calling :func:`train` again on the same folder
resumes from its latest checkpoint, so a long run can be done in chunks.

The two-stage curriculum is two calls: Stage I into one folder, then Stage II into another with
``init_from`` pointing at the Stage I checkpoint (actor, critic and normalizers are loaded).
The Table 3 ablations: ``no_stage2`` is the Stage I policy alone, ``no_stage1`` trains Stage II
from scratch, ``no_eq3`` runs Stage II with the J_dir weight at 0.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shlex
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from rsl_rl.utils.log_writer import LogWriter

from wbvla.io import atomic_path, write_json_atomic
from wbvla.lmo.config import LMOTaskConfig
from wbvla.lmo.job_config import BenchmarkConfig, TrainConfig

_CKPT = re.compile(r"^model_(\d+)\.pt$")


class JsonlLogWriter(LogWriter):
    """rsl-rl log writer that appends one JSON row per iteration to ``curves.jsonl``."""

    def __init__(self, log_dir: str, **_: object) -> None:
        self.path = Path(log_dir) / "curves.jsonl"
        self.row: dict = {}
        self.step: int | None = None
        self.t0 = time.time()
        self.offset_s = _last_time(self.path)

    def add_scalar(self, tag: str, scalar_value, global_step: int) -> None:
        if tag.endswith("/time"):  # rsl-rl also logs some curves against wall time; skip those
            return
        if self.step is not None and global_step != self.step:
            self.flush()
        self.step = global_step
        self.row[tag] = float(scalar_value)

    def flush(self) -> None:
        if self.step is None or not self.row:
            return
        row = {"iteration": self.step, "time_s": self.offset_s + time.time() - self.t0, **self.row}
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")
        self.row, self.step = {}, None

    def stop(self) -> None:
        self.flush()


def _last_time(path: Path) -> float:
    if not path.exists():
        return 0.0
    lines = path.read_text().strip().splitlines()
    return json.loads(lines[-1]).get("time_s", 0.0) if lines else 0.0


def load_curves(run: Path):
    """Logged curves as a pandas DataFrame (one row per iteration, last write wins); ``run`` is a
    run folder or a ``.jsonl`` file written by :class:`JsonlLogWriter`."""
    import pandas as pd

    path = Path(run) if Path(run).suffix == ".jsonl" else Path(run) / "curves.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"no curves at {path}")
    df = pd.read_json(path, lines=True)
    return df.drop_duplicates("iteration", keep="last").sort_values("iteration").reset_index(drop=True)


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint with the highest iteration in ``run_dir`` (None if there is none)."""
    if not Path(run_dir).is_dir():
        return None
    found = [(int(m.group(1)), p) for p in Path(run_dir).iterdir() if (m := _CKPT.match(p.name))]
    return max(found)[1] if found else None


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' was requested but no CUDA device is available")
    return "cuda:0" if device == "cuda" else "cpu"


def _runner_class():
    from mjlab.rl import MjlabOnPolicyRunner

    class AtomicRunner(MjlabOnPolicyRunner):
        """mjlab's runner with checkpoints written to a temp file, then renamed."""

        def save(self, path: str, infos=None) -> None:
            with atomic_path(path) as tmp:
                super().save(str(tmp), infos)
            if isinstance(self.logger.writer, JsonlLogWriter):
                self.logger.writer.flush()

    return AtomicRunner


def _positive_wrapper_class():
    from mjlab.rl import RslRlVecEnvWrapper

    class PositiveRewardWrapper(RslRlVecEnvWrapper):
        """rsl-rl env wrapper that clips each step's total reward at 0 (PPOConfig.only_positive_rewards)."""

        def step(self, actions):
            obs, rew, dones, extras = super().step(actions)
            return obs, rew.clamp_min(0.0), dones, extras

    return PositiveRewardWrapper


def make_runner(cfg: TrainConfig, log_dir: Path | None, device: str):
    """Build the mjlab env, its rsl-rl wrapper and the PPO runner for ``cfg`` (already resolved)."""
    from mjlab.envs import ManagerBasedRlEnv
    from mjlab.rl import RslRlVecEnvWrapper

    from wbvla.lmo.env_cfg import make_env_cfg, make_runner_cfg

    env = ManagerBasedRlEnv(cfg=make_env_cfg(cfg.task), device=device)
    wrapped = (_positive_wrapper_class() if cfg.ppo.only_positive_rewards else RslRlVecEnvWrapper)(env)
    agent = asdict(make_runner_cfg(cfg.ppo, f"wbvla_{cfg.task.task}", seed=cfg.task.seed))
    agent["save_interval"] = cfg.save_interval
    agent["logger"] = {"class_name": "wbvla.lmo.train:JsonlLogWriter"}
    runner = _runner_class()(wrapped, agent, None if log_dir is None else str(log_dir), device)
    return env, wrapped, runner


def _hardware(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(0)
    return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


def _write_json(path: Path, obj: dict) -> None:
    write_json_atomic(path, obj)


def _check_same_run(run_dir: Path, cfg: TrainConfig) -> None:
    """Refuse to resume a run folder that holds another task, stage or ablation."""
    meta_path = run_dir / "run.json"
    if not meta_path.exists():
        return
    old = json.loads(meta_path.read_text())["task"]
    for key in ("task", "stage", "ablation"):
        if old[key] != getattr(cfg.task, key):
            raise ValueError(f"{run_dir} holds a run with {key}={old[key]!r}, not {getattr(cfg.task, key)!r}; "
                             "pass another --run-dir")


def train(config: TrainConfig) -> Path:
    """Run one training chunk; returns the path of the checkpoint it ends with."""
    cfg = config.resolved()
    device = resolve_device(cfg.device)
    if device == "cpu":
        os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    run_dir = Path(cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    _check_same_run(run_dir, cfg)
    resume = latest_checkpoint(run_dir)
    env, wrapped, runner = make_runner(cfg, run_dir, device)
    try:
        if resume is not None:
            runner.load(str(resume), map_location=device)
            runner.current_learning_iteration += 1
            print(f"[wbvla] resuming {run_dir.name} from {resume.name}")
        elif cfg.init_from is not None:
            runner.load(str(cfg.init_from), load_cfg={"actor": True, "critic": True}, map_location=device)
            print(f"[wbvla] initialized from {cfg.init_from}")
        start_it = runner.current_learning_iteration
        t0 = time.time()
        runner.learn(num_learning_iterations=cfg.iterations, init_at_random_ep_len=True)
        wall = time.time() - t0
    finally:
        env.close()
    ckpt = latest_checkpoint(run_dir)
    meta_path = run_dir / "run.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {
        "task": asdict(cfg.task), "ppo": asdict(cfg.ppo), "init_from": str(cfg.init_from) if cfg.init_from else None,
        "chunks": []}
    meta["chunks"].append({
        "start_iteration": start_it, "end_iteration": runner.current_learning_iteration,
        "iterations": cfg.iterations,
        "env_steps": cfg.iterations * cfg.task.num_envs * cfg.ppo.num_steps_per_env,
        "wall_s": round(wall, 1), "device": device, "hardware": _hardware(device), "host": platform.node(),
        "command": os.environ.get("WBVLA_COMMAND") or shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "checkpoint": ckpt.name if ckpt else None,
    })
    _write_json(meta_path, meta)
    print(f"[wbvla] {cfg.iterations} iterations in {wall:.0f} s -> {ckpt}")
    return ckpt


def run_summary(run_dir: Path) -> dict:
    """Totals of a run folder: iterations, env steps, wall time, hardware (for model cards)."""
    meta = json.loads((Path(run_dir) / "run.json").read_text())
    chunks = meta["chunks"]
    return {
        "iterations": sum(c["iterations"] for c in chunks),
        "env_steps": sum(c["env_steps"] for c in chunks),
        "wall_s": round(sum(c["wall_s"] for c in chunks), 1),
        "hardware": sorted({c["hardware"] for c in chunks}),
        "commands": [c["command"] for c in chunks],
        "num_envs": meta["task"]["num_envs"],
        "stage": meta["task"]["stage"],
        "task": meta["task"]["task"],
        "ablation": meta["task"]["ablation"],
        "init_from": meta.get("init_from"),
    }


def benchmark(config: BenchmarkConfig) -> dict:
    """Env steps per second of full PPO iterations (collection + update) for both tasks.

    Both runners are built first; then their iterations alternate (LMO, G1, LMO, G1, ...) and the
    median iteration time of each is reported, so a load change on a shared machine hits both."""
    import statistics

    import mjlab.tasks  # noqa: F401  (registers mjlab's own tasks)
    from mjlab.envs import ManagerBasedRlEnv
    from mjlab.rl import MjlabOnPolicyRunner, RslRlVecEnvWrapper
    from mjlab.tasks.registry import load_env_cfg, load_rl_cfg

    device = resolve_device(config.device)
    if device == "cpu":
        os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    lmo_cfg = TrainConfig(task=LMOTaskConfig(num_envs=config.num_envs, stage=config.stage)).resolved()
    lmo_env, _, lmo_runner = make_runner(lmo_cfg, None, device)
    g1_env_cfg = load_env_cfg("Mjlab-Velocity-Flat-Unitree-G1")
    g1_env_cfg.scene.num_envs = config.num_envs
    g1_agent = asdict(load_rl_cfg("Mjlab-Velocity-Flat-Unitree-G1"))
    g1_env = ManagerBasedRlEnv(cfg=g1_env_cfg, device=device)
    g1_runner = MjlabOnPolicyRunner(RslRlVecEnvWrapper(g1_env), g1_agent, None, device)
    runs = {"lmo": (lmo_runner, lmo_cfg.ppo.num_steps_per_env), "g1_velocity_flat": (g1_runner, g1_agent["num_steps_per_env"])}
    times: dict[str, list[float]] = {k: [] for k in runs}
    try:
        for rnd in range(config.iterations + 1):  # round 0 warms up (kernel compilation, allocations)
            for name, (runner, _) in runs.items():
                t0 = time.time()
                runner.learn(num_learning_iterations=1)
                if rnd > 0:
                    times[name].append(time.time() - t0)
    finally:
        lmo_env.close()
        g1_env.close()
    out = {"num_envs": config.num_envs, "device": device, "hardware": _hardware(device), "timed_rounds": config.iterations}
    for name, (_, steps) in runs.items():
        med = statistics.median(times[name])
        out[name] = {"iteration_s": [round(t, 2) for t in times[name]], "median_iteration_s": round(med, 2),
                     "env_steps_per_iteration": steps * config.num_envs,
                     "env_steps_per_s": round(steps * config.num_envs / med, 1)}
    out["ratio_lmo_to_g1"] = round(out["lmo"]["env_steps_per_s"] / out["g1_velocity_flat"]["env_steps_per_s"], 3)
    return out
