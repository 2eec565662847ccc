"""App. B.4 probes of LMO training checkpoints, and which probed checkpoint is the best.

PPO does not improve monotonically: the plan's s5_lmo passed the issue's first-walking test at
5.5 M env steps (model_892) and lost it 3.5 M env steps later (model_1457: backward 9/10 falls).
So a plan step can probe its checkpoint every so many env steps (:attr:`CpuPlanStep.probe_every
<wbvla.lmo.cpu.plan.CpuPlanStep.probe_every>`) and keep the best one beside the newest:

* :func:`probe_checkpoint` exports a checkpoint to a temporary folder (the same ``run_export`` as
  ``wbvla lmo-export``) and runs App. B.4 trials on it in plain MuJoCo
  (:func:`wbvla.lmo.evaluation.evaluate_policy`, or the locomotion trials alone);
* :func:`probe_score` orders results: first walking passed, then fewer falls (locomotion and
  CoM-sway under pushes), then the worst B.4 error relative to its limit;
* :func:`record_probe` appends a result to the run's ``probes.jsonl`` and, when it beats
  ``best.json``, copies the checkpoint to ``best.pt`` (a name the trainer's clean-up never touches).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from wbvla.io import atomic_path, write_json_atomic
from wbvla.lmo import evaluation as ev
from wbvla.lmo.export import run_export
from wbvla.lmo.job_config import EvalConfig, ExportConfig
from wbvla.lmo.onnx_policy import LMOPolicy

BEST_CHECKPOINT = "best.pt"
"""The best probed checkpoint of a run folder (a copy; ``model_*.pt`` are the trainer's)."""
BEST_RECORD = "best.json"
"""Its probe result and score."""
PROBES = "probes.jsonl"
"""One probe result per line, in the order they were made."""


def locomotion_probe(onnx_path: Path, cfg: EvalConfig) -> dict:
    """The B.4 locomotion trials of one ONNX policy (forward, lateral, turning; signs alternate), with
    per-sign stats and the first-walking verdict; no CoM-sway or stand trials."""
    sim = ev._Sim(LMOPolicy(onnx_path))
    rng = np.random.default_rng(cfg.seed)
    out: dict = {}
    for name, axis in ev.PRIMITIVES.items():
        signs = [1.0 if k % 2 == 0 else -1.0 for k in range(cfg.trials)]
        runs = [ev.locomotion_trial(sim, cfg, axis, s, rng) for s in signs]
        out[name] = ev._locomotion_stats(runs)
        out[name]["by_sign"] = {label: ev._locomotion_stats([r for r, s in zip(runs, signs, strict=True) if s == v])
                                for label, v in (("+", 1.0), ("-", -1.0))}
    out["falls"] = sum(out[name]["falls"] for name in ev.PRIMITIVES)
    out["first_walking"] = ev.first_walking(out, cfg.trials)
    return out


def probe_checkpoint(checkpoint: Path, trials: int = 20, full: bool = True, run_json: Path | None = None,
                     seed: int = 0) -> dict:
    """App. B.4 trials of one rsl-rl checkpoint of a CPU or mjlab run.

    ``full``: every B.4 trial (:func:`~wbvla.lmo.evaluation.evaluate_policy`: locomotion, CoM sway
    under pushes standing and squatting, stands); otherwise the locomotion trials alone.
    ``run_json``: the run record to export with (default: the checkpoint's folder's ``run.json``)."""
    checkpoint = Path(checkpoint)
    meta_path = Path(run_json) if run_json is not None else checkpoint.parent / "run.json"
    if not meta_path.exists():
        raise FileNotFoundError(f"{meta_path}: no run record to export {checkpoint} with (pass run_json)")
    meta = json.loads(meta_path.read_text())["config"]
    per_iteration = meta["engine"]["num_envs"] * meta["ppo"]["num_steps_per_env"]
    iteration = int(torch.load(checkpoint, map_location="cpu", weights_only=False)["iter"])
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        run.mkdir()
        shutil.copy(meta_path, run / "run.json")
        name = f"model_{iteration}.pt"
        shutil.copy(checkpoint, run / name)
        run_export(ExportConfig(checkpoint=run / name, name="lmo", out_dir=Path(tmp) / "onnx"))
        cfg = EvalConfig(trials=trials, seed=seed).resolved()
        onnx = Path(tmp) / "onnx" / "lmo.onnx"
        out = ev.evaluate_policy(onnx, cfg) if full else locomotion_probe(onnx, cfg)
    return {"checkpoint": str(checkpoint), "iteration": iteration, "run_env_steps": iteration * per_iteration,
            "trials_per_primitive": trials, "full": full, **out}


def probe_score(result: dict) -> tuple[int, int, int, float]:
    """Larger is better: (first walking passed, how many of its three checks pass, minus the falls,
    minus the worst B.4 error over its limit: forward and lateral position error / 0.5 m, turning yaw
    error / 0.5 rad; NaN counts as 9). The checks come before the falls: s10_lmo's model_1463 fell
    8 times in 100 but walked forward 0.15 m of 1.5 (one check passed), its model_487 fell 15 times
    and passed forward and turning."""
    checks = result["first_walking"]["checks"]
    worst = max((c["error"] / c["limit"]) if c["error"] == c["error"] else 9.0 for c in checks.values())
    passed = sum(bool(c["ok"]) for c in checks.values())
    return int(result["first_walking"]["walks"]), passed, -int(result["falls"]), -round(float(worst), 4)


def best_record(run_dir: Path) -> dict | None:
    """The run's ``best.json`` (None: nothing probed yet)."""
    path = Path(run_dir) / BEST_RECORD
    return json.loads(path.read_text()) if path.exists() else None


def probed_iterations(run_dir: Path) -> set[int]:
    """PPO iterations of the checkpoints the run's ``probes.jsonl`` has a result for."""
    path = Path(run_dir) / PROBES
    lines = path.read_text().splitlines() if path.exists() else []
    return {int(json.loads(line)["iteration"]) for line in lines if line.strip()}


def record_probe(run_dir: Path, checkpoint: Path, result: dict) -> bool:
    """Append ``result`` (of ``checkpoint``) to the run's probes; keep the checkpoint as ``best.pt`` when
    it scores above the best so far (ties keep the earlier). Returns whether it is the new best."""
    run_dir = Path(run_dir)
    score = probe_score(result)
    row = {**result, "checkpoint": Path(checkpoint).name, "score": list(score)}
    with open(run_dir / PROBES, "a") as f:
        f.write(json.dumps(row) + "\n")
    best = best_record(run_dir)
    if best is not None and probe_score(best) >= score:  # re-scored: records kept under an older rule too
        return False
    with atomic_path(run_dir / BEST_CHECKPOINT) as tmp:
        shutil.copy(checkpoint, tmp)
    write_json_atomic(run_dir / BEST_RECORD, row)
    return True
