"""Simulated Stage I corpora: goal-directed paths, rendering, storage, resumability, pairs."""

from __future__ import annotations

import numpy as np
import pytest

from wbvla.data.corpus import (
    CorpusConfig,
    generate_corpus,
    load_arm_trajectories,
    load_index,
    plan_jobs,
)
from wbvla.data.locomotion_paths import HUMAN_GAIT, Target, plan_path
from wbvla.data.pairs import BalancedBatchSampler, FramePairs
from wbvla.data.primitives import LOCO_PRIMITIVES, MANI_PRIMITIVES, PRIMITIVE_SPLIT
from wbvla.data.render_clips import quat_ypr


def _targets():
    return [Target("table_0", np.array([2.0, 1.0]), 0.4), Target("cart", np.array([-2.0, -1.5]), 0.8),
            Target("carton_0", np.array([0.5, -2.5]), 0.28)]


def test_primitive_split_covers_both_vocabularies():
    assert len(LOCO_PRIMITIVES) == 8 and len(MANI_PRIMITIVES) == 6
    assert {PRIMITIVE_SPLIT[p] for p in LOCO_PRIMITIVES} == {"locomotion"}
    assert {PRIMITIVE_SPLIT[p] for p in MANI_PRIMITIVES} == {"manipulation"}


def test_path_motion_matches_its_labels():
    path = plan_path(np.random.default_rng(3), _targets(), fps=10.0, gait=HUMAN_GAIT, n_goals=3)
    assert set(path.labels) <= set(LOCO_PRIMITIVES)
    assert len(path.labels) == len(path.t) == len(path.xy)
    for i in range(len(path.t) - 1):
        lab = path.labels[i]
        if lab != path.labels[i + 1]:
            continue  # boundary frames
        d = path.xy[i + 1] - path.xy[i]
        fwd = np.array([np.cos(path.yaw[i]), np.sin(path.yaw[i])])
        left = np.array([-fwd[1], fwd[0]])
        if lab == "advance":
            assert d @ fwd > 0 and abs(d @ left) < 1e-9
        elif lab == "retreat":
            assert d @ fwd < 0
        elif lab == "sidestep_left":
            assert d @ left > 0 and abs(d @ fwd) < 1e-9
        elif lab == "sidestep_right":
            assert d @ left < 0
        elif lab == "turn_left":
            assert path.yaw[i + 1] > path.yaw[i] and np.allclose(d, 0)
        elif lab == "turn_right":
            assert path.yaw[i + 1] < path.yaw[i]
        elif lab == "squat_down":
            assert path.squat[i + 1] >= path.squat[i] and np.allclose(d, 0)
        elif lab == "rise":
            assert path.squat[i + 1] <= path.squat[i]
    # stays in the room and out of props
    assert np.all(np.abs(path.xy) <= 3.4 + 1e-9)


def test_paths_cover_all_eight_primitives():
    seen = set()
    for seed in range(8):
        seen |= set(plan_path(np.random.default_rng(seed), _targets(), 10.0, HUMAN_GAIT, n_goals=2).labels)
    assert seen == set(LOCO_PRIMITIVES)


def test_quat_ypr_pitch_looks_down_and_yaw_turns_left():
    import mujoco

    m = np.zeros(9)
    mujoco.mju_quat2Mat(m, quat_ypr(0.0, np.radians(30), 0.0))
    fwd = m.reshape(3, 3) @ np.array([1.0, 0, 0])
    np.testing.assert_allclose(fwd, [np.cos(np.radians(30)), 0, -np.sin(np.radians(30))], atol=1e-12)
    mujoco.mju_quat2Mat(m, quat_ypr(np.pi / 2, 0.0, 0.0))
    np.testing.assert_allclose(m.reshape(3, 3) @ np.array([1.0, 0, 0]), [0, 1, 0], atol=1e-12)


def test_bad_corpus_config_is_rejected():
    with pytest.raises(ValueError, match="size"):
        CorpusConfig(size="huge")
    with pytest.raises(ValueError, match="image_size"):
        CorpusConfig(image_size=63)
    with pytest.raises(ValueError, match="mani_train"):
        CorpusConfig(mani_train=-1)


def test_train_and_heldout_scene_seeds_are_disjoint():
    jobs = plan_jobs(CorpusConfig(size="tutorial"))
    for corpus in ("loco_human", "mani"):
        train = {j.scene_seed for j in jobs if j.corpus == corpus and j.split == "train"}
        held = {j.scene_seed for j in jobs if j.corpus == corpus and j.split == "heldout"}
        assert train and held and not train & held
    assert len({j.clip_id for j in jobs}) == len(jobs)


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    cfg = CorpusConfig(size="smoke", root=tmp_path_factory.mktemp("corpus"), human_train=1, human_heldout=0,
                       robot_heldout=1, mani_train=2, mani_heldout=1, goals=1, image_size=32)
    return cfg, generate_corpus(cfg, progress=False)


def test_corpus_index_and_files(tiny_corpus):
    cfg, df = tiny_corpus
    cols = {"clip_id", "frame", "time", "corpus", "domain", "primitive", "target", "scene_seed", "split", "video", "camera",
            "cam_x", "cam_y", "cam_z", "cam_qw", "cam_qx", "cam_qy", "cam_qz"}
    assert cols <= set(df.columns)
    assert set(df.corpus) == {"loco_human", "loco_robot", "mani"}
    assert set(df[df.corpus == "loco_robot"].domain) == {"robot"}
    assert set(df[df.corpus == "loco_human"].primitive) <= set(LOCO_PRIMITIVES)
    assert set(df[df.corpus == "mani"].primitive) <= set(MANI_PRIMITIVES)
    for video in df.video.unique():
        assert (cfg.path / video).stat().st_size > 0
    # human eye height, robot head camera lower
    assert df[df.corpus == "loco_human"].cam_z.max() > 1.4
    assert df[df.corpus == "loco_robot"].cam_z.max() < 1.3
    np.testing.assert_allclose(np.linalg.norm(df[["cam_qw", "cam_qx", "cam_qy", "cam_qz"]].to_numpy(), axis=1), 1, atol=1e-6)
    clips = load_arm_trajectories(cfg.path)
    assert len(clips) == 3 and all(c.q.shape[1] == 14 and c.gripper.shape[1] == 2 for c in clips)
    assert len(load_index(cfg.path)) == len(df)


def test_generation_is_resumable(tiny_corpus):
    cfg, df = tiny_corpus
    video = cfg.path / df.video.iloc[0]
    mtime = video.stat().st_mtime_ns
    again = generate_corpus(cfg, progress=False)
    assert video.stat().st_mtime_ns == mtime  # complete clips are skipped
    assert len(again) == len(df)
    # a clip whose index file is missing (interrupted) is rendered again
    (cfg.path / "index" / f"{df.clip_id.iloc[0]}.parquet").unlink()
    assert len(generate_corpus(cfg, progress=False)) == len(df)


def test_frame_pairs_carry_no_labels(tiny_corpus):
    cfg, _ = tiny_corpus
    pairs = FramePairs(cfg.path, ["loco_human"], "train", offset_s=0.4)
    assert pairs.k == 4
    item = pairs[0]
    assert set(item) == {"o_t", "o_tk", "index"}
    assert item["o_t"].shape == (3, 32, 32) and str(item["o_t"].dtype) == "torch.uint8"
    row = pairs.table.iloc[5]
    assert row.j - row.i == 4
    strict = FramePairs(cfg.path, ["loco_human"], "train", offset_s=0.4, same_primitive=True)
    assert 0 < len(strict) < len(pairs)


def test_balanced_sampler_draws_equally_from_every_source():
    groups = [np.arange(0, 5), np.arange(5, 1000)]
    sampler = BalancedBatchSampler(groups, batch_size=8, batches_per_epoch=20, seed=1)
    for batch in sampler:
        b = np.array(batch)
        assert len(b) == 8 and (b < 5).sum() == 4
    with pytest.raises(ValueError, match="divisible"):
        BalancedBatchSampler(groups, batch_size=7, batches_per_epoch=2)
