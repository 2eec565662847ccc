"""Lightning training of a LAM: logged terms, atomic checkpoints, resume, balanced shared batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wbvla.data.pairs import PairStore
from wbvla.lam.config import LAMConfig, LAMTrainConfig
from wbvla.lam.train import load_lam, train_lam, training_history, training_summary


class MovingSquares(PairStore):
    """A square moving in one of four directions per clip (a toy action-free video)."""

    def __init__(self, n_clips: int, seed: int, size: int = 16, length: int = 6):
        rng = np.random.default_rng(seed)
        frames, rows = [], []
        for c in range(n_clips):
            d = [(0, 1), (0, -1), (1, 0), (-1, 0)][c % 4]
            y, x = rng.integers(4, size - 8, 2)
            clip = np.zeros((length, size, size, 3), np.uint8)
            clip[:] = rng.integers(0, 60, 3)
            for t in range(length):
                yy, xx = (y + d[0] * t) % (size - 4), (x + d[1] * t) % (size - 4)
                clip[t, yy:yy + 4, xx:xx + 4] = 230
            frames.append(clip)
            for t in range(length - 1):
                rows.append((c, t, c * length + t, c * length + t + 1))
        self._finish(frames, rows, ["clip", "frame", "i", "j"])


def _config(tmp_path, variant="loco", steps=6):
    return LAMTrainConfig(variant=variant, max_steps=steps, batch_size=8, val_every_n_steps=3, val_pairs=16,
                          warmup_steps=2, output_dir=tmp_path / variant, progress=False,
                          model=LAMConfig(image_size=16, patch_size=4, model_dim=32, num_heads=2,
                                          encoder_layers=1, decoder_layers=1, codebook_size=4))


def test_train_logs_every_term_checkpoints_and_resumes(tmp_path):
    cfg = _config(tmp_path)
    res = train_lam(cfg, [MovingSquares(8, 0)], [MovingSquares(4, 1)])
    assert res.steps == 6 and res.steps_this_call == 6 and res.checkpoint.exists()
    assert res.pairs_per_s > 0 and res.device == "cpu"
    assert not list(res.checkpoint.parent.glob(".*tmp*"))  # no temp files left behind
    hist = training_history(res.run_dir)
    for key in ("train/loss", "train/mse", "train/vq_encoder_term", "train/vq_codebook_term", "train/perplexity",
                "train/codebook_usage", "val/rrg", "val/mse_base"):
        assert key in hist.columns and hist[key].notna().any(), key
    # a finished run is not trained again; a longer one resumes from last.ckpt
    assert train_lam(cfg, [MovingSquares(8, 0)], [MovingSquares(4, 1)]).steps_this_call == 0
    cfg.max_steps = 9
    again = train_lam(cfg, [MovingSquares(8, 0)], [MovingSquares(4, 1)])
    assert again.steps == 9 and again.steps_this_call == 3
    assert training_summary(res.run_dir)["steps"] == 9
    assert torch.load(again.checkpoint, weights_only=False, map_location="cpu")["global_step"] == 9
    model = load_lam(again.checkpoint)
    codes = model.encode(*[MovingSquares(1, 2).batch([0])[k] for k in ("o_t", "o_tk")])
    assert codes.shape == (1, 1) and 0 <= int(codes) < 4
    # the run refuses to resume with another recipe (the one harness's check, as Stages II and III)
    cfg.model.codebook_size = 8
    with pytest.raises(ValueError, match=r"train_config\.json.*model\.codebook_size: 4 -> 8"):
        train_lam(cfg, [MovingSquares(8, 0)], [MovingSquares(4, 1)])


def test_shared_variant_trains_on_two_balanced_sources(tmp_path):
    cfg = _config(tmp_path, "shared", steps=3)
    seen = []

    class Spy(MovingSquares):
        def __getitem__(self, idx):
            seen.append(self.tag)
            return super().__getitem__(idx)

    a, b = Spy(2, 0), Spy(12, 1)
    a.tag, b.tag = "a", "b"
    res = train_lam(cfg, [a, b], [MovingSquares(2, 3), MovingSquares(2, 4)])
    assert res.steps == 3
    train_seen = seen[: 3 * 8]
    for k in range(3):  # every batch: half from each source, although b is 6x larger
        batch = train_seen[k * 8:(k + 1) * 8]
        assert batch.count("a") == 4 and batch.count("b") == 4


def test_an_interrupted_lam_run_resumes_from_its_last_validation(tmp_path):
    from wbvla.lam.train import L

    class Crash(L.Callback):
        def on_train_batch_start(self, trainer, module, batch, i):
            if trainer.global_step == 4:
                raise KeyboardInterrupt  # like a killed job

    cfg = _config(tmp_path, steps=9)  # validates (and writes last.ckpt) every 3 steps
    data = dict(train_parts=[MovingSquares(8, 0)], val_parts=[MovingSquares(4, 1)])
    try:
        train_lam(cfg, callbacks=[Crash()], **data)
    except (KeyboardInterrupt, SystemExit):
        pass
    last = tmp_path / "loco" / "checkpoints" / "last.ckpt"
    assert last.exists() and torch.load(last, weights_only=False, map_location="cpu")["global_step"] == 3
    res = train_lam(cfg, **data)
    assert res.steps == 9 and res.steps_this_call == 6
