"""The ``stance_posture`` lever: the squat posture of the commanded h* added to the leg targets, the
same in training (torch, batched) and on the robot side (numpy, LegController), named in the ONNX
metadata and the model card."""

from dataclasses import asdict

import numpy as np
import pytest
import torch

from wbvla.lmo.gait import STANCE_TABLE, stance_amplitude, stance_leg_offsets
from wbvla.sim.joints import default_pose, group_slice
from wbvla.sim.robot import base_height_for


def test_the_table_is_the_kinematics_of_the_posture():
    legs = group_slice("legs")
    for a, h in STANCE_TABLE:
        q = default_pose().copy()
        q[legs] += a * np.array([-1, 0, 0, 2, -1, 0] * 2, float)
        assert base_height_for(q) == pytest.approx(h, abs=5e-4)  # the first row: 0.6554 stands as the nominal 0.655
    for h in (0.64, 0.6, 0.56, 0.53):  # between rows: within 2 mm of the commanded height
        q = default_pose().copy()
        q[legs] += stance_leg_offsets(np.float64(h))
        assert base_height_for(q) == pytest.approx(h, abs=2e-3)


def test_offsets_are_zero_at_the_nominal_stance_and_the_same_in_numpy_and_torch():
    assert np.all(stance_leg_offsets(np.float64(0.655)) == 0) and np.all(stance_leg_offsets(np.float64(0.7)) == 0)
    hs = np.array([0.53, 0.57, 0.6, 0.655, 0.66])
    a = stance_amplitude(hs)
    assert np.all(np.diff(a[:4]) < 0) and a[0] == pytest.approx(0.455, abs=1e-3)
    t = stance_leg_offsets(torch.tensor(hs, dtype=torch.float32))
    assert t.shape == (5, 12) and np.allclose(t.numpy(), stance_leg_offsets(hs), atol=1e-5)
    off = stance_leg_offsets(np.float64(0.53))  # hip pitch -a, knee +2a, ankle pitch -a on both legs
    assert np.allclose(off[[0, 3, 4, 6, 9, 10]], [-0.455, 0.91, -0.455] * 2, atol=1e-3) and np.all(off[[1, 2, 5, 7, 8, 11]] == 0)


def test_training_adds_the_posture_of_the_commanded_height():
    from wbvla.lmo.config import LMOTaskConfig, ObservationConfig
    from wbvla.lmo.cpu.config import CpuEngineConfig
    from wbvla.lmo.cpu.env import CpuLMOEnv
    from wbvla.lmo.lever_config import LeverConfig

    task = LMOTaskConfig(num_envs=2, stage=2, observations=ObservationConfig(history=3, noise=False))
    task = task.__class__(**{**task.__dict__, "domain_rand": task.domain_rand.disabled()})
    legs = {}
    for posture in (False, True):
        env = CpuLMOEnv(task, CpuEngineConfig(num_envs=2, dr_rows="sensors", levers=LeverConfig(stance_posture=posture)))
        env.command.height_target[:] = torch.tensor([0.53, 0.655])
        env.step(torch.zeros(2, 12))
        ids = env._canon_in_entity[env._legs_canon]
        legs[posture] = env.joint_targets[:, ids].clone()
    diff = (legs[True] - legs[False]).numpy()
    assert np.allclose(diff[0], stance_leg_offsets(np.float64(0.53)), atol=1e-5)  # env 0 squats
    assert np.allclose(diff[1], 0.0, atol=1e-6)  # env 1 at the nominal height: nothing added


def test_the_robot_side_adds_it_and_the_export_names_it(tmp_path):
    from lmo_helpers import tiny_checkpoint

    from wbvla.lmo.card import interface_spec, render_spec
    from wbvla.lmo.config import LMOTaskConfig
    from wbvla.lmo.export import export_onnx, policy_metadata
    from wbvla.lmo.lever_config import LeverConfig
    from wbvla.lmo.onnx_policy import LegController, LMOPolicy, observed_joints

    levers = asdict(LeverConfig(stance_posture=True))
    scales = list(LMOTaskConfig().leg_action_scales())
    md = policy_metadata(3, scales, "lmo", 2, levers=levers)
    assert md["stance_posture"] == "true" and "s(h*)" in md["action_mapping"]
    policy = LMOPolicy(export_onnx(tiny_checkpoint(tmp_path / "model_0.pt", history=3, frame=78), tmp_path / "lmo.onnx", md))
    assert policy.stance_posture
    ctrl = LegController(policy)
    jp, jv = observed_joints(default_pose(), np.zeros_like(default_pose()))
    g = np.array([0.0, 0.0, -1.0])
    squat = ctrl.step(jp, jv, np.zeros(3), g, np.array([0, 0, 0, 0.53], np.float32))
    ctrl.reset()
    stand = ctrl.step(jp, jv, np.zeros(3), g, np.array([0, 0, 0, 0.655], np.float32))
    assert not np.allclose(squat, stand)  # the same observation apart from h*
    policy.stance_posture = False  # the same controller without the lever: the posture is gone
    ctrl.reset()
    plain = ctrl.step(jp, jv, np.zeros(3), g, np.array([0, 0, 0, 0.53], np.float32))
    assert np.allclose(squat - plain, stance_leg_offsets(np.float64(0.53)), atol=1e-5)
    spec = interface_spec(3, scales, levers, "sensors")
    assert "s_i(h*)" in spec["action"]["mapping"] and spec["action"]["stance_posture"]["table"][0] == [0.0, 0.655]
    assert any("stance posture" in line for line in render_spec(spec))
