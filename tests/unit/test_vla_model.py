"""VLA model: latent vocabulary, prompt layout, Eq. 1 (hand-computed), cached decoding vs the
teacher-forced pass, image preprocessing, from_pretrained of a local tiny checkpoint."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from wbvla.vla.backbone import (
    IMAGE_TOKEN,
    build_backbone,
    load_backbone,
    preprocess_images,
    save_backbone,
)
from wbvla.vla.config import BackboneConfig, DecoderConfig, FinetuneConfig, PretrainConfig
from wbvla.vla.latents import LatentVocabulary, latent_token
from wbvla.vla.model import TOKEN_LATENT, TOKEN_QUERY, TOKEN_VISUAL, LatentVLA

TINY = dict(image_size=16, patch_size=4, vision_width=32, vision_layers=1, vision_heads=2, text_width=32,
            text_layers=2, text_heads=2, text_kv_heads=1, text_mlp=64)
VOCAB = {"mani": (1, 4), "loco": (1, 5)}
INSTRUCTIONS = ["Pick up the paper bag.", "Walk over to the shelf, then to the carton, and look at it."]


@pytest.fixture(scope="module")
def vla():
    torch.manual_seed(0)
    vocab = LatentVocabulary(VOCAB)
    return LatentVLA(build_backbone(BackboneConfig(**TINY), vocab.tokens()), vocab).eval()


def test_latent_tokens_are_single_special_tokens(vla):
    tok = vla.backbone.tokenizer
    assert vla.vocab.tokens()[:2] == ["<mani_0>", "<mani_1>"] and len(vla.vocab.tokens()) == 9
    for t in (latent_token("mani", 3), latent_token("loco", 4), IMAGE_TOKEN):
        ids = tok(f"go {t} now", add_special_tokens=False).input_ids
        assert tok.convert_tokens_to_ids(t) in ids  # never split into pieces
    assert vla.vlm.get_input_embeddings().weight.shape[0] == len(tok)
    assert vla.vlm.get_output_embeddings().weight.data_ptr() == vla.vlm.get_input_embeddings().weight.data_ptr()
    assert vla.vocab.split_codes([3, 1]) == {"mani": (3,), "loco": (1,)}


def test_prompt_layout_and_padding(vla):
    p = vla.prompts
    codes = torch.tensor([[1, 4], [3, 0]])
    b = p.batch(INSTRUCTIONS, codes)
    image_id = vla.backbone.tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
    n_img = vla.backbone.image_seq_len
    assert n_img == (16 // 4) ** 2 // 2 ** 2  # pixel shuffle by 2 of a 4x4 patch grid
    for row in range(2):
        ids = b.input_ids[row]
        assert (ids[p.visual_positions] == image_id).all() and int((ids == image_id).sum()) == n_img
        lp = b.latent_pos[row]
        assert lp.tolist() == [int(b.query_pos[row]) + 1, int(b.query_pos[row]) + 2]
        assert ids[lp].tolist() == [int(p.slot_ids[0][codes[row, 0]]), int(p.slot_ids[1][codes[row, 1]])]
        assert int(b.attention_mask[row].sum()) == int(lp[-1]) + 1  # right padding after the last latent
    assert b.query_pos[1] > b.query_pos[0]  # the longer instruction
    with pytest.raises(ValueError, match="instruction"):
        p.batch([""])


def test_eq1_latent_loss_hand_computed(vla):
    # slot 0 (mani, K=4): logits (0, ln 3, 0, 0), code 1 -> -log(3 / 6) = log 2
    # slot 1 (loco, K=5): uniform logits, code 2 -> log 5;   Eq. 1 = log 2 + log 5 = log 10
    logits = [torch.tensor([[0.0, math.log(3.0), 0.0, 0.0]]), torch.zeros(1, 5)]
    loss = vla.latent_loss(logits, torch.tensor([[1, 2]]))
    assert float(loss) == pytest.approx(math.log(10.0), abs=1e-6)


def test_eq1_latent_loss_weighted_by_frame_hand_computed(vla):
    # example 0: log 2 + log 5 = log 10 (as above); example 1: uniform -> log 4 + log 5 = log 20.
    logits = [torch.tensor([[0.0, math.log(3.0), 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]), torch.zeros(2, 5)]
    codes = torch.tensor([[1, 2], [0, 0]])
    assert float(vla.latent_loss(logits, codes)) == pytest.approx(0.5 * (math.log(10.0) + math.log(20.0)), abs=1e-6)
    # a DAgger frame driven by the learner (weight 0) has no Eq. 1 target: the mean is over the others only
    assert float(vla.latent_loss(logits, codes, torch.tensor([True, False]))) == pytest.approx(math.log(10.0), abs=1e-6)
    assert float(vla.latent_loss(logits, codes, torch.tensor([False, True]))) == pytest.approx(math.log(20.0), abs=1e-6)
    assert float(vla.latent_loss(logits, codes, torch.tensor([False, False]))) == 0.0


def test_slot_codes_split_and_join(vla):
    vocab = vla.vocab
    split = vocab.split_codes([3, 1])
    assert split == {"mani": (3,), "loco": (1,)} and vocab.join_codes(split) == [3, 1]
    assert vocab.join_codes({"loco": (4,), "mani": (0,)}) == [0, 4]  # slot order, not dict order


def test_cached_decoding_equals_the_teacher_forced_pass(vla):
    images = torch.randint(0, 255, (2, 20, 20, 3), dtype=torch.uint8)
    pv = vla.encode_images(images)
    batched = vla.greedy_codes(pv, INSTRUCTIONS)
    assert batched.codes.shape == (2, 2) and (batched.codes[:, 0] < 4).all() and (batched.codes[:, 1] < 5).all()
    n = vla.backbone.image_seq_len
    assert batched.kinds.tolist() == [TOKEN_VISUAL] * n + [TOKEN_QUERY] + [TOKEN_LATENT] * 2
    for i, text in enumerate(INSTRUCTIONS):
        one = vla.decode(pv[i:i + 1], text)
        assert one.codes[0].tolist() == batched.codes[i].tolist()
        torch.testing.assert_close(one.tokens[0], batched.tokens[i], atol=1e-5, rtol=1e-4)
    # the decoded hidden states are those of the sequence holding the *predicted* codes
    b = vla.prompts.batch(INSTRUCTIONS, batched.codes)
    tokens, _ = vla.pooled_tokens(vla.hidden_states(pv, b), b)
    torch.testing.assert_close(tokens, batched.tokens, atol=1e-5, rtol=1e-4)


def test_logits_at_a_slot_ignore_later_tokens(vla):
    pv = vla.encode_images(torch.randint(0, 255, (1, 16, 16, 3), dtype=torch.uint8))
    out = []
    for loco in (0, 4):  # change only the last latent token: causal attention, mani logits unchanged
        b = vla.prompts.batch(INSTRUCTIONS[:1], torch.tensor([[2, loco]]))
        out.append(vla.latent_logits(vla.hidden_states(pv, b), b))
    torch.testing.assert_close(out[0][0], out[1][0])
    torch.testing.assert_close(out[0][1], out[1][1])  # slot 1's logits are read *before* its token


def test_preprocess_images_normalizes_and_resizes():
    white = torch.full((2, 8, 8, 3), 255, dtype=torch.uint8)
    pv = preprocess_images(white, 16, (0.5,) * 3, (0.5,) * 3)
    assert pv.shape == (2, 1, 3, 16, 16)
    torch.testing.assert_close(pv, torch.ones_like(pv))  # (1 - 0.5) / 0.5
    black = preprocess_images(torch.zeros(1, 3, 16, 16, dtype=torch.uint8), 16, (0.5,) * 3, (0.25,) * 3)
    torch.testing.assert_close(black, torch.full_like(black, -2.0))  # (0 - 0.5) / 0.25
    with pytest.raises(ValueError, match="colour channels"):
        preprocess_images(torch.zeros(1, 4, 8, 8, dtype=torch.uint8), 16, (0.5,) * 3, (0.5,) * 3)
    with pytest.raises(ValueError, match="shape"):
        preprocess_images(torch.zeros(8, 8, 3, dtype=torch.uint8), 16, (0.5,) * 3, (0.5,) * 3)


def test_from_pretrained_of_a_local_checkpoint_is_the_same_model(vla, tmp_path):
    folder = save_backbone(vla.backbone, tmp_path / "ckpt", half=False)
    assert (folder / "model.safetensors").is_file() and not list(folder.glob("*.bin"))
    again = build_backbone(BackboneConfig(preset="pretrained", pretrained_path=str(folder)), vla.vocab.tokens())
    assert len(again.tokenizer) == len(vla.backbone.tokenizer)  # nothing added twice
    other = LatentVLA(again, vla.vocab).eval()
    pv = vla.encode_images(torch.randint(0, 255, (1, 16, 16, 3), dtype=torch.uint8))
    a, b = vla.decode(pv, INSTRUCTIONS[0]), other.decode(pv, INSTRUCTIONS[0])
    assert a.codes.tolist() == b.codes.tolist()
    torch.testing.assert_close(a.tokens, b.tokens)
    loaded = load_backbone(folder)
    assert loaded.image_size == 16 and loaded.image_mean == (0.5, 0.5, 0.5)
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_backbone(tmp_path / "nothing")


def test_bad_configs_name_the_value():
    with pytest.raises(ValueError, match="preset"):
        BackboneConfig(preset="huge")
    with pytest.raises(ValueError, match="pretrained_path"):
        BackboneConfig(preset="pretrained")
    with pytest.raises(ValueError, match="scale_factor"):
        BackboneConfig(image_size=24, patch_size=8, scale_factor=2)
    with pytest.raises(ValueError, match="lam_variant"):
        PretrainConfig(lam_variant="both")
    with pytest.raises(ValueError, match="both be 0"):
        PretrainConfig(human_video_fraction=0.0, robot_video_fraction=0.0)
    with pytest.raises(ValueError, match="human_video_fraction"):
        PretrainConfig(human_video_fraction=1.5)
    with pytest.raises(ValueError, match="command_kind"):
        FinetuneConfig(command_kind="torques")
    with pytest.raises(ValueError, match="max_demos_per_task"):
        FinetuneConfig(max_demos_per_task=0)
    with pytest.raises(ValueError, match="codes"):
        LatentVocabulary({"mani": (1, 1)})


def test_run_names_tell_variants_apart():
    names = {PretrainConfig().run_name(), PretrainConfig(lam_variant="shared").run_name(),
             PretrainConfig(human_video_fraction=0.25).run_name(),
             PretrainConfig(backbone=BackboneConfig(preset="smollm2")).run_name()}
    assert len(names) == 4
    ft = {FinetuneConfig().run_name(), FinetuneConfig(use_state=False).run_name(),
          FinetuneConfig(command_kind="velocity").run_name(), FinetuneConfig(max_demos_per_task=10).run_name(),
          FinetuneConfig(decoder=DecoderConfig(residual=False)).run_name()}
    assert len(ft) == 5 and FinetuneConfig(decoder=DecoderConfig(residual=False)).run_name() == "mani_loco_tiny_128px_flags_abs"
    # without s_t there is nothing to be residual to: the name says "nostate" only
    assert FinetuneConfig(use_state=False, decoder=DecoderConfig(residual=False)).run_name() == FinetuneConfig(use_state=False).run_name()
    no_grip = DecoderConfig(residual=False, state_groups=("arms", "height"))
    assert FinetuneConfig(decoder=no_grip).run_name() == "mani_loco_tiny_128px_flags_abs_nogrippersstate"


@pytest.mark.slow
def test_smollm2_preset_carries_the_gguf_text_weights():
    from wbvla.vla.backbone import _import_transformers, smollm2_gguf_path

    tf = _import_transformers()
    gguf = smollm2_gguf_path()
    ref = tf.AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    bb = build_backbone(BackboneConfig(preset="smollm2", smollm2_layers=2), ["<mani_0>"])
    text = bb.model.model.text_model
    assert len(text.layers) == 2 and bb.hidden_size == 576
    np.testing.assert_array_equal(text.layers[1].mlp.down_proj.weight.detach().numpy(),
                                  ref.model.layers[1].mlp.down_proj.weight.detach().numpy())
    n = ref.model.embed_tokens.weight.shape[0]
    np.testing.assert_array_equal(text.embed_tokens.weight[:n].detach().numpy(), ref.model.embed_tokens.weight.detach().numpy())


def test_random_shift_is_a_translated_crop():
    from torch.nn.functional import pad

    from wbvla.vla.model import random_shift

    x = torch.arange(2 * 3 * 5 * 5, dtype=torch.float).reshape(2, 1, 3, 5, 5)
    assert torch.equal(random_shift(x, 0), x)
    y = random_shift(x, 2, torch.Generator().manual_seed(0))
    assert y.shape == x.shape
    for b in range(2):
        padded = pad(x[b], (2, 2, 2, 2), mode="replicate")[0]  # (3, 9, 9)
        assert any(torch.equal(padded[:, dy:dy + 5, dx:dx + 5], y[b, 0]) for dy in range(5) for dx in range(5))


def test_sized_finetune_config_is_each_callers_recipe():
    """The one size factory gives exactly the configs its callers built by hand before (so their
    run folders and same-run checks are unchanged)."""
    from dataclasses import replace

    from wbvla.suite.config import TrainingSizes
    from wbvla.suite.trials import finetune_config, row_spec
    from wbvla.vla.config import VariantJobConfig, sized_finetune_config
    from wbvla.vla.pipeline import vla_plan
    from wbvla.vla.variants import variant_config

    # the task suite's training sizes
    sizes = TrainingSizes(corpus_size="smoke", dataset_size="full", pretrain_steps=7, finetune_steps=9)
    pre = PretrainConfig(corpus_size="smoke", max_steps=7, threads=3, progress=False)
    want = FinetuneConfig(pretrain=pre, dataset_size="full", max_steps=9, threads=3, progress=False)
    assert finetune_config(row_spec("no_lam"), sizes, threads=3) == variant_config("no_lam", want)
    # wbvla vla-variant
    job = VariantJobConfig(corpus_size="smoke", pretrain_steps=11, preset="smollm2",
                           base=FinetuneConfig(max_steps=13, threads=2, device="cpu", progress=False))
    pre = replace(job.base.pretrain, corpus_size="smoke", max_steps=11, backbone=BackboneConfig(preset="smollm2"),
                  threads=2, device="cpu", progress=False)
    assert job.finetune_config() == replace(job.base, pretrain=pre)
    # notebooks 05/06, SMOKE
    plan = vla_plan(smoke=True, seed=4, device="cpu", threads=1, progress=False)
    small = dict(batch_size=16, val_every_n_steps=10, warmup_steps=5)
    pre = PretrainConfig(corpus_size="smoke", seed=4, device="cpu", threads=1, progress=False, val_pairs=64, max_steps=20,
                         **small)
    assert plan.finetune == FinetuneConfig(pretrain=pre, dataset_root=plan.finetune.dataset_root, seed=4, device="cpu",
                                           threads=1, progress=False, heldout_episodes_per_task=1, max_steps=20, **small)
    assert plan.pretrain == pre
    # None keeps the base's value; the preset is the model's size
    base = FinetuneConfig(max_steps=5, dataset_size="x")
    got = sized_finetune_config("full", base=base)
    assert (got.max_steps, got.dataset_size, got.pretrain.corpus_size, got.pretrain.max_steps) == (5, "x", "full", 1500)
    assert sized_finetune_config(preset="smollm2").pretrain.backbone == BackboneConfig(preset="smollm2")
    with pytest.raises(ValueError, match="corpus_size"):
        sized_finetune_config("huge")
