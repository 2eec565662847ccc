"""A Stage III run's last checkpoint exported as a policy without finishing the run (rows whose
training cannot finish in the time there is): steps reached and planned are recorded, it loads,
and its model id differs from the finished run's."""

from __future__ import annotations

import json

import pytest
from vla_helpers import fake_world

from wbvla.suite.trials import export_checkpoint
from wbvla.vla.config import BackboneConfig, DecoderConfig, FinetuneConfig, PretrainConfig
from wbvla.vla.teleop_data import synthetic_episodes

TINY = BackboneConfig(image_size=16, patch_size=4, vision_width=32, vision_layers=1, vision_heads=2, text_width=32,
                      text_layers=2, text_heads=2, text_kv_heads=1, text_mlp=64)


@pytest.mark.slow
def test_export_checkpoint_of_an_unfinished_run(tmp_path, monkeypatch):
    from wbvla.vla.finetune import finetune, run_dir_for
    from wbvla.vla.policy import VLAPolicy

    corpus, runs, cache = fake_world()
    monkeypatch.setenv("WBVLA_CACHE", str(cache))
    pre = PretrainConfig(lam_variant="mani_loco", corpus_size="smoke", corpus_root=corpus, lam_runs=runs, batch_size=8,
                         max_steps=2, warmup_steps=1, val_every_n_steps=2, val_pairs=8, progress=False,
                         output_dir=tmp_path / "pre", backbone=TINY)
    cfg = FinetuneConfig(pretrain=pre, heldout_episodes_per_task=1, chunk_size=3, lora_r=4, lora_alpha=8, batch_size=8,
                         max_steps=2, warmup_steps=1, val_every_n_steps=2, progress=False, output_dir=tmp_path / "ft",
                         decoder=DecoderConfig(width=16, queries=2, heads=2, state_width=8))
    eps = synthetic_episodes(per_task=2, length=8, size=24)
    finished = json.loads((finetune(cfg, eps).policy_dir / "policy.json").read_text())
    run = run_dir_for(cfg)
    (run / "policy").rename(run / "finished_policy")

    folder = export_checkpoint(run, planned_steps=1500)
    meta = json.loads((folder / "policy.json").read_text())
    assert folder == run / "policy" and meta["steps"] == 2 and meta["planned_steps"] == 1500
    assert meta["run"] == cfg.run_name() and meta["model_id"].startswith(f"wbvla-vla:{cfg.run_name()}:")
    assert meta["model_id"] == finished["model_id"]  # the same weights (the run had finished at step 2)
    assert VLAPolicy.load(folder).model_id == meta["model_id"]
    with pytest.raises(ValueError, match="no Stage III checkpoint"):
        export_checkpoint(tmp_path / "nothing", planned_steps=10)
