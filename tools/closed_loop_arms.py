"""Closed-loop arms probe: where a learned policy's arms and grippers go when its own targets move the robot.

    python tools/closed_loop_arms.py <policy folder> --task bag_packing --seeds 1000000 1000001
    python tools/closed_loop_arms.py <policy folder> --observe      # the expert drives, the learner only predicts
    python tools/closed_loop_arms.py <policy folder> --write NAME   # also data/vla/diagnostics/arms_<NAME>.json

The scripted expert walks (its u_t: flags and h*), the learner's arm and gripper targets are sent (the
suite's ``split:<row>:arms`` row, :class:`wbvla.suite.split.LearnerArmsPolicy`); with ``--observe`` the
expert's are sent instead and the learner is only asked, which is the held-out open-loop setting on a
suite scene. Every policy tick records the expert's phase, the hand distance (forward kinematics,
:func:`wbvla.vla.phase_metrics.hand_error_m`, the worse hand, cm) between the learner's and the expert's
arm target, between the measured arms and the expert's target, and both gripper targets. The summary
per phase: ticks, median hand distance learner-expert (cm), and the tick at which the learner's gripper
target first fell below half open while the expert's was still open (an early close).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HALF_OPEN_M = 0.02
"""A gripper target below this (m; fully open 0.04) counts as closing."""


def probe(policy_folder: Path, task: str, seed: int, observe: bool, time_limit_s: float) -> dict:
    """One trial; per-tick records and the per-phase summary."""
    from wbvla.control.policy_contract import PolicyOutput
    from wbvla.suite.split import split_policy
    from wbvla.tasks.runner import RunnerConfig, run_trial
    from wbvla.tasks.specs import make_task
    from wbvla.vla.phase_metrics import hand_error_m
    from wbvla.vla.policy import VLAPolicy

    learner = VLAPolicy.load(policy_folder, threads=1)
    split = split_policy(learner, "arms")
    ticks: list[tuple] = []

    class Recorded:
        """The split policy, recording both sides' targets each tick (and sending the expert's with ``observe``)."""

        model_id, command_kind, image_size = split.model_id, "flags", learner.image_size

        def bind(self, t) -> None:
            split.bind(t)

        def reset(self) -> None:
            split.reset()

        def act(self, image, instruction, state) -> PolicyOutput:
            out = split.act(image, instruction, state)  # the learner's arms, the expert's u_t
            e, lrn = split.last
            ticks.append((split.expert.phase, lrn.arm_targets[0], e.arm_targets[0], np.asarray(state[:14]),
                          float(lrn.grippers[0].min()), float(e.grippers[0].min())))
            if not observe:
                return out
            return PolicyOutput(e.arm_targets, e.grippers, e.command, "flags", latents=lrn.latents, dt=lrn.dt,
                                info={"phase": split.expert.phase})

    result = run_trial(Recorded(), make_task(task, seed), RunnerConfig(time_limit_s=time_limit_s))
    phase = [t[0] for t in ticks]
    learned, expert, measured = (np.stack([t[i] for t in ticks]) for i in (1, 2, 3))  # (T, 14) each
    grip_l, grip_e = np.array([t[4] for t in ticks]), np.array([t[5] for t in ticks])  # (T,) m
    l_e = hand_error_m(learned, expert).max(axis=1) * 100  # (T,) cm
    q_e = hand_error_m(measured, expert).max(axis=1) * 100
    early = np.flatnonzero((grip_l < HALF_OPEN_M) & (grip_e >= HALF_OPEN_M))
    by_phase: dict[str, dict] = {}
    for p in dict.fromkeys(phase):
        sel = np.array([x == p for x in phase])
        by_phase[p] = {"ticks": int(sel.sum()), "learner_vs_expert_cm_median": round(float(np.median(l_e[sel])), 2),
                       "measured_vs_expert_cm_median": round(float(np.median(q_e[sel])), 2)}
    return {"task": task, "seed": seed, "observe": observe, "success": list(result.success), "ticks": len(ticks),
            "first_early_close_tick": int(early[0]) if len(early) else None,
            "first_early_close_phase": phase[early[0]] if len(early) else None,
            "expert_close_tick": int(np.argmax(grip_e < HALF_OPEN_M)) if np.any(grip_e < HALF_OPEN_M) else None,
            "by_phase": by_phase}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("policy", type=Path, help="a VLA policy folder (policy.json + safetensors)")
    ap.add_argument("--task", default="bag_packing")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1_000_000, 1_000_001], help="held-out seeds")
    ap.add_argument("--observe", action="store_true", help="send the expert's arms; the learner only predicts")
    ap.add_argument("--time-limit-s", type=float, default=25.0)
    ap.add_argument("--write", metavar="NAME", help="also write data/vla/diagnostics/arms_<NAME>.json")
    args = ap.parse_args(argv)
    import torch

    from wbvla.io import write_json_atomic
    from wbvla.paths import portable_path

    torch.set_num_threads(1)
    folder = args.policy.expanduser()
    if not (folder / "policy.json").is_file():
        raise SystemExit(f"{folder}: no policy.json (give a VLA policy folder)")
    trials = [probe(folder, args.task, s, args.observe, args.time_limit_s) for s in args.seeds]
    out = {"policy": portable_path(folder), "model_id": json.loads((folder / "policy.json").read_text())["model_id"],
           "command": f"python tools/closed_loop_arms.py {portable_path(folder)} --task {args.task} --seeds "
                      + " ".join(map(str, args.seeds)) + (" --observe" if args.observe else ""),
           "trials": trials}
    print(json.dumps(out, indent=1))
    if args.write:
        path = ROOT / "data" / "vla" / "diagnostics" / f"arms_{args.write}.json"
        write_json_atomic(path, out)
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
