"""The LAM's ``tower`` feature space: the project's pretrained vision tower, frozen, as the space the
LAM encodes and reconstructs (issue 20 part 4; the stand-in for the paper's DINOv2)."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
import torch

from wbvla.data.pairs import PairStore
from wbvla.lam.config import LAMConfig, LAMTrainConfig
from wbvla.lam.model import LatentActionModel, lam_loss
from wbvla.lam.train import load_lam, train_lam
from wbvla.vla.backbone import build_backbone, save_backbone
from wbvla.vla.config import BackboneConfig
from wbvla.vla.vision_pretrain import tower_backbone_config

TINY = BackboneConfig(image_size=32, patch_size=8, vision_width=16, vision_layers=1, vision_heads=2,
                      text_width=32, text_layers=1, text_heads=2, text_kv_heads=1, text_mlp=64)
STATS = {"image_mean": [0.4, 0.5, 0.6], "image_std": [0.3, 0.2, 0.25]}
"""Not SmolVLM's 0.5 / 0.5: both readers of the checkpoint must use the stats it ships."""


def _save_tower(folder, seed: int):
    torch.manual_seed(seed)
    save_backbone(build_backbone(TINY), folder)
    pre = folder / "preprocessor_config.json"
    pre.write_text(json.dumps({**json.loads(pre.read_text()), **STATS}))
    return folder


@pytest.fixture(scope="module")
def tower(tmp_path_factory):
    """A tiny tower checkpoint in the layout ``wbvla vision-pretrain`` writes (random weights)."""
    return _save_tower(tmp_path_factory.mktemp("vision") / "tower", seed=0)


def _tiny_lam(tower_path, **kw) -> LAMConfig:
    return LAMConfig(feature_space="tower", tower_path=str(tower_path), model_dim=32, num_heads=2, encoder_layers=1,
                     decoder_layers=1, codebook_size=4, **kw)


class MovingSquares(PairStore):
    """A bright square moving one of four ways per clip (20 px frames: the tower resizes them to 32)."""

    def __init__(self, n_clips: int, seed: int, size: int = 20, length: int = 5):
        rng = np.random.default_rng(seed)
        frames, rows = [], []
        for c in range(n_clips):
            d = [(0, 3), (0, -3), (3, 0), (-3, 0)][c % 4]
            y, x = rng.integers(6, size - 12, 2)
            clip = np.zeros((length, size, size, 3), np.uint8)
            clip[:] = rng.integers(0, 60, 3)
            for t in range(length):
                yy, xx = (y + d[0] * t) % (size - 6), (x + d[1] * t) % (size - 6)
                clip[t, yy:yy + 6, xx:xx + 6] = 230
            frames.append(clip)
            rows += [(c, t, c * length + t, c * length + t + 1) for t in range(length - 1)]
        self._finish(frames, rows, ["clip", "frame", "i", "j"])


def test_tower_features_are_the_towers_own_frozen_patch_tokens(tower):
    model = LatentActionModel(_tiny_lam(tower))
    feats = model.features
    assert (feats.grid, feats.dim, feats.image_size) == (4, 16, 32)  # the tower's own size, not image_size=64
    frames = torch.randint(0, 256, (5, 3, 20, 20), dtype=torch.uint8)  # T frames at another size
    f = feats(frames)
    assert f.shape == (5, 16, 16)  # (T, patches, width)
    assert torch.equal(f, feats(frames))  # deterministic
    assert not f.requires_grad and not any(p.requires_grad for p in feats.backbone.parameters())
    # exactly what the VLA's tower computes on the same frames (same resize, same image statistics)
    vla = build_backbone(tower_backbone_config(tower))
    assert vla.image_mean == tuple(STATS["image_mean"])
    with torch.no_grad():
        ref = vla.model.model.vision_model(pixel_values=vla.preprocess(frames)[:, 0]).last_hidden_state
    torch.testing.assert_close(f, ref, rtol=0, atol=1e-6)
    # channels-last frames give the same features
    torch.testing.assert_close(feats(frames.permute(0, 2, 3, 1)), f, rtol=0, atol=0)
    # training the LAM leaves the tower untouched and in eval mode
    before = {k: v.clone() for k, v in feats.backbone.state_dict().items()}
    model.train()
    assert not feats.backbone.training
    o_t, o_tk = frames[:4], frames[1:]
    lam_loss(model(o_t, o_tk), 0.25)["loss"].backward()
    assert all(p.grad is None for p in feats.backbone.parameters())
    assert model.encoder.proj.weight.grad is not None
    assert all(torch.equal(v, before[k]) for k, v in feats.backbone.state_dict().items())


def test_tower_pool_averages_blocks_of_the_patch_grid(tower):
    frames = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8)
    full = LatentActionModel(_tiny_lam(tower)).features(frames)  # (3, 16, 16): a 4x4 grid
    pooled = LatentActionModel(_tiny_lam(tower, tower_pool=2)).features(frames)
    assert pooled.shape == (3, 4, 16)
    grid = full.reshape(3, 4, 4, 16)  # row-major patches
    top_left = grid[:, :2, :2].mean(dim=(1, 2))
    bottom_right = grid[:, 2:, 2:].mean(dim=(1, 2))
    torch.testing.assert_close(pooled[:, 0], top_left)
    torch.testing.assert_close(pooled[:, 3], bottom_right)
    with pytest.raises(ValueError, match="tower_pool 3 must divide the patch grid 4"):
        LatentActionModel(_tiny_lam(tower, tower_pool=3))


def test_a_lam_learns_on_tower_features(tower):
    torch.manual_seed(0)
    model = LatentActionModel(_tiny_lam(tower))
    batch = MovingSquares(8, 0).batch(np.arange(0, 32, 2))  # 16 pairs, all four directions
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    losses = []
    for _ in range(25):
        loss = lam_loss(model(batch["o_t"], batch["o_tk"]), 0.25)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-3:]) < 0.7 * np.mean(losses[:3]), losses


def test_lam_checkpoint_reloads_the_tower_and_refuses_another(tower, tmp_path):
    folder = tmp_path / "tower"
    shutil.copytree(tower, folder)
    cfg = LAMTrainConfig(max_steps=3, batch_size=8, val_every_n_steps=3, val_pairs=8, warmup_steps=1,
                         output_dir=tmp_path / "run", progress=False, model=_tiny_lam(folder))
    res = train_lam(cfg, [MovingSquares(8, 0)], [MovingSquares(4, 1)])
    ckpt = torch.load(res.checkpoint, map_location="cpu", weights_only=False)
    assert not [k for k in ckpt["state_dict"] if k.startswith("model.features.backbone.")]  # tower not copied
    pairs = MovingSquares(2, 2).batch([0, 4])
    model = load_lam(res.checkpoint)
    assert model.encode(pairs["o_t"], pairs["o_tk"]).shape == (2, 1)
    torch.testing.assert_close(model.features(pairs["o_t"]), LatentActionModel(_tiny_lam(tower)).features(pairs["o_t"]))
    _save_tower(folder, seed=1)  # other weights at the same path
    with pytest.raises(ValueError, match=re.escape(f"tower_path {folder} now holds")):
        load_lam(res.checkpoint)


def test_bad_tower_paths_are_clear_errors(tower, tmp_path):
    with pytest.raises(ValueError, match="tower_path"):
        LAMConfig(feature_space="tower")
    missing = tmp_path / "nowhere"
    with pytest.raises(ValueError, match=re.escape(f"tower_path: {missing}: no such folder")):
        LAMConfig(feature_space="tower", tower_path=str(missing))
    with pytest.raises(ValueError, match=re.escape(f"{tmp_path}: no config.json")):
        LAMConfig(feature_space="tower", tower_path=str(tmp_path))
    other = tmp_path / "dinov2"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "dinov2", "hidden_size": 16}))
    with pytest.raises(ValueError, match=re.escape(f"{other / 'config.json'}: model_type 'dinov2'")):
        LAMConfig(feature_space="tower", tower_path=str(other))
    no_weights = tmp_path / "no_weights"
    shutil.copytree(tower, no_weights)
    (no_weights / "model.safetensors").unlink()
    with pytest.raises(ValueError, match=re.escape(f"{no_weights}: no model.safetensors")):
        LAMConfig(feature_space="tower", tower_path=str(no_weights))


def test_lams_of_each_feature_space_get_their_own_default_runs_folder(tower, monkeypatch, tmp_path):
    from wbvla.lam.train import run_dir_for

    monkeypatch.setenv("WBVLA_CACHE", str(tmp_path))
    pixel = run_dir_for(LAMTrainConfig(variant="loco", corpus_size="tutorial"))
    towered = run_dir_for(LAMTrainConfig(variant="loco", corpus_size="tutorial",
                                         model=LAMConfig(feature_space="tower", tower_path=str(tower))))
    pooled = run_dir_for(LAMTrainConfig(variant="loco", corpus_size="tutorial",
                                        model=LAMConfig(feature_space="tower", tower_path=str(tower), tower_pool=2)))
    assert pixel.parts[-2:] == ("tutorial", "loco")  # unchanged for the default
    assert towered.parts[-2:] == ("tutorial_tower", "loco")
    assert pooled.parts[-2:] == ("tutorial_tower_pool2", "loco")


def test_stage2_reads_the_lams_stage1_trains_in_their_feature_space(tower, monkeypatch, tmp_path):
    """Notebooks 05/06 (``vla_plan(lam=...)``): the Stage II config labels its data with the LAMs the same
    plan's Stage I trains, in the same feature space's folder (pixel stays the default)."""
    from wbvla.lam.pipeline import lam_model
    from wbvla.lam.train import run_dir_for
    from wbvla.vla.corpus_data import lam_checkpoint
    from wbvla.vla.pipeline import vla_plan

    monkeypatch.setenv("WBVLA_CACHE", str(tmp_path))
    plan = vla_plan(smoke=True, lam=lam_model("tower", str(tower), 2))
    assert plan.pretrain.lam_features == "tower_pool2" and "_lam-tower_pool2_" in plan.pretrain.run_name()
    for variant in ("mani", "loco"):
        ckpt = run_dir_for(plan.stage1.train[variant]) / "checkpoints" / "last.ckpt"
        ckpt.parent.mkdir(parents=True)
        ckpt.write_bytes(b"")
        assert lam_checkpoint(plan.pretrain, variant) == ckpt
    assert vla_plan(smoke=True).pretrain.lam_features == "pixel"


def test_the_notebooks_tower_default_is_the_shipped_tower():
    """FEATURE_SPACE="tower" with TOWER_PATH=None: the tower shipped in data/vla/vision_tower, named as the
    recipe names it (tools/learned_row_recipe.sh), so a notebook finds the recipe's LAMs."""
    from wbvla.lam.pipeline import lam_model

    model = lam_model("tower", None, 2)
    assert model.tower_path == "data/vla/vision_tower" and model.tower_pool == 2
    assert model == lam_model("tower", "data/vla/vision_tower", 2)
