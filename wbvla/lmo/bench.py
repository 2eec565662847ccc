"""Training throughput of the LMO task on both engines (``wbvla lmo-bench``).

The LMO task on mjlab, the same task on the CPU (C MuJoCo) engine and mjlab's own G1 velocity task, built
first, then one PPO iteration of each in turn, so a load change on a shared machine hits all three; writes
its JSON itself (command, git commit, the CPU load around the run). Above both trainers in the import
graph: it imports :mod:`wbvla.lmo.train` and :mod:`wbvla.lmo.cpu.train`.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import asdict
from pathlib import Path

import mjlab.tasks  # noqa: F401  (registers mjlab's own tasks)
import torch
from mjlab.envs import ManagerBasedRlEnv
from mjlab.rl import MjlabOnPolicyRunner, RslRlVecEnvWrapper
from mjlab.tasks.registry import load_env_cfg, load_rl_cfg

from wbvla.io import write_json_atomic
from wbvla.lmo.config import LMOTaskConfig
from wbvla.lmo.cpu.config import CpuEngineConfig, CpuTrainConfig
from wbvla.lmo.cpu.env import CpuLMOEnv
from wbvla.lmo.cpu.train import _runner
from wbvla.lmo.job_config import BenchmarkConfig, TrainConfig
from wbvla.lmo.lever_config import LeverConfig
from wbvla.lmo.train import _hardware, make_runner
from wbvla.training.devices import resolve_device
from wbvla.viz.report import provenance


def _cpu_run_name(threads: int) -> str:
    return "lmo_cpu_engine" if threads == 1 else f"lmo_cpu_engine_{threads}threads"


def benchmark(config: BenchmarkConfig) -> dict:
    """Env steps per second of full PPO iterations (collection + update): the LMO task on mjlab, the
    same task on the CPU (C MuJoCo) engine, and mjlab's G1 velocity task; writes
    ``config.out`` itself (with the command, git commit and the CPU load around the run).

    All runners are built first; then their iterations alternate and the median iteration time of
    each is reported, so a load change on a shared machine hits all of them."""

    device = resolve_device(config.device).torch
    if device == "cpu":
        os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
        torch.set_num_threads(config.threads)
    load_before = os.getloadavg()
    lmo_cfg = TrainConfig(task=LMOTaskConfig(num_envs=config.num_envs, stage=config.stage)).resolved()
    lmo_env, _, lmo_runner = make_runner(lmo_cfg, None, device)
    g1_env_cfg = load_env_cfg("Mjlab-Velocity-Flat-Unitree-G1")
    g1_env_cfg.scene.num_envs = config.num_envs
    g1_agent = asdict(load_rl_cfg("Mjlab-Velocity-Flat-Unitree-G1"))
    g1_env = ManagerBasedRlEnv(cfg=g1_env_cfg, device=device)
    g1_runner = MjlabOnPolicyRunner(RslRlVecEnvWrapper(g1_env), g1_agent, None, device)
    # The same LMO task (paper levers, same PPO settings and env count) on the C engine (wbvla.lmo.cpu).
    runs = {"lmo": (lmo_runner, lmo_cfg.ppo.num_steps_per_env)}
    for n in config.physics_threads:
        cpu_cfg = CpuTrainConfig(stage=config.stage, ppo=lmo_cfg.ppo,
                                 engine=CpuEngineConfig(num_envs=config.num_envs, threads=n, levers=LeverConfig.paper()))
        runs[_cpu_run_name(n)] = (_runner(CpuLMOEnv(cpu_cfg.task_config(), cpu_cfg.engine), cpu_cfg, None), cpu_cfg.ppo.num_steps_per_env)
    runs["g1_velocity_flat"] = (g1_runner, g1_agent["num_steps_per_env"])
    times: dict[str, list[float]] = {k: [] for k in runs}
    t_start = time.time()
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
    out = {"num_envs": config.num_envs, "device": device, "hardware": _hardware(device), "timed_rounds": config.iterations,
           "torch_threads": config.threads if device == "cpu" else None}
    for name, (_, steps) in runs.items():
        med = statistics.median(times[name])
        out[name] = {"iteration_s": [round(t, 2) for t in times[name]], "median_iteration_s": round(med, 2),
                     "env_steps_per_iteration": steps * config.num_envs,
                     "env_steps_per_s": round(steps * config.num_envs / med, 1)}
    out["ratio_lmo_to_g1"] = round(out["lmo"]["env_steps_per_s"] / out["g1_velocity_flat"]["env_steps_per_s"], 3)
    out["goal_ratio"] = 0.9
    out["physics_threads"] = list(config.physics_threads)
    for n in config.physics_threads:  # ratio_cpu_engine_to_mjlab for 1 thread, ratio_cpu_engine_<n>threads_to_mjlab else
        name = _cpu_run_name(n)
        out[f"ratio_{name.removeprefix('lmo_')}_to_mjlab"] = round(out[name]["env_steps_per_s"] / out["lmo"]["env_steps_per_s"], 3)
    out["goal_ratio_cpu_engine_to_mjlab"] = 5.0
    out["order"] = "rounds of one PPO iteration each, in the order " + ", ".join(runs) + " (round 0 is a warm-up)"
    out["machine_load"] = {"loadavg_1_5_15_before": [round(x, 2) for x in load_before],
                           "loadavg_1_5_15_after": [round(x, 2) for x in os.getloadavg()],
                           "cpu_count": os.cpu_count(), "wall_s": round(time.time() - t_start, 1)}
    out["provenance"] = provenance()
    if config.out is not None:
        write_json_atomic(Path(config.out), out)
        print(f"wrote {config.out}")
    return out
