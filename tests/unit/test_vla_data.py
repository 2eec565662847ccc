"""VLA data: narrations (no frame labels), LAM labels of both corpora (cached), video fractions,
majority baseline by hand, teleop episodes (splits, chunks held past the end, latent clamping)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from vla_helpers import fake_world

from wbvla.data.primitives import LOCO_PRIMITIVES
from wbvla.data.teleop_schema import ACTION_DIM, STATE_DIM
from wbvla.vla.config import PretrainConfig
from wbvla.vla.corpus_data import (
    LatentPairs,
    majority_codes,
    narrate_clip,
    stage2_source,
    subset_clips,
)
from wbvla.vla.teleop_data import (
    TeleopEpisode,
    TeleopFrames,
    latent_labels,
    split_episodes,
    synthetic_episodes,
)


def _rows(corpus, targets, prims, seed=3):
    n = len(targets)
    return pd.DataFrame({"clip_id": "c", "frame": np.arange(n), "corpus": corpus, "target": targets,
                         "primitive": prims, "scene_seed": seed})


def test_narrations_describe_goals_never_frame_labels():
    loco = _rows("loco_human", ["shelf_0"] * 3 + ["cart_2"] * 3, ["turn_left", "advance", "advance", "sidestep_right",
                                                                   "squat_down", "rise"])
    text = narrate_clip(loco)
    assert "shelf" in text and "cart" in text and text.index("shelf") < text.index("cart")
    assert not any(p.replace("_", " ") in text.lower() or p in text for p in LOCO_PRIMITIVES)
    assert narrate_clip(loco) == text  # deterministic per clip
    mani = _rows("mani", ["bag"] * 2, ["grasp"] * 2)
    assert "paper bag" in narrate_clip(mani, "left") and text[-1] == "."
    phrasings = {narrate_clip(_rows("loco_human", ["table_0"], ["advance"], seed=s)) for s in range(30)}
    assert len(phrasings) > 2  # several templates, like different narrators


def test_video_fraction_subsets_are_nested():
    clips = [f"c{i}" for i in range(20)]
    quarter, half, full = (set(subset_clips(clips, f, seed=0)) for f in (0.25, 0.5, 1.0))
    assert len(quarter) == 5 and len(half) == 10 and full == set(clips)
    assert quarter <= half <= full
    assert subset_clips(clips, 0.0, 0) == []


def test_majority_code_weighs_each_source_equally():
    def part(codes):
        c = torch.tensor(codes)
        return LatentPairs(torch.zeros(1, 3, 2, 2, dtype=torch.uint8), np.zeros(len(c), int), ["x"] * len(c), c,
                           pd.DataFrame(index=range(len(c))))
    # source A: 6 x code 1, 3 x code 3 (weight 1/9 each: code 1 totals 2/3); source B: 1 x code 2
    # (weight 1): code 2 wins slot 0, although code 1 is the most frequent row overall
    a = part([[1, 0]] * 6 + [[3, 0]] * 3)
    b = part([[2, 0]])
    assert majority_codes([a, b]).tolist() == [2, 0]
    assert majority_codes([a]).tolist() == [1, 0]


def test_both_lams_label_both_corpora_and_labels_are_cached(tmp_path, monkeypatch):
    corpus, runs, _ = fake_world()
    monkeypatch.setenv("WBVLA_CACHE", str(tmp_path))
    cfg = PretrainConfig(corpus_size="smoke", corpus_root=corpus, lam_runs=runs)
    mani, loco = stage2_source(cfg, "mani", "train"), stage2_source(cfg, "loco_human", "train")
    for part in (mani, loco):
        assert part.codes.shape == (len(part), 2) and part.codes.max() < 4  # mani and loco codes for every pair
        item = part[0]
        assert item["image"].dtype == torch.uint8 and item["image"].shape == (3, 32, 32)
        assert set(item) == {"image", "instruction", "codes"}  # no primitive label reaches the model
    assert len(list((tmp_path / "vla_labels").glob("*.npz"))) == 4  # 2 LAMs x 2 sources, cached
    again = stage2_source(cfg, "mani", "train")
    assert torch.equal(again.codes, mani.codes)
    half = stage2_source(PretrainConfig(corpus_size="smoke", corpus_root=corpus, lam_runs=runs, robot_video_fraction=0.5),
                         "mani", "train")
    assert half.table.clip_id.nunique() == 2 and mani.table.clip_id.nunique() == 4
    assert stage2_source(PretrainConfig(corpus_size="smoke", corpus_root=corpus, lam_runs=runs, human_video_fraction=0.0),
                         "loco_human", "train") is None
    assert set(stage2_source(cfg, "mani", "heldout").table.scene_seed) >= {500}  # the unseen-scene split
    with pytest.raises(FileNotFoundError, match="lam-train"):
        stage2_source(PretrainConfig(corpus_size="smoke", corpus_root=corpus, lam_runs=tmp_path / "none"), "mani", "train")


def _episode(index=0, t=6, instruction="task a"):
    act = np.arange(t, dtype=np.float32)[:, None] * np.ones((1, ACTION_DIM), np.float32)
    return TeleopEpisode(index, instruction, np.zeros((t, 8, 8, 3), np.uint8), np.zeros((t, STATE_DIM), np.float32),
                         act, np.zeros((t, 3), np.float32))


def test_teleop_chunks_hold_the_last_action():
    ep = _episode()
    frames = TeleopFrames([ep], [np.zeros((6, 2), np.int64)], chunk_size=4)
    item = frames[4]  # rows 4, 5, then 5 held
    assert item["arm"][:, 0].tolist() == [4.0, 5.0, 5.0, 5.0]
    assert item["gripper"].shape == (4, 2) and item["flags"].shape == (3,) and float(item["height"]) == 4.0
    assert len(frames) == 6


def test_teleop_latent_labels_pair_o_t_with_o_t_plus_k_clamped():
    class PairRecorder:
        def eval(self):
            return self

        def encode(self, o_t, o_tk):  # code = frame index of o_t+k (each frame is filled with its index)
            return o_tk[:, 0, 0, 0].long()[:, None]

    ep = _episode(t=6)
    ep.frames[:] = np.arange(6, dtype=np.uint8)[:, None, None, None]
    codes = latent_labels(ep, {"mani": PairRecorder(), "loco": PairRecorder()}, k=4)
    assert codes[:, 0].tolist() == [4, 5, 5, 5, 5, 5] and codes.shape == (6, 2)
    assert latent_labels(ep, {}, k=4).shape == (6, 0)


def test_split_holds_out_the_last_episodes_per_task_and_caps_demos():
    eps = [_episode(i, instruction="a" if i % 2 else "b") for i in range(10)]
    train, held = split_episodes(eps, heldout_per_task=1, max_demos_per_task=2)
    assert sorted(e.index for e in held) == [8, 9]
    assert sorted(e.index for e in train) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="cannot hold out"):
        split_episodes(eps[:2], heldout_per_task=1)


def test_bad_episodes_are_named():
    with pytest.raises(ValueError, match="episode 7: state"):
        TeleopEpisode(7, "x", np.zeros((3, 8, 8, 3), np.uint8), np.zeros((3, 5), np.float32),
                      np.zeros((3, ACTION_DIM), np.float32), np.zeros((3, 3), np.float32))
    with pytest.raises(ValueError, match="uint8"):
        TeleopEpisode(1, "x", np.zeros((3, 8, 8, 3)), np.zeros((3, STATE_DIM)), np.zeros((3, ACTION_DIM)), np.zeros((3, 3)))
    eps = synthetic_episodes(per_task=1, length=5, size=16)
    assert len(eps) == 3 and eps[0].frames.shape == (5, 16, 16, 3)
