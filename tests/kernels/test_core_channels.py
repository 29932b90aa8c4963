"""Multi-channel agents on the compiled core: the rules pinned one by one, against the Python engine.

The random parity suite (test_core_parity.py) drives multi-channel
configurations too; these cases pin the rules it may rarely hit: an agent
ringing several calls at once whose offers are withdrawn (in the calls'
arrival order, each call back to its place), room per channel, the batch
API's channel, a configuration without voice, and a router pickled by the
version before multi-channel agents (a server snapshot) loading and carrying
on exactly as one that never stopped.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from busyhour.router import ReferenceRouter
from busyhour.router.core_layout import (
    A_OF_HEAD, N_C_I, O_AGENT, O_CNEXT, O_SLOT, O_TOKEN, OF_FIRST, OF_LAST, OK, OP_ARRIVE,
    OP_DTYPE, OP_LOGIN, S_NT, ST_OFFERED, STATE, T_RING, TARG, TKIND,
)
from busyhour.router.errors import UnknownIdError
from busyhour.router.fast import Router

from old_layout import without_lanes

CFG = {"skills": ["s"],
       "agents": [{"id": "a1", "skills": {"s": 1}, "capacity": {"voice": 1, "chat": 3}},
                  {"id": "a2", "skills": {"s": 1}, "capacity": {"voice": 0, "chat": 2}},
                  {"id": "a3", "skills": {"s": 1}}],
       "queues": [{"name": "all", "members": ["a1", "a2", "a3"], "strategy": "ring-all", "ring_timeout_s": 20.0},
                  {"name": "q", "members": ["a1", "a2", "a3"], "ring_timeout_s": 20.0}]}


def _both(script) -> list:
    """Run ``script(router)`` on both engines; their events must be equal. The compiled router."""
    outs, routers = [], []
    for r in (ReferenceRouter.from_config(CFG), Router.from_config(CFG, calls=16)):
        outs.append(script(r))
        routers.append(r)
    assert outs[1] == outs[0]
    for a in ("a1", "a2", "a3"):
        assert routers[1].agent_state(a) == routers[0].agent_state(a)
    assert routers[1].next_deadline() == routers[0].next_deadline()
    return outs[0]


def _kinds(events, *names):
    return [(e.kind.name, e.call_id, e.agent_id) for e in events if e.kind.name in names]


def test_an_agent_ringing_several_calls_has_them_withdrawn_in_arrival_order():
    def script(r):
        ev = r.agent_login(0.0, "a1", ready=True)
        for t, k in enumerate((3, 1, 2), start=1):  # ids out of order: arrival order decides, not the id
            ev += r.call_arrive(float(t), k, "all", channel="chat")
        ev += r.agent_login(5.0, "a2", ready=True)  # rings the calls a1 rings too, up to its room (2)
        ev += r.agent_not_ready(6.0, "a1")
        return ev
    ev = _both(script)
    withdrawn = _kinds(ev, "OFFER_WITHDRAWN")
    assert withdrawn == [("OFFER_WITHDRAWN", 3, "a1"), ("OFFER_WITHDRAWN", 1, "a1"), ("OFFER_WITHDRAWN", 2, "a1")]


def test_room_is_per_channel():
    def script(r):
        ev = r.agent_login(0.0, "a1", ready=True)
        ev += r.call_arrive(1.0, 1, "q")  # voice: a1's one voice place
        ev += r.call_arrive(2.0, 2, "q")  # voice again: a1 has no voice room left, it waits
        for k in (3, 4, 5, 6):  # chats: three ring a1, the fourth waits
            ev += r.call_arrive(float(k), k, "q", channel="chat")
        ev += r.offer_accept(7.0, 1, "a1")
        ev += r.call_release(8.0, 1)  # the voice place frees: call 2 rings a1
        return ev
    ev = _both(script)
    offered = _kinds(ev, "CALL_OFFERED")
    assert offered == [("CALL_OFFERED", c, "a1") for c in (1, 3, 4, 5, 2)]


def test_a_batch_gives_each_arrival_its_channel_through_the_profile_code():
    fast = Router.from_config(CFG)
    chat = fast.skill_profile(None, "chat")
    assert chat != 0 and fast.skill_profile({}, "voice") == 0 and fast.skill_profile(None, "chat") == chat
    ops = np.array([(OP_LOGIN, 0.0, 0, 1, -1, 0, 1.0)] + [(OP_ARRIVE, 1.0, k, -1, 1, 0, np.nan) for k in (1, 2, 3)],
                   dtype=OP_DTYPE)
    res = fast.submit(ops, skills=np.array([0, chat, chat, 0]))
    assert (res.status == OK).all()
    offered = res.events[res.events["kind"] == 3]  # CALL_OFFERED
    assert offered["call"].tolist() == [1, 2] and set(offered["agent"].tolist()) == {1}  # a2: chat only
    assert fast.call_state(3).name == "WAITING"  # voice: a2 has no voice place
    with pytest.raises(UnknownIdError, match="unknown channel 'fax'"):
        fast.skill_profile(None, "fax")


def test_without_a_voice_channel_voice_calls_are_refused_on_both_engines():
    cfg = {"channels": ["chat"], "agents": [{"id": "a", "capacity": {"chat": 2}}], "queues": [{"name": "q", "members": ["a"]}]}
    fast, py = Router.from_config(cfg), ReferenceRouter.from_config(cfg)
    for r in (py, fast):
        with pytest.raises(UnknownIdError, match="unknown channel 'voice'"):
            r.call_arrive(0.0, 1, "q")
    assert fast.call_arrive(0.0, 1, "q", channel="chat") == py.call_arrive(0.0, 1, "q", channel="chat")
    res = fast.submit(np.array([(OP_ARRIVE, 1.0, 2, -1, 0, 0, np.nan)], dtype=OP_DTYPE))  # profile 0: voice
    assert res.status[0] != OK and fast.counts == (1, 0)


def _as_previous_layout(fast: Router) -> None:
    """Rewrite ``fast``'s state as the version before multi-channel agents pickled it: an agent's offer in
    its own columns (call, token, next agent ringing the same call), a call's first and last ringing agent,
    ring timers pointing at the agent, no channel column, offer table, per-channel arrays, profile channels,
    per-agent settings, per-call max waits or per-queue pauses, every timer in the heap."""
    S = without_lanes(fast._S)
    A_i, C_i, TM_i = S.A_i.copy(), S.C_i[:, :N_C_I - 1].copy(), S.TM_i.copy()
    token, after = 12, 13  # the agent's offer token and the next agent ringing the same call, then
    A_i[:, [A_OF_HEAD, token, after]] = [-1, 0, -1]
    for slot in np.flatnonzero(S.C_i[:, STATE] == ST_OFFERED).tolist():
        r, prev = int(S.C_i[slot, OF_FIRST]), -1
        while r >= 0:
            a = int(S.OF[r, O_AGENT])
            A_i[a, A_OF_HEAD], A_i[a, token] = slot, S.OF[r, O_TOKEN]
            if prev < 0:
                C_i[slot, OF_FIRST] = a
            else:
                A_i[prev, after] = a
            C_i[slot, OF_LAST] = prev = a
            r = int(S.OF[r, O_CNEXT])
    for k in np.flatnonzero(S.TM_i[:S.S_i[S_NT], TKIND] == T_RING).tolist():
        TM_i[k, TARG] = S.OF[TM_i[k, TARG], O_AGENT]
    fast._S = S._replace(A_i=A_i, A_f=S.A_f[:, :6].copy(), QM=S.QM[:, :6].copy(), C_i=C_i, TM_i=TM_i, S_i=S.S_i[:24].copy(), PCH=None,
                         OF=None, OFREE=None, LD=None, CA=None, PLIM=None)
    fast._profiles = {tuple(key[1:]): code for key, code in fast._profiles.items()}
    del fast._channel_index
    assert O_SLOT == 0  # the layout this rewrite knows


def test_a_router_pickled_before_multi_channel_agents_loads_and_carries_on():
    cfg = {"skills": ["s"], "agents": [{"id": f"a{i}", "skills": {"s": 1}} for i in range(3)],
           "queues": [{"name": "all", "members": ["a0", "a1", "a2"], "strategy": "ring-all", "ring_timeout_s": 5.0},
                      {"name": "q", "members": ["a0", "a1", "a2"], "ring_timeout_s": 7.0}]}

    def start(r):
        for a in ("a0", "a1"):
            r.agent_login(0.0, a, ready=True)
        r.call_arrive(1.0, 1, "all", skills={"s": 1})  # rings a0 and a1
        r.agent_login(1.5, "a2", ready=True)
        r.call_arrive(2.0, 2, "q")  # rings a2
        r.offer_reject(2.5, 1, "a0")  # a stale ring timer from here on

    def rest(r):
        ev = r.advance(6.5)  # call 1's ring on a1 expires; it rings a0 again
        ev += r.offer_accept(7.0, 2, "a2")
        ev += r.call_arrive(7.5, 3, "q", skills={"s": 1})
        ev += r.advance(60.0)
        return ev

    ref = Router.from_config(cfg)
    start(ref)
    old = Router.from_config(cfg)
    start(old)
    _as_previous_layout(old)
    loaded = pickle.loads(pickle.dumps(old))
    assert loaded._S.OF is not None and loaded._S.C_i.shape[1] == N_C_I
    assert loaded.call_state(1).name == "OFFERED" and loaded.next_deadline() == ref.next_deadline()
    assert rest(loaded) == rest(ref)
    assert [loaded.agent_state(a) for a in ("a0", "a1", "a2")] == [ref.agent_state(a) for a in ("a0", "a1", "a2")]
