"""CURVE off loopback, as deployed: the server (deploy/vla_server.py) and the robot runner
(deploy/robot_runner.py, sim twin) in two network namespaces of their own, joined by a veth pair
(10.231.0.1 <-> 10.231.0.2). Nothing touches the machine's own interfaces; the namespaces and the
pair are removed afterwards. Skipped where ``ip netns`` is not permitted (it needs CAP_NET_ADMIN).

An allow-listed robot is followed; a robot with a key the server does not know is refused, and
both sides say so in their logs (issue 19: a runner with the wrong key sat silent for 14 s)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zmq.auth

from wbvla.runtime.transport import create_keys

REPO = Path(__file__).resolve().parents[2]
SERVER_IP, ROBOT_IP, PORT = "10.231.0.1", "10.231.0.2", 6300


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=20)


@pytest.fixture
def namespaces():
    """``(server_ns, robot_ns)``: two fresh namespaces, a veth pair between them, loopback up."""
    if shutil.which("ip") is None:
        pytest.skip("no `ip` command (iproute2)")
    tag = f"{os.getpid() % 100000}"
    srv, rob = f"wbvla_s{tag}", f"wbvla_r{tag}"
    try:
        _ip("netns", "add", srv)
    except (subprocess.CalledProcessError, PermissionError, OSError) as err:
        pytest.skip(f"`ip netns add` is not permitted here: {getattr(err, 'stderr', '') or err}")
    try:
        _ip("netns", "add", rob)
        _ip("link", "add", f"wv{tag}s", "netns", srv, "type", "veth", "peer", "name", f"wv{tag}r", "netns", rob)
        for ns, dev, addr in ((srv, f"wv{tag}s", SERVER_IP), (rob, f"wv{tag}r", ROBOT_IP)):
            _ip("-n", ns, "addr", "add", f"{addr}/30", "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        yield srv, rob
    finally:
        for ns in (srv, rob):  # deleting a namespace deletes its end of the pair (and so the pair)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)


def _in_ns(ns: str, script: str, *args: str, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    return subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, str(REPO / "deploy" / script), *args],
                            stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env)  # noqa: SIM115


def _runner(ns: str, keys: Path, log: Path) -> str:
    proc = _in_ns(ns, "robot_runner.py", "sim-ideal-base", "--config.link.host", SERVER_IP, "--config.link.port", str(PORT),
                  "--config.link.curve-dir", str(keys), "--config.sim.image-size", "32", "32", "--duration-s", "6", log=log)
    try:
        assert proc.wait(timeout=120) == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    return log.read_text()


def test_curve_across_a_veth_pair_admits_the_allow_listed_robot_and_logs_a_refused_one(namespaces, tmp_path):
    srv_ns, rob_ns = namespaces
    keys = tmp_path / "keys"
    create_keys(keys)
    foreign = tmp_path / "foreign"
    create_keys(foreign)  # a robot keypair the server never allow-listed ...
    shutil.copy(keys / "server.key", foreign / "server.key")  # ... that knows the real server's public key
    server_log = tmp_path / "server.log"
    server = _in_ns(srv_ns, "vla_server.py", "lan", "--config.link.host", SERVER_IP, "--config.link.port", str(PORT),
                    "--config.link.curve-dir", str(keys), "--config.policy", "standin:bag_packing",
                    "--config.stats-every-s", "0", log=server_log)
    try:
        t_end = time.monotonic() + 60
        while "VLA server on" not in server_log.read_text():
            assert server.poll() is None and time.monotonic() < t_end, server_log.read_text()[-3000:]
            time.sleep(0.2)
        assert f"{SERVER_IP}:{PORT}" in server_log.read_text() and "CURVE" in server_log.read_text()
        good = _runner(rob_ns, keys, tmp_path / "good.log")
        bad = _runner(rob_ns, foreign, tmp_path / "foreign.log")
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    served = server_log.read_text()
    assert " with model standin:" in good and "accepted 0," not in good, good[-3000:]  # a session; commands followed
    assert "robot: security handshake on control" in bad and "curve_auth" in bad, bad[-3000:]
    assert "accepted 0," in bad and " with model " not in bad, bad[-3000:]  # never a session
    foreign_key = zmq.auth.load_certificate(foreign / "robot.key")[0].decode()
    assert f"CURVE refused a client at {ROBOT_IP}" in served and foreign_key in served, served[-3000:]
    assert "server: security handshake on" in served and "curve_auth" in served, served[-3000:]
