"""The learning-signal benchmark: which levers buy a walking gait at a fixed CPU budget.

Each variant (the paper's setup, the full lever set, the full set minus one lever) trains Stage I on
the CPU engine for the same number of env steps, one variant after another (never side by side on
2 cores), then its policy is exported and run through App. B.4 forward trials (5 s at flag +1 =
0.3 m/s, so a perfect tracker moves 1.5 m): distance moved the commanded way, falls, and the mean
training episode length at the end. The JSON it writes (``data/lmo/learning_signal_cpu.json``) is
what decides which levers stay on (see :mod:`wbvla.lmo.levers`).

    python -m wbvla.lmo.cpu.signal_bench --env-steps 5000000 --variants paper all no_reference no_assist
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from wbvla.io import write_json_atomic
from wbvla.lmo.cpu.config import CpuEngineConfig, CpuTrainConfig
from wbvla.lmo.cpu.train import train_cpu
from wbvla.lmo.evaluation import _Sim, locomotion_trial
from wbvla.lmo.export import run_export
from wbvla.lmo.job_config import EvalConfig, ExportConfig
from wbvla.lmo.lever_config import AssistConfig, LeverConfig
from wbvla.lmo.onnx_policy import LMOPolicy
from wbvla.lmo.train import load_curves
from wbvla.paths import cache_dir, data_dir


def variants(env_steps: int) -> dict[str, LeverConfig]:
    """The lever sets compared: the paper's, all levers, and all levers but one."""
    full = LeverConfig(assist=AssistConfig(enabled=True, decay_env_steps=max(1, env_steps // 2)))
    return {
        "paper": LeverConfig.paper(),
        "all": full,
        "no_reference": replace(full, reference_gait="none"),
        "no_clock": replace(full, gait_clock=False, reference_gait="none", contact_schedule_weight=0.0,
                            swing_height_weight=0.0),
        "no_assist": replace(full, assist=AssistConfig(enabled=False)),
        "no_progress": replace(full, progress_weight=0.0),
        "sharp_kernel": replace(full, intent_sharpness=25.0),
        "symmetry": replace(full, symmetry="augment"),
    }


def forward_trials(onnx: Path, trials: int, seed: int = 0) -> dict:
    """App. B.4 forward (+) trials of one exported policy: distance moved, falls."""
    sim, cfg, rng = _Sim(LMOPolicy(onnx)), EvalConfig(trials=trials), np.random.default_rng(seed)
    runs = [locomotion_trial(sim, cfg, 0, 1.0, rng) for _ in range(trials)]
    ok = [r for r in runs if not r["fell"]]
    return {"trials": trials, "falls": trials - len(ok),
            "moved_m": float(np.mean([r["moved"] for r in ok])) if ok else None,
            "pos_err_m": float(np.mean([r["pos_err"] for r in ok])) if ok else None}


def run_variant(name: str, levers: LeverConfig, env_steps: int, root: Path, trials: int, num_envs: int) -> dict:
    cfg = CpuTrainConfig(run_dir=str(root / name), engine=CpuEngineConfig(num_envs=num_envs, levers=levers),
                         max_env_steps=env_steps)
    t0 = time.time()
    ckpt = train_cpu(cfg)
    wall = time.time() - t0
    out = root / name / "export"
    run_export(ExportConfig(checkpoint=ckpt, out_dir=out, name="lmo"))
    curves = load_curves(root / name)
    tail = curves.tail(max(1, len(curves) // 10))
    ep = "Train/mean_episode_length"  # logged once an episode has ended
    return {"levers": name, "env_steps": env_steps, "train_wall_s": round(wall, 1),
            "final_episode_s": float(tail[ep].mean() * 0.02) if ep in tail and tail[ep].notna().any() else None,
            "forward": forward_trials(out / "lmo.onnx", trials), "load": os.getloadavg()}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m wbvla.lmo.cpu.signal_bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--env-steps", type=int, default=5_000_000)
    p.add_argument("--variants", nargs="+", default=["paper", "all"])
    p.add_argument("--trials", type=int, default=10)
    p.add_argument("--num-envs", type=int, default=256)
    p.add_argument("--root", type=Path, default=cache_dir() / "lmo" / "signal_bench")
    p.add_argument("--out", type=Path, default=data_dir() / "lmo" / "learning_signal_cpu.json")
    a = p.parse_args(argv)
    table = variants(a.env_steps)
    unknown = [v for v in a.variants if v not in table]
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; choose from {sorted(table)}")
    results = json.loads(a.out.read_text()) if a.out.exists() else {}
    for name in a.variants:  # one after another: never two trainings side by side on 2 cores
        results[f"{name}@{a.env_steps}"] = run_variant(name, table[name], a.env_steps, a.root / str(a.env_steps),
                                                       a.trials, a.num_envs)
        write_json_atomic(a.out, results)  # after each variant: a long benchmark loses nothing
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
