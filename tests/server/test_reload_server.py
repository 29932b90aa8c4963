"""``reload`` through a served loop on loopback: the client library, the event stream, the journal and the
restart rule, SIGHUP (router/server/reloads.py, docs/server.md "Reloading the configuration").

Invariants checked:
1. A reload over the wire with calls in progress keeps them; its events reach the reply and the stream;
   the sync and the async client return the typed summary, and a refusal raises with the server's message.
2. After a crash (no snapshot at exit), a restart with the file as last reloaded replays to the same state;
   the startup file, or any other, is refused, naming the configurations the journal knows.
3. A journal whose header lacks the configuration's text (written before reloads were served) refuses
   another file as before, and with its own file starts and keeps the text from then on.
4. SIGHUP (the handler, and a real signal to a served process) reloads the --config file at a wake-up; a
   file that cannot be read or is refused is logged and changes nothing; the server goes on.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from pathlib import Path

import msgpack
import pytest

from busyhour.client import AsyncRouterClient, ReloadResult, RouterClient, RouterRequestError
from busyhour.router.server.journal import Journal
from busyhour.router.server.loop import Server, ServerOptions
from busyhour.router.server.reloads import text_sha256
from busyhour.router.server.runtime import ServerError
from wire import Listener, Peer, spawn

BASE = """
[[agents]]
id = "a1"

[[agents]]
id = "a2"

[[queues]]
name = "sales"
members = ["a1"]
ring_timeout_s = 30
"""
GROWN = BASE.replace('members = ["a1"]', 'members = ["a1", "a2"]')  # a2 joins sales
OTHER = BASE.replace("ring_timeout_s = 30", "ring_timeout_s = 40")


class Served:
    """An in-process server on free loopback ports, its loop on a thread."""

    def __init__(self, config: Path, journal: Path | None = None, engine: str = "auto"):
        self.server = Server(ServerOptions(config=config, bind="tcp://127.0.0.1:0", pub="tcp://127.0.0.1:0",
                                           journal=journal, engine=engine))
        self.server.recover()
        self.server.bind()
        self.commands, self.events = self.server.endpoints
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def crash(self) -> None:
        """Stop without the snapshot a SIGTERM writes: a restart replays the journal."""
        self.server.stop()
        self.thread.join(10)
        self.server.close()


def _served(tmp_path: Path, text: str, **kw) -> tuple[Path, Served]:
    cfg = tmp_path / "center.toml"
    cfg.write_text(text)
    return cfg, Served(cfg, **kw)


def _until(check, timeout_s: float = 10.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("engine", ["compiled", "python"])
def test_a_reload_over_the_wire_keeps_calls_and_streams_its_events(tmp_path, engine):
    _, srv = _served(tmp_path, BASE, engine=engine)
    listener = Listener(srv.events)
    try:
        with RouterClient(srv.commands, timeout_s=5.0) as c:
            c.login("a2", ready=True)
            c.login("a1")  # logged in, not ready: the call waits
            c.arrive("c1", "sales")
            time.sleep(0.2)  # the subscription is in place
            got = c.reload(GROWN)
            assert isinstance(got, ReloadResult) and got.changed and got.config_sha256 == text_sha256(GROWN)
            assert [(q.queue, q.members_added) for q in got.queues] == [("sales", ("a2",))]
            assert [(e.kind, e.agent) for e in got.events] == [("MEMBER_ADDED", "a2"), ("CALL_OFFERED", "a2"),
                                                              ("AGENT_STATE", "a2")]
            assert c.call("c1")["state"] == "OFFERED"  # the call lived through the reload
            with pytest.raises(RouterRequestError) as info:
                c.reload(BASE.replace("[[agents]]\nid = \"a2\"\n", ""))  # a2 is logged in
            assert info.value.code == "state" and "agent 'a2' is logged in" in info.value.message
            with pytest.raises(RouterRequestError) as info:
                c.reload(BASE.replace('id = "a1"', 'id = "a1"\ncapacity = { voice = 2 }'))
            assert info.value.code == "bad_request" and "need a restart: agents['a1']" in info.value.message
            with pytest.raises(TypeError, match="reload_file"):
                c.reload(GROWN.encode())
            with pytest.raises(ValueError, match="no such file; give the configuration file"):
                c.reload_file(tmp_path / "missing.toml")
        stream = [e for m in listener.collect(0.5) for e in m["events"]]
        assert [e[2] for e in stream if e[2] == "MEMBER_ADDED"] == ["MEMBER_ADDED"]
    finally:
        listener.close()
        srv.crash()


def test_the_async_client_reloads_a_file(tmp_path):
    cfg, srv = _served(tmp_path, BASE)
    (tmp_path / "grown.toml").write_text(GROWN)

    async def go() -> tuple[ReloadResult, str]:
        async with AsyncRouterClient(srv.commands, timeout_s=5.0) as c:
            got = await c.reload_file(tmp_path / "grown.toml")
            try:
                await c.reload("[[queues]\n")
            except RouterRequestError as exc:
                return got, exc.message
            return got, ""

    try:
        got, refused = asyncio.run(go())
        assert got.queues[0].members_added == ("a2",) and refused.startswith("reload config: not valid TOML")
    finally:
        srv.crash()


def test_a_restart_takes_the_file_as_last_reloaded_and_refuses_the_others(tmp_path):
    journal = tmp_path / "journal"
    cfg, srv = _served(tmp_path, BASE, journal=journal)
    peer = Peer(srv.commands, b"pbx-r")
    try:
        assert peer.ask("login", agent="a1", ready=True)["ok"] and peer.ask("login", agent="a2", ready=True)["ok"]
        assert peer.ask("arrive", call="c1", queue="sales")["ok"]
        first = peer.raw(msgpack.packb({"v": 1, "id": 50, "op": "reload", "config": GROWN}))
        assert msgpack.unpackb(first)["ok"]
        assert peer.ask("arrive", call="c2", queue="sales")["ok"]  # offered to a2, a member since the reload
        before = peer.ask("snapshot")["result"]
    finally:
        peer.close()
        srv.crash()
    for text, words in ((BASE, "is the configuration this journal started with, but a reload changed it"),
                        (OTHER, "is neither configuration this journal knows")):
        cfg.write_text(text)
        with pytest.raises(ServerError) as info:
            Served(cfg, journal=journal)
        message = str(info.value)
        assert words in message and "start with the file as last reloaded, or use a new journal folder" in message
        assert text_sha256(BASE)[:12] in message and text_sha256(GROWN)[:12] in message
    cfg.write_text(GROWN)
    srv = Served(cfg, journal=journal)
    peer = Peer(srv.commands, b"pbx-r")
    try:
        after = peer.ask("snapshot")["result"]
        assert [c["call"] for c in after["calls"]] == [c["call"] for c in before["calls"]] == ["c1", "c2"]
        assert after["agents"] == before["agents"] and after["seq"] == before["seq"]
        again = peer.raw(msgpack.packb({"v": 1, "id": 50, "op": "reload", "config": GROWN}))
        assert again == first  # remembered across the restart: not applied twice
    finally:
        peer.close()
        srv.crash()


def test_a_journal_without_the_configuration_text_is_checked_as_before_then_keeps_it(tmp_path):
    journal, cfg = tmp_path / "journal", tmp_path / "center.toml"
    cfg.write_text(BASE)
    j, _ = Journal.open(journal)  # the header an older server wrote: the file's sha256 only
    j.write_header({"format": 1, "epoch_unix_s": time.time(), "config_sha256": text_sha256(BASE),
                    "created_unix_s": time.time(), "engine": "compiled"})
    j.close()
    cfg.write_text(OTHER)
    with pytest.raises(ServerError, match="written with another configuration file"):
        Served(cfg, journal=journal)
    cfg.write_text(BASE)
    srv = Served(cfg, journal=journal)
    try:
        with RouterClient(srv.commands, timeout_s=5.0) as c:
            assert c.reload(GROWN).changed
    finally:
        srv.crash()
    j, rec = Journal.open(journal)
    j.close()
    assert rec.header["config_toml"] == BASE and rec.header["format"] == 2
    cfg.write_text(GROWN)
    Served(cfg, journal=journal).crash()  # the file as last reloaded: it starts


def test_sighup_reloads_the_file_and_a_bad_file_changes_nothing(tmp_path, caplog):
    cfg, srv = _served(tmp_path, BASE, journal=tmp_path / "journal")
    host = srv.server.host
    try:
        with caplog.at_level(logging.INFO, logger="busyhour.server"):
            for text, words in (("[[queues]\n", "reload refused (bad_request): reload config: not valid TOML"),
                                (OTHER.replace('id = "a1"', 'id = "a1"\ncapacity = { voice = 2 }'),
                                 "need a restart"),
                                (None, "cannot reload"), (GROWN, "reloaded (sha256")):
                caplog.clear()
                if text is None:
                    cfg.unlink()
                else:
                    cfg.write_text(text)
                srv.server.hangup()
                assert _until(lambda: words in caplog.text), caplog.text
                assert srv.thread.is_alive()
        assert host.config_track.sha256 == text_sha256(GROWN)
        assert [m.agent for m in host.engine.config.queues[0].members] == ["a1", "a2"]
    finally:
        srv.crash()
    again = Served(cfg, journal=tmp_path / "journal")  # SIGHUP's reload was journaled: the file as reloaded starts
    try:
        assert again.server.host.config_track.sha256 == text_sha256(GROWN)
    finally:
        again.crash()


def test_a_real_sighup_reloads_a_served_process(tmp_path):
    cfg = tmp_path / "center.toml"
    cfg.write_text(BASE)
    srv = spawn(cfg, journal=tmp_path / "journal", log_path=tmp_path / "log")
    peer = Peer(srv.commands, b"pbx-h")
    try:
        assert peer.ask("login", agent="a2", ready=True)["ok"]
        cfg.write_text(GROWN)
        os.kill(srv.proc.pid, signal.SIGHUP)
        assert _until(lambda: peer.ask("queue", queue="sales")["result"]["available"] == 1)
        assert srv.alive()
        assert srv.stop() == 0
        srv = spawn(cfg, journal=tmp_path / "journal")  # the file is the configuration running: it starts
        peer.close()
        peer = Peer(srv.commands, b"pbx-h")
        assert peer.ask("queue", queue="sales")["result"]["available"] == 1
    finally:
        peer.close()
        srv.kill()
