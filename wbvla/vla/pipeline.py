"""The Stage II/III recipe notebooks 05 and 06 share: the Stage I plan they build on, the Stage II
config and the Stage III config, for SMOKE or tutorial size. Whichever notebook runs first trains
what is missing; the other finds it (every run resumes or returns at once when finished)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from wbvla.lam.config import LAMConfig
from wbvla.lam.pipeline import StageIPlan, ensure_corpus, ensure_lams, stage1_plan
from wbvla.paths import cache_dir
from wbvla.vla.config import FinetuneConfig, PretrainConfig, sized_finetune_config

SMOKE_TELEOP_TASKS = ("cart_pushing",)
"""SMOKE runs train on two short demonstrations of one task (one to train on, one held out),
collected by the notebook with ``wbvla.tasks.teleop`` into ``cache_dir()/teleop/smoke_vla``."""


@dataclass
class VLAPlan:
    """Stage I (corpus + LAMs), Stage II and Stage III configs of one size."""

    stage1: StageIPlan
    pretrain: PretrainConfig
    finetune: FinetuneConfig


def vla_plan(smoke: bool, seed: int = 0, device: str = "auto", threads: int | None = 1, pretrain_steps: int | None = None,
             finetune_steps: int | None = None, batch_size: int | None = None, preset: str = "tiny",
             progress: bool = True, vision_tower: str | Path | None = None, lam: LAMConfig | None = None) -> VLAPlan:
    """SMOKE: the seconds-sized corpus, 20-step LAMs, 20 Stage II and 20 Stage III steps on the
    smoke teleop dataset; otherwise the tutorial corpus and LAMs, 1500 + 1500 steps of 32.
    ``vision_tower``: a pretrained tower folder (the shipped ``data/vla/vision_tower``) the VLA starts
    from (None: the preset's random weights); ``lam``: the Stage I LAMs' model, e.g. on that tower's
    features (:func:`wbvla.lam.pipeline.lam_model`; None: pixel space), which then label Stage II."""
    lam = lam or LAMConfig()
    s1 = stage1_plan(smoke=smoke, seed=seed, device=device, threads=threads, progress=progress, model=lam)
    size = s1.corpus.size
    small = dict(batch_size=16, val_every_n_steps=10, warmup_steps=5) if smoke else {}
    ft = sized_finetune_config(size, pretrain_steps or (20 if smoke else 1500), finetune_steps or (20 if smoke else 1500),
                               preset=preset, seed=seed, device=device, threads=threads, progress=progress,
                               vision_tower=vision_tower, lam_features=lam.features_name(), **small)
    pre = replace(ft.pretrain, val_pairs=64 if smoke else 512)
    teleop_root = cache_dir() / "teleop" / ("smoke_vla" if smoke else "tutorial")
    ft = replace(ft, pretrain=pre, dataset_root=teleop_root, heldout_episodes_per_task=1 if smoke else 2)
    if batch_size is not None:
        pre = replace(pre, batch_size=batch_size)
        ft = replace(ft, batch_size=batch_size, pretrain=pre)
    return VLAPlan(s1, pre, ft)


def ensure_stage1(plan: VLAPlan) -> dict:
    """Generate the Stage I corpus and train the three LAMs if missing; ``{variant: TrainResult}``."""
    ensure_corpus(plan.stage1, progress=plan.pretrain.progress)
    return ensure_lams(plan.stage1)

