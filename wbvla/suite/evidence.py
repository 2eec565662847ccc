"""Evidence for *why* a closed-loop result is what it is: how much better than "always stand" the
decoded locomotion flags are, how long the demonstrations stand still before they walk, and how
collapsed the latent codes the VLA chose in closed loop were.

    base = flag_baseline(heldout_actions(cache_dir() / "teleop/tutorial", heldout_per_task=2))
    share = dominant_code_share(records)   # {row: {lam: share of ticks on the most chosen code}}
    near = approach_summary(records, run_dir)  # how close each row came to the grasp stance, and where it ended

Pure functions of arrays / records (tested by hand), plus one reader of the teleoperation parquet.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from wbvla.data.teleop_schema import ACTION_DIM, split_action

AXES = ("x", "y", "yaw")
"""The three locomotion flags of u_t (s_x, s_y, s_yaw)."""


def flag_baseline(actions: list[np.ndarray]) -> dict:
    """Over episodes' actions (each (T, 20)): the accuracy of always predicting flag 0 ("stand")
    per axis (the share of frames whose flag is 0: the majority-class baseline an open-loop flag
    accuracy has to beat), the share of frames with all three flags 0, and per episode the seconds
    (10 Hz frames / 10) before the first non-zero flag (how long the demonstration stood first)."""
    if not actions:
        raise ValueError("flag_baseline needs at least one episode's actions")
    flags = []
    first_move = []
    for a in actions:
        a = np.asarray(a)
        if a.ndim != 2 or a.shape[1] != ACTION_DIM:
            raise ValueError(f"each episode's actions must be (T, {ACTION_DIM}), got {a.shape}")
        f = np.rint(split_action(a)[2][:, :3]).astype(int)  # (T, 3) flags in {-1, 0, 1}
        flags.append(f)
        moving = np.flatnonzero(np.any(f != 0, axis=1))
        first_move.append(float(moving[0]) / 10.0 if moving.size else None)
    f = np.concatenate(flags)  # (N, 3)
    return {"frames": int(len(f)), "episodes": len(actions),
            "always_stand_accuracy": {ax: float(np.mean(f[:, i] == 0)) for i, ax in enumerate(AXES)},
            "all_flags_zero_share": float(np.mean(np.all(f == 0, axis=1))),
            "stand_before_first_step_s": first_move}


def heldout_actions(root: Path, heldout_per_task: int) -> list[np.ndarray]:
    """The actions (T, 20) of the held-out episodes of a teleoperation dataset: per task the last
    ``heldout_per_task`` episodes by index (as :func:`wbvla.vla.teleop_data.split_episodes` holds
    them out), read from the parquet files only (no video decoding)."""
    import pyarrow.parquet as pq

    files = sorted(Path(root).glob("data/*/*.parquet"))
    if not files:
        raise FileNotFoundError(f"no teleoperation data at {root} (data/*/*.parquet missing); generate it with `wbvla teleop-data`")
    by_task: dict[int, dict[int, list]] = defaultdict(lambda: defaultdict(list))
    for path in files:
        t = pq.read_table(path, columns=["action", "episode_index", "task_index", "frame_index"]).to_pydict()
        for a, ep, task, fr in zip(t["action"], t["episode_index"], t["task_index"], t["frame_index"], strict=True):
            by_task[int(task)][int(ep)].append((int(fr), a))
    out = []
    for eps in by_task.values():
        for ep in sorted(eps)[-heldout_per_task:] if heldout_per_task > 0 else []:
            rows = sorted(eps[ep], key=lambda r: r[0])
            out.append(np.asarray([r[1] for r in rows], np.float32))
    return out


def dominant_code_share(records: list[dict]) -> dict:
    """Per row and LAM: the share of all closed-loop ticks (pooled over the row's trials) spent on
    the single most chosen latent code, and how many distinct codes were chosen
    (``{row: {lam: {"share", "code", "codes_used", "ticks"}}}``; rows without latents are absent)."""
    counts: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    for r in records:
        for lam, codes in (r.get("latent_usage") or {}).items():
            for code, n in codes.items():
                counts[r["row"]][lam][code] += int(n)
    out: dict = {}
    for row, lams in counts.items():
        for lam, c in lams.items():
            total = sum(c.values())
            code, top = max(c.items(), key=lambda kv: kv[1])
            out.setdefault(row, {})[lam] = {"share": top / total, "code": int(code), "codes_used": len(c), "ticks": total}
    return out


def approach_of(base: np.ndarray, t: np.ndarray, approach) -> dict:
    """One trial's base path (T, 3) against the expert's grasp stance ``approach`` [x, y, yaw]:
    the closest distance (m) and when (s), the distance at the end, and the path length walked (m)."""
    d = np.linalg.norm(np.asarray(base)[:, :2] - np.asarray(approach[:2]), axis=1)  # (T,)
    i = int(np.argmin(d))
    return {"closest_m": float(d[i]), "closest_at_s": float(t[i]), "end_m": float(d[-1]),
            "walked_m": float(np.sum(np.linalg.norm(np.diff(np.asarray(base)[:, :2], axis=0), axis=1)))}


def approach_summary(records: list[dict], run_dir) -> dict:
    """Per row and backend, medians over the trials with a saved trace (``files['log']``) of
    :func:`approach_of`: did the robot get to where the expert grasps from, and did it stop there?"""
    import json

    per: dict = defaultdict(list)
    for r in records:
        log = Path(run_dir) / r.get("files", {}).get("log", "-")
        if not log.is_file():
            continue
        with np.load(log) as z:
            per[(r["row"], r["backend"])].append(approach_of(z["trace_base"], z["trace_t"], json.loads(str(z["goals"]))["approach"]))
    out: dict = {}
    for (row, backend), vals in per.items():
        out.setdefault(row, {})[backend] = {"trials": len(vals), **{f"median_{k}": float(np.median([v[k] for v in vals]))
                                                                    for k in vals[0]}}
    return out
