"""Suite planning (same seeds for every row, videos, the Fig. 3 grid), the worker path on short
expert trials (records, logs, videos, resume), missing policies, the per-tick trace."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from wbvla.suite.config import ROWS, RunSettings, ScalingConfig, SuiteConfig
from wbvla.suite.run import plan_scaling, plan_suite, run_suite, scaling_specs
from wbvla.suite.trials import backend_for, row_spec


def test_plan_suite_uses_the_same_seeds_for_every_row_and_backend():
    cfg = SuiteConfig(rows=("expert", "wholebodyvla"), tasks=("cart_pushing", "bag_packing"), trials_per_task=3)
    units = plan_suite(cfg, {"expert": "e", "wholebodyvla": "w"})
    assert len(units) == 2 * 2 * 2 * 3 and len({u.key for u in units}) == len(units)
    seeds = {(u.policy.label, u.backend, u.task): sorted(v.seed for v in units if (v.policy.label, v.backend, v.task) ==
                                                         (u.policy.label, u.backend, u.task)) for u in units}
    assert len({tuple(s) for s in seeds.values()}) == 1 and min(u.seed for u in units) == 1_000_000
    assert sum(u.video for u in units) == 2 * 2  # first seed of each row and task, ideal base only
    assert all(u.backend == "ideal_base" and u.seed == 1_000_000 for u in units if u.video)
    # a row without a model id (not trained, skipped) gets no units
    assert {u.policy.label for u in plan_suite(cfg, {"expert": "e"})} == {"expert"}


def test_execution_mode_is_in_the_key_unless_chunk():
    from wbvla.control.config import ExecutionConfig

    cfg = SuiteConfig(rows=("expert",), tasks=("cart_pushing",), trials_per_task=2)
    chunk = plan_suite(cfg, {"expert": "e"})
    assert all(len(u.key.split("|")) == 7 and u.execution == "chunk" for u in chunk)  # the keys before the switch
    ens = plan_suite(replace(cfg, run=RunSettings(execution=ExecutionConfig("temporal_ensemble", 0.2))), {"expert": "e"})
    assert [u.key for u in ens] == [f"{u.key}|temporal_ensemble:m=0.2" for u in chunk]  # never mixed with chunk records


def test_extra_policies_run_as_labelled_rows_on_the_same_seeds(tmp_path):
    import json

    from wbvla.suite.run import extra_specs

    folder = tmp_path / "round" / "run" / "policy"
    folder.mkdir(parents=True)
    (folder / "policy.json").write_text(json.dumps({"model_id": "d", "run": "mani_loco_tiny_flags_full_plus1_init",
                                                    "lam_variant": "mani_loco", "command_kind": "flags", "use_state": True}))
    cfg = SuiteConfig(rows=("expert",), backends=("ideal_base",), tasks=("cart_pushing",), trials_per_task=2,
                      extra_policies=(folder,))
    (spec,) = extra_specs(cfg)
    assert spec.label == "extra:mani_loco_tiny_flags_full_plus1_init" and spec.variant == "wholebodyvla"
    assert spec.folder == str(folder)
    units = plan_suite(cfg, {"expert": "e", spec.label: "d"})
    by_row = {label: sorted(u.seed for u in units if u.policy.label == label) for label in ("expert", spec.label)}
    assert by_row["expert"] == by_row[spec.label] == [1_000_000, 1_000_001]
    with pytest.raises(ValueError, match="policy.json"):
        SuiteConfig(extra_policies=(tmp_path,))


def test_plan_suite_variations_only_where_they_apply():
    cfg = SuiteConfig(rows=("expert",), backends=("ideal_base",), variations=("none", "barbell_plates"), trials_per_task=1)
    units = plan_suite(cfg, {"expert": "e"})
    assert sorted((u.task, u.variation) for u in units) == [("bag_packing", "none"), ("box_loading", "none"),
                                                            ("cart_pushing", "barbell_plates"), ("cart_pushing", "none")]


def test_scaling_grid_shares_the_full_video_models():
    cfg = ScalingConfig(demos=(10, 25), trials_per_cell=1)
    specs = scaling_specs(cfg)
    labels = {s.label for _, s in specs}
    assert len(labels) == 2 * 4 * 2 - 2  # h1_r1_d10 and h1_r1_d25 serve both groups
    units = plan_scaling(cfg, {label: "id" for label in labels})
    assert len(units) == 4 * 2 * 9 + 4 * 2 * 5  # start-pose cells (3 variations x 3 tasks), scene cells (5)
    assert all(u.backend == "ideal_base" and u.group == "scaling" and u.seed >= 1_050_000 for u in units)
    assert {u.policy.max_demos_per_task for u in units} == {10, 25}


def test_scaling_cost_estimate_counts_what_is_missing():
    from wbvla.suite.report import scaling_cost_estimate

    cfg = ScalingConfig(demos=(10, 25), trials_per_cell=1)  # 7 Stage II runs (4 + 4 fractions, 100 % shared), 14 models
    est = scaling_cost_estimate(cfg, done_models={"h0_r1_d10"}, done_pretrains={"h0_r1", "h1_r1"}, done_trials=4,
                                stage2_s_per_step=0.5, stage3_s_per_step=0.25, trial_cpu_s=10.0)
    assert est["planned"] == {"stage2_runs": 7, "stage3_runs": 14, "trials": 4 * 2 * 9 + 4 * 2 * 5}
    assert est["missing"] == {"stage2_runs": 5, "stage3_runs": 13, "trials": 112 - 4}
    steps = cfg.training.pretrain_steps, cfg.training.finetune_steps  # 500, 500
    assert est["one_process_s"] == {"stage2": 5 * steps[0] * 0.5, "stage3": 13 * steps[1] * 0.25, "trials": 1080.0,
                                 "total": 5 * 500 * 0.5 + 13 * 500 * 0.25 + 1080.0}


def test_training_rates_pool_every_logged_call(tmp_path):
    import json

    from wbvla.suite.report import training_rates

    assert training_rates(tmp_path) is None
    for sub, calls in (("pretrain/a", [{"steps": 100, "wall_s": 50.0, "load_avg_1min_at_end": 2.0}]),
                       ("pretrain/b", [{"steps": 300, "wall_s": 250.0, "load_avg_1min_at_end": 9.0}]),
                       ("finetune/c", [{"steps": 200, "wall_s": 40.0}, {"steps": 0, "wall_s": 5.0}])):
        (tmp_path / sub).mkdir(parents=True)
        (tmp_path / sub / "train_log.json").write_text(json.dumps(calls))
    r = training_rates(tmp_path)
    assert r["stage2_s_per_step"] == 0.75 and r["stage3_s_per_step"] == 0.2  # 300 s / 400 steps; 40 s / 200
    assert r["stage2_load_avg_at_end"] == [2.0, 9.0]


def test_configs_reject_bad_values():
    with pytest.raises(ValueError, match="rows"):
        SuiteConfig(rows=("gr00t",))
    with pytest.raises(ValueError, match="first_seed"):
        SuiteConfig(first_seed=5)
    with pytest.raises(ValueError, match="missing"):
        RunSettings(missing="later")
    with pytest.raises(ValueError, match="human_fractions"):
        ScalingConfig(human_fractions=(1.5,))
    with pytest.raises(ValueError, match="unknown row"):
        row_spec("nope")
    assert set(ROWS) >= {"wholebodyvla", "no_lam", "manip_lam", "shared_lam", "velocity_rl", "no_state", "expert"}


def test_backend_for_each_command_kind():
    assert backend_for("ideal_base", "velocity").command_kind == "velocity"
    assert backend_for("ideal_base", "flags").name == "ideal_base"
    assert backend_for("lmo", "flags").name == "lmo"
    assert backend_for("lmo", "velocity").name == "velocity_rl"  # the velocity-RL row on the physics legs


def test_missing_policies_error_or_skip(tmp_path, monkeypatch):
    monkeypatch.setenv("WBVLA_CACHE", str(tmp_path / "cache"))
    cfg = SuiteConfig(rows=("no_lam",), tasks=("cart_pushing",), trials_per_task=1,
                      run=RunSettings(workers=1, output_dir=tmp_path / "run", progress=False))
    with pytest.raises(FileNotFoundError, match=r"no_lam: .*vla_runs/tutorial/finetune/none_tiny_128px_flags_full/policy"):
        run_suite(cfg)
    cfg.run.missing = "skip"
    res = run_suite(cfg)
    assert res.records == [] and "no_lam" in res.missing


def test_expert_trials_run_record_and_resume(tmp_path):
    cfg = SuiteConfig(rows=("expert",), tasks=("cart_pushing",), trials_per_task=1, videos_per_task=1,
                      run=RunSettings(workers=1, time_limit_s=1.5, output_dir=tmp_path, progress=False))
    res = run_suite(cfg)
    recs = {r["backend"]: r for r in res.records}
    assert set(recs) == {"lmo", "ideal_base"} and recs["lmo"]["backend_used"] == "lmo"
    ib = recs["ideal_base"]
    assert ib["ticks"] == 15 and not ib["fell"] and ib["success"] == [False, False] and ib["model_id"] == "scripted_expert"
    assert ib["failure"]["subgoal"] == 0 and ib["failure"]["stage"] in ("locomotion", "manipulation")
    assert (tmp_path / ib["files"]["log"]).is_file() and (tmp_path / ib["files"]["video"]).is_file()
    assert "video" not in recs["lmo"]["files"]
    log = np.load(tmp_path / ib["files"]["log"])
    assert log["trace_base"].shape == (16, 3) and log["runner_command"].shape == (15, 4)
    assert len(res.sessions) == 1 and res.sessions[0]["units"] == 2
    more = replace(cfg, trials_per_task=2, run=replace(cfg.run, run_missing=False))  # aggregate only: seed 2 is not run
    only_stored = run_suite(more)
    assert only_stored.not_run == 2 and {r["key"] for r in only_stored.records} == {r["key"] for r in res.records}
    again = run_suite(cfg)  # everything is in the store: nothing runs
    assert len(again.sessions) == 1 and {r["key"] for r in again.records} == {r["key"] for r in res.records}
    # the failure verdict is recomputed from the saved trace alone (the same rules give the same verdict)
    from wbvla.suite.report import reclassify

    redone = {r["backend"]: r for r in reclassify(res.records, tmp_path)}
    assert redone["ideal_base"]["failure"] == ib["failure"] and redone["ideal_base"]["failure_from"] == "log"
    no_log = reclassify([{**ib, "files": {}}], tmp_path)[0]
    assert no_log["failure_from"] == "record" and no_log["failure"] == ib["failure"]


def test_open_loop_metrics_read_the_runs_last_validation(tmp_path):
    import json

    from wbvla.suite.report import open_loop_metrics

    run = tmp_path / "finetune" / "none_tiny_flags"
    (run / "policy").mkdir(parents=True)
    (run / "policy" / "policy.json").write_text(json.dumps({"model_id": "m", "lam_variant": "none", "steps": 1500}))
    (run / "logs" / "version_0").mkdir(parents=True)
    (run / "logs" / "version_0" / "metrics.csv").write_text(
        "step,loss,val/frames,val/flag_accuracy_x\n9,1.0,,\n249,,959,0.85\n499,,959,0.9\n")
    m = open_loop_metrics(run / "policy")
    assert m["model_id"] == "m" and m["steps"] == 1500 and m["heldout"] == {"frames": 959.0, "flag_accuracy_x": 0.9}
    assert open_loop_metrics(tmp_path / "nothing") is None


def test_scaling_open_loop_places_each_model_on_its_curve(tmp_path):
    import json

    from wbvla.suite.report import scaling_open_loop

    def model(name, fx, fy, fyaw, arm):
        run = tmp_path / name
        (run / "policy").mkdir(parents=True)
        (run / "policy" / "policy.json").write_text(json.dumps({"model_id": name}))
        (run / "logs" / "version_0").mkdir(parents=True)
        (run / "logs" / "version_0" / "metrics.csv").write_text(
            "step,val/frames,val/flag_accuracy_x,val/flag_accuracy_y,val/flag_accuracy_yaw,val/arm_l1_rad,val/latent_top1\n"
            f"499,100,{fx},{fy},{fyaw},{arm},0.5\n")
        return str(run / "policy")

    folders = {"h0_r1_d10": model("a", 0.7, 0.8, 0.9, 0.04), "h1_r1_d10": model("b", 1.0, 0.5, 0.6, 0.03),
               "h1_r0_d25": model("c", 0.4, 0.4, 0.4, 0.05), "h0.5_r1_d10": None, "h1_r1_d25": str(tmp_path / "untrained")}
    ol = scaling_open_loop(folders, (0.0, 0.5, 1.0), (0.0, 1.0), (10, 25))
    assert set(ol["start_pose"]) == {"0", "1"} and set(ol["start_pose"]["0"]) == {"10"}
    assert ol["start_pose"]["0"]["10"]["flag_accuracy"] == pytest.approx(0.8)  # (0.7 + 0.8 + 0.9) / 3
    assert ol["start_pose"]["1"]["10"]["arm_l1_rad"] == 0.03 and ol["scene"]["1"] == ol["start_pose"]["1"]  # shared 100 % model
    assert ol["scene"]["0"]["25"] == {"flag_accuracy": pytest.approx(0.4), "arm_l1_rad": 0.05, "latent_top1": 0.5, "frames": 100.0}


def test_version_summary_flags_stale_trials():
    from wbvla.suite.report import version_summary
    from wbvla.suite.trials import TrialUnit, versions

    spec = row_spec("expert")
    unit = TrialUnit(spec, "scripted_expert", "ideal_base", "cart_pushing", "none", 1_000_000)
    rec = {"policy": {**spec.__dict__}, "model_id": unit.model_id, "backend": "ideal_base", "task": "cart_pushing",
           "variation": "none", "seed": 1_000_000, "versions": versions(unit)}
    old = {**rec, "versions": {**rec["versions"], "tasks": "0000000000"}}
    s = version_summary([rec, old])
    assert s["trials"] == 2 and s["stale_trials"] == 1 and len(s["versions"]) == 2


def test_trial_file_stems_fit_a_file_name_and_stay_unique():
    from wbvla.suite.trials import MAX_STEM, file_stem

    short = "table2|no_lam|ideal_base|bag_packing|none|1000000|wbvla-vla:x"
    assert file_stem(short) == "table2__no_lam__ideal_base__bag_packing__none__1000000__wbvla-vla-x"  # as before
    run = "none_pretrained-r100k_96x2.tower_128px_flags_abs_nogrippersstate_nosettle_offset_plus0_init"
    a = f"table2|extra:{run}|ideal_base|bag_packing|none|1000000|wbvla-vla:{run}:6d9a79382a"
    b = a.replace("1000000", "1000001")
    assert len(f".{a}.tmp16749.npz") > 255  # the name that failed
    assert len(file_stem(a)) == MAX_STEM and file_stem(a) != file_stem(b)
    assert len(f".{file_stem(a)}.tmp4194304.npz".encode()) <= 255 and "/" not in file_stem(a)
