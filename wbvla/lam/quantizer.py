"""Nearest-code vector quantization with straight-through gradients and dead-code restart (App. A.1)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class Quantized:
    """Output of :class:`VectorQuantizer`."""

    z_q: torch.Tensor
    """Straight-through quantized latents: value of c_t, gradient of z_t, (B, Q, D)."""
    codes: torch.Tensor
    """Code indices, (B, Q) int64."""
    encoder_term: torch.Tensor
    """||sg[c_t] - z_t||^2 (trains the encoder E_i), scalar."""
    codebook_term: torch.Tensor
    """||c_t - sg[z_t]||^2 (trains the codebook C_i; the loss weighs it by beta), scalar."""


def nearest_code(z: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """c_t = argmin_{c in C} ||z_t - c||^2: indices (...,) for z (..., D), codebook (K, D)."""
    flat = z.reshape(-1, z.shape[-1])  # (M, D)
    d2 = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ codebook.t() + codebook.pow(2).sum(1)[None]  # (M, K)
    return d2.argmin(dim=1).reshape(z.shape[:-1])


def vq_loss_terms(z: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The two VQ terms of the LAM loss, exactly as App. A.1 writes them.

    L_LAM = L_mse + ||sg[c_t] - z_t||^2 + beta ||c_t - sg[z_t]||^2, sg = stop-gradient.
    Returns (||sg[c_t] - z_t||^2, ||c_t - sg[z_t]||^2): squared L2 norms over the code dimension,
    averaged over pairs and latent tokens; beta is applied by the caller
    (:func:`wbvla.lam.model.lam_loss`). The first moves only the encoder output z_t toward its code,
    the second moves only the code toward z_t.
    """
    encoder_term = (c.detach() - z).pow(2).sum(-1).mean()  # ||sg[c_t] - z_t||^2
    codebook_term = (c - z.detach()).pow(2).sum(-1).mean()  # ||c_t - sg[z_t]||^2
    return encoder_term, codebook_term


class VectorQuantizer(nn.Module):
    """A learned codebook C of ``size`` vectors of dimension ``dim``.

    Codes that no training batch has used for ``dead_code_steps`` steps are restarted on the
    encoder outputs of the current batch that lie farthest from every live code, so the whole
    codebook stays in play and new codes go where the data is worst served.

    With ``normalize`` both z_t and the codes are projected onto the unit sphere before the
    lookup and the loss (cosine-similarity codebook, as in ViT-VQGAN): the encoder cannot shrink
    z_t toward one point to cheapen ||sg[c_t] - z_t||^2, a common cause of codebook collapse.
    """

    def __init__(self, size: int, dim: int, dead_code_steps: int = 200, normalize: bool = True):
        super().__init__()
        self.size, self.dim, self.dead_code_steps, self.normalize = size, dim, dead_code_steps, normalize
        self.codebook = nn.Parameter(torch.randn(size, dim) * 0.1)  # (K, D)
        self.register_buffer("steps_unused", torch.zeros(size, dtype=torch.long))
        self.register_buffer("restarts", torch.zeros((), dtype=torch.long))
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))

    @property
    def codes_table(self) -> torch.Tensor:
        """The codebook as used for lookup (unit-normalized when ``normalize``), (K, D)."""
        return F.normalize(self.codebook, dim=-1) if self.normalize else self.codebook

    def project(self, z: torch.Tensor) -> torch.Tensor:
        """z_t as compared with the codes (unit-normalized when ``normalize``)."""
        return F.normalize(z, dim=-1) if self.normalize else z

    def forward(self, z: torch.Tensor) -> Quantized:
        """Quantize z (B, Q, D); in training mode, also update usage and restart dead codes."""
        z = self.project(z)
        if self.training and not bool(self.initialized):
            self._init_from(z.detach().reshape(-1, self.dim))
        table = self.codes_table
        codes = nearest_code(z.detach(), table)  # (B, Q)
        c = table[codes]  # (B, Q, D)
        encoder_term, codebook_term = vq_loss_terms(z, c)
        z_q = z + (c - z).detach()  # straight-through: forward value c_t, backward gradient to z_t
        if self.training:
            self._track_usage(codes, z.detach().reshape(-1, self.dim))
        return Quantized(z_q, codes, encoder_term, codebook_term)

    @torch.no_grad()
    def _init_from(self, flat: torch.Tensor) -> None:
        """Start the codebook on random encoder outputs (codes then all lie where z lives)."""
        idx = torch.randint(len(flat), (self.size,), device=flat.device)
        self.codebook.data.copy_(flat[idx] + 0.01 * torch.randn_like(flat[idx]))
        self.initialized.fill_(True)

    @torch.no_grad()
    def _track_usage(self, codes: torch.Tensor, flat: torch.Tensor) -> None:
        used = torch.zeros(self.size, dtype=torch.bool, device=codes.device)
        used[codes.reshape(-1)] = True
        self.steps_unused.add_(1).masked_fill_(used, 0)
        dead = torch.nonzero(self.steps_unused > self.dead_code_steps).flatten()
        if len(dead):
            live = self.codes_table[self.steps_unused <= self.dead_code_steps]  # (L, D)
            far = torch.cdist(flat, live).min(dim=1).values if len(live) else torch.ones(len(flat), device=flat.device)
            pick = torch.argsort(far, descending=True)[: len(dead)]  # the worst-served encoder outputs
            pick = pick[torch.arange(len(dead), device=flat.device) % len(pick)]
            self.codebook.data[dead] = flat[pick] + 0.01 * flat.std() * torch.randn_like(flat[pick])
            self.steps_unused[dead] = 0
            self.restarts.add_(len(dead))


def code_statistics(codes: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Perplexity exp(H(p)) of the code histogram p and the share of codes used, for codes (...,)."""
    counts = torch.bincount(codes.reshape(-1), minlength=size).float()
    p = counts / counts.sum().clamp(min=1)
    entropy = -(p * torch.log(p.clamp(min=1e-12))).sum()
    return entropy.exp(), (counts > 0).float().mean()
