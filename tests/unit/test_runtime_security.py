"""CURVE: allow-listed robots get in, unknown keys and plaintext clients get nothing; insecure
non-loopback links refuse to start; keys come from `wbvla deploy-keys`."""

from __future__ import annotations

import logging
import shutil
import stat

import pytest
import zmq
import zmq.auth
from runtime_helpers import StandingBackend

from wbvla.control.backend import RecordingBackend
from wbvla.runtime import messages as msgs
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


def _foreign_keys(keys, tmp, name: str, real_server_key: bool):
    """A robot keypair the server never allow-listed; with the real server.key, or another server's."""
    other = tmp / name
    create_keys(other)
    if real_server_key:
        shutil.copy(keys / "server.key", other / "server.key")
    else:  # this robot's own key is allow-listed, but it holds another server's public key
        shutil.copy(keys / "robot.key_secret", other / "robot.key_secret")
    return other


@pytest.mark.parametrize("case, robot_codes, server_code", [
    ("foreign_key", ("curve_auth",), "curve_auth"),
    ("wrong_server_key", ("curve_no_detail",), "curve_crypto"),
    # a plaintext client sees the mismatch, or the server closing first (a race inside libzmq)
    ("plaintext", ("curve_mechanism", "curve_no_detail"), "curve_mechanism"),
])
def test_curve_refusals_are_logged_and_counted_on_both_sides(curve_server, caplog, case, robot_codes, server_code):
    server, keys, tmp = curve_server
    caplog.set_level(logging.WARNING, logger="wbvla.runtime")
    curve_dir = None if case == "plaintext" else _foreign_keys(keys, tmp, case, real_server_key=case == "foreign_key")
    link = RobotLink(LinkConfig(port=5930, curve_dir=curve_dir), HELLO, retry_s=0.2, timeout_s=0.3)
    try:
        assert wait_for(lambda: any(link.security.counts[c] for c in robot_codes), 5.0), dict(link.security.counts)
        assert wait_for(lambda: server.security.counts[server_code] >= 1, 5.0), dict(server.security.counts)
        assert link.last_welcome is None and server.session is None
    finally:
        link.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "wbvla.runtime.transport"]
    assert any(m.startswith("robot: ") and any(c in m for c in robot_codes) for m in lines), lines
    assert any(m.startswith("server: ") and server_code in m for m in lines), lines
    if case == "foreign_key":  # the ZAP handler names the refused key and where it came from
        public = zmq.auth.load_certificate(curve_dir / "robot.key")[0].decode()
        assert any(f"public key {public}" in m and "127.0.0.1" in m for m in lines), lines
        assert server._auth.refused[public] >= 1


def test_a_good_curve_handshake_counts_no_failure(curve_server):
    server, keys, _ = curve_server
    link = RobotLink(LinkConfig(port=5930, curve_dir=keys), HELLO, retry_s=0.2, timeout_s=0.5)
    try:
        assert wait_for(lambda: link.last_welcome is not None, 5.0)
        assert link.security.succeeded >= 1 and not link.security.counts and not server.security.counts
    finally:
        link.close()
