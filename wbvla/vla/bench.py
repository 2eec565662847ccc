"""VLA tick latency: ``act()`` from a head-camera image to u_t, on this machine.

A tick's cost does not depend on what the weights learned, so presets that have not been trained
here (the SmolLM2 preset) are timed with :func:`timing_policy`: the real architecture and the real
SmolLM2 text weights, a random vision tower and decoder, and LoRA adapters merged as in a trained
policy. Its outputs mean nothing; its latency is the preset's.
"""

from __future__ import annotations

import os
import time

import numpy as np
import torch

from wbvla.data.teleop_schema import INSTRUCTIONS, STATE_DIM
from wbvla.vla.backbone import build_backbone
from wbvla.vla.config import BackboneConfig, DecoderConfig
from wbvla.vla.decoder import ExecutionDecoder
from wbvla.vla.latents import LatentVocabulary
from wbvla.vla.model import LatentVLA
from wbvla.vla.policy import VLAPolicy


def timing_policy(backbone: BackboneConfig, vocab: LatentVocabulary | None = None, chunk_size: int = 5):
    """An untrained :class:`~wbvla.vla.policy.VLAPolicy` of the given architecture (for timing only)."""
    vocab = vocab or LatentVocabulary({"mani": (1, 16), "loco": (1, 16)})
    bb = build_backbone(backbone, vocab.tokens())
    vla = LatentVLA(bb, vocab)
    decoder = ExecutionDecoder(DecoderConfig(), bb.hidden_size, chunk_size)
    meta = {"model_id": f"untrained-timing:{bb.source}", "command_kind": "flags", "use_state": True, "dt": 0.1}
    return VLAPolicy(vla, decoder, meta)


def tick_latency(policy, ticks: int = 100, warmup: int = 10, image_size: int = 128, seed: int = 0) -> dict:
    """Median / p90 / mean of ``act()`` wall time (ms) over ``ticks`` calls on random 128x128 frames
    and states, with the three task instructions in turn; per-part medians from ``info["ms"]``."""
    rng = np.random.default_rng(seed)
    instructions = list(INSTRUCTIONS.values())
    images = rng.integers(0, 256, (8, image_size, image_size, 3), dtype=np.uint8)
    states = rng.normal(0, 0.3, (8, STATE_DIM)).astype(np.float32)
    walls, parts = [], []
    for i in range(warmup + ticks):
        t0 = time.perf_counter()
        out = policy.act(images[i % 8], instructions[i % 3], states[i % 8])
        wall = (time.perf_counter() - t0) * 1e3
        if i >= warmup:
            walls.append(wall)
            parts.append(out.info["ms"])
    walls = np.asarray(walls)
    return {"median_ms": float(np.median(walls)), "p90_ms": float(np.percentile(walls, 90)),
            "mean_ms": float(walls.mean()), "ticks": ticks, "threads": torch.get_num_threads(),
            "parts_median_ms": {k: float(np.median([p[k] for p in parts])) for k in parts[0]},
            "model_id": policy.model_id, "load_avg_1min": round(os.getloadavg()[0], 2)}
