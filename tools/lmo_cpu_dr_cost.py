"""What the CPU engine's Table 5 rows cost in env steps per CPU-second (issue 22).

Three envs of the same Stage II task step the same random actions in alternating rounds (so a load
change on a shared machine hits all of them): ``dr_rows="sensors"`` (one shared model),
``"table5"`` with the model draws switched off (pushes, action lag, torque injection on the shared
model), and ``"table5"`` (a model per env, redrawn at each reset). CPU time, not wall time, is
timed: on a busy 2-core machine wall time swings by +-15 % between rounds. Random actions fall
often (about 11 resets per 1000 env steps), so the per-reset cost of the model draws weighs more
than in training. Also times one model draw alone.

    nice -n 5 .venv/bin/python tools/lmo_cpu_dr_cost.py --num-envs 256 --steps 48 --rounds 8
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch

from wbvla.lmo.config import LMOTaskConfig
from wbvla.lmo.cpu.config import CpuEngineConfig
from wbvla.lmo.cpu.env import CpuLMOEnv


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--num-envs", type=int, default=256)
    p.add_argument("--steps", type=int, default=48, help="policy steps per round")
    p.add_argument("--rounds", type=int, default=8, help="timed rounds (one more warms up)")
    a = p.parse_args()
    torch.set_num_threads(1)
    n = a.num_envs
    task = LMOTaskConfig(num_envs=n, stage=2)
    envs = {"sensors": CpuLMOEnv(task, CpuEngineConfig(num_envs=n, dr_rows="sensors")),
            "table5_without_model_draws": CpuLMOEnv(task, CpuEngineConfig(num_envs=n)),
            "table5": CpuLMOEnv(task, CpuEngineConfig(num_envs=n))}
    bare = envs["table5_without_model_draws"]
    bare.table5.draw_models = lambda ids, dr: None  # the other rows stay; every env steps the shared model
    bare.batch.models = [bare.batch.model] * n
    g = torch.Generator().manual_seed(0)
    times: dict[str, list[float]] = {k: [] for k in envs}
    resets = dict.fromkeys(envs, 0)
    print("load before", os.getloadavg(), flush=True)
    for r in range(a.rounds + 1):
        for k, env in envs.items():
            t = time.process_time()
            for _ in range(a.steps):
                _, _, done, _ = env.step(torch.randn(n, 12, generator=g) * 0.3)
                resets[k] += int(done.sum()) if r else 0
            if r:
                times[k].append(time.process_time() - t)
    for k in envs:
        rates = [n * a.steps / t for t in times[k]]
        print(f"{k}: {statistics.median(rates):.0f} env steps per CPU-s (median of {a.rounds} rounds of {a.steps} steps "
              f"x {n} envs, rounds {[round(x) for x in rates]}; {resets[k] / (a.rounds * a.steps * n) * 1000:.1f} resets "
              f"per 1000 env steps)")
    env = envs["table5"]
    t = time.process_time()
    for _ in range(5):
        env.table5.draw_models(np.arange(n), env.dr_now())
    print(f"one model draw (model_fields + write + mj_setConst): {(time.process_time() - t) / (5 * n) * 1e6:.0f} CPU-us per env")
    print("load after", os.getloadavg(), flush=True)


if __name__ == "__main__":
    main()
