"""Train a LAM variant with Lightning: data, balanced sampling, atomic checkpoints, resume.

One function, :func:`train_lam`, serves the CLI (``wbvla lam-train``), the notebooks and the
tests; the three variants differ only in the data they see:

* ``mani``:   manipulation corpus (X2 head camera, arms moving)
* ``loco``:   human-like locomotion corpus (head-mounted wide-FOV camera)
* ``shared``: both, every batch half of each (App. B's balanced sampling)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch.utils.data import DataLoader, Subset

from wbvla.data.corpus_config import CorpusConfig
from wbvla.data.pairs import BalancedBatchSampler, ConcatPairs, FramePairs
from wbvla.lam.config import LAMTrainConfig
from wbvla.lam.module import LAMModule
from wbvla.paths import cache_dir
from wbvla.training.devices import set_threads
from wbvla.training.harness import L, config_json, fit_resumable, summarize

VARIANT_CORPORA = {"mani": ("mani",), "loco": ("loco_human",), "shared": ("mani", "loco_human")}


@dataclass
class TrainResult:
    """What :func:`train_lam` reports."""

    checkpoint: Path
    """``last.ckpt`` of the run."""
    run_dir: Path
    steps: int
    """Global step reached."""
    steps_this_call: int
    """Steps trained by this call (0 when the run was already complete)."""
    wall_s: float
    """Wall time of this call's ``fit`` (s)."""
    pairs_per_s: float
    """Training throughput of this call (frame pairs per second inside training batches; NaN if none)."""
    device: str


def run_dir_for(config: LAMTrainConfig) -> Path:
    if config.output_dir is not None:
        return Path(config.output_dir)
    return cache_dir() / "lam_runs" / f"{config.corpus_size}{config.model.runs_tag()}" / config.variant


def corpus_root(config: LAMTrainConfig) -> Path:
    return Path(config.corpus_root) if config.corpus_root is not None else CorpusConfig(size=config.corpus_size).path


def build_datasets(config: LAMTrainConfig, split: str = "train") -> list[FramePairs]:
    """One :class:`FramePairs` per source corpus of the variant."""
    root = corpus_root(config)
    return [FramePairs(root, [c], split, config.pair_offset_s) for c in VARIANT_CORPORA[config.variant]]


def _val_subset(parts: list[FramePairs], n: int, seed: int) -> Subset:
    data = ConcatPairs(parts)
    rng = np.random.default_rng(seed)
    idx = np.concatenate([rng.choice(g, size=min(len(g), n // len(parts)), replace=False) for g in data.groups()])
    return Subset(data, np.sort(idx).tolist())


def train_lam(config: LAMTrainConfig, train_parts: list | None = None, val_parts: list | None = None,
              callbacks: list | None = None) -> TrainResult:
    """Train (or resume, or find complete) the LAM run described by ``config``.

    ``train_parts``/``val_parts`` override the corpus datasets (lists of pair datasets, one per
    source; more than one source gets balanced batches). ``callbacks``: extra Lightning callbacks.
    The fit is :func:`wbvla.training.harness.fit_resumable`: ``last.ckpt`` after every validation
    (every ``val_every_n_steps``), so an interrupted run resumes from there, and a run folder
    refuses to resume with another recipe.
    """
    set_threads(config.threads)
    L.seed_everything(config.seed, workers=True, verbose=False)
    run = run_dir_for(config)
    train_parts = train_parts if train_parts is not None else build_datasets(config, "train")
    val_parts = val_parts if val_parts is not None else build_datasets(config, "heldout")
    train_data = ConcatPairs(train_parts)
    sampler = BalancedBatchSampler(train_data.groups(), config.batch_size, config.val_every_n_steps, config.seed)
    train_loader = DataLoader(train_data, batch_sampler=sampler, num_workers=0)
    val_loader = DataLoader(_val_subset(val_parts, config.val_pairs, config.seed), batch_size=64, num_workers=0)
    module = LAMModule.from_config(config.model, lr=config.lr, warmup_steps=config.warmup_steps,
                                   max_steps=config.max_steps, weight_decay=config.weight_decay)
    with warnings.catch_warnings():
        if config.model.feature_space != "pixel":  # the frozen feature backbone stays in eval mode on purpose
            warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode at the start of training",
                                    category=UserWarning)
        fit = fit_resumable(module, train_loader, val_loader, run, config.max_steps, config.device, config.progress,
                            config.resume, config_json(config), log_every_n_steps=min(10, config.val_every_n_steps),
                            callbacks=callbacks, defaults=config_json(LAMTrainConfig()))
    return TrainResult(fit.checkpoint, run, fit.steps, fit.steps_this_call, fit.wall_s, fit.examples_per_s, fit.device)


def training_summary(run: Path) -> dict:
    """Total wall time, steps and mean throughput (frame pairs per second) of a run over all
    (resumed) calls (:func:`wbvla.training.harness.summarize`)."""
    s = summarize(run)
    return {"wall_s": s["wall_s"] if s["steps"] else float("nan"), "steps": s["steps"],
            "pairs_per_s": s["examples_per_s"], "device": s["device"]}


def load_lam(checkpoint: Path, map_location: str = "cpu"):
    """The trained :class:`~wbvla.lam.model.LatentActionModel` of a checkpoint, in eval mode."""
    checkpoint = Path(checkpoint)
    if not checkpoint.exists():
        raise FileNotFoundError(f"no LAM checkpoint at {checkpoint}; train it with `wbvla lam-train`")
    module = LAMModule.load_from_checkpoint(str(checkpoint), map_location=map_location, weights_only=False)
    return module.model.eval()


def training_history(run: Path):
    """All logged metrics of a run (every resumed segment) as one DataFrame indexed by step."""
    import pandas as pd

    files = sorted((Path(run) / "logs").glob("version_*/metrics.csv"))
    if not files:
        return pd.DataFrame()
    df = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    return df.groupby("step").first().sort_index()
