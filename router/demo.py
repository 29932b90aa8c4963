"""A scripted busy half-hour through the routing engine (``busyhour demo --router``).

Three queues, 20 agents with language and product skills, ~400 calls with
random talk times, answer delays and caller patience, all drawn from a
seeded ``numpy.random.Generator`` here, outside the engine. The script is a
minimal driver of the peek/step contract: it sleeps until the earlier of its
own next action and ``router.next_deadline()``, then acts. It prints what
happened per queue from ``router.stats()``.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from .codes import CallState, EventKind
from .fast import Router
from .errors import OfferError, RouterError

CONFIG = {
    "skills": ["english", "spanish", "billing", "tech"],
    "interval_s": 1800.0,
    "queues": [
        {"name": "sales", "strategy": "longest-idle-agent", "skills": {"english": 1}, "groups": ["sales"],
         "wrap_up_s": 10.0, "ring_timeout_s": 12.0, "max_wait_s": 240.0, "overflow": "support"},
        {"name": "support", "strategy": "most-skilled-first", "skills": {"tech": 1}, "groups": ["support"],
         "wrap_up_s": 20.0, "ring_timeout_s": 12.0,
         "escalation": [{"after_s": 60.0, "min_level_drop": 2}, {"after_s": 120.0, "add_groups": ["sales"]}]},
        {"name": "spanish", "strategy": "round-robin", "skills": {"spanish": 2}, "groups": ["spanish"],
         "wrap_up_s": 20.0, "ring_timeout_s": 12.0, "max_wait_no_agents_s": 0.0},
    ],
    "agents": (
        [{"id": f"s{i:02d}", "skills": {"english": 4, "billing": 2 + i % 3}, "groups": ["sales"]} for i in range(8)]
        + [{"id": f"t{i:02d}", "skills": {"english": 3, "tech": 1 + i % 5}, "groups": ["support"]} for i in range(8)]
        + [{"id": f"e{i:02d}", "skills": {"spanish": 5, "english": 2}, "groups": ["spanish"]} for i in range(4)]
    ),
}

# (queue, calls per half-hour, mean talk s, mean patience s)
TRAFFIC = [("sales", 125, 90.0, 120.0), ("support", 95, 110.0, 150.0), ("spanish", 45, 100.0, 150.0)]


def run(seed: int = 7, horizon_s: float = 1800.0) -> Router:
    """Drive the half-hour; return the router (for its stats)."""
    rng = np.random.default_rng(seed)
    router = Router.from_config(CONFIG)
    actions: list[tuple] = []  # (time, seq, kind, call or agent, extra)
    seq = 0

    def later(t: float, kind: str, who, extra=None) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(actions, (t, seq, kind, who, extra))

    for a in CONFIG["agents"]:
        later(float(rng.uniform(0, 30)), "login", a["id"])
    for queue, n, talk_s, patience_s in TRAFFIC:
        for k, t in enumerate(np.sort(rng.uniform(0, horizon_s, n))):
            cid = f"{queue}-{k:03d}"
            later(float(t), "arrive", cid, (queue, float(rng.exponential(talk_s)), float(rng.exponential(patience_s))))
    talk: dict[str, float] = {}
    while actions or math.isfinite(router.next_deadline()):
        t_next = actions[0][0] if actions else math.inf
        if router.next_deadline() < t_next:
            events = router.advance(router.next_deadline())
        else:
            t, _, kind, who, extra = heapq.heappop(actions)
            if kind == "login":
                events = router.agent_login(t, who, ready=True)
            elif kind == "arrive":
                queue, talk[who], patience = extra
                events = router.call_arrive(t, who, queue, skills={"billing": 2} if who.endswith("7") else None)
                later(t + patience, "patience", who)
            elif kind == "accept":
                events = _try(router.offer_accept, t, who, extra)
            elif kind == "patience":
                events = router.call_abandon(t, who) if _still_waiting(router, who) else []
            else:  # hang-up
                events = router.call_release(t, who)
        for e in events:
            if e.kind == EventKind.CALL_OFFERED:
                later(e.time_s + float(rng.uniform(1.0, 5.0)), "accept", e.call_id, e.agent_id)
            elif e.kind == EventKind.CALL_CONNECTED:
                later(e.time_s + talk[e.call_id], "hangup", e.call_id)
    return router


def _try(op, *args):
    try:
        return op(*args)
    except OfferError:  # the offer expired or the caller left meanwhile: nothing to do
        return []


def _still_waiting(router: Router, call_id) -> bool:
    try:
        return router.call_state(call_id) in (CallState.WAITING, CallState.OFFERED)
    except RouterError:  # already ended
        return False


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    router = run()
    stats = router.stats()
    table = Table(title="busyhour router demo — one busy half-hour, 20 agents")
    for col in ("queue", "offered", "answered", "abandoned", "exited", "service level (20 s)", "ASA s", "AHT s"):
        table.add_column(col, justify="right")
    for iv in stats.intervals:
        table.add_row(iv.queue, str(iv.offered), str(iv.answered), str(iv.abandoned), str(iv.exited),
                      f"{iv.service_level:.1%}", f"{iv.asa_s:.1f}", f"{iv.aht_s:.0f}")
    console = Console()
    console.print(table)
    half_hour = stats.agent_intervals[0]
    console.print(f"agent occupancy in the half-hour: {half_hour.occupancy:.1%}; "
                  f"calls still in the system: {router.counts[0] - router.counts[1]}")
