"""The robot-side LMO: observation from sensor arrays == training's ObservationBuilder; numpy and
onnxruntime only."""

from __future__ import annotations

import json
import subprocess
import sys

import mujoco
import numpy as np
import pytest

from wbvla.lmo.onnx_policy import LMOPolicy
from wbvla.lmo.policy import ObservationBuilder, eval_model
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


ROBOT_SIDE = ("wbvla.runtime.runner", "wbvla.runtime.lmo_stage", "wbvla.runtime.link", "wbvla.runtime.wire",
              "wbvla.runtime.messages", "wbvla.runtime.safety", "wbvla.runtime.supervisor", "wbvla.runtime.transport",
              "wbvla.runtime.config", "wbvla.runtime.backends.base", "wbvla.runtime.backends.x2")
"""What runs on the robot's computer (``deploy/robot_runner.py``); the MuJoCo twin is not among them."""
HEAVY = ("torch", "mujoco", "mjlab", "lightning", "transformers")


def test_the_robot_side_runs_the_lmo_without_torch_or_mujoco():
    """In a fresh interpreter: import every robot-side module, build the shipped LMO stage and step
    it once; none of the heavy packages gets imported."""
    code = f"""
import importlib, json, sys
import numpy as np
for m in {ROBOT_SIDE!r}:
    importlib.import_module(m)
from wbvla.runtime.lmo_stage import LMOStage, RobotState
from wbvla.sim.joints import default_pose
stage = LMOStage()
state = RobotState(0, default_pose(), np.zeros(29), np.zeros(3), np.array([0.0, 0.0, -1.0]), 0.65)
legs = stage.step(state, np.array([0.0, 0.0, 0.0, 0.65], np.float32))
print(json.dumps({{"heavy": [k for k in {HEAVY!r} if k in sys.modules], "legs": legs.shape[0],
                  "onnxruntime": "onnxruntime" in sys.modules}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got == {"heavy": [], "legs": 12, "onnxruntime": True}


def test_the_robot_side_refuses_a_gait_clock_policy(monkeypatch):
    monkeypatch.setattr(LMOPolicy, "__init__", lambda self, path, threads=1: setattr(self, "gait_period_s", 0.8)
                        or setattr(self, "path", path))
    with pytest.raises(ValueError, match="gait-clock policy"):
        LMOStage()
