"""What does PPO see? A short LMO training run that records the learning signal (CPU, ~30 min).

Trains the LMO task for a fixed budget (default: Stage I, 128 envs, 50 PPO iterations of 24 steps
= 153,600 env steps) through ``wbvla.lmo.train.make_runner`` and records, per iteration:

* the fraction of env steps whose *raw* total reward (the sum of the weighted terms) is negative,
  and the fraction whose reward *as PPO receives it* is <= 0 (with the old total clip these are the
  steps clipped to 0) or < 0;
* the mean raw and the mean PPO-side step reward;
* falls (terminations that are not time-outs) per 1,000 env steps and rsl-rl's mean episode length.

It only uses ``make_runner(cfg, log_dir, device)`` and instance-level wrappers of ``step``, so the
same script measures an older checkout too (``PYTHONPATH=/path/to/old/checkout``), which is how
the before/after numbers of issue #8 were taken:

    CUDA_VISIBLE_DEVICES="" nice python tools/lmo_learning_signal.py --out /tmp/after.json
    CUDA_VISIBLE_DEVICES="" PYTHONPATH=/tmp/lmo_before nice python tools/lmo_learning_signal.py --out /tmp/before.json
"""
import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import torch  # noqa: E402


def _git(path: Path) -> str:
    try:
        return subprocess.run(["git", "-C", str(path), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--envs", type=int, default=128)
    p.add_argument("--iterations", type=int, default=50)
    p.add_argument("--stage", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, required=True, help="JSON file to write")
    a = p.parse_args()
    torch.set_num_threads(a.threads)

    import wbvla
    from wbvla.lmo.config import LMOTaskConfig
    from wbvla.lmo.job_config import TrainConfig
    from wbvla.lmo.train import make_runner

    code = Path(wbvla.__file__).parent.parent
    git_at_start = _git(code)  # the code that runs (HEAD may move while it trains)
    run_dir = Path(tempfile.mkdtemp(prefix="lmo_signal_"))
    cfg = TrainConfig(task=LMOTaskConfig(num_envs=a.envs, stage=a.stage, seed=a.seed), iterations=a.iterations,
                      run_dir=run_dir, save_interval=10_000, device="cpu").resolved()
    env, wrapped, runner = make_runner(cfg, run_dir, "cpu")
    steps_per_it = cfg.ppo.num_steps_per_env
    stats = {"raw_neg": 0, "seen_nonpos": 0, "seen_neg": 0, "raw_sum": 0.0, "seen_sum": 0.0, "falls": 0, "n": 0}
    rows: list[dict] = []

    inner_step = env.step

    def raw_step(action):
        obs, rew, term, trunc, extras = inner_step(action)
        stats["raw_neg"] += int((rew < 0).sum())
        stats["raw_sum"] += float(rew.sum())
        stats["falls"] += int((term & ~trunc).sum()) if trunc is not None else int(term.sum())
        stats["n"] += rew.numel()
        return obs, rew, term, trunc, extras

    env.step = raw_step
    outer_step = wrapped.step

    def seen_step(action):
        obs, rew, dones, extras = outer_step(action)
        stats["seen_nonpos"] += int((rew <= 0).sum())
        stats["seen_neg"] += int((rew < 0).sum())
        stats["seen_sum"] += float(rew.sum())
        if stats["n"] >= steps_per_it * a.envs:
            n = stats["n"]
            rows.append({"iteration": len(rows), "frac_raw_negative": stats["raw_neg"] / n,
                         "frac_seen_nonpositive": stats["seen_nonpos"] / n, "frac_seen_negative": stats["seen_neg"] / n,
                         "mean_raw_reward": stats["raw_sum"] / n, "mean_seen_reward": stats["seen_sum"] / n,
                         "falls_per_1k_steps": 1000 * stats["falls"] / n})
            for k in stats:
                stats[k] = 0 if isinstance(stats[k], int) else 0.0
        return obs, rew, dones, extras

    wrapped.step = seen_step
    runner.env = wrapped
    t0 = time.time()
    try:
        runner.learn(num_learning_iterations=a.iterations, init_at_random_ep_len=True)
    finally:
        env.close()
    wall = time.time() - t0
    curves = [json.loads(line) for line in (run_dir / "curves.jsonl").read_text().splitlines() if line.strip()]
    lengths = [c.get("Train/mean_episode_length") for c in curves]
    for row, c in zip(rows, curves, strict=False):
        row["mean_episode_length"] = c.get("Train/mean_episode_length")
    last = rows[-10:]

    def avg(key, rs):
        vals = [r[key] for r in rs if r.get(key) is not None]
        return sum(vals) / len(vals) if vals else None

    out = {
        "wbvla": str(code), "git": git_at_start, "init_std": cfg.ppo.init_std,
        "envs": a.envs, "stage": a.stage, "iterations": a.iterations, "env_steps": a.iterations * a.envs * steps_per_it,
        "threads": a.threads, "wall_s": round(wall, 1),
        "summary_first_iteration": rows[0] if rows else None,
        "summary_last_10_iterations": {k: avg(k, last) for k in rows[0]} if rows else None,
        "final_mean_episode_length": next((x for x in reversed(lengths) if x is not None), None),
        "per_iteration": rows,
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(out, indent=1))
    print(json.dumps({k: v for k, v in out.items() if k != "per_iteration"}, indent=1))


if __name__ == "__main__":
    main()
