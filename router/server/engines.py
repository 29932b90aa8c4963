"""The server's engines: one interface over the Python engine and the compiled core.

The host (host.py) applies a wake-up's requests through :meth:`apply` and
answers queries through the views; events come back as the protocol's wire
rows (``replies.event_row``); :func:`make_engine` picks the engine.
``compiled`` runs the engine, the compiled core (server/compiled.py), one
core run per wake-up; ``auto`` is ``compiled``. ``python`` runs the
reference engine, :class:`~busyhour.router.ReferenceRouter`, one call per
request: the specification, for checking the engine against over the wire
and for replaying journals written by it — not for production. Both give the
same events, errors and views for the same requests, per-call skills and
channels included (tests/server/test_engines.py).
"""

from __future__ import annotations

from typing import Any, Callable, Hashable

from .. import views
from ..config import RouterConfig
from ..engine import ReferenceRouter
from ..errors import ConfigError, RouterError
from ..events import Event
from ..membership import MEMBER_SETTINGS
from ..queue_plans import live_names
from ..stats import Position
from .replies import event_row

ENGINES = ("auto", "compiled", "python")

_APPLY: dict[str, Callable[[ReferenceRouter, float, dict], list[Event]]] = {
    "arrive": lambda r, t, f: r.call_arrive(
        t, f["call"], f["queue"], priority=f.get("priority", 0), skills=f.get("skills"),
        channel=f.get("channel", "voice"), preferred_agent=f.get("preferred_agent"),
        preferred_fallback_s=f.get("preferred_fallback_s"), context=f.get("context"), max_wait_s=f.get("max_wait_s")),
    "accept": lambda r, t, f: r.offer_accept(t, f["call"], f["agent"]),
    "reject": lambda r, t, f: r.offer_reject(t, f["call"], f["agent"], busy=f.get("busy", False)),
    "release": lambda r, t, f: r.call_release(t, f["call"], wrap_up_s=f.get("wrap_up_s")),
    "abandon": lambda r, t, f: r.call_abandon(t, f["call"]),
    "transfer": lambda r, t, f: r.transfer(t, f["call"], queue=f.get("queue"), agent=f.get("agent"),
                                           context=f.get("context")),
    "callback": lambda r, t, f: r.request_callback(t, f["call"], f["number"]),
    "login": lambda r, t, f: r.agent_login(t, f["agent"], ready=f.get("ready", False)),
    "logout": lambda r, t, f: r.agent_logout(t, f["agent"]),
    "ready": lambda r, t, f: r.agent_ready(t, f["agent"]),
    "not_ready": lambda r, t, f: r.agent_not_ready(t, f["agent"], f.get("reason", "break")),
    "priority": lambda r, t, f: r.change_priority(t, f["call"], f["priority"]),
    "pause": lambda r, t, f: r.member_pause(t, f["agent"], f["queue"], f.get("reason", "paused")),
    "unpause": lambda r, t, f: r.member_unpause(t, f["agent"], f["queue"]),
    "member_add": lambda r, t, f: r.member_add(t, f["agent"], f["queue"], **member_settings(f)),
    "member_remove": lambda r, t, f: r.member_remove(t, f["agent"], f["queue"]),
    "member_update": lambda r, t, f: r.member_update(t, f["agent"], f["queue"], **member_settings(f)),
    "move": lambda r, t, f: r.call_move(t, f["call"], f["queue"]),
    "agent_add": lambda r, t, f: r.agent_add(t, agent_table(f)),
    "agent_remove": lambda r, t, f: r.agent_remove(t, f["agent"]),
    "queue_update": lambda r, t, f: r.queue_update(t, f["queue"], **{k: v for k, v in f.items() if k != "queue"}),
    "queue_add": lambda r, t, f: r.queue_add(t, f["queue"]),
    "queue_remove": lambda r, t, f: r.queue_remove(t, f["queue"], to=f.get("to")),
}


def agent_table(f: dict) -> dict:
    """An ``agent_add`` request as the agent table of a configuration file."""
    return {"id": f["agent"], **{k: v for k, v in f.items() if k != "agent"}}


def member_settings(f: dict) -> dict:
    """The member settings a ``member_add`` / ``member_update`` request gives."""
    return {k: f[k] for k in MEMBER_SETTINGS if k in f}


class PythonEngine:
    """:class:`ReferenceRouter` behind the engine interface: one call per request."""

    kind = "python"

    def __init__(self, config: RouterConfig, router: ReferenceRouter | None = None):
        self.router = router if router is not None else ReferenceRouter(config)

    @property
    def queue_names(self) -> list[str]:
        """The name of every queue row, removed queues' included (rows are not positions)."""
        return [q.name for q in self.router.config.queues]

    def running_queues(self) -> list[str]:
        """The queues this engine runs (removed ones left out), in row order: those :meth:`queue_view` answers."""
        return live_names(self.router.config)

    @property
    def config(self) -> RouterConfig:
        """The configuration as it is now (run-time changes included)."""
        return self.router.config

    @property
    def now(self) -> float:
        return self.router.now

    @property
    def counts(self) -> tuple[int, int]:
        return self.router.counts

    def next_deadline(self) -> float:
        return self.router.next_deadline()

    def advance(self, now: float) -> list[tuple]:
        return [event_row(e) for e in self.router.advance(now)]

    def apply(self, now: float, cmds: list[tuple[str, dict]]) -> list[tuple[list[tuple], RouterError | None]]:
        out: list[tuple[list[tuple], RouterError | None]] = []
        r = self.router
        for op, f in cmds:
            try:
                out.append(([event_row(e) for e in _APPLY[op](r, now, f)], None))
            except RouterError as exc:
                out.append(([], exc))
        return out

    def reload(self, now: float, config: RouterConfig) -> list[tuple]:
        """The router's ``reload`` (RouterError, nothing changed, when refused)."""
        return [event_row(e) for e in self.router.reload(now, config)]

    def agent_rows(self) -> tuple[dict, list]:
        """(agent id -> row, the id of every row): removed agents keep their rows, so rows are not positions."""
        return self.router._agents.index, self.router._agents.ids

    def call_view(self, call: Hashable) -> views.CallView:
        return views.call_view(self.router, call)

    def live_calls(self) -> list[views.CallView]:
        return views.live_calls(self.router)

    def agent_view(self, agent: Hashable) -> views.AgentView:
        return views.agent_view(self.router, agent)

    def all_agents(self) -> list[views.AgentView]:
        return views.all_agents(self.router)

    def displays(self) -> list[str]:
        return list(self.router._agents.display)

    def queue_view(self, name: str) -> views.QueueView:
        return views.queue_view(self.router, name)

    def position(self, call: Hashable) -> Position:
        return self.router.position(call)

    def stats(self) -> Any:
        return self.router.stats()


def resolve(config: RouterConfig, engine: str) -> str:
    """The engine ``engine`` ("auto", "compiled" or "python") means for ``config``: "auto" is "compiled",
    which runs every configuration."""
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    return "compiled" if engine == "auto" else engine


def make_engine(config: RouterConfig, engine: str = "auto"):
    """A fresh engine of kind :func:`resolve` (config, engine)."""
    if resolve(config, engine) == "compiled":
        from .compiled import CompiledEngine

        return CompiledEngine(config)
    return PythonEngine(config)


def warm_up(engine, log) -> float:
    """Make ``engine``'s compiled code ready in this process (compiled now, or loaded from numba's disk cache),
    say so on ``log`` when it was compiled, and return the seconds it took (0 for the Python engine). The server
    calls it before its ready line: from an empty cache the compile takes tens of seconds, which a first
    request would otherwise wait for, past its client's timeout."""
    if engine.kind != "compiled":
        return 0.0
    from busyhour.router.core_compile import (
        ROUTER_COMPILE_S, compile_notice, router_dispatchers, warm_up_router, will_compile,
    )

    fresh = will_compile(router_dispatchers())
    if fresh:  # its engine's Router is made quiet (CompiledEngine): the wait is said here, after the bind
        compile_notice("the routing core", router_dispatchers(), ROUTER_COMPILE_S)
    secs = warm_up_router()
    if fresh:
        log.info("routing core compiled in %.1f s (numba's cache keeps it for later starts)", secs)
    return secs
