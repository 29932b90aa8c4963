"""Random interleavings of every router operation with the changes made at run time (docs/routing.md §16):
pauses in one queue, priorities, moves, memberships, queue settings, agents and queues added and removed,
and reloads, mixed with calls arriving, ringing, waiting and connected. Invariants 1–8 of
test_router_machine.py hold after every step, and a replay gives the same events."""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule
from test_router_machine import AGENTS, RouterMachine

from busyhour.router import CallState, parse_config

QUEUES = ["q0", "q1", "q2", "q3", "x0"]
SETTINGS = ({"max_penalty": 0}, {"max_penalty": None}, {"ring_timeout_s": 3.0}, {"wrap_up_s": 1.0},
            {"strategy": "ring-all"}, {"strategy": "round-robin"}, {"strategy": "leastrecent"},
            {"max_wait_no_agents_s": 0.0}, {"max_length": 1}, {"leave_when_empty": ["paused", "inuse"]},
            {"overflow": "q2"}, {"weight": 3.0})


class LiveChangesMachine(RouterMachine):
    def _agents_now(self):
        return [a for a in self.router._agents.index]

    @rule(dt=st.sampled_from([0.0, 1.0]), a=st.sampled_from(AGENTS), q=st.sampled_from(QUEUES), on=st.booleans())
    def pause(self, dt, a, q, on):
        if on:
            self.do("member_pause", self._tick(dt), a, q, "coaching")
        else:
            self.do("member_unpause", self._tick(dt), a, q)

    @precondition(lambda self: self._any(CallState.WAITING) or self._any(CallState.OFFERED))
    @rule(prio=st.integers(0, 5), data=st.data())
    def priority(self, prio, data):
        live = [c.id for c in self._live() if c.state != CallState.CONNECTED]
        if live:
            self.do("change_priority", self._tick(0.5), data.draw(st.sampled_from(live)), prio)

    @precondition(lambda self: self._any(CallState.WAITING) or self._any(CallState.OFFERED))
    @rule(q=st.sampled_from(QUEUES), data=st.data())
    def move(self, q, data):
        live = [c.id for c in self._live() if c.state != CallState.CONNECTED]
        if live:
            self.do("call_move", self._tick(0.5), data.draw(st.sampled_from(live)), q)

    @rule(dt=st.sampled_from([0.0, 1.0]), a=st.sampled_from(AGENTS + ["n0", "n1"]), q=st.sampled_from(QUEUES),
          kind=st.sampled_from(["member_add", "member_remove", "member_update"]), tier=st.integers(0, 2),
          penalty=st.integers(0, 2))
    def membership(self, dt, a, q, kind, tier, penalty):
        kw = {} if kind == "member_remove" else {"tier": tier, "penalty": penalty}
        self.do(kind, self._tick(dt), a, q, **kw)

    @rule(q=st.sampled_from(QUEUES), change=st.sampled_from(SETTINGS))
    def queue_update(self, q, change):
        self.do("queue_update", self._tick(0.5), q, **change)

    @rule(k=st.integers(0, 1), chat=st.booleans())
    def agent_add(self, k, chat):
        self.do("agent_add", self._tick(0.5), {"id": f"n{k}", "skills": {"en": 3, "es": 2},
                                               "capacity": {"voice": 1, "chat": 2 if chat else 0}})

    @rule(a=st.sampled_from(AGENTS + ["n0", "n1"]))
    def agent_remove(self, a):
        self.do("agent_remove", self._tick(0.5), a)

    @rule(name=st.sampled_from(QUEUES), strategy=st.sampled_from(["longest-idle-agent", "ring-all", "round-robin",
                                                                  "top-down", "leastrecent"]),
          members=st.lists(st.sampled_from(AGENTS + ["n0"]), max_size=4, unique=True), overflow=st.booleans())
    def queue_add(self, name, strategy, members, overflow):
        raw = {"name": name, "strategy": strategy, "members": members, "max_wait_s": 40.0}
        if overflow:
            raw["overflow"] = "q3"
        self.do("queue_add", self._tick(0.5), raw)

    @rule(q=st.sampled_from(QUEUES), to=st.sampled_from([None, "q0", "q3", "x0"]))
    def queue_remove(self, q, to):
        self.do("queue_remove", self._tick(0.5), q, to=to)

    @rule(variant=st.integers(0, 5))
    def reload(self, variant):
        """The starting configuration edited: members, a setting, a queue or an agent gone, a queue added."""
        raw = copy.deepcopy(self.cfg)
        qs = raw["queues"]
        if variant == 0:
            qs[3]["members"] = ["a1", "a4"]
        elif variant == 1:
            qs[1]["ring_timeout_s"] = 2.0
            qs[2]["members"] = []
        elif variant == 2:
            raw["queues"] = [q for q in qs if q["name"] != "q2"]
        elif variant == 3:
            qs.append({"name": "x0", "members": ["a0", "a4"], "strategy": "ring-all"})
        elif variant == 4:
            raw["agents"] = [a for a in raw["agents"] if a["id"] != "a4"]
            for q in qs:
                q["members"] = [m for m in q["members"] if m != "a4"]
        self.do("reload", self._tick(0.5), parse_config(raw))


TestLiveChangesMachine = LiveChangesMachine.TestCase
TestLiveChangesMachine.settings = settings(max_examples=120, stateful_step_count=60, deadline=None,
                                           suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
