"""``FinetuneConfig.flag_class_balance``: the flag heads' class weights are computed from the
training frames, reach the loss, survive a resume, and 0 is the recipe before the switch."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from tests.unit.test_vla_localization import _config, tiny  # noqa: F401  (the tiny w/o-LAM Stage III fixture)
from wbvla.vla.teleop_data import synthetic_episodes


def test_run_name_and_range(tmp_path):
    cfg = _config(tmp_path)
    assert replace(cfg, flag_class_balance=0.5).run_name() == cfg.run_name() + "_fb0.5"
    with pytest.raises(ValueError, match="flag_class_balance"):
        replace(cfg, flag_class_balance=1.5)


def test_weights_come_from_the_training_frames_and_survive_a_resume(tiny):  # noqa: F811
    from wbvla.vla.decoder import flag_class_weights
    from wbvla.vla.finetune import FinetuneModule, finetune, split_episodes
    from wbvla.vla.teleop_data import TeleopFrames

    tmp, cfg, _, _ = tiny
    eps = synthetic_episodes(per_task=2, length=8, size=16)
    cfg = replace(cfg, output_dir=tmp / "fb", flag_class_balance=1.0)
    first = finetune(replace(cfg, max_steps=2), eps)
    module = FinetuneModule.load_from_checkpoint(str(first.fit.checkpoint), map_location="cpu", weights_only=False)
    train, _ = split_episodes(eps, cfg.heldout_episodes_per_task, cfg.max_demos_per_task)
    frames = TeleopFrames(train, [np.zeros((len(e), 0), np.int64) for e in train], cfg.chunk_size)
    want = flag_class_weights(frames.flags(), 1.0)
    torch.testing.assert_close(module.flag_weights, torch.from_numpy(want))
    again = finetune(cfg, eps)  # resumes to max_steps with the same weights
    assert again.fit.steps == cfg.max_steps
    plain = FinetuneModule.load_from_checkpoint(str(finetune(replace(cfg, output_dir=tmp / "fb0", flag_class_balance=0.0),
                                                             eps).fit.checkpoint), map_location="cpu", weights_only=False)
    assert plain.flag_weights is None
