"""Which seeds train and which evaluate: disjoint ranges, checked wherever a scene is made from a seed.

Every trial, demonstration and render is built from an integer seed (layout, textures, lights,
start pose). Training data (teleoperation demonstrations, vision-pretraining renders) use only
``train`` seeds; the task suite and ``expert-eval`` only ``eval`` seeds, so no held-out scene is
ever seen in training. :mod:`wbvla.tasks.specs` re-exports these names.
"""

from __future__ import annotations

from wbvla.validation import require

SEED_RANGES: dict[str, range] = {"train": range(0, 100_000), "eval": range(1_000_000, 1_100_000)}
"""Disjoint seed ranges: training data use ``train`` seeds, the task suite ``eval`` seeds."""


def check_seed(seed: int, split: str) -> int:
    """``seed`` if it lies in ``SEED_RANGES[split]``; a clear error otherwise."""
    require(split in SEED_RANGES, f"split must be one of {tuple(SEED_RANGES)}, got {split!r}")
    r = SEED_RANGES[split]
    require(isinstance(seed, int) and seed in r, f"seed {seed!r} is not a {split} seed (range {r.start}..{r.stop - 1})")
    return seed


def split_of(seed: int) -> str:
    """Which split a seed belongs to (``train`` / ``eval``)."""
    for name, r in SEED_RANGES.items():
        if seed in r:
            return name
    raise ValueError(f"seed {seed} is in no split; ranges: { {k: (r.start, r.stop - 1) for k, r in SEED_RANGES.items()} }")
