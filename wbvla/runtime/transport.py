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
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.auth

from wbvla.runtime.config import LinkConfig

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


def start_authenticator(ctx: zmq.Context, sec: Security | None):
    """Start the ZAP handler that admits only allow-listed client keys (None without CURVE)."""
    if sec is None:
        return None
    from zmq.auth.thread import ThreadAuthenticator

    auth = ThreadAuthenticator(ctx)
    auth.start()
    auth.configure_curve(domain="*", location=str(sec.authorized_dir))
    return auth


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
