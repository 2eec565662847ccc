"""DAgger round (wbvla.suite.dagger): who drives, what is labelled, the recorded dataset, and Stage III
continuing from the learner on it."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
from test_vla_train import _finetune, _pretrain, world  # noqa: F401  (world is a fixture)

from wbvla.control.policy_contract import PolicyOutput
from wbvla.data import teleop_schema as ts
from wbvla.locomotion.reference import VelocityReference
from wbvla.suite.dagger import LOCOMOTION_PHASES, DAggerPolicy
from wbvla.suite.dagger_config import DAGGER_SEED0, DAggerConfig
from wbvla.tasks.expert import (
    CONTROL_STEPS_PER_TICK,
    ExpertConfig,
    ExpertNoiseConfig,
    ScriptedExpert,
)
from wbvla.tasks.runner import RunnerConfig, run_trial
from wbvla.tasks.specs import make_task
from wbvla.vla.latents import LatentVocabulary

SIDESTEP = np.array([0.0, 1.0, 0.0, 0.6], np.float32)


class _SidestepLearner:
    """A learner that always sidesteps left with its arms at rest (never what the expert does)."""

    command_kind = "flags"
    model_id = "sidestep"

    def __init__(self):
        self.vla = SimpleNamespace(vocab=LatentVocabulary({"mani": (1, 4), "loco": (1, 4)}))

    def reset(self):
        pass

    def act(self, image, instruction, state):
        return PolicyOutput(np.zeros((2, 14)), np.zeros((2, 2)), SIDESTEP, "flags", latents={"mani": (3,), "loco": (1,)})


class _StandingLearner(_SidestepLearner):
    """A learner that never walks."""

    def act(self, image, instruction, state):
        out = super().act(image, instruction, state)
        out.command = np.array([0.0, 0.0, 0.0, 0.6], np.float32)
        return out


def _rollout(expert_share: float, seconds: float = 3.5, learner=None, accept=None, arm_phases=(), spy=None):
    expert = ScriptedExpert(ExpertConfig(noise=ExpertNoiseConfig.off()), seed=0)
    policy = DAggerPolicy(learner or _SidestepLearner(), expert, expert_share, block_ticks=5, seed=0, accept_stance=accept,
                          arm_phases=arm_phases)
    ticks = []

    class Spy:  # the runner's writer: sees each tick right after act()
        def add_frame(self, frame, task):
            ticks.append((policy.phase, policy.learner_drove, policy.label.copy(), list(policy.learner_codes),
                          frame[ts.ACTION_KEY].copy()))
            if spy is not None:
                spy.append(policy.learner_arms)

    result = run_trial(policy, make_task("bag_packing", 0), RunnerConfig(time_limit_s=seconds), writer=Spy())
    return policy, result, ticks


def test_the_learner_drives_only_the_legs_of_locomotion_phases_and_the_expert_labels_every_tick():
    policy, result, ticks = _rollout(expert_share=0.0)
    phases = [p for p, *_ in ticks]
    assert phases[0] == "raise" and "approach" in phases  # 1 s of raising the arms, then the approach
    for (phase, drove, label, codes, executed), command in zip(ticks, result.log["command"], strict=True):
        assert drove == (phase in LOCOMOTION_PHASES)  # expert_share 0: every locomotion block is the learner's
        assert codes == [3, 1]
        np.testing.assert_array_equal(executed[ts.ACTION_ARMS], label[ts.ACTION_ARMS])  # arms: always the expert's
        if drove:
            np.testing.assert_array_equal(command[:3], SIDESTEP[:3])  # the learner's flags were sent ...
            np.testing.assert_array_equal(command[3], label[ts.ACTION_HEIGHT])  # ... with the expert's h*
        else:
            np.testing.assert_array_equal(command, label[ts.ACTION_FLAGS.start:])
    driven = [label for _, drove, label, *_ in ticks if drove]
    assert driven and any(label[ts.ACTION_FLAGS][1] <= 0 for label in driven)  # the labels correct the sidestep
    # the expert's model of the backend's Eq. 2 state followed the flags actually sent
    ref = VelocityReference(policy.expert.config.command)
    for command in result.log["command"]:
        for _ in range(CONTROL_STEPS_PER_TICK):
            ref.step(command[:3])
    np.testing.assert_allclose(policy.expert.ref.s_bar, ref.s_bar, atol=1e-12)


def test_in_learner_arm_phases_the_learners_arms_are_sent_and_labelled_with_the_experts():
    arms_flags = []
    _, result, ticks = _rollout(0.0, 2.5, arm_phases=("raise",), spy=arms_flags)
    for (phase, drove, label, _, executed), arms in zip(ticks, arms_flags, strict=True):
        assert arms == (phase == "raise") and drove == (phase == "raise" or phase in LOCOMOTION_PHASES)
        if arms:  # the learner's arms (at rest, 0 rad) and grippers went out; the label is the expert's raise motion
            np.testing.assert_array_equal(executed[ts.ACTION_ARMS], 0.0)
            np.testing.assert_array_equal(executed[ts.ACTION_GRIPPERS], 0.0)
        else:
            np.testing.assert_array_equal(executed[ts.ACTION_ARMS], label[ts.ACTION_ARMS])
    raise_labels = np.array([label[ts.ACTION_ARMS] for phase, _, label, *_ in ticks if phase == "raise"])
    assert len(raise_labels) >= 9 and np.abs(raise_labels[-1]).max() > 0.1  # the expert kept raising on its timeline
    # without arm phases (the default) the arms are never the learner's
    arms_flags.clear()
    _rollout(0.0, 1.5, spy=arms_flags)
    assert arms_flags and not any(arms_flags)


def test_with_expert_share_one_the_learner_never_drives():
    _, result, ticks = _rollout(expert_share=1.0)
    assert not any(drove for _, drove, *_ in ticks)
    assert all(np.array_equal(executed, label) for *_, label, _, executed in ticks)


def test_the_expert_grasps_from_the_learners_stance_only_when_told_to():
    # the standing learner never reaches the expert's stance: the expert keeps labelling the approach ...
    _, result, ticks = _rollout(0.0, 3.5, _StandingLearner())
    assert ticks[-1][0] == "approach"
    # ... unless a DAgger round accepts a stance this far off (here: anywhere) after 10 still ticks
    _, result, ticks = _rollout(0.0, 3.5, _StandingLearner(), accept=(5.0, 3.2, 10))
    phases = [p for p, *_ in ticks]
    first = phases.index("approach")
    assert phases[first:first + 10] == ["approach"] * 10 and phases[first + 11] == "pregrasp"
    assert float(np.linalg.norm(result.log["base"][-1, :2] - result.log["base"][0, :2])) < 0.02  # it never walked
    # and not when the stance is farther than the tolerance
    _, _, ticks = _rollout(0.0, 3.5, _StandingLearner(), accept=(0.05, 3.2, 10))
    assert ticks[-1][0] == "approach"


def test_dagger_config_refuses_what_it_cannot_use(tmp_path):
    with pytest.raises(ValueError, match="train_config.json"):
        DAggerConfig(learner_run=tmp_path)
    (tmp_path / "policy").mkdir()
    (tmp_path / "train_config.json").write_text("{}")
    (tmp_path / "policy" / "policy.json").write_text("{}")
    with pytest.raises(ValueError, match="expert_share"):
        DAggerConfig(learner_run=tmp_path, expert_share=1.5)
    with pytest.raises(ValueError, match="training range"):
        DAggerConfig(learner_run=tmp_path, first_seed=99_990, episodes_per_task=20)
    with pytest.raises(ValueError, match="learner_arm_phases"):
        DAggerConfig(learner_run=tmp_path, learner_arm_phases=("pregrasp", "wave"))
    assert DAggerConfig(learner_run=tmp_path).folder() == tmp_path.with_name(tmp_path.name + "_dagger")


def test_a_round_records_labelled_rollouts_and_continues_the_learner(world, tmp_path):  # noqa: F811
    from safetensors.torch import load_file

    from wbvla.data.lerobot_v3 import validate_v3
    from wbvla.suite.dagger import collect, first_rollout_seed
    from wbvla.vla.finetune import finetune
    from wbvla.vla.teleop_data import load_teleop_episodes, synthetic_episodes

    eps = synthetic_episodes(per_task=2, length=8, size=16)  # the tiny backbone's image size, as the rollouts load
    learner = finetune(_finetune(_pretrain(*world, tmp_path), tmp_path), eps)
    cfg = DAggerConfig(learner_run=learner.fit.run_dir, episodes_per_task=1, tasks=("cart_pushing",), expert_share=0.0,
                       time_limit_s=3.0, workers=1, progress=False, output_dir=tmp_path / "round")
    assert first_rollout_seed(cfg) == DAGGER_SEED0  # a first round
    got = collect(cfg, tmp_path / "round" / "data")
    assert got["rollouts"] == 1 and 0 < got["learner_frames"] < got["frames"] == 30
    assert validate_v3(tmp_path / "round" / "data") == []
    again = collect(cfg, tmp_path / "round" / "data")  # resumable: the seed is already there
    assert again["rollouts"] == 1 and again["frames"] == 30
    (rollout,) = load_teleop_episodes(tmp_path / "round" / "data", 16)
    assert rollout.latent_target.sum() == 30 - got["learner_frames"]
    assert rollout.learner_codes.shape == (30, 2) and rollout.learner_codes.min() >= 0
    assert rollout.phase[0] == ts.phase_index("raise") and (rollout.phase >= 0).all()  # the expert's phase, every frame
    # with the learner's arms in the raise phase too, the first second is the learner's as well (and unlabelled by Eq. 1)
    arms = collect(replace(cfg, learner_arm_phases=("raise",)), tmp_path / "round_arms" / "data")
    assert arms["learner_frames"] == got["learner_frames"] + 10

    ft = replace(_finetune(_pretrain(*world, tmp_path), tmp_path), extra_train_roots=(tmp_path / "round" / "data",),
                 init_policy=learner.policy_dir, output_dir=tmp_path / "round" / "run", max_steps=2)
    assert ft.run_name().endswith("_plus1_init")
    res = finetune(ft, eps)
    assert res.train_frames == sum(len(e) for e in eps[:3]) + 30 and res.fit.steps == 2
    # the round started from the learner: 2 Adam steps move a weight by about lr each, a fresh
    # decoder or adapter would differ by far more; the normalization statistics are the learner's
    for part in ("decoder.safetensors", "adapter/adapter_model.safetensors"):
        a, b = load_file(str(learner.policy_dir / part)), load_file(str(res.policy_dir / part))
        assert a.keys() == b.keys()
        assert max(float((a[k].float() - b[k].float()).abs().max()) for k in a) <= 3 * ft.lr * ft.max_steps
    # a second round from this one rolls out on the scenes after the first round's
    assert first_rollout_seed(replace(cfg, learner_run=res.fit.run_dir, output_dir=None)) == DAGGER_SEED0 + 1

