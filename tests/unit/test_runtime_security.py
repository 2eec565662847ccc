"""CURVE: allow-listed robots get in, unknown keys and plaintext clients get nothing; insecure
non-loopback links refuse to start; keys come from `wbvla deploy-keys`."""

from __future__ import annotations

import shutil
import stat

import pytest
import zmq
from runtime_helpers import StandingBackend

from wbvla.runtime import messages as msgs
from wbvla.runtime.backends.base import RecordingBackend
from wbvla.runtime.config import LinkConfig, RunnerConfig, ServerConfig
from wbvla.runtime.link import RobotLink, wait_for
from wbvla.runtime.runner import RobotRunner
from wbvla.runtime.server import VLAServer, serve_in_thread
from wbvla.runtime.transport import SecurityError, create_keys

HELLO = msgs.Hello("r", msgs.ROBOT_JOINTS, "flags", "", "raw", (32, 32, 3))


@pytest.fixture
def curve_server(tmp_path):
    keys = tmp_path / "keys"
    create_keys(keys)
    ctx = zmq.Context()
    server = VLAServer(ServerConfig(link=LinkConfig(port=5930, curve_dir=keys), stats_every_s=0, policy="standin:bag_packing"), ctx=ctx).start()
    th = serve_in_thread(server)
    yield server, keys, tmp_path
    server.stop()
    th.join()
    server.close()
    ctx.destroy(linger=0)


def test_deploy_keys_layout_permissions_and_no_silent_overwrite(tmp_path):
    made = create_keys(tmp_path, ("robot", "robot2"))
    assert set(made) == {"server", "robot", "robot2"}
    for name in made:
        assert stat.S_IMODE((tmp_path / f"{name}.key_secret").stat().st_mode) == 0o600
    assert sorted(p.name for p in (tmp_path / "authorized").iterdir()) == ["robot.key", "robot2.key"]
    before = (tmp_path / "robot.key").read_bytes()
    create_keys(tmp_path)
    assert (tmp_path / "robot.key").read_bytes() == before
    create_keys(tmp_path, force=True)
    assert (tmp_path / "robot.key").read_bytes() != before


def test_allow_listed_robot_runs_over_curve(curve_server):
    server, keys, _ = curve_server
    cfg = RunnerConfig(link=LinkConfig(port=5930, curve_dir=keys))
    runner = RobotRunner(cfg, RecordingBackend(StandingBackend(), cfg.safety, cfg.period_s), None)
    runner.run(1.5)
    runner.close()
    assert runner.welcome is not None and runner.accepted > 3


def test_unknown_client_key_is_refused(curve_server):
    server, keys, tmp = curve_server
    other = tmp / "other"
    create_keys(other)  # a robot keypair the server never allow-listed ...
    shutil.copy(keys / "server.key", other / "server.key")  # ... that knows the real server key
    link = RobotLink(LinkConfig(port=5930, curve_dir=other), HELLO, retry_s=0.2, timeout_s=0.3)
    try:
        assert not wait_for(lambda: link.last_welcome is not None, 2.0)
        assert server.session is None
    finally:
        link.close()


def test_plaintext_client_to_a_curve_server_gets_nothing(curve_server):
    server, keys, _ = curve_server
    ctx = zmq.Context()
    try:
        req = ctx.socket(zmq.REQ)
        req.linger = 0
        req.connect("tcp://127.0.0.1:5930")
        req.send(msgs.encode(HELLO))
        assert req.poll(1500) == 0  # no welcome: the CURVE handshake never completes
        pull = ctx.socket(zmq.PULL)
        pull.linger = 0
        pull.connect("tcp://127.0.0.1:5932")
        server.estop("test: the server now sends e-stops every 0.1 s to anyone connected")
        assert pull.poll(1000) == 0
        assert server.session is None
    finally:
        ctx.destroy(linger=0)


def test_non_loopback_without_keys_refuses_to_start(tmp_path):
    with pytest.raises(SecurityError, match="not loopback"):
        VLAServer(ServerConfig(link=LinkConfig(host="0.0.0.0"), stats_every_s=0, policy="standin:bag_packing")).start()
    with pytest.raises(SecurityError, match="not loopback"):
        RobotLink(LinkConfig(host="192.168.1.10"), HELLO, 0.5, 0.5)
    with pytest.raises(SecurityError, match="deploy-keys"):  # a keys folder without keys
        VLAServer(ServerConfig(link=LinkConfig(host="0.0.0.0", curve_dir=tmp_path), stats_every_s=0, policy="standin:bag_packing")).start()
    (tmp_path / "authorized").mkdir()
    create_keys(tmp_path / "k")
    shutil.copy(tmp_path / "k" / "server.key_secret", tmp_path / "server.key_secret")
    with pytest.raises(SecurityError, match="allow-listed"):  # keys but an empty allow-list
        VLAServer(ServerConfig(link=LinkConfig(host="0.0.0.0", curve_dir=tmp_path), stats_every_s=0, policy="standin:bag_packing")).start()
