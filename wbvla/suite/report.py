"""From trial records to the reported numbers: the Table 2 analog, the paper's orderings, the
Fig. 3 curves, the failure classification counts and the suite's cost.

Pure functions of record lists (:mod:`wbvla.suite.trials` ``record_of``), so the notebook and the
tests aggregate the same way.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from wbvla.data.teleop_schema import SUBGOALS, TASKS
from wbvla.paths import cache_dir
from wbvla.suite.config import PAPER_TABLE2, SCENE_CELLS, START_POSE_CELLS, SUITE_BACKENDS
from wbvla.suite.failures import LOCOMOTION_MODES, MANIPULATION_MODES, classify_failure
from wbvla.suite.run import plan_scaling, scaling_specs
from wbvla.suite.stats import aggregate_cell, gap_in_second_subgoals, rate, subgoal_names
from wbvla.suite.trace import TrialTrace
from wbvla.suite.trials import PolicySpec, TrialUnit, versions

PAPER_ORDER = ("wholebodyvla", "shared_lam", "manip_lam", "no_lam")
"""Table 2's ordering of the latent-learning ablations (78.0 > 66.0 > 63.3 > 39.3 %)."""


def table2(records: list[dict], rows: list[str], backends: tuple[str, ...] = SUITE_BACKENDS,
           tasks: tuple[str, ...] = TASKS, variation: str = "none") -> dict:
    """``rows[row][backend]`` = :func:`~wbvla.suite.stats.aggregate_cell` of that row's records
    under ``variation`` (only cells with records)."""
    out: dict[str, dict] = {}
    for row in rows:
        for backend in backends:
            recs = [r for r in records if r["row"] == row and r["backend"] == backend and r["variation"] == variation
                    and r["task"] in tasks]
            if recs:
                cell = aggregate_cell(recs, tasks)
                cell["backend_used"] = sorted({r["backend_used"] for r in recs})
                cell["model_id"] = sorted({r["model_id"] for r in recs})
                out.setdefault(row, {})[backend] = cell
    return out


def by_variation(records: list[dict], rows: list[str], backend: str = "ideal_base") -> dict:
    """Average score and completion of each row under each variation run (C.1 / C.2 conditions)."""
    out: dict[str, dict] = {}
    for row in rows:
        for var in sorted({r["variation"] for r in records}):
            recs = [r for r in records if r["row"] == row and r["backend"] == backend and r["variation"] == var]
            if recs:
                tasks = tuple(t for t in TASKS if any(r["task"] == t for r in recs))
                cell = aggregate_cell(recs, tasks)
                out.setdefault(row, {})[var] = {"tasks": list(tasks), "avg": cell["avg"], "subgoals": cell["subgoals"],
                                                "avg_wilson95_pooled": cell["avg_wilson95_pooled"], "falls": cell["falls"]}
    return out


def orderings(rows: dict) -> dict:
    """Whether the paper's orderings hold in each backend column: the latent-learning ablations
    (full > shared > manip-only > w/o LAM, strict, on the average score) and LMO > velocity RL
    (the ``lmo`` column; with the share of the gap in the second subgoals, paper 91.7 %)."""
    out: dict[str, dict] = {}
    for backend in SUITE_BACKENDS:
        avg = {r: rows[r][backend]["avg"] for r in PAPER_ORDER if r in rows and backend in rows[r]}
        res: dict = {"avg": avg}
        if len(avg) == len(PAPER_ORDER):
            seq = [avg[r] for r in PAPER_ORDER]
            res["latent_order_holds"] = all(a > b for a, b in zip(seq, seq[1:], strict=False))
            res["pairs"] = {f"{a} > {b}": avg[a] > avg[b] for a, b in zip(PAPER_ORDER, PAPER_ORDER[1:], strict=False)}
            res["full_minus_no_lam"] = avg["wholebodyvla"] - avg["no_lam"]
        if "wholebodyvla" in rows and "velocity_rl" in rows and backend in rows["wholebodyvla"] and backend in rows["velocity_rl"]:
            full, vel = rows["wholebodyvla"][backend], rows["velocity_rl"][backend]
            gap = gap_in_second_subgoals(full, vel)
            res["lmo_vs_velocity_rl"] = {"holds": full["avg"] > vel["avg"], **gap}
        out[backend] = res
    return out


def paper_table2() -> dict:
    """The paper's rows in the same layout (successes / 25, avg)."""
    out = {}
    for row, counts in PAPER_TABLE2.items():
        out[row] = {"subgoals": {s: [k, 25] for s, k in counts.items()}, "avg": float(np.mean([k / 25 for k in counts.values()]))}
    return out


def failure_summary(records: list[dict]) -> dict:
    """``{row: {backend: {"trials", "failed", "stage": {stage: n}, "mode": {mode: n}, "by_subgoal": ...}}}``."""
    out: dict = defaultdict(dict)
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in records:
        groups[(r["row"], r["backend"])].append(r)
    for (row, backend), recs in groups.items():
        failed = [r["failure"] for r in recs if r["failure"]["mode"] is not None]
        modes = Counter(f["mode"] for f in failed)
        out[row][backend] = {
            "trials": len(recs), "failed": len(failed),
            "stage": dict(Counter(f["stage"] for f in failed)),
            "mode": {m: modes.get(m, 0) for m in (*LOCOMOTION_MODES, *MANIPULATION_MODES, "other") if modes.get(m, 0)},
            "by_task": {t: dict(Counter(r["failure"]["mode"] for r in recs if r["task"] == t and r["failure"]["mode"]))
                        for t in TASKS if any(r["task"] == t for r in recs)},
        }
    return dict(out)


def reclassify(records: list[dict], run_dir, thresholds=None) -> list[dict]:
    """Copies of ``records`` whose ``failure`` is recomputed by the current rules of
    :mod:`wbvla.suite.failures` from each trial's saved trace (``files['log']`` under ``run_dir``),
    so a rule fix applies to stored trials without running them again. ``failure_from`` says
    ``log`` (recomputed) or ``record`` (no log: the stored verdict kept)."""
    import json
    from pathlib import Path

    out = []
    for r in records:
        log = Path(run_dir) / r.get("files", {}).get("log", "-")
        if not log.is_file():
            out.append({**r, "failure_from": "record"})
            continue
        with np.load(log) as z:
            arrays = {k[len("trace_"):]: z[k] for k in z.files if k.startswith("trace_")}
            goals = json.loads(str(z["goals"]))
        trace = TrialTrace.from_arrays(r["task"], arrays, goals)
        failure = classify_failure(trace, tuple(r["success"]), tuple(r["subgoal_times"]), bool(r["fell"]), thresholds)
        out.append({**r, "failure": failure, "failure_from": "log"})
    return out


def cost(records: list[dict], sessions: list[dict]) -> dict:
    """Wall time and closed-loop speed: sessions' wall time, seconds per trial per task per
    row/backend, 50 Hz control steps per second (all trials pooled and per backend), and the CPU
    seconds the trials used (load-independent; / 2 = the wall time of the same work on two
    otherwise idle cores, an estimate that ignores start-up)."""
    per: dict = defaultdict(dict)
    for (row, backend, task), recs in _group(records, ("row", "backend", "task")).items():
        per[f"{row}/{backend}"][task] = round(float(np.mean([r["unit_wall_s"] for r in recs])), 2)
    steps = {b: _steps_per_s([r for r in records if r["backend"] == b]) for b in SUITE_BACKENDS}
    cpu = [r["unit_cpu_s"] for r in records if "unit_cpu_s" in r]
    return {
        "trial_cpu_s_total": round(sum(cpu), 1) if cpu else None,
        "trials_with_cpu_time": len(cpu),
        "estimated_wall_s_dedicated_2_cores": round(sum(cpu) / 2, 1) if cpu else None,
        "sessions_wall_s": round(sum(s.get("wall_s", 0.0) for s in sessions), 1),
        "sessions": sessions,
        "trials": len(records),
        "trial_wall_s_total": round(sum(r["unit_wall_s"] for r in records), 1),
        "simulated_s_total": round(sum(r["duration_s"] for r in records), 1),
        "seconds_per_trial": dict(per),
        "control_steps_per_s": {"all": _steps_per_s(records), **{b: v for b, v in steps.items() if v is not None}},
    }


def _steps_per_s(records: list[dict]) -> float | None:
    wall = sum(r["wall_s"] for r in records)
    return round(sum(r["ticks"] for r in records) * 5 / wall, 1) if wall > 0 else None


def _group(records: list[dict], keys: tuple[str, ...]) -> dict:
    out: dict = defaultdict(list)
    for r in records:
        out[tuple(r[k] for k in keys)].append(r)
    return out


def scaling_curves(records: list[dict], human_fractions, robot_fractions, demos, start_pose_cells=None,
                   scene_cells=None) -> dict:
    """Fig. 3 analog: ``{group: {fraction: {demos: rate}}}`` where a point's rate pools the subgoal
    outcomes of all its trials (= the average subgoal score, each subgoal having the same number of
    trials) with its Wilson interval; ``group`` is ``start_pose`` (human video fraction) or ``scene``
    (robot video fraction)."""
    cells = {"start_pose": set(start_pose_cells or START_POSE_CELLS), "scene": set(scene_cells or SCENE_CELLS)}
    out: dict = {"start_pose": {}, "scene": {}}
    for group, f, d, label in _grid_points(human_fractions, robot_fractions, demos):
        recs = [r for r in records if r["row"] == label and (r["task"], r["variation"]) in cells[group]]
        if not recs:
            continue
        k = sum(sum(map(bool, r["success"])) for r in recs)
        n = sum(len(r["success"]) for r in recs)
        point = rate(k, n)
        point["trials"] = len(recs)
        point["completed"] = rate(sum(all(r["success"]) for r in recs), len(recs))
        out[group].setdefault(f"{f:g}", {})[str(d)] = point
    return out


def _grid_points(human_fractions, robot_fractions, demos):
    """(group, fraction, demos, model label) of every point of the Fig. 3 grid: the human video
    fractions (robot 100 %) on ``start_pose``, the robot fractions (human 100 %) on ``scene``."""
    for group, fractions in (("start_pose", human_fractions), ("scene", robot_fractions)):
        for f in fractions:
            h, rb = (f, 1.0) if group == "start_pose" else (1.0, f)
            for d in demos:
                yield group, f, d, f"h{h:g}_r{rb:g}_d{d}"


SCALING_OPEN_LOOP_METRICS = {
    "flag_accuracy": "held-out flag accuracy (mean of s_x, s_y, s_yaw)",
    "arm_l1_rad": "held-out arm L1 (rad, whole chunk)",
    "latent_top1": "held-out latent top-1 (Eq. 1 codes)",
}
"""The open-loop Stage III metrics :func:`scaling_open_loop` reports per grid model."""


def scaling_open_loop(folders: dict[str, str | None], human_fractions, robot_fractions, demos) -> dict:
    """The Fig. 3 grid seen open loop: ``{group: {fraction: {demos: {metric: value}}}}`` for the
    models of ``folders`` (label ``h{h}_r{r}_d{d}`` -> policy folder) that are trained, with the
    :data:`SCALING_OPEN_LOOP_METRICS` of their last validation on the held-out teleoperation
    episodes (the same episodes for every model: ``max_demos_per_task`` only thins the training
    split). ``flag_accuracy`` is the mean over the three axes. A model without a log is left out."""
    out: dict = {"start_pose": {}, "scene": {}}
    for group, f, d, label in _grid_points(human_fractions, robot_fractions, demos):
        folder = folders.get(label)
        held = (open_loop_metrics(folder) or {}).get("heldout") if folder else None
        if not held:
            continue
        out[group].setdefault(f"{f:g}", {})[str(d)] = {
            "flag_accuracy": float(np.mean([held[f"flag_accuracy_{a}"] for a in ("x", "y", "yaw")])),
            "arm_l1_rad": held["arm_l1_rad"], "latent_top1": held.get("latent_top1"), "frames": held.get("frames")}
    return out


def scaling_cost_estimate(config, done_models: set[str], done_pretrains: set[str], done_trials: int,
                          stage2_s_per_step: float, stage3_s_per_step: float, trial_cpu_s: float) -> dict:
    """What the Fig. 3 grid of ``config`` (:class:`~wbvla.suite.config.ScalingConfig`) still needs and
    what it would cost in one process at the measured rates: the distinct Stage II runs (named by their video
    fractions) and Stage III models (labels) of the grid, minus those done, times their steps and
    the measured seconds per step, plus the missing trials times the measured CPU seconds per trial."""
    specs = list({s.label: s for _, s in scaling_specs(config)}.values())
    pretrains = {f"h{s.human_video_fraction:g}_r{s.robot_video_fraction:g}" for s in specs}
    trials = len(plan_scaling(config, {s.label: "planned" for s in specs}))
    todo = {"stage2_runs": len(pretrains - set(done_pretrains)), "stage3_runs": len({s.label for s in specs} - set(done_models)),
            "trials": max(trials - done_trials, 0)}
    seconds = {"stage2": todo["stage2_runs"] * config.training.pretrain_steps * stage2_s_per_step,
               "stage3": todo["stage3_runs"] * config.training.finetune_steps * stage3_s_per_step,
               "trials": todo["trials"] * trial_cpu_s}
    return {"planned": {"stage2_runs": len(pretrains), "stage3_runs": len(specs), "trials": trials}, "missing": todo,
            "rates": {"stage2_s_per_step": stage2_s_per_step, "stage3_s_per_step": stage3_s_per_step, "trial_cpu_s": trial_cpu_s},
            "one_process_s": {k: round(v, 1) for k, v in seconds.items()} | {"total": round(sum(seconds.values()), 1)}}


def training_rates(runs_root) -> dict | None:
    """Measured wall seconds per optimizer step of Stage II (``pretrain/*``) and Stage III
    (``finetune/*``) over every call recorded in the runs' ``train_log.json`` under ``runs_root``
    (sum of wall time / sum of steps), with the load averages those calls ended at; None when a
    stage has no log."""
    import json
    from pathlib import Path

    out: dict = {}
    for stage, sub in (("stage2", "pretrain"), ("stage3", "finetune")):
        calls = [c for log in sorted(Path(runs_root).glob(f"{sub}/*/train_log.json")) for c in json.loads(log.read_text())
                 if c.get("steps")]
        if not calls:
            return None
        out[f"{stage}_s_per_step"] = round(sum(c["wall_s"] for c in calls) / sum(c["steps"] for c in calls), 3)
        out[f"{stage}_load_avg_at_end"] = [c.get("load_avg_1min_at_end") for c in calls]
    return out


def version_summary(records: list[dict]) -> dict:
    """Which code / policy versions the records were produced with, and how many match today's
    (:func:`wbvla.suite.trials.versions`); stale trials are listed by count, never hidden."""
    seen: Counter = Counter()
    stale = 0
    cache: dict = {}
    for r in records:
        v = r.get("versions") or {}
        seen[json_key(v)] += 1
        spec = PolicySpec(**r["policy"])
        k = (spec.variant, r["backend"])
        if k not in cache:
            cache[k] = versions(TrialUnit(spec, r["model_id"], r["backend"], r["task"], r["variation"], r["seed"]))
        stale += int(v != cache[k])
    return {"versions": dict(seen), "stale_trials": stale, "trials": len(records)}


def json_key(d: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(d.items()))


def open_loop_metrics(folder) -> dict | None:
    """A trained policy's provenance and its last held-out (open-loop) Stage III metrics: flag
    accuracy per axis, arm / gripper L1, h* error, latent top-1 (from the run's Lightning CSV
    log next to the policy folder, or, for the shipped policy, the cached run it names)."""
    import csv
    import json
    from pathlib import Path

    folder = Path(folder)
    meta_path = folder / "policy.json"
    if not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text())
    out = {k: meta.get(k) for k in ("model_id", "lam_variant", "command_kind", "use_state", "steps", "train_episodes",
                                    "train_frames", "human_video_fraction", "robot_video_fraction", "max_demos_per_task")}
    runs = [folder.parent] + sorted(cache_dir().glob(f"vla_runs/*/finetune/{meta.get('run', '?')}"))
    for run in runs:
        logs = sorted((run / "logs").glob("version_*/metrics.csv"))
        if not logs:
            continue
        with open(logs[-1]) as f:
            vals = [r for r in csv.DictReader(f) if r.get("val/frames")]
        if vals:
            out["heldout"] = {k[4:]: float(v) for k, v in vals[-1].items() if k.startswith("val/") and v not in ("", None)}
            out["heldout_from"] = str(logs[-1])
            break
    return out


def latent_command_association(records: list[dict], run_dir, lam: str = "loco") -> dict | None:
    """How much the locomotion command the VLA sent depends on the latent code it chose, over every
    tick of the given trials (their saved logs): normalized mutual information
    NMI = I(code; flags) / H(flags) in [0, 1] (0: the flags tell nothing about the code, 1: the code
    determines the flags), plus the ticks and codes seen. None without logs or latents."""
    import json
    from pathlib import Path

    codes, flags = [], []
    for r in records:
        log = r.get("files", {}).get("log")
        if not log or not (Path(run_dir) / log).is_file():
            continue
        with np.load(Path(run_dir) / log) as z:
            lat = json.loads(str(z["latents"]))
            cmd = z["runner_command"][:, :3]
        for tick, c in zip(lat, cmd, strict=False):
            if lam in tick:
                codes.append(int(tick[lam][0]))
                flags.append(tuple(int(v) for v in np.sign(np.round(c))))
    if not codes:
        return None
    return {"nmi": normalized_mutual_information(codes, flags), "ticks": len(codes), "codes_used": len(set(codes)),
            "flag_patterns": len(set(flags))}


def normalized_mutual_information(x: list, y: list) -> float:
    """I(X; Y) / H(Y) of two paired discrete sequences (0 when Y is constant)."""
    n = len(x)
    joint = Counter(zip(x, y, strict=True))
    px, py = Counter(x), Counter(y)
    h_y = -sum(c / n * np.log(c / n) for c in py.values())
    if h_y <= 0:
        return 0.0
    mi = sum(c / n * np.log((c / n) / (px[a] / n * py[b] / n)) for (a, b), c in joint.items())
    return float(mi / h_y)


def table2_lines(rows: dict, backend: str) -> list[str]:
    """Markdown lines of one backend column of the Table 2 analog (successes / trials, avg, CI)."""
    names = subgoal_names()
    head = "| row | " + " | ".join(names) + " | avg | 95 % CI (pooled) | falls |"
    lines = [head, "|" + " --- |" * (len(names) + 4)]
    for row, cells in rows.items():
        if backend not in cells:
            continue
        c = cells[backend]
        sub = " | ".join(f"{c['subgoals'][s][0]}/{c['subgoals'][s][1]}" if c["subgoals"][s][1] else "-" for s in names)
        lo, hi = c["avg_wilson95_pooled"]
        lines.append(f"| {row} | {sub} | {100 * c['avg']:.1f} % | {100 * lo:.0f}-{100 * hi:.0f} % | "
                     f"{c['falls']['k']}/{c['falls']['n']} |")
    return lines


__all__ = ["PAPER_ORDER", "SUBGOALS", "by_variation", "cost", "failure_summary", "latent_command_association",
           "normalized_mutual_information", "open_loop_metrics", "version_summary", "orderings", "paper_table2", "reclassify",
           "SCALING_OPEN_LOOP_METRICS", "scaling_cost_estimate", "scaling_open_loop", "training_rates",
           "scaling_curves", "table2", "table2_lines"]
