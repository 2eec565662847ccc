"""The robot-side LMO: observation from sensor arrays == training's ObservationBuilder."""

from __future__ import annotations

import mujoco
import numpy as np

from wbvla.lmo.policy import LMOPolicy, ObservationBuilder, eval_model
from wbvla.paths import data_dir
from wbvla.runtime.backends.sim import read_state
from wbvla.runtime.lmo_stage import LMOStage, ProprioObservation
from wbvla.sim.joints import default_pose, group_slice
from wbvla.sim.robot import DECIMATION, X2Index, reset_to_pose


def test_observation_from_arrays_equals_the_training_builder():
    model = eval_model()
    data = mujoco.MjData(model)
    idx = X2Index.from_model(model)
    reset_to_pose(model, data, idx)
    ref, mine = ObservationBuilder(model, history=5), ProprioObservation(history=5)
    ref.reset(data)
    rng = np.random.default_rng(0)
    last = np.zeros(12, np.float32)
    for step in range(8):
        command = np.array([rng.integers(-1, 2), 0.0, rng.integers(-1, 2), 0.6], np.float32)
        a = ref.build(command, last)
        b = mine.build(read_state(data, idx, step), command, last)
        np.testing.assert_allclose(b, a, atol=1e-6, err_msg=f"step {step}")
        last = rng.normal(size=12).astype(np.float32) * 0.1
        q = default_pose()
        q[group_slice("legs")] += 0.25 * last
        data.ctrl[idx.actuator] = q
        for _ in range(DECIMATION):
            mujoco.mj_step(model, data)
            ref.record(data)


def test_lmo_stage_targets_are_default_plus_scaled_action():
    stage = LMOStage()
    model = eval_model()
    data = mujoco.MjData(model)
    idx = X2Index.from_model(model)
    reset_to_pose(model, data, idx)
    state = read_state(data, idx, 0)
    u = np.array([0.0, 0.0, 0.0, 0.65])
    legs = stage.step(state, u)
    pol = LMOPolicy(data_dir() / "lmo" / "lmo.onnx")
    obs = ProprioObservation(pol.history).build(state, u, np.zeros(12, np.float32))
    np.testing.assert_allclose(legs, default_pose("legs") + pol.action_scale * pol.act(obs), atol=1e-6)
    assert stage.kind == "flags" and stage.model_id.startswith("lmo.onnx")
