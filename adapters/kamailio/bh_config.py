"""The adapter's configuration file and caller headers, checked (see docs/adapters.md).

Pure Python (tomllib; pyzmq's key-file reader only when ``router.curve_keys`` is
set); shared by the Kamailio handler and its tests. Every problem is one
``ValueError`` line naming the key or header.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

MAX_HEADER_BYTES = 1024
MAX_SKILLS = 64
MAX_PRIORITY = 1_000_000
#: [router] timing keys -> (default, lowest, highest)
TIMINGS = {
    "request_timeout_ms": (1000, 10, 60_000),
    "arrive_timeout_ms": (2000, 10, 600_000),
    "down_after_ms": (1500, 10, 600_000),
    "hold_when_down_s": (60, 0, 86_400),
}


#: ZeroMQ addresses the adapter connects to. (Kamailio's Python runs this file without busyhour installed,
#: so the client library's check is not importable here.) ZeroMQ would take a port above 65535 modulo 65,536.
_TCP = re.compile(r"^tcp://(\[[^\]]+\]|[^:/\[\]]+):(\d{1,5})$")
MAX_IPC_PATH = 107  # bytes: sockaddr_un.sun_path on Linux, less its final zero


def _ipc_ok(address: str) -> bool:
    return address.startswith("ipc://") and 1 <= len(address[6:].encode()) <= MAX_IPC_PATH


def _address_ok(address: str) -> bool:
    m = _TCP.match(address)
    return _ipc_ok(address) if m is None else 1 <= int(m.group(2)) <= 65535


def _check_curve(path: str, router: dict) -> None:
    """``router.curve_keys`` (a folder from ``busyhour keys generate``) and ``router.curve_client`` (its client
    name, when the folder holds several): set ``router["curve"]`` = (client public, client secret, server public),
    z85 bytes, for the bridge's sockets."""
    folder = router.get("curve_keys")
    if folder is None:
        if "curve_client" in router:
            raise ValueError(f"{path}: router.curve_client needs router.curve_keys")
        return
    if not isinstance(folder, str) or not Path(folder).is_dir():
        raise ValueError(f"{path}: router.curve_keys must be a folder made by 'busyhour keys generate', "
                         f"got {folder!r}")
    name = router.get("curve_client")
    if name is not None and (not isinstance(name, str) or not name):
        raise ValueError(f"{path}: router.curve_client must be a client name, got {name!r}")
    d = Path(folder)
    server = d / "server.key"
    secrets = sorted(p for p in (d / "clients").glob("*.key_secret") if name is None or p.stem == name)
    if not server.is_file():
        raise ValueError(f"{path}: router.curve_keys: {server} is missing (the server's public key)")
    if len(secrets) != 1:
        which = f"client {name!r}" if name else "exactly one client (or set router.curve_client)"
        raise ValueError(f"{path}: router.curve_keys: need the secret key of {which} in {d / 'clients'}, "
                         f"found {len(secrets)}")
    import zmq.auth  # python3-zmq: the handler needs it anyway

    try:
        public, secret = zmq.auth.load_certificate(secrets[0])
        server_public, _ = zmq.auth.load_certificate(server)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: router.curve_keys: cannot read the keys ({exc})") from None
    if secret is None:
        raise ValueError(f"{path}: router.curve_keys: {secrets[0]} holds no secret key")
    router["curve"] = (public, secret, server_public)


def load_config(path: str) -> dict:
    """Read and check the adapter's TOML; fill the timing defaults."""
    try:
        with open(path, "rb") as fh:
            cfg = tomllib.load(fh)
    except OSError as exc:
        raise ValueError(f"{path}: cannot read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from None
    router = cfg.setdefault("router", {})
    adapter = cfg.setdefault("adapter", {})
    for key in ("commands", "events"):
        if not isinstance(router.get(key), str):
            raise ValueError(f"{path}: router.{key} (a ZeroMQ address) is required")
        if not _address_ok(router[key]):
            raise ValueError(f"{path}: router.{key} must be tcp://HOST:PORT (PORT 1-65535) or ipc://PATH, "
                             f"got {router[key]!r}")
    for key, (default, lo, hi) in TIMINGS.items():
        value = router.setdefault(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
            raise ValueError(f"{path}: router.{key} must be a number {lo}..{hi}, got {value!r}")
    _check_curve(path, router)
    if not isinstance(adapter.get("ipc"), str) or not _ipc_ok(adapter["ipc"]):
        raise ValueError(f"{path}: adapter.ipc (the workers' ipc:// address for the bridge) is required, "
                         f"ipc://PATH with PATH at most {MAX_IPC_PATH} bytes")
    if not isinstance(adapter.setdefault("name", "kamailio"), str) or not adapter["name"]:
        raise ValueError(f"{path}: adapter.name must be a non-empty string")
    if not isinstance(adapter.setdefault("queue_equals_user", True), bool):
        raise ValueError(f"{path}: adapter.queue_equals_user must be true or false")
    for section in ("queues", "agents"):
        table = cfg.setdefault(section, {})
        if not isinstance(table, dict):
            raise ValueError(f"{path}: [{section}] must be a table")
        for k, v in table.items():
            if not isinstance(v, str) or not v:
                raise ValueError(f"{path}: {section}.{k} must be a non-empty string")
    return cfg


def parse_priority(text: str) -> int:
    """``X-Busyhour-Priority: 5`` -> 5 (an integer 0..1,000,000)."""
    value = text.strip()
    if not value.isdigit() or int(value) > MAX_PRIORITY:
        raise ValueError("X-Busyhour-Priority must be an integer 0..1000000")
    return int(value)


def parse_agent(text: str) -> str:
    """``X-Busyhour-Agent: a7`` -> ``"a7"`` (non-empty, ≤ 128 bytes)."""
    value = text.strip()
    if not value or len(value.encode()) > 128:
        raise ValueError("X-Busyhour-Agent must be an agent id of 1..128 bytes")
    return value


def parse_skills(text: str) -> dict:
    """``X-Busyhour-Skills: es=2, billing=4`` -> ``{"es": 2, "billing": 4}`` (levels 1-5, ≤ 64 entries)."""
    if len(text) > MAX_HEADER_BYTES:
        raise ValueError("X-Busyhour-Skills longer than 1024 bytes")
    out = {}
    for part in text.split(","):
        name, sep, level = part.strip().partition("=")
        if not sep or not name.strip() or not level.strip().isdigit() or not 1 <= int(level) <= 5:
            raise ValueError(f"X-Busyhour-Skills: bad skill {part.strip()!r} (want name=1..5)")
        out[name.strip()] = int(level)
    if len(out) > MAX_SKILLS:
        raise ValueError("X-Busyhour-Skills: more than 64 skills")
    return out
