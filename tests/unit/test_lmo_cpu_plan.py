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
    """s1_lmo / s2_lmo were trained with recipe 1, s3_lmo with recipe 2, s4_lmo with recipe 3: the plan's
    config for each must pass the resume check against its committed run.json (same levers, Table 5
    rows and PPO); s3_lmo and s4_lmo are ended (done whatever their budget); later steps use recipe 4."""
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
    later = [s for s in plan.CPU_PLAN if s.name not in ("s1_lmo", "s2_lmo", "s3_lmo", "s4_lmo")]
    assert later and all(s.recipe == plan.RECIPE_4 and s.ended is None for s in later)
    s5 = steps["s5_lmo"].config(plan.PLAN_ROOT)
    assert s5.engine.dr_rows == "sensors" and s5.engine.levers.symmetry == "loss" and s5.ppo.entropy_coef == 0.001
    assert s5.engine.levers.intent_sharpness == 16.0 and s5.engine.levers.still_arms_fraction == 0.0
    assert s5.init_from.endswith("s2_lmo/model_3254.pt")  # the A/B partner of s4, from s2_lmo's final checkpoint
