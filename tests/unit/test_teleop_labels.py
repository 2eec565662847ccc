"""Teleoperation labels (``TeleopDataConfig.labels``): the noisy expert executes its late releases and
wrong pulses, but an ``intended`` dataset labels each frame with what the noise-free expert commands
in the state reached (DART); an ``executed`` one keeps the flags sent; a dataset is never extended
with the other kind."""

from __future__ import annotations

import json

import numpy as np
import pytest

from wbvla.data import teleop_schema as ts
from wbvla.tasks.expert import ExpertConfig, ExpertNoiseConfig, ScriptedExpert
from wbvla.tasks.runner import RunnerConfig, run_trial
from wbvla.tasks.specs import make_task
from wbvla.tasks.teleop import _FrameBuffer, command_labels, generate_teleop_data
from wbvla.tasks.teleop_config import TeleopDataConfig

ALWAYS = ExpertNoiseConfig(p_late_release=1.0, p_wrong_flag=1.0)


def _trial(noise: ExpertNoiseConfig, labels: str, seed: int = 3):
    expert = ScriptedExpert(ExpertConfig(noise=noise), seed=seed)
    buffer = _FrameBuffer(expert, labels)
    result = run_trial(expert, make_task("cart_pushing", seed), RunnerConfig(backend="ideal_base", image_size=32), writer=buffer)
    commands = np.stack([ts.split_action(f[ts.ACTION_KEY])[2] for f in buffer.frames])  # (T, 4)
    return result, commands


def test_without_noise_intended_labels_are_the_executed_commands():
    _, intended = _trial(ExpertNoiseConfig.off(), "intended")
    result, executed = _trial(ExpertNoiseConfig.off(), "executed")
    assert all(result.success)
    np.testing.assert_array_equal(intended, executed)
    np.testing.assert_array_equal(executed, np.asarray(result.log["command"]))


def test_intended_labels_drop_the_injected_errors_and_keep_the_rest():
    result, intended = _trial(ALWAYS, "intended")
    executed = np.asarray(result.log["command"])  # what was sent, tick by tick (same trial: the labels do not steer)
    assert intended.shape == executed.shape
    differs = np.any(intended[:, :3] != executed[:, :3], axis=1)
    assert 0 < differs.sum() < 0.2 * len(differs)  # every phase gets a late release and a wrong pulse: a few ticks each
    np.testing.assert_array_equal(intended[:, 3], executed[:, 3])  # h* is never noisy
    # where they differ the sent flag is the error: a held flag the expert meant to release, or a wrong pulse
    assert np.all(executed[differs, :3][intended[differs, :3] != executed[differs, :3]] != 0)
    # and the trial itself is the noisy one: the same seed with the noise off sends other flags
    clean_result, _ = _trial(ExpertNoiseConfig.off(), "executed")
    assert len(clean_result.log["command"]) != len(executed) or np.any(np.asarray(clean_result.log["command"]) != executed)


def test_dataset_records_its_labels_and_refuses_to_mix(tmp_path):
    root = tmp_path / "demo"
    cfg = TeleopDataConfig(size="smoke", tasks=("cart_pushing",), image_size=32, output_dir=root, progress=False)
    generate_teleop_data(cfg)
    assert command_labels(root) == "intended"
    assert json.loads((root / "meta" / "wbvla.json").read_text())["command_labels"] == "intended"
    with pytest.raises(ValueError, match="labelled 'intended'.*--labels intended"):
        generate_teleop_data(TeleopDataConfig(size="smoke", tasks=("cart_pushing",), image_size=32, output_dir=root,
                                              labels="executed", episodes_per_task=2, progress=False))
    assert command_labels(tmp_path / "missing") == "executed"  # recorded before the switch


def test_labels_value_is_checked():
    with pytest.raises(ValueError, match="labels must be intended or executed"):
        TeleopDataConfig(labels="clean")
