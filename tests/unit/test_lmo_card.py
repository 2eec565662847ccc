"""The model card's interface spec is enough to drive an exported LMO: an observation builder written
from the spec alone (JSON + plain MuJoCo, no wbvla observation code) matches the project's builder and
controller, step for step, for a gait-clock policy with the reference gait."""

import json

import mujoco
import numpy as np

from wbvla.lmo.card import interface_spec, render_spec
from wbvla.lmo.config import LMOTaskConfig
from wbvla.lmo.export import export_onnx, policy_metadata
from wbvla.lmo.lever_config import LeverConfig
from wbvla.lmo.policy import LMOController, LMOPolicy, eval_model
from wbvla.sim.robot import X2Index, reset_to_pose


class SpecBuilder:
    """What a robot engineer writes from the card: reads only ``spec`` and raw MuJoCo state."""

    def __init__(self, spec: dict, model: mujoco.MjModel):
        self.spec, self.model = spec, model
        obs = spec["observation"]
        self.terms = [(t["name"], t["size"]) for t in obs["terms"]]
        self.h = obs["history"]
        self.q0 = np.array([j["default"] for j in obs["observed_joints"]])
        self.jq = [model.jnt_qposadr[model.joint(j["name"]).id] for j in obs["observed_joints"]]
        self.jv = [model.jnt_dofadr[model.joint(j["name"]).id] for j in obs["observed_joints"]]
        free = model.joint("floating_base_joint")
        self.bq, self.bv = model.jnt_qposadr[free.id], model.jnt_dofadr[free.id]
        act = spec["action"]
        self.leg_default = np.array([j["default"] for j in act["joints"]])
        self.scale = np.array([j["scale"] for j in act["joints"]])
        self.lo, self.hi = np.array([j["lower"] for j in act["joints"]]), np.array([j["upper"] for j in act["joints"]])
        self.steps_per_period = spec["gait_clock"]["steps_per_period"]
        self.amp = act["reference_gait"]["amplitude_rad"]
        self.k, self.first, self.frames, self.last_action = 0, True, None, np.zeros(12)

    def _frame(self, data, command, phi):
        rot = np.zeros(9)
        mujoco.mju_quat2Mat(rot, data.qpos[self.bq + 3:self.bq + 7])
        values = {"command": command, "base_ang_vel": data.qvel[self.bv + 3:self.bv + 6],
                  "projected_gravity": rot.reshape(3, 3).T @ np.array([0, 0, -1.0]),
                  "joint_pos": data.qpos[self.jq] - self.q0, "joint_vel": data.qvel[self.jv],
                  "last_action": self.last_action, "gait_phase": [np.sin(2 * np.pi * phi), np.cos(2 * np.pi * phi)]}
        return [np.asarray(values[n], float) for n, _ in self.terms]

    def observe(self, data, command):
        moving = bool(np.any(np.asarray(command[:3]) != 0))
        if not self.first:
            self.k = self.k + 1 if moving else 0
        self.first = False
        phi = (self.k % self.steps_per_period) / self.steps_per_period
        frame = self._frame(data, command, phi)
        if self.frames is None:
            self.frames = [[f] * self.h for f in frame]
        else:
            self.frames = [hist[1:] + [f] for hist, f in zip(self.frames, frame, strict=True)]
        s = np.sin(2 * np.pi * phi)
        swing = [w if (w >= 0.1 and moving) else 0.0 for w in (s, -s)]
        ref = np.concatenate([[-self.amp * w, 0, 0, 2 * self.amp * w, -self.amp * w, 0] for w in swing])
        return np.concatenate([np.concatenate(h) for h in self.frames]), ref

    def targets(self, ref, action):
        self.last_action = np.asarray(action, float)
        return np.clip(self.leg_default + ref + self.scale * action, self.lo, self.hi)


def test_an_observation_builder_written_from_the_card_matches(tmp_path):
    from lmo_helpers import tiny_checkpoint

    levers = LeverConfig()
    scales = list(LMOTaskConfig().leg_action_scales())
    md = policy_metadata(3, scales, "lmo", 1, levers={k: getattr(levers, k) for k in
                                                       ("gait_clock", "gait_period_s", "reference_gait", "reference_amplitude")})
    ckpt = tiny_checkpoint(tmp_path / "model_0.pt", history=3, frame=78)
    policy = LMOPolicy(export_onnx(ckpt, tmp_path / "lmo.onnx", md))
    spec = json.loads(policy.metadata["interface"])
    assert spec["observation"]["size"] == policy.obs_dim == 3 * 78

    model = eval_model()
    data = mujoco.MjData(model)
    idx = X2Index.from_model(model)
    reset_to_pose(model, data, idx)
    ctrl = LMOController(policy, model)
    ctrl.reset(data)
    mine = SpecBuilder(spec, model)
    seen, worst_obs, worst_target = [], 0.0, 0.0
    real_act = policy.act
    policy.act = lambda obs: (seen.append(obs.copy()), real_act(obs))[1]
    legs = idx.actuator[:12]
    for k in range(60):
        command = np.array([1.0 if 10 <= k < 45 else 0.0, 0.0, 0.0, 0.655], np.float32)
        state = (data.qpos.copy(), data.qvel.copy())
        action = ctrl.step(data, command)
        # the spec-built side sees the same state the controller saw before its step
        probe = mujoco.MjData(model)
        probe.qpos[:], probe.qvel[:] = state
        obs, ref = mine.observe(probe, command)
        worst_obs = max(worst_obs, float(np.abs(obs - seen[-1]).max()))
        worst_target = max(worst_target, float(np.abs(mine.targets(ref, action) - data.ctrl[legs]).max()))
    assert worst_obs < 1e-5 and worst_target < 1e-6
    assert any("gait clock" in line for line in render_spec(spec))


def test_the_paper_layout_has_no_clock():
    spec = interface_spec(5, [0.1] * 12)
    assert [t["name"] for t in spec["observation"]["terms"]][-1] == "last_action" and "gait_clock" not in spec
    assert spec["observation"]["size"] == 5 * 76 and len(spec["observation"]["observed_joints"]) == 27


def test_training_departures_line_names_every_training_lever():
    import json
    from dataclasses import asdict

    from wbvla.lmo.export import training_departures
    from wbvla.lmo.lever_config import AssistConfig, LeverConfig

    assert training_departures(None) == ""
    line = training_departures(json.dumps(asdict(LeverConfig(intent_sharpness=16.0, still_arms_fraction=0.25, height_sharpness=100.0,
                                                             assist=AssistConfig(enabled=True, decay_env_steps=6_000_000)))))
    for part in ("exp{-16 e^2} (Table 4: exp{-4 e^2})", "height kernel exp{-100 e^2}", "contact-schedule reward weight 1", "swing-height penalty weight 10",
                 "6,000,000 env steps", "arms held still in 25% of Stage II episodes"):
        assert part in line, part
    paper = training_departures(json.dumps(asdict(LeverConfig.paper())))
    assert "as in Table 4" in paper and "weight" not in paper and "assist" not in paper and "height" not in paper
