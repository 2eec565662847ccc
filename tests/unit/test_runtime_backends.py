"""Robot backends: the X2 SDK seam over a fake SDK, and the sim twin (camera thread, ideal base)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from wbvla.control.backend import RecordingBackend
from wbvla.control.lmo import LMOStage
from wbvla.control.x2 import X2Backend
from wbvla.runtime.backends.sim import SimBackend
from wbvla.runtime.config import RunnerConfig, SimTwinConfig
from wbvla.runtime.runner import RobotRunner
from wbvla.sim.joints import JOINTS, default_pose


class FakeSDK:
    """Stands in for an AimDK-backed X2SDK: a robot standing still, recording what it is told."""

    def __init__(self):
        self.written = []

    def read_joint_states(self):
        return default_pose(), np.zeros(29)

    def read_imu(self):
        return np.zeros(3), np.array([1.0, 0.0, 0.0, 0.0])

    def read_head_image(self):
        return np.zeros((16, 16, 3), np.uint8)

    def base_height(self):
        return 0.65

    def write_joint_targets(self, q, kp, kd):
        self.written.append((q.copy(), kp, kd))


def test_x2_seam_carries_states_in_and_targets_with_gains_out():
    sdk = FakeSDK()
    cfg = RunnerConfig(backend="x2")
    backend = RecordingBackend(X2Backend(sdk), cfg.safety, cfg.period_s)
    runner = RobotRunner(cfg, backend, LMOStage(), link=False)
    now = [10**9]
    runner.clock = lambda: now[0]
    state = runner.start()
    np.testing.assert_allclose(state.gravity, [0.0, 0.0, -1.0])
    for _ in range(20):
        now[0] += 20_000_000
        runner.tick(now[0])
    assert len(sdk.written) == 20 and backend.violations == []
    q, kp, kd = sdk.written[-1]
    assert q.shape == (29,) and np.allclose(kp, [j.kp for j in JOINTS]) and np.allclose(kd, [j.kd for j in JOINTS])
    assert runner.sup.mode == "wait"  # no server: it stands, arms to the safe pose, LMO balancing every tick


def test_sim_twin_camera_and_ideal_base():
    twin = SimBackend(SimTwinConfig(image_size=(32, 48), camera_hz=10.0))
    try:
        s0 = twin.start()
        n0 = len(twin.camera.render_ms)
        time.sleep(1.0)
        assert 4 <= len(twin.camera.render_ms) - n0 <= 16  # ~10 Hz, whatever the load
        assert twin.latest_image().shape == (32, 48, 3)
        x0 = twin.data.qpos[twin.idx.base_qpos]
        for _ in range(100):  # 2 s of s_x = +1 at nominal height
            twin.write(default_pose(), np.array([1.0, 0.0, 0.0, 0.65]))
        moved = twin.data.qpos[twin.idx.base_qpos] - x0
        assert 0.2 < moved < 0.6  # Eq. 2 ramps toward the 0.3 m/s cruise speed
        assert not twin.read().fallen and twin.read().base_height == pytest.approx(s0.base_height, abs=0.02)
        twin.reset_twin()
        assert twin.data.qpos[twin.idx.base_qpos] == pytest.approx(x0)
    finally:
        twin.close()
