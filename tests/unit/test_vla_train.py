"""Stage II -> Stage III -> policy, end to end on a tiny world: resumable Lightning runs, export
without pickle, load round trip, act() contract, variants."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pytest
from vla_helpers import fake_world

from wbvla.control.policy_contract import Policy, PolicyOutput
from wbvla.lam.train import training_history
from wbvla.vla.config import BackboneConfig, DecoderConfig, FinetuneConfig, PretrainConfig
from wbvla.vla.teleop_data import synthetic_episodes
from wbvla.vla.variants import VARIANTS, variant_config

TINY = BackboneConfig(image_size=16, patch_size=4, vision_width=32, vision_layers=1, vision_heads=2, text_width=32,
                      text_layers=2, text_heads=2, text_kv_heads=1, text_mlp=64)


@pytest.fixture()
def world(monkeypatch):
    corpus, runs, cache = fake_world()
    monkeypatch.setenv("WBVLA_CACHE", str(cache))
    return corpus, runs


def _pretrain(corpus, runs, tmp, lam_variant="mani_loco", steps=4) -> PretrainConfig:
    return PretrainConfig(lam_variant=lam_variant, corpus_size="smoke", corpus_root=corpus, lam_runs=runs, batch_size=8,
                          max_steps=steps, warmup_steps=1, val_every_n_steps=2, val_pairs=8, progress=False,
                          output_dir=tmp / f"pre_{lam_variant}", backbone=TINY)


def _finetune(pre, tmp, **kw) -> FinetuneConfig:
    return FinetuneConfig(pretrain=pre, heldout_episodes_per_task=1, chunk_size=3, lora_r=4, lora_alpha=8, batch_size=8,
                          max_steps=4, warmup_steps=1, val_every_n_steps=2, progress=False, output_dir=tmp / "ft",
                          decoder=DecoderConfig(width=16, queries=2, heads=2, state_width=8), **kw)


def test_stage2_trains_resumes_and_exports(world, tmp_path):
    from wbvla.training.harness import summarize
    from wbvla.vla.pretrain import heldout_topk, load_pretrained, pretrain

    cfg = _pretrain(*world, tmp_path)
    res = pretrain(cfg)
    assert res.fit.steps == 4 and res.fit.steps_this_call == 4 and res.fit.examples_per_s > 0
    assert res.train_examples["mani"] > 0 and res.train_examples["loco_human"] > 0
    assert not list(res.fit.checkpoint.parent.glob(".*tmp*"))
    assert pretrain(cfg).fit.steps_this_call == 0  # finished: nothing trained again
    cfg.max_steps = 6
    assert pretrain(cfg).fit.steps_this_call == 2  # resumed from last.ckpt
    assert summarize(res.fit.run_dir)["steps"] == 6
    files = {p.name for p in res.model_dir.iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "vla.json"} <= files
    assert not {f for f in files if f.endswith((".bin", ".pt", ".pkl", ".ckpt"))}
    vla = load_pretrained(res.model_dir)
    assert vla.vocab.lams == {"mani": (1, 4), "loco": (1, 4)}
    from wbvla.vla.corpus_data import STAGE2_SOURCES, stage2_source

    parts = [stage2_source(cfg, s, "heldout") for s in STAGE2_SOURCES]
    table = heldout_topk(vla, parts, res.majority)
    assert set(table.index.get_level_values("slot")) == {"mani", "loco"}
    assert table["top1"].between(0, 1).all() and (table.loc["all", "n"] == sum(len(p) for p in parts)).all()
    with pytest.raises(ValueError, match="no Stage II"):
        pretrain(_pretrain(*world, tmp_path, lam_variant="none"))


def test_stage3_policy_round_trip_and_act_contract(world, tmp_path):
    from wbvla.vla.finetune import finetune
    from wbvla.vla.policy import VLAPolicy, parameter_counts
    from wbvla.vla.variants import ship_policy

    eps = synthetic_episodes(per_task=2, length=8, size=24)
    cfg = _finetune(_pretrain(*world, tmp_path), tmp_path)
    res = finetune(cfg, eps)
    assert res.fit.steps == 4 and res.train_episodes == 3 and res.heldout_episodes == 3
    hist = training_history(res.fit.run_dir)
    for key in ("train/latent_ce", "train/arm_l1", "train/flag_ce", "train/height_l1", "val/arm_l1_rad",
                "val/flag_accuracy_yaw", "val/h_star_err_m", "val/latent_top1"):
        assert key in hist.columns and hist[key].notna().any(), key
    suffixes = {p.suffix for p in res.policy_dir.rglob("*") if p.is_file()}
    assert suffixes <= {".json", ".safetensors", ".md", ".jinja"}  # nothing to unpickle
    assert finetune(cfg, eps).fit.steps_this_call == 0

    merged = VLAPolicy.load(res.policy_dir)
    unmerged = VLAPolicy.load(res.policy_dir, merge_lora=False)
    assert isinstance(merged, Policy) and merged.model_id == json.loads((res.policy_dir / "policy.json").read_text())["model_id"]
    ep = eps[-1]
    a = merged.act(ep.frames[2], ep.instruction, ep.state[2])
    b = unmerged.act(ep.frames[2], ep.instruction, ep.state[2])
    assert isinstance(a, PolicyOutput) and a.arm_targets.shape == (3, 14) and a.grippers.shape == (3, 2)
    assert a.command_kind == "flags" and set(a.command[:3]) <= {-1.0, 0.0, 1.0}
    assert set(a.latents) == {"mani", "loco"} and a.latents == b.latents
    np.testing.assert_allclose(a.arm_targets, b.arm_targets, atol=1e-4)
    assert a.info["ms"]["total"] > 0 and a.info["model_id"] == merged.model_id
    with pytest.raises(ValueError, match="state"):
        merged.act(ep.frames[0], ep.instruction, np.zeros(5))
    with pytest.raises(ValueError, match="uint8"):
        merged.act(ep.frames[0].astype(float), ep.instruction, ep.state[0])
    with pytest.raises(FileNotFoundError, match="policy.json"):
        VLAPolicy.load(tmp_path)

    counts = parameter_counts(res.policy_dir)
    assert 0 < counts["adapter"] < counts["base"] and counts["decoder"] > 0
    shipped = ship_policy(res.policy_dir, tmp_path / "data" / "tutorial")
    again = VLAPolicy.load(shipped)
    assert again.model_id == merged.model_id
    np.testing.assert_allclose(again.act(ep.frames[2], ep.instruction, ep.state[2]).arm_targets, a.arm_targets, atol=1e-6)
    ship_policy(res.policy_dir, shipped)  # replacing a shipped policy leaves no temp folders behind
    assert sorted(p.name for p in shipped.parent.iterdir()) == ["tutorial"]


def test_ablation_switches_reach_the_policy(world, tmp_path):
    from wbvla.vla.finetune import finetune
    from wbvla.vla.policy import VLAPolicy

    eps = synthetic_episodes(per_task=2, length=6, size=16)
    base = _finetune(_pretrain(*world, tmp_path), tmp_path)
    cfg = variant_config("velocity_rl", base)
    cfg.output_dir = tmp_path / "velocity"
    vel = VLAPolicy.load(finetune(cfg, eps).policy_dir)
    out = vel.act(eps[0].frames[1], eps[0].instruction, eps[0].state[1])
    assert out.command_kind == "velocity" and out.command.shape == (4,)
    cfg = variant_config("no_lam", base)
    cfg.output_dir = tmp_path / "nolam"
    blind = VLAPolicy.load(finetune(cfg, eps).policy_dir)  # no Stage II, no latent tokens
    out = blind.act(eps[0].frames[1], eps[0].instruction, eps[0].state[1])
    assert out.latents == {} and blind.vla.num_slots == 0
    s = eps[0].state[1]
    cfg = variant_config("no_state", base)
    cfg.output_dir = tmp_path / "nostate"
    nostate = VLAPolicy.load(finetune(cfg, eps).policy_dir)
    x = nostate.act(eps[0].frames[1], eps[0].instruction, s)
    y = nostate.act(eps[0].frames[1], eps[0].instruction, s + 1.0)
    np.testing.assert_allclose(x.arm_targets, y.arm_targets)


def test_variant_table():
    assert set(VARIANTS) == {"wholebodyvla", "no_lam", "mani_lam", "shared_lam", "velocity_rl", "no_state"}
    assert variant_config("mani_lam").lam_variant == "mani"
    assert variant_config("shared_lam").pretrain.lam_variant == "shared"
    assert variant_config("velocity_rl").command_kind == "velocity"
    assert variant_config("no_state").use_state is False
    fig3 = variant_config("wholebodyvla", human_video_fraction=0.25, robot_video_fraction=0.5, max_demos_per_task=10)
    assert (fig3.pretrain.human_video_fraction, fig3.pretrain.robot_video_fraction, fig3.max_demos_per_task) == (0.25, 0.5, 10)
    assert fig3.run_name() != variant_config("wholebodyvla").run_name()
    with pytest.raises(ValueError, match="variant"):
        variant_config("no_vla")


def test_pretrain_config_round_trips_through_a_run_folder(tmp_path):
    from wbvla.io import write_json_atomic
    from wbvla.vla.pretrain import pretrain_config_from_run

    cfg = PretrainConfig(lam_variant="shared", human_video_fraction=0.5, backbone=TINY)
    write_json_atomic(tmp_path / "train_config.json", json.loads(json.dumps(asdict(cfg), default=str)))
    back = pretrain_config_from_run(tmp_path)
    assert back.lam_variant == "shared" and back.human_video_fraction == 0.5 and back.backbone == TINY
    assert back.output_dir == tmp_path


def test_lora_reaches_the_vision_tower_only_when_asked(world, tmp_path):
    import re

    from wbvla.vla.decoder import ActionStats
    from wbvla.vla.finetune import FinetuneModule, lora_target_pattern
    from wbvla.vla.model import load_base
    from wbvla.vla.pretrain import pretrain

    pre = _pretrain(*world, tmp_path)
    base = pretrain(pre).model_dir
    names = [n for n, _ in load_base(base).vlm.named_modules()]
    for lora_vision in (True, False):
        cfg = _finetune(pre, tmp_path, lora_vision=lora_vision)
        hit = {n for n in names if re.fullmatch(lora_target_pattern(cfg), n)}
        assert any("text_model.layers.1.mlp.down_proj" in n for n in hit)
        assert any("vision_model.encoder.layers.0.self_attn.q_proj" in n for n in hit) is lora_vision
        assert any("connector.modality_projection.proj" in n for n in hit) is lora_vision
        assert not any("embed" in n or "lm_head" in n for n in hit)
        stats = {k: v.tolist() for k, v in vars(ActionStats.identity()).items()}
        module = FinetuneModule(str(base), json.loads(json.dumps(asdict(cfg), default=str)), stats)
        trainable = {n for n, p in module.vla.named_parameters() if p.requires_grad}
        assert all("lora_" in n for n in trainable)
        assert any("vision_model" in n for n in trainable) is lora_vision
    assert _finetune(pre, tmp_path, lora_vision=False).run_name().endswith("_flags_textlora")
    assert FinetuneConfig(pretrain=pre, dataset_size="full").run_name().endswith("_flags_full")


def test_a_run_folder_refuses_to_resume_with_another_recipe(world, tmp_path):
    from wbvla.vla.finetune import finetune

    eps = synthetic_episodes(per_task=2, length=8, size=24)
    cfg = _finetune(_pretrain(*world, tmp_path), tmp_path)
    finetune(cfg, eps)
    cfg.max_steps = 6  # longer is the same recipe: it resumes
    assert finetune(cfg, eps).fit.steps_this_call == 2
    cfg.lora_vision = False
    with pytest.raises(ValueError, match=r"train_config\.json.*lora_vision: True -> False"):
        finetune(cfg, eps)


def test_stage2_trains_a_pretrained_backbone_in_train_mode():
    """from_pretrained() returns eval mode; Stage II must train the shipped tower's VLA as it trains a random one
    (Lightning warned "Found 94 module(s) in eval mode" at every Stage II start on the recipe)."""
    from dataclasses import asdict

    from wbvla.paths import shipped_vision_tower
    from wbvla.vla.config import BackboneConfig
    from wbvla.vla.latents import LatentVocabulary
    from wbvla.vla.pretrain import PretrainModule

    backbone = asdict(BackboneConfig(preset="pretrained", pretrained_path=str(shipped_vision_tower())))
    module = PretrainModule(backbone, LatentVocabulary({"mani": (1, 16), "loco": (1, 16)}).to_json())
    assert all(m.training for m in module.modules())
