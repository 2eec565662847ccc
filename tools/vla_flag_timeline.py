"""Open-loop s_x timeline of a trained policy on the held-out demonstrations: where the decoded
"walk forward" flag starts and stops compared with the demonstration (why a closed-loop VLA
overshoots or never sets off). Writes one JSON file.

    python tools/vla_flag_timeline.py --row wholebodyvla --out data/vla/diagnostics/flag_timeline_wholebodyvla.json

``--row`` picks the suite row trained with the suite's default sizes (``wbvla.suite.config.TrainingSizes``);
``--policy`` any policy folder instead (then ``--row`` names the variant whose held-out split to use).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from wbvla.io import write_json_atomic
from wbvla.paths import portable_path
from wbvla.viz.report import provenance


def runs(flags: np.ndarray, value: int) -> list[tuple[int, int]]:
    """[start, end) of every maximal run of ``flags == value``."""
    hit = np.concatenate([[0], (flags == value).astype(int), [0]])
    edges = np.flatnonzero(np.diff(hit))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def approach_report(true_x: np.ndarray, pred_x: np.ndarray) -> dict:
    """The first walking run of the demonstration (the approach) against the prediction: recall
    of its walk frames, and the first / last predicted walk frame around it (frames at 10 Hz)."""
    first = runs(true_x, 1)
    if not first:
        return {"approach": None}
    s, e = first[0]
    window = pred_x[: e + 10] == 1  # the approach plus one second after it
    pred_walk = np.flatnonzero(window)
    return {"approach": [s, e], "walk_recall": float(np.mean(pred_x[s:e] == 1)),
            "pred_start_delay": int(pred_walk[0] - s) if pred_walk.size else None,
            "pred_stop_delay": int(pred_walk[-1] + 1 - e) if pred_walk.size else None,
            "walk_after_demo_end": float(np.mean(pred_x[max(len(pred_x) - 10, 0):] == 1))}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--row", default="wholebodyvla", help="suite row / variant (its held-out split and, without --policy, its policy)")
    ap.add_argument("--policy", type=Path, default=None, help="a policy folder (default: the row trained with the suite's sizes)")
    ap.add_argument("--out", type=Path, required=True, help="JSON file to write")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    from wbvla.suite.config import ROW_VARIANT, TrainingSizes
    from wbvla.suite.trials import finetune_config, policy_dir, row_spec
    from wbvla.vla.finetune import evaluate_policy, heldout_frames
    from wbvla.vla.policy import VLAPolicy

    if args.row not in ROW_VARIANT:
        raise SystemExit(f"--row must be one of {sorted(ROW_VARIANT)}, got {args.row!r}")
    sizes = TrainingSizes()
    spec = row_spec(args.row)
    folder = args.policy or policy_dir(spec, sizes)
    if not (Path(folder) / "policy.json").is_file():
        raise SystemExit(f"{folder}: no trained policy (policy.json missing); train it with wbvla vla-variant")
    policy = VLAPolicy.load(Path(folder))
    if policy.command_kind != "flags":
        raise SystemExit(f"{folder}: a {policy.command_kind!r} policy has no flags")
    frames = heldout_frames(finetune_config(spec, sizes))
    metrics, pred = evaluate_policy(policy, frames)
    px, tx = pred["command"][:, 0].numpy().round().astype(int), pred["true_flags"][:, 0].numpy().round().astype(int)
    sym = {-1: "-", 0: ".", 1: "+"}
    episodes, i = [], 0
    for ep in frames.episodes:
        n = len(ep)
        t, p = tx[i:i + n], px[i:i + n]
        episodes.append({"episode": int(ep.index), "instruction": ep.instruction, "true_x": "".join(sym[v] for v in t),
                         "pred_x": "".join(sym[v] for v in p), **approach_report(t, p)})
        i += n
    rep = [e for e in episodes if e.get("approach")]
    out = {"row": args.row, "policy": portable_path(str(folder)), "model_id": policy.model_id,
           "heldout_metrics": {k: v for k, v in metrics.items() if np.isscalar(v)},
           "approach_walk_recall_mean": float(np.mean([e["walk_recall"] for e in rep])) if rep else None,
           "pred_start_delay_frames": [e["pred_start_delay"] for e in rep],
           "pred_stop_delay_frames": [e["pred_stop_delay"] for e in rep],
           "episodes": episodes, "legend": "+ walk forward, . stand, - walk back; one character per 10 Hz frame",
           "command": "python tools/vla_flag_timeline.py " + " ".join(argv if argv is not None else sys.argv[1:]),
           "provenance": provenance()}
    write_json_atomic(args.out, out)
    print(json.dumps({k: out[k] for k in ("model_id", "approach_walk_recall_mean", "pred_start_delay_frames", "pred_stop_delay_frames")}))
    return out


if __name__ == "__main__":
    main()
