"""The declared CPU plan adds up across calls: steps in order, Stage II from Stage I's newest
checkpoint, only the newest checkpoint kept, adopting an outside run checks its settings."""

import json
from dataclasses import asdict, replace

import pytest

from wbvla.lmo.cpu import plan
from wbvla.lmo.cpu.config import CpuEngineConfig


@pytest.fixture
def tiny_plan(monkeypatch):
    base = plan.PLAN_BASE
    tiny = replace(base, engine=replace(base.engine, num_envs=4),
                   ppo=replace(base.ppo, actor_hidden=(16,), critic_hidden=(16,), num_steps_per_env=4), save_interval=1)
    monkeypatch.setattr(plan, "PLAN_BASE", tiny)
    monkeypatch.setattr(plan, "MIN_CHUNK_MINUTES", 0.0)
    steps = (plan.CpuPlanStep("s1", "lmo", 1, 32), plan.CpuPlanStep("s2", "lmo", 2, 16, init_from="s1"))
    monkeypatch.setattr(plan, "CPU_PLAN", steps)
    return tiny


def test_plan_steps_add_up_and_keep_the_newest_checkpoint(tmp_path, tiny_plan):
    plan.run(minutes=5, root=tmp_path)
    st = {row["step"]: row for row in plan.status(tmp_path)}
    assert st["s1"]["done"] and st["s1"]["env_steps"] == 32 and st["s2"]["env_steps"] == 16
    assert [p.name for p in (tmp_path / "s1").glob("model_*.pt")] == [st["s1"]["checkpoint"]]
    s2 = json.loads((tmp_path / "s2" / "run.json").read_text())
    assert s2["init_from"].endswith(st["s1"]["checkpoint"]) and s2["config"]["stage"] == 2
    s1 = json.loads((tmp_path / "s1" / "run.json").read_text())
    assert s1["config"]["engine"]["levers"]["assist"]["enabled"]  # from scratch: the pelvis support fades out
    assert not s2["config"]["engine"]["levers"]["assist"]["enabled"]  # from a walking policy: none
    assert s2["task"]["curriculum"]["start_progress"] == s1["chunks"][-1]["progress"]  # the curriculum continues
    assert plan.run(minutes=5, root=tmp_path) == []  # nothing left: a later session adds nothing
    assert json.loads((tmp_path / "plan.json").read_text())["status"][0]["done"]


def test_adopt_checks_the_run_matches_the_step(tmp_path, tiny_plan):
    from wbvla.lmo.cpu.train import train_cpu

    outside = replace(plan.CPU_PLAN[0].config(tmp_path), run_dir=str(tmp_path / "elsewhere"), max_env_steps=16)
    train_cpu(outside)
    dest = plan.adopt("s1", tmp_path / "elsewhere", root=tmp_path / "root")
    assert json.loads((dest / "run.json").read_text())["config"]["max_env_steps"] == 32
    other = replace(outside, run_dir=str(tmp_path / "other"), engine=CpuEngineConfig(num_envs=4))  # no assist
    train_cpu(other)
    with pytest.raises(ValueError, match="another task, engine"):
        plan.adopt("s1", tmp_path / "other", root=tmp_path / "root2")
    with pytest.raises(FileExistsError):
        plan.adopt("s1", tmp_path / "elsewhere", root=tmp_path / "root")


def test_learning_signal_benchmark_writes_each_variant(tmp_path):
    from wbvla.lmo.cpu import signal_bench

    out = tmp_path / "signal.json"
    signal_bench.main(["--env-steps", "96", "--variants", "paper", "all", "--trials", "1", "--num-envs", "4",
                       "--root", str(tmp_path / "runs"), "--out", str(out)])
    res = json.loads(out.read_text())
    assert set(res) == {"paper@96", "all@96"}
    for row in res.values():
        assert row["forward"]["trials"] == 1 and row["env_steps"] == 96 and row["train_wall_s"] > 0
        assert row["forward"]["falls"] == 1 or row["forward"]["moved_m"] is not None
    with pytest.raises(SystemExit, match="unknown variants"):
        signal_bench.main(["--variants", "bogus", "--out", str(out)])


def test_committed_steps_resume_with_their_own_recipe_and_later_steps_take_the_fourth():
    """s1_lmo / s2_lmo were trained with recipe 1, s3_lmo with recipe 2, s4_lmo with recipe 3, s5_lmo with
    recipe 4: the plan's config for each must pass the resume check against its committed run.json (same
    levers, Table 5 rows and PPO); s3_lmo, s4_lmo and s5_lmo are ended (done whatever their budget);
    s6_lmo continued s5_lmo's shipped model_892 with recipe 5 (ended), s7_lmo with recipe 6, both probed; the
    Table 3 rows use recipe 4."""
    from wbvla.lmo.cpu.train import resumed_dr_rows, stored_levers

    steps = {s.name: s for s in plan.CPU_PLAN}
    for name in ("s1_lmo", "s2_lmo"):
        stored = json.loads((plan.PLAN_ROOT / name / "run.json").read_text())["config"]
        cfg = steps[name].config(plan.PLAN_ROOT)
        assert stored_levers(stored) == asdict(cfg.engine.levers)
        assert resumed_dr_rows(cfg, stored) is cfg  # the same rows: nothing to override
        assert cfg.engine.dr_rows == "sensors" and cfg.engine.levers.symmetry == "none"
    for name in ("s1_lmo", "s2_lmo", "s3_lmo", "s4_lmo", "s5_lmo"):
        stored = json.loads((plan.PLAN_ROOT / name / "run.json").read_text())["config"]
        cfg = steps[name].config(plan.PLAN_ROOT)
        assert stored["ppo"] == json.loads(json.dumps(asdict(cfg.ppo)))
        assert stored_levers(stored) == json.loads(json.dumps(asdict(cfg.engine.levers)))
    s3 = steps["s3_lmo"]
    assert s3.init_from == "s2_lmo" and s3.stage == 2 and s3.recipe == plan.RECIPE_2
    assert s3.ended and plan._is_done(s3, plan.PLAN_ROOT)  # 9.5 M of 15 M, but ended
    assert plan._done_steps(plan.PLAN_ROOT / "s3_lmo") < s3.env_steps
    assert steps["s4_lmo"].ended and steps["s4_lmo"].recipe == plan.RECIPE_3
    assert steps["s5_lmo"].ended and steps["s5_lmo"].recipe == plan.RECIPE_4
    later = [s for s in plan.CPU_PLAN if s.name in ("velocity", "s2_lmo_no_eq3", "lmo_no_stage1")]
    assert len(later) == 3 and all(s.recipe == plan.RECIPE_4 and s.ended is None for s in later)
    s6 = steps["s6_lmo"].config(plan.PLAN_ROOT)
    assert s6.init_from.endswith("s5_lmo/model_892.pt") and steps["s6_lmo"].probe_every > 0 and steps["s6_lmo"].ended
    assert s6.engine.dr_rows == "pushes" and s6.engine.push_ramp_env_steps == 4_000_000 and s6.ppo.entropy_coef == 0.003
    stored = json.loads((plan.PLAN_ROOT / "s6_lmo" / "run.json").read_text())["config"]
    assert stored_levers(stored) == json.loads(json.dumps(asdict(s6.engine.levers)))  # s6 resumes with its recipe
    s7 = steps["s7_lmo"].config(plan.PLAN_ROOT)
    assert s7.init_from.endswith("s5_lmo/model_892.pt") and steps["s7_lmo"].recipe == plan.RECIPE_6 and steps["s7_lmo"].ended
    assert s7.engine.levers.stance_posture and s7.engine.levers.arm_clips == "both" and s7.engine.levers.height_sharpness == 100.0
    stored = json.loads((plan.PLAN_ROOT / "s7_lmo" / "run.json").read_text())["config"]
    assert stored_levers(stored) == json.loads(json.dumps(asdict(s7.engine.levers)))
    s8 = steps["s8_lmo"].config(plan.PLAN_ROOT)
    assert steps["s8_lmo"].recipe == plan.RECIPE_7 and s8.engine.dr_rows == "sensors" and s8.ppo.entropy_coef == 0.001
    assert s8.engine.levers.stance_posture and s8.engine.levers.height_sharpness == 100.0 and steps["s8_lmo"].ended
    s9 = steps["s9_lmo"].config(plan.PLAN_ROOT)
    assert steps["s9_lmo"].recipe == plan.RECIPE_8 and s9.engine.levers.stance_posture and s9.engine.levers.height_sharpness is None
    s5 = steps["s5_lmo"].config(plan.PLAN_ROOT)
    assert s5.engine.dr_rows == "sensors" and s5.engine.levers.symmetry == "loss" and s5.ppo.entropy_coef == 0.001
    assert s5.engine.levers.intent_sharpness == 16.0 and s5.engine.levers.still_arms_fraction == 0.0
    assert s5.init_from.endswith("s2_lmo/model_3254.pt")  # the A/B partner of s4, from s2_lmo's final checkpoint


def _fake_result(walks: bool, falls: int, err: float, iteration: int, passed: int | None = None) -> dict:
    passed = 3 * walks if passed is None else passed
    checks = {k: {"trials": 20, "falls": 0, "error": err, "limit": 0.5, "ok": i < passed}
              for i, k in enumerate(("forward", "lateral", "turning"))}
    return {"checkpoint": "x", "iteration": iteration, "falls": falls, "total_trials": 100,
            "first_walking": {"checks": checks, "walks": walks}}


def test_probe_score_orders_walking_then_falls_then_the_worst_error(tmp_path):
    from wbvla.lmo.cpu.probe import (
        BEST_CHECKPOINT,
        best_record,
        probe_score,
        probed_iterations,
        record_probe,
    )

    assert probe_score(_fake_result(True, 3, 0.4, 1)) == (1, 3, -3, -0.8)  # worst error 0.4 of the 0.5 limit
    assert probe_score(_fake_result(True, 9, 0.45, 1)) > probe_score(_fake_result(False, 0, 0.1, 1))
    assert probe_score(_fake_result(False, 15, 0.9, 1, passed=2)) > probe_score(_fake_result(False, 8, 0.9, 1, passed=1))
    assert probe_score(_fake_result(False, 2, 0.1, 1)) > probe_score(_fake_result(False, 3, 0.0, 1))
    assert probe_score(_fake_result(False, 0, float("nan"), 1))[3] == -9.0  # every trial fell: no error
    ck = tmp_path / "model_5.pt"
    ck.write_bytes(b"five")
    assert record_probe(tmp_path, ck, _fake_result(False, 4, 0.3, 5))  # the first is the best
    ck2 = tmp_path / "model_9.pt"
    ck2.write_bytes(b"nine")
    assert not record_probe(tmp_path, ck2, _fake_result(False, 6, 0.1, 9))  # more falls: not better
    assert (tmp_path / BEST_CHECKPOINT).read_bytes() == b"five" and best_record(tmp_path)["iteration"] == 5
    assert record_probe(tmp_path, ck2, _fake_result(True, 6, 0.1, 9))  # walks: better
    assert (tmp_path / BEST_CHECKPOINT).read_bytes() == b"nine" and best_record(tmp_path)["checkpoint"] == "model_9.pt"
    assert probed_iterations(tmp_path) == {5, 9}


def test_a_probed_step_trains_in_pieces_probes_each_and_exports_the_best(tmp_path, tiny_plan, monkeypatch):
    from wbvla.lmo.cpu import probe

    seen = []

    def fake_probe(checkpoint, trials):
        it = int(checkpoint.stem.split("_")[1])
        seen.append(it)
        return _fake_result(it == 1, 0, 0.3, it)  # only the checkpoint of iteration 1 walks

    monkeypatch.setattr(probe, "probe_checkpoint", fake_probe)
    monkeypatch.setattr(plan, "CPU_PLAN", (plan.CpuPlanStep("p", "lmo", 1, 48, probe_every=16),))
    monkeypatch.setenv("WBVLA_CACHE", str(tmp_path / "cache"))
    plan.run(minutes=5, root=tmp_path)
    assert seen == [0, 1, 2]  # 16 env steps per iteration: one piece, one probe per iteration
    kept = tmp_path / "cache" / "lmo_cpu" / "probed" / "p"  # every probed checkpoint, outside git, with the config
    assert sorted(p.name for p in kept.iterdir()) == ["model_0.pt", "model_1.pt", "model_2.pt", "run.json"]
    assert plan.probed_copy(tmp_path / "p", tmp_path / "p" / "model_1.pt") == kept / "model_1.pt"
    assert plan.export_checkpoint(tmp_path / "p") == tmp_path / "p" / "best.pt"
    assert json.loads((tmp_path / "p" / "best.json").read_text())["iteration"] == 1
    assert [p.name for p in (tmp_path / "p").glob("model_*.pt")] == ["model_2.pt"]  # the newest stays too
    assert len(json.loads((tmp_path / "p" / "run.json").read_text())["chunks"]) == 3


def test_probe_checkpoint_runs_b4_trials_on_a_training_checkpoint(tmp_path, tiny_plan):
    from wbvla.lmo.cpu.probe import probe_checkpoint
    from wbvla.lmo.cpu.train import train_cpu

    ck = train_cpu(replace(plan.CpuPlanStep("s1", "lmo", 1, 16).config(tmp_path), max_env_steps=16))
    res = probe_checkpoint(ck, trials=2, full=False)
    assert res["iteration"] == 0 and res["run_env_steps"] == 0 and not res["full"]
    assert all(res[k]["trials"] == 2 for k in ("forward", "lateral", "turning"))
    assert set(res["forward"]["by_sign"]) == {"+", "-"} and not res["first_walking"]["walks"]  # 2 < 20 trials
    with pytest.raises(FileNotFoundError, match="run record"):
        probe_checkpoint(ck, trials=2, run_json=tmp_path / "missing.json")


def test_an_interrupted_piece_ends_the_whole_call(tmp_path, tiny_plan, monkeypatch):
    """``kill`` (SIGTERM) mid-piece: the chunk is saved as interrupted and the plan trains nothing more."""
    from wbvla.lmo.cpu import probe
    from wbvla.lmo.cpu import train as cpu_train

    monkeypatch.setattr(probe, "probe_checkpoint", lambda checkpoint, trials: _fake_result(False, 0, 0.3, 0))
    monkeypatch.setattr(plan, "CPU_PLAN", (plan.CpuPlanStep("p", "lmo", 1, 48, probe_every=16), plan.CpuPlanStep("q", "lmo", 1, 16)))

    def killed(runner, iterations, deadline):
        raise KeyboardInterrupt("signal 15")

    monkeypatch.setattr(cpu_train, "_learn", killed)
    records = plan.run(minutes=5, root=tmp_path)
    assert records == [{"step": "p", "env_steps": 0, "interrupted": True}]
    assert [c["stop"] for c in json.loads((tmp_path / "p" / "run.json").read_text())["chunks"]] == ["interrupted"]
    assert not (tmp_path / "q").exists()  # the next step did not start


def test_s12_continues_s11s_best_probe_at_a_third_of_the_learning_rate():
    steps = {s.name: s for s in plan.CPU_PLAN}
    order = [s.name for s in plan.CPU_PLAN]
    assert order.index("velocity") < order.index("s12_lmo") < order.index("s2_lmo_no_eq3")  # velocity finishes first
    s12 = steps["s12_lmo"].config(plan.PLAN_ROOT)
    assert s12.init_from.endswith("s11_lmo/best.pt") and s12.ppo.learning_rate == 1e-4 and steps["s12_lmo"].probe_every
    assert s12.engine.levers == steps["s11_lmo"].config(plan.PLAN_ROOT).engine.levers  # recipe 9's levers
    stored = json.loads((plan.PLAN_ROOT / "s11_lmo" / "run.json").read_text())["config"]
    assert stored["ppo"] == json.loads(json.dumps(asdict(steps["s11_lmo"].config(plan.PLAN_ROOT).ppo)))  # s11 kept 3e-4
    assert stored["ppo"]["learning_rate"] == 3e-4


def test_status_write_records_the_declared_plan(tmp_path):
    plan.main(["status", "--root", str(tmp_path), "--write"])
    written = json.loads((tmp_path / "plan.json").read_text())
    assert [s["name"] for s in written["steps"]] == [s.name for s in plan.CPU_PLAN]
    assert [r["step"] for r in written["status"]] == [s.name for s in plan.CPU_PLAN]
