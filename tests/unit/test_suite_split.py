"""Split-control diagnostic rows (wbvla.suite.split): who drives what, how the suite plans and
identifies them, config errors."""

from __future__ import annotations

import numpy as np
import pytest

from wbvla.control.policy_contract import PolicyOutput
from wbvla.data import teleop_schema as ts
from wbvla.suite.config import SuiteConfig
from wbvla.suite.dagger import LOCOMOTION_PHASES
from wbvla.suite.run import extra_specs, plan_suite
from wbvla.suite.split import LearnerArmsPolicy, SplitConfig, split_policy
from wbvla.suite.trials import model_id, versions
from wbvla.tasks.runner import RunnerConfig, run_trial
from wbvla.tasks.specs import make_task

LEARNER_ARMS = np.full((2, 14), 0.123, np.float32)


class _Learner:
    """Arms held at 0.123 rad, grippers 0.02 m, sidestepping left: never what the expert does."""

    command_kind = "flags"
    model_id = "stub"

    def __init__(self):
        self.acts = self.resets = 0

    def reset(self):
        self.resets += 1

    def act(self, image, instruction, state):
        self.acts += 1
        return PolicyOutput(LEARNER_ARMS, np.full((2, 2), 0.02), np.array([0.0, 1.0, 0.0, 0.5]), "flags",
                            latents={"loco": (1,)})


def _trial(policy, seconds):
    """Run ``policy`` on a cart-pushing scene; returns the result and the expert's phase per tick."""
    phases = []

    class Spy:  # the runner's writer: sees each tick right after act()
        def add_frame(self, frame, task):
            phases.append(policy.phase)

    return run_trial(policy, make_task("cart_pushing", 0), RunnerConfig(time_limit_s=seconds), writer=Spy()), phases


def test_arms_split_sends_the_learners_arms_and_the_experts_command():
    learner = _Learner()
    policy = split_policy(learner, "arms")
    assert isinstance(policy, LearnerArmsPolicy) and policy.model_id == "split-arms(stub)"
    result, phases = _trial(policy, 2.5)
    assert learner.acts == result.ticks > 0 and "approach" in phases
    np.testing.assert_allclose(result.log["action"][:, ts.ACTION_ARMS], 0.123, atol=1e-6)  # the learner's arms went out
    # the learner asks for a sidestep every tick; the expert walks ahead to the handle: only its flags are sent
    command = result.log["command"]
    assert not np.any(command[:, 1] == 1.0) and np.any(command[:, 0] == 1.0)
    assert result.latents[0] == {"loco": (1,)}
    # the gap to the expert's arm targets, tick by tick: |0.123 - expert| (the expert holds its raise / approach poses)
    # (in the first 2.5 s the expert's arm targets do not depend on where the arms are: its own trial gives them)
    from wbvla.tasks.expert import ExpertConfig, ExpertNoiseConfig, ScriptedExpert

    alone, _ = _trial(ScriptedExpert(ExpertConfig(noise=ExpertNoiseConfig.off())), 2.5)
    gap = np.abs(0.123 - alone.log["action"][:, ts.ACTION_ARMS].astype(np.float64))  # (ticks, 14)
    assert len(policy.gaps) == result.ticks and [g[0] for g in policy.gaps] == phases
    np.testing.assert_allclose([g[1] for g in policy.gaps], gap.mean(1), atol=1e-6)
    np.testing.assert_allclose([g[2] for g in policy.gaps], gap.max(1), atol=1e-6)


@pytest.mark.parametrize("part", ["arms", "legs"])
def test_split_policies_are_policies_whose_reset_resets_the_learner(part):
    from wbvla.control.policy_contract import Policy

    learner = _Learner()
    policy = split_policy(learner, part)
    assert isinstance(policy, Policy)
    policy.reset()
    assert learner.resets == 1


def test_arm_gap_by_phase_averages_per_phase():
    from wbvla.suite.split import arm_gap_by_phase

    gaps = [("raise", 0.1, 0.2), ("approach", 0.02, 0.05), ("raise", 0.3, 0.9), ("approach", 0.04, 0.03)]
    assert arm_gap_by_phase(gaps) == {"raise": {"ticks": 2, "mean_rad": pytest.approx(0.2), "max_rad": 0.9},
                                      "approach": {"ticks": 2, "mean_rad": pytest.approx(0.03), "max_rad": 0.05}}
    assert list(arm_gap_by_phase(gaps)) == ["raise", "approach"]


def test_legs_split_sends_the_learners_flags_in_locomotion_phases_only():
    policy = split_policy(_Learner(), "legs")
    assert policy.model_id == "split-legs(stub)" and policy.expert_share == 0.0
    result, phases = _trial(policy, 2.5)
    sidestep = result.log["command"][:, 1] == 1.0
    assert sidestep.any() and not sidestep[0]  # the first second raises the arms (not a locomotion phase)
    np.testing.assert_array_equal(sidestep, [p in LOCOMOTION_PHASES for p in phases])
    assert not np.allclose(result.log["action"][:, ts.ACTION_ARMS], 0.123)  # arms: the expert's


def test_split_rows_are_planned_on_the_ideal_base_with_the_rows_seeds(tmp_path):
    cfg = SuiteConfig(rows=("wholebodyvla",), split_rows=("wholebodyvla:arms", "wholebodyvla:legs"), trials_per_task=2,
                      videos_per_task=0)
    specs = extra_specs(cfg)
    assert [(s.label, s.split, s.variant) for s in specs] == [("split:wholebodyvla:arms", "arms", "wholebodyvla"),
                                                            ("split:wholebodyvla:legs", "legs", "wholebodyvla")]
    units = plan_suite(cfg, {"wholebodyvla": "w", "split:wholebodyvla:arms": "a", "split:wholebodyvla:legs": "l"})
    split = [u for u in units if u.policy.split]
    assert len(split) == 2 * 3 * 2 and {u.backend for u in split} == {"ideal_base"}
    assert {u.seed for u in split} == {u.seed for u in units if u.policy.label == "wholebodyvla"}
    assert "expert" in versions(split[0]) and "expert" not in versions(units[0])
    # the row's own policy folder, a model id of its own
    (tmp_path / "policy.json").write_text('{"model_id": "m1"}')
    from dataclasses import replace

    assert model_id(replace(specs[0], folder=str(tmp_path)), cfg.training) == "split-arms(m1)"


def test_an_extra_policy_can_be_split_too(tmp_path):
    (tmp_path / "run" / "policy").mkdir(parents=True)
    (tmp_path / "run" / "policy" / "policy.json").write_text('{"model_id": "m2", "run": "abs_run", "lam_variant": "mani_loco"}')
    cfg = SuiteConfig(rows=("wholebodyvla",), extra_policies=(tmp_path / "run" / "policy",), split_rows=("extra:abs_run:arms",))
    extra, split = extra_specs(cfg)
    assert extra.label == "extra:abs_run" and split.label == "split:extra:abs_run:arms"
    assert split.folder == extra.folder and split.split == "arms" and model_id(split, cfg.training) == "split-arms(m2)"
    with pytest.raises(ValueError, match="names no row of extra_policies"):
        extra_specs(SuiteConfig(split_rows=("extra:other:legs",)))


@pytest.mark.parametrize("entry", ["wholebodyvla", "wholebodyvla:head", "velocity_rl:arms", "expert:legs", "nope:arms"])
def test_bad_split_rows_name_the_entry(entry):
    with pytest.raises(ValueError, match="split_rows"):
        SuiteConfig(split_rows=(entry,))


def test_split_config_rejects_non_positive_tolerances():
    with pytest.raises(ValueError, match="accept_m"):
        SplitConfig(accept_m=0.0)
    with pytest.raises(ValueError, match="split part"):
        split_policy(_Learner(), "head")
