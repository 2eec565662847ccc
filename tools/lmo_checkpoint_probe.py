"""Quick App. B.4 locomotion check of one LMO training checkpoint (no export into data/, no figures).

The plan's runs keep rsl-rl checkpoints; notebook 09 evaluates only the shipped ONNX policies. This
runs :func:`wbvla.lmo.cpu.probe.probe_checkpoint` (the plan's own probe) on one checkpoint: the App.
B.4 locomotion trials (forward, lateral, turning; signs alternate; ``--full``: every B.4 trial),
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
from pathlib import Path

from wbvla.lmo import evaluation as ev
from wbvla.lmo.cpu.probe import probe_checkpoint


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--trials", type=int, default=10, help="trials per primitive (signs alternate)")
    p.add_argument("--run-json", type=Path, default=None, help="run.json to use when the checkpoint's folder has none")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--full", action="store_true", help="every App. B.4 trial (CoM sway under pushes, stands), not only locomotion")
    p.add_argument("--out", type=Path, default=None, help="write the result here (JSON)")
    a = p.parse_args()
    res = probe_checkpoint(a.checkpoint, a.trials, full=a.full, run_json=a.run_json, seed=a.seed)
    for name in ev.PRIMITIVES:
        row = {s: {k: round(v[k], 3) if isinstance(v[k], float) else v[k] for k in ("pos_err", "yaw_err", "moved", "falls")}
               for s, v in res[name]["by_sign"].items()}
        print(name, json.dumps(row))
    if a.full:
        print("falls (locomotion + CoM sway):", res["falls"], "of", res["total_trials"], "| stands:",
              {k: res[k]["falls"] for k in ("stand", "stand_arms")})
    print("first walking:", res["first_walking"]["walks"], {k: v["ok"] for k, v in res["first_walking"]["checks"].items()})
    if a.out is not None:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
