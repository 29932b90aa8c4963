"""Small helpers shared by the router scenario tests (not a test module).

Every helper goes through the public API only: ``from_config`` of the engine under test
(:func:`engine`: ``Router``, or ``ReferenceRouter`` under the ``each_engine`` fixture) and the
returned ``Event`` records.
"""

from __future__ import annotations

from busyhour.router import EventKind, Router

ENGINE = [Router]  # the engine class the helpers build (conftest.each_engine switches it)


def engine():
    """The engine class under test."""
    return ENGINE[0]


def config(strategy: str = "longest-idle-agent", agents=("a1", "a2", "a3"), members=None,
           **queue: object) -> dict:
    """One queue ``q`` with ``strategy`` whose members are ``members`` (default: every agent)."""
    agent_list = [a if isinstance(a, dict) else {"id": a} for a in agents]
    ids = [a["id"] for a in agent_list]
    return {"agents": agent_list,
            "queues": [{"name": "q", "strategy": strategy, "members": list(ids if members is None else members),
                        **queue}]}


def router(strategy: str = "longest-idle-agent", agents=("a1", "a2", "a3"), members=None, *,
           ready_at: dict | None = None, seed: int | None = None, **queue: object) -> Router:
    """A router whose agents log in ready at ``ready_at[agent]`` (default: all at 0.0, in order)."""
    cfg = config(strategy, agents, members, **queue)
    if seed is not None:
        cfg["seed"] = seed
    r = engine().from_config(cfg)
    ids = [a["id"] if isinstance(a, dict) else a for a in agents]
    times = ready_at if ready_at is not None else {a: 0.0 for a in ids}
    for a, t in sorted(times.items(), key=lambda kv: kv[1]):
        r.agent_login(t, a, ready=True)
    return r


def of(events, kind: EventKind) -> list:
    return [e for e in events if e.kind == kind]


def offered(events) -> list:
    """Agents offered a call (CALL_OFFERED or CALLBACK_OFFERED), in event order."""
    return [e.agent_id for e in events if e.kind in (EventKind.CALL_OFFERED, EventKind.CALLBACK_OFFERED)]


def offers(events) -> list[tuple]:
    """(time, call, agent) of every offer, in event order."""
    return [(e.time_s, e.call_id, e.agent_id) for e in events
            if e.kind in (EventKind.CALL_OFFERED, EventKind.CALLBACK_OFFERED)]


def ended(events) -> list[tuple]:
    """(time, call, disposition) of every CALL_ENDED."""
    return [(e.time_s, e.call_id, e.detail) for e in of(events, EventKind.CALL_ENDED)]


def states(events, agent) -> list[str]:
    return [e.detail for e in events if e.kind == EventKind.AGENT_STATE and e.agent_id == agent]


def serve(r: Router, t: float, call: str, talk_s: float = 1.0, queue: str = "q", **kw) -> object:
    """Arrive ``call`` at ``t``; the offered agent answers at once and releases after ``talk_s``.

    Returns the agent that handled it.
    """
    ev = r.call_arrive(t, call, queue, **kw)
    agents = offered(ev)
    assert len(agents) == 1, ev
    r.offer_accept(t, call, agents[0])
    r.call_release(t + talk_s, call)
    return agents[0]
