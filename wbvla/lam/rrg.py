"""Relative Reconstruction Gain (paper App. C.6, Eq. 6) and the Table 9 evaluation.

    MSE_recon = MSE(o^_t+k, o_t+k)      the LAM's reconstruction from o_t and the code
    MSE_base  = MSE(o_t, o_t+k)         the copy-the-former-frame baseline
    RRG       = (MSE_base - MSE_recon) / MSE_base

Per primitive, the MSEs are averaged over all held-out pairs of that primitive first and the
ratio is taken once (a ratio of means: near-static pairs with a tiny MSE_base cannot dominate).
"""

from __future__ import annotations

import numpy as np
import torch


def rrg(mse_base, mse_recon):
    """Eq. 6. Works on floats, numpy arrays and tensors (elementwise)."""
    # Eq. 6: RRG = (MSE_base - MSE_recon) / MSE_base
    return (mse_base - mse_recon) / mse_base


def pair_mse(f_t: torch.Tensor, f_tk: torch.Tensor, pred: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pair MSE_base = MSE(o_t, o_t+k) and MSE_recon = MSE(o^_t+k, o_t+k), each (B,), for
    features (B, N, C)."""
    base = (f_t - f_tk).pow(2).flatten(1).mean(1)  # (B,)
    recon = (pred - f_tk).pow(2).flatten(1).mean(1)  # (B,)
    return base, recon


@torch.no_grad()
def evaluate_pairs(model, pairs, batch_size: int = 128, device: str | torch.device = "cpu") -> dict[str, np.ndarray]:
    """Run a LAM over every pair of ``pairs`` (a :class:`~wbvla.data.pairs.FramePairs`).

    Returns per-pair arrays: ``mse_base``, ``mse_recon`` (B,), ``codes`` (B, Q) and the continuous
    latents' distance to their code ``dist`` (B,) (small = confident; used for retrieval).
    """
    model = model.to(device).eval()
    out = {"mse_base": [], "mse_recon": [], "codes": [], "dist": []}
    for start in range(0, len(pairs), batch_size):
        b = pairs.batch(np.arange(start, min(start + batch_size, len(pairs))))
        o = model(b["o_t"].to(device), b["o_tk"].to(device))
        base, recon = pair_mse(o.f_t, o.f_tk, o.pred)
        out["mse_base"].append(base.cpu())
        out["mse_recon"].append(recon.cpu())
        out["codes"].append(o.codes.cpu())
        out["dist"].append((o.z - model.quantizer.codes_table[o.codes]).pow(2).sum(-1).sum(-1).cpu())
    return {k: torch.cat(v).numpy() for k, v in out.items()}


def rrg_by_group(mse_base: np.ndarray, mse_recon: np.ndarray, groups: np.ndarray) -> dict[str, float]:
    """RRG (Eq. 6) of each group (e.g. primitive) from per-pair MSEs: ratio of the group means."""
    groups = np.asarray(groups)
    out = {}
    for g in sorted(set(groups.tolist())):
        m = groups == g
        out[str(g)] = float(rrg(mse_base[m].mean(), mse_recon[m].mean()))
    return out
