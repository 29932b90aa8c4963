"""Random interleavings of every router operation (hypothesis state machine).

Invariants, checked after every step:

1. Capacity: no agent holds more ringing + connected calls on a channel than
   its capacity, and the engine's per-agent counts equal what the calls say.
2. Place: every live call is in exactly one state and place — a WAITING call
   is in its own queue's waiting list exactly once and ringing nobody; an
   OFFERED call rings at least one agent and waits nowhere; a CONNECTED call
   has one agent and waits nowhere.
3. Conservation: arrived = waiting + offered + connected + ended.
4. Work conservation: no call waits while an agent that is eligible for it
   right now (ready, unlocked, room on the channel, skills, membership) exists.
   Documented delays (wrap-up, reject/busy/no-answer delay) make an agent
   ineligible, so they are covered.
5. FIFO within priority: among calls of one queue with the same priority,
   requirements, escalation step and preferred agent, the calls a step routed
   are the earliest of those that were waiting.
6. Determinism: replaying the same operations into a fresh router gives the
   identical event stream (checked at teardown) — also with the available-member
   fast path switched off, so the fast path and the kernel rule agree.
7. Time never goes backwards: event times never decrease and ``seq`` is
   gap-free from 1.
8. Every call ends in exactly one terminal disposition.
"""

from __future__ import annotations

import math

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from busyhour.router import STRATEGIES, CallState, EventKind, ReferenceRouter, RouterError, parse_config

AGENTS = ["a0", "a1", "a2", "a3", "a4"]


# Empty-queue rules (docs/routing.md §6): none, or join and leave rules on q0 and q1.
EMPTY_RULES = ({}, {"q0": {"leave_when_empty": ["penalty", "inuse"]},
                    "q1": {"join_empty": ["unavailable", "paused"], "leave_when_empty": ["paused", "wrapup"]}},
               {"q0": {"join_empty": ["ringing"], "leave_when_empty": ["unavailable", "ringing"]},
                "q3": {"leave_when_empty": ["inuse", "wrapup", "paused"]}})


def make_config(strategies: list[str], wrap_up_s: float, delay_s: float, rules: int = 0) -> dict:
    cfg = _make_config(strategies, wrap_up_s, delay_s)
    for q in cfg["queues"]:
        q.update(EMPTY_RULES[rules].get(q["name"], {}))
    return cfg


def _make_config(strategies: list[str], wrap_up_s: float, delay_s: float) -> dict:
    return {
        "skills": ["en", "es"],
        "agents": [
            {"id": "a0", "skills": {"en": 5}},
            {"id": "a1", "skills": {"en": 3, "es": 2}},
            {"id": "a2", "skills": {"es": 5}, "capacity": {"voice": 1, "chat": 2}, "groups": ["backup"]},
            {"id": "a3", "skills": {"en": 1, "es": 1}, "groups": ["backup"]},
            {"id": "a4", "skills": {"en": 4}, "capacity": {"voice": 0, "chat": 3}},
        ],
        "queues": [
            {"name": "q0", "strategy": strategies[0], "members": ["a0", "a1", {"agent": "a3", "tier": 2}],
             "wrap_up_s": wrap_up_s, "ring_timeout_s": 7.0, "no_answer_delay_s": delay_s, "max_no_answer": 2,
             "reject_delay_s": delay_s, "busy_delay_s": delay_s, "max_wait_s": 60.0, "overflow": "q1",
             "escalation": [{"after_s": 10.0, "min_level_drop": 2}, {"after_s": 20.0, "add_groups": ["backup"]}],
             "dedicated_agent": "a0" if strategies[0] == "preferred-agent" else None, "ring_step_s": 2.0},
            {"name": "q1", "strategy": strategies[1], "members": ["a1", "a2", "a4"], "skills": {"es": 1},
             "wrap_up_s": wrap_up_s, "ring_timeout_s": 5.0, "max_length": 3, "max_wait_no_agents_s": 15.0,
             "weight": 2.0, "dedicated_agent": "a2" if strategies[1] == "preferred-agent" else None},
            {"name": "q2", "strategy": strategies[2], "members": ["a3", "a4"], "max_wait_no_agents_s": 0.0,
             "dedicated_agent": "a3" if strategies[2] == "preferred-agent" else None},
            # one tier, one penalty, one call at a time: the available-member index applies here
            {"name": "q3", "strategy": strategies[3], "members": ["a3", "a0", "a1"], "wrap_up_s": wrap_up_s,
             "ring_timeout_s": 6.0, "no_answer_delay_s": delay_s, "reject_delay_s": delay_s, "skills": {"en": 1},
             "dedicated_agent": "a1" if strategies[3] == "preferred-agent" else None},
        ],
        "seed": 7,
    }


def _strip_none(cfg: dict) -> dict:
    for q in cfg["queues"]:
        if q.get("dedicated_agent") is None:
            q.pop("dedicated_agent", None)
    return cfg


class RouterMachine(RuleBasedStateMachine):
    @initialize(strategies=st.lists(st.sampled_from(STRATEGIES), min_size=3, max_size=3).flatmap(
                    lambda s: st.sampled_from(["longest-idle-agent", "preferred-agent", *STRATEGIES]).map(
                        lambda x: [*s, x])),
                wrap_up_s=st.sampled_from([0.0, 3.0]), delay_s=st.sampled_from([0.0, 4.0]),
                rules=st.sampled_from([0, 0, 1, 2]))
    def setup(self, strategies, wrap_up_s, delay_s, rules):
        self.cfg = _strip_none(make_config(strategies, wrap_up_s, delay_s, rules))
        self.router = ReferenceRouter.from_config(self.cfg)
        self.now = 0.0
        self.ops: list[tuple] = []
        self.events: list = []
        self.n_calls = 0
        self.ended: dict = {}
        self._pre: dict = {}
        for a in AGENTS[:4]:  # start with most of the floor ready; a4 logs in through the rules
            self.do("agent_login", 0.0, a, ready=True)

    # ------------------------------------------------------------ helpers
    def do(self, name: str, *args, **kw):
        self._pre = self._waiting_groups()
        self.ops.append((name, args, kw))
        try:
            out = getattr(self.router, name)(*args, **kw)
        except RouterError:
            self.ops[-1] = (name, args, kw, "error")
            return
        self.events.extend(out)
        self._check_fifo(out)

    def _live(self, state=None):
        return [c for c in self.router._calls.values() if state is None or c.state == state]

    def _any(self, state=None) -> bool:
        return any(state is None or c.state == state for c in self.router._calls.values())

    def _tick(self, dt):
        self.now += dt
        return self.now

    # ------------------------------------------------------------ rules
    @rule(dt=st.sampled_from([0.0, 0.5, 1.0, 3.0]), q=st.sampled_from(["q0", "q1", "q2", "q3"]),
          prio=st.integers(0, 2), es=st.sampled_from([None, 1, 3]), chat=st.booleans(),
          pref=st.sampled_from([None, None, "a1", "a3"]))
    def arrive(self, dt, q, prio, es, chat, pref):
        self.n_calls += 1
        self.do("call_arrive", self._tick(dt), f"c{self.n_calls}", q, priority=prio,
                skills={"es": es} if es else None, channel="chat" if chat else "voice", preferred_agent=pref,
                preferred_fallback_s=5.0 if pref else None, context={"n": self.n_calls})

    @rule()
    def arrive_plain(self):
        """Identical plain calls, so that FIFO (invariant 5) has groups to check."""
        self.n_calls += 1
        self.do("call_arrive", self._tick(0.25), f"c{self.n_calls}", ("q0", "q1", "q3")[self.n_calls % 3])

    @precondition(lambda self: self._any(CallState.OFFERED))
    @rule()
    def answer_oldest(self):
        c = min(self._live(CallState.OFFERED), key=lambda c: c.order)
        self.do("offer_accept", self._tick(0.5), c.id, self.router._agents.ids[max(c.offers)])

    @precondition(lambda self: self._any(CallState.CONNECTED))
    @rule()
    def hang_up_oldest(self):
        c = min(self._live(CallState.CONNECTED), key=lambda c: c.connected_s)
        self.do("call_release", self._tick(4.0), c.id)

    @precondition(lambda self: self._any(CallState.OFFERED))
    @rule(dt=st.sampled_from([0.0, 1.0, 2.0]), data=st.data())
    def accept(self, dt, data):
        offered = [(c.id, self.router._agents.ids[a]) for c in self._live(CallState.OFFERED) for a in c.offers]
        if offered:
            cid, aid = data.draw(st.sampled_from(offered))
            self.do("offer_accept", self._tick(dt), cid, aid)

    @precondition(lambda self: self._any(CallState.OFFERED))
    @rule(dt=st.sampled_from([0.0, 1.0]), busy=st.booleans(), data=st.data())
    def reject(self, dt, busy, data):
        offered = [(c.id, self.router._agents.ids[a]) for c in self._live(CallState.OFFERED) for a in c.offers]
        if offered:
            cid, aid = data.draw(st.sampled_from(offered))
            self.do("offer_reject", self._tick(dt), cid, aid, busy=busy)

    @precondition(lambda self: self._any(CallState.CONNECTED))
    @rule(dt=st.sampled_from([1.0, 5.0, 20.0]), wrap=st.sampled_from([None, 0.0, 2.0]), data=st.data())
    def release(self, dt, wrap, data):
        conn = [c.id for c in self._live(CallState.CONNECTED)]
        if conn:
            self.do("call_release", self._tick(dt), data.draw(st.sampled_from(conn)), wrap_up_s=wrap)

    @precondition(lambda self: self._any())
    @rule(dt=st.sampled_from([0.0, 2.0, 6.0]), data=st.data())
    def abandon(self, dt, data):
        live = [c.id for c in self._live()]
        if live:
            self.do("call_abandon", self._tick(dt), data.draw(st.sampled_from(live)))

    @precondition(lambda self: self._any(CallState.CONNECTED))
    @rule(dt=st.sampled_from([0.0, 1.0]), q=st.sampled_from([None, "q0", "q1"]),
          a=st.sampled_from([None, "a0", "a2"]), data=st.data())
    def transfer(self, dt, q, a, data):
        conn = [c.id for c in self._live(CallState.CONNECTED)]
        if conn and (q or a):
            self.do("transfer", self._tick(dt), data.draw(st.sampled_from(conn)), queue=q, agent=a,
                    context={"t": 1}, fallback_s=8.0)

    @precondition(lambda self: self._any(CallState.WAITING))
    @rule(data=st.data())
    def callback(self, data):
        waiting = [c.id for c in self._live(CallState.WAITING)]
        if waiting:
            self.do("request_callback", self.now, data.draw(st.sampled_from(waiting)), "+155501")

    @rule(dt=st.sampled_from([0.0, 1.0]), a=st.sampled_from(AGENTS), ready=st.booleans())
    def login(self, dt, a, ready):
        self.do("agent_login", self._tick(dt), a, ready=ready)

    @rule(dt=st.sampled_from([0.0, 1.0]), a=st.sampled_from(AGENTS))
    def logout(self, dt, a):
        self.do("agent_logout", self._tick(dt), a)

    @rule(dt=st.sampled_from([0.0, 1.0]), a=st.sampled_from(AGENTS))
    def ready(self, dt, a):
        self.do("agent_ready", self._tick(dt), a)

    @rule(dt=st.sampled_from([0.0, 1.0]), a=st.sampled_from(AGENTS), reason=st.sampled_from(["break", "lunch"]))
    def not_ready(self, dt, a, reason):
        self.do("agent_not_ready", self._tick(dt), a, reason)

    @rule(to_deadline=st.booleans(), dt=st.sampled_from([0.5, 4.0, 30.0]))
    def advance(self, to_deadline, dt):
        d = self.router.next_deadline()
        t = d if (to_deadline and math.isfinite(d)) else self.now + dt
        self.now = max(self.now, t)
        self.do("advance", self.now)

    @rule(dt=st.sampled_from([-1.0, math.nan]), which=st.integers(0, 3))
    def zz_bad_input(self, dt, which):
        """Bad input must raise a RouterError and leave every invariant intact."""
        if which == 0:
            self.do("advance", self.now + dt)
        elif which == 1:
            self.do("offer_accept", self.now, "nope", "a0")
        elif which == 2:
            self.do("agent_ready", self.now, "zz")
        else:
            self.do("call_arrive", self.now, "c1" if self._any() else "x", "q9")

    # -------------------------------------------------------- invariants
    @invariant()
    def inv1_capacity(self):
        A = self.router._agents
        load = A.load * 0
        for c in self._live():
            for a in c.offers:
                load[a, c.channel] += 1
            if c.state == CallState.CONNECTED:
                load[c.agent, c.channel] += 1
        assert (A.load == load).all()
        assert (A.load <= A.cap).all()
        assert (A.load >= 0).all()

    @invariant()
    def inv2_place(self):
        seen = {}
        for q in self.router._queues:
            for key in q.waiting:
                assert key not in seen
                seen[key] = q.idx
        for c in self._live():
            if c.state == CallState.WAITING:
                assert seen.pop(c.key()) == c.queue and not c.offers and c.agent < 0
            elif c.state == CallState.OFFERED:
                assert c.offers and c.key() not in seen
            else:
                assert c.state == CallState.CONNECTED and c.agent >= 0 and not c.offers and c.key() not in seen
        assert not seen  # nothing waits that is not a live waiting call
        for q in self.router._queues:  # the per-queue ringing count (max_length uses it) is exact
            assert q.ringing == sum(c.state == CallState.OFFERED and c.queue == q.idx for c in self._live())

    @invariant()
    def inv3_conservation(self):
        arrived, ended = self.router.counts
        assert arrived == len(self._live()) + ended

    @invariant()
    def inv4_work_conservation(self):
        r = self.router
        for c in self._live(CallState.WAITING):
            for a in range(len(r._agents.ids)):  # every agent (added ones too), so the fast path's answer is checked
                assert not r._eligible(a, c, r.now), f"call {c.id} waits while agent {r._agents.ids[a]} is eligible"

    @invariant()
    def inv7_time_and_seq(self):
        for prev, ev in zip(self.events, self.events[1:]):
            assert ev.time_s >= prev.time_s
        assert [e.seq for e in self.events] == list(range(1, len(self.events) + 1))

    @invariant()
    def inv8_one_disposition(self):
        ends = [e.call_id for e in self.events if e.kind == EventKind.CALL_ENDED]
        assert len(ends) == len(set(ends))
        assert not set(ends) & set(self.router._calls)

    # -------------------------------------------------------- FIFO (5)
    def _waiting_groups(self) -> dict:
        groups: dict = {}
        for c in self._live(CallState.WAITING):
            pref = c.preferred if c.preferred_until > self.router.now else -1  # an expired preference is none
            sig = (c.queue, c.priority, tuple(int(x) for x in c.req_ids), tuple(int(x) for x in c.req_min),
                   c.step, pref, c.channel, c.xfer_from)  # a transferred call is not for its sender
            groups.setdefault(sig, []).append(c)
        for lst in groups.values():
            lst.sort(key=lambda c: (c.arrival_s, c.order))  # independent of the engine's own key
        return groups

    def _check_fifo(self, out):
        ended = {e.call_id for e in out if e.kind == EventKind.CALL_ENDED}
        moved = {e.call_id for e in out if e.kind in (EventKind.CALL_OVERFLOWED, EventKind.CALL_ESCALATED,
                                                      EventKind.CALLBACK_REQUESTED, EventKind.CALL_MOVED,
                                                      EventKind.PRIORITY_CHANGED)}
        now = self.router.now
        for sig, calls in self._pre.items():
            if any(c.id in ended or c.id in moved for c in calls):
                continue
            if sig[5] >= 0 and any(c.preferred_until <= now for c in calls):
                continue  # a preference ran out during the step: directed calls rightly go first
            routed = [c.state != CallState.WAITING for c in calls]
            assert routed == sorted(routed, reverse=True), f"FIFO broken in group {sig}: {[c.id for c in calls]}"

    def teardown(self):
        if not hasattr(self, "cfg"):
            return
        mine = [e.as_tuple() for e in self.events + self.router._flush()]
        assert self._replay(fast_paths=True) == mine  # 6: determinism
        assert self._replay(fast_paths=False) == mine  # the available-member index = the kernel rule

    def _replay(self, fast_paths: bool) -> list[tuple]:
        replay = ReferenceRouter(parse_config(self.cfg), fast_paths=fast_paths)
        events = []
        for op in self.ops:
            name, args, kw = op[:3]
            try:
                events.extend(getattr(replay, name)(*args, **kw))
            except RouterError:
                assert len(op) == 4, f"replay raised where the original run did not: {op}"
        events.extend(replay._flush())
        return [e.as_tuple() for e in events]


TestRouterMachine = RouterMachine.TestCase
TestRouterMachine.settings = settings(max_examples=200, stateful_step_count=60, deadline=None,
                                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
