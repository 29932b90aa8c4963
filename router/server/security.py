"""Who may talk to the server: loopback by default, CurveZMQ for anything else.

Key folder layout (``busyhour keys generate DIR``)::

    DIR/server.key          server public key   (give to clients)
    DIR/server.key_secret   server secret key   (the server only)
    DIR/clients/NAME.key          a client's public key: admitted by the server
    DIR/clients/NAME.key_secret   that client's secret key (give to that client only)

The server admits exactly the public keys found in ``DIR/clients/*.key`` (ZAP
via ``zmq.auth``); a plain-text client or an unlisted key is refused by
ZeroMQ's handshake before any request is read.
"""

from __future__ import annotations

import errno
import ipaddress
import math
import os
import re
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils.monitor import recv_monitor_message

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_CLIENT_KEYS = 1000


class SecurityError(Exception):
    """A refused bind, or a key folder that cannot be used; the message says why."""


class CurveKeys(NamedTuple):
    public: bytes
    secret: bytes
    server_public: bytes


def is_local_endpoint(endpoint: str) -> bool:
    """True for ipc://, inproc:// and tcp:// on a loopback address."""
    if endpoint.startswith(("ipc://", "inproc://")):
        return True
    m = re.match(r"^tcp://(\[[^\]]+\]|[^:]+):(\d{1,9}|\*)$", endpoint)
    if not m:
        raise SecurityError(f"{endpoint!r} is not a ZeroMQ endpoint like tcp://127.0.0.1:5570")
    if m.group(2) != "*" and int(m.group(2)) > 65535:  # ZeroMQ would bind that number modulo 65,536
        raise SecurityError(f"{endpoint!r}: port {int(m.group(2))} is outside 0–65535 (0 or * picks a free one)")
    host = m.group(1).strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # an interface name or a wildcard: not loopback


def check_binds(endpoints: list[str], *, curve: bool, insecure: bool) -> list[str]:
    """Refuse a non-loopback bind without CurveZMQ unless ``insecure``; return warnings to print."""
    public = [e for e in endpoints if not is_local_endpoint(e)]
    if not public or curve:
        return []
    if not insecure:
        raise SecurityError(f"refusing to bind {', '.join(public)} without encryption: use --curve-keys DIR "
                            "(see 'busyhour keys generate'), or --insecure to accept plain text")
    return [f"WARNING: {e} is reachable from the network in plain text, with no authentication" for e in public]


def generate(directory: str | Path, clients: list[str]) -> list[Path]:
    """Create the server keypair (if missing) and one keypair per client name; return the files written."""
    if not str(directory).strip():
        raise SecurityError("the keys folder: an empty path; give a folder name such as ./keys")
    d = Path(directory)
    if d.exists() and not d.is_dir():
        raise SecurityError(f"{d}: exists and is not a folder")
    if not d.parent.is_dir():
        raise SecurityError(f"{d.parent}: no such folder")
    if len(clients) > MAX_CLIENT_KEYS:
        raise SecurityError(f"at most {MAX_CLIENT_KEYS} client keys at once")
    for name in clients:
        if not _NAME.match(name) or name == "server":
            raise SecurityError(f"client name {name!r}: use 1-64 letters, digits, '.', '_' or '-', not 'server'")
        if (d / "clients" / f"{name}.key").exists():  # checked before anything is written, not half way
            raise SecurityError(f"{d / 'clients' / (name + '.key')}: exists; remove it first to replace it")
    if len(set(clients)) != len(clients):
        raise SecurityError(f"client name {next(c for c in clients if clients.count(c) > 1)!r} given twice")
    try:
        d.mkdir(mode=0o700, exist_ok=True)
        (d / "clients").mkdir(mode=0o700, exist_ok=True)
    except OSError as exc:
        raise SecurityError(f"{d}: cannot create the keys folder: {exc.strerror}") from None
    written = []
    if not (d / "server.key_secret").exists():
        pub, sec = zmq.auth.create_certificates(str(d), "server")
        written += [Path(pub), Path(sec)]
    for name in clients:  # none exists: checked with the names, before anything was written
        pub, sec = zmq.auth.create_certificates(str(d / "clients"), name)
        written += [Path(pub), Path(sec)]
    for p in written:
        if p.name.endswith(".key_secret"):
            os.chmod(p, 0o600)
    return written


def _load(path: Path, secret: bool) -> tuple[bytes, bytes | None]:
    if not path.is_file():
        raise SecurityError(f"{path}: no such key file")
    try:
        pub, sec = zmq.auth.load_certificate(str(path))
    except (ValueError, OSError) as exc:
        raise SecurityError(f"{path}: not a ZeroMQ certificate ({exc})") from None
    if secret and sec is None:
        raise SecurityError(f"{path}: holds no secret key")
    return pub, sec


def client_keys(directory: str | Path, name: str) -> CurveKeys:
    """A client's keys from a folder made by :func:`generate`."""
    d = Path(directory)
    pub, sec = _load(d / "clients" / f"{name}.key_secret", True)
    server_pub, _ = _load(d / "server.key", False)
    return CurveKeys(pub, sec, server_pub)


def start_server_auth(ctx: zmq.Context, sockets: list[zmq.Socket], directory: str | Path) -> "ServerAuth":
    """Make ``sockets`` CurveZMQ servers that admit only ``DIR/clients/*.key``; return the running authenticator
    and the watch on what it refuses."""
    d = Path(directory)
    pub, sec = _load(d / "server.key_secret", True)
    clients = d / "clients"
    if not clients.is_dir() or not any(clients.glob("*.key")):
        raise SecurityError(f"{clients}: no client public keys (*.key) to admit")
    auth = ThreadAuthenticator(ctx)
    auth.start()
    auth.configure_curve(domain="*", location=str(clients))
    for s in sockets:
        s.curve_secretkey = sec
        s.curve_publickey = pub
        s.curve_server = True
    return ServerAuth(auth, sockets)


#: Why a handshake failed, from the server's side: a socket monitor's event and value -> a metric label.
REFUSALS = {
    (zmq.EVENT_HANDSHAKE_FAILED_AUTH, 400): "key_not_admitted",
    (zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH): "plain_text",
    (zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, zmq.PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC): "wrong_server_key",
}
#: A handshake that failed with no detail but the connection closed under it (the peer hung up, or reset it): a
#: client that gave up mid-handshake, often one that saw the refusal first (the event's value is the errno).
CLOSED = {errno.EPIPE, errno.ECONNRESET}
_WORDS = {"key_not_admitted": "a client key not in clients/", "plain_text": "a client without CurveZMQ keys",
          "wrong_server_key": "a client holding another server public key",
          "closed_during_handshake": "a client that closed the connection during the handshake",
          "other": "other handshake errors"}
REFUSAL_LOG_S = 60.0  # at most one log line about refused handshakes this often
REFUSAL_READ_S = 1.0  # the monitors are read at most this often


def refusal_reason(event: int, value: int) -> str:
    """The metric label of a failed handshake, from a socket monitor's event and value."""
    reason = REFUSALS.get((event, value))
    if reason is None and event == zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL and value in CLOSED:
        return "closed_during_handshake"
    return reason or "other"


class ServerAuth:
    """The running ZAP authenticator, and socket monitors that count the handshakes refused.

    ZeroMQ refuses a client with the wrong keys during the handshake, before
    any frame reaches the loop, and tells nobody: the client just gets no
    replies. :meth:`report` (called by the loop) reads the monitors, counts
    each refusal by reason in ``busyhour_handshakes_refused_total`` and logs
    them: at the first, then at most once a minute."""

    def __init__(self, auth: ThreadAuthenticator, sockets: list[zmq.Socket]):
        self._auth = auth
        failed = (zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                  | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        self._monitors = [s.get_monitor_socket(failed) for s in sockets]
        self._unlogged: Counter[str] = Counter()
        self._logged_s = self._read_s = -math.inf

    def take(self) -> Counter[str]:
        """The refusals the monitors have queued since the last call, by reason."""
        out: Counter[str] = Counter()
        for m in self._monitors:
            while True:
                try:
                    ev = recv_monitor_message(m, zmq.NOBLOCK)
                except zmq.Again:
                    break
                out[refusal_reason(ev["event"], ev["value"])] += 1
        return out

    def report(self, now_s: float, counter, log) -> None:
        """Read the monitors (at most once a second), add each kind to ``counter`` (a Prometheus counter with a
        ``reason`` label) and log what the last log line did not cover (at most once a minute)."""
        if now_s - self._read_s < REFUSAL_READ_S:
            return
        self._read_s = now_s
        for reason, n in self.take().items():
            counter.labels(reason).inc(n)
            self._unlogged[reason] += n
        if self._unlogged and now_s - self._logged_s >= REFUSAL_LOG_S:
            what = ", ".join(f"{n} from {_WORDS[r]}" for r, n in sorted(self._unlogged.items()))
            log.warning("refused %d client handshakes (%s); such clients get no replies (docs/server.md, "
                        "Security)", sum(self._unlogged.values()), what)
            self._unlogged.clear()
            self._logged_s = now_s

    def stop(self) -> None:
        for m in self._monitors:
            m.close(0)
        self._auth.stop()
