"""Arm clips from the teleoperation episodes (``LeverConfig.arm_clips``): what App. A.2 replays from
real manipulation data, here the scripted expert's own arm targets."""

import numpy as np
import pytest
import torch

from wbvla.lmo.clips import (
    CLIP_FILE,
    TELEOP_CLIP_FILE,
    clips_from_teleop,
    load_clip_source,
    load_clips,
)


def test_clips_from_a_teleop_dataset_are_its_arm_targets(tmp_path):
    from wbvla.data.lerobot_v3 import LeRobotV3Dataset
    from wbvla.data.teleop_schema import ACTION_KEY, ACTION_NAMES
    from wbvla.tasks.teleop import generate_teleop_data
    from wbvla.tasks.teleop_config import TeleopDataConfig

    root = tmp_path / "teleop"
    generate_teleop_data(TeleopDataConfig(tasks=("cart_pushing",), episodes_per_task=1, image_size=32, output_dir=root,
                                          progress=False))
    clips = clips_from_teleop(root)
    assert len(clips) == 1
    t, q = clips[0]
    act = LeRobotV3Dataset(root).frames(0, [ACTION_KEY])[ACTION_KEY]
    left = ACTION_NAMES.index("left_shoulder_pitch_joint.target")
    right = ACTION_NAMES.index("right_wrist_roll_joint.target")
    assert q.shape == (len(act), 14) and t[0] == 0.0 and np.allclose(np.diff(t), 0.1)
    assert np.allclose(q[:, 0], act[:, left]) and np.allclose(q[:, 13], act[:, right])  # canonical arm order
    assert q.std(axis=0).max() > 0.1  # the expert moves its arms (raise, grasp)
    with pytest.raises(ValueError, match="no teleoperation episode"):
        clips_from_teleop(root, min_seconds=1e4)


def test_shipped_sources_and_the_lever_pick_them():
    from wbvla.lmo.config import LMOTaskConfig, ObservationConfig
    from wbvla.lmo.cpu.config import CpuEngineConfig
    from wbvla.lmo.cpu.env import CpuLMOEnv
    from wbvla.lmo.lever_config import LeverConfig

    synthetic, teleop = load_clips(CLIP_FILE), load_clips(TELEOP_CLIP_FILE)
    assert len(teleop) >= 24 and all(q.shape[1] == 14 for _, q in teleop)
    assert len(load_clip_source("both")) == len(synthetic) + len(teleop)
    with pytest.raises(ValueError, match="clip source"):
        load_clip_source("youtube")
    with pytest.raises(ValueError, match="arm_clips"):
        LeverConfig(arm_clips="youtube")
    task = LMOTaskConfig(num_envs=2, stage=2, observations=ObservationConfig(history=3, noise=False))
    counts = {}
    for source in ("synthetic", "teleop"):
        env = CpuLMOEnv(task, CpuEngineConfig(num_envs=2, dr_rows="sensors", levers=LeverConfig(arm_clips=source)))
        counts[source] = env.arms.source.lib.q.shape[0]
        env.step(torch.zeros(2, 12))
    assert counts == {"synthetic": len(synthetic), "teleop": len(teleop)}
