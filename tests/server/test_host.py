"""The server's engine host (router/server/host.py), without sockets.

Invariants checked on random operation streams:
1. Replaying every journal record into a fresh host, then advancing it to
   the live host's time (what a restart does), gives the same digest
   (agents, live calls, counts, clock, deadline, statistics) and the same
   last seq as the live host.
2. A snapshot taken at any record, plus replay of the records after it,
   gives the same digest as the live host.
3. A repeated (client, id) engine request gets the first reply byte for byte
   and changes nothing; replay rebuilds that memory. The client is the
   request's ``client`` name when it has one, else the routing id: streams
   resend named requests from the other routing id.
4. A request refused by the protocol or the engine leaves the digest
   unchanged; one the protocol refuses is never journaled (fuzzed with random
   bytes and random structures).
"""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given, settings, strategies as st

from busyhour.router import parse_config
from busyhour.router.server import protocol as P
from busyhour.router.server.host import Host, Work

CONFIG_RAW = {
    "skills": ["es"],
    "agents": [{"id": "a1", "skills": {"es": 3}}, {"id": "a2"}, {"id": "a3", "skills": {"es": 1}}],
    "queues": [{"name": "sales", "members": ["a1", "a2", "a3"], "ring_timeout_s": 10, "wrap_up_s": 5,
                "max_wait_s": 60, "overflow": "support"},
               {"name": "support", "strategy": "ring-all", "members": ["a1", "a3"], "max_wait_s": 30}],
}
CONFIG = parse_config(CONFIG_RAW)
_TOML = """skills = ["es"]
[[agents]]
id = "a1"
skills = { es = 3 }
[[agents]]
id = "a2"
[[agents]]
id = "a3"
skills = { es = 1 }
[[queues]]
name = "sales"
members = ["a1", "a2", "a3"]
ring_timeout_s = 10
wrap_up_s = 5
max_wait_s = 60
overflow = "support"
[[queues]]
name = "support"
strategy = "ring-all"
members = ["a1", "a3"]
max_wait_s = 30
"""
#: reload texts: CONFIG itself, members and settings changed, an agent added (n1, as agent_add adds it)
RELOADS = [_TOML, _TOML.replace('members = ["a1", "a2", "a3"]\nring_timeout_s = 10', 'members = ["a3", "a1"]\n'
                                'ring_timeout_s = 4\nmax_penalty = 0').replace('members = ["a1", "a3"]',
                                                                               'members = ["a2", "a1", "a3"]'),
           _TOML.replace('members = ["a1", "a3"]', 'members = ["a1", "a3", "n1"]')
           + '[[agents]]\nid = "n1"\ncapacity = { voice = 1 }\n']
AGENTS = ["a1", "a2", "a3", "ghost"]
CALLS = ["c1", "c2", "c3", 4, 5]


def work(client: bytes, *reqs: dict, batch: bool = False) -> Work:
    frame = msgpack.packb(list(reqs) if batch else reqs[0])
    try:
        items, is_batch = P.decode_frame(frame)
    except P.ProtocolError as exc:
        items, is_batch = [P.Refused(None, exc.code, exc.message)], False
    return Work([client], client, items, is_batch)


def _request(draw, rid: int) -> dict:
    op = draw(st.sampled_from(["arrive", "accept", "reject", "release", "abandon", "login", "logout", "ready",
                               "not_ready", "transfer", "callback", "ping", "position", "snapshot", "member_add",
                               "member_remove", "member_update", "queue_update", "move", "agent_add", "reload",
                               "agent_remove", "queue_add", "queue_remove"]))
    call, agent = draw(st.sampled_from(CALLS)), draw(st.sampled_from(AGENTS))
    req = {"v": 1, "id": rid, "op": op}
    if op == "arrive":
        req.update(call=call, queue=draw(st.sampled_from(["sales", "support", "vip", "nope"])),
                   priority=draw(st.integers(0, 2)))
        if draw(st.booleans()):
            req["skills"] = {"es": draw(st.integers(1, 4))}
    elif op in ("accept", "reject"):
        req.update(call=call, agent=agent)
    elif op in ("release", "abandon", "position"):
        req["call"] = call
    elif op in ("login", "logout", "ready", "not_ready"):
        req["agent"] = agent
        if op == "login":
            req["ready"] = draw(st.booleans())
    elif op == "transfer":
        req.update(call=call, queue=draw(st.sampled_from(["sales", "support"])), context={"note": rid})
    elif op == "callback":
        req.update(call=call, number="+15550100")
    elif op.startswith("member_"):  # membership changes are journaled and replayed like the rest
        req.update(agent=agent, queue=draw(st.sampled_from(["sales", "support"])))
        if op != "member_remove":
            req["penalty"] = draw(st.integers(0, 2))
    elif op == "agent_add":
        req.update(agent=draw(st.sampled_from(["n1", "n2", "a1"])), capacity={"voice": 1})
    elif op == "agent_remove":  # refused while logged in; then a reload naming it is refused too
        req["agent"] = draw(st.sampled_from(["n1", "a2"]))
    elif op == "move":
        req.update(call=call, queue=draw(st.sampled_from(["sales", "support", "vip"])))
    elif op == "queue_add":  # vip new (or back in its row), sales back after its removal; else refused
        req["queue"] = draw(st.sampled_from([
            {"name": "vip", "members": ["a2", {"agent": "a3", "penalty": 1}], "ring_timeout_s": 5},
            {"name": "vip", "strategy": "ring-all", "members": ["a1"], "overflow": "support"},
            {"name": "sales", "members": ["a1", "a2"], "max_wait_s": 60, "overflow": "support"},
            {"name": "vip", "members": ["ghost"]}]))
    elif op == "queue_remove":  # refused while it holds calls without `to`; support is sales's overflow
        req["queue"] = draw(st.sampled_from(["vip", "sales", "support"]))
        if draw(st.booleans()):
            req["to"] = draw(st.sampled_from(["support", "sales", "vip"]))
    elif op == "reload":
        req["config"] = draw(st.sampled_from(RELOADS))
    elif op == "queue_update":
        req.update(queue=draw(st.sampled_from(["sales", "support"])), max_penalty=draw(st.sampled_from([0, 1, None])),
                   ring_timeout_s=draw(st.sampled_from([5.0, 20.0])))
    return req


@st.composite
def streams(draw):
    """Wake-ups: (time step, [frames of requests]); request ids repeat now and then (retries)."""
    out, rid, t, named = [], 0, 0.0, []
    for _ in range(draw(st.integers(5, 40))):
        t += draw(st.sampled_from([0.0, 0.5, 3.0, 11.0, 40.0]))
        frames = []
        for _ in range(draw(st.integers(0, 3))):
            client = draw(st.sampled_from([b"k1", b"k2"]))
            n = draw(st.integers(1, 3))
            reqs = []
            for _ in range(n):
                if rid and draw(st.integers(0, 9)) == 0:
                    reqs.append({"v": 1, "id": draw(st.integers(1, rid)), "op": "ping"})
                elif named and draw(st.integers(0, 7)) == 0:  # a resend, from either routing id
                    reqs.append(draw(st.sampled_from(named)))
                else:
                    rid += 1
                    reqs.append(_request(draw, rid))
                    if draw(st.booleans()):
                        reqs[-1]["client"] = draw(st.sampled_from(["k1", "pbx-1"]))
                        named.append(reqs[-1])
            frames.append((client, reqs, n > 1))
        out.append((t, frames))
    return out


def run_live(stream, engine: str = "auto") -> tuple[Host, list[bytes], list[str]]:
    host, records, digests = Host(CONFIG, engine=engine), [], []
    for t, frames in stream:
        out = host.step(t, [work(c, *reqs, batch=b) for c, reqs, b in frames])
        if out.record is not None:
            records.append(out.record)
            digests.append(host.digest())
    return host, records, digests


@pytest.mark.parametrize("engine", ["compiled", "python"])
@settings(max_examples=40, deadline=None)
@given(stream=streams(), data=st.data())
def test_replay_and_snapshot_rebuild_the_same_state(engine, stream, data):
    live, records, digests = run_live(stream, engine)
    end_s = stream[-1][0]  # a restart replays, then advances to the present
    for kind in ("compiled", "python"):  # the journal of either engine replays on either
        replayed = Host(CONFIG, engine=kind)
        for r in records:
            replayed.replay(r)
        replayed.step(end_s, [])
        assert replayed.digest() == live.digest()                   # invariant 1
        assert replayed.last_seq == live.last_seq
    if records:
        cut = data.draw(st.integers(0, len(records) - 1))
        partial = Host(CONFIG, engine=engine)
        for r in records[:cut + 1]:
            partial.replay(r)
        assert partial.digest() == digests[cut]
        restored = Host(CONFIG)
        restored.load_blob(partial.to_blob())
        for r in records[cut + 1:]:
            restored.replay(r)
        restored.step(end_s, [])
        assert restored.digest() == live.digest()                   # invariant 2
        assert restored.events_since(0)[0] == live.events_since(0)[0]


def test_repeat_gets_first_reply_and_is_not_applied_also_after_replay():
    host = Host(CONFIG)
    login = work(b"k1", {"v": 1, "id": 1, "op": "login", "agent": "a1", "ready": True})
    arrive = {"v": 1, "id": 2, "op": "arrive", "call": "c1", "queue": "sales"}
    records = [host.step(0.0, [login]).record]
    first = host.step(1.0, [work(b"k1", arrive)])
    records.append(first.record)
    before = host.digest()
    again = host.step(1.0, [work(b"k1", arrive)])                  # same client, same id: a retry
    assert again.replies[0][1] == first.replies[0][1]               # invariant 3
    assert again.record is None and host.digest() == before
    other = host.step(1.0, [work(b"k2", arrive)])                   # another client: applied, refused by engine
    assert msgpack.unpackb(other.replies[0][1])["error"]["code"] == P.STATE
    replayed = Host(CONFIG)
    for r in records:
        replayed.replay(r)
    assert replayed.step(2.0, [work(b"k1", arrive)]).replies[0][1] == first.replies[0][1]
    assert replayed.engine.counts == (1, 0)


def test_events_since_pages_and_reports_gone():
    host = Host(CONFIG, ring_capacity=4)
    host.step(0.0, [work(b"k", {"v": 1, "id": i, "op": "login", "agent": a, "ready": True})
                    for i, a in enumerate(["a1", "a2", "a3"])])
    for i in range(6):
        host.step(1.0 + i, [work(b"k", {"v": 1, "id": 10 + i, "op": "arrive", "call": f"x{i}", "queue": "sales"})])
    events, more = host.events_since(host.last_seq - 3, 2)
    assert [e.seq for e in events] == [host.last_seq - 2, host.last_seq - 1] and more
    assert host.events_since(host.last_seq) == ([], False)
    reply = msgpack.unpackb(host.step(9.0, [work(b"k", {"v": 1, "id": 99, "op": "events_since", "seq": 0})])
                            .replies[0][1])
    assert reply["ok"] is False and reply["error"]["code"] == P.GONE and "snapshot" in reply["error"]["message"]


@settings(max_examples=150, deadline=None)
@given(st.one_of(
    st.binary(max_size=64),
    st.recursive(st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats() | st.text(max_size=8),
                 lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=6), kids, max_size=4),
                 max_leaves=12).map(msgpack.packb),
    st.fixed_dictionaries({"v": st.sampled_from([1, 2, None]), "id": st.integers(0, 5) | st.none(),
                           "op": st.sampled_from(list(P.ENGINE_OPS) + ["x"]),
                           "call": st.none() | st.floats() | st.booleans() | st.lists(st.integers(-9, 9), max_size=2),
                           "agent": st.none() | st.integers(-5, 5) | st.binary(max_size=3)},
                          optional={"client": st.none() | st.text(max_size=3) | st.binary(max_size=3)
                                    | st.integers(-(1 << 63), (1 << 64) - 1)  # what msgpack can pack
                                    | st.sampled_from(["k", "\x00k", "x" * 256, "é" * 128])}).map(msgpack.packb),
))
def test_fuzzed_frames_never_change_state_or_stop_the_host(frame):
    host = Host(CONFIG)
    host.step(0.0, [work(b"k", {"v": 1, "id": 1, "op": "login", "agent": "a1", "ready": True}),
                    work(b"k", {"v": 1, "id": 2, "op": "arrive", "call": "c1", "queue": "sales"})])
    before = host.digest()
    try:
        items, batch = P.decode_frame(frame)
    except P.ProtocolError as exc:
        items, batch = [P.Refused(None, exc.code, exc.message)], False
    out = host.step(0.0, [Work([b"f"], b"f", items, batch)])
    replies = msgpack.unpackb(out.replies[0][1])
    replies = replies if isinstance(replies, list) else [replies]
    assert len(replies) == len(items)
    if all(not r["ok"] for r in replies):                           # invariant 4
        assert host.digest() == before
    if all(isinstance(i, P.Refused) for i in items):
        assert out.record is None


def test_snapshot_keeps_events_typed_and_loads_formats_1_to_3():
    import pickle

    from busyhour.router.codes import EventKind
    from busyhour.router.server.host import SNAPSHOT_FORMAT

    steps = [work(b"k", {"v": 1, "id": 1, "op": "login", "agent": "a1", "ready": True}),
             work(b"k", {"v": 1, "id": 2, "op": "arrive", "call": "c1", "queue": "sales"})]
    host, py = Host(CONFIG, engine="compiled"), Host(CONFIG, engine="python")
    assert host.engine.kind == "compiled" and py.engine.kind == "python"
    host.step(0.0, steps)
    py.step(0.0, steps)
    events = host.events_since(0)[0]
    assert events and SNAPSHOT_FORMAT == 4 and py.events_since(0)[0] == events and py.digest() == host.digest()
    restored = Host(CONFIG, engine="python")  # the snapshot's engine wins
    restored.load_blob(host.to_blob())
    again = restored.events_since(0)[0]
    assert again == events and all(type(e.kind) is EventKind for e in again)
    assert restored.engine.kind == "compiled" and restored.digest() == host.digest()
    old3 = pickle.loads(host.to_blob())  # format 3 held no configuration: the host's own (the startup one) stays
    del old3["config"]
    old3["format"] = 3
    from_3 = Host(CONFIG, config_text="# the startup text\n")
    from_3.load_blob(pickle.dumps(old3))
    assert from_3.config_track.text == "# the startup text\n" and from_3.events_since(0)[0] == events
    for fmt, ring in ((1, list(events)), (2, None)):  # formats 1 and 2 held a ReferenceRouter (1: the events themselves)
        old = pickle.loads(py.to_blob())
        old["router"] = old.pop("engine").router
        old["format"] = fmt
        if ring is not None:
            old["ring"] = ring
        from_old = Host(CONFIG)
        from_old.load_blob(pickle.dumps(old))
        assert from_old.engine.kind == "python"
        assert from_old.events_since(0)[0] == events and from_old.digest() == host.digest()
        assert all(type(r) is tuple and type(r[2]) is str for r in from_old._ring)  # format 1: wire rows too


@pytest.mark.parametrize("engine", ["compiled", "python"])
def test_kept_events_leave_the_garbage_collectors_lists(engine):
    """The ring keeps events as tuples of plain values, which the collector stops tracking at their first
    collection: kept as Event records (they hold an EventKind) a million of them made every full collection
    walk them all, pausing the loop for 50-300 ms."""
    import gc

    host = Host(CONFIG, engine=engine)
    host.step(0.0, [work(b"k", {"v": 1, "id": 1, "op": "login", "agent": "a1", "ready": True}),
                    work(b"k", {"v": 1, "id": 2, "op": "arrive", "call": "c1", "queue": "sales"}),
                    work(b"k", {"v": 1, "id": 3, "op": "arrive", "call": 7, "queue": "sales"})])
    assert len(host._ring) >= 3
    gc.collect(0)
    assert not any(gc.is_tracked(r) for r in host._ring)
    assert [e.seq for e in host.events_since(0)[0]] == [r[0] for r in host._ring]
