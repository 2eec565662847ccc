"""The one resumable Lightning fit of LAM (Stage I) and VLA (Stages II, III) training.

:func:`fit_resumable` resumes from ``checkpoints/last.ckpt`` (written atomically after every
validation), refuses to resume a run folder with a config that differs in what the run learns
(:func:`check_same_run`, naming the fields), maps the config's device name once
(:func:`wbvla.training.devices.resolve_device`), sets torch's CPU threads from the config, logs CSV
metrics and appends wall time, throughput and peak memory of each call to ``train_log.json``.
"""

from __future__ import annotations

import json
import os
import resource
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import torch

from wbvla.compat import import_lightning
from wbvla.io import write_json_atomic
from wbvla.training.checkpointing import AtomicCheckpointIO, SaveLast
from wbvla.training.devices import resolve_device

L = import_lightning()


def batch_examples(batch) -> int:
    """Examples in a batch: a dict's first tensor / list, or the batch itself."""
    first = next(iter(batch.values())) if isinstance(batch, dict) else batch
    return int(first.shape[0]) if hasattr(first, "shape") else len(first)


class ExampleThroughput(L.Callback):
    """Examples per second inside training batches (validation and checkpointing excluded)."""

    def __init__(self, count=batch_examples):
        self.count, self.seconds, self.examples, self._t = count, 0.0, 0, None

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self._t = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        self.seconds += time.perf_counter() - self._t
        self.examples += self.count(batch)


@dataclass
class FitResult:
    """What one (possibly resumed) fit did."""

    run_dir: Path
    checkpoint: Path
    steps: int
    """Global step reached."""
    steps_this_call: int
    wall_s: float
    """Wall time of this call's ``fit`` (s)."""
    examples_per_s: float
    """Training throughput of this call (NaN when nothing was trained)."""
    peak_rss_mb: float
    """Peak resident memory of this process so far (MB; includes data held in memory)."""
    device: str


def peak_rss_mb() -> float:
    """Peak resident set size of this process (MB, from getrusage; Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def config_json(config) -> dict:
    """A config dataclass as the JSON ``train_config.json`` holds (paths as strings)."""
    return json.loads(json.dumps(asdict(config), default=str))


def fit_resumable(module, train_loader, val_loader, run: Path, max_steps: int, device: str, progress: bool,
                  resume: bool, config: dict, log_every_n_steps: int = 10, callbacks: list | None = None,
                  defaults: dict | None = None, count_examples=batch_examples) -> FitResult:
    """Fit ``module`` to ``max_steps`` in ``run`` (resuming from ``checkpoints/last.ckpt``); one
    "epoch" is one pass of ``train_loader``, after which it validates and checkpoints.

    ``config`` (:func:`config_json` of the run's config) is written to ``train_config.json`` when
    the run starts; resuming with a config that differs in what the run learns raises ValueError
    (:func:`check_same_run`; ``defaults``, the default config's JSON, lets a field added since the
    run started pass at its default). ``device``: :data:`wbvla.training.devices.DEVICES`. The
    trainer sets torch's CPU threads first (:func:`wbvla.training.devices.set_threads`)."""
    run = Path(run)
    run.mkdir(parents=True, exist_ok=True)
    last = run / "checkpoints" / "last.ckpt"
    if not last.exists():
        write_json_atomic(run / "train_config.json", config)
    elif resume:
        check_same_run(run, config, defaults)
    acc = resolve_device(device).accelerator
    speed = ExampleThroughput(count_examples)
    try:  # an interval longer than an epoch would log no training step at all (Lightning warns)
        log_every_n_steps = max(1, min(log_every_n_steps, len(train_loader)))
    except TypeError:
        pass  # an iterable without a length
    trainer = L.Trainer(
        accelerator=acc, devices=1, max_steps=max_steps, max_epochs=-1,
        precision="bf16-mixed" if acc == "gpu" else "32-true",
        logger=L.pytorch.loggers.CSVLogger(str(run), name="logs"),
        callbacks=[SaveLast(last), speed, *(callbacks or [])], enable_checkpointing=False,
        plugins=[AtomicCheckpointIO()], log_every_n_steps=log_every_n_steps, enable_progress_bar=progress,
        enable_model_summary=False, num_sanity_val_steps=0, check_val_every_n_epoch=1, default_root_dir=str(run))
    start = 0
    if resume and last.exists():
        start = int(torch.load(last, map_location="cpu", weights_only=False).get("global_step", 0))
    t0, c0, started = time.perf_counter(), time.process_time(), datetime.now(UTC).isoformat(timespec="seconds")
    trainer.fit(module, train_loader, val_loader, ckpt_path=str(last) if resume and last.exists() else None)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    steps = int(trainer.global_step)
    res = FitResult(run, last, steps, steps - start, wall,
                    speed.examples / speed.seconds if speed.seconds > 0 else float("nan"), peak_rss_mb(), acc)
    if res.steps_this_call > 0:
        log = train_log(run)
        log.append({"steps": res.steps_this_call, "global_step": steps, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "started_utc": started,
                    "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
                    "examples_per_s": round(res.examples_per_s, 1), "peak_rss_mb": round(res.peak_rss_mb),
                    "device": acc, "threads": torch.get_num_threads(), "host_cpus": os.cpu_count(),
                    "load_avg_1min_at_end": round(os.getloadavg()[0], 2)})
        write_json_atomic(run / "train_log.json", log)
    return res


RESUMABLE_CHANGES = frozenset({"max_steps", "threads", "device", "progress", "resume", "output_dir", "export_dir"})
"""Config fields a resumed run may change (how long and where it runs, not what it learns)."""


def check_same_run(run: Path, config: dict, defaults: dict | None = None) -> None:
    """Refuse to resume ``run`` with a config that differs from its ``train_config.json`` in anything
    but :data:`RESUMABLE_CHANGES` (a run folder is named by some switches only; resuming it with
    others would silently mix two recipes). Raises ValueError naming the folder and the fields.
    A field the stored config lacks (added to the config class since the run started) counts as
    the same when the new value is its value in ``defaults`` (the default config's JSON)."""
    path = Path(run) / "train_config.json"
    if not path.exists():
        return
    stored = json.loads(path.read_text())

    def flat(d: dict, prefix: str = "") -> dict:
        out = {}
        for k, v in d.items():
            key = f"{prefix}{k}"
            if isinstance(v, dict):
                out.update(flat(v, key + "."))
            elif k not in RESUMABLE_CHANGES:
                out[key] = v
        return out

    a, b = flat(stored), flat(json.loads(json.dumps(config, default=str)))
    for k, v in flat(defaults or {}).items():
        if k not in a and b.get(k) == v:
            a[k] = v  # added since the run started, used at its default: the same recipe
    diff = sorted(k for k in a.keys() | b.keys() if a.get(k, "<absent>") != b.get(k, "<absent>"))
    if diff:
        shown = ", ".join(f"{k}: {a.get(k, '<absent>')!r} -> {b.get(k, '<absent>')!r}" for k in diff[:6])
        raise ValueError(f"{path}: the run in this folder was trained with a different config ({shown}"
                         f"{', ...' if len(diff) > 6 else ''}); resume it with its own config, pass another "
                         f"output_dir, or delete the folder to start over")


def train_log(run: Path) -> list[dict]:
    """Every call of a run that trained steps."""
    path = Path(run) / "train_log.json"
    return json.loads(path.read_text()) if path.exists() else []


def _rate(call: dict) -> float:
    return call["examples_per_s"] if "examples_per_s" in call else call["pairs_per_s"]  # LAM logs before the harness


def summarize(run: Path) -> dict:
    """Total steps and wall time, step-weighted throughput and max peak memory over all calls."""
    log = train_log(run)
    steps = sum(r["steps"] for r in log)
    return {"steps": steps, "wall_s": sum(r["wall_s"] for r in log),
            "examples_per_s": sum(_rate(r) * r["steps"] for r in log) / max(steps, 1) if log else float("nan"),
            "peak_rss_mb": max((r.get("peak_rss_mb", float("nan")) for r in log), default=float("nan")),
            "device": log[-1]["device"] if log else None, "threads": log[-1]["threads"] if log else None}


def warmup_cosine(warmup: int, total: int):
    """LR multiplier: linear warmup, then cosine to 10 % of the peak at ``total``."""
    import math

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))

    return schedule
