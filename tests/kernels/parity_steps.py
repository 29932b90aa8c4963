"""The operation streams the parity tests (test_core_parity*.py) drive both engines with: random
configurations, the generated operations and how one is applied to an engine (:func:`_step`)."""

from __future__ import annotations

import copy
import math
from typing import Callable, NamedTuple

from hypothesis import strategies as st

from busyhour.router import RouterError, parse_config
from busyhour.router.core_build import CORE_STRATEGIES
from busyhour.router.core_layout import (
    OP_ABANDON, OP_ACCEPT, OP_ADVANCE, OP_ARRIVE, OP_CALLBACK, OP_LOGIN, OP_LOGOUT, OP_MOVE, OP_NOT_READY, OP_PAUSE,
    OP_PRIORITY, OP_READY, OP_REJECT, OP_RELEASE, OP_TRANSFER, OP_UNPAUSE,
)
from busyhour.router.empty import CONDITIONS as EMPTY_CONDITIONS


@st.composite
def configs(draw, strategies=tuple(sorted(CORE_STRATEGIES)), multi_channel=False):
    n_agents = draw(st.integers(1, 5))
    n_queues = draw(st.integers(1, 3))
    agents = [{"id": f"a{i}", "skills": {"s1": draw(st.integers(1, 5)), "s2": draw(st.integers(1, 5))},
               "groups": [f"g{i % 2}"]} for i in range(n_agents)]
    if multi_channel or draw(st.integers(0, 2)) == 0:  # multi-channel agents: several calls at a time
        for a in agents:
            cap = draw(st.sampled_from(CAPACITIES[1:] if multi_channel else CAPACITIES))
            if cap is not None:
                a["capacity"] = cap
    if draw(st.integers(0, 2)) == 0:  # the agents' own wrap-up, delays and max no-answer (else the queue's)
        for a in agents:
            a.update(draw(st.sampled_from(AGENT_SETTINGS)))
    queues = []
    for k in range(n_queues):
        ids = [a["id"] for a in agents]
        members = ids if draw(st.booleans()) else draw(st.lists(st.sampled_from(ids), unique=True, max_size=n_agents))
        plain = draw(st.booleans())  # all members at the defaults (one tier, one penalty), or each its own
        q = {"name": f"q{k}", "strategy": draw(st.sampled_from(strategies)), "members": members,
             "skills": draw(st.sampled_from([{}, {}, {"s1": 1}, {"s1": 3}, {"s1": 2, "s2": 2}])),
             "wrap_up_s": draw(st.sampled_from([0.0, 0.0, 3.0])),
             "ring_timeout_s": draw(st.sampled_from([4.0, 15.0])),
             "ring_step_s": draw(st.sampled_from([1.0, 5.0])),
             "reject_delay_s": draw(st.sampled_from([0.0, 2.0])),
             "busy_delay_s": draw(st.sampled_from([0.0, 5.0])),
             "no_answer_delay_s": draw(st.sampled_from([0.0, 3.0])),
             "max_no_answer": draw(st.sampled_from([0, 0, 2])),
             "max_wait_s": draw(st.sampled_from([math.inf, math.inf, 12.0])),
             "max_wait_no_agents_s": draw(st.sampled_from([math.inf, math.inf, 0.0, 6.0])),
             "max_length": draw(st.sampled_from([0, 0, 1, 2])),
             "weight": draw(st.sampled_from([1.0, 1.0, 2.0]))}
        if n_queues > 1 and draw(st.booleans()):
            q["overflow"] = f"q{(k + 1) % n_queues}"
        if not plain:
            q["members"] = [{"agent": m, "tier": draw(st.integers(0, 2)), "penalty": draw(st.integers(0, 2)),
                             "position": draw(st.integers(0, 4)), "weight": draw(st.sampled_from([0.5, 1.0, 3.0]))}
                            for m in members]
            if draw(st.booleans()):
                q["max_penalty"] = 1  # members with penalty 2 are never offered this queue's calls
        if q["strategy"] == "preferred-agent" and draw(st.booleans()):
            q["dedicated_agent"] = draw(st.sampled_from([a["id"] for a in agents]))  # member or not
            q["preferred_fallback_s"] = draw(st.sampled_from([0.0, 4.0, 30.0, math.inf]))
        if draw(st.integers(0, 2)) == 0:  # escalation: steps widen who may answer, or move the call on
            steps, after = [], 0.0
            for _ in range(draw(st.integers(1, 3))):
                after += draw(st.sampled_from([1.0, 3.0, 8.0]))
                step = {"after_s": after, "min_level_drop": draw(st.integers(0, 3))}
                if draw(st.booleans()):
                    step["add_groups"] = [draw(st.sampled_from(["g0", "g1"][:n_agents]))]
                if draw(st.integers(0, 3)) == 0:
                    step["max_penalty"] = draw(st.integers(0, 2))
                if n_queues > 1 and draw(st.integers(0, 3)) == 0:
                    step["overflow"] = f"q{(k + 1) % n_queues}"
                steps.append(step)
            q["escalation"] = steps
        if draw(st.integers(0, 3)) == 0:  # refused on entry to a queue empty under these conditions
            q["join_empty"] = draw(st.lists(st.sampled_from(EMPTY_CONDITIONS), max_size=3, unique=True))
        if draw(st.integers(0, 2)) == 0:  # waiting callers leave a queue empty under these conditions
            q["leave_when_empty"] = draw(st.lists(st.sampled_from(EMPTY_CONDITIONS), min_size=1, max_size=3,
                                                  unique=True))
        if draw(st.integers(0, 9)) == 0:  # every member above the queue's max penalty: never routed
            q["members"] = [{"agent": m, "penalty": 1} for m in members]
            q["max_penalty"] = 0
        queues.append(q)
    return {"skills": ["s1", "s2"], "agents": agents, "queues": queues, "seed": 3}


OPS = st.lists(st.tuples(st.sampled_from(["arrive", "arrive", "arrive", "accept", "accept", "accept", "accept",
                                          "reject", "release", "release", "release", "abandon", "login", "login",
                                          "logout", "ready", "ready", "not_ready", "advance", "callback",
                                          "transfer", "pause", "unpause", "priority", "member_add",
                                          "member_remove", "member_update", "queue_update", "reload",
                                          "move", "move", "agent_add", "agent_remove"]),
                         st.sampled_from([0.0, 0.0, 0.5, 1.0, 2.0, 4.0, 9.0, 20.0]),
                         st.integers(0, 1 << 16), st.booleans()), min_size=15, max_size=120)


# An agent's own settings, overriding its queues'.
AGENT_SETTINGS = ({}, {"wrap_up_s": 0.0}, {"wrap_up_s": 6.0, "max_no_answer": 1},
                  {"reject_delay_s": 4.0, "busy_delay_s": 0.0, "no_answer_delay_s": 0.0},
                  {"max_no_answer": 0, "no_answer_delay_s": 5.0})
# Queue settings changed at run time (the last ones refused).
QUEUE_CHANGES = ({"ring_timeout_s": 4.0}, {"ring_timeout_s": 30.0}, {"wrap_up_s": 2.0}, {"max_penalty": 0},
                 {"max_penalty": None}, {"max_penalty": 1, "weight": 2.0}, {"max_wait_s": 5.0}, {"max_wait_s": math.inf},
                 {"overflow": None}, {"overflow": "q0"}, {"max_length": 1}, {"max_no_answer": 1}, {"ring_step_s": 1.0},
                 {"reject_delay_s": 2.0, "busy_delay_s": 1.0, "no_answer_delay_s": 0.0}, {"sl_threshold_s": 5.0},
                 {"max_wait_no_agents_s": 0.0}, {"preferred_fallback_s": 0.0}, {"strategy": "random"},
                 {"strategy": "ring-all"}, {"strategy": "ring-progressively", "ring_step_s": 2.0},
                 {"strategy": "leastrecent"}, {"strategy": "round-robin"}, {"strategy": "agent-with-fewest-calls"},
                 {"strategy": "wrandom"}, {"strategy": "linear"}, {"strategy": "longest-idle-agent"},
                 {"leave_when_empty": ["inuse", "ringing"]}, {"leave_when_empty": []},
                 {"join_empty": ["paused", "unavailable"], "leave_when_empty": ["penalty", "paused", "wrapup"]},
                 {"join_empty": []}, {"leave_when_empty": ["unknown"]}, {"join_empty": ["busy"]},
                 {}, {"ring_timeout_s": -1.0}, {"strategy": "psychic"}, {"max_length": 1.5})
# An agent's capacity per channel (None: the default, one voice call).
CAPACITIES = (None, {"voice": 1, "chat": 2}, {"voice": 0, "chat": 3}, {"voice": 2}, {"voice": 1, "chat": 1})
# A call's own skills (added to its queue's): none mostly, else levels some agents lack.
OWN_SKILLS = (None, None, None, {}, {"s1": 3}, {"s2": 4}, {"s1": 2, "s2": 2}, {"s2": 5}, {"s1": 1})


def _outcome(fn, *args, **kw):
    try:
        return fn(*args, **kw)
    except RouterError as exc:
        return type(exc)


def _pick(seq, k):
    return seq[k % len(seq)] if seq else None


class Extra(NamedTuple):
    """An operation another module adds: ``step(r, now, k, flag, twin, live) -> (row, fn)`` (a row whose first
    item is the op's name, replayed by ``replay(batch, row)``); ``after(twin, row)`` once it succeeded."""

    step: Callable
    after: Callable
    replay: Callable


EXTRA: dict[str, Extra] = {}


class Twin:
    """Applies one generated operation to a router and records what came back."""

    def __init__(self, cfg: dict, channels: tuple = ("voice", "voice", "chat")):
        self.cfg = cfg
        self.channels = channels
        self.agents = [a["id"] for a in cfg["agents"]]
        self.queues = [q["name"] for q in cfg["queues"]]


def _step(r, op: str, now: float, k: int, flag: bool, twin: Twin, ringing: dict, live: list, next_id: list,
          connected: dict):
    """Apply to ``r``; returns (outcome, OP_DTYPE row). ``ringing``/``live``/``connected`` are only read."""
    agents, queues = twin.agents, twin.queues
    a = _pick(agents, k)
    if op == "arrive":
        cid = next_id[0]
        q = _pick(queues, k)
        pref = _pick(agents, k // 8) if k % 8 == 0 else None  # a preferred agent, member of q or not
        fb = (None, 0.0, 3.0, math.inf)[(k // 64) % 4] if pref is not None else None
        own = OWN_SKILLS[(k // 256) % len(OWN_SKILLS)]
        chan = twin.channels[(k // 4096) % len(twin.channels)]
        lim = (None, None, None, 4.0, 12.5, math.inf, 0.0)[(k // 16) % 7]  # the call's own max wait (0: refused)
        row = (OP_ARRIVE, now, cid, -1 if pref is None else agents.index(pref), queues.index(q), k % 3,
               math.nan if fb is None else fb, own, chan, lim)
        fn = lambda: r.call_arrive(now, cid, q, priority=k % 3, preferred_agent=pref,  # noqa: E731
                                   preferred_fallback_s=fb, skills=own, channel=chan, max_wait_s=lim)
    elif op == "transfer":
        pool = sorted(connected) if connected and k % 5 else live
        cid = _pick(pool, k) if pool else 999_999
        tq = _pick(queues, k // 3) if k % 3 != 1 else None
        ta = _pick(agents, k // 9) if k % 3 != 0 else None
        if flag and k % 11 == 0:
            tq = ta = None  # no target: refused
        fb = (math.inf, 2.0, 0.0)[(k // 27) % 3]
        row = (OP_TRANSFER, now, cid, -1 if ta is None else agents.index(ta),
               -1 if tq is None else queues.index(tq), 0, fb)
        fn = lambda: r.transfer(now, cid, queue=tq, agent=ta, fallback_s=fb)  # noqa: E731
    elif op in ("accept", "reject"):
        pairs = sorted(ringing.items())
        if pairs and not (flag and k % 5 == 0):
            cid, a = _pick(pairs, k)
        else:
            cid = _pick(live, k) if live else 999_999
        busy = flag
        row = (OP_ACCEPT if op == "accept" else OP_REJECT, now, cid, agents.index(a), -1, 0, float(busy))
        fn = (lambda: r.offer_accept(now, cid, a)) if op == "accept" else (lambda: r.offer_reject(now, cid, a, busy=busy))
    elif op in ("release", "abandon"):
        pool = sorted(connected) if op == "release" and connected and k % 4 else live
        cid = _pick(pool, k) if pool else 999_999
        wrap = 1.5 if flag else None
        row = (OP_RELEASE if op == "release" else OP_ABANDON, now, cid, -1, -1, 0,
               (math.nan if wrap is None else wrap))
        fn = (lambda: r.call_release(now, cid, wrap_up_s=wrap)) if op == "release" else (lambda: r.call_abandon(now, cid))
    elif op == "login":
        flag = flag or k % 3 > 0  # mostly ready at once
        row = (OP_LOGIN, now, 0, agents.index(a), -1, 0, float(flag))
        ready = flag
        fn = lambda: r.agent_login(now, a, ready=ready)  # noqa: E731
    elif op == "logout":
        row = (OP_LOGOUT, now, 0, agents.index(a), -1, 0, 0.0)
        fn = lambda: r.agent_logout(now, a)  # noqa: E731
    elif op == "ready":
        row = (OP_READY, now, 0, agents.index(a), -1, 0, 0.0)
        fn = lambda: r.agent_ready(now, a)  # noqa: E731
    elif op == "not_ready":
        reason = "lunch" if flag else "break"
        row = (OP_NOT_READY, now, 0, agents.index(a), -1, 0, reason)
        fn = lambda: r.agent_not_ready(now, a, reason)  # noqa: E731
    elif op == "priority":  # a live call's new priority (a connected one: refused)
        cid = _pick(live, k) if live and k % 13 else 999_999
        prio = (k // 3) % 5 - 1
        row = (OP_PRIORITY, now, cid, -1, -1, prio, 0.0)
        fn = lambda: r.change_priority(now, cid, prio)  # noqa: E731
    elif op in ("pause", "unpause"):  # in one queue (the agent may not be a member of it: refused then)
        pq = _pick(queues, k // 7)
        reason = "coaching" if flag else "paused"
        if op == "pause":
            row = (OP_PAUSE, now, 0, agents.index(a), queues.index(pq), 0, reason)
            fn = lambda: r.member_pause(now, a, pq, reason)  # noqa: E731
        else:
            row = (OP_UNPAUSE, now, 0, agents.index(a), queues.index(pq), 0, 0.0)
            fn = lambda: r.member_unpause(now, a, pq)  # noqa: E731
    elif op.startswith("member_"):  # a membership change (refused: a second membership, none, bad settings)
        mq = _pick(queues, k // 7)
        if op == "member_remove":
            kw = {}
        else:
            pick = (lambda v: v) if op == "member_add" else (lambda v: v if (k >> 5) % 2 else None)
            kw = dict(tier=pick(k % 3), penalty=pick((k // 3) % 3 - (k % 17 == 0)),
                      position=None if flag else (k // 9) % 5, weight=pick((0.5, 1.0, 3.0)[(k // 45) % 3]))
            if op == "member_add":
                kw = {n: v for n, v in kw.items() if v is not None}
        row = (op, now, a, mq, kw)  # replayed through the per-call method (no batch row)
        fn = lambda: getattr(r, op)(now, a, mq, **kw)  # noqa: E731
    elif op == "agent_add":  # a new agent (an id in use: refused); then the stream may log it in, add it to queues
        dup = next((x for x in agents if not str(x).startswith("(removed")), "n0")  # an id in use
        raw = {"id": f"n{len(agents)}" if k % 7 else dup, "skills": {"s1": 1 + k % 5, "s2": 1 + (k // 5) % 5}}
        cap = CAPACITIES[(k // 25) % len(CAPACITIES)]
        if cap is not None:
            raw["capacity"] = cap
        row = (op, now, None, None, raw)
        fn = lambda: r.agent_add(now, raw)  # noqa: E731
    elif op == "agent_remove":  # a logged-out agent leaves (logged in or unknown: refused)
        row = (op, now, a, None, {})
        fn = lambda: r.agent_remove(now, a)  # noqa: E731
    elif op == "move":  # a live call to another queue (its own: refused; a connected one: refused)
        cid = _pick(live, k) if live and k % 13 else 999_999
        mq = _pick(queues, k // 5)
        row = (OP_MOVE, now, cid, -1, queues.index(mq), 0, 0.0)
        fn = lambda: r.call_move(now, cid, mq)  # noqa: E731
    elif op == "reload":  # the configuration with members and settings changed (a strategy too: refused)
        new = _reloaded(twin.cfg, [a["id"] for a in twin.cfg["agents"]], k)  # removes agents added since
        row = (op, now, None, None, new)
        fn = lambda: r.reload(now, new)  # noqa: E731
    elif op == "queue_update":  # settings applying from now on (refused: a bad value, an unknown setting)
        mq = _pick(queues, k // 7)
        kw = _pick(QUEUE_CHANGES, k) if k % 23 else {"overflow": _pick(queues, k // 3)}  # itself: refused
        row = (op, now, None, mq, kw)
        fn = lambda: r.queue_update(now, mq, **kw)  # noqa: E731
    elif op in EXTRA:  # operations other modules add (test_core_parity_queues.py)
        row, fn = EXTRA[op].step(r, now, k, flag, twin, live)
    elif op == "callback":
        cid = _pick(live, k) if live else 999_999
        number = "" if flag and k % 7 == 0 else f"+1555{k % 97:04d}"
        row = (OP_CALLBACK, now, cid, -1, -1, 0, number)
        fn = lambda: r.request_callback(now, cid, number)  # noqa: E731
    else:
        row = (OP_ADVANCE, now, 0, -1, -1, 0, 0.0)
        fn = lambda: r.advance(now)  # noqa: E731
    try:
        return fn(), row
    except RouterError as exc:
        return type(exc), row


def _reloaded(raw: dict, agents: list, k: int):
    """``raw`` (the configuration the routers started from) with one queue's members and settings changed."""
    raw = copy.deepcopy(raw)
    q = raw["queues"][k % len(raw["queues"])]
    members = [m if isinstance(m, dict) else {"agent": m} for m in q["members"]]
    if members and k % 3 == 0:
        members.pop((k // 3) % len(members))
    absent = [a for a in agents if a not in {m["agent"] for m in members}]
    if absent and k % 5 < 2:
        members.insert((k // 5) % (len(members) + 1), {"agent": absent[0], "penalty": (k // 5) % 3})
    if members and k % 2:
        members[-1] = {**members[-1], "penalty": (k // 7) % 3, "tier": (k // 21) % 2}
    if k % 19 == 0:  # a new agent, last, and a member of this queue
        raw["agents"].append({"id": f"r{len(raw['agents'])}", "skills": {"s1": 2, "s2": 3}})
        members.append({"agent": raw["agents"][-1]["id"]})
    q["members"] = members
    if k % 4 == 0:
        q["ring_timeout_s"] = 6.0
    if k % 13 == 0:  # an empty-queue rule added (or a different one)
        q["leave_when_empty"] = ["paused", "inuse"] if q.get("leave_when_empty") != ["paused", "inuse"] else ["wrapup"]
    if k % 11 == 0:
        q["max_penalty"] = 1 if "max_penalty" not in q else None
        q = {key: v for key, v in q.items() if v is not None}
        raw["queues"][k % len(raw["queues"])] = q
    if k % 17 == 0:  # needs a restart: refused
        q["expected_aht_s"] = 90.0
    elif k % 13 == 0 and "dedicated_agent" not in q:  # a new strategy (a dedicated line keeps preferred-agent)
        q["strategy"] = "ring-all" if q["strategy"] != "ring-all" else "leastrecent"
    return parse_config(raw)
