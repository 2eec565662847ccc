"""The LMO in the control tick runs the same controller as the LMO's MuJoCo evaluation: from the
backend's arrays it builds the observation the MuJoCo builder of training builds, and gives the
same leg targets step for step (the paper's layout and a gait-clock policy with the reference
gait); numpy and onnxruntime only."""

from __future__ import annotations

import json
import subprocess
import sys

import mujoco
import numpy as np
import pytest

from wbvla.control.lmo import LMOStage
from wbvla.control.sim_backend import read_state
from wbvla.lmo.gait import gait_observation
from wbvla.lmo.onnx_policy import LMOPolicy
from wbvla.lmo.policy import LMOController, ObservationBuilder, eval_model
from wbvla.paths import data_dir
from wbvla.sim.joints import default_pose, group_slice
from wbvla.sim.robot import DECIMATION, X2Index, reset_to_pose


def _gait_clock_policy(tmp_path) -> LMOPolicy:
    from lmo_helpers import tiny_checkpoint

    from wbvla.lmo.config import LMOTaskConfig
    from wbvla.lmo.export import export_onnx, policy_metadata
    from wbvla.lmo.lever_config import LeverConfig

    levers = LeverConfig()
    md = policy_metadata(3, list(LMOTaskConfig().leg_action_scales()), "lmo", 1,
                         levers={k: getattr(levers, k) for k in ("gait_clock", "gait_period_s", "reference_gait",
                                                                 "reference_amplitude")})
    policy = LMOPolicy(export_onnx(tiny_checkpoint(tmp_path / "model_0.pt", history=3, frame=78), tmp_path / "lmo.onnx", md))
    assert policy.gait_period_s is not None and policy.reference_amplitude > 0
    return policy


@pytest.mark.parametrize("layout", ["paper", "gait_clock"])
def test_the_tick_lmo_equals_the_mujoco_controller_step_for_step(layout, tmp_path):
    """Two identical robots: one driven by the MuJoCo controller (lag 0), one by the tick's LMO
    stage on the arrays a backend reads; same observations, same leg targets, same motion."""
    policy = LMOPolicy(data_dir() / "lmo" / "lmo.onnx") if layout == "paper" else _gait_clock_policy(tmp_path)
    model = eval_model()
    idx = X2Index.from_model(model)
    runs = []
    for side in ("mujoco", "tick"):
        data = mujoco.MjData(model)
        reset_to_pose(model, data, idx)
        seen: list[np.ndarray] = []
        real_act = policy.act
        policy.act = lambda obs, seen=seen, real_act=real_act: (seen.append(obs.copy()), real_act(obs))[1]
        ctrl, stage = LMOController(policy, model), LMOStage(policy=policy)
        ctrl.reset(data)
        stage.reset()
        legs_log = []
        for k in range(40):
            command = np.array([1.0 if 10 <= k < 30 else 0.0, 0.0, -1.0 if k >= 30 else 0.0, 0.62], np.float32)
            if side == "mujoco":
                ctrl.step(data, command)
                legs_log.append(data.ctrl[idx.actuator][group_slice("legs")].copy())
            else:
                legs = np.clip(stage.step(read_state(data, idx, k), command), ctrl.leg_lo, ctrl.leg_hi)
                q = default_pose()
                q[group_slice("legs")] = legs
                data.ctrl[idx.actuator] = q
                for _ in range(DECIMATION):
                    mujoco.mj_step(model, data)
                legs_log.append(legs)
        del policy.act
        runs.append((np.array(seen), np.array(legs_log), data.qpos.copy()))
    (obs_a, legs_a, qpos_a), (obs_b, legs_b, qpos_b) = runs
    np.testing.assert_allclose(obs_b, obs_a, atol=1e-6)
    np.testing.assert_allclose(legs_b, legs_a, atol=1e-6)
    np.testing.assert_allclose(qpos_b, qpos_a, atol=1e-6)


def test_lmo_stage_targets_are_default_plus_scaled_action_of_the_training_observation():
    stage = LMOStage()
    model = eval_model()
    data = mujoco.MjData(model)
    idx = X2Index.from_model(model)
    reset_to_pose(model, data, idx)
    u = np.array([0.0, 0.0, 0.0, 0.65], np.float32)
    legs = stage.step(read_state(data, idx, 0), u)
    pol = LMOPolicy(data_dir() / "lmo" / "lmo.onnx")
    builder = ObservationBuilder(model, pol.history, terms=pol.terms)
    builder.reset(data)
    # a gait-clock policy's first step after a reset: phase 0, standing, so no reference offset either
    clock = gait_observation(np.asarray(0.0)).astype(np.float32) if pol.gait_period_s is not None else None
    obs = builder.build(u, np.zeros(12, np.float32), clock)
    np.testing.assert_allclose(legs, default_pose("legs") + pol.action_scale * pol.act(obs), atol=1e-6)
    assert stage.kind == "flags" and stage.model_id.startswith("lmo.onnx")


ROBOT_SIDE = ("wbvla.runtime.runner", "wbvla.runtime.link", "wbvla.runtime.wire", "wbvla.runtime.messages",
              "wbvla.runtime.safety", "wbvla.runtime.supervisor", "wbvla.runtime.transport", "wbvla.runtime.config",
              "wbvla.control.tick", "wbvla.control.lmo", "wbvla.control.targets", "wbvla.control.config",
              "wbvla.control.backend", "wbvla.control.x2")
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
from wbvla.control.backend import RobotState
from wbvla.control.lmo import LMOStage
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
