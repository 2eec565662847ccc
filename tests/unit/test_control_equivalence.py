"""The loop the suite scores is the loop that deploys (issue 19): one policy and one task seed, run
through the suite's runner (:func:`wbvla.tasks.runner.run_trial`, a simulated clock, no sockets)
and through the deployment (the VLA server and the robot runner over loopback ZeroMQ, the
runner on a simulated clock so its timing is deterministic), write the same 29 joint targets and
the same u_t at every control tick, to 1e-6, on the ideal base and on the physics LMO.

The policy answers from the measured state and the head image (a feedback term and an image
term), so the two paths agree only if the robot, the observation, the chunk timing and the LMO
do; it moves the arms faster than the rate limit, squats, walks and sidesteps."""

from __future__ import annotations

import numpy as np
import pytest
import zmq

from wbvla.control.backend import RecordingBackend
from wbvla.control.config import ExecutionConfig
from wbvla.control.lmo import LMOStage
from wbvla.control.policy_contract import PolicyOutput
from wbvla.control.sim_backend import SimRobot
from wbvla.control.targets import ARMS
from wbvla.control.tick import MODES
from wbvla.locomotion import make_backend
from wbvla.runtime.config import LinkConfig, RunnerConfig, ServerConfig
from wbvla.runtime.link import wait_for
from wbvla.runtime.runner import RobotRunner
from wbvla.runtime.server import VLAServer, serve_in_thread
from wbvla.sim.joints import default_pose
from wbvla.sim.kinematics import READY_ARM_POSE
from wbvla.tasks.runner import RunnerConfig as TrialConfig
from wbvla.tasks.runner import run_trial
from wbvla.tasks.specs import make_task

TASK, SEED = "bag_packing", 1_000_000
TICKS = 150  # 3 s at 50 Hz: 30 observations and answers
PERIOD_NS = 20_000_000


class ProbePolicy:
    """Deterministic, but its chunk depends on the state and the image it is given."""

    model_id = "test:probe"
    command_kind = "flags"
    image_size = 32
    chunk_size = 4
    dt = 0.1

    def __init__(self):
        self.t = 0

    def reset(self) -> None:
        self.t = 0

    def act(self, image: np.ndarray, instruction: str, state: np.ndarray) -> PolicyOutput:
        k, self.t = self.t, self.t + 1
        w = np.clip(np.arange(k, k + self.chunk_size) / 3.0, 0.0, 1.0)[:, None]  # down -> ready in 0.3 s: 3.5 rad/s
        arm = (1 - w) * default_pose("arms") + w * np.asarray(READY_ARM_POSE)
        arm = arm + 0.3 * (state[:14] - arm[0])  # feedback on the measured arms
        arm[:, 0] += 0.05 * float(image.mean()) / 255.0  # and on the image
        grippers = np.full((self.chunk_size, 2), 0.03 if k < 8 else 0.0)
        flags = (1, 0, 0) if 5 <= k < 15 else (0, 1, 0) if 15 <= k < 22 else (0, 0, -1) if k >= 26 else (0, 0, 0)
        h = 0.655 if k < 10 else 0.58 + 0.05 * float(state[16] > 0.62)  # squat; h* depends on the measured height
        return PolicyOutput(arm, grippers, np.array([*flags, h]), "flags", dt=self.dt)


def suite_path(backend_name: str, execution: ExecutionConfig | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    result = run_trial(ProbePolicy(), make_task(TASK, SEED), TrialConfig(backend=backend_name, time_limit_s=TICKS / 50,
                                                                        execution=execution or ExecutionConfig()))
    c = result.control
    return c["q_target"], c["u"], c["mode"]


def deploy_path(backend_name: str, port: int, ticks: int, execution: ExecutionConfig | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    """The VLA server in a thread and the robot runner, over loopback sockets; the runner's clock is
    simulated: tick k runs at k * 20 ms, and the answer to tick k's observation is received before
    tick k + 1 (the least latency a robot can have), stamped with tick k's time."""
    ctx = zmq.Context()
    link = LinkConfig(port=port)
    server = VLAServer(ServerConfig(link=link, task=TASK, warmup_ticks=0, stats_every_s=0.0), ProbePolicy(), ctx=ctx).start()
    thread = serve_in_thread(server)
    task = make_task(TASK, SEED)
    task.reset()
    base = make_backend(backend_name)  # the ideal base moves the base; a physics backend's ONNX is the runner's LMO
    size = (ProbePolicy.image_size, ProbePolicy.image_size)
    robot = SimRobot(task.scene, base if base.kinematic else None, size)  # simulated clock: camera on demand
    lmo = None if base.kinematic else LMOStage(policy=base.policy)
    cfg = RunnerConfig(link=link, execution=execution or ExecutionConfig())
    recorded = RecordingBackend(robot, cfg.safety, cfg.period_s, "flags")
    runner = RobotRunner(cfg, recorded, lmo, ctx=ctx)
    now = [0]
    runner.clock = lambda: now[0]
    try:
        runner.start()
        assert wait_for(lambda: runner.link.pending is not None, 30.0), "no welcome from the server"
        modes = []
        for k in range(ticks):
            now[0] = k * PERIOD_NS
            runner.tick(now[0])
            modes.append(MODES.index(runner.sup.mode))
            if k % cfg.obs_every == 0:
                assert runner.link.cmd.poll(30_000), f"no answer to the observation of tick {k}"
                assert runner.on_command_bytes(runner.link.recv_command(), now[0]) == "accepted"
        q = np.array([w[0] for w in recorded.writes])
        u = np.array([w[1] for w in recorded.writes])
        return q, u, np.array(modes), recorded.violations
    finally:
        runner.close()
        server.stop()
        thread.join(timeout=5)
        server.close()
        ctx.term()


@pytest.mark.parametrize(("backend_name", "port"), [("ideal_base", 6420), ("lmo", 6430)])
def test_suite_and_deploy_paths_write_the_same_targets(backend_name, port):
    q_suite, u_suite, mode_suite = suite_path(backend_name)
    n = len(q_suite)  # the suite stops a trial at a fall (the shipped LMO may fall): compare what it ran
    assert n >= 100, f"the suite's trial ended after {n} ticks"
    q_deploy, u_deploy, mode_deploy, violations = deploy_path(backend_name, port, n)
    assert violations == []
    np.testing.assert_array_equal(mode_deploy, mode_suite)
    assert list(mode_suite[:2]) == [MODES.index("wait"), MODES.index("active")]  # the first answer acts from tick 1
    np.testing.assert_allclose(u_deploy, u_suite, atol=1e-6, rtol=0)
    np.testing.assert_allclose(q_deploy, q_suite, atol=1e-6, rtol=0)
    # the run exercised what it claims: the arm rate limit bound, the base walked, h* came down
    arm_steps = np.abs(np.diff(q_suite[:, ARMS], axis=0)).max()
    assert arm_steps == pytest.approx(2.0 * 0.02, abs=1e-9)
    assert set(np.unique(u_suite[:, 0])) >= {0.0, 1.0} and u_suite[:, 3].min() < 0.64


def test_temporal_ensembling_is_the_same_on_both_paths():
    """``ExecutionConfig.chunk_execution = temporal_ensemble`` (ACT) runs in the same tick on both
    paths: the same targets to 1e-6, and not the targets of the ``chunk`` mode."""
    ens = ExecutionConfig("temporal_ensemble", 0.5)
    q_suite, u_suite, mode_suite = suite_path("ideal_base", ens)
    q_deploy, u_deploy, mode_deploy, violations = deploy_path("ideal_base", 6440, len(q_suite), ens)
    assert violations == []
    np.testing.assert_array_equal(mode_deploy, mode_suite)
    np.testing.assert_allclose(u_deploy, u_suite, atol=1e-6, rtol=0)
    np.testing.assert_allclose(q_deploy, q_suite, atol=1e-6, rtol=0)
    q_chunk, _, _ = suite_path("ideal_base")
    assert np.abs(q_chunk[:, ARMS] - q_suite[:, ARMS]).max() > 1e-3  # the ensemble changed what the arms did
