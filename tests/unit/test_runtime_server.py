"""The VLA server's policy loading and answers, and the labelled stand-in policy."""

from __future__ import annotations

import numpy as np
import pytest
from runtime_helpers import observation

from wbvla.control.targets import JointLimits
from wbvla.data.teleop_schema import ACTION_DIM, INSTRUCTIONS, TASKS
from wbvla.runtime import messages as msgs
from wbvla.runtime.config import LinkConfig, SafetyConfig, ServerConfig
from wbvla.runtime.messages import Command
from wbvla.runtime.safety import check_command_ranges
from wbvla.runtime.server import VLAServer, chunk_size_of, load_policy, policy_kind
from wbvla.runtime.standin import ReplayPolicy, scripted_actions


class Exploding:
    model_id, command_kind = "test:exploding", "flags"

    def reset(self) -> None:
        pass

    def act(self, image, instruction, state):
        raise RuntimeError("boom")


def make_exploding():
    return Exploding()


@pytest.mark.parametrize("task", TASKS)
def test_scripted_stand_in_is_deterministic_labelled_and_always_acceptable(task):
    a = scripted_actions(task)
    assert a.shape[1] == ACTION_DIM and np.array_equal(a, scripted_actions(task))
    pol = ReplayPolicy.scripted(task)
    assert pol.model_id.startswith("standin:") and policy_kind(pol) == "standin" and chunk_size_of(pol) == 8
    cfg, lim = SafetyConfig(), JointLimits.from_config(SafetyConfig())
    for _ in range(len(a) + 3):  # every chunk of the loop would pass the robot's range checks
        out = pol.act(np.zeros((8, 8, 3), np.uint8), "", np.zeros(17))
        cmd = Command(1, 1, 1, 0, out.arm_targets, out.grippers, out.dt, out.command, out.command_kind, 0.0, 0.25)
        check_command_ranges(cmd, cfg, "flags", lim)
        assert out.latents == {}
    pol.reset()
    np.testing.assert_array_equal(pol.act(None, "", np.zeros(17)).arm_targets, ReplayPolicy.scripted(task).act(None, "", None).arm_targets)


def test_load_policy_specs():
    assert isinstance(load_policy("standin:box_loading"), ReplayPolicy)
    assert load_policy("python:test_runtime_server:make_exploding").model_id == "test:exploding"
    timing = load_policy("timing:tiny")  # an untrained VLA of the real architecture: labelled, timing only
    assert timing.model_id.startswith("untrained-timing:") and policy_kind(timing) == "standin"
    with pytest.raises(FileNotFoundError, match="policy.json"):
        load_policy("/nonexistent/folder")
    with pytest.raises(ValueError, match="no scripted stand-in"):
        load_policy("standin:dancing")
    with pytest.raises(ValueError, match="must start with 'standin:'"):
        ReplayPolicy(scripted_actions(), "vla-7b")


def test_server_answers_the_newest_observation_and_survives_a_failing_policy():
    server = VLAServer(ServerConfig(link=LinkConfig(port=5950), stats_every_s=0, policy="standin:bag_packing"))
    hello = msgs.Hello("r", msgs.ROBOT_JOINTS, "flags", "", "raw", (24, 32, 3))
    w = server.handle_hello(msgs.encode(hello))
    assert w.accepted and w.policy_kind == "standin" and "paper bag" in w.instruction
    first = server.check_observation(msgs.encode(observation(seq=5, session=server.session)))
    assert first is not None
    server.last_obs_seq = 5
    assert server.check_observation(msgs.encode(observation(seq=4, session=server.session))) is None
    assert server.rejected["not_newer"] == 1
    assert server.check_observation(msgs.encode(observation(seq=6, session=server.session + 1))) is None
    assert server.rejected["session"] == 1
    bad = VLAServer(ServerConfig(link=LinkConfig(port=5955), stats_every_s=0, instruction="x"), policy=Exploding())
    bad.handle_hello(msgs.encode(hello))
    bad._answer(observation(seq=1, session=bad.session), 0)
    assert bad.rejected["policy_error"] == 1 and bad.answered == 0


def test_instruction_comes_from_the_task_and_auto_falls_back_to_the_stand_in(tmp_path, monkeypatch):
    server = VLAServer(ServerConfig(link=LinkConfig(port=5960), task="box_loading"), policy=Exploding())
    assert server.instruction == INSTRUCTIONS["box_loading"]
    monkeypatch.setattr("wbvla.runtime.server.shipped_policy_dir", lambda: tmp_path)  # no shipped VLA
    pol = load_policy("auto", task="cart_pushing")
    assert isinstance(pol, ReplayPolicy) and "cart_pushing" in pol.model_id
    with pytest.raises(ValueError, match="task"):
        ServerConfig(task="dancing")


def test_a_server_process_is_waited_for_until_it_serves_and_a_dead_one_is_reported(tmp_path):
    from wbvla.runtime.experiments import ServerHandle

    good = ServerHandle(ServerConfig(link=LinkConfig(port=6390), policy="standin:cart_pushing", stats_every_s=0),
                        process=True, log_path=tmp_path / "good.log")
    good.start()
    try:
        assert good.wait_ready(timeout_s=120) >= 0
        assert b"VLA server on" in (tmp_path / "good.log").read_bytes()
    finally:
        good.close()
    bad = ServerHandle(ServerConfig(link=LinkConfig(port=6393), policy=str(tmp_path / "no_such_policy"),
                                    stats_every_s=0), process=True, log_path=tmp_path / "bad.log")
    bad.start()
    try:
        with pytest.raises(RuntimeError, match="exited"):
            bad.wait_ready(timeout_s=120)
    finally:
        bad.close()


class Counting:
    model_id, command_kind = "test:counting", "flags"

    def __init__(self):
        self.calls, self.resets = 0, 0

    def reset(self) -> None:
        self.resets += 1

    def act(self, image, instruction, state):
        assert image.shape == (96, 96, 3) and state.shape == (17,) and np.isfinite(state).all()
        self.calls += 1
        return ReplayPolicy.scripted("bag_packing").act(image, instruction, state)


def test_the_server_warms_its_policy_up_then_resets_it():
    policy = Counting()
    server = VLAServer(ServerConfig(link=LinkConfig(port=5965), stats_every_s=0, warmup_ticks=3), policy=policy)
    assert policy.calls == 3 and policy.resets == 1 and len(server.warmup_ms) == 3
    none = Counting()
    VLAServer(ServerConfig(link=LinkConfig(port=5966), stats_every_s=0, warmup_ticks=0), policy=none)
    assert none.calls == 0 and none.resets == 0
    with pytest.raises(ValueError, match="threads"):
        ServerConfig(threads=0)


@pytest.mark.parametrize("task", TASKS)
def test_scripted_stand_in_loop_returns_to_its_start(task):
    """A perfect tracker of the LMO's Eq. 2 reference, driven by the looped script's flags, ends each loop
    where it began (within 2 cm / 0.02 rad): long replays (the 100-fault campaign) do not drift away."""
    import math

    import torch

    from wbvla.lmo.config import CommandConfig
    from wbvla.lmo.shaping import reference_velocity, smooth_flags

    c = CommandConfig()
    a = scripted_actions(task)
    pose, s_bar, goal = np.zeros(3), torch.zeros(1, 3), torch.tensor([c.cruise])
    for row in np.repeat(a[:, 16:19], 5, axis=0):  # 10 Hz flags held over five 50 Hz steps
        flags = torch.tensor(row[None], dtype=torch.float32)
        s_bar = smooth_flags(s_bar, flags, c.smoothing)
        v = reference_velocity(flags, s_bar, goal, c.alpha, c.reference_form)[0].double().numpy()
        cy, sy = math.cos(pose[2]), math.sin(pose[2])
        pose += 0.02 * np.array([cy * v[0] - sy * v[1], sy * v[0] + cy * v[1], v[2]])
    moved = np.abs(a[:, 16:19]).sum(0) > 0
    assert moved.sum() >= 2  # it does walk, turn and sidestep
    assert np.linalg.norm(pose[:2]) < 0.02 and abs(pose[2]) < 0.02, pose


def test_in_place_stand_in_never_translates():
    a, b = scripted_actions("bag_packing"), scripted_actions("bag_packing", in_place=True)
    assert np.abs(a[:, 16:18]).max() == 1 and np.abs(b[:, 16:18]).max() == 0  # no walk, no sidestep
    assert np.array_equal(a[:, :16], b[:, :16]) and np.array_equal(a[:, 19], b[:, 19])  # same arms, grippers, h*
    assert np.abs(b[:, 18]).sum() > np.abs(a[:, 18]).sum()  # the moves became turns
    assert load_policy("standin:box_loading:in_place").model_id.endswith("in_place-v2")
    with pytest.raises(ValueError, match="in_place"):
        load_policy("standin:box_loading:sideways")
