"""The server's two engines (router/server/engines.py) answer alike.

On random request streams (every engine op, errors, queries between ops,
retries inside one wake-up), a host on the compiled core and a host on the
Python engine give byte-identical replies, the same event rows and journal
records, and the same digest after every wake-up, per-call skills included.
Requests the compiled engine cannot serve (non-voice calls) get an error that
names the engine to use; invalid ones get the Python engine's error.
"""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from busyhour.router import parse_config
from busyhour.router.errors import ConfigError
from busyhour.router.server import protocol as P
from busyhour.router.server.engines import make_engine, resolve
from busyhour.router.server.host import Host
from test_host import CONFIG_RAW, AGENTS, CALLS, CONFIG, RELOADS, streams, work


@st.composite
def _odd_requests(draw, rid: int) -> dict:
    """Requests the common streams seldom make: the ones whose checks read live state (transfer to an
    agent, callback with a bad number, release with a bad wrap-up, arrive reusing an id), preferred
    agents, reasons, busy rejects."""
    call, agent = draw(st.sampled_from(CALLS)), draw(st.sampled_from(AGENTS))
    options = [  # built only once chosen: drawing every option's values each time was most of this test
        lambda: {"op": "transfer", "call": call, "agent": agent, "context": {"k": rid}},
        lambda: {"op": "transfer", "call": call},
        lambda: {"op": "callback", "call": call, "number": " "},
        lambda: {"op": "release", "call": call, "wrap_up_s": draw(st.sampled_from([0.0, 2.5, -1.0]))},
        lambda: {"op": "arrive", "call": call, "queue": draw(st.sampled_from(["sales", "support"])),
                 "channel": "chat"},
        lambda: {"op": "arrive", "call": call, "queue": "sales",
                 "max_wait_s": draw(st.sampled_from([0.0, 3.0, 1e9]))},
        lambda: {"op": "arrive", "call": call, "queue": "sales", "preferred_agent": agent,
                 "preferred_fallback_s": draw(st.sampled_from([0.0, 4.0])), "context": {"vip": True}},
        lambda: {"op": "reject", "call": call, "agent": agent, "busy": True},
        lambda: {"op": "not_ready", "agent": agent, "reason": draw(st.sampled_from(["lunch", "break"]))},
        lambda: {"op": "pause", "agent": agent, "queue": draw(st.sampled_from(["sales", "support"])),
                 "reason": "coaching"},
        lambda: {"op": "priority", "call": call, "priority": draw(st.sampled_from([0, 3]))},
        lambda: {"op": "unpause", "agent": agent, "queue": draw(st.sampled_from(["sales", "support"]))},
        lambda: {"op": "member_add", "agent": agent, "queue": draw(st.sampled_from(["sales", "support"])),
                 "tier": draw(st.integers(0, 2)), "position": 0, "weight": 2.0},
        lambda: {"op": "member_remove", "agent": agent, "queue": draw(st.sampled_from(["sales", "support"]))},
        lambda: {"op": "member_update", "agent": agent, "queue": "support", "penalty": draw(st.integers(0, 2))},
        lambda: {"op": "member_update", "agent": agent, "queue": "sales", "weight": 0.0},
        lambda: {"op": "agent_add", "agent": draw(st.sampled_from(["n1", "n2", "a1"])), "skills": {"es": 2},
                 "wrap_up_s": draw(st.sampled_from([1.0, -1.0]))},
        lambda: {"op": "member_add", "agent": draw(st.sampled_from(["n1", "n2"])), "queue": "sales"},
        lambda: {"op": "agent_remove", "agent": draw(st.sampled_from(["n1", "a2", "nope"]))},
        lambda: {"op": "move", "call": call, "queue": draw(st.sampled_from(["sales", "support", "nope"]))},
        lambda: {"op": "queue_update", "queue": draw(st.sampled_from(["sales", "support"])),
                 **draw(st.sampled_from([{"ring_timeout_s": 3.0}, {"max_penalty": 0}, {"max_penalty": None},
                                         {"overflow": None}, {"max_wait_s": float("inf"), "wrap_up_s": 1.0},
                                         {"sl_threshold_s": 2.0}, {"ring_timeout_s": 0.0}, {}]))},
        lambda: {"op": "reload", "config": draw(st.sampled_from(RELOADS))},
        lambda: {"op": "queue_add", "queue": draw(st.sampled_from([
            {"name": "vip", "members": ["a1", "a2"], "escalation": [{"after_s": 2, "max_penalty": 1}]},
            {"name": "vip", "members": [{"agent": "a3", "tier": 2}], "max_length": 1, "strategy": "ring-all"},
            {"name": "sales", "members": ["a3"]}, {"name": "vip", "members": ["n1"]}, {"name": "vip", "bad": 1}]))},
        lambda: {"op": "arrive", "call": call, "queue": "vip", "priority": draw(st.integers(0, 2))},
        lambda: {"op": "queue_remove", "queue": draw(st.sampled_from(["vip", "sales", "nope"])),
                 **draw(st.sampled_from([{}, {"to": "support"}, {"to": "vip"}, {"to": "sales"}]))},
        lambda: {"op": "queue", "queue": draw(st.sampled_from(["support", "vip", "sales"]))},
        lambda: {"op": "call", "call": call},
        lambda: {"op": "agent", "agent": agent},
    ]
    return options[draw(st.integers(0, len(options) - 1))]() | {"v": 1, "id": rid}


@st.composite
def _mixed(draw):
    """The common streams with odd requests spliced into their frames."""
    out, rid = [], 10_000
    for t, frames in draw(streams()):
        new = []
        for client, reqs, b in frames:
            reqs = list(reqs)
            for _ in range(draw(st.integers(0, 2))):
                rid += 1
                reqs.insert(draw(st.integers(0, len(reqs))), draw(_odd_requests(rid)))
            new.append((client, reqs, len(reqs) > 1))
        out.append((t, new))
    return out


# The same agents taking chats too: a1 several at a time, a3 chats only.
MULTI = parse_config({**CONFIG_RAW, "agents": [
    {"id": "a1", "skills": {"es": 3}, "capacity": {"voice": 1, "chat": 2}}, {"id": "a2"},
    {"id": "a3", "skills": {"es": 1}, "capacity": {"voice": 0, "chat": 3}}]})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mixed(), st.data())
def test_compiled_and_python_hosts_answer_alike(stream, data):
    _alike(CONFIG, stream, data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mixed(), st.data())
def test_compiled_and_python_hosts_answer_alike_with_multi_channel_agents(stream, data):
    _alike(MULTI, stream, data)


def _alike(config, stream, data):
    hosts = Host(config, engine="compiled"), Host(config, engine="python")
    assert [h.engine.kind for h in hosts] == ["compiled", "python"]
    for t, frames in stream:
        if frames and data.draw(st.booleans()):  # a retry inside the same wake-up
            frames = frames + [frames[0]]
        works = [work(client, *reqs, batch=b) for client, reqs, b in frames]
        compiled, python = (h.step(t, works) for h in hosts)
        assert compiled.replies == python.replies
        assert compiled.rows == python.rows and compiled.record == python.record
        assert compiled.ops == python.ops
        assert hosts[0].digest() == hosts[1].digest()
    assert hosts[0].last_seq == hosts[1].last_seq


def _reply(host: Host, t: float, req: dict) -> dict:
    return msgpack.unpackb(host.step(t, [work(b"k", req)]).replies[0][1])


def test_a_move_to_an_unknown_queue_of_a_call_arrived_in_the_same_batch_names_the_queue():
    """Found by the random streams: the compiled engine built the move's row before the arrival had run, so it
    took the call for unknown and the queue for its own."""
    replies = []
    for kind in ("compiled", "python"):
        host = Host(CONFIG, engine=kind)
        out = host.step(1.0, [work(b"k", {"v": 1, "id": 1, "op": "arrive", "call": "c1", "queue": "sales"},
                                   {"v": 1, "id": 2, "op": "move", "call": "c1", "queue": "nope"}, batch=True)])
        replies.append(msgpack.unpackb(out.replies[0][1]))
    assert replies[0] == replies[1]
    assert replies[0][1]["error"] == {"code": P.UNKNOWN_ID, "message": "unknown queue 'nope'"}


def test_chat_calls_are_served_alike_by_both_engines():
    for config in (CONFIG, MULTI):
        replies = []
        for kind in ("compiled", "python"):
            host = Host(config, engine=kind)
            out = [_reply(host, 0.0, {"v": 1, "id": 1 + i, "op": "login", "agent": a, "ready": True})
                   for i, a in enumerate(("a1", "a3"))]
            out += [_reply(host, 1.0 + k, {"v": 1, "id": 10 + k, "op": "arrive", "call": f"c{k}", "queue": "sales",
                                           "channel": "chat"}) for k in range(4)]
            out.append(_reply(host, 9.0, {"v": 1, "id": 9, "op": "arrive", "call": "c9", "queue": "sales",
                                          "skills": {"fr": 2}}))
            replies.append(out)
        assert replies[0] == replies[1]
        offered = [e[4] for r in replies[0] for e in r.get("events", []) if e[2] == "CALL_OFFERED"]
        assert offered == ([] if config is CONFIG else ["a1", "a1", "a3", "a3"])  # a1 idle longest, until full
        assert replies[0][-1]["error"] == {"code": P.UNKNOWN_ID, "message": "unknown skill 'fr'"}


def test_a_call_with_its_own_skills_waits_for_an_agent_who_holds_them():
    """a2 has no 'es' and has been idle longest; a call asking for es >= 2 goes to a1 (es 3), and while a1
    is busy the next such call waits although a2 and a3 (es 1) are free; a plain call goes to a2."""
    for kind in ("compiled", "python"):
        host = Host(CONFIG, engine=kind)
        for i, a in enumerate(("a2", "a3", "a1")):
            assert _reply(host, float(i), {"v": 1, "id": 10 + i, "op": "login", "agent": a, "ready": True})["ok"]
        first = _reply(host, 5.0, {"v": 1, "id": 20, "op": "arrive", "call": "c1", "queue": "sales",
                                   "skills": {"es": 2}})
        offered = [e for e in first["events"] if e[2] == "CALL_OFFERED"]
        assert [e[4] for e in offered] == ["a1"], kind
        second = _reply(host, 6.0, {"v": 1, "id": 21, "op": "arrive", "call": "c2", "queue": "sales",
                                    "skills": {"es": 2}})
        assert [e[2] for e in second["events"]] == ["CALL_ARRIVED", "CALL_QUEUED"], kind
        plain = _reply(host, 7.0, {"v": 1, "id": 22, "op": "arrive", "call": "c3", "queue": "sales"})
        assert [e[4] for e in plain["events"] if e[2] == "CALL_OFFERED"] == ["a2"], kind


def test_engine_choice():
    multi = parse_config({"agents": [{"id": "a", "capacity": {"voice": 1, "chat": 2}}],
                          "queues": [{"name": "q", "members": ["a"]}]})
    for cfg in (multi, CONFIG):  # multi-channel agents, skills: the compiled core runs every configuration
        assert resolve(cfg, "auto") == "compiled" and make_engine(cfg).kind == "compiled"
        assert resolve(cfg, "python") == "python" and make_engine(cfg, "python").kind == "python"
    with pytest.raises(ConfigError, match="engine must be one of"):
        resolve(CONFIG, "fast")
