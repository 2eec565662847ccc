"""Lightning module of one LAM: logs every loss term, codebook usage, perplexity and held-out RRG."""

from __future__ import annotations

import math
import time
from dataclasses import asdict

import torch

from wbvla.compat import import_lightning
from wbvla.lam.config import LAMConfig
from wbvla.lam.model import LatentActionModel, lam_loss
from wbvla.lam.quantizer import code_statistics
from wbvla.lam.rrg import pair_mse, rrg

L = import_lightning()
FEATURE_FINGERPRINT_KEY = "feature_weights_sha256"
"""Checkpoint entry: SHA-256 of the frozen tower the LAM was trained on (its weights are not stored)."""


class LAMModule(L.LightningModule):
    """Trains :class:`~wbvla.lam.model.LatentActionModel` with the App. A.1 loss.

    Logged (``train/``): ``loss``, ``mse``, ``vq_encoder_term`` (||sg[c]-z||^2),
    ``vq_codebook_term`` (||c-sg[z]||^2, weighted by beta in the loss), ``perplexity`` and
    ``codebook_usage`` of the batch's codes, ``code_restarts`` (cumulative dead-code restarts),
    ``pairs_per_s``. Validation (``val/``): ``mse``, ``mse_base`` and ``rrg`` (Eq. 6) on held-out pairs.
    """

    def __init__(self, model: dict | None = None, lr: float = 6e-4, warmup_steps: int = 100,
                 max_steps: int = 1500, weight_decay: float = 0.01):
        super().__init__()
        self.save_hyperparameters()
        self.config = LAMConfig(**(model or {}))
        self.model = LatentActionModel(self.config)
        self._t0 = None
        self._val = []

    @classmethod
    def from_config(cls, config: LAMConfig, **kw) -> LAMModule:
        return cls(model=asdict(config), **kw)

    def forward(self, o_t, o_tk):
        return self.model(o_t, o_tk)

    def training_step(self, batch, batch_idx):
        out = self.model(batch["o_t"], batch["o_tk"])
        losses = lam_loss(out, self.config.beta)
        ppl, usage = code_statistics(out.codes, self.config.codebook_size)
        bs = batch["o_t"].shape[0]
        logs = {f"train/{k}": v.detach() for k, v in losses.items()}
        logs.update({"train/perplexity": ppl, "train/codebook_usage": usage,
                     "train/code_restarts": self.model.quantizer.restarts.float()})
        now = time.perf_counter()
        if self._t0 is not None:
            logs["train/pairs_per_s"] = torch.tensor(bs / max(now - self._t0, 1e-6))
        self._t0 = now
        self.log_dict(logs, on_step=True, on_epoch=False, prog_bar=False, batch_size=bs)
        self.log("loss", losses["loss"].detach(), prog_bar=True, batch_size=bs)
        return losses["loss"]

    def validation_step(self, batch, batch_idx):
        out = self.model(batch["o_t"], batch["o_tk"])
        base, recon = pair_mse(out.f_t, out.f_tk, out.pred)
        self._val.append((base.sum(), recon.sum(), torch.tensor(len(base)), out.codes.reshape(-1)))

    def on_validation_epoch_end(self):
        if not self._val:
            return
        base = sum(v[0] for v in self._val)
        recon = sum(v[1] for v in self._val)
        n = sum(v[2] for v in self._val)
        codes = torch.cat([v[3] for v in self._val])
        ppl, usage = code_statistics(codes, self.config.codebook_size)
        self.log_dict({"val/mse_base": base / n, "val/mse": recon / n, "val/rrg": rrg(base / n, recon / n),
                       "val/perplexity": ppl, "val/codebook_usage": usage}, prog_bar=False)
        self._val.clear()

    def on_train_batch_start(self, batch, batch_idx):
        if self._t0 is None:
            self._t0 = time.perf_counter()

    def on_validation_start(self):
        self._t0 = None  # do not count validation time in the training throughput

    def configure_optimizers(self):
        decay, no_decay = [], []
        for name, p in self.model.named_parameters():
            if not p.requires_grad:
                continue
            (no_decay if p.ndim < 2 or "codebook" in name or name.endswith(("pos", "time", "queries")) else decay).append(p)
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": self.hparams.weight_decay},
                                 {"params": no_decay, "weight_decay": 0.0}], lr=self.hparams.lr)
        warm, total = self.hparams.warmup_steps, self.hparams.max_steps

        def schedule(step: int) -> float:
            if step < warm:
                return (step + 1) / warm
            progress = min(1.0, (step - warm) / max(1, total - warm))
            return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))  # cosine to 10 % of the peak

        sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint):
        state = checkpoint["state_dict"]
        for key in [k for k in state if k.startswith("model.features.backbone.")]:
            del state[key]
        fingerprint = getattr(self.model.features, "fingerprint", None)
        if fingerprint is not None:  # the frozen tower is reloaded from tower_path: remember which weights
            checkpoint[FEATURE_FINGERPRINT_KEY] = fingerprint

    def on_load_checkpoint(self, checkpoint):
        saved, now = checkpoint.get(FEATURE_FINGERPRINT_KEY), getattr(self.model.features, "fingerprint", None)
        if saved is not None and saved != now:
            raise ValueError(f"this LAM was trained on the vision tower with weights {saved[:12]}..., but "
                             f"tower_path {self.config.tower_path} now holds {str(now)[:12]}...: its features "
                             "would not be the ones the LAM learned (restore that tower or retrain the LAM)")
        backbone = getattr(self.model.features, "backbone", None)
        if backbone is not None:  # the frozen weights just loaded from their path complete the state dict
            checkpoint["state_dict"].update({f"model.features.backbone.{k}": v for k, v in backbone.state_dict().items()})
