"""The README's status table, generated from the committed metrics JSON (never typed by hand).

    python tools/readme_status.py          # print the table
    python tools/readme_status.py --write  # replace the block between the status markers in README.md

``tests/unit/test_readme_status.py`` fails when README.md's block differs from what this script makes
from the committed JSON, so every number on the front page is one a committed run produced.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- status:begin (tools/readme_status.py) -->", "<!-- status:end -->"


def _j(path: str) -> dict:
    return json.loads((ROOT / path).read_text())


def _pct(x: float) -> str:
    return f"{100 * x:.0f} %"


def _lmo_plan_cell() -> str:
    """The CPU plan in one clause: runs, env steps and hours so far, and the run training now (the per-run
    record is in ``python -m wbvla.lmo.cpu.plan status`` and docs/details.md)."""
    plan = ROOT / "data" / "lmo" / "cpu_plan" / "plan.json"
    if not plan.exists():
        return "CPU plan not started"
    rows = [r for r in json.loads(plan.read_text())["status"] if r["env_steps"] > 0]
    if not rows:
        return "CPU plan: nothing trained"
    now = next((r for r in rows if not r["done"]), None)
    return (f"CPU plan so far: {len(rows)} runs, {sum(r['env_steps'] for r in rows) / 1e6:.0f} M env steps in "
            f"{sum(r['wall_s'] for r in rows) / 3600:.1f} h on one core"
            + (f" (training now: {now['step']}, {now['env_steps'] / 1e6:.1f} of {now['budget'] / 1e6:.0f} M)" if now else ""))


def _yaw_vs_velocity(lmo: dict) -> str:
    """Table 3's claim in one clause: the full LMO's yaw error against the velocity baseline's on each
    primitive (errors over the trials that stayed up; "" when notebook 09 has no velocity row)."""
    if "velocity_baseline" not in lmo or "LMO" not in lmo:
        return ""
    prims = ("forward", "lateral", "turning")
    pairs = [(lmo["LMO"][p]["yaw_err"], lmo["velocity_baseline"][p]["yaw_err"]) for p in prims]
    below = sum(a is not None and b is not None and a < b for a, b in pairs)
    each = ", ".join(f"{p} {a:.2f} vs {b:.2f}" if a is not None and b is not None else f"{p} n/a"
                     for p, (a, b) in zip(prims, pairs, strict=True))
    v = lmo["velocity_baseline"]
    return (f"Yaw error LMO vs velocity baseline ({v['falls']}/{v['total_trials']} fell): {each} rad; below it on "
            f"{below} of 3 (goal 3). ")


EXPERT_EVAL = "figures/10_expert_eval.json"
"""``wbvla expert-eval --output figures/10_expert_eval.json``: the scripted expert on both backends with
the shipped LMO, newer than the suite run behind ``10_task_suite.json`` when present."""


def _expert_cell(suite_expert: dict) -> str:
    """The scripted expert's average subgoal score per backend: from :data:`EXPERT_EVAL` if committed,
    else from the suite run's expert row."""
    if not (ROOT / EXPERT_EVAL).exists():
        return (f"scripted expert {_pct(suite_expert['ideal_base']['avg'])} on the ideal base, "
                f"{_pct(suite_expert['lmo']['avg'])} on the physics LMO")
    ev = _j(EXPERT_EVAL)["results"]
    n = {b: sum(v["trials"] for k, v in ev[b].items() if k != "average_score") for b in ev}
    falls = sum(v["falls"] for k, v in ev["lmo"].items() if k != "average_score")
    per_task = ", ".join(f"{t.replace('_', ' ')} {_pct(v['score'])}" for t, v in ev["lmo"].items() if t != "average_score")
    return (f"scripted expert {_pct(ev['ideal_base']['average_score'])} on the ideal base ({n['ideal_base']} trials), "
            f"{_pct(ev['lmo']['average_score'])} on the physics LMO ({per_task}; {falls}/{n['lmo']} fell; {EXPERT_EVAL})")


LEARNED_SUITES = ("data/vla/diagnostics/suite_i20_nosettle_offset_no_lam.json",
                  "data/vla/diagnostics/suite_i20_nosettle_offset_wholebodyvla.json",
                  "data/vla/diagnostics/suite_i20_nosettle_offset_wholebodyvla_te.json",
                  "data/vla/diagnostics/suite_i20_nosettle_offset_wholebodyvla_dagger2.json",
                  "data/vla/diagnostics/suite_i20_nosettle_offset_wholebodyvla_fb.json",
                  "data/vla/diagnostics/suite_i20_nosettle_offset_wholebodyvla_loc.json")
"""``tools/suite_summary.py --write`` of issue 20's closed-loop runs of learned rows on one recipe (10 held-out
seeds per task on the ideal base; the full Table 2 re-run is still to come); the ones committed are read."""
LAM_PREFIXES = {"none_": "no_lam", "mani_loco_": "WholeBodyVLA", "shared_": "shared_lam", "mani_": "mani_lam"}
"""A Stage III run name's first part (its Stage I LAMs) -> the Table 2 row it trains."""


def _short(row: str, dataset: str = "") -> str:
    """A row label for the table: ``extra:<Stage III run>`` -> ``no_lam <what the run name adds after the
    command kind>`` without the suite's dataset (printed once), ``_plus<k>_init`` (initialized from a
    policy, trained on k extra roots: what DAgger round k trains) as ``DAgger <k>`` (k = 0: more
    steps on the same data, ``continued from a trained policy``); e.g.
    ``no_lam abs, DAgger 1``; Table 2 rows unchanged."""
    if not row.startswith("extra:"):
        return row
    run = row[len("extra:"):]
    tail = run.split("_flags_", 1)[1] if "_flags_" in run else run
    rounds = re.search(r"_plus(\d+)_init$", tail)
    if rounds:
        tail = tail[:rounds.start()]
    if dataset and tail.endswith(dataset):
        tail = tail[:-len(dataset)].rstrip("_")
    lams = next((name for prefix, name in LAM_PREFIXES.items() if run.startswith(prefix)), "")
    label = " ".join(x for x in (lams, tail or "recipe") if x)
    if not rounds:
        return label
    k = int(rounds.group(1))
    return label + (f", DAgger {k}" if k else ", continued from a trained policy")


def _row_result(c: dict) -> str:
    """``10 % (95 % CI 5 %-20 %; grab handle 3/10, other subgoals 0/10; 1 falls)`` of one suite cell."""
    hits = [f"{k.replace('_', ' ')} {v[0]}/{v[1]}" for k, v in c["subgoals"].items() if v[0]]
    n = next(iter(c["subgoals"].values()))[1]
    subs = (", ".join(hits) + (f", other subgoals 0/{n}" if len(hits) < len(c["subgoals"]) else "")) if hits else f"every subgoal 0/{n}"
    lo, hi = c["avg_wilson95_pooled"]
    return f"{_pct(c['avg'])} (95 % CI {_pct(lo)}-{_pct(hi)}; {subs}; {c['falls']['k']} falls)"


def _learned_cell() -> tuple[str, str]:
    """(measured, state) of the committed :data:`LEARNED_SUITES`: the best learned row driving everything, the
    best with only its arms (the expert's legs) and with only its legs (the expert's arms); every row is in the
    files (runs of one recipe: the same seeds, trials and data)."""
    files = [f for f in LEARNED_SUITES if (ROOT / f).exists()]
    summaries = [_j(f) for f in files]
    config = summaries[0]["config"]  # one recipe: the same seeds, trials and data in every file
    dataset = config.get("training", {}).get("dataset_size", "")
    kinds: dict[str, list[tuple[str, dict]]] = {"": [], "arms": [], "legs": []}
    for s in summaries:
        execution = s["config"].get("run", {}).get("execution", {}).get("chunk_execution", "chunk")
        mode = "" if execution == "chunk" else f", {execution.replace('_', ' ')}"  # the chunks' execution, when not the default
        for row, cells in s["table2"].items():
            if row == "expert":
                continue  # the ceiling, reported in the row above
            if row.startswith("split:"):  # split:<row>:<part>: the learner drives only <part>, the expert the rest
                learner, part = row[len("split:"):].rsplit(":", 1)
                kinds[part].append((_short(learner, dataset) + mode, cells["ideal_base"]))
            else:
                kinds[""].append((_short(row, dataset) + mode, cells["ideal_base"]))
    what = {"": "learned policy driving everything", "arms": "learned arms + expert legs", "legs": "learned legs + expert arms"}
    parts = []
    for kind, found in kinds.items():
        if found:
            label, cell = max(found, key=lambda x: x[1]["avg"])  # the first of equals
            of = f"best of {len(found)}" if len(found) > 1 else "1 row"
            parts.append(f"{what[kind]} ({of}): {label}, {_row_result(cell)}")
    best = max((c["avg"] for _, c in kinds[""]), default=0.0)
    return (f"{'; '.join(parts)}; ideal base, {config.get('trials_per_task')} held-out seeds per task, data "
            f"`{dataset}` (every row: {', '.join(files)})",
            "first subgoals, far below the 50 % goal" if best > 0 else "learned policies 0 %")


TOWER_LAMS = "tower_pool2"
"""The feature-space tag of the LAMs on the shipped vision tower (``figures/03_rrg_<tag>.json``, ``04_...``)."""


def _table9(r: dict) -> str:
    rm, t = r["rrg_split_mean"], r["targets"]
    return (f"RRG manipulation LAM on manipulation {_pct(rm['mani']['manipulation'])}, locomotion LAM on locomotion "
            f"{_pct(rm['loco']['locomotion'])}; separate above shared: loco {'yes' if t['loco_above_shared_on_locomotion'] else 'no'} "
            f"({_pct(rm['loco']['locomotion'])} vs {_pct(rm['shared']['locomotion'])}), mani "
            f"{'yes' if t['mani_above_shared_on_manipulation'] else 'no'} ({_pct(rm['mani']['manipulation'])} vs "
            f"{_pct(rm['shared']['manipulation'])})")


def _on_tower(name: str) -> dict | None:
    """A notebook's metrics for the LAMs on the shipped tower's features, when committed."""
    path = ROOT / "figures" / f"{name}_{TOWER_LAMS}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _lam_cells(r: dict, ret: dict) -> tuple[tuple[str, str], tuple[str, str]]:
    """(measured, state) of the Table 9 and the retrieval rows: pixel-space LAMs (the default), then the same
    LAMs on the shipped tower's features where notebooks 03 / 04 were run with FEATURE_SPACE="tower"."""
    rt, rett = _on_tower("03_rrg"), _on_tower("04_latent_retrieval")
    orderings = [all(x["targets"][k] for k in ("loco_above_shared_on_locomotion", "mani_above_shared_on_manipulation"))
                 for x in (r, rt) if x is not None]
    t9 = f"pixel patches (default): {_table9(r)}" + (f"; on the vision tower's features: {_table9(rt)}" if rt else "")
    t9 += " (paper 15-31 %)"
    state9 = "works" if orderings[-1] else "works, one ordering missed"
    if rt is not None and orderings[-1] and not orderings[0]:
        state9 = "works; both orderings on tower features"

    def retrieval(x: dict) -> str:
        return f"purity {x['purity']:.2f} (goal 0.7), cross-domain agreement {x['cross_domain_agreement']:.2f} (goal 0.6)"

    rt_cell = f"pixel patches: {retrieval(ret)}" + (f"; tower features: {retrieval(rett)}" if rett else "")
    met = any(all(x["targets"].values()) for x in (ret, rett) if x is not None)
    return (t9, state9), (rt_cell, "meets goal" if met else "below goal")


def rows() -> list[tuple[str, str, str, str]]:
    """(stage, what was measured, state, notebook) per row."""
    w, r, ret = _j("figures/01_simulated_world.json"), _j("figures/03_rrg.json"), _j("figures/04_latent_retrieval.json")
    pre, fin, lmo = _j("figures/05_vla_pretraining.json"), _j("figures/06_vla_finetuning.json"), _j("figures/09_lmo_evaluation.json")
    suite, dep = _j("figures/10_task_suite.json"), _j("figures/11_deployment.json")
    table9, retrieval = _lam_cells(r, ret)
    expert, full = suite["rows"]["expert"], suite["rows"]["wholebodyvla"]
    def b4(name: str) -> str:
        L = lmo[name]
        fw, walks = L["forward"], L.get("first_walking", {}).get("walks", False)
        moved = fw.get("by_sign", {}).get("+", {}).get("moved")
        return (f"{L['falls']}/{L['total_trials']} App. B.4 trials fell, locomotion {sum(L[p]['falls'] for p in ('forward', 'lateral', 'turning'))}/"
                f"{sum(L[p]['trials'] for p in ('forward', 'lateral', 'turning'))}"
                + (f"; position error forward {fw['pos_err']:.2f} m, lateral {L['lateral']['pos_err']:.2f} m, turning yaw "
                   f"{L['turning']['yaw_err']:.2f} rad; forward +0.3 m/s for 5 s moved {moved:.2f} m" if moved is not None else "")
                + f"; first walking: {'yes' if walks else 'no'}")
    walks = any(lmo[n].get("first_walking", {}).get("walks", False) for n in ("LMO", "LMO_no_stage2") if n in lmo)
    moves = "LMO_no_stage2" in lmo and lmo["LMO_no_stage2"]["forward"].get("by_sign", {}).get("+", {}).get("moved")
    lmo_cell = (f"Stage I (w/o Stage II row): {b4('LMO_no_stage2')}. Full LMO: {b4('LMO')}. {_lmo_plan_cell()}. "
                f"{_yaw_vs_velocity(lmo)}First walking = 0 falls in 20 trials per primitive, error <= 0.5 m / 0.5 rad"
                if "LMO_no_stage2" in lmo else f"LMO: {b4('LMO')}; {_lmo_plan_cell()}")
    return [
        ("Simulated X2 + scenes", f"{w['n_actuated_joints']} actuated joints, official limits: "
         f"{'yes' if w['joint_limits_match_official'] else 'no'}; PD hold drift {1000 * w['pd_hold_max_base_height_deviation_m']:.1f} mm over "
         f"{w['pd_hold_seconds']:.0f} s", "works", "01"),
        ("Stage I: latent action models (Table 9)", *table9, "02-03"),
        ("Latent retrieval (Fig. 8)", *retrieval, "04"),
        ("Stage II: VLA pretraining (Eq. 1)", f"held-out top-1 mani {pre['heldout_top1']['mani']:.2f} (majority "
         f"{pre['majority_top1']['mani']:.2f}), loco {pre['heldout_top1']['loco']:.2f} (majority {pre['majority_top1']['loco']:.2f})",
         "barely above majority", "05"),
        ("Stage III: fine-tuning, open loop", f"arm L1 {fin['arm_l1_rad']:.3f} rad (hold pose {fin['baselines']['arm_l1_rad_hold_pose']:.3f}); "
         f"forward flag accuracy {fin['flag_accuracy']['x']:.2f} (majority {fin['baselines']['flag_accuracy_majority']['x']:.2f})",
         "learns, imprecise", "06"),
        ("LMO under physics (Table 3)", lmo_cell, "walks" if walks else ("walks forward and sideways, overturns; "
                                                                          "not yet steady under arm motion" if moves else
                                                                          "does not walk yet"), "07-09"),
        ("Closed loop, task suite (Table 2)", f"{_expert_cell(expert)}; learned WholeBodyVLA row {_pct(full['ideal_base']['avg'])} / "
         f"{_pct(full['lmo']['avg'])} ({full['ideal_base']['trials']} trials each; paper {_pct(suite['paper_table2']['wholebodyvla']['avg'])}); "
         "measured before the ideal base respected contact",
         "learned policies 0 %" if full["ideal_base"]["avg"] == 0 else "learned policies complete subgoals", "10"),
        ("Closed loop, newest learned row (issue 20)", *_learned_cell(), "10"),
        ("Deployment runtime", f"50 Hz loop period p99 {dep['loop_period_ms']['p99']:.1f} ms; robot stands "
         f"{dep['server_drop']['stand_latency_ms']:.0f} ms after the VLA server drops", "works", "11"),
    ]


def table() -> str:
    lines = ["| stage | measured (committed JSON) | state | notebook |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows()]
    return "\n".join(lines)


def block() -> str:
    return f"{BEGIN}\n{table()}\n{END}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--write", action="store_true")
    a = p.parse_args()
    if not a.write:
        print(table())
        return
    readme = ROOT / "README.md"
    text = readme.read_text()
    start, end = text.index(BEGIN), text.index(END) + len(END)
    readme.write_text(text[:start] + block() + text[end:])


if __name__ == "__main__":
    main()
