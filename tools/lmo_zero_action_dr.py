"""Which Table 5 randomization topples a zero-action X2? (diagnostic, CPU, a few minutes)

Runs the LMO env (mjlab, CPU) with zero actions, i.e. a PD hold of the default pose, and counts
falls among N envs in a fixed number of policy steps: first with every DR row neutral, then with
one row at a time at its Table 5 range, then with the whole table; with ``--level L`` every range
is first shrunk to DR level L (what the learning curriculum trains with at that level). The
learning curriculum itself is off, so each row runs at exactly the ranges printed.

    CUDA_VISIBLE_DEVICES="" python tools/lmo_zero_action_dr.py [--envs 48] [--steps 150] [--floor 0.3]
    CUDA_VISIBLE_DEVICES="" python tools/lmo_zero_action_dr.py --envs 32 --level 0.2 --only-whole \
        --out data/lmo/learning_signal/zero_action_level0.2.json

This is how the restitution floor (``DomainRandConfig.min_damping_ratio``) and the curriculum's
first DR level (``CurriculumConfig.initial_dr_level``) were chosen.
"""
import argparse
import os
import subprocess
import time
from pathlib import Path

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

from dataclasses import replace  # noqa: E402

import torch  # noqa: E402
from mjlab.envs import ManagerBasedRlEnv  # noqa: E402

from wbvla.lmo.config import CurriculumConfig, LMOTaskConfig  # noqa: E402
from wbvla.lmo.env_cfg import make_env_cfg  # noqa: E402

NEUTRAL = dict(friction=(1.0, 1.0), com_displacement=(0.0, 0.0), body_displacement=(0.0, 0.0),
               torso_payload=(0.0, 0.0), push_velocity=0.0, action_lag=(0, 0), dof_lag=(0, 0), imu_lag=(0, 0),
               init_joint_scale=(1.0, 1.0), torque_injection=(0.0, 0.0), actuation_offset=(0.0, 0.0),
               link_mass_scale=(1.0, 1.0), restitution=(0.0, 0.0), hand_payload=(0.0, 0.0))
"""Values that switch each Table 5 row off while the DR machinery stays enabled."""


def falls(dr, n: int, steps: int) -> tuple[int, float]:
    """(falls, mean length of the fallen episodes in policy steps) with zero actions."""
    task = replace(LMOTaskConfig(num_envs=n), domain_rand=dr, curriculum=CurriculumConfig(use_curriculum=False))
    env = ManagerBasedRlEnv(cfg=make_env_cfg(task), device="cpu")
    env.reset()
    alive, lengths = torch.zeros(n), []
    for _ in range(steps):
        _, _, term, trunc, _ = env.step(torch.zeros(n, env.action_manager.total_action_dim))
        alive += 1
        for i in torch.nonzero(term | trunc).flatten().tolist():
            lengths.append(int(alive[i]))
            alive[i] = 0
    env.close()
    return len(lengths), sum(lengths) / max(1, len(lengths))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--envs", type=int, default=48)
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--floor", type=float, default=None, help="override min_damping_ratio")
    p.add_argument("--level", type=float, default=1.0, help="DR level of every range (1: Table 5 as printed)")
    p.add_argument("--only-whole", action="store_true", help="run only the whole-table row")
    p.add_argument("--out", type=Path, default=None, help="also write the rows to this JSON file")
    a = p.parse_args()
    torch.set_num_threads(1)
    base = LMOTaskConfig().domain_rand
    if a.floor is not None:
        base = replace(base, min_damping_ratio=a.floor)
    base = base.at_level(a.level) if hasattr(base, "at_level") else base
    neutral = replace(base, **NEUTRAL)
    rows = [] if a.only_whole else [("all rows neutral", neutral)] + [
        (f"only {k}", replace(neutral, **{k: getattr(base, k)})) for k in NEUTRAL]
    rows.append((f"whole Table 5 at level {a.level}", base))
    print(f"min_damping_ratio {base.min_damping_ratio}; {a.envs} envs, {a.steps} policy steps, zero actions")
    git = subprocess.run(["git", "-C", str(Path(__file__).parent), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip() or "unknown"
    t0, results = time.time(), []
    for label, dr in rows:
        n, mean = falls(dr, a.envs, a.steps)
        results.append({"row": label, "falls": n, "mean_fallen_length_steps": round(mean, 1)})
        print(f"{label:24s} falls {n:3d}  mean length of fallen episodes {mean:6.1f}", flush=True)
    if a.out is not None:
        from wbvla.io import write_json_atomic

        write_json_atomic(a.out, {"git": git, "envs": a.envs, "policy_steps": a.steps, "level": a.level,
                                  "min_damping_ratio": base.min_damping_ratio, "wall_s": round(time.time() - t0, 1),
                                  "loadavg_1_5_15": [round(x, 2) for x in os.getloadavg()], "rows": results})


if __name__ == "__main__":
    main()
