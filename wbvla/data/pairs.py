"""Frame pairs (o_t, o_t+k) from the simulated corpora, and balanced batch sampling.

Frames are decoded once into memory (uint8, a 64x64 tutorial corpus is a few hundred MB at most).
Datasets return only images; the ground-truth primitive of each pair lives in ``pairs.table``
for evaluation and never reaches a LAM.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset, Sampler

from wbvla.data.corpus import load_index
from wbvla.data.lerobot_v3.video import stream_errors
from wbvla.validation import positive, require

INDEX_COLUMNS = ("clip_id", "frame", "corpus", "domain", "primitive", "scene_seed", "split", "video", "time")
"""Columns of a corpus ``index.parquet`` that :class:`FramePairs` reads."""


def read_video_frames(path: Path) -> tuple[np.ndarray, float]:
    """All frames of a video file, (T, H, W, 3) uint8, and its fps.

    Raises:
        ValueError: the file is missing, unreadable, holds no frames, or is truncated: fewer frames decode
            than its header declares (duration x fps) and ffmpeg reports the stream damaged, or fewer
            than 90 % of them decode (the message names the file).
    """
    import imageio_ffmpeg

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"video file not found: {path}")
    try:  # imageio-ffmpeg's own ffmpeg binary; mediapy's reader passes options newer ffmpegs dropped
        gen = imageio_ffmpeg.read_frames(str(path))
        meta = next(gen)
        w, h = meta["size"]
        frames = np.stack([np.frombuffer(f, np.uint8).reshape(h, w, 3) for f in gen]) if w and h else np.zeros(0)
        fps = float(meta.get("fps") or float("nan"))
    except Exception as err:  # ffmpeg reports corrupt files in many ways
        msg = str(err).strip().splitlines()
        raise ValueError(f"cannot decode video {path}: {type(err).__name__}: {(msg[-1] if msg else '')[:200]}") from None
    if frames.ndim != 4 or len(frames) == 0:
        raise ValueError(f"video {path} holds no frames")
    declared = float(meta.get("duration") or 0.0) * (fps if fps == fps else 0.0)
    if len(frames) < declared - 1.5:  # the header's duration is printed to 10 ms: allow one frame
        damage = stream_errors(path)
        if damage or len(frames) < 0.9 * declared:
            raise ValueError(f"video {path} is truncated or corrupt: {len(frames)} frames decode, its header declares "
                             f"{declared:.0f} ({meta['duration']:.2f} s at {fps:g} fps){': ' + damage if damage else ''}")
    return frames, fps


class PairStore(Dataset):
    """Frames in memory plus a table of pairs: ``frames`` (F, 3, H, W) uint8 and ``table`` with
    columns ``i, j`` (frame indices of o_t and o_t+k) and any metadata. Items are
    ``{"o_t", "o_tk", "index"}``; nothing else (no labels) reaches a model."""

    def _finish(self, frames: list[np.ndarray], rows: list[tuple], columns: list[str]) -> None:
        self.frames = torch.from_numpy(np.concatenate(frames)).permute(0, 3, 1, 2).contiguous()  # (F, 3, H, W)
        self.table = pd.DataFrame(rows, columns=columns)
        self._i = torch.tensor(self.table.i.to_numpy(), dtype=torch.long)
        self._j = torch.tensor(self.table.j.to_numpy(), dtype=torch.long)

    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, idx: int) -> dict[str, torch.Tensor]:
        return {"o_t": self.frames[self._i[idx]], "o_tk": self.frames[self._j[idx]], "index": idx}

    def batch(self, idx: Sequence[int] | np.ndarray) -> dict[str, torch.Tensor]:
        """Fast batched access: uint8 (B, 3, H, W) tensors for pair indices ``idx``."""
        idx = torch.as_tensor(np.asarray(idx), dtype=torch.long)
        return {"o_t": self.frames[self._i[idx]], "o_tk": self.frames[self._j[idx]], "index": idx}


class FramePairs(PairStore):
    """Pairs (o_t, o_t+k) of one or more corpora and splits.

    Args:
        root: corpus folder (``CorpusConfig.path``).
        corpora: which corpora (``loco_human``, ``loco_robot``, ``mani``).
        split: ``train`` or ``heldout``.
        offset_s: k in seconds (rounded to frames with the corpus fps).
        same_primitive: keep only pairs whose frames t..t+k all carry one primitive label (for
            per-primitive evaluation; training uses every pair).

    ``self.table`` has one row per pair: ``clip_id, frame, corpus, domain, primitive, scene_seed,
    split, i, j`` where ``i, j`` index ``self.frames``.
    """

    def __init__(self, root: Path, corpora: Sequence[str], split: str, offset_s: float,
                 same_primitive: bool = False, max_clips: int | None = None):
        positive("offset_s", offset_s)
        index = load_index(root)
        missing = [c for c in INDEX_COLUMNS if c not in index.columns]
        require(not missing, f"{Path(root) / 'index.parquet'}: corpus index has no column(s) {missing}")
        index = index[index.corpus.isin(list(corpora)) & (index.split == split)]
        require(len(index) > 0, f"no frames of corpora {list(corpora)} in split {split!r} under {root}")
        clips = sorted(index.clip_id.unique())
        if max_clips is not None:
            clips = clips[:max_clips]
        fps = 1.0 / float(np.median(np.diff(index[index.clip_id == clips[0]].time.to_numpy()))) if len(
            index[index.clip_id == clips[0]]) > 1 else 10.0
        self.k = max(1, int(round(offset_s * fps)))
        self.fps = fps
        frames, rows, start = [], [], 0
        for cid in clips:
            meta = index[index.clip_id == cid].sort_values("frame")
            video, _ = read_video_frames(Path(root) / meta.video.iloc[0])
            n = min(len(video), len(meta))
            frames.append(video[:n])
            labels = meta.primitive.to_numpy()[:n]
            for t in range(n - self.k):
                if same_primitive and not np.all(labels[t:t + self.k] == labels[t]):
                    continue
                r = meta.iloc[t]
                rows.append((cid, t, r.corpus, r.domain, labels[t], r.scene_seed, r.split, start + t, start + t + self.k))
            start += n
        require(len(rows) > 0, f"no frame pairs with k={self.k} frames in {root} ({list(corpora)}, {split})")
        self._finish(frames, rows, ["clip_id", "frame", "corpus", "domain", "primitive", "scene_seed", "split", "i", "j"])


class ConcatPairs(Dataset):
    """Several pair datasets as one; ``groups()`` gives each source's indices (for balancing)."""

    def __init__(self, parts: Sequence[Dataset]):
        require(len(parts) > 0, "ConcatPairs needs at least one dataset")
        self.parts = list(parts)
        self.offsets = np.cumsum([0] + [len(p) for p in parts])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, idx: int):
        k = int(np.searchsorted(self.offsets, idx, side="right") - 1)
        item = dict(self.parts[k][idx - int(self.offsets[k])])
        item["index"] = idx
        return item

    def groups(self) -> list[np.ndarray]:
        return [np.arange(self.offsets[i], self.offsets[i + 1]) for i in range(len(self.parts))]


class BalancedBatchSampler(Sampler[list[int]]):
    """Batches drawn equally from each index group, in *every* batch (the shared LAM, App. B).

    ``batch_size`` must be divisible by the number of groups. Each group is walked in a fresh
    random order per pass (sampling without replacement within a pass, restarting when exhausted),
    so the small source is repeated more often instead of being drowned by the large one.
    """

    def __init__(self, groups: Sequence[np.ndarray], batch_size: int, batches_per_epoch: int, seed: int = 0):
        require(len(groups) > 0 and all(len(g) > 0 for g in groups), "every group needs at least one index")
        require(batch_size % len(groups) == 0,
                f"batch_size {batch_size} must be divisible by the number of groups {len(groups)}")
        positive("batches_per_epoch", batches_per_epoch)
        self.groups = [np.asarray(g) for g in groups]
        self.per_group = batch_size // len(groups)
        self.batches_per_epoch, self.seed, self.epoch = batches_per_epoch, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.batches_per_epoch

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        streams = [self._stream(g, rng) for g in self.groups]
        for _ in range(self.batches_per_epoch):
            batch = [int(next(s)) for s in streams for _ in range(self.per_group)]
            yield batch

    @staticmethod
    def _stream(group: np.ndarray, rng: np.random.Generator):
        while True:
            yield from rng.permutation(group)
