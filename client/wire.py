"""What the blocking and the asyncio clients share: identity, framing, back-off, the op table (sockets: sockets.py).

Nothing here blocks. ``Operations`` holds one method per protocol operation;
each calls ``self._op(op, post, fields)``, which the blocking client
implements as a blocking call and the asyncio client as a coroutine, so the
same method returns a value in one and an awaitable in the other.
"""

from __future__ import annotations

import os
import random
import re
import socket
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from busyhour.files import FileTooLarge, NotRegularFile, path_problem, read_limited

from .framing import MAX_FRAME_LIMIT, MIN_FRAME_BYTES
from .records import EventsPage, Ping, ProtocolMismatch, QueueChanges, ReloadResult, Reply, events_from_wire
from .sockets import command_socket, load_curve

DEFAULT_COMMANDS = "tcp://127.0.0.1:5570"
MAX_IDENTITY_BYTES = 255
MAX_TIMEOUT_S = 3600.0
MAX_RETRIES = 1000
BACKOFF_BASE_S = 0.05
BACKOFF_CAP_S = 1.0
MAX_CONFIG_BYTES = 16 << 20  # a reload's configuration (docs/protocol.md, Limits)

def default_identity() -> bytes:
    """``<hostname>-<pid>-<random>``: unique per client process, stable across its reconnects."""
    host = socket.gethostname().encode("utf-8", "replace")[:200].decode("utf-8", "ignore").encode() or b"client"
    return host + f"-{os.getpid()}-{random.SystemRandom().getrandbits(32):08x}".encode()


def routing_id(identity: str | bytes | None) -> bytes:
    """The ZeroMQ routing id for ``identity`` (1–255 bytes, not starting with a zero byte)."""
    if identity is None:
        return default_identity()
    rid = identity.encode("utf-8") if isinstance(identity, str) else bytes(identity)
    if not 1 <= len(rid) <= MAX_IDENTITY_BYTES:
        raise ValueError(f"identity must be 1–{MAX_IDENTITY_BYTES} bytes, got {len(rid)}")
    if rid[0] == 0:
        raise ValueError("identity must not start with a zero byte (ZeroMQ reserves those)")
    try:
        rid.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"identity must be UTF-8 text (it is also sent as the request field 'client'), "
                         f"got {rid[:40]!r}") from None
    return rid


def check_settings(timeout_s: float, retries: int) -> None:
    if not (isinstance(timeout_s, (int, float)) and 0 < timeout_s <= MAX_TIMEOUT_S):
        raise ValueError(f"timeout_s must be in (0, {MAX_TIMEOUT_S:g}] seconds, got {timeout_s!r}")
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= MAX_RETRIES:
        raise ValueError(f"retries must be an integer in 0–{MAX_RETRIES}, got {retries!r}")


_ADDRESS = re.compile(r"^tcp://(\[[^\]]+\]|[^:/\[\]]+):(\d{1,5})$")


def check_address(name: str, address: Any) -> str:
    """``address`` if it is one a client can connect to: ``tcp://HOST:PORT`` (PORT 1–65535; ZeroMQ would take
    a larger number modulo 65,536, a different port), ``ipc://PATH`` or ``inproc://NAME``; else ValueError."""
    if isinstance(address, str):
        if address.startswith(("ipc://", "inproc://")) and address.split("://", 1)[1]:
            return address
        m = _ADDRESS.match(address)
        if m and 1 <= int(m.group(2)) <= 65535:
            return address
        if m:
            raise ValueError(f"{name} {address!r}: port {int(m.group(2))} is outside 1–65535")
    raise ValueError(f"{name} must be an address like tcp://127.0.0.1:5570 or ipc:///run/busyhour.sock, "
                     f"got {address!r}")


def backoff_s(attempt: int) -> float:
    """Pause before reconnect number ``attempt`` (1, 2, …): 50 ms doubling, capped at 1 s, with ±20 % jitter."""
    base = min(BACKOFF_CAP_S, BACKOFF_BASE_S * (2 ** min(attempt - 1, 16)))
    return base * random.uniform(0.8, 1.2)


# ----------------------------------------------------------------- results
def _reply(op: str, reply: Reply) -> Reply:
    return reply


def _result(op: str, reply: Reply) -> Any:
    return reply.result


def _ping(op: str, reply: Reply) -> Ping:
    r = reply.result
    if not isinstance(r, dict):
        raise ProtocolMismatch(f"ping: result must be a map, got {type(r).__name__}")
    return Ping(float(r.get("time_s", 0.0)), float(r.get("epoch_unix_s", 0.0)), int(r.get("seq", 0)), r.get("boot"))


def _page(op: str, reply: Reply) -> EventsPage:
    r = reply.result
    if not isinstance(r, dict):
        raise ProtocolMismatch(f"events_since: result must be a map, got {type(r).__name__}")
    return EventsPage(events_from_wire(r.get("events")), int(r.get("last_seq", 0)), bool(r.get("more", False)))


def _reload(op: str, reply: Reply) -> ReloadResult:
    r = reply.result
    try:
        queues = tuple(QueueChanges(str(q["queue"]), tuple(q["settings"]), tuple(q["members_added"]),
                                    tuple(q["members_updated"]), tuple(q["members_removed"])) for q in r["queues"])
        return ReloadResult(str(r["config_sha256"]), bool(r["changed"]), tuple(r["agents_added"]), queues,
                            reply.events, tuple(r.get("queues_added", ())), tuple(r.get("queues_removed", ())),
                            tuple(r.get("agents_removed", ())))
    except (TypeError, KeyError) as exc:
        raise ProtocolMismatch(f"reload: result is not a reload summary ({type(exc).__name__}: {exc})") from None


def read_config(path: str | os.PathLike[str]) -> str:
    """The text of a configuration file for ``reload``: ValueError (naming the file) when it is missing, not a
    regular file (a pipe is never waited on), over 16 MiB, unreadable or not UTF-8."""
    p = Path(path)
    try:
        return read_limited(p, MAX_CONFIG_BYTES).decode("utf-8")
    except FileTooLarge as exc:  # (also when it grew as it was read)
        raise ValueError(f"{p}: {exc.size:,} bytes, over the {MAX_CONFIG_BYTES:,}-byte limit of a reload") from None
    except (FileNotFoundError, NotRegularFile) as exc:  # what serve says of the same paths
        raise ValueError(f"{p}: {path_problem(exc, 'is a folder')}; give the configuration file (TOML)") from None
    except OSError as exc:
        raise ValueError(f"{p}: {path_problem(exc)}") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{p}: not UTF-8 text (byte {exc.start})") from None


Post = Callable[[str, Reply], Any]


def _opt(**kw: Any) -> dict[str, Any]:
    return {k: v for k, v in kw.items() if v is not None}


class Operations:
    """One method per protocol operation; an error reply raises :class:`RouterRequestError`.

    Engine operations return the :class:`Reply` (``reply.events``: the events
    the request caused); ``ping`` a :class:`Ping`, ``events_since`` an
    :class:`EventsPage`, the other queries the result map. In :class:`AsyncRouterClient` each returns an awaitable."""

    def _settings(self, commands: str, events: str | None, identity: str | bytes | None, timeout_s: float,
                  retries: int, curve: Any, curve_client: str | None, max_frame_bytes: int) -> None:
        """Check and keep the settings both clients share (their ``__init__`` arguments)."""
        check_settings(timeout_s, retries)
        if isinstance(max_frame_bytes, bool) or not isinstance(max_frame_bytes, int) or not (
                MIN_FRAME_BYTES <= max_frame_bytes <= MAX_FRAME_LIMIT):
            raise ValueError(f"max_frame_bytes must be an integer in {MIN_FRAME_BYTES:,}–{MAX_FRAME_LIMIT:,} (the "
                             f"server's --max-frame-bytes), got {max_frame_bytes!r}")
        self.max_frame_bytes = max_frame_bytes
        self.commands = check_address("commands", commands)
        self.events_address = None if events is None else check_address("events", events)
        self.identity = routing_id(identity)
        self.client_name = self.identity.decode("utf-8")  # the requests' `client`: the routing id as text
        self.timeout_s = float(timeout_s)
        self.retries = retries
        self.curve = load_curve(curve, curve_client)
        self.reconnects = 0  # retry rounds: timeouts after which the unanswered frames were resent (same socket)
        self.resends = 0
        self._next_id = time.time_ns()  # ids never repeat across restarts of a client with a stable identity

    def _connect(self) -> Any:
        """The client's one command socket (sockets.py: why a retry never replaces it), connected."""
        sock, self._handshake = command_socket(self._ctx, self.commands, self.identity, self.curve, self.timeout_s)
        return sock

    def _unavailable_message(self) -> str:
        """Why the client gives up (sockets.HandshakeWatch.why_unanswered)."""
        head = f"no reply from {self.commands} after {self.retries} retries ({self.timeout_s:g} s each)"
        return f"{head}{self._handshake.why_unanswered()}"

    def _op(self, op: str, post: Post, fields: dict[str, Any]) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    # engine operations
    def arrive(self, call: Any, queue: str, **kw: Any) -> Any:
        return self._op("arrive", _reply, {"call": call, "queue": queue, **kw})

    def accept(self, call: Any, agent: Any) -> Any:
        return self._op("accept", _reply, {"call": call, "agent": agent})

    def reject(self, call: Any, agent: Any, *, busy: bool | None = None) -> Any:
        return self._op("reject", _reply, {"call": call, "agent": agent, **_opt(busy=busy)})

    def release(self, call: Any, *, wrap_up_s: float | None = None) -> Any:
        return self._op("release", _reply, {"call": call, **_opt(wrap_up_s=wrap_up_s)})

    def abandon(self, call: Any) -> Any:
        return self._op("abandon", _reply, {"call": call})

    def transfer(self, call: Any, *, queue: str | None = None, agent: Any = None,
                 context: dict | None = None) -> Any:
        return self._op("transfer", _reply, {"call": call, **_opt(queue=queue, agent=agent, context=context)})

    def callback(self, call: Any, number: str) -> Any:
        return self._op("callback", _reply, {"call": call, "number": number})

    def login(self, agent: Any, *, ready: bool | None = None) -> Any:
        return self._op("login", _reply, {"agent": agent, **_opt(ready=ready)})

    def logout(self, agent: Any) -> Any:
        return self._op("logout", _reply, {"agent": agent})

    def ready(self, agent: Any) -> Any:
        return self._op("ready", _reply, {"agent": agent})

    def not_ready(self, agent: Any, reason: str | None = None) -> Any:
        return self._op("not_ready", _reply, {"agent": agent, **_opt(reason=reason)})

    def priority(self, call: Any, priority: int) -> Any:
        """A waiting or ringing call's new priority (it moves to its place among equals)."""
        return self._op("priority", _reply, {"call": call, "priority": priority})

    def pause(self, agent: Any, queue: str, reason: str | None = None) -> Any:
        """Pause ``agent`` in ``queue`` only (no offers of its calls until :meth:`unpause`)."""
        return self._op("pause", _reply, {"agent": agent, "queue": queue, **_opt(reason=reason)})

    def unpause(self, agent: Any, queue: str) -> Any:
        return self._op("unpause", _reply, {"agent": agent, "queue": queue})

    def member_add(self, agent: Any, queue: str, *, tier: int | None = None, penalty: int | None = None,
                   position: int | None = None, weight: float | None = None) -> Any:
        """Make ``agent`` a member of ``queue`` (settings not given: the engine's defaults)."""
        return self._op("member_add", _reply, {"agent": agent, "queue": queue, **_opt(
            tier=tier, penalty=penalty, position=position, weight=weight)})

    def agent_add(self, agent: Any, *, skills: dict | None = None, capacity: dict | None = None,
                  **settings: Any) -> Any:
        """Add an agent (logged out, in no queue); ``settings``: its own wrap_up_s, delays, max_no_answer."""
        return self._op("agent_add", _reply, {"agent": agent, **_opt(skills=skills, capacity=capacity, **settings)})

    def agent_remove(self, agent: Any) -> Any:
        """Remove a logged-out agent: it leaves its queues; its id is free again."""
        return self._op("agent_remove", _reply, {"agent": agent})

    def queue_add(self, queue: dict[str, Any]) -> Any:
        """Add a queue while calls go on: ``queue`` is a table as in the configuration file (``name``,
        ``strategy``, ``members``, settings, ``escalation``…). ``QUEUE_ADDED``, then ``MEMBER_ADDED`` per member."""
        if not isinstance(queue, dict):
            raise TypeError(f"queue_add takes a queue table (a dict with 'name', …), got {type(queue).__name__}")
        return self._op("queue_add", _reply, {"queue": queue})

    def queue_remove(self, queue: str, to: str | None = None) -> Any:
        """Remove ``queue``: its waiting, then ringing calls move to ``to`` (refused, ``state``, without it while
        it holds any); its members leave it; ``QUEUE_REMOVED``. Its connected calls finish."""
        return self._op("queue_remove", _reply, {"queue": queue, **_opt(to=to)})

    def move(self, call: Any, queue: str) -> Any:
        """Move a waiting or ringing call to ``queue``, keeping its place by arrival and priority."""
        return self._op("move", _reply, {"call": call, "queue": queue})

    def queue_update(self, queue: str, **settings: Any) -> Any:
        """Change ``queue``'s settings (``overflow=None`` / ``max_penalty=None`` remove them)."""
        return self._op("queue_update", _reply, {"queue": queue, **settings})

    def member_remove(self, agent: Any, queue: str) -> Any:
        return self._op("member_remove", _reply, {"agent": agent, "queue": queue})

    def member_update(self, agent: Any, queue: str, *, tier: int | None = None, penalty: int | None = None,
                      position: int | None = None, weight: float | None = None) -> Any:
        """Change a member's settings (those not given stay)."""
        return self._op("member_update", _reply, {"agent": agent, "queue": queue, **_opt(
            tier=tier, penalty=penalty, position=position, weight=weight)})

    def reload(self, config: str) -> Any:
        """Apply a configuration, given as its TOML text, to the running server (docs/routing.md §16): a
        :class:`ReloadResult`. A configuration the server refuses raises :class:`RouterRequestError`
        (``bad_request``, the message naming the problem); nothing changed then."""
        if not isinstance(config, str):
            raise TypeError(f"reload takes the configuration's TOML text (a str), got {type(config).__name__}; "
                            "use reload_file(path) for a file")
        return self._op("reload", _reload, {"config": config})

    def reload_file(self, path: str | os.PathLike[str]) -> Any:
        """:meth:`reload` with the text of the file at ``path`` (read here; ValueError if it cannot be)."""
        return self.reload(read_config(path))

    # queries
    def ping(self) -> Any:
        return self._op("ping", _ping, {})

    def snapshot(self) -> Any:
        return self._op("snapshot", _result, {})

    def events_since(self, seq: int, limit: int | None = None) -> Any:
        return self._op("events_since", _page, {"seq": seq, **_opt(limit=limit)})

    def agent(self, agent: Any) -> Any:
        return self._op("agent", _result, {"agent": agent})

    def call(self, call: Any) -> Any:
        return self._op("call", _result, {"call": call})

    def queue(self, queue: str) -> Any:
        return self._op("queue", _result, {"queue": queue})

    def position(self, call: Any) -> Any:
        return self._op("position", _result, {"call": call})

    def stats(self) -> Any:
        return self._op("stats", _result, {})


def as_pairs(requests: Iterable[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for item in requests:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], dict)):
            raise TypeError("pipeline takes (op, fields) pairs, e.g. ('arrive', {'call': 1, 'queue': 'sales'})")
        out.append(item)
    return out
