"""Held-out open-loop metrics of one Stage III run, on its own dataset's held-out episodes.

    python tools/heldout_eval.py ~/.cache/wbvla/vla_runs/tutorial/finetune/<run>

Prints what ``wbvla.vla.finetune.evaluate_policy`` measures on the frames ``heldout_frames`` gives for the
run's ``train_config.json``: arm / gripper / h* errors, plain and balanced flag accuracy per axis, and the
hand position error at pre-grasp and grasp (forward kinematics of predicted vs expert arm targets, cm).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="a Stage III run folder (train_config.json + policy/)")
    args = ap.parse_args(argv)
    import torch

    from wbvla.vla.config import finetune_config_from_dict
    from wbvla.vla.finetune import evaluate_policy, heldout_frames
    from wbvla.vla.policy import VLAPolicy

    torch.set_num_threads(1)
    run = args.run.expanduser()
    if not (run / "train_config.json").is_file() or not (run / "policy" / "policy.json").is_file():
        raise SystemExit(f"{run}: not a Stage III run folder (needs train_config.json and policy/policy.json)")
    cfg = finetune_config_from_dict(json.loads((run / "train_config.json").read_text()))
    policy = VLAPolicy.load(run / "policy", threads=1)
    metrics, _ = evaluate_policy(policy, heldout_frames(cfg, policy.image_size))
    print(json.dumps({k: v for k, v in metrics.items() if not isinstance(v, dict)}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
