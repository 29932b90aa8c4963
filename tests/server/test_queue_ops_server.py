"""``queue_add`` / ``queue_remove`` and a reload that adds and removes queues, over the wire and through the
journal (router/server/protocol.py, engines.py, compiled.py, reloads.py, metrics.py).

Invariants checked:
1. On both engines, over loopback: a queue added takes calls; its removal is refused (``state``) while it
   holds calls and no ``to`` is named, and changes nothing; with ``to`` its calls move there in order, its
   members leave it, ``QUEUE_REMOVED``; a removed queue is unknown to queries; it can be added again.
2. After a crash, a restart replays these ops to the same state (snapshot, queue views, statistics, seq), and
   a resent ``queue_remove`` gets its first reply byte for byte.
3. A reload over the wire adding one queue and removing another reports both (and the agents removed) in
   its result, the client's ReloadResult and the log line; a reload removing a queue that holds calls is
   refused by name and changes nothing.
4. The live metrics gauge follows the running queues: an added queue gets a label, a removed one loses it.
"""

from __future__ import annotations

import msgpack
import pytest

from busyhour.client import RouterClient, RouterRequestError
from busyhour.router import parse_toml
from busyhour.router.server.host import Host
from busyhour.router.server.metrics import Metrics
from busyhour.router.server.reloads import ReloadSummary
from test_host import work
from test_reload_server import Served, _served
from wire import Peer

BASE = """
[[agents]]
id = "a1"

[[agents]]
id = "a2"

[[agents]]
id = "a3"

[[queues]]
name = "sales"
members = ["a1"]
ring_timeout_s = 30
"""
VIP = {"name": "vip", "strategy": "ring-all", "members": ["a2", {"agent": "a3", "penalty": 1}],
       "ring_timeout_s": 20, "max_wait_s": 600}
# vip added (a2 in it), sales removed, a1 gone
RELOADED = """
[[agents]]
id = "a2"

[[agents]]
id = "a3"

[[queues]]
name = "vip"
members = ["a2"]
"""


def _kinds(reply) -> list[tuple]:
    return [(e.kind, e.call, e.queue) for e in reply.events]


@pytest.mark.parametrize("engine", ["compiled", "python"])
def test_a_queue_added_takes_calls_and_its_removal_moves_them(tmp_path, engine):
    journal = tmp_path / "journal"
    cfg, srv = _served(tmp_path, BASE, journal=journal, engine=engine)
    try:
        with RouterClient(srv.commands, timeout_s=5.0) as c:
            added = c.queue_add(VIP)
            assert [(e.kind, e.agent, e.queue) for e in added.events] == [
                ("QUEUE_ADDED", None, "vip"), ("MEMBER_ADDED", "a2", "vip"), ("MEMBER_ADDED", "a3", "vip")]
            with pytest.raises(RouterRequestError) as err:
                c.queue_add(VIP)
            assert err.value.code == "state" and "already exists" in err.value.message
            with pytest.raises(RouterRequestError) as err:
                c.queue_add({"name": "x", "members": ["nobody"]})
            assert err.value.code == "bad_request" and "unknown agent 'nobody'" in err.value.message
            with pytest.raises(RouterRequestError) as err:
                c.queue_add({"name": "x", "members": [["a1"]]})
            assert err.value.code == "bad_request" and "members[0]" in err.value.message
            with pytest.raises(TypeError, match="queue table"):
                c.queue_add("vip")
            assert _kinds(c.arrive("v1", "vip")) == [("CALL_ARRIVED", "v1", "vip"), ("CALL_QUEUED", "v1", "vip")]
            c.arrive("v2", "vip", priority=5)
            assert c.queue("vip")["waiting"] == 2
            before = c.snapshot()
            with pytest.raises(RouterRequestError) as err:
                c.queue_remove("vip")
            assert err.value.code == "state" and "holds 2 waiting" in err.value.message
            assert c.snapshot()["calls"] == before["calls"] and c.queue("vip")["waiting"] == 2
            with pytest.raises(RouterRequestError) as err:
                c.queue_remove("vip", to="nope")
            assert err.value.code == "unknown_id"
            with pytest.raises(RouterRequestError) as err:
                c.queue_remove("nope")
            assert err.value.code == "unknown_id"
            removed = c.queue_remove("vip", to="sales")
            moved = [e.call for e in removed.events if e.kind == "CALL_MOVED"]
            assert moved == ["v2", "v1"]  # waiting order: priority first
            assert [(e.kind, e.agent) for e in removed.events][-3:] == [
                ("MEMBER_REMOVED", "a2"), ("MEMBER_REMOVED", "a3"), ("QUEUE_REMOVED", None)]
            assert c.queue("sales")["waiting"] == 2
            with pytest.raises(RouterRequestError) as err:
                c.queue("vip")
            assert err.value.code == "unknown_id"
            with pytest.raises(RouterRequestError) as err:
                c.arrive("v3", "vip")
            assert err.value.code == "unknown_id"
            again = c.queue_add({"name": "vip", "members": ["a3"]})  # the name takes its old row back
            assert [e.kind for e in again.events] == ["QUEUE_ADDED", "MEMBER_ADDED"]
            c.login("a3", ready=True)
            c.arrive("v4", "vip")
            live = {q: c.queue(q) for q in ("sales", "vip")}
            snap, stats = c.snapshot(), c.stats()
        peer = Peer(srv.commands, b"pbx-q")
        first = peer.raw(msgpack.packb({"v": 1, "id": 70, "op": "queue_remove", "queue": "vip", "to": "sales"}))
        assert msgpack.unpackb(first)["ok"]
        after_remove = peer.ask("snapshot")["result"]
        peer.close()
    finally:
        srv.crash()
    srv = Served(cfg, journal=journal, engine=engine)  # the journal replays on the same engine kind
    try:
        peer = Peer(srv.commands, b"pbx-q")
        again = peer.raw(msgpack.packb({"v": 1, "id": 70, "op": "queue_remove", "queue": "vip", "to": "sales"}))
        assert again == first  # remembered across the restart: not applied twice
        replayed = peer.ask("snapshot")["result"]
        assert replayed["calls"] == after_remove["calls"] and replayed["agents"] == after_remove["agents"]
        assert replayed["seq"] == after_remove["seq"]
        assert peer.ask("queue", queue="vip")["error"]["code"] == "unknown_id"
        assert peer.ask("queue_add", queue={"name": "vip", "members": ["a3"]})["ok"]
        peer.close()
    finally:
        srv.crash()
    assert snap["seq"] < after_remove["seq"] and stats["queues"] and set(live) == {"sales", "vip"}


def test_a_restart_replays_queue_ops_to_the_same_state_on_either_engine():
    """The host's journal records of queue_add / queue_remove replay to the same digest on either engine."""
    config = parse_toml(BASE)
    for kind in ("compiled", "python"):
        live, records = Host(config, engine=kind), []
        steps = [(0.0, {"op": "login", "agent": "a1", "ready": True}), (1.0, {"op": "queue_add", "queue": VIP}),
                 (2.0, {"op": "arrive", "call": "v1", "queue": "vip"}),
                 (2.0, {"op": "arrive", "call": "v2", "queue": "vip"}),
                 (3.0, {"op": "queue_remove", "queue": "vip"}),
                 (4.0, {"op": "queue_remove", "queue": "vip", "to": "sales"}),
                 (25.0, {"op": "queue_add", "queue": {"name": "vip", "members": ["a1"]}}),
                 (26.0, {"op": "arrive", "call": "v3", "queue": "vip"})]
        for rid, (t, r) in enumerate(steps):
            out = live.step(t, [work(b"k", {"v": 1, "id": rid, **r})])
            if out.record is not None:
                records.append(out.record)
        for other in ("compiled", "python"):
            replayed = Host(config, engine=other)
            for r in records:
                replayed.replay(r)
            assert replayed.digest() == live.digest() and replayed.last_seq == live.last_seq
            assert replayed.engine.running_queues() == live.engine.running_queues() == ["sales", "vip"]


@pytest.mark.parametrize("engine", ["compiled", "python"])
def test_a_reload_adds_and_removes_queues_and_agents_and_says_so(tmp_path, engine):
    _, srv = _served(tmp_path, BASE, engine=engine)
    try:
        with RouterClient(srv.commands, timeout_s=5.0) as c:
            c.arrive("s1", "sales")
            with pytest.raises(RouterRequestError) as err:  # sales holds a call
                c.reload(RELOADED)
            assert err.value.code == "state" and "queue 'sales' holds 1" in err.value.message
            assert c.queue("sales")["waiting"] == 1
            c.abandon("s1")
            got = c.reload(RELOADED)
            assert got.changed and got.queues_added == ("vip",) and got.queues_removed == ("sales",)
            assert got.agents_removed == ("a1",) and got.agents_added == () and got.queues == ()
            kinds = [e.kind for e in got.events]
            assert kinds.index("QUEUE_ADDED") < kinds.index("QUEUE_REMOVED") < kinds.index("AGENT_REMOVED")
            with pytest.raises(RouterRequestError) as err:
                c.queue("sales")
            assert err.value.code == "unknown_id"
            assert c.arrive("v1", "vip").events[0].queue == "vip"
            with pytest.raises(RouterRequestError) as err:  # BASE removes vip, which holds v1 now
                c.reload(BASE)
            assert err.value.code == "state" and "queue 'vip' holds 1" in err.value.message
            c.abandon("v1")
            back = c.reload(BASE)  # sales takes its old row back, a1 comes back as a new agent
            assert back.queues_added == ("sales",) and back.queues_removed == ("vip",)
            assert back.agents_added == ("a1",) and back.agents_removed == ()
            assert c.queue("sales")["waiting"] == 0
    finally:
        srv.crash()


def test_the_reload_summary_round_trips_the_wire_and_describes_every_change():
    s = ReloadSummary("ab" * 32, ("n1",), (), ("vip",), ("sales",), ("a1",))
    assert ReloadSummary.from_wire(s.to_wire()) == s
    wire = s.to_wire()
    assert wire["queues_added"] == ["vip"] and wire["queues_removed"] == ["sales"] and wire["agents_removed"] == ["a1"]
    assert s.describe() == "1 agents added; queues added: vip; queues removed: sales; 1 agents removed"
    assert not ReloadSummary("ab" * 32, (), ()).changed


@pytest.mark.parametrize("engine", ["compiled", "python"])
def test_the_waiting_gauge_follows_the_running_queues(engine):
    host, metrics = Host(parse_toml(BASE), engine=engine), Metrics()

    def labels() -> dict[str, float]:
        return {s.labels["queue"]: s.value for m in metrics.waiting.collect() for s in m.samples}

    metrics.live(host.engine, 0.0, 0)
    assert labels() == {"sales": 0.0}
    host.step(1.0, [work(b"k", {"v": 1, "id": 1, "op": "queue_add", "queue": VIP})])
    host.step(1.0, [work(b"k", {"v": 1, "id": 2, "op": "arrive", "call": "v1", "queue": "vip"})])
    metrics.live(host.engine, 2.0, host.last_seq)
    assert labels() == {"sales": 0.0, "vip": 1.0}
    host.step(3.0, [work(b"k", {"v": 1, "id": 3, "op": "queue_remove", "queue": "vip", "to": "sales"})])
    metrics.live(host.engine, 4.0, host.last_seq)
    assert labels() == {"sales": 1.0}


def test_the_reload_command_prints_the_queues_and_agents_added_and_removed(tmp_path):
    import json

    from typer.testing import CliRunner

    from busyhour.cli.main import app

    _, srv = _served(tmp_path, BASE)
    path = tmp_path / "reloaded.toml"
    path.write_text(RELOADED)
    try:
        runner = CliRunner()
        table = runner.invoke(app, ["server", "reload", "--config", str(path), "--endpoint", srv.commands,
                                    "--format", "csv"])
        assert table.exit_code == 0, table.stderr
        assert table.stdout.splitlines() == ["queue,change,settings,members_added,members_updated,members_removed",
                                             "vip,added,,,,", "sales,removed,,,,"]
        path.write_text(BASE)
        doc = json.loads(runner.invoke(app, ["server", "reload", "--config", str(path), "--endpoint", srv.commands,
                                             "--format", "json"]).stdout)
        assert doc["queues_added"] == ["sales"] and doc["queues_removed"] == ["vip"] and doc["agents_added"] == ["a1"]
        assert doc["agents_removed"] == [] and doc["changed"] is True
        path.write_text(RELOADED)
        text = runner.invoke(app, ["server", "reload", "--config", str(path), "--endpoint", srv.commands]).stdout
        assert "agents removed" in text and "a1" in text and "removed" in text and "vip" in text
    finally:
        srv.crash()


@pytest.mark.parametrize("engine", ["compiled", "python"])
def test_a_reload_whose_values_are_of_the_wrong_kind_is_refused_and_changes_nothing(engine):
    """A TOML list where an agent id goes made the configuration parser raise TypeError, which the host did
    not catch: now ``bad_request``, nothing changed."""
    host = Host(parse_toml(BASE), engine=engine, config_text=BASE)
    host.step(1.0, [])
    before = host.digest()
    out = host.step(1.0, [work(b"k", {"v": 1, "id": 1, "op": "reload",
                                      "config": BASE.replace('members = ["a1"]', 'members = [["a1"]]')})])
    err = msgpack.unpackb(out.replies[0][1])["error"]
    assert err["code"] == "bad_request" and "queues[0].members[0]" in err["message"] and host.digest() == before
