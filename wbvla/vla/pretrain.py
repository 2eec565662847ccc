"""Stage II: latent pretraining of the VLA on the Stage I corpora (Eq. 1), with Lightning.

:func:`pretrain` trains (or resumes, or finds finished) one run and exports the model to
``<run>/model`` (safetensors, fp16, with tokenizer and ``vla.json``); :func:`load_pretrained`
reads it back. Every batch is half robot manipulation video, half human-like locomotion video
(balanced sampling, as for the shared LAM in App. B).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from wbvla.data.pairs import BalancedBatchSampler, ConcatPairs
from wbvla.io import write_json_atomic
from wbvla.paths import cache_dir
from wbvla.training.devices import set_threads
from wbvla.training.harness import FitResult, L, config_json, fit_resumable, warmup_cosine
from wbvla.validation import require
from wbvla.vla.backbone import build_backbone, load_backbone, save_backbone
from wbvla.vla.config import LAM_SOURCES, BackboneConfig, PretrainConfig, pretrain_config_from_dict
from wbvla.vla.corpus_data import (
    STAGE2_SOURCES,
    LatentPairs,
    lam_checkpoint,
    majority_codes,
    stage2_source,
)
from wbvla.vla.latents import LatentVocabulary
from wbvla.vla.model import LatentVLA, random_shift


def lam_vocabulary(config: PretrainConfig) -> LatentVocabulary:
    """Latent slots of the variant: (tokens, codebook size) of each LAM, read from its checkpoint."""
    lams = {}
    for lam in LAM_SOURCES[config.lam_variant]:
        hp = torch.load(lam_checkpoint(config, lam), map_location="cpu", weights_only=False)["hyper_parameters"]
        lams[lam] = (int(hp["model"]["num_latent_tokens"]), int(hp["model"]["codebook_size"]))
    return LatentVocabulary(lams)


class PretrainModule(L.LightningModule):
    """Eq. 1 on teacher-forced sequences; logs the loss, per-LAM train accuracy and held-out top-1."""

    def __init__(self, backbone: dict, vocab: dict, lr: float = 1e-3, warmup_steps: int = 100, max_steps: int = 1500,
                 weight_decay: float = 0.01, majority: list[int] | None = None, image_shift: int = 0):
        super().__init__()
        self.save_hyperparameters()
        self.vocab = LatentVocabulary.from_json(vocab)
        self.vla = LatentVLA(build_backbone(BackboneConfig(**backbone), self.vocab.tokens()), self.vocab)
        # A pretrained backbone comes back from from_pretrained() in eval mode and Lightning keeps each module's
        # mode: train mode, as a randomly initialised one is (Lightning warned; the shipped tower's dropouts are 0)
        self.vla.train()
        self._val: list[tuple[torch.Tensor, torch.Tensor]] = []

    def training_step(self, batch, batch_idx):
        codes = batch["codes"]
        prompts = self.vla.prompts.batch(batch["instruction"], codes.cpu())
        pixel_values = random_shift(self.vla.encode_images(batch["image"]), self.hparams.image_shift)
        hidden = self.vla.hidden_states(pixel_values, prompts)
        logits = self.vla.latent_logits(hidden, prompts)
        loss = self.vla.latent_loss(logits, codes)
        logs = {"train/loss": loss.detach()}
        for j, slot in enumerate(self.vocab.slots):
            logs[f"train/acc_{slot.lam}{slot.index or ''}"] = (logits[j].argmax(-1) == codes[:, j]).float().mean()
        self.log_dict(logs, on_step=True, on_epoch=False, batch_size=len(codes))
        self.log("loss", loss.detach(), prog_bar=True, batch_size=len(codes))
        return loss

    def validation_step(self, batch, batch_idx):
        dec = self.vla.greedy_codes(self.vla.encode_images(batch["image"]), batch["instruction"])
        self._val.append((dec.codes, batch["codes"].cpu()))

    def on_validation_epoch_end(self):
        if not self._val:
            return
        pred = torch.cat([p for p, _ in self._val])
        true = torch.cat([t for _, t in self._val])
        logs = {}
        for j, slot in enumerate(self.vocab.slots):
            name = f"{slot.lam}{slot.index or ''}"
            logs[f"val/top1_{name}"] = (pred[:, j] == true[:, j]).float().mean()
            if self.hparams.majority is not None:
                logs[f"val/majority_top1_{name}"] = (true[:, j] == self.hparams.majority[j]).float().mean()
        self.log_dict(logs)
        self._val.clear()

    def configure_optimizers(self):
        decay = [p for n, p in self.vla.named_parameters() if p.requires_grad and p.ndim >= 2 and "embed" not in n]
        rest = [p for n, p in self.vla.named_parameters() if p.requires_grad and not (p.ndim >= 2 and "embed" not in n)]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": self.hparams.weight_decay},
                                 {"params": rest, "weight_decay": 0.0}], lr=self.hparams.lr)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_cosine(self.hparams.warmup_steps, self.hparams.max_steps))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def collate(items: list[dict]) -> dict:
    return {"image": torch.stack([it["image"] for it in items]), "instruction": [it["instruction"] for it in items],
            "codes": torch.stack([it["codes"] for it in items])}


def run_dir_for(config: PretrainConfig) -> Path:
    if config.output_dir is not None:
        return Path(config.output_dir)
    return cache_dir() / "vla_runs" / config.corpus_size / "pretrain" / config.run_name()


def balanced_heldout(parts: list[LatentPairs], n: int, seed: int) -> list[LatentPairs]:
    """At most ``n // len(parts)`` random examples of each held-out source."""
    rng = np.random.default_rng([seed, 7])
    return [p.subset(np.sort(rng.choice(len(p), size=min(len(p), n // len(parts)), replace=False))) for p in parts]


@dataclass
class PretrainResult:
    """A finished (or resumed) Stage II run."""

    fit: FitResult
    model_dir: Path
    """The exported model (``load_pretrained`` reads it)."""
    majority: list[int]
    """Most frequent training code per slot."""
    train_examples: dict[str, int]
    """Training examples per source (after the video fractions)."""


def pretrain(config: PretrainConfig) -> PretrainResult:
    """Train Stage II per ``config`` (resumable) and export the model to ``<run>/model``."""
    require(config.lam_variant != "none", "lam_variant='none' has no Stage II; fine-tune the backbone directly")
    set_threads(config.threads)
    L.seed_everything(config.seed, workers=True, verbose=False)
    run = run_dir_for(config)
    vocab = lam_vocabulary(config)
    train_parts = [p for p in (stage2_source(config, s, "train") for s in STAGE2_SOURCES) if p is not None]
    val_parts = balanced_heldout([stage2_source(config, s, "heldout") for s in STAGE2_SOURCES], config.val_pairs, config.seed)
    majority = [int(c) for c in majority_codes(train_parts)]
    data = ConcatPairs(train_parts)
    sampler = BalancedBatchSampler(data.groups(), config.batch_size, config.val_every_n_steps, config.seed)
    train_loader = DataLoader(data, batch_sampler=sampler, num_workers=0, collate_fn=collate)
    val_loader = DataLoader(ConcatPairs(val_parts), batch_size=64, num_workers=0, collate_fn=collate)
    module = PretrainModule(asdict(config.backbone), vocab.to_json(), lr=config.lr, warmup_steps=config.warmup_steps,
                            max_steps=config.max_steps, weight_decay=config.weight_decay, majority=majority,
                            image_shift=config.image_shift)
    fit = fit_resumable(module, train_loader, val_loader, run, config.max_steps, config.device, config.progress,
                        config.resume, config_json(config), log_every_n_steps=min(10, config.val_every_n_steps),
                        defaults=config_json(PretrainConfig()))
    model_dir = run / "model"
    if fit.steps_this_call > 0 or not (model_dir / "vla.json").exists():
        if fit.steps_this_call == 0 and fit.checkpoint.exists():  # finished earlier: export from the checkpoint
            module = PretrainModule.load_from_checkpoint(str(fit.checkpoint), map_location="cpu", weights_only=False)
        export_pretrained(module.vla, config, model_dir, fit.steps)
    return PretrainResult(fit, model_dir, majority, {s: len(p) for s, p in zip(STAGE2_SOURCES, train_parts, strict=False)})


def pretrain_config_from_run(run: Path) -> PretrainConfig:
    """The :class:`PretrainConfig` a Stage II run folder was started with (its ``train_config.json``)."""
    path = Path(run) / "train_config.json"
    if not path.is_file():
        raise FileNotFoundError(f"no train_config.json in {run}: not a Stage II run folder")
    return pretrain_config_from_dict({**json.loads(path.read_text()), "output_dir": Path(run)})


def export_pretrained(vla: LatentVLA, config: PretrainConfig, folder: Path, steps: int) -> Path:
    """Save the Stage II model (safetensors, fp16) with ``vla.json`` (latent vocabulary, provenance)."""
    save_backbone(vla.backbone, folder)
    write_json_atomic(Path(folder) / "vla.json", {
        "stage": "pretrain", "vocabulary": vla.vocab.to_json(), "lam_variant": config.lam_variant,
        "backbone": asdict(config.backbone), "source": vla.backbone.source, "steps": steps,
        "corpus_size": config.corpus_size, "human_video_fraction": config.human_video_fraction,
        "robot_video_fraction": config.robot_video_fraction})
    return Path(folder)


def load_pretrained(folder: Path) -> LatentVLA:
    """A Stage II model exported by :func:`pretrain` (safetensors + JSON; nothing is unpickled)."""
    folder = Path(folder)
    meta_path = folder / "vla.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"no vla.json in {folder}: not an exported VLA (run `wbvla vla-pretrain`)")
    meta = json.loads(meta_path.read_text())
    return LatentVLA(load_backbone(folder), LatentVocabulary.from_json(meta["vocabulary"])).eval()


@torch.no_grad()
def predict_codes(vla: LatentVLA, part: LatentPairs, batch_size: int = 128) -> torch.Tensor:
    """Greedy-decoded codes (N, n_slots) of every example of ``part``."""
    out = []
    for i in range(0, len(part), batch_size):
        b = collate([part[k] for k in range(i, min(i + batch_size, len(part)))])
        out.append(vla.greedy_codes(vla.encode_images(b["image"]), b["instruction"]).codes)
    return torch.cat(out) if out else torch.zeros(0, vla.num_slots, dtype=torch.long)


def topk_table(vocab: LatentVocabulary, parts: dict[str, LatentPairs], preds: dict[str, torch.Tensor],
               majority: list[int]) -> pd.DataFrame:
    """Top-1 of each slot per source and over all sources (``all``), next to the majority-code
    baseline. Rows: (source, slot); columns ``top1``, ``majority_top1``, ``n``."""
    rows = []
    for j, slot in enumerate(vocab.slots):
        groups = [(s, preds[s][:, j], parts[s].codes[:, j]) for s in parts]
        groups.append(("all", torch.cat([g[1] for g in groups]), torch.cat([g[2] for g in groups])))
        for source, pj, tj in groups:
            rows.append({"source": source, "slot": f"{slot.lam}{slot.index or ''}", "top1": float((pj == tj).float().mean()),
                         "majority_top1": float((tj == majority[j]).float().mean()), "n": int(len(tj))})
    return pd.DataFrame(rows).set_index(["source", "slot"])


def heldout_topk(vla: LatentVLA, parts: list[LatentPairs], majority: list[int]) -> pd.DataFrame:
    """:func:`topk_table` of greedy decoding on held-out examples of the Stage II sources."""
    named = dict(zip(STAGE2_SOURCES, parts, strict=True))
    return topk_table(vla.vocab, named, {s: predict_codes(vla, p) for s, p in named.items()}, majority)
