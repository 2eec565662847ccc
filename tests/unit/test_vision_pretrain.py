"""Vision-tower pretraining: heads, label-consistent augmentation, a tiny run end to end, and the
tower loading through the VLA's from_pretrained path."""

import numpy as np
import pytest
import torch

from wbvla.data.vision_renders import VisionRenderConfig
from wbvla.vla.backbone import build_backbone
from wbvla.vla.config import BackboneConfig
from wbvla.vla.vision_pretrain import (
    KEYPOINTS,
    TowerHeads,
    load_tower_heads,
    pretrain_vision_tower,
    shift_with_labels,
    tower_backbone_config,
)
from wbvla.vla.vision_pretrain_config import VisionPretrainConfig

TINY_TOWER = dict(tower_width=32, tower_layers=1, tower_heads=2, patch_size=8)
TINY_TEXT = BackboneConfig(text_width=32, text_layers=1, text_heads=2, text_kv_heads=1, text_mlp=64)


def test_soft_argmax_heads_point_at_the_hot_patch():
    heads = TowerHeads(width=8, grid=4, patch=8, body_mean=torch.zeros(10), body_std=torch.ones(10))
    with torch.no_grad():
        heads.norm.weight.fill_(1.0)
        heads.norm.bias.zero_()
        heads.heatmap.weight.zero_()
        heads.heatmap.weight[:, 0] = 50.0  # every keypoint follows channel 0
        heads.heatmap.bias.zero_()
    tokens = torch.zeros(1, 16, 8)
    tokens[0, :, 1] = 1.0
    tokens[0, 6, 0], tokens[0, 6, 1] = 4.0, 0.0  # patch (row 1, col 2): centre u = 20, v = 12
    out = heads(tokens)
    assert out["uv"].shape == (1, KEYPOINTS, 2) and out["body_z"].shape == (1, 10)
    assert torch.allclose(out["uv"][0], torch.tensor([20.0, 12.0]).expand(KEYPOINTS, 2), atol=0.05)


def test_shift_moves_labels_with_the_image():
    img = torch.zeros(3, 1, 16, 16)
    img[:, :, 5, 9] = 1.0  # a bright pixel at u = 9.5, v = 5.5
    uv = torch.tensor([[9.5, 5.5]]).expand(3, 1, 2).clone()
    out, moved = shift_with_labels(img, uv, 2, torch.Generator().manual_seed(1))
    for b in range(3):
        r, c = np.unravel_index(int(out[b, 0].argmax()), (16, 16))
        assert (c + 0.5, r + 0.5) == tuple(moved[b, 0].tolist())
    assert shift_with_labels(img, uv, 0)[1] is uv


def test_config_checks():
    with pytest.raises(ValueError, match="must be a multiple of patch_size"):
        VisionPretrainConfig(renders=VisionRenderConfig(image_size=60))
    with pytest.raises(ValueError, match="training seeds only"):
        VisionPretrainConfig(renders=VisionRenderConfig(first_seed=1_000_000))
    with pytest.raises(ValueError, match="val_fraction"):
        VisionPretrainConfig(val_fraction=0.9)
    cfg = VisionPretrainConfig()
    assert cfg.backbone().image_size == 128 and cfg.backbone().vision_width == 192 and cfg.run_name() == "default_192x6"
    assert VisionPretrainConfig(renders=VisionRenderConfig(image_size=64)).backbone().image_size == 64
    assert VisionPretrainConfig(freeze_tower=True).run_name() == "default_192x6_frozen"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("vp")
    renders = VisionRenderConfig(renders=12, renders_per_scene=3, image_size=32, shard_size=12, root=root / "renders")
    cfg = VisionPretrainConfig(renders=renders, text=TINY_TEXT, **TINY_TOWER, val_fraction=0.25, steps=3,
                               batch_size=4, val_every_n_steps=3, warmup_steps=1, device="cpu", progress=False,
                               output_dir=root / "run")
    return cfg, pretrain_vision_tower(cfg)


def test_tiny_pretraining_writes_metrics_and_a_loadable_tower(tiny_run):
    cfg, out = tiny_run
    assert out["steps"] == 3 and out["train_renders"] == 9 and out["val_renders"] == 3
    for key in ("kp_px_median", "kp_cm_median", "hand_cm_median", "bar_cm_median", "visible_acc_median"):
        assert np.isfinite(out["val"][key]) and np.isfinite(out["val_mean_predictor"][key])
    # the tower loads as a 'pretrained' backbone: the same weights (fp16 on disk), the heads beside it
    trained = torch.load(cfg.output_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]
    bb = build_backbone(tower_backbone_config(out["tower"]))
    assert bb.source == out["tower"] and bb.image_size == 32
    w = bb.model.model.vision_model.encoder.layers[0].self_attn.q_proj.weight
    ref = trained["tower.encoder.layers.0.self_attn.q_proj.weight"]
    assert torch.allclose(w, ref.half().float(), atol=1e-3)
    heads = load_tower_heads(out["tower"])  # fp16 weights on disk, fp32 label statistics
    assert torch.equal(heads.heatmap.weight, trained["heads.heatmap.weight"].half().float())
    assert torch.equal(heads.body_std, trained["heads.body_std"]) and heads.heatmap.weight.dtype == torch.float32


def test_frozen_tower_keeps_its_initial_weights(tiny_run, tmp_path):
    cfg, _ = tiny_run
    from dataclasses import replace

    frozen = replace(cfg, freeze_tower=True, steps=2, val_every_n_steps=2, output_dir=tmp_path / "frozen")
    pretrain_vision_tower(frozen)
    torch.manual_seed(frozen.seed)  # the tower is built right after seeding (build_module)
    ref = build_backbone(frozen.backbone()).model.model.vision_model.state_dict()
    state = torch.load(tmp_path / "frozen" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]
    for k, v in ref.items():
        assert torch.equal(state[f"tower.{k}"], v), k


def test_missing_tower_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a pretrained tower folder"):
        tower_backbone_config(tmp_path)
    with pytest.raises(FileNotFoundError, match="vision_heads.json"):
        load_tower_heads(tmp_path)


def test_stage3_starts_from_the_pretrained_tower(tiny_run, tmp_path):
    """``vision_tower`` makes the VLA's backbone the pretrained folder (the w/o LAM row needs no
    Stage II): a 2-step Stage III keeps the tower's weights in its base, and a wrong image size or
    a missing folder is refused naming the folder."""
    from dataclasses import replace

    from wbvla.vla.config import DecoderConfig, FinetuneConfig, VariantJobConfig, with_vision_tower
    from wbvla.vla.finetune import finetune
    from wbvla.vla.teleop_data import synthetic_episodes
    from wbvla.vla.variants import variant_config

    _, out = tiny_run
    base = FinetuneConfig(heldout_episodes_per_task=1, chunk_size=3, lora_r=4, lora_alpha=8, batch_size=8, max_steps=2,
                          warmup_steps=1, val_every_n_steps=2, progress=False, device="cpu",
                          decoder=DecoderConfig(width=16, queries=2, heads=2, state_width=8))
    base = replace(base, pretrain=replace(base.pretrain, backbone=replace(base.pretrain.backbone, image_size=32)))
    cfg = variant_config("no_lam", with_vision_tower(base, out["tower"]))
    assert cfg.pretrain.backbone.preset == "pretrained" and "pretrained" in cfg.run_name()
    cfg = replace(cfg, output_dir=tmp_path / "ft")
    res = finetune(cfg, synthetic_episodes(per_task=2, length=8, size=32))
    got = build_backbone(BackboneConfig(preset="pretrained", pretrained_path=str(tmp_path / "ft" / "base")))
    ref = build_backbone(tower_backbone_config(out["tower"]))
    w = lambda bb: bb.model.model.vision_model.encoder.layers[0].self_attn.q_proj.weight  # noqa: E731
    assert torch.equal(w(got), w(ref)) and (res.policy_dir / "policy.json").is_file()
    with pytest.raises(ValueError, match="reads 32 px images, the config 128 px"):
        with_vision_tower(FinetuneConfig(), out["tower"])
    with pytest.raises(FileNotFoundError, match=f"{tmp_path}: no config.json"):
        VariantJobConfig(vision_tower=tmp_path).finetune_config()


def test_snapshot_of_a_run_exports_its_newest_checkpoint(tiny_run):
    """An unfinished run's tower can be taken out (Stage III on it while pretraining goes on later):
    the same weights as the checkpoint, the step and the logged held-out metrics beside it."""
    import json

    from wbvla.vla.vision_pretrain import snapshot_tower

    cfg, out = tiny_run
    folder = snapshot_tower(cfg.output_dir)
    snap = json.loads((folder / "snapshot.json").read_text())
    assert folder.name == "tower_step3" and snap["step"] == 3 and snap["planned_steps"] == 3
    assert snap["val"]["kp_px_median"] == pytest.approx(out["val"]["kp_px_median"], rel=1e-4)
    a = build_backbone(tower_backbone_config(folder)).model.model.vision_model.state_dict()
    b = build_backbone(tower_backbone_config(out["tower"])).model.model.vision_model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(FileNotFoundError, match="train_config.json: missing"):
        snapshot_tower(folder)


def test_ship_copies_the_tower_with_its_measurements(tiny_run, tmp_path):
    """``wbvla vision-ship``: the shipped folder loads with the run's weights and carries the held-out
    errors, the steps and the pretraining's wall and CPU time from every call of train_log.json."""
    import json

    from wbvla.data.vision_renders import render_dataset
    from wbvla.vla.vision_pretrain import ship_tower
    from wbvla.vla.vision_pretrain_config import VisionShipConfig

    cfg, out = tiny_run
    again = render_dataset(cfg.renders)  # every shard made: this call renders nothing, the rate stays
    assert again["this_call"]["rendered"] == 0 and [c["rendered"] for c in again["render_calls"]] == [12]
    dest = ship_tower(cfg.output_dir, dest=tmp_path / "vision_tower")
    prov = json.loads((dest / "provenance.json").read_text())
    assert prov["steps"] == 3 and prov["val"]["kp_px_median"] == pytest.approx(out["val"]["kp_px_median"])
    calls = json.loads((cfg.output_dir / "train_log.json").read_text())
    assert prov["pretrain_wall_s"] == pytest.approx(sum(c["wall_s"] for c in calls), abs=0.11)
    assert prov["pretrain_cpu_s"] > 0 and prov["renders"]["renders"] == 12 and prov["renders"]["renders_per_cpu_s"] > 0
    a = build_backbone(tower_backbone_config(dest)).model.model.vision_model.state_dict()
    b = build_backbone(tower_backbone_config(out["tower"])).model.model.vision_model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert torch.equal(load_tower_heads(dest).heatmap.weight, load_tower_heads(out["tower"]).heatmap.weight)
    again = ship_tower(cfg.output_dir, dest=dest)  # replacing a shipped tower leaves no temp folders
    assert again == dest and sorted(p.name for p in tmp_path.iterdir()) == ["vision_tower"]
    with pytest.raises(ValueError, match="holds no tower_step7"):
        VisionShipConfig(run=cfg.output_dir, tower="tower_step7")
    with pytest.raises(ValueError, match="is not a folder"):
        VisionShipConfig(run=tmp_path / "nope")
