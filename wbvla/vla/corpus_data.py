"""Stage II data: the Stage I corpora, labelled by the Stage I LAMs, with one narration per clip.

"The same corpus" (paper §4.1): every clip of the manipulation corpus and of the human-like
locomotion corpus is labelled by *both* LAMs (the manipulation LAM also on walking video, the
locomotion LAM also on the static manipulation video): for each pair (o_t, o_t+k) the codes
c_t = argmin ||E_i(o_t, o_t+k) - c||. The VLA sees only o_t and the clip's narration and must
predict the codes. Codes are cached under ``cache_dir()/vla_labels`` (keyed by the LAM checkpoint's
content, the corpus split and k).

Narrations are what a real corpus would carry: a sentence per clip about its goal, object or
activity (Ego4D-style narrations, AgiBot World task instructions), written from clip-level
metadata (the props the walker heads for, the scripted task and the hands used). Per-frame
primitive labels never reach the VLA; they stay in ``table`` for evaluation.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from wbvla.data.corpus import load_index
from wbvla.data.corpus_config import CorpusConfig
from wbvla.data.pairs import FramePairs
from wbvla.io import atomic_path
from wbvla.lam.train import load_lam
from wbvla.paths import cache_dir
from wbvla.validation import require
from wbvla.vla.config import LAM_SOURCES, PretrainConfig

STAGE2_SOURCES = ("mani", "loco_human")
"""The two video sources of Stage II, balanced in every batch: robot manipulation video and
human-like manipulation-aware locomotion video."""

_PLACES = {"table": "the table", "carton": "the carton", "cart": "the cart", "shelf": "the shelf",
           "drawer": "the chest of drawers"}
_PROPS = {"bag": "the paper bag", "box": "the box"}
_HANDS = {"left": "the left hand", "right": "the right hand", "both": "both hands"}
_LOCO_ONE = ("walk over to {a}", "go to {a}", "head toward {a}", "approach {a}", "make your way to {a}")
_LOCO_TWO = ("walk to {a}, then to {b}", "go over to {a} and then to {b}", "head to {a}, then on to {b}",
             "visit {a} first and {b} after")
_MANI = {
    "reach": ("reach for {p} with {h}", "move {h} toward {p}"),
    "grasp": ("grasp {p} with {h}", "grab {p} using {h}"),
    "lift": ("lift {p} with {h}", "raise {p} off the table"),
    "place": ("put {p} down on the table", "place {p} with {h}"),
    "push": ("push {p} across the table", "slide {p} forward with {h}"),
    "wipe": ("wipe the table next to {p}", "wipe the tabletop with {h}"),
}


def narrate_clip(meta: pd.DataFrame, arms: str | None = None) -> str:
    """One narration for a clip (its index rows), phrased by a generator seeded with the scene seed."""
    first = meta.iloc[0]
    rng = np.random.default_rng([int(first.scene_seed), 17])
    if first.corpus == "mani":
        prop = _PROPS.get(str(first.target), f"the {first.target}")
        template = _MANI[str(first.primitive)][int(rng.integers(2))]  # the clip's task (one per clip)
        text = template.format(p=prop, h=_HANDS.get(arms or "both", "both hands"))
    else:
        goals = [str(t).split("_")[0] for t in dict.fromkeys(meta.sort_values("frame").target) if isinstance(t, str) and t]
        places = [_PLACES.get(g, f"the {g}") for g in goals] or ["the room"]
        if len(places) == 1:
            text = _LOCO_ONE[int(rng.integers(len(_LOCO_ONE)))].format(a=places[0])
        else:
            text = _LOCO_TWO[int(rng.integers(len(_LOCO_TWO)))].format(a=places[0], b=places[1])
    return text[0].upper() + text[1:] + "."


def clip_narrations(root: Path, clips: pd.DataFrame) -> dict[str, str]:
    """``{clip_id: narration}`` for the clips of an index (reads the hands from the arm trajectories)."""
    out = {}
    for cid, meta in clips.groupby("clip_id", sort=True):
        arms = None
        npz = Path(root) / "arm_trajectories" / f"{cid}.npz"
        if meta.corpus.iloc[0] == "mani" and npz.is_file():
            arms = str(np.load(npz)["arms"])
        out[cid] = narrate_clip(meta, arms)
    return out


def lam_checkpoint(config: PretrainConfig, lam: str) -> Path:
    """``<lam_runs>/<lam>/checkpoints/last.ckpt`` of the config's corpus size and LAM features."""
    runs = Path(config.lam_runs) if config.lam_runs is not None else cache_dir() / "lam_runs" / config.lam_runs_folder_name()
    path = runs / lam / "checkpoints" / "last.ckpt"
    if not path.is_file():
        space = config.lam_features.split("_pool")
        how = "" if space[0] == "pixel" else f" --feature-space {space[0]}" + (f" --tower-pool {space[1]}" if len(space) > 1 else "")
        raise FileNotFoundError(f"no {lam} LAM at {path}; train it first: `wbvla lam-train --variant {lam} "
                                f"--corpus-size {config.corpus_size}{how}`")
    return path


def lam_pair_offset(checkpoint: Path) -> float:
    """k (seconds) the LAM of a run was trained with (its ``train_config.json``; 0.4 s if absent)."""
    f = Path(checkpoint).parent.parent / "train_config.json"
    return float(json.loads(f.read_text()).get("pair_offset_s", 0.4)) if f.is_file() else 0.4


def file_digest(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:12]


@torch.no_grad()
def encode_pairs(model, o_t: torch.Tensor, o_tk: torch.Tensor, batch_size: int = 256) -> np.ndarray:
    """LAM codes (N, Q) of uint8 frame pairs (N, 3, H, W) each (any size: the LAM resizes)."""
    model.eval()
    out = [model.encode(o_t[i:i + batch_size], o_tk[i:i + batch_size]).cpu() for i in range(0, len(o_t), batch_size)]
    return torch.cat(out).numpy().astype(np.int64) if out else np.zeros((0, 1), np.int64)


def label_pairs(pairs: FramePairs, checkpoint: Path, tag: str) -> np.ndarray:
    """Codes (N, Q) of every pair of ``pairs`` by the LAM at ``checkpoint``, cached by content."""
    key = f"{tag}_k{pairs.k}_{file_digest(checkpoint)}_{len(pairs)}"
    path = cache_dir() / "vla_labels" / f"{key}.npz"
    if path.is_file():
        return np.load(path)["codes"]
    model = load_lam(checkpoint)
    chunks = []
    for start in range(0, len(pairs), 1024):
        b = pairs.batch(np.arange(start, min(start + 1024, len(pairs))))
        chunks.append(encode_pairs(model, b["o_t"], b["o_tk"]))
    codes = np.concatenate(chunks)
    with atomic_path(path) as tmp:
        np.savez(tmp, codes=codes)
    return codes


def subset_clips(clips: list[str], fraction: float, seed: int) -> list[str]:
    """The first ``round(fraction * n)`` clips of a seeded permutation: smaller fractions are
    subsets of larger ones (25 % is inside 50 %), as in a data-scaling study."""
    order = np.random.default_rng([seed, 31]).permutation(len(clips))
    keep = int(round(fraction * len(clips)))
    return sorted(clips[i] for i in order[:keep])


@dataclass
class LatentPairs(Dataset):
    """o_t frames with their narration and the codes of each latent slot.

    Items: ``{"image": (3, H, W) uint8, "instruction": str, "codes": (n_slots,) long}``;
    ``table`` keeps the pair metadata (clip, frame, corpus, primitive) for evaluation only.
    """

    frames: torch.Tensor
    """(F, 3, H, W) uint8 frames."""
    frame_index: np.ndarray
    """(N,) frame of o_t of each example."""
    instructions: list[str]
    codes: torch.Tensor
    """(N, n_slots) long."""
    table: pd.DataFrame

    def __len__(self) -> int:
        return len(self.frame_index)

    def __getitem__(self, i: int) -> dict:
        return {"image": self.frames[self.frame_index[i]], "instruction": self.instructions[i], "codes": self.codes[i]}

    def subset(self, idx: np.ndarray) -> LatentPairs:
        idx = np.asarray(idx)
        return LatentPairs(self.frames, self.frame_index[idx], [self.instructions[i] for i in idx], self.codes[idx],
                           self.table.iloc[idx].reset_index(drop=True))


def corpus_root(config: PretrainConfig) -> Path:
    return Path(config.corpus_root) if config.corpus_root is not None else CorpusConfig(size=config.corpus_size).path


def stage2_source(config: PretrainConfig, source: str, split: str) -> LatentPairs | None:
    """Examples of one video source and split, labelled by every LAM of the variant (``None`` when
    the source's fraction is 0). Training splits keep the configured fraction of clips."""
    lams = LAM_SOURCES[config.lam_variant]
    require(len(lams) > 0, "lam_variant='none' has no Stage II data")
    fraction = config.robot_video_fraction if source == "mani" else config.human_video_fraction
    if split == "train" and fraction == 0:
        return None
    ckpts = {lam: lam_checkpoint(config, lam) for lam in lams}
    offsets = {lam_pair_offset(c) for c in ckpts.values()}
    require(len(offsets) == 1, f"the LAMs of {config.lam_variant} were trained with different pair offsets {offsets}")
    root = corpus_root(config)
    pairs = FramePairs(root, [source], split, offsets.pop())
    codes = np.concatenate([label_pairs(pairs, ckpts[lam], f"{config.corpus_size}_{lam}_{source}_{split}") for lam in lams], 1)
    narr = clip_narrations(root, _clip_rows(root, pairs))
    data = LatentPairs(pairs.frames, pairs.table.i.to_numpy(), [narr[c] for c in pairs.table.clip_id],
                       torch.as_tensor(codes, dtype=torch.long), pairs.table.drop(columns=["i", "j"]))
    if split == "train" and fraction < 1:
        keep = set(subset_clips(sorted(pairs.table.clip_id.unique()), fraction, config.seed))
        require(len(keep) > 0, f"{source}: fraction {fraction} of {pairs.table.clip_id.nunique()} clips keeps none")
        data = data.subset(np.flatnonzero(pairs.table.clip_id.isin(keep).to_numpy()))
    return data


def _clip_rows(root: Path, pairs: FramePairs) -> pd.DataFrame:
    index = load_index(root)
    return index[index.clip_id.isin(set(pairs.table.clip_id))]


def majority_codes(parts: list[LatentPairs]) -> np.ndarray:
    """The most frequent code of each slot over the balanced training mix (the baseline a VLA
    that ignores its inputs would reach), (n_slots,)."""
    codes = torch.cat([p.codes for p in parts]).numpy()
    weights = np.concatenate([np.full(len(p), 1.0 / len(p)) for p in parts])  # each source weighs the same
    return np.array([np.bincount(codes[:, j], weights=weights).argmax() for j in range(codes.shape[1])])
