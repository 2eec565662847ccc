"""The expert-phase column of the teleoperation data: the vocabulary knows every phase the expert
sets, the runner writes the policy's phase (-1 without one), it round-trips through the LeRobot v3
writer and reader, datasets recorded before the column load with -1, and a dataset recorded with
another vocabulary is remapped by name."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from lerobot_helpers import SIZE, episode

from wbvla.control.policy_contract import PolicyOutput
from wbvla.data import teleop_schema as ts
from wbvla.data.lerobot_v3 import LeRobotV3Dataset, LeRobotV3Writer, teleop_features, validate_v3
from wbvla.tasks import expert as expert_module
from wbvla.tasks.expert import ExpertConfig, ExpertNoiseConfig, ScriptedExpert
from wbvla.tasks.runner import RunnerConfig, run_trial
from wbvla.tasks.specs import make_task
from wbvla.tasks.teleop import dataset_frame, phase_meta
from wbvla.vla.teleop_data import TeleopFrames, collate_frames, load_teleop_episodes

EVAL = 1_000_000
INSTRUCTION = ts.INSTRUCTIONS["cart_pushing"]


def test_vocabulary_holds_every_phase_the_expert_sets():
    src = Path(expert_module.__file__).read_text()
    literal = set(re.findall(r'self\.phase = "(\w+)"', src))
    navigated = set(re.findall(r'_navigate\([^\n]*?, "(\w+)"\)', src))
    assert {"pregrasp", "grasp", "push"} <= literal and {"approach", "carry", "turn_and_walk"} <= navigated
    assert 'self.phase = f"{phase}_timeout"' in src  # a navigate phase that gives up
    wanted = (literal | navigated | {f"{p}_timeout" for p in navigated}) - {"unbound"}  # unbound: never acts
    assert wanted <= set(ts.EXPERT_PHASES), sorted(wanted - set(ts.EXPERT_PHASES))
    assert len(set(ts.EXPERT_PHASES)) == len(ts.EXPERT_PHASES)


def test_phase_index_name_and_remap():
    for i, name in enumerate(ts.EXPERT_PHASES):
        assert ts.phase_index(name) == i and ts.phase_name(i) == name
    assert ts.phase_index(None) == ts.NO_PHASE == -1 and ts.phase_name(-1) == "none"
    with pytest.raises(ValueError, match="walk_backwards"):
        ts.phase_index("walk_backwards")
    with pytest.raises(ValueError, match="outside"):
        ts.phase_name(len(ts.EXPERT_PHASES))
    old = ["grasp", "pregrasp", "somersault"]  # another vocabulary: indices 0, 1, 2
    got = ts.remap_phases(np.array([0, 1, 2, -1, 0]), old)
    np.testing.assert_array_equal(got, [ts.phase_index("grasp"), ts.phase_index("pregrasp"), -1, -1, ts.phase_index("grasp")])
    np.testing.assert_array_equal(ts.remap_phases(np.array([3, -1]), None), [3, -1])
    with pytest.raises(ValueError, match="outside"):
        ts.remap_phases(np.array([3]), old)


class _PhaseLog(ScriptedExpert):
    """The expert, remembering the phase of every answer."""

    def act(self, image, instruction, state) -> PolicyOutput:
        out = super().act(image, instruction, state)
        self.seen.append(out.info["phase"])
        return out


class _NoPhase:
    """A policy without an expert phase (holds the default pose)."""

    command_kind, uses_image, model_id = "flags", False, "no_phase"

    def reset(self) -> None:
        pass

    def act(self, image, instruction, state) -> PolicyOutput:
        return PolicyOutput(state[None, :14].copy(), state[None, 14:16].copy(), np.array([0, 0, 0, 0.7], np.float32), "flags")


def test_runner_writes_the_phase_and_it_round_trips(tmp_path):
    root = tmp_path / "ds"
    writer = LeRobotV3Writer(root, ts.FPS, teleop_features(32))
    expert = _PhaseLog(ExpertConfig(noise=ExpertNoiseConfig.off()))
    expert.seen = []
    result = run_trial(expert, make_task("cart_pushing", EVAL), RunnerConfig(time_limit_s=3.0, image_size=32), writer=writer)
    writer.save_episode()
    run_trial(_NoPhase(), make_task("cart_pushing", EVAL), RunnerConfig(time_limit_s=0.5, image_size=32), writer=writer)
    writer.save_episode()
    writer.finalize()
    assert validate_v3(root) == []
    ds = LeRobotV3Dataset(root)
    got = ds.episode(0)[ts.PHASE_KEY]
    assert len(expert.seen) == result.ticks == len(got)
    np.testing.assert_array_equal(got, [ts.phase_index(p) for p in expert.seen])
    assert expert.seen[0] == "raise" and "approach" in expert.seen  # the first 3 s of cart pushing
    np.testing.assert_array_equal(ds.episode(1)[ts.PHASE_KEY], np.full(5, -1))
    episodes = load_teleop_episodes(root, 16)
    np.testing.assert_array_equal(episodes[0].phase, got)
    frames = TeleopFrames(episodes, [np.zeros((len(e), 0), np.int64) for e in episodes], chunk_size=2)
    batch = collate_frames([frames[i] for i in range(len(frames))])
    np.testing.assert_array_equal(batch["phase"].numpy(), np.concatenate([got, np.full(5, -1)]))


def _write(root: Path, features: dict, drop_phase: bool, extra_meta: dict | None = None) -> list[dict]:
    frames = episode(6, seed=17)  # phases 16, 17, -1, 0, 1, 2
    with LeRobotV3Writer(root, ts.FPS, features, extra_meta=extra_meta) as w:
        for f in frames:
            w.add_frame(dataset_frame(f, w.features) if drop_phase else f, task=INSTRUCTION)
        w.save_episode()
    return frames


def test_a_dataset_without_the_phase_column_loads_with_minus_one(tmp_path):
    root = tmp_path / "old"
    old_features = {k: v for k, v in teleop_features(SIZE).items() if k != ts.PHASE_KEY}
    _write(root, old_features, drop_phase=True)  # the runner's frame carries a phase: dropped for the old layout
    assert validate_v3(root) == [] and ts.PHASE_KEY not in LeRobotV3Dataset(root).features
    assert phase_meta(root) == {}  # resuming it records no vocabulary
    ep = load_teleop_episodes(root, 16)[0]
    np.testing.assert_array_equal(ep.phase, np.full(6, -1))
    assert TeleopFrames([ep], [np.zeros((6, 0), np.int64)], chunk_size=3)[4]["phase"] == -1
    new = tmp_path / "new"
    assert phase_meta(new) == {ts.PHASES_META_KEY: list(ts.EXPERT_PHASES)}
    frame = episode(1, seed=0)[0]
    assert dataset_frame(frame, teleop_features(SIZE)) is frame


def test_a_dataset_of_another_vocabulary_is_remapped_by_name(tmp_path):
    root = tmp_path / "ds"
    vocab = list(reversed(ts.EXPERT_PHASES))  # the same names, another order
    frames = _write(root, teleop_features(SIZE), drop_phase=False, extra_meta={ts.PHASES_META_KEY: vocab})
    written = np.array([f[ts.PHASE_KEY] for f in frames])
    want = [ts.phase_index(vocab[i]) if i >= 0 else -1 for i in written]
    assert (written >= 0).any() and (written == -1).any()
    np.testing.assert_array_equal(load_teleop_episodes(root, 16)[0].phase, want)
