"""ZeroMQ sockets of the deployment link, with CURVE security and size limits.

Three channels (ports ``port``, ``port + 1``, ``port + 2`` of :class:`~wbvla.runtime.config.LinkConfig`):

==========  =====================  ==============================================================
control     REQ (robot) -> REP      hello / welcome handshake, one request per attempt
obs         PUSH (robot) -> PULL    observations; ``ZMQ_CONFLATE`` on both ends: latest only
cmd         PUSH (server) -> PULL   commands and e-stops; ``ZMQ_CONFLATE`` on both ends
==========  =====================  ==============================================================

The server binds, the robot connects. Every receiving socket has ``ZMQ_MAXMSGSIZE`` set (a peer
sending more is disconnected before anything is parsed) and the decoders check sizes again.

Security: loopback needs nothing. Any other host requires CURVE: the server refuses to start
without its secret key and an allow-list folder of client public keys (checked by a ZAP
authenticator thread); the robot refuses to connect without its keypair and the server's public
key. Keys come from ``wbvla deploy-keys`` (:func:`create_keys`).

A refused security handshake is never silent: :class:`HandshakeMonitor` reads ZeroMQ's socket
monitor events (``EVENT_HANDSHAKE_FAILED_AUTH`` / ``_PROTOCOL`` / ``_NO_DETAIL``) and logs and
counts each failure with a reason code (:data:`HANDSHAKE_FAILURE_CODES`) on both sides, and the
server's ZAP handler also logs the refused client's address and public key.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils import z85
from zmq.utils.monitor import recv_monitor_message

from wbvla.runtime.config import LinkConfig

log = logging.getLogger("wbvla.runtime.transport")

SERVER_NAME = "server"
AUTHORIZED_DIR = "authorized"


class SecurityError(RuntimeError):
    """The link would be insecure or its keys are missing: the process refuses to start."""


def create_keys(out_dir: Path, clients: tuple[str, ...] = ("robot",), force: bool = False) -> dict[str, Path]:
    """Make a CURVE keypair for the server and for each client, and allow-list the clients.

    Layout: ``server.key`` / ``server.key_secret``, ``<client>.key`` / ``<client>.key_secret`` and
    ``authorized/<client>.key``. The server machine needs ``server.key_secret`` and
    ``authorized/``; a robot needs ``<client>.key_secret`` and ``server.key``. Secret files are
    made readable by their owner only. Existing keys are kept unless ``force``.
    """
    out_dir = Path(out_dir).expanduser()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / AUTHORIZED_DIR).mkdir(exist_ok=True)
    made = {}
    for name in (SERVER_NAME, *clients):
        public = out_dir / f"{name}.key"
        if public.exists() and not force:
            made[name] = public
            continue
        pub, sec = zmq.auth.create_certificates(out_dir, name)
        os.chmod(sec, 0o600)
        made[name] = Path(pub)
        if name != SERVER_NAME:
            shutil.copy(pub, out_dir / AUTHORIZED_DIR / f"{name}.key")
    return made


def _load(path: Path, secret: bool) -> tuple[bytes, bytes | None]:
    if not path.exists():
        raise SecurityError(f"CURVE key {path} is missing; make keys with `wbvla deploy-keys --out-dir {path.parent}`")
    public, sec = zmq.auth.load_certificate(path)
    if secret and sec is None:
        raise SecurityError(f"{path} holds no secret key")
    return public, sec


@dataclass
class Security:
    """The keys one side of the link uses (None: plaintext on loopback)."""

    public: bytes
    secret: bytes
    server_public: bytes
    authorized_dir: Path | None = None


def server_security(link: LinkConfig) -> Security | None:
    """The server's keys, or None on loopback without keys. Raises SecurityError when a
    non-loopback bind lacks them."""
    if link.curve_dir is None:
        if not link.loopback:
            raise SecurityError(f"refusing to bind {link.host!r} (not loopback) without CURVE: set "
                                "link.curve_dir to a folder made by `wbvla deploy-keys`")
        return None
    public, secret = _load(link.curve_dir / f"{SERVER_NAME}.key_secret", secret=True)
    authorized = link.curve_dir / AUTHORIZED_DIR
    if not authorized.is_dir() or not any(authorized.glob("*.key")):
        raise SecurityError(f"no allow-listed client keys in {authorized}; run `wbvla deploy-keys` (it adds them)")
    return Security(public, secret, public, authorized)


def client_security(link: LinkConfig, client: str = "robot") -> Security | None:
    """The robot's keys, or None on loopback without keys."""
    if link.curve_dir is None:
        if not link.loopback:
            raise SecurityError(f"refusing to connect to {link.host!r} (not loopback) without CURVE: set link.curve_dir")
        return None
    public, secret = _load(link.curve_dir / f"{client}.key_secret", secret=True)
    server_public, _ = _load(link.curve_dir / f"{SERVER_NAME}.key", secret=False)
    return Security(public, secret, server_public)


class LoggingAuthenticator(ThreadAuthenticator):
    """pyzmq's ZAP handler (CURVE keys allow-listed from a folder) that also logs every refused
    client at WARNING with its address and public key (at most one line a second; all counted)."""

    def __init__(self, ctx: zmq.Context):
        super().__init__(ctx, log=logging.getLogger("wbvla.runtime.zap"))
        self.refused: Counter[str] = Counter()
        """Refused clients by public key (Z85; ``"-"`` for a mechanism without a key)."""
        self._request: tuple[str, str, str] = ("?", "?", "-")
        self._last_log = -math.inf

    async def handle_zap_message(self, msg: list[bytes]) -> None:
        if len(msg) >= 6:  # version, request id, domain, address, identity, mechanism, credentials...
            key = z85.encode(msg[6]).decode() if msg[5] == b"CURVE" and len(msg) > 6 and len(msg[6]) == 32 else "-"
            self._request = (msg[3].decode("utf-8", "replace"), msg[5].decode("ascii", "replace"), key)
        await super().handle_zap_message(msg)

    def _send_zap_reply(self, request_id, status_code, status_text, user_id="anonymous") -> None:
        if status_code != b"200":
            address, mechanism, key = self._request
            self.refused[key] += 1
            now = time.monotonic()
            if now - self._last_log >= 1.0:
                log.warning("CURVE refused a client at %s (%s, public key %s): %s [%d refused so far]", address,
                            mechanism, key, status_text.decode("utf-8", "replace"), sum(self.refused.values()))
                self._last_log = now
        super()._send_zap_reply(request_id, status_code, status_text, user_id)


def start_authenticator(ctx: zmq.Context, sec: Security | None):
    """Start the ZAP handler that admits only allow-listed client keys (None without CURVE)."""
    if sec is None:
        return None
    auth = LoggingAuthenticator(ctx)
    auth.start()
    auth.configure_curve(domain="*", location=str(sec.authorized_dir))
    return auth


HANDSHAKE_FAILURE_CODES = {
    "curve_auth": "the server's ZAP handler refused the client's public key (not in authorized/)",
    "curve_mechanism": "one side speaks CURVE, the other plaintext (ZMTP mechanism mismatch)",
    "curve_crypto": "the client's CURVE hello does not decrypt: it was made for another server key",
    "curve_protocol": "another ZMTP protocol error during the security handshake",
    "curve_no_detail": "the peer closed the connection during the handshake (a robot with the wrong server.key sees this)",
}
"""Reason codes of failed security handshakes, as :class:`HandshakeMonitor` logs and counts them."""
_PROTOCOL_ERRORS = {getattr(zmq, n): n[len("PROTOCOL_ERROR_"):] for n in dir(zmq) if n.startswith("PROTOCOL_ERROR_")}
FAILED_EVENTS = zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL


def handshake_failure(event: int, value: int) -> tuple[str, str]:
    """The reason code of :data:`HANDSHAKE_FAILURE_CODES` and a detail for one monitor event."""
    if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
        return "curve_auth", f"ZAP status {value}"
    if event == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:
        name = _PROTOCOL_ERRORS.get(value, hex(value))
        code = {zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH: "curve_mechanism",
                zmq.PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC: "curve_crypto"}.get(value, "curve_protocol")
        return code, name
    return "curve_no_detail", f"errno {value} ({os.strerror(value) if 0 < value < 200 else '?'})"


class HandshakeMonitor:
    """Counts and logs the failed security handshakes of the sockets it watches (ZeroMQ monitor
    events). Not thread-safe: the thread that calls :meth:`drain` owns it; the console gets at
    most one line a second per reason code (the first of each at once); :attr:`counts` gets every failure."""

    def __init__(self, side: str, hint: str = ""):
        self.side, self.hint = side, hint
        self.counts: Counter[str] = Counter()
        self.succeeded = 0
        self.monitors: dict[zmq.Socket, tuple[str, zmq.Socket]] = {}
        """monitor PAIR socket -> (name, watched socket)."""
        self._last_log: dict[str, float] = {}

    def watch(self, sock: zmq.Socket, name: str) -> zmq.Socket:
        """Start monitoring ``sock`` (before it connects or binds); returns the monitor socket (for a poller)."""
        mon = sock.get_monitor_socket(FAILED_EVENTS | zmq.EVENT_HANDSHAKE_SUCCEEDED)
        self.monitors[mon] = (name, sock)
        return mon

    def drain(self) -> int:
        """Read every pending event; returns the number of failures read."""
        failures = 0
        for mon, (name, _) in list(self.monitors.items()):
            while mon.poll(0):
                ev = recv_monitor_message(mon, zmq.NOBLOCK)
                if ev["event"] == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                    self.succeeded += 1
                    continue
                code, detail = handshake_failure(ev["event"], ev["value"])
                failures += 1
                now = time.monotonic()
                if now - self._last_log.get(code, -math.inf) >= 1.0:
                    endpoint = ev["endpoint"].decode("utf-8", "replace") if isinstance(ev["endpoint"], bytes) else ev["endpoint"]
                    log.warning("%s: security handshake on %s (%s) failed: %s (%s: %s)%s [failures so far %s]", self.side,
                                name, endpoint, code, detail, HANDSHAKE_FAILURE_CODES[code], self.hint,
                                dict(self.counts + Counter([code])))
                    self._last_log[code] = now
                self.counts[code] += 1  # after the log line: a reader that sees the count sees the line
        return failures

    def unwatch(self, sock: zmq.Socket) -> None:
        """Stop monitoring ``sock`` (before it closes); pending events are read first."""
        self.drain()
        for mon, (_, watched) in list(self.monitors.items()):
            if watched is sock:
                if not sock.closed:
                    sock.disable_monitor()
                mon.close(linger=0)
                del self.monitors[mon]

    def close(self) -> None:
        for _, sock in list(self.monitors.values()):
            self.unwatch(sock)


def _secure(sock: zmq.Socket, sec: Security | None, server: bool) -> None:
    if sec is None:
        return
    sock.curve_secretkey, sock.curve_publickey = sec.secret, sec.public
    if server:
        sock.curve_server = True
    else:
        sock.curve_serverkey = sec.server_public


def socket(ctx: zmq.Context, kind: int, sec: Security | None, server: bool, max_bytes: int | None = None,
           conflate: bool = False) -> zmq.Socket:
    """A socket with linger 0, optional conflation, a receive size limit and CURVE if ``sec``."""
    s = ctx.socket(kind)
    s.linger = 0
    if conflate:
        s.setsockopt(zmq.CONFLATE, 1)
    if max_bytes is not None:
        s.setsockopt(zmq.MAXMSGSIZE, max_bytes)
    _secure(s, sec, server)
    return s
