"""The adapter's configuration file and caller headers, checked (see docs/adapters.md).

Pure Python (tomllib only); shared by the Kamailio handler and its tests. Every
problem is one ``ValueError`` line naming the file, key or header. Files are
read only when they are regular files of bounded size (:func:`read_regular`):
a FIFO, a device or a runaway file named by mistake gives an error, never a
Kamailio that hangs at start.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import stat
import tomllib
from pathlib import Path

MAX_HEADER_BYTES = 1024
MAX_SKILLS = 64
MAX_PRIORITY = 1_000_000
MAX_CONFIG_BYTES = 1 << 20     # the TOML file
MAX_KEY_BYTES = 4096           # one CurveZMQ key file (about 300 bytes as `busyhour keys generate` writes them)
MAX_NAME_BYTES = 255           # adapter.name: carried in every call's context, which the server limits to 16 KiB
#: [router] timing keys -> (default, lowest, highest)
TIMINGS = {
    "request_timeout_ms": (1000, 10, 60_000),
    "arrive_timeout_ms": (2000, 10, 600_000),
    "down_after_ms": (1500, 10, 600_000),
    "hold_when_down_s": (60, 0, 86_400),
}
#: [adapter] timing keys -> (default, lowest, highest), in seconds. off_queue_call_max_s: an agent talking on a
#: call the engine does not count is not ready until its BYE or this long (at most the 12 hours the cfg remembers
#: a dialog); reconcile_s: between two snapshots the bridge compares its calls with (bh_sync)
ADAPTER_TIMINGS = {
    "off_queue_call_max_s": (14_400, 60, 43_200),
    "reconcile_s": (30, 1, 3_600),
}
#: the keys each table may hold ([queues] and [agents] hold any)
KNOWN = {
    "router": ("commands", "events", *TIMINGS, "curve_keys", "curve_client"),
    "adapter": ("ipc", "name", "queue_equals_user", *ADAPTER_TIMINGS),
}
SECTIONS = ("router", "adapter", "queues", "agents")


#: ZeroMQ addresses the adapter connects to. (Kamailio's Python runs this file without busyhour installed,
#: so the client library's check is not importable here.) ZeroMQ would take a port above 65535 modulo 65,536.
_TCP = re.compile(r"^tcp://(\[[^\]]+\]|[^:/\[\]]+):(\d{1,5})$")
MAX_IPC_PATH = 107  # bytes: sockaddr_un.sun_path on Linux, less its final zero
#: an agent's SIP URI: sip: or sips:, optional user@, a host name, IPv4 or [IPv6], optional :port and ;params
_SIP_URI = re.compile(r'^sips?:(?:[^@\s<>"]+@)?(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?(?:;[^\s<>"]*)?$',
                      re.IGNORECASE)
_Z85_KEY = re.compile(rb"^[0-9a-zA-Z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}$")  # a CurveZMQ key in z85


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _key(key: str) -> str:
    """A TOML key for a message: as written when plain, else quoted (one line, at most 60 characters)."""
    return key if re.fullmatch(r"[A-Za-z0-9_-]{1,60}", key) else _show(key)


def read_regular(path: str | Path, limit: int) -> bytes:
    """The bytes of ``path``, which must be a regular file of at most ``limit`` bytes; else ``ValueError``
    (without the path). Checked on the opened file, which is opened without blocking: a FIFO or a device is
    refused, never read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise ValueError(f"cannot read ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError("not a regular file")
        chunks, size = [], 0
        while st.st_size <= limit and size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if st.st_size > limit or size > limit:
            raise ValueError(f"larger than {limit:,} bytes")
        return b"".join(chunks)
    except OSError as exc:
        raise ValueError(f"cannot read ({exc.strerror})") from None
    finally:
        os.close(fd)


def _ipc_ok(address: str) -> bool:
    return address.startswith("ipc://") and 1 <= len(address[6:].encode()) <= MAX_IPC_PATH


def _address_ok(address: str) -> bool:
    m = _TCP.match(address)
    return _ipc_ok(address) if m is None else 1 <= int(m.group(2)) <= 65535


def _load_key(path: str, file: Path) -> tuple[bytes, bytes | None]:
    """(public, secret or None) of a key file as ``busyhour keys generate`` writes it (pyzmq's format)."""
    try:
        data = read_regular(file, MAX_KEY_BYTES)
    except ValueError as exc:
        raise ValueError(f"{path}: router.curve_keys: {file}: {exc}") from None
    keys: dict[bytes, bytes] = {}
    for line in data.splitlines():
        name, sep, value = line.strip().partition(b"=")
        if sep and name.strip() in (b"public-key", b"secret-key"):
            keys.setdefault(name.strip(), value.strip(b' \t\'"'))
    public, secret = keys.get(b"public-key"), keys.get(b"secret-key")
    for key in (public, secret):
        if key is not None and not _Z85_KEY.match(key):
            raise ValueError(f"{path}: router.curve_keys: {file} holds a key that is not 40 z85 characters")
    if public is None:
        raise ValueError(f"{path}: router.curve_keys: {file} holds no public key")
    return public, secret


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
                         f"got {_show(folder)}")
    name = router.get("curve_client")
    if name is not None and (not isinstance(name, str) or not name):
        raise ValueError(f"{path}: router.curve_client must be a client name, got {_show(name)}")
    d = Path(folder)
    server = d / "server.key"
    secrets = sorted(p for p in (d / "clients").glob("*.key_secret") if name is None or p.stem == name)
    if not server.exists():
        raise ValueError(f"{path}: router.curve_keys: {server} is missing (the server's public key)")
    if len(secrets) != 1:
        which = f"client {name!r}" if name else "exactly one client (or set router.curve_client)"
        raise ValueError(f"{path}: router.curve_keys: need the secret key of {which} in {d / 'clients'}, "
                         f"found {len(secrets)}")
    public, secret = _load_key(path, secrets[0])
    server_public, _ = _load_key(path, server)
    if secret is None:
        raise ValueError(f"{path}: router.curve_keys: {secrets[0]} holds no secret key")
    router["curve"] = (public, secret, server_public)


def _check_ipc(path: str, adapter: dict, argv: list[str] | None = None) -> None:
    """``adapter.ipc``: an ``ipc://`` path the bridge can bind, in a folder that exists and is writable by the user
    the bridge runs as (``argv``: Kamailio's command line, read from /proc when None)."""
    address = adapter.get("ipc")
    if not isinstance(address, str) or not _ipc_ok(address):
        raise ValueError(f"{path}: adapter.ipc (the workers' ipc:// address for the bridge) is required, "
                         f"ipc://PATH with PATH at most {MAX_IPC_PATH} bytes")
    if address.startswith("ipc://@"):
        return                          # Linux abstract namespace: no file
    folder = os.path.dirname(address[6:]) or "."
    if not os.path.isdir(folder):
        raise ValueError(f"{path}: adapter.ipc: folder {folder} does not exist (create it, or choose another path)")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{path}: adapter.ipc: folder {folder} is not writable by uid {os.geteuid()}, "
                         "the user Kamailio runs as")
    user = _runs_as(argv)
    if user is not None and not _usable_by(folder, user[1], user[2]):
        raise ValueError(f"{path}: adapter.ipc: folder {folder} is not writable by user {user[0]} (uid {user[1]}), "
                         "whom Kamailio's -u makes the bridge run as")


#: Kamailio's short options that take a value (its getopt string), to find -u and -g on its command line
_ARG_OPTS = "fmMblLnNWwtugPGQOaAxXY"


def _kamailio_argv() -> list[str]:
    try:
        with open("/proc/self/cmdline", "rb") as fh:
            return [a.decode("utf-8", "surrogateescape") for a in fh.read().split(b"\0") if a]
    except OSError:
        return []


def _runs_as(argv: list[str] | None = None) -> tuple[str, int, list[int]] | None:
    """(name, uid, groups) of the user Kamailio's ``-u``/``-g`` make its processes run as, when Kamailio starts as
    root: it reads this file (module init) before it drops to that user, so a check as root passes a folder the
    bridge then cannot bind. None: not root, no ``-u``, or a user this system does not know (Kamailio refuses
    that itself)."""
    if os.geteuid() != 0:
        return None
    argv = _kamailio_argv() if argv is None else argv
    found: dict[str, str] = {}
    i = 1
    while i < len(argv):
        arg, i = argv[i], i + 1
        if not arg.startswith("-") or arg.startswith("--"):
            continue
        for k, ch in enumerate(arg[1:], start=2):
            if ch in _ARG_OPTS:     # its value: the rest of this word, or the next word
                value = arg[k:] if k < len(arg) else (argv[i] if i < len(argv) else "")
                i += 0 if k < len(arg) else 1
                found[ch] = value
                break
    try:
        u = found.get("u")
        pw = (pwd.getpwuid(int(u)) if u.isdigit() else pwd.getpwnam(u)) if u else None
        g = found.get("g")
        gid = (int(g) if g.isdigit() else grp.getgrnam(g).gr_gid) if g else pw.pw_gid if pw else None
    except (KeyError, ValueError):
        return None
    if pw is None:
        return None
    return pw.pw_name, pw.pw_uid, os.getgrouplist(pw.pw_name, gid)


def _allows(st: os.stat_result, uid: int, gids: list[int], user: int, group: int, other: int) -> bool:
    bits = user if st.st_uid == uid else group if st.st_gid in gids else other
    return st.st_mode & bits == bits


def _usable_by(folder: str, uid: int, gids: list[int]) -> bool:
    """Whether ``uid`` (in ``gids``) may create a socket in ``folder`` by the mode bits (ACLs not read): write and
    search there, search in every folder above."""
    if uid == 0:
        return True
    real = os.path.realpath(folder)
    if not _allows(os.stat(real), uid, gids, stat.S_IWUSR | stat.S_IXUSR, stat.S_IWGRP | stat.S_IXGRP,
                   stat.S_IWOTH | stat.S_IXOTH):
        return False
    while real != os.path.dirname(real):
        real = os.path.dirname(real)
        if not _allows(os.stat(real), uid, gids, stat.S_IXUSR, stat.S_IXGRP, stat.S_IXOTH):
            return False
    return True


def _numbers(path: str, section: str, table: dict, limits: dict, what: str) -> None:
    """Each key of ``limits`` (key -> (default, lowest, highest)) in ``table``: filled in with its default, or a
    number within its bounds (not a bool, not NaN)."""
    for key, (default, lo, hi) in limits.items():
        value = table.setdefault(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
            raise ValueError(f"{path}: {section}.{key} must be {what} {lo}..{hi}, got {_show(value)}")


def _tables(path: str, cfg: dict) -> None:
    """Every top-level entry is one of :data:`SECTIONS` and a table; no unknown key in [router] or [adapter]."""
    for key in cfg:
        if key not in SECTIONS:
            raise ValueError(f"{path}: unknown table or key {_key(key)} (known: "
                             + ", ".join(f"[{s}]" for s in SECTIONS) + ")")
    for section in SECTIONS:
        table = cfg.setdefault(section, {})
        if not isinstance(table, dict):
            raise ValueError(f"{path}: [{section}] must be a table, got {_show(table)}")
        unknown = [k for k in table if k not in KNOWN[section]] if section in KNOWN else []
        if unknown:
            raise ValueError(f"{path}: unknown key {section}.{_key(unknown[0])} "
                             f"(known: {', '.join(KNOWN[section])})")


def load_config(path: str, argv: list[str] | None = None) -> dict:
    """Read and check the adapter's TOML; fill the defaults. ``argv``: Kamailio's command line (its ``-u``/``-g``;
    read from /proc when None)."""
    try:
        text = read_regular(path, MAX_CONFIG_BYTES).decode("utf-8")
        cfg = tomllib.loads(text)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from None
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    _tables(path, cfg)
    router, adapter = cfg["router"], cfg["adapter"]
    for key in ("commands", "events"):
        if not isinstance(router.get(key), str):
            raise ValueError(f"{path}: router.{key} (a ZeroMQ address) is required")
        if not _address_ok(router[key]):
            raise ValueError(f"{path}: router.{key} must be tcp://HOST:PORT (PORT 1-65535) or ipc://PATH, "
                             f"got {_show(router[key])}")
    _numbers(path, "router", router, TIMINGS, "a number")
    _check_curve(path, router)
    _check_ipc(path, adapter, argv)
    name = adapter.setdefault("name", "kamailio")
    if not isinstance(name, str) or not 1 <= len(name.encode("utf-8", "surrogatepass")) <= MAX_NAME_BYTES:
        size = f"{len(name.encode('utf-8', 'surrogatepass')):,} bytes" if isinstance(name, str) else _show(name)
        raise ValueError(f"{path}: adapter.name must be a string of 1..{MAX_NAME_BYTES} bytes (it is carried in "
                         f"every call's context, which the server limits), got {size}")
    if not isinstance(adapter.setdefault("queue_equals_user", True), bool):
        raise ValueError(f"{path}: adapter.queue_equals_user must be true or false")
    _numbers(path, "adapter", adapter, ADAPTER_TIMINGS, "a number of seconds")
    for section in ("queues", "agents"):
        for k, v in cfg[section].items():
            if not isinstance(v, str) or not v:
                raise ValueError(f"{path}: {section}.{_key(k)} must be a non-empty string")
    for k, uri in cfg["agents"].items():
        m = _SIP_URI.match(uri)
        if m is None or (m.group(1) is not None and not 1 <= int(m.group(1)) <= 65535):
            raise ValueError(f"{path}: agents.{_key(k)} must be a sip: or sips: URI such as "
                             f"\"sip:a1@192.0.2.21:5060\", got {_show(uri)}")
    return cfg


def _digits(text: str) -> bool:
    """ASCII digits only (``str.isdigit`` also takes '²' and Arabic-Indic digits)."""
    return text.isascii() and text.isdigit()


def parse_priority(text: str) -> int:
    """``X-Busyhour-Priority: 5`` -> 5 (an integer 0..1,000,000, ASCII digits)."""
    value = text.strip()
    if not _digits(value) or len(value) > 16 or int(value) > MAX_PRIORITY:
        raise ValueError(f"X-Busyhour-Priority must be an integer 0..1000000, got {_show(value)}")
    return int(value)


def parse_agent(text: str) -> str:
    """``X-Busyhour-Agent: a7`` -> ``"a7"`` (non-empty, ≤ 128 bytes)."""
    value = text.strip()
    if not value or len(value.encode("utf-8", "surrogatepass")) > 128:
        raise ValueError("X-Busyhour-Agent must be an agent id of 1..128 bytes")
    return value


def parse_skills(text: str) -> dict:
    """``X-Busyhour-Skills: es=2, billing=4`` -> ``{"es": 2, "billing": 4}`` (levels 1-5, ≤ 64 entries,
    ≤ 1024 bytes of UTF-8)."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_HEADER_BYTES:
        raise ValueError(f"X-Busyhour-Skills longer than {MAX_HEADER_BYTES} bytes")
    out = {}
    for part in text.split(","):
        name, sep, level = part.strip().partition("=")
        level = level.strip()
        if not sep or not name.strip() or not _digits(level) or len(level) > 3 or not 1 <= int(level) <= 5:
            raise ValueError(f"X-Busyhour-Skills: bad skill {_show(part.strip())} (want name=1..5)")
        out[name.strip()] = int(level)
    if len(out) > MAX_SKILLS:
        raise ValueError(f"X-Busyhour-Skills: more than {MAX_SKILLS} skills")
    return out
