"""The README's status table is generated from the committed metrics JSON: it must equal what
tools/readme_status.py makes from them today, so every number on the front page has a source."""

from pathlib import Path

from tool_helpers import load_tool

ROOT = Path(__file__).resolve().parents[2]


def _tool():
    return load_tool("readme_status")


def test_readme_status_table_matches_the_committed_json():
    tool = _tool()
    readme = (ROOT / "README.md").read_text()
    assert tool.BEGIN in readme and tool.END in readme
    start, end = readme.index(tool.BEGIN), readme.index(tool.END) + len(tool.END)
    assert readme[start:end] == tool.block(), "README status is stale: run python tools/readme_status.py --write"


def test_the_table_has_a_row_per_stage_with_its_notebook():
    rows = _tool().rows()
    assert len(rows) == 9 and all(r[3] for r in rows)
    assert {r[0].split(":")[0].split(" (")[0] for r in rows} >= {"Stage I", "Stage II", "Deployment runtime"}


def test_links_in_the_readme_resolve():
    import re

    readme = (ROOT / "README.md").read_text()
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme):
        if not target.startswith("http"):
            assert (ROOT / target).exists(), target


def test_the_expert_cell_reads_a_committed_expert_eval(monkeypatch):
    """With figures/10_expert_eval.json present the closed-loop row cites it (per backend, per task, falls);
    the fixture is a real 1-seed ``wbvla expert-eval --backends ideal_base lmo`` output."""
    tool = _tool()
    monkeypatch.setattr(tool, "EXPERT_EVAL", str(ROOT / "tests" / "unit" / "data" / "expert_eval_small.json"))
    cell = tool._expert_cell({"ideal_base": {"avg": 0.0}, "lmo": {"avg": 0.0}})
    assert cell.startswith("scripted expert 100 % on the ideal base (3 trials), 50 % on the physics LMO (bag packing 50 %, "
                           "box loading 0 %, cart pushing 100 %;")
    assert "fell" in cell and "expert_eval_small.json" in cell
    monkeypatch.setattr(tool, "EXPERT_EVAL", "figures/does_not_exist.json")
    assert tool._expert_cell({"ideal_base": {"avg": 1.0}, "lmo": {"avg": 0.0}}) == \
        "scripted expert 100 % on the ideal base, 0 % on the physics LMO"


def test_the_learned_cell_reads_the_committed_suite_summary(monkeypatch, tmp_path):
    tool = _tool()
    summary = {"table2": {"no_lam": {"ideal_base": {"subgoals": {"grasp_bags": [0, 10], "grab_handle": [3, 10]}, "avg": 0.15,
                                                    "avg_wilson95_pooled": [0.05, 0.3], "falls": {"k": 1}}},
                          "split:no_lam:legs": {"ideal_base": {"subgoals": {"grasp_bags": [0, 10], "grab_handle": [0, 10]}, "avg": 0.0,
                                                               "avg_wilson95_pooled": [0.0, 0.1], "falls": {"k": 0}}}},
               "config": {"trials_per_task": 10, "training": {"dataset_size": "demo"}}}
    monkeypatch.setattr(tool, "_j", lambda path: summary)
    monkeypatch.setattr(tool, "LEARNED_SUITES", (tool.LEARNED_SUITES[0],))  # one committed file
    summary["table2"]["extra:none_x_flags_abs_demo"] = {"ideal_base": {"subgoals": {"grasp_bags": [1, 10], "grab_handle": [0, 10]},
                                                                      "avg": 0.05, "avg_wilson95_pooled": [0.01, 0.2], "falls": {"k": 0}}}
    measured, state = tool._learned_cell()
    assert measured.startswith("learned policy driving everything (best of 2): no_lam, 15 % (95 % CI 5 %-30 %; grab handle 3/10, "
                               "other subgoals 0/10; 1 falls); ")
    assert "learned legs + expert arms (1 row): no_lam, 0 % (95 % CI 0 %-10 %; every subgoal 0/10; 0 falls)" in measured
    assert "no_lam abs" not in measured and "learned arms" not in measured  # only the best of each kind; no arms rows here
    assert state == "first subgoals, far below the 50 % goal"


def test_learned_row_labels_name_the_switches_and_dagger_rounds():
    short = _tool()._short
    run = "extra:none_pretrained-r100k_96x2.tower_128px_flags_abs_nosettle_offset"
    assert short(run, "nosettle_offset") == "no_lam abs"
    assert short(run + "_plus2_init", "nosettle_offset") == "no_lam abs, DAgger 2"
    assert short(run + "_plus0_init", "nosettle_offset") == "no_lam abs, continued from a trained policy"
    assert short("extra:none_pretrained-r100k_96x2.tower_128px_flags_nosettle_offset", "nosettle_offset") == "no_lam recipe"
    assert short("wholebodyvla", "nosettle_offset") == "wholebodyvla"
    whole = "extra:mani_loco_lam-tower_pool2_pretrained-r100k_96x2.tower_128px_flags_abs_nosettle_offset"
    assert short(whole, "nosettle_offset") == "WholeBodyVLA abs"
    assert short(whole + "_plus1_init", "nosettle_offset") == "WholeBodyVLA abs, DAgger 1"
    assert short("extra:shared_lam-pixel_x_flags_abs_demo", "demo") == "shared_lam abs"


def test_the_learned_cell_takes_the_best_row_across_the_committed_summaries(monkeypatch, tmp_path):
    tool = _tool()

    def cell(avg):
        return {"ideal_base": {"subgoals": {"grasp_bags": [round(20 * avg), 10], "grab_handle": [0, 10]}, "avg": avg,
                               "avg_wilson95_pooled": [0.0, 0.5], "falls": {"k": 0}}}

    files = {"a.json": {"table2": {"expert": cell(1.0), "extra:none_x_flags_abs_demo": cell(0.1)},
                        "config": {"trials_per_task": 10, "training": {"dataset_size": "demo"}}},
             "b.json": {"table2": {"extra:mani_loco_y_flags_abs_demo": cell(0.25)},
                        "config": {"trials_per_task": 10, "training": {"dataset_size": "demo"}}}}
    for name in files:
        (tmp_path / name).write_text("{}")
    monkeypatch.setattr(tool, "ROOT", tmp_path)
    monkeypatch.setattr(tool, "LEARNED_SUITES", ("a.json", "b.json", "missing.json"))
    monkeypatch.setattr(tool, "_j", lambda path: files[path])
    measured, _ = tool._learned_cell()
    assert measured.startswith("learned policy driving everything (best of 2): WholeBodyVLA abs, 25 %")  # the expert is no row
    assert "(every row: a.json, b.json)" in measured


def test_a_learned_row_run_with_temporal_ensembling_says_so(monkeypatch, tmp_path):
    tool = _tool()
    cell = {"ideal_base": {"subgoals": {"grasp_bags": [3, 10]}, "avg": 0.3, "avg_wilson95_pooled": [0.1, 0.6],
                           "falls": {"k": 0}}}
    files = {"te.json": {"table2": {"extra:none_x_flags_abs_demo": cell},
                         "config": {"trials_per_task": 10, "training": {"dataset_size": "demo"},
                                    "run": {"execution": {"chunk_execution": "temporal_ensemble"}}}}}
    (tmp_path / "te.json").write_text("{}")
    monkeypatch.setattr(tool, "ROOT", tmp_path)
    monkeypatch.setattr(tool, "LEARNED_SUITES", ("te.json",))
    monkeypatch.setattr(tool, "_j", lambda path: files[path])
    measured, _ = tool._learned_cell()
    assert measured.startswith("learned policy driving everything (1 row): no_lam abs, temporal ensemble, 30 %")


def test_the_lmo_yaw_clause_counts_the_primitives_below_the_velocity_baseline():
    tool = _tool()

    def row(yaws, falls):
        return {**{p: {"yaw_err": y} for p, y in zip(("forward", "lateral", "turning"), yaws, strict=True)},
                "falls": falls, "total_trials": 100}

    clause = tool._yaw_vs_velocity({"LMO": row((0.3, 0.2, None), 1), "velocity_baseline": row((0.1, 0.4, 0.5), 45)})
    assert clause == ("Yaw error LMO vs velocity baseline (45/100 fell): forward 0.30 vs 0.10, lateral 0.20 vs 0.40, "
                      "turning n/a rad; below it on 1 of 3 (goal 3). ")
    assert tool._yaw_vs_velocity({"LMO": row((0.1, 0.1, 0.1), 0)}) == ""
