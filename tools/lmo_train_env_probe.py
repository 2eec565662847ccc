"""Run a plan checkpoint in the CPU *training* env on an App. B.4-shaped command (stand 1 s, one flag
for 5 s, stand 10 s), with Table 5 randomization on (at a DR level) or off, and count the falls.

The App. B.4 evaluation (:mod:`wbvla.lmo.evaluation`) runs the exported policy in plain MuJoCo without
randomization; this asks whether a policy that falls there also falls in the env it trained in, and
whether randomization (e.g. the sensor lags it always trained with) is what keeps it up:

    python tools/lmo_train_env_probe.py data/lmo/cpu_plan/s4_lmo/model_1000.pt --axis 0 --sign -1 --dr-level 1 0
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import torch

from wbvla.lmo.cpu.config import CpuEngineConfig, CpuTrainConfig
from wbvla.lmo.cpu.env import CpuLMOEnv
from wbvla.lmo.cpu.train import _runner
from wbvla.lmo.lever_config import AssistConfig, LeverConfig


def run(checkpoint: Path, run_json: Path, axis: int, sign: float, dr_level: float | None, envs: int, seed: int,
        arms_still: bool = False, nominal_height: bool = False) -> dict:
    """``arms_still``: the arms held at their default pose; ``nominal_height``: h* at its nominal value;
    both as App. B.4's locomotion trials run (Stage II training replays arm clips and samples h*)."""
    stored = json.loads(run_json.read_text())["config"]
    levers = LeverConfig(**{**stored["engine"]["levers"], "assist": AssistConfig(**stored["engine"]["levers"]["assist"])})
    engine = CpuEngineConfig(num_envs=envs, levers=levers, seed=seed, dr_rows=stored["engine"].get("dr_rows", "sensors"))
    cfg = CpuTrainConfig(stage=stored["stage"], engine=engine, domain_rand=dr_level is not None)
    task = cfg.task_config()
    if dr_level is not None:  # the curriculum's DR level pinned: progress where dr_level(progress) reaches it
        task = replace(task, curriculum=replace(task.curriculum, start_progress=1.0, use_curriculum=False),
                       domain_rand=task.domain_rand.at_level(dr_level))
    env = CpuLMOEnv(task, engine)
    runner = _runner(env, cfg, None)
    runner.load(str(checkpoint), load_cfg={"actor": True, "critic": True}, map_location="cpu")
    policy = runner.get_inference_policy(device="cpu")
    cmd = env.command
    if arms_still:
        from wbvla.sim.joints import default_pose

        still = torch.tensor(default_pose("arms"), dtype=torch.float32).repeat(envs, 1)  # (N, 14)
        env.arms.source.step = lambda dt: still
        env.arms.target = still
    from wbvla.lmo.config import HeightConfig

    nominal = HeightConfig().nominal_height
    obs = env.get_observations()
    fell_at = torch.full((envs,), -1.0)
    phases = ((1.0, 0.0), (5.0, sign), (10.0, 0.0))  # (seconds, flag on ``axis``)
    k = 0
    for seconds, flag in phases:
        for _ in range(round(seconds / env.step_dt)):
            flags = torch.zeros(envs, 3)
            flags[:, axis] = flag
            cmd.flags[:] = flags
            cmd.v_goal[:] = torch.tensor(task.command.cruise)
            cmd.time_left[:] = 1e3  # no resampling
            if nominal_height:
                cmd.height_target[:] = nominal
            with torch.no_grad():
                obs, _, done, _ = env.step(policy(obs))
            k += 1
            new = done & (fell_at < 0) & ~env.extras["time_outs"]
            fell_at[new] = k * env.step_dt
    falls = fell_at[fell_at >= 0]
    return {"checkpoint": str(checkpoint), "axis": axis, "sign": sign, "dr_level": dr_level, "envs": envs, "arms_still": arms_still,
            "nominal_height": nominal_height,
            "falls": int(len(falls)), "fall_times_s": sorted(round(float(t), 2) for t in falls)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--run-json", type=Path, default=None, help="the run's run.json (default: beside the checkpoint)")
    p.add_argument("--axis", type=int, default=0, help="0 forward, 1 lateral, 2 turning")
    p.add_argument("--sign", type=float, default=-1.0)
    p.add_argument("--dr-level", type=float, nargs="+", default=[1.0, -1.0], help="DR levels to run (< 0: randomization off)")
    p.add_argument("--envs", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--arms-still", action="store_true", help="arms held at the default pose (as App. B.4)")
    p.add_argument("--nominal-height", action="store_true", help="h* at its nominal value (as App. B.4)")
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args()
    torch.set_num_threads(1)
    rows = [run(a.checkpoint, a.run_json or a.checkpoint.parent / "run.json", a.axis, a.sign,
                None if level < 0 else level, a.envs, a.seed, a.arms_still, a.nominal_height) for level in a.dr_level]
    for r in rows:
        print(json.dumps({k: r[k] for k in ("axis", "sign", "dr_level", "arms_still", "nominal_height", "envs", "falls")}), r["fall_times_s"][:10])
    if a.out is not None:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
