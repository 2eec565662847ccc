"""Train a LAM variant with Lightning: data, balanced sampling, atomic checkpoints, resume.

One function, :func:`train_lam`, serves the CLI (``wbvla lam-train``), the notebooks and the
tests; the three variants differ only in the data they see:

* ``mani``:   manipulation corpus (X2 head camera, arms moving)
* ``loco``:   human-like locomotion corpus (head-mounted wide-FOV camera)
* ``shared``: both, every batch half of each (App. B's balanced sampling)
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset

from wbvla.checkpointing import AtomicCheckpointIO, SaveLast
from wbvla.compat import import_lightning
from wbvla.data.corpus_config import CorpusConfig
from wbvla.data.pairs import BalancedBatchSampler, ConcatPairs, FramePairs
from wbvla.lam.config import LAMTrainConfig
from wbvla.lam.module import LAMModule
from wbvla.paths import cache_dir

L = import_lightning()

VARIANT_CORPORA = {"mani": ("mani",), "loco": ("loco_human",), "shared": ("mani", "loco_human")}


class _Throughput(L.Callback):
    """Wall time spent inside training batches (excludes validation and checkpointing)."""

    def __init__(self):
        self.seconds, self.pairs, self._t = 0.0, 0, None

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self._t = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        self.seconds += time.perf_counter() - self._t
        self.pairs += int(batch["o_t"].shape[0])


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
    return Path(config.output_dir) if config.output_dir is not None else cache_dir() / "lam_runs" / config.corpus_size / config.variant


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


def _accelerator(device: str) -> str:
    if device == "gpu" or (device == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise RuntimeError("device='gpu' but torch sees no CUDA device")
        return "gpu"
    return "cpu"


def train_lam(config: LAMTrainConfig, train_parts: list | None = None, val_parts: list | None = None,
              callbacks: list | None = None) -> TrainResult:
    """Train (or resume, or find complete) the LAM run described by ``config``.

    ``train_parts``/``val_parts`` override the corpus datasets (lists of pair datasets, one per
    source; more than one source gets balanced batches). ``callbacks``: extra Lightning callbacks.
    ``last.ckpt`` is written after every validation (every ``val_every_n_steps``), so an
    interrupted run resumes from there.
    """
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    L.seed_everything(config.seed, workers=True, verbose=False)
    run = run_dir_for(config)
    run.mkdir(parents=True, exist_ok=True)
    ckpt_dir = run / "checkpoints"
    last = ckpt_dir / "last.ckpt"
    train_parts = train_parts if train_parts is not None else build_datasets(config, "train")
    val_parts = val_parts if val_parts is not None else build_datasets(config, "heldout")
    train_data = ConcatPairs(train_parts)
    sampler = BalancedBatchSampler(train_data.groups(), config.batch_size, config.val_every_n_steps, config.seed)
    train_loader = DataLoader(train_data, batch_sampler=sampler, num_workers=0)
    val_loader = DataLoader(_val_subset(val_parts, config.val_pairs, config.seed), batch_size=64, num_workers=0)
    accelerator = _accelerator(config.device)
    module = LAMModule.from_config(config.model, lr=config.lr, warmup_steps=config.warmup_steps,
                                   max_steps=config.max_steps, weight_decay=config.weight_decay)
    if not last.exists():  # the config that starts a run; later calls that train append below
        (run / "train_config.json").write_text(json.dumps(asdict(config), indent=1, default=str))
    throughput = _Throughput()
    trainer = L.Trainer(
        accelerator=accelerator, devices=1, max_steps=config.max_steps, max_epochs=-1,
        precision="bf16-mixed" if accelerator == "gpu" else "32-true",
        logger=L.pytorch.loggers.CSVLogger(str(run), name="logs"),
        callbacks=[SaveLast(last), throughput, *(callbacks or [])], enable_checkpointing=False,
        plugins=[AtomicCheckpointIO()], log_every_n_steps=min(10, config.val_every_n_steps), enable_progress_bar=config.progress,
        enable_model_summary=False, num_sanity_val_steps=0, check_val_every_n_epoch=1,
        default_root_dir=str(run),
    )
    start_step = 0
    if config.resume and last.exists():
        start_step = int(torch.load(last, map_location="cpu", weights_only=False).get("global_step", 0))
    t0 = time.perf_counter()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    trainer.fit(module, train_loader, val_loader, ckpt_path=str(last) if config.resume and last.exists() else None)
    wall = time.perf_counter() - t0
    steps = int(trainer.global_step)
    done = steps - start_step
    result = TrainResult(last, run, steps, done, wall,
                         throughput.pairs / throughput.seconds if throughput.seconds > 0 else float("nan"), accelerator)
    if done > 0:
        log_path = run / "train_log.json"
        log = json.loads(log_path.read_text()) if log_path.exists() else []
        log.append({"steps": done, "global_step": steps, "wall_s": round(wall, 1), "started_utc": started,
                    "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
                    "pairs_per_s": round(result.pairs_per_s, 1), "device": accelerator,
                    "threads": torch.get_num_threads(), "host_cpus": os.cpu_count()})
        log_path.write_text(json.dumps(log, indent=1))
    return result


def train_log(run: Path) -> list[dict]:
    """Every training call of a run that trained steps (steps, wall time, throughput, device, threads)."""
    path = Path(run) / "train_log.json"
    return json.loads(path.read_text()) if path.exists() else []


def training_summary(run: Path) -> dict:
    """Total wall time, steps and mean throughput of a run over all (resumed) calls."""
    path = Path(run) / "train_log.json"
    if not path.exists():
        return {"wall_s": float("nan"), "steps": 0, "pairs_per_s": float("nan")}
    log = json.loads(path.read_text())
    wall = sum(r["wall_s"] for r in log)
    steps = sum(r["steps"] for r in log)
    pps = sum(r["pairs_per_s"] * r["steps"] for r in log) / max(steps, 1)
    return {"wall_s": wall, "steps": steps, "pairs_per_s": pps, "device": log[-1]["device"]}


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
