"""busyhour's Kamailio ``app_python3`` handler (loaded by kamailio.cfg; see docs/adapters.md).

Runs in Kamailio's embedded Python (Debian ``python3`` + ``python3-zmq`` +
``python3-msgpack``); imports nothing from busyhour. Configuration: the TOML
file named by ``BUSYHOUR_KAMAILIO_CONF`` (default
``/etc/kamailio/busyhour.toml``), read once before Kamailio forks.

Two roles, chosen by process:

* **SIP workers** (``bh_invite``, ``bh_answered``, ``bh_failed``,
  ``bh_cancel``, ``bh_bye``) read the message, suspend/inspect the
  transaction, and push one fact to the bridge over a per-process ZeroMQ PUSH
  socket created lazily after fork. They never wait for the router.
* **The bridge** (``bh_tick`` / ``bh_next``, from the rtimer route) owns the
  router connection (:mod:`bh_bridge`) and hands decisions to the native cfg
  one at a time through ``$var(bh_*)``.

Every entry point catches every exception (logged with ``KSR.err``) and
returns a non-zero int: 1 = done/true, negative = the documented "no" codes.
What a caller sends wrong (bytes that are not UTF-8, a malformed
``X-Busyhour-*`` header) is answered with a 4xx and logged at INFO, at most
:data:`NOTES_PER_WINDOW` lines per :data:`NOTE_WINDOW_S` per process, so a
hostile caller cannot flood the log. When the bridge cannot open its sockets
(e.g. the ``adapter.ipc`` folder went away) it logs once, keeps the router
flag down (callers get 503, ``OPTIONS`` 503) and tries again every
:data:`OPEN_RETRY_S`.
"""

from __future__ import annotations

import os
import sys
import time

import KSR  # provided by app_python3
import msgpack
import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bh_bridge import Bridge  # noqa: E402
from bh_sync import LineLimit  # noqa: E402
from bh_config import load_config, parse_agent, parse_priority, parse_skills  # noqa: E402

#: Return codes of ``bh_invite`` the cfg maps to replies.
NOT_A_QUEUE, ROUTER_DOWN, BAD_HEADER, INTERNAL = -2, -3, -4, -5
#: caller mistakes logged at INFO: at most this many lines per window, per process
NOTES_PER_WINDOW, NOTE_WINDOW_S = 20, 10.0
OPEN_RETRY_S = 1.0      # the bridge's next try after its sockets failed to open
HEADERS = (("X-Busyhour-Priority", "priority", parse_priority), ("X-Busyhour-Skills", "skills", parse_skills),
           ("X-Busyhour-Agent", "preferred_agent", parse_agent))


class NotUtf8(Exception):
    """A message field whose bytes are not UTF-8 (app_python3's ``KSR.pv.get`` raises ``UnicodeDecodeError``)."""


def _get(pv: str, what: str):
    try:
        return KSR.pv.get(pv)
    except UnicodeDecodeError:
        raise NotUtf8(f"{what} is not UTF-8") from None


class Handler:
    """The object app_python3 calls (``python_exec("bh_…")``)."""

    def __init__(self, cfg: dict) -> None:
        self.cfg = cfg
        self.queues = cfg.get("queues", {})
        self.map_all = cfg["adapter"]["queue_equals_user"]
        self.push_pid = 0          # the process that created self.push
        self.bridge_pid = 0        # the process that created self.bridge
        self.push = None
        self.bridge: Bridge | None = None
        self.open_at_s = 0.0       # bridge: when to try opening the sockets again
        self.open_failed = False   # bridge: the last try failed (logged once)
        self.note_limit = LineLimit(NOTES_PER_WINDOW, NOTE_WINDOW_S, "{} more caller errors not logged")

    def child_init(self, rank: int) -> int:
        return 0

    # ------------------------------------------------------------ helpers
    def _push(self, fact: dict) -> bool:
        if self.push_pid != os.getpid():               # first use in this (forked) process
            self.push_pid = os.getpid()
            sock = zmq.Context().socket(zmq.PUSH)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.SNDHWM, 100_000)
            sock.connect(self.cfg["adapter"]["ipc"])
            self.push = sock
        try:
            self.push.send(msgpack.packb(fact), zmq.NOBLOCK)
            return True
        except zmq.Again:
            return False

    @staticmethod
    def _router_up() -> bool:
        return KSR.pv.get("$sht(bh=>up)") == 1

    def _queue_of(self, user: str) -> str | None:
        if user in self.queues:
            return self.queues[user]
        return user if self.map_all and user in self.queues.values() else None

    def _held(self) -> tuple[int, int]:
        return int(KSR.pv.get("$T(id_index)")), int(KSR.pv.get("$T(id_label)"))

    def _note(self, line: str) -> None:
        """Log a caller's mistake at INFO, rate-limited (:data:`NOTES_PER_WINDOW` per :data:`NOTE_WINDOW_S`)."""
        for text in self.note_limit.lines(line, time.monotonic()):
            KSR.info(f"busyhour: {text}\n")

    # ---------------------------------------------------- worker side
    def bh_invite(self, msg, args=None) -> int:
        """A new INVITE (transaction created, 180 sent): suspend it and tell the bridge."""
        try:
            try:
                queue = self._queue_of(_get("$rU", "the dialled number") or "")
            except NotUtf8 as exc:
                self._note(f"{exc}: 404 No Such Queue")
                return NOT_A_QUEUE
            if queue is None:
                return NOT_A_QUEUE
            try:
                call_id = _get("$ci", "Call-ID")
            except NotUtf8 as exc:
                self._note(f"{exc}: 400 Bad Call-ID")
                KSR.tm.t_reply(400, "Bad Call-ID")
                return 1                # answered
            fact = {"k": "arrive", "c": call_id, "q": queue, "cseq": KSR.pv.get("$cs")}
            for header, key, parse in HEADERS:
                try:
                    text = _get(f"$hdr({header})", header)
                    if text is not None:
                        fact[key] = parse(text)
                except (NotUtf8, ValueError) as exc:
                    self._note(f"{exc} (Call-ID {str(call_id)[:80]!r}): 400 Bad X-Busyhour Header")
                    return BAD_HEADER
            if not self._router_up():
                return ROUTER_DOWN
            fact["ti"], fact["tl"] = self._held()
            KSR.tm.t_reply(180, "Ringing")
            if KSR.tmx.t_suspend() < 0:
                return INTERNAL
            if not self._push(fact):
                KSR.err("busyhour: bridge queue full; the caller gets 408 when BH_HOLD_MS runs out\n")
            return 1
        except Exception as exc:  # never raise into Kamailio
            KSR.err(f"busyhour: bh_invite: {exc!r}\n")
            return INTERNAL

    def bh_failed(self, msg, args=None) -> int:
        """failure_route: the agent's branch ended without 2xx; hold the caller again."""
        try:
            code = int(KSR.pv.get("$T_reply_code") or 500)
            fact = {"k": "failed", "c": KSR.pv.get("$ci"), "code": code}
            if KSR.tmx.t_suspend() < 0:
                return INTERNAL
            fact["ti"], fact["tl"] = self._held()
            if not self._push(fact):
                KSR.err("busyhour: bridge queue full; the caller gets 408 when BH_HOLD_MS runs out\n")
            return 1
        except Exception as exc:
            KSR.err(f"busyhour: bh_failed: {exc!r}\n")
            return INTERNAL

    def _fact(self, kind: str) -> int:
        try:
            self._push({"k": kind, "c": _get("$ci", "Call-ID")})
            return 1
        except NotUtf8 as exc:          # not a call of ours: every arrive has a UTF-8 Call-ID
            self._note(f"{kind}: {exc}, ignored")
            return 1
        except Exception as exc:
            KSR.err(f"busyhour: {kind}: {exc!r}\n")
            return INTERNAL

    def bh_answered(self, msg, args=None) -> int:
        return self._fact("answered")

    def bh_cancel(self, msg, args=None) -> int:
        return self._fact("cancel")

    def bh_bye(self, msg, args=None) -> int:
        return self._fact("bye")

    # ----------------------------------------------------- bridge side
    def bh_tick(self, msg, args=None) -> int:
        """rtimer: one round of router I/O; keeps the shared up flag."""
        try:
            now_s = time.monotonic()
            if (self.bridge is None or self.bridge_pid != os.getpid()) and not self._open_bridge(now_s):
                if KSR.pv.get("$sht(bh=>up)") != 0:
                    KSR.pv.seti("$sht(bh=>up)", 0)
                return 1
            self.bridge.tick(now_s)
            if self.bridge.warnings:
                warn = getattr(KSR, "warn", KSR.err)
                for line in self.bridge.warnings:
                    warn(f"busyhour: {line}\n")
                self.bridge.warnings.clear()
            up = 1 if self.bridge.up(now_s) else 0
            if KSR.pv.get("$sht(bh=>up)") != up:
                KSR.pv.seti("$sht(bh=>up)", up)
            return 1
        except Exception as exc:
            KSR.err(f"busyhour: bh_tick: {exc!r}\n")
            return INTERNAL

    def _open_bridge(self, now_s: float) -> bool:
        """Open this process's bridge; on failure close what was opened, log once, try again later."""
        self.bridge_pid, self.bridge = os.getpid(), None
        if now_s < self.open_at_s:
            return False
        bridge = Bridge(self.cfg)
        try:
            bridge.open()                  # on failure it closes what it opened
        except Exception as exc:
            self.open_at_s = now_s + OPEN_RETRY_S
            if not self.open_failed:
                self.open_failed = True
                KSR.err(f"busyhour: the bridge cannot open its sockets ({exc}; adapter.ipc is "
                        f"{self.cfg['adapter']['ipc']}); callers get 503 until it can, trying again every "
                        f"{OPEN_RETRY_S:g} s\n")
            return False
        if self.open_failed:
            self.open_failed = False
            KSR.info("busyhour: the bridge opened its sockets\n")
        self.bridge = bridge
        return True

    def bh_next(self, msg, args=None) -> int:
        """Pop one decision into ``$var(bh_*)``: 1 when there is one, -1 when none."""
        try:
            if self.bridge is None or not self.bridge.actions:
                return -1
            act = self.bridge.actions.popleft()
            KSR.pv.sets("$var(bh_act)", act[0])
            if act[0] == "cancel":
                KSR.pv.sets("$var(bh_cid)", str(act[1]))
                KSR.pv.sets("$var(bh_cseq)", str(act[2]).split()[0])
                return 1
            KSR.pv.seti("$var(bh_ti)", act[1])
            KSR.pv.seti("$var(bh_tl)", act[2])
            if act[0] == "offer":
                KSR.pv.sets("$var(bh_uri)", act[3])
            else:
                KSR.pv.seti("$var(bh_code)", act[3])
                KSR.pv.sets("$var(bh_reason)", act[4])
            return 1
        except Exception as exc:
            KSR.err(f"busyhour: bh_next: {exc!r}\n")
            return INTERNAL


def mod_init() -> Handler | None:
    """Called once by app_python3 before the fork; None (Kamailio does not start) on a bad config file."""
    path = os.environ.get("BUSYHOUR_KAMAILIO_CONF", "/etc/kamailio/busyhour.toml")
    try:
        return Handler(load_config(path))
    except ValueError as exc:
        KSR.err(f"busyhour: {exc}\n")
    except Exception as exc:    # a bug in the checks: still one line, naming the file
        KSR.err(f"busyhour: {path}: {exc!r}\n")
    return None
