"""Reloading a running server's configuration: the ``reload`` op, SIGHUP, and what a restart then accepts.

Specification
-------------
* **The op.** ``reload`` carries ``config``, the TOML text of a whole
  configuration (at most :data:`~busyhour.router.server.protocol.MAX_CONFIG_BYTES`).
  It is an engine operation like the others (journaled with its text,
  remembered for retries) and is applied alone: the host cuts its batch
  around it (host.py). :func:`apply_reload` parses the text with the loader
  the server starts with (``config.parse_toml``), plans the change against
  the engine's running configuration (``reload_plan.plan_reload``) and has the
  engine apply it (``reload`` of either engine). Bad TOML, a bad
  configuration or a difference that needs a restart raise ``ConfigError``
  before anything changes (``bad_request``). The reply's ``result`` is the
  :class:`ReloadSummary`.
* **The configuration the server runs.** The host keeps the text of the
  configuration last applied (the startup file's, then each successful
  reload's) and its sha256; snapshots carry it. A new journal's header keeps
  the startup text (``config_toml``), so a replay starts from exactly it,
  whatever the file says by then.
* **Restart rule.** After the snapshot and the replay, the file the server is
  started with must be the configuration the journal ran last (same sha256);
  :func:`restart_problem` says what is wrong otherwise. A journal whose header
  has no text (written before reloads were served) is checked as before: the
  file must be the one it started with; its header then takes the file's text.
* **SIGHUP.** The signal handler only sets a flag; at the next wake-up the
  loop reads its ``--config`` file again (:func:`hangup_request`) and applies
  it as a ``reload`` from the client id :data:`HANGUP_CLIENT` with a new
  request id, journaled like any other. Its reply is logged, not sent
  (:func:`log_reply`). A file that cannot be read is logged and changes
  nothing; the server never stops for it.

Cost: a parse and a field-by-field comparison of two configurations
(O(agents + member rows)), then the engine's changes (docs/routing.md §16).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from pathlib import Path
from typing import Any, Hashable, NamedTuple

import msgpack

from ..config import QUEUE_SETTINGS, RouterConfig, parse_toml, read_toml_text
from ..errors import ConfigError
from ..reload_plan import ReloadPlan, plan_reload
from . import protocol as P
from .runtime import ServerError

log = logging.getLogger("busyhour.server")

HANGUP_CLIENT = b"sighup"  #: the client id SIGHUP's reloads are journaled under
HEADER_FORMAT = 2  #: journal header format: 2 keeps the startup configuration's text (``config_toml``)


def text_sha256(text: str) -> str:
    """sha256 of a configuration text's UTF-8 bytes (the bytes of the file it was read from)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class QueueChanges(NamedTuple):
    """What a reload changed in one queue: the settings that took new values, and the members (agent ids)
    added, changed and removed. All empty: only the members' order changed."""

    queue: str
    settings: tuple[str, ...]
    members_added: tuple[Hashable, ...]
    members_updated: tuple[Hashable, ...]
    members_removed: tuple[Hashable, ...]


class ReloadSummary(NamedTuple):
    """What a reload did: the sha256 of the configuration now running, the agents added, the queues added,
    the queues changed, the queues removed and the agents removed (in the order the reload applies them)."""

    config_sha256: str
    agents_added: tuple[Hashable, ...]
    queues: tuple[QueueChanges, ...]
    queues_added: tuple[str, ...] = ()
    queues_removed: tuple[str, ...] = ()
    agents_removed: tuple[Hashable, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.agents_added or self.queues or self.queues_added or self.queues_removed
                    or self.agents_removed)

    def to_wire(self) -> dict[str, Any]:
        """The ``result`` map of a ``reload`` reply (docs/protocol.md)."""
        return {"config_sha256": self.config_sha256, "changed": self.changed, "agents_added": list(self.agents_added),
                "queues_added": list(self.queues_added),
                "queues": [{"queue": q.queue, "settings": list(q.settings), "members_added": list(q.members_added),
                            "members_updated": list(q.members_updated), "members_removed": list(q.members_removed)}
                           for q in self.queues],
                "queues_removed": list(self.queues_removed), "agents_removed": list(self.agents_removed)}

    @classmethod
    def from_wire(cls, r: dict[str, Any]) -> "ReloadSummary":
        """The summary a ``reload`` reply's ``result`` holds."""
        return cls(r["config_sha256"], tuple(r["agents_added"]), tuple(
            QueueChanges(q["queue"], tuple(q["settings"]), tuple(q["members_added"]), tuple(q["members_updated"]),
                         tuple(q["members_removed"])) for q in r["queues"]),
            tuple(r.get("queues_added", ())), tuple(r.get("queues_removed", ())), tuple(r.get("agents_removed", ())))

    def describe(self) -> str:
        """One line for the server's log."""
        if not self.changed:
            return "nothing changed"
        parts = [f"{len(self.agents_added)} agents added"] if self.agents_added else []
        parts += [f"queues added: {', '.join(self.queues_added)}"] if self.queues_added else []
        for q in self.queues:
            what = [f"{n} members {verb}" for n, verb in ((len(q.members_added), "added"), (len(q.members_updated),
                    "changed"), (len(q.members_removed), "removed")) if n]
            what += [f"settings {', '.join(q.settings)}"] if q.settings else []
            parts.append(f"queue {q.queue}: {'; '.join(what) or 'members reordered'}")
        parts += [f"queues removed: {', '.join(self.queues_removed)}"] if self.queues_removed else []
        parts += [f"{len(self.agents_removed)} agents removed"] if self.agents_removed else []
        return "; ".join(parts)


def summarize(before: RouterConfig, plan: ReloadPlan, ids: list, sha: str) -> ReloadSummary:
    """The summary of ``plan``, a reload of ``before`` (its queues in row order, removed ones kept, as the
    engines keep them: a queue change names its row there) on an engine whose agent rows have ``ids``."""
    after = ids + [a.id for a in plan.agents]
    out = []
    for r in plan.queues:
        old = before.queues[r.queue]
        settings = tuple(k for k in QUEUE_SETTINGS if getattr(old, k) != getattr(r.config, k))
        out.append(QueueChanges(old.name, settings, tuple(after[a] for a in r.added),
                                tuple(after[a] for a, _ in r.updated),
                                tuple(after[a] for a, _ in r.removed)))
    return ReloadSummary(sha, tuple(a.id for a in plan.agents), tuple(out), tuple(q.name for _, q in plan.queues_added),
                         tuple(plan.queues_removed), tuple(plan.agents_removed))


def apply_reload(engine: Any, now: float, text: str) -> tuple[list[tuple], ReloadSummary]:
    """Parse ``text``, plan the change against the engine's running configuration and apply it: (its events as
    wire rows, the summary). ``ConfigError`` (nothing changed) for bad TOML, a bad configuration or a
    difference that needs a restart."""
    try:
        new = parse_toml(text, "reload config")
    except ConfigError as exc:  # TOML errors name "reload config" already; the schema's name the key path
        message = str(exc)
        raise ConfigError(message if message.startswith("reload config") else f"reload config: {message}") from None
    except (TypeError, AttributeError) as exc:  # the parser is pure: a value of the wrong kind, nothing changed
        raise ConfigError(f"reload config: a value of the wrong kind ({type(exc).__name__}: {exc})") from None
    before = engine.config
    index, ids = engine.agent_rows()
    plan = plan_reload(before, new, index, len(ids))  # refused here, by name, before the engine is touched
    summary = summarize(before, plan, list(ids), text_sha256(text))
    return engine.reload(now, new), summary


def ok_reply(rid: Any, rows: list[list], summary: ReloadSummary) -> bytes:
    return P.pack({"id": rid, "ok": True, "events": rows, "result": summary.to_wire()})


# ----------------------------------------------------------------- SIGHUP
def hangup_request(path: Path) -> P.Command | None:
    """A ``reload`` of the file at ``path`` under a new request id, or None (logged) if it cannot be read."""
    try:
        text = read_toml_text(path, max_bytes=P.MAX_CONFIG_BYTES)  # the same reading as at start-up
    except ConfigError as exc:  # the message names the file and what is wrong
        log.error("SIGHUP: cannot reload %s; nothing changed", exc)
        return None
    if not text.strip():
        log.error("SIGHUP: cannot reload %s: the file is empty; nothing changed", path)
        return None
    log.info("SIGHUP: reloading %s", path)
    return P.Command("sighup-" + uuid.uuid4().hex, "reload", {"config": text})


def log_reply(frame: bytes) -> None:
    """Log the reply to a SIGHUP's reload: what changed, or why it was refused."""
    reply = msgpack.unpackb(frame, raw=False, strict_map_key=False)
    if reply.get("ok"):
        summary = ReloadSummary.from_wire(reply["result"])
        log.info("SIGHUP: reloaded (sha256 %s…, %d events): %s", summary.config_sha256[:12],
                 len(reply.get("events", [])), summary.describe())
    else:
        err = reply.get("error") or {}
        log.warning("SIGHUP: reload refused (%s): %s; nothing changed", err.get("code"), err.get("message"))


# ----------------------------------------------------------------- restart
class ConfigTrack(NamedTuple):
    """The configuration a host runs: its text (None: unknown), sha256, and the server time of the reload
    that applied it (None: the startup configuration)."""

    text: str | None
    sha256: str | None
    reloaded_s: float | None = None


def restart_problem(journal: Path, file: Path, file_sha: str, initial_sha: str | None, now: ConfigTrack) -> str | None:
    """Why the journal cannot go on with the configuration file ``file`` (sha256 ``file_sha``), or None when
    the file is the configuration the journal ran last (``now``; ``initial_sha``: the one it started with)."""
    if now.sha256 == file_sha:
        return None
    if now.reloaded_s is None:
        return (f"{journal}: this journal was written with another configuration file (sha256 "
                f"{(initial_sha or '?')[:12]}…, not {file} with {file_sha[:12]}…); start with that file, or use a new "
                "journal folder")
    known = (f"it started with sha256 {(initial_sha or '?')[:12]}… and was last reloaded, at server time "
             f"{now.reloaded_s:.3f} s, to sha256 {(now.sha256 or '?')[:12]}…")
    if file_sha == initial_sha:
        return (f"{journal}: {file} is the configuration this journal started with, but a reload changed it since "
                f"({known}); start with the file as last reloaded, or use a new journal folder")
    return (f"{journal}: {file} (sha256 {file_sha[:12]}…) is neither configuration this journal knows ({known}); "
            "start with the file as last reloaded, or use a new journal folder")


class Reloading:
    """What the server loop (loop.Server) does for reloads: the journal header, the restart rule, SIGHUP.
    Mixed into Server (uses its opts, journal, host, config, config_text and config_sha256)."""

    _hangup = False

    def hangup(self, *_args: Any) -> None:
        """The SIGHUP handler: only a flag; the loop reloads at its next wake-up (:meth:`_hangup_works`)."""
        self._hangup = True

    def _hangup_works(self, works: list) -> None:
        from .host import Work

        if not self._hangup:
            return
        self._hangup = False
        cmd = hangup_request(self.opts.config)
        if cmd is not None:
            works.append(Work([], HANGUP_CLIENT, [cmd], False))

    def _new_header(self, epoch: float) -> dict:
        """A new journal's header: the startup configuration's text with it, when it fits."""
        header = {"format": 1, "epoch_unix_s": epoch, "config_sha256": self.config_sha256, "created_unix_s": epoch,
                  "engine": self.host.engine.kind}
        self._keep_text(header)
        return header

    def _keep_text(self, header: dict) -> bool:
        if len(self.config_text.encode("utf-8")) > P.MAX_CONFIG_BYTES:
            self.host.reload_refusal = (f"this server's journal cannot keep a configuration over "
                                        f"{P.MAX_CONFIG_BYTES:,} bytes, so it does not serve reload")
            return False
        header.update(format=HEADER_FORMAT, config_toml=self.config_text)
        return True

    def _open_header(self, header: dict) -> None:
        """Check a journal's header against the startup file and start the host from the configuration the
        journal started with (its text in the header; a header without it: the file, which must be that one)."""
        from .host import Host

        initial, sha = header.get("config_toml"), header.get("config_sha256")
        if not isinstance(initial, str):  # written before reloads were served: the file must be the initial one
            if sha != self.config_sha256:
                self.journal.close()
                raise ServerError(restart_problem(self.opts.journal, self.opts.config, self.config_sha256, sha,
                                                  ConfigTrack(None, sha)))
            upgraded = dict(header)
            if self._keep_text(upgraded):
                self.journal.write_header(upgraded, replace=True)
            return
        if text_sha256(initial) != sha:
            self.journal.close()
            raise ServerError(f"{self.opts.journal}: header.bin is damaged (its configuration text does not match "
                              "its sha256)")
        if sha != self.config_sha256:  # replay starts from the journal's own first configuration
            self.config = parse_toml(initial, f"{self.opts.journal}: the journal's first configuration")
            boot, o = self.host.boot, self.opts
            self.host = Host(self.config, engine=o.engine, idem_capacity=o.idem_capacity,
                             ring_capacity=o.ring_capacity, config_text=initial)
            self.host.boot = boot

    def _check_restart(self, header: dict | None) -> None:
        """After the snapshot and the replay: the file must be the configuration the journal ran last."""
        if header is None:
            return
        problem = restart_problem(self.opts.journal, self.opts.config, self.config_sha256,
                                  header.get("config_sha256"), self.host.config_track)
        if problem is not None:
            self.journal.close()
            raise ServerError(problem)
