"""Event subscription with gap filling (client/stream.py), pure and against the real server.

Invariants checked:

1. Topic ``all``: the events delivered are exactly the server's history from
   the subscription's start, each seq once, ascending, whatever the stream
   lost (a late subscriber, a SIGKILL + restart of the server in between).
2. Topic ``agent:<id>`` / ``queue:<name>``: exactly the history's events
   naming that agent or queue, each once; a ``tseq`` that skips or restarts
   at 1 opens a gap that ``events_since`` fills.
3. Duplicates (a message seen twice, a fill overlapping the stream) are dropped.
"""

from __future__ import annotations

import pytest
from client_helpers import restart

from busyhour.client import Event, RouterClient
from busyhour.client.stream import StreamTracker, check_since, check_topics


def ev(seq: int, agent: str | None = None, queue: str | None = None) -> list:
    return [seq, float(seq), "AGENT_STATE" if agent else "CALL_QUEUED", None, agent, queue, "", 0.0]


def msg(seq0: int, seq1: int, tseq: int, rows: list) -> dict:
    return {"seq0": seq0, "seq1": seq1, "tseq": tseq, "events": rows}


def test_tracker_all_topic_fills_gaps_and_drops_duplicates():
    t = StreamTracker(("all",), 0)
    assert t.gap("all", msg(1, 2, 1, [ev(1), ev(2)])) is None
    assert [e.seq for e in t.take_message("all", msg(1, 2, 1, [ev(1), ev(2)]))] == [1, 2]
    assert t.take_message("all", msg(1, 2, 1, [ev(1), ev(2)])) == []  # the same message again
    late = msg(6, 7, 5, [ev(6), ev(7)])
    assert t.gap("all", late) == (2, 5)
    filled = t.take_fill("all", [Event._make(ev(s)) for s in range(2, 8)], 5)  # a fill overlapping both sides
    assert [e.seq for e in filled] == [3, 4, 5]
    assert [e.seq for e in t.take_message("all", late)] == [6, 7]
    assert t.duplicates_dropped == 2 and t.gaps_filled == 1


def test_tracker_agent_topic_uses_tseq_and_restart():
    t = StreamTracker(("agent:a1",), 10)
    first = msg(11, 12, 1, [ev(11, "a1")])
    assert t.gap("agent:a1", first) is None
    t.take_message("agent:a1", first)
    assert t.gap("agent:a1", msg(20, 21, 2, [ev(21, "a1")])) is None  # tseq continuous: nothing missed
    t.take_message("agent:a1", msg(20, 21, 2, [ev(21, "a1")]))
    restarted = msg(40, 41, 1, [ev(41, "a1")])  # a restarted server counts tseq from 1 again
    assert t.gap("agent:a1", restarted) == (21, 39)
    got = t.take_fill("agent:a1", [Event._make(ev(30, "a1")), Event._make(ev(31, "a2"))], 39)
    assert [e.seq for e in got] == [30]
    assert [e.seq for e in t.take_message("agent:a1", restarted)] == [41]


def test_tracker_restart_hidden_by_a_continuing_tseq_is_caught_by_the_check():
    t = StreamTracker(("agent:a1",), 0)
    t.boot = "boot-1"
    t.take_message("agent:a1", msg(1, 1, 1, [ev(1, "a1")]))
    assert t.check("boot-1", 1) == []  # confirmed up to seq 1
    # the server restarts; its first message on agent:a1 (tseq 1, seq 5) is lost; the next has tseq 2
    later = msg(9, 9, 2, [ev(9, "a1")])
    assert t.gap("agent:a1", later) is None  # looks continuous
    t.take_message("agent:a1", later)
    assert t.check("boot-2", 9) == [("agent:a1", 1, 9)]  # the new boot: refill from what was confirmed
    got = t.take_fill("agent:a1", [Event._make(ev(s, "a1")) for s in (5, 9)], 9)
    assert [e.seq for e in got] == [5]  # the lost event; seq 9 was delivered already


@pytest.mark.parametrize("topics", [(), ("agent:",), ("bogus",), (42,)])
def test_bad_topics_refused(topics):
    with pytest.raises(ValueError, match="topic"):
        check_topics(topics)


@pytest.mark.parametrize("since", [-1, 1.5, True, "0"])
def test_bad_since_refused(since):
    with pytest.raises(ValueError, match="since"):
        check_since(since)


def _collect(sub, until_seq: int, timeout_s: float = 15.0) -> list[Event]:
    import time

    got: list[Event] = []
    end = time.monotonic() + timeout_s
    while time.monotonic() < end and (not got or got[-1].seq < until_seq):
        got.extend(sub.next_events(0.2))
    return got


def _traffic(c: RouterClient, tag: str, n: int) -> None:
    for i in range(n):
        call = f"{tag}{i}"
        offer = [e for e in c.arrive(call, "sales").events if e.kind == "CALL_OFFERED"]
        c.accept(call, offer[0].agent)
        c.release(call)


def test_late_subscriber_and_restart_see_the_whole_history(server):
    c = RouterClient(server.commands, server.events, timeout_s=0.5, retries=40)
    try:
        c.pipeline([("login", {"agent": a, "ready": True}) for a in ("a1", "a2", "a3")])
        _traffic(c, "early", 5)  # before anybody subscribed
        sub = c.subscribe(("all",), since=0)
        agent_sub = c.subscribe(("agent:a1",), since=0)
        _traffic(c, "mid", 5)
        restart(server)  # the stream loses whatever was in flight; tseq starts again at 1
        _traffic(c, "late", 5)
        last = c.ping().seq
        history = c.fetch_events(0)
        assert [e.seq for e in history] == list(range(1, last + 1))
        got = _collect(sub, last)
        assert got == history  # gap-free, in order, each once, identical records
        mine = _collect(agent_sub, max(e.seq for e in history if e.agent == "a1"))
        assert mine == [e for e in history if e.agent == "a1"]
    finally:
        c.close()


def test_subscription_from_now_sees_only_new_events(server):
    with RouterClient(server.commands, server.events, timeout_s=1.0) as c:
        c.login("a4", ready=True)
        before = c.ping().seq
        sub = c.subscribe(("queue:support",))
        c.arrive("s1", "support")
        c.arrive("s2", "support")
        want = [e for e in c.fetch_events(0) if e.seq > before and e.queue == "support"]
        got = _collect(sub, want[-1].seq)
        assert got == want and all(e.seq > before for e in got)


def _wire_stream(history: list[list], cuts: list[int], restarts: set[int]) -> list[tuple[str, dict, int, int]]:
    """The PUB messages a server sends for ``history`` split into wake-ups at ``cuts`` (as protocol.stream_frames),
    each with the server's boot and last seq when it was sent; the server restarts before the wake-ups in
    ``restarts``."""
    out: list[tuple[str, dict, int, int]] = []
    tseq: dict[str, int] = {}
    boot = 0
    bounds = [0, *sorted(set(cuts)), len(history)]
    for w, (a, b) in enumerate(zip(bounds, bounds[1:])):
        if a >= b:
            continue
        if w in restarts:
            tseq.clear()  # a restarted server counts tseq from 1 again
            boot += 1
        rows = history[a:b]
        groups: dict[str, list] = {"all": list(rows)}
        for r in rows:
            if r[4] is not None:
                groups.setdefault(f"agent:{r[4]}", []).append(r)
            if r[5] is not None:
                groups.setdefault(f"queue:{r[5]}", []).append(r)
        for topic, grp in groups.items():
            tseq[topic] = tseq.get(topic, 0) + 1
            out.append((topic, msg(rows[0][0], rows[-1][0], tseq[topic], grp), boot, rows[-1][0]))
    return out


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(names=st.lists(st.sampled_from(["a1", "a2", None]), min_size=1, max_size=60), data=st.data())
def test_tracker_delivers_each_event_once_whatever_the_stream_loses(names, data):
    history = [ev(i + 1, agent=a, queue=None if a else "q") for i, a in enumerate(names)]
    cuts = data.draw(st.lists(st.integers(1, len(history)), max_size=20))
    restarts = set(data.draw(st.lists(st.integers(1, 8), max_size=3)))
    stream = _wire_stream(history, cuts, restarts)
    fate = data.draw(st.lists(st.sampled_from(["keep", "drop", "twice", "check"]), min_size=len(stream),
                              max_size=len(stream)))
    topics = data.draw(st.sampled_from([("all",), ("agent:a1",), ("agent:a1", "queue:q"), ("agent:a2",)]))
    start = data.draw(st.integers(0, len(history)))
    tracker = StreamTracker(topics, start)
    tracker.boot = 0
    events = [Event._make(r) for r in history]

    def fill(topic: str, after: int, upto: int) -> list[Event]:
        return tracker.take_fill(topic, [e for e in events if e.seq > after], upto)

    got: list[Event] = []
    for (topic, m, boot, seq), f in zip(stream, fate):
        if f == "check":  # the periodic ping, answered as the server stood when this message went out
            for plan in tracker.check(boot, seq):
                got.extend(fill(*plan))
        if topic not in tracker.topics or f in ("drop", "check"):
            continue
        for _ in range(2 if f == "twice" else 1):
            gap = tracker.gap(topic, m)
            if gap is not None:
                got.extend(fill(topic, *gap))
            got.extend(tracker.take_message(topic, m))
    last_boot = stream[-1][2] if stream else 0
    for plan in tracker.check(last_boot, len(history)):  # the check after the stream went quiet
        got.extend(fill(*plan))
    want = [e for e in events if e.seq > start and ("all" in topics or any(
        (t == f"agent:{e.agent}") or (t == f"queue:{e.queue}") for t in topics))]
    if topics == ("all",):
        assert got == want  # gap-free and in order
    else:
        assert sorted(got) == want and len({e.seq for e in got}) == len(got)  # each once
