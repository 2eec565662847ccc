"""A tiny Stage I world for the VLA tests: a fake corpus on disk (mp4 + parquet index in the
layout of :mod:`wbvla.data.corpus`) and the three LAMs trained on it for a couple of steps."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from wbvla.data.corpus import write_index
from wbvla.viz.video import save_video

PRIMS = {"mani": ("reach", "grasp"), "loco_human": ("advance", "turn_left")}
TARGETS = {"mani": ("bag", "box"), "loco_human": ("shelf_0", "cart_1")}


def _clip(kind: int, corpus: str, n: int, size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    frames = np.zeros((n, size, size, 3), np.uint8)
    frames[:] = rng.integers(20, 80, 3)
    for t in range(n):  # a square that moves right (kind 0) or down (kind 1); mani: brighter
        p = 2 + t % (size - 10)
        y, x = (8, p) if kind == 0 else (p, 8)
        frames[t, y:y + 6, x:x + 6] = 250 if corpus == "mani" else 160
    return frames


def write_fake_corpus(root: Path, clips: int = 4, length: int = 12, size: int = 32) -> Path:
    """``clips`` clips per (corpus, split) for mani and loco_human, train and heldout."""
    root = Path(root)
    for corpus in ("mani", "loco_human"):
        for split, base in (("train", 0), ("heldout", 500)):
            for i in range(clips):
                cid = f"{corpus}_{split}_{i:05d}"
                kind = i % 2
                video = Path("videos") / corpus / f"{cid}.mp4"
                save_video(_clip(kind, corpus, length, size, base + i), root / video, fps=10)
                rows = pd.DataFrame({"clip_id": cid, "frame": np.arange(length), "time": np.arange(length) / 10.0,
                                     "corpus": corpus, "domain": "robot" if corpus == "mani" else "human",
                                     "primitive": PRIMS[corpus][kind], "target": TARGETS[corpus][kind],
                                     "scene_seed": base + i, "split": split, "video": str(video), "camera": "x2_head"})
                (root / "index").mkdir(parents=True, exist_ok=True)
                rows.to_parquet(root / "index" / f"{cid}.parquet", index=False)
    write_index(root)
    return root


def train_fake_lams(corpus: Path, runs: Path) -> Path:
    """mani / loco / shared LAMs (16 px, 4 codes) trained 2 steps each on the fake corpus."""
    from wbvla.lam.config import LAMConfig, LAMTrainConfig
    from wbvla.lam.train import train_lam

    model = LAMConfig(image_size=16, patch_size=4, model_dim=32, num_heads=2, encoder_layers=1, decoder_layers=1,
                      codebook_size=4, code_dim=8)
    for variant in ("mani", "loco", "shared"):
        train_lam(LAMTrainConfig(variant=variant, corpus_root=corpus, output_dir=Path(runs) / variant, max_steps=2,
                                 batch_size=8, val_every_n_steps=2, val_pairs=8, warmup_steps=1, progress=False,
                                 model=model))
    return Path(runs)


@functools.cache
def fake_world() -> tuple[Path, Path, Path]:
    """(corpus, lam_runs, cache) built once per test session in a temp folder (removed at exit);
    point ``WBVLA_CACHE`` at ``cache`` so labels and runs stay out of the user's cache."""
    root = Path(tempfile.mkdtemp(prefix="wbvla_vla_world_"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    corpus = write_fake_corpus(root / "corpus")
    return corpus, train_fake_lams(corpus, root / "lam_runs"), root / "cache"
