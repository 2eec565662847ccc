"""The latent action model: a VQ-VAE over frame pairs (paper §3.1, App. A.1; Genie / UniVLA style).

    z_t = E(o_t, o_t+k)                 spatio-temporal transformer over patch features of both
                                        frames, read out at learned action-query tokens
    c_t = argmin_{c in C} ||z_t - c||^2 nearest code, straight-through gradient
    o^_t+k = D(o_t, c_t)                transformer over o_t's patch features plus the code tokens
    L_LAM = L_mse + ||sg[c_t] - z_t||^2 + beta ||c_t - sg[z_t]||^2

The decoder never sees o_t+k: everything it knows about the change comes through the codes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from wbvla.lam.config import LAMConfig
from wbvla.lam.features import build_features
from wbvla.lam.quantizer import Quantized, VectorQuantizer


def sincos_positions(grid: int, dim: int) -> torch.Tensor:
    """Fixed 2-D sine-cosine position embeddings of a ``grid`` x ``grid`` patch layout, (grid^2, dim).

    Half the channels encode the row, half the column, each as sin/cos of the coordinate at
    geometrically spaced frequencies (as in MAE). Neighbouring patches get similar vectors from
    step 0, so attention can learn "look one patch to the left" (image shifts) without first
    having to learn the layout.
    """
    if dim % 4:
        raise ValueError(f"sin-cos position embeddings need model_dim divisible by 4, got {dim}")
    freqs = 1.0 / 10_000 ** (torch.arange(dim // 4, dtype=torch.float64) / (dim // 4))  # (D/4,)
    coords = torch.arange(grid, dtype=torch.float64)
    rows, cols = torch.meshgrid(coords, coords, indexing="ij")

    def embed(x: torch.Tensor) -> torch.Tensor:
        angles = x.reshape(-1, 1) * freqs[None]  # (grid^2, D/4)
        return torch.cat([angles.sin(), angles.cos()], dim=1)  # (grid^2, D/2)

    return torch.cat([embed(rows), embed(cols)], dim=1).float()  # (grid^2, D)


def _add_positions(module: nn.Module, cfg: LAMConfig, num_patches: int, shape: tuple[int, ...]) -> None:
    """``module.pos``: learned (random init, a parameter) or fixed sin-cos (a buffer) embeddings of
    the N patch positions, viewed as ``shape`` (which ends in N, D)."""
    if cfg.position_embedding == "learned":
        module.pos = nn.Parameter(torch.randn(shape) * 0.02)
    else:
        module.register_buffer("pos", sincos_positions(int(round(num_patches ** 0.5)), cfg.model_dim).view(shape),
                               persistent=False)


class _MLP(nn.Sequential):
    def __init__(self, dim: int, ratio: float):
        hidden = int(dim * ratio)
        super().__init__(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))


class STBlock(nn.Module):
    """Genie's spatio-temporal block: attention over the tokens of each frame, then over time at
    each token position (causal: frame t never sees t+k), then an MLP; pre-norm residuals."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.norm_s, self.norm_t, self.norm_m = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.spatial = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.temporal = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.mlp = _MLP(dim, mlp_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, T, N, D)
        b, t, n, d = x.shape
        s = self.norm_s(x).reshape(b * t, n, d)  # (B T, N, D)
        x = x + self.spatial(s, s, s, need_weights=False)[0].reshape(b, t, n, d)
        h = self.norm_t(x).permute(0, 2, 1, 3).reshape(b * n, t, d)  # (B N, T, D)
        causal = torch.triu(torch.ones(t, t, dtype=torch.bool, device=x.device), diagonal=1)
        h = self.temporal(h, h, h, attn_mask=causal, need_weights=False)[0]
        x = x + h.reshape(b, n, t, d).permute(0, 2, 1, 3)
        return x + self.mlp(self.norm_m(x))


class JointSTBlock(nn.Module):
    """Joint space-time attention (ViViT's unfactorized variant): every token attends to every
    token of its own frame and of the earlier frame (block-causal: frame t never sees t+k), then
    an MLP. A token of o_t+k can match itself against *any* patch of o_t in one step, which is
    how an image shift (locomotion) shows up; the factorized :class:`STBlock` only compares the
    same patch position across time."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.norm_a, self.norm_m = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.mlp = _MLP(dim, mlp_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, T, N, D)
        b, t, n, d = x.shape
        frame = torch.arange(t, device=x.device).repeat_interleave(n)  # (T N,) frame of each token
        mask = frame[None, :] > frame[:, None]  # (T N, T N): True = may not attend (a later frame)
        h = self.norm_a(x).reshape(b, t * n, d)  # (B, T N, D)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0].reshape(b, t, n, d)
        return x + self.mlp(self.norm_m(x))


class Block(nn.Module):
    """A plain pre-norm transformer block (decoder)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.norm_a, self.norm_m = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.mlp = _MLP(dim, mlp_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, N, D)
        h = self.norm_a(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.norm_m(x))


class LatentActionEncoder(nn.Module):
    """E_i(o_t, o_t+k) -> z_t (B, Q, code_dim): patch tokens of both frames plus Q learned
    action queries per frame, through spatio-temporal blocks; z_t is read at the queries of o_t+k."""

    def __init__(self, cfg: LAMConfig, feat_dim: int, num_patches: int):
        super().__init__()
        d, q = cfg.model_dim, cfg.num_latent_tokens
        self.proj = nn.Linear(feat_dim, d)
        _add_positions(self, cfg, num_patches, (1, 1, num_patches, d))
        self.time = nn.Parameter(torch.randn(1, 2, 1, d) * 0.02)
        self.queries = nn.Parameter(torch.randn(1, 1, q, d) * 0.02)
        block = JointSTBlock if cfg.encoder_attention == "joint" else STBlock
        self.blocks = nn.ModuleList(block(d, cfg.num_heads, cfg.mlp_ratio) for _ in range(cfg.encoder_layers))
        self.norm = nn.LayerNorm(d)
        self.out = nn.Linear(d, cfg.code_dim)
        self.num_queries = q

    def forward(self, f_t: torch.Tensor, f_tk: torch.Tensor) -> torch.Tensor:
        x = self.proj(torch.stack([f_t, f_tk], dim=1)) + self.pos + self.time  # (B, 2, N, D)
        b = x.shape[0]
        x = torch.cat([x, (self.queries + self.time).expand(b, -1, -1, -1)], dim=2)  # (B, 2, N + Q, D)
        for blk in self.blocks:
            x = blk(x)
        return self.out(self.norm(x[:, -1, -self.num_queries:]))  # (B, Q, code_dim)


class LatentActionDecoder(nn.Module):
    """D_i(o_t, c_t) -> o^_t+k features (B, N, C): o_t's patch tokens and the code tokens, jointly
    attended; predicts the change of each patch (``predict_residual``) or the patch itself."""

    def __init__(self, cfg: LAMConfig, feat_dim: int, num_patches: int):
        super().__init__()
        d = cfg.model_dim
        self.proj = nn.Linear(feat_dim, d)
        self.code_proj = nn.Linear(cfg.code_dim, d)
        _add_positions(self, cfg, num_patches, (1, num_patches, d))
        self.code_pos = nn.Parameter(torch.randn(1, cfg.num_latent_tokens, d) * 0.02)
        self.blocks = nn.ModuleList(Block(d, cfg.num_heads, cfg.mlp_ratio) for _ in range(cfg.decoder_layers))
        self.norm = nn.LayerNorm(d)
        self.out = nn.Linear(d, feat_dim)
        self.residual = cfg.predict_residual
        if self.residual:  # start as the copy baseline o^_t+k = o_t
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

    def forward(self, f_t: torch.Tensor, z_q: torch.Tensor) -> torch.Tensor:
        n = f_t.shape[1]
        x = torch.cat([self.proj(f_t) + self.pos, self.code_proj(z_q) + self.code_pos], dim=1)  # (B, N + Q, D)
        for blk in self.blocks:
            x = blk(x)
        y = self.out(self.norm(x[:, :n]))  # (B, N, C)
        return f_t + y if self.residual else y


@dataclass
class LAMOutput:
    """Everything one forward pass produces (features are in the LAM's feature space)."""

    f_t: torch.Tensor
    """Features of o_t, (B, N, C)."""
    f_tk: torch.Tensor
    """Features of o_t+k (the target), (B, N, C)."""
    pred: torch.Tensor
    """Reconstruction o^_t+k = D(o_t, c_t), (B, N, C)."""
    z: torch.Tensor
    """Continuous latents z_t as quantized (unit-normalized with ``normalize_codes``), (B, Q, code_dim)."""
    quant: Quantized
    """Codes and VQ terms."""

    @property
    def codes(self) -> torch.Tensor:
        return self.quant.codes


def lam_loss(out: LAMOutput, beta: float) -> dict[str, torch.Tensor]:
    """L_LAM = L_mse + ||sg[c_t] - z_t||^2 + beta ||c_t - sg[z_t]||^2 (App. A.1), with its terms."""
    # L_mse = |o_t+k - o^_t+k|_2^2: the squared norm over every feature of a pair, averaged over pairs.
    # (Norms, not element means: with a per-element mean the 12k-element reconstruction would be
    # ~400x weaker than the 32-d VQ terms and the encoder would collapse onto one code.)
    mse = (out.pred - out.f_tk).pow(2).flatten(1).sum(1).mean()
    # App. A.1: L_LAM = L_mse + ||sg[c_t] - z_t||^2 + beta * ||c_t - sg[z_t]||^2
    total = mse + out.quant.encoder_term + beta * out.quant.codebook_term
    return {"loss": total, "mse": mse, "vq_encoder_term": out.quant.encoder_term,
            "vq_codebook_term": out.quant.codebook_term}


class LatentActionModel(nn.Module):
    """Feature space + encoder + quantizer + decoder. Inputs are uint8 frames (B, 3, H, W)."""

    def __init__(self, config: LAMConfig):
        super().__init__()
        self.config = config
        self.features = build_features(config)
        n, c = self.features.grid ** 2, self.features.dim
        self.encoder = LatentActionEncoder(config, c, n)
        self.quantizer = VectorQuantizer(config.codebook_size, config.code_dim, config.dead_code_steps,
                                         config.normalize_codes)
        self.decoder = LatentActionDecoder(config, c, n)

    def forward(self, o_t: torch.Tensor, o_tk: torch.Tensor) -> LAMOutput:
        f_t, f_tk = self.features(o_t), self.features(o_tk)  # (B, N, C) each
        z = self.encoder(f_t, f_tk)  # (B, Q, code_dim)
        quant = self.quantizer(z)
        pred = self.decoder(f_t, quant.z_q)  # (B, N, C)
        return LAMOutput(f_t, f_tk, pred, self.quantizer.project(z), quant)

    @torch.no_grad()
    def encode(self, o_t: torch.Tensor, o_tk: torch.Tensor) -> torch.Tensor:
        """The latent action c_t of each pair as code indices, (B, Q)."""
        f_t, f_tk = self.features(o_t), self.features(o_tk)
        return self.quantizer(self.encoder(f_t, f_tk)).codes

    @torch.no_grad()
    def decode(self, o_t: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """o^_t+k features from o_t and code indices (B, Q): lets you apply any latent action."""
        return self.decoder(self.features(o_t), self.quantizer.codes_table[codes])
