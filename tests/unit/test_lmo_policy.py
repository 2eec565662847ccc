"""ONNX export (normalizer inside) == torch, onnxruntime inference, latency, metadata checks."""

import json

import numpy as np
import pytest
from lmo_helpers import tiny_checkpoint, tiny_policy

from wbvla.lmo.export import check_onnx, export_onnx, load_actor
from wbvla.lmo.onnx_policy import LMOPolicy, latency_ms


def test_onnx_matches_torch(tmp_path):
    ckpt, onnx = tiny_policy(tmp_path)
    check = check_onnx(onnx, ckpt, samples=64)
    assert check.max_abs_diff < 1e-5
    # the normalizer is inside the graph: a non-normalizing copy of the MLP would disagree
    actor = load_actor(ckpt)
    assert not np.allclose(actor.obs_normalizer._mean.numpy(), 0.0)


def test_policy_reads_metadata_and_acts(tmp_path):
    _, onnx = tiny_policy(tmp_path)
    pol = LMOPolicy(onnx)
    assert pol.history == 5 and pol.task == "lmo" and pol.obs_dim == 380
    assert pol.action_scale.shape == (12,) and np.all(pol.action_scale == 0.25)  # one scale: broadcast
    assert json.loads(pol.metadata["action_joints"])[0] == "left_hip_pitch_joint"
    a = pol.act(np.zeros(380, np.float32))
    assert a.shape == (12,) and np.all(np.isfinite(a))


def test_policy_without_metadata_or_with_another_layout_is_rejected(tmp_path):
    ckpt = tiny_checkpoint(tmp_path / "model_0.pt")
    bare = export_onnx(ckpt, tmp_path / "bare.onnx")
    with pytest.raises(ValueError, match="lacks wbvla metadata"):
        LMOPolicy(bare)
    from wbvla.lmo.export import policy_metadata

    md = policy_metadata(5, 0.25, "lmo", 2) | {"observation_terms": json.dumps([["command", 4]])}
    other = export_onnx(ckpt, tmp_path / "other.onnx", md)
    with pytest.raises(ValueError, match="another observation layout"):
        LMOPolicy(other)
    with pytest.raises(FileNotFoundError):
        LMOPolicy(tmp_path / "missing.onnx")


def test_load_actor_rejects_non_checkpoints(tmp_path):
    import torch

    torch.save({"weights": 1}, tmp_path / "x.pt")
    with pytest.raises(ValueError, match="not an rsl-rl checkpoint"):
        load_actor(tmp_path / "x.pt")


def test_latency_is_measured(tmp_path):
    _, onnx = tiny_policy(tmp_path)
    lat = latency_ms(LMOPolicy(onnx), calls=300)
    assert 0 < lat["median_ms"] <= lat["p90_ms"] < 5.0


def test_per_joint_action_scales_reach_the_controller(tmp_path):
    """Per-joint scales travel in the ONNX metadata; the controller turns a unit action into
    default + scale_i per leg joint (and old single-scale files still load)."""
    import mujoco

    from wbvla.lmo.config import LMOTaskConfig
    from wbvla.lmo.export import policy_metadata
    from wbvla.lmo.policy import LMOController, eval_model
    from wbvla.sim.joints import default_pose, group_slice

    scales = LMOTaskConfig().leg_action_scales()
    ckpt = tiny_checkpoint(tmp_path / "model_0.pt")
    onnx = export_onnx(ckpt, tmp_path / "lmo.onnx", policy_metadata(5, scales, "lmo", 2))
    pol = LMOPolicy(onnx)
    assert np.allclose(pol.action_scale, scales)
    pol.act = lambda obs: np.ones(12, np.float32)
    model = eval_model()
    data = mujoco.MjData(model)
    ctrl = LMOController(pol, model)
    ctrl.reset(data)
    ctrl.step(data, np.array([0, 0, 0, 0.655], np.float32))
    legs = group_slice("legs")
    assert np.allclose(data.ctrl[ctrl.idx.actuator][legs], default_pose("legs") + np.array(scales), atol=1e-6)
    with pytest.raises(ValueError, match="12 leg action scales"):
        policy_metadata(5, (0.1, 0.2), "lmo", 2)
