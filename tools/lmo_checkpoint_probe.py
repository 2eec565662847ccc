"""Quick App. B.4 locomotion check of one LMO training checkpoint (no export into data/, no figures).

The plan's runs keep rsl-rl checkpoints; notebook 09 evaluates only the shipped ONNX policies. This
exports a checkpoint to a temporary folder (the same `run_export` as `wbvla lmo-export`) and runs the
App. B.4 locomotion trials of `wbvla.lmo.evaluation` (forward, lateral, turning; signs alternate),
printing and writing per-sign errors, the distance moved, the falls and the issue's first-walking
verdict (:func:`wbvla.lmo.evaluation.first_walking`; it needs 20 trials per primitive):

    python tools/lmo_checkpoint_probe.py data/lmo/cpu_plan/s2_lmo/model_3254.pt --trials 20 \
        --out data/lmo/cpu_plan/probes/s2_lmo_model_3254.json

A checkpoint whose run folder has no run.json (a run whose first chunk is still training) takes the
run.json of another run with the same task and levers via --run-json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from wbvla.lmo import evaluation as ev
from wbvla.lmo.export import run_export
from wbvla.lmo.job_config import EvalConfig, ExportConfig
from wbvla.lmo.onnx_policy import LMOPolicy


def probe(checkpoint: Path, trials: int, run_json: Path | None = None, seed: int = 0) -> dict:
    """Per primitive: the B.4 locomotion stats over ``trials`` trials and ``by_sign``."""
    meta_path = run_json or checkpoint.parent / "run.json"
    engine = json.loads(Path(meta_path).read_text())["config"]
    per_iteration = engine["engine"]["num_envs"] * engine["ppo"]["num_steps_per_env"]
    iteration = int(checkpoint.stem.split("_")[1])
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        run.mkdir()
        shutil.copy(meta_path, run / "run.json")
        shutil.copy(checkpoint, run / checkpoint.name)
        run_export(ExportConfig(checkpoint=run / checkpoint.name, name="lmo", out_dir=Path(tmp) / "onnx"))
        cfg = EvalConfig(trials=trials, seed=seed).resolved()
        sim = ev._Sim(LMOPolicy(Path(tmp) / "onnx" / "lmo.onnx"))
        rng = np.random.default_rng(cfg.seed)
        out: dict = {"checkpoint": str(checkpoint), "trials_per_primitive": trials, "iteration": iteration,
                     "run_env_steps": iteration * per_iteration}  # env steps of this run (after its init_from)
        for name, axis in ev.PRIMITIVES.items():
            signs = [1.0 if k % 2 == 0 else -1.0 for k in range(trials)]
            runs = [ev.locomotion_trial(sim, cfg, axis, s, rng) for s in signs]
            out[name] = ev._locomotion_stats(runs)
            out[name]["by_sign"] = {label: ev._locomotion_stats([r for r, s in zip(runs, signs, strict=True) if s == v])
                                    for label, v in (("+", 1.0), ("-", -1.0))}
    out["first_walking"] = ev.first_walking(out)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--trials", type=int, default=10, help="trials per primitive (signs alternate)")
    p.add_argument("--run-json", type=Path, default=None, help="run.json to use when the checkpoint's folder has none")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None, help="write the result here (JSON)")
    a = p.parse_args()
    res = probe(a.checkpoint, a.trials, a.run_json, a.seed)
    for name in ev.PRIMITIVES:
        row = {s: {k: round(v[k], 3) if isinstance(v[k], float) else v[k] for k in ("pos_err", "yaw_err", "moved", "falls")}
               for s, v in res[name]["by_sign"].items()}
        print(name, json.dumps(row))
    print("first walking:", res["first_walking"]["walks"], {k: v["ok"] for k, v in res["first_walking"]["checks"].items()})
    if a.out is not None:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
