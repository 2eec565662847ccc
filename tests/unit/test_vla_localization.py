"""Stage III's localization auxiliary loss (``FinetuneConfig.aux_localization_weight``): the target
is FK of s_t's arm joints; weight 0 is the recipe before the switch (no head, the same loss); the
head learns on a tiny model; it is training-only (the policy folder and act() do not change); old
runs resume."""

from __future__ import annotations

import json
from dataclasses import asdict, replace

import numpy as np
import pytest
import torch

from wbvla.sim.kinematics import ArmKinematics
from wbvla.vla.config import BackboneConfig, DecoderConfig, FinetuneConfig, PretrainConfig
from wbvla.vla.teleop_data import TeleopFrames, collate_frames, synthetic_episodes

TINY = BackboneConfig(image_size=16, patch_size=4, vision_width=32, vision_layers=1, vision_heads=2, text_width=32,
                      text_layers=2, text_heads=2, text_kv_heads=1, text_mlp=64)


def _config(tmp, **kw) -> FinetuneConfig:
    """A tiny w/o-LAM Stage III (no Stage II or LAMs needed: the base is the bare backbone)."""
    pre = PretrainConfig(lam_variant="none", corpus_size="smoke", backbone=TINY, output_dir=tmp / "pre")
    return FinetuneConfig(pretrain=pre, heldout_episodes_per_task=1, chunk_size=3, lora_r=4, lora_alpha=8, batch_size=8,
                          max_steps=4, warmup_steps=1, val_every_n_steps=2, progress=False, output_dir=tmp / "ft",
                          decoder=DecoderConfig(width=16, queries=2, heads=2, state_width=8), **kw)


def _module(cfg: FinetuneConfig, base, seed: int = 0):
    from wbvla.vla.decoder import ActionStats
    from wbvla.vla.finetune import FinetuneModule

    torch.manual_seed(seed)
    stats = {k: v.tolist() for k, v in vars(ActionStats.identity()).items()}
    return FinetuneModule(str(base), json.loads(json.dumps(asdict(cfg), default=str)), stats)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from wbvla.vla.finetune import prepare_base

    tmp = tmp_path_factory.mktemp("loc")
    cfg = _config(tmp)
    base = prepare_base(cfg, tmp / "run")
    frames = TeleopFrames(synthetic_episodes(per_task=2, length=12, size=16),
                          [np.zeros((12, 0), np.int64)] * 6, cfg.chunk_size)
    batch = collate_frames([frames[i] for i in range(0, len(frames), 4)])  # 18 frames over all tasks and phases
    return tmp, cfg, base, batch


def test_target_is_forward_kinematics_of_the_measured_arms():
    from wbvla.vla.localization import tcp_targets

    rng = np.random.default_rng(0)
    state = np.zeros((5, 17), np.float32)
    state[:, :14] = rng.uniform(-0.6, 0.6, (5, 14))
    got = tcp_targets(torch.from_numpy(state)).numpy()
    fk = ArmKinematics()  # a fresh model, one pose at a time through tcp_pose
    want = np.array([[fk.tcp_pose(side, q.astype(np.float64))[0] for side in ("left", "right")] for q in state[:, :14]])
    assert got.shape == (5, 2, 3)
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert np.abs(want[:, 0] - want[:, 1]).max() > 0.1  # two different hands, poses that move them


def test_weight_zero_is_the_recipe_before(tiny):
    tmp, cfg, base, batch = tiny
    off = _module(cfg, base)
    on = _module(replace(cfg, aux_localization_weight=0.5), base)
    assert off.localization is None and not any("localization" in k for k in off.state_dict())
    torch.manual_seed(1)
    loss_off, logged_off = off.losses(batch)
    torch.manual_seed(1)
    loss_on, logged_on = on.losses(batch)
    assert "train/aux_localization_l1_m" not in logged_off
    aux = logged_on["train/aux_localization_l1_m"]
    assert 0.0 < float(aux) < 1.0  # metres
    # the same decoder and LoRA weights and images: the switch only adds its term
    assert float(loss_on.detach()) == pytest.approx(float(loss_off.detach()) + 0.5 * float(aux), abs=1e-6)
    for k in logged_off:
        if k != "train/loss":
            assert float(logged_on[k]) == pytest.approx(float(logged_off[k]), abs=1e-6), k
    with pytest.raises(ValueError, match="aux_localization_weight"):
        replace(cfg, aux_localization_weight=-1.0)
    assert replace(cfg, aux_localization_weight=0.5).run_name() == cfg.run_name() + "_loc0.5"


def test_the_head_trains_on_a_tiny_model(tiny):
    tmp, cfg, base, batch = tiny
    module = _module(replace(cfg, aux_localization_weight=1.0), base)
    opt = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=1e-3)
    curve = []
    for _ in range(30):
        loss, logged = module.losses(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        curve.append(float(logged["train/aux_localization_l1_m"]))
    assert np.mean(curve[-5:]) < 0.5 * np.mean(curve[:5]), curve


def test_head_is_training_only_and_old_runs_resume(tiny):
    from wbvla.lam.train import training_history
    from wbvla.vla.finetune import finetune
    from wbvla.vla.policy import VLAPolicy

    tmp, cfg, _, _ = tiny
    eps = synthetic_episodes(per_task=2, length=8, size=16)
    plain = finetune(replace(cfg, output_dir=tmp / "plain"), eps)
    loc = finetune(replace(cfg, output_dir=tmp / "loc", aux_localization_weight=1.0), eps)
    hist = training_history(loc.fit.run_dir)
    for key in ("train/aux_localization_l1_m", "val/localization_l1_m", "val/localization_error_cm"):
        assert key in hist.columns and hist[key].notna().any(), key
    assert "val/localization_l1_m" not in training_history(plain.fit.run_dir).columns
    files = sorted(str(p.relative_to(plain.policy_dir)) for p in plain.policy_dir.rglob("*") if p.is_file())
    assert files == sorted(str(p.relative_to(loc.policy_dir)) for p in loc.policy_dir.rglob("*") if p.is_file())
    from safetensors import safe_open

    with safe_open(str(loc.policy_dir / "decoder.safetensors"), "pt") as f, \
            safe_open(str(plain.policy_dir / "decoder.safetensors"), "pt") as g:
        assert set(f.keys()) == set(g.keys())  # the head is not exported
    meta = json.loads((loc.policy_dir / "policy.json").read_text())
    assert set(meta) == set(json.loads((plain.policy_dir / "policy.json").read_text()))
    ep = eps[0]
    out = VLAPolicy.load(loc.policy_dir).act(ep.frames[1], ep.instruction, ep.state[1])
    assert out.arm_targets.shape == (3, 14)
    # a run stored before the switch (its train_config.json lacks the field) resumes at weight 0
    stored = plain.fit.run_dir / "train_config.json"
    old = json.loads(stored.read_text())
    old.pop("aux_localization_weight")
    stored.write_text(json.dumps(old))
    assert finetune(replace(cfg, output_dir=tmp / "plain", max_steps=6), eps).fit.steps_this_call == 2
    with pytest.raises(ValueError, match="aux_localization_weight"):
        finetune(replace(cfg, output_dir=tmp / "plain", max_steps=8, aux_localization_weight=1.0), eps)
