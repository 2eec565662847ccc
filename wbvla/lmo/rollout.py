"""Roll the mjlab LMO task out and record every reward term, the command and the base motion.

Used by notebook 07 to plot each Table 4 term on a rollout. Terms are evaluated through the
same functions and parameters the reward manager uses, so the plotted values are the training
signal (unweighted, and weighted per second as in :data:`wbvla.lmo.config.REWARD_TABLE`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from wbvla.lmo.config import LMOTaskConfig
from wbvla.lmo.onnx_policy import LMOPolicy


def reward_rollout(cfg: LMOTaskConfig, steps: int, onnx: Path | None = None, env_index: int = 0,
                   device: str = "cpu") -> pd.DataFrame:
    """Run ``steps`` policy steps of the task ``cfg``; one row per step for env ``env_index``.

    Actions come from the ONNX policy ``onnx`` (same observation layout as training) or are zero
    (the default-pose PD stance) when it is None. Columns: ``t``; ``raw/<term>`` and
    ``weighted/<term>`` for every active reward term; ``u0..u3`` (command), ``v_ref_*``,
    ``s_bar_*`` (LMO), ``v_x v_y w_z`` (base frame), ``height``, ``yaw``, ``j_dir``, ``terminated``.
    """
    policy = LMOPolicy(onnx) if onnx is not None else None
    if policy is not None and "levers" in policy.metadata:  # a CPU-engine policy: its levers shape obs and actions
        return _cpu_rollout(cfg, steps, policy, env_index)
    if device == "cpu":
        os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    from mjlab.envs import ManagerBasedRlEnv

    from wbvla.lmo.env_cfg import make_env_cfg  # lazy: mjlab

    env = ManagerBasedRlEnv(make_env_cfg(cfg), device=device)
    rm = env.reward_manager
    terms = list(zip(rm._term_names, rm._term_cfgs, strict=True))
    cmd = env.command_manager.get_term("command")
    robot = env.scene["robot"]
    rows = []
    try:
        obs, _ = env.reset()
        i = env_index
        for k in range(steps):
            if policy is None:
                action = torch.zeros(env.num_envs, 12)
            else:
                action = torch.tensor(np.stack([policy.act(o) for o in obs["actor"].numpy()]))
            obs, _, term, trunc, _ = env.step(action)
            row = {"t": (k + 1) * env.step_dt, "terminated": bool(term[i])}
            for name, tc in terms:
                raw = float(tc.func(env, **tc.params)[i])
                row[f"raw/{name}"] = raw
                row[f"weighted/{name}"] = raw * tc.weight
            u = cmd.command[i].tolist()
            row |= {f"u{j}": u[j] for j in range(4)}
            row |= {f"v_ref_{a}": float(cmd.v_ref[i, j]) for j, a in enumerate(("x", "y", "yaw"))}
            if hasattr(cmd, "s_bar"):
                row |= {f"s_bar_{a}": float(cmd.s_bar[i, j]) for j, a in enumerate(("x", "y", "yaw"))}
                row["j_dir"] = float(cmd.j_dir[i])
            lin, ang = robot.data.root_link_lin_vel_b[i], robot.data.root_link_ang_vel_b[i]
            row |= {"v_x": float(lin[0]), "v_y": float(lin[1]), "w_z": float(ang[2]),
                    "height": float(robot.data.root_link_pos_w[i, 2]), "yaw": float(robot.data.heading_w[i])}
            rows.append(row)
    finally:
        env.close()
    return pd.DataFrame(rows)


def _cpu_rollout(cfg: LMOTaskConfig, steps: int, policy: LMOPolicy, i: int) -> pd.DataFrame:
    """:func:`reward_rollout` on the CPU engine with the policy's levers (the assist off, as in evaluation)."""
    import json

    from wbvla.lmo.cpu.config import CpuEngineConfig  # lazy: only CPU-engine policies come here
    from wbvla.lmo.cpu.env import CpuLMOEnv  # lazy: only CPU-engine policies come here
    from wbvla.lmo.lever_config import (  # lazy: only CPU-engine policies come here
        AssistConfig,
        LeverConfig,
    )

    levers = json.loads(policy.metadata["levers"])
    levers = LeverConfig(**(levers | {"assist": AssistConfig()}))
    env = CpuLMOEnv(cfg, CpuEngineConfig(num_envs=cfg.num_envs, levers=levers, seed=cfg.seed))
    cmd, data, rows = env.command, env.robot.data, []
    obs = env.get_observations()
    for k in range(steps):
        action = torch.tensor(np.stack([policy.act(o) for o in obs["actor"].numpy()]))
        obs, _, done, extras = env.step(action)
        row = {"t": (k + 1) * env.step_dt, "terminated": bool(done[i] and not extras["time_outs"][i])}
        for name, (fn, params, weight) in env.reward_fns.items():
            raw = float(fn(env.view, **params)[i])
            row[f"raw/{name}"], row[f"weighted/{name}"] = raw, raw * weight
        u = cmd.command[i].tolist()
        row |= {f"u{j}": u[j] for j in range(4)}
        row |= {f"v_ref_{a}": float(cmd.v_ref[i, j]) for j, a in enumerate(("x", "y", "yaw"))}
        row |= {f"s_bar_{a}": float(cmd.s_bar[i, j]) for j, a in enumerate(("x", "y", "yaw"))}
        row["j_dir"] = float(cmd.j_dir[i])
        lin, ang = data.root_link_lin_vel_b[i], data.root_link_ang_vel_b[i]
        row |= {"v_x": float(lin[0]), "v_y": float(lin[1]), "w_z": float(ang[2]),
                "height": float(data.root_link_pos_w[i, 2]), "yaw": float(data.heading_w[i])}
        rows.append(row)
    return pd.DataFrame(rows)
