"""LAM: quantizer (hand-computed), loss terms and their gradients, shapes, DINOv2 path, RRG (Eq. 6)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wbvla.lam.config import LAMConfig, LAMTrainConfig
from wbvla.lam.model import LatentActionModel, lam_loss
from wbvla.lam.quantizer import VectorQuantizer, code_statistics, nearest_code, vq_loss_terms
from wbvla.lam.rrg import pair_mse, rrg, rrg_by_group

SMALL = dict(model_dim=32, num_heads=2, encoder_layers=1, decoder_layers=1, image_size=16, patch_size=4)


def test_rrg_hand_computed():
    # Eq. 6 with MSE_base = 0.04, MSE_recon = 0.03: (0.04 - 0.03) / 0.04 = 0.25
    assert rrg(0.04, 0.03) == pytest.approx(0.25)
    assert rrg(0.02, 0.02) == pytest.approx(0.0)
    assert rrg(0.01, 0.015) == pytest.approx(-0.5)
    np.testing.assert_allclose(rrg(np.array([2.0, 4.0]), np.array([1.0, 1.0])), [0.5, 0.75])


def test_pair_mse_and_group_rrg_hand_computed():
    f_t = torch.zeros(2, 1, 2)
    f_tk = torch.tensor([[[1.0, 1.0]], [[2.0, 0.0]]])
    pred = torch.tensor([[[1.0, 0.0]], [[1.0, 0.0]]])
    base, recon = pair_mse(f_t, f_tk, pred)
    np.testing.assert_allclose(base.numpy(), [1.0, 2.0])  # (1+1)/2, (4+0)/2
    np.testing.assert_allclose(recon.numpy(), [0.5, 0.5])  # (0+1)/2, (1+0)/2
    # ratio of means per group: a -> (1 - 0.5)/1 = 0.5; b -> (2 - 0.5)/2 = 0.75; both -> (1.5 - 0.5)/1.5
    out = rrg_by_group(np.array([1.0, 2.0, 1.0, 2.0]), np.array([0.5, 0.5, 0.5, 0.5]), np.array(["a", "b", "a", "b"]))
    assert out == pytest.approx({"a": 0.5, "b": 0.75})


def test_nearest_code_hand_computed():
    codebook = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    z = torch.tensor([[[0.9, 0.1], [0.1, 1.2]], [[-0.3, 0.0], [0.4, 0.0]]])  # (2, 2, 2)
    assert nearest_code(z, codebook).tolist() == [[1, 2], [0, 0]]


def test_vq_terms_hand_computed_and_gradients_go_where_the_paper_says():
    z = torch.tensor([[1.0, 2.0]], requires_grad=True)
    c = torch.tensor([[0.0, 0.0]], requires_grad=True)
    enc, cb = vq_loss_terms(z, c)
    assert enc.item() == pytest.approx(5.0) and cb.item() == pytest.approx(5.0)  # 1^2 + 2^2
    enc.backward(retain_graph=True)
    assert c.grad is None or torch.all(c.grad == 0)  # ||sg[c] - z||^2 only moves z
    np.testing.assert_allclose(z.grad.numpy(), [[2.0, 4.0]])  # d/dz ||z - c||^2 = 2 (z - c)
    z.grad = None
    cb.backward()
    assert z.grad is None or torch.all(z.grad == 0)  # ||c - sg[z]||^2 only moves c
    np.testing.assert_allclose(c.grad.numpy(), [[-2.0, -4.0]])


def test_quantizer_straight_through_and_dead_code_restart():
    torch.manual_seed(0)
    vq = VectorQuantizer(size=4, dim=3, dead_code_steps=2, normalize=False).train()
    z = torch.randn(8, 1, 3, requires_grad=True)
    q = vq(z)
    assert torch.allclose(q.z_q, vq.codebook[q.codes])  # forward value is the code
    q.z_q.sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), np.ones((8, 1, 3)))  # gradient passes straight through
    # feed one cluster only: the other codes go unused and get restarted on encoder outputs
    before = int(vq.restarts)
    for _ in range(4):
        vq(torch.full((8, 1, 3), 5.0) + 0.01 * torch.randn(8, 1, 3))
    assert int(vq.restarts) > before
    near = ((vq.codebook - 5.0).abs() < 1.0).all(dim=1)
    assert int(near.sum()) >= 3  # the unused codes were restarted where z lives (the used one stays)


def test_normalized_quantizer_lives_on_the_unit_sphere():
    torch.manual_seed(0)
    vq = VectorQuantizer(size=8, dim=4, normalize=True).train()
    q = vq(5.0 * torch.randn(16, 2, 4))
    torch.testing.assert_close(vq.codes_table.norm(dim=-1), torch.ones(8))
    torch.testing.assert_close(q.z_q.norm(dim=-1), torch.ones(16, 2))
    # the lookup is the cosine nearest code
    z = vq.project(torch.randn(5, 1, 4))
    assert torch.equal(nearest_code(z, vq.codes_table)[:, 0], (z[:, 0] @ vq.codes_table.t()).argmax(1))


def test_code_statistics():
    ppl, usage = code_statistics(torch.tensor([0, 1, 2, 3]), 8)
    assert ppl.item() == pytest.approx(4.0) and usage.item() == pytest.approx(0.5)
    ppl, usage = code_statistics(torch.tensor([5, 5, 5]), 8)
    assert ppl.item() == pytest.approx(1.0) and usage.item() == pytest.approx(1 / 8)


def test_lam_shapes_loss_and_copy_baseline_at_init():
    torch.manual_seed(0)
    cfg = LAMConfig(**SMALL, num_latent_tokens=2, codebook_size=8)
    model = LatentActionModel(cfg)
    o_t = torch.randint(0, 255, (3, 3, 16, 16), dtype=torch.uint8)
    o_tk = torch.randint(0, 255, (3, 3, 16, 16), dtype=torch.uint8)
    out = model(o_t, o_tk)
    assert out.f_t.shape == (3, 16, 48) and out.pred.shape == (3, 16, 48)
    assert out.z.shape == (3, 2, cfg.code_dim) and out.codes.shape == (3, 2)
    torch.testing.assert_close(out.pred, out.f_t)  # residual decoder starts as the copy baseline: RRG = 0
    losses = lam_loss(out, beta=0.25)
    torch.testing.assert_close(losses["mse"], (out.pred - out.f_tk).pow(2).sum() / 3)  # squared norm per pair
    expected = losses["mse"] + losses["vq_encoder_term"] + 0.25 * losses["vq_codebook_term"]
    torch.testing.assert_close(losses["loss"], expected)
    assert all(torch.isfinite(v) for v in losses.values())
    losses["loss"].backward()
    assert model.encoder.proj.weight.grad is not None and torch.isfinite(model.encoder.proj.weight.grad).all()
    assert model.quantizer.codebook.grad is not None
    # channel-last input and the pixel round trip
    assert model.encode(o_t.permute(0, 2, 3, 1), o_tk.permute(0, 2, 3, 1)).shape == (3, 2)
    img = model.features.to_images(model.features(o_t))
    torch.testing.assert_close(img, o_t.float() / 255, atol=1e-6, rtol=0)


def test_decoder_sees_only_o_t_and_the_codes():
    """D_i(o_t, c_t): whatever o_t+k is, the decoder's inputs are o_t's features and the code
    vectors (so everything it knows about o_t+k comes through the codes), while z_t = E(o_t, o_t+k)
    does depend on o_t+k. (Time-causality of the encoder blocks: test_encoder_blocks_are_block_causal_in_time.)"""
    torch.manual_seed(0)
    model = LatentActionModel(LAMConfig(**SMALL)).eval()
    o_t = torch.randint(0, 255, (2, 3, 16, 16), dtype=torch.uint8)
    a, b = torch.randint(0, 255, (2, 2, 3, 16, 16), dtype=torch.uint8)
    seen = []
    hook = model.decoder.register_forward_hook(lambda module, args, output: seen.append(args))
    with torch.no_grad():
        outs = [model(o_t, a), model(o_t, b)]
    hook.remove()
    f_t = model.features(o_t)
    for (dec_f, dec_z), out in zip(seen, outs, strict=True):
        torch.testing.assert_close(dec_f, f_t)  # the image the decoder sees is o_t, never o_t+k
        torch.testing.assert_close(dec_z, model.quantizer.codes_table[out.codes])  # plus the quantized codes
        torch.testing.assert_close(out.pred, model.decode(o_t, out.codes))  # so pred = D(o_t, c_t)
    z1 = model.encoder(f_t, model.features(a))
    z2 = model.encoder(f_t, model.features(b))
    assert not torch.allclose(z1, z2)  # the latent does depend on o_t+k


def test_bad_configs_are_rejected():
    with pytest.raises(ValueError, match="patch_size"):
        LAMConfig(image_size=30, patch_size=8)
    with pytest.raises(ValueError, match="dinov2_path"):
        LAMConfig(feature_space="dinov2")
    with pytest.raises(ValueError, match="codebook_size"):
        LAMConfig(codebook_size=1)
    with pytest.raises(ValueError, match="variant"):
        LAMTrainConfig(variant="both")
    with pytest.raises(ValueError, match="even"):
        LAMTrainConfig(variant="shared", batch_size=15)


def test_dinov2_feature_space_from_a_local_checkpoint(tmp_path):
    from wbvla.compat import ensure_torchvision_importable

    ensure_torchvision_importable()
    from transformers import Dinov2Config, Dinov2Model

    Dinov2Model(Dinov2Config(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                             patch_size=8, image_size=32)).save_pretrained(tmp_path / "tiny_dinov2")
    cfg = LAMConfig(feature_space="dinov2", dinov2_path=str(tmp_path / "tiny_dinov2"), image_size=32,
                    model_dim=32, num_heads=2, encoder_layers=1, decoder_layers=1)
    model = LatentActionModel(cfg).train()
    assert not model.features.backbone.training  # frozen backbone stays in eval mode
    frames = torch.randint(0, 255, (2, 3, 48, 48), dtype=torch.uint8)  # resized to 32
    out = model(frames, frames.flip(-1))
    assert out.f_t.shape == (2, 16, 16)  # 4x4 patches of the 16-d DINOv2
    loss = lam_loss(out, 0.25)["loss"]
    loss.backward()
    assert all(p.grad is None for p in model.features.backbone.parameters())
    with pytest.raises(ValueError, match="multiple of the DINOv2 patch size"):
        LatentActionModel(LAMConfig(feature_space="dinov2", dinov2_path=str(tmp_path / "tiny_dinov2"), image_size=36))


def test_sincos_positions_hand_computed():
    from wbvla.lam.model import sincos_positions

    pos = sincos_positions(grid=2, dim=4)  # D/4 = 1 frequency (1/10000^0 = 1): [sin r, cos r, sin c, cos c]
    expected = torch.tensor([[0.0, 1.0, 0.0, 1.0],  # (row 0, col 0)
                             [0.0, 1.0, np.sin(1.0), np.cos(1.0)],  # (0, 1)
                             [np.sin(1.0), np.cos(1.0), 0.0, 1.0],  # (1, 0)
                             [np.sin(1.0), np.cos(1.0), np.sin(1.0), np.cos(1.0)]], dtype=torch.float32)
    torch.testing.assert_close(pos, expected)
    with pytest.raises(ValueError, match="divisible by 4"):
        sincos_positions(2, 6)
    model = LatentActionModel(LAMConfig(**SMALL, position_embedding="sincos"))
    names = {n for n, _ in model.named_parameters()}
    assert "encoder.pos" not in names and "decoder.pos" not in names  # fixed buffers, not trained
    assert "encoder.pos" in LatentActionModel(LAMConfig(**SMALL)).state_dict()  # learned: a parameter


@pytest.mark.parametrize("attention", ["factorized", "joint"])
def test_encoder_blocks_are_block_causal_in_time(attention):
    from wbvla.lam.model import JointSTBlock, STBlock

    torch.manual_seed(0)
    block = (JointSTBlock if attention == "joint" else STBlock)(16, 2, 2.0).eval()
    x = torch.randn(2, 2, 5, 16)  # (B, T, N, D)
    y = x.clone()
    y[:, 1] = torch.randn(2, 5, 16)  # change only the later frame
    out_x, out_y = block(x), block(y)
    torch.testing.assert_close(out_x[:, 0], out_y[:, 0])  # frame t never sees frame t+k
    assert not torch.allclose(out_x[:, 1], out_y[:, 1])
    model = LatentActionModel(LAMConfig(**SMALL, encoder_attention=attention))
    o = torch.randint(0, 255, (2, 3, 16, 16), dtype=torch.uint8)
    assert model(o, o.flip(-1)).pred.shape == (2, 16, 48)

