"""The robot's side of the ZeroMQ link: observation out, commands in, handshake in a thread.

The control loop only ever does non-blocking work on the link: it sends an observation (dropped
if nobody listens, conflated if the server is slow) and reads whatever command arrived. The
handshake, which waits for a reply, runs in :class:`RobotLink`'s own thread with a fresh REQ socket
per attempt (a dead server can never wedge it) and hands a new session to the loop, which applies
it between ticks.
"""

from __future__ import annotations

import logging
import threading
import time

import zmq

from wbvla.runtime import messages as msgs
from wbvla.runtime import transport
from wbvla.runtime.config import LinkConfig
from wbvla.runtime.messages import Hello, Welcome
from wbvla.runtime.wire import ProtocolError

log = logging.getLogger("wbvla.runtime.link")


class RobotLink:
    """Sockets and handshake thread of the robot runner."""

    def __init__(self, link: LinkConfig, hello: Hello, retry_s: float, timeout_s: float, ctx: zmq.Context | None = None,
                 client: str = "robot"):
        self.cfg, self.hello, self.retry_s, self.timeout_s = link, hello, retry_s, timeout_s
        self.ctx = ctx or zmq.Context.instance()
        self.sec = transport.client_security(link, client)  # refuses plaintext off loopback
        self.obs = self.cmd = None
        self.reconnects = 0
        self._open_data_sockets()
        self.pending: Welcome | None = None
        """A successful welcome waiting for the loop to adopt it."""
        self.last_welcome: Welcome | None = None
        self.want_handshake = threading.Event()
        self.want_handshake.set()
        self.stop_event = threading.Event()
        self.failures: list[str] = []
        self._thread = threading.Thread(target=self._handshake_loop, name="robot-handshake", daemon=True)
        self._thread.start()

    def _open_data_sockets(self) -> None:
        self.obs = transport.socket(self.ctx, zmq.PUSH, self.sec, False, conflate=True)
        self.cmd = transport.socket(self.ctx, zmq.PULL, self.sec, False, self.cfg.max_command_bytes, conflate=True)
        self.obs.connect(self.cfg.endpoint("obs"))
        self.cmd.connect(self.cfg.endpoint("cmd"))

    def reconnect(self) -> None:
        """Recreate the obs/cmd sockets (loop thread only). ZeroMQ 4.3 does not reconnect a socket
        whose peer broke ``ZMQ_MAXMSGSIZE``; after a silence the runner re-handshakes and calls this,
        so one oversized message can cost a watchdog stop, never the link."""
        self.obs.close(linger=0)
        self.cmd.close(linger=0)
        self._open_data_sockets()
        self.reconnects += 1

    def send_observation(self, buf: bytes) -> bool:
        try:
            self.obs.send(buf, zmq.NOBLOCK)
            return True
        except zmq.Again:
            return False

    def recv_command(self) -> bytes | None:
        try:
            return self.cmd.recv(zmq.NOBLOCK, copy=True)
        except zmq.Again:
            return None

    def take_welcome(self) -> Welcome | None:
        w, self.pending = self.pending, None
        return w

    def _handshake_loop(self) -> None:
        while not self.stop_event.is_set():
            if self.want_handshake.is_set() and self.pending is None:
                welcome = self._attempt()
                if welcome is not None and welcome.accepted:
                    self.want_handshake.clear()
                    self.last_welcome = self.pending = welcome
            self.stop_event.wait(self.retry_s)

    def _attempt(self) -> Welcome | None:
        sock = transport.socket(self.ctx, zmq.REQ, self.sec, False, self.cfg.max_control_bytes)
        try:
            sock.connect(self.cfg.endpoint("control"))
            sock.send(msgs.encode(self.hello))
            if not sock.poll(int(self.timeout_s * 1000), zmq.POLLIN):
                return None
            welcome = msgs.decode(sock.recv(), self.cfg.max_control_bytes, expect=("welcome",))
        except (ProtocolError, zmq.ZMQError) as err:
            self.failures.append(str(err))
            log.warning("handshake failed: %s", err)
            return None
        finally:
            sock.close(linger=0)
        if not welcome.accepted:
            self.failures.append(welcome.reason)
            log.error("server refused the handshake: %s", welcome.reason)
        return welcome

    def close(self) -> None:
        self.stop_event.set()
        self._thread.join(timeout=2.0)
        self.obs.close(linger=0)
        self.cmd.close(linger=0)


def wait_for(predicate, timeout_s: float, poll_s: float = 0.01) -> bool:
    """Poll ``predicate()`` until it is true or ``timeout_s`` passes."""
    t_end = time.monotonic() + timeout_s
    while time.monotonic() < t_end:
        if predicate():
            return True
        time.sleep(poll_s)
    return bool(predicate())
