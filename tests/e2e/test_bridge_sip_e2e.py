"""Hostile callers against the real loop: a raw UDP caller -> Kamailio (adapters/kamailio) -> ``busyhour serve``.

Checked: (1) a second INVITE with a live call's Call-ID gets 482 and the first call goes on; (2) a caller's
BYE before the answer (early dialog) ends the attempt like a CANCEL, whether the caller is held or its
agent rings: 200 to the BYE, 487 to the INVITE, the call abandoned in the engine, the branch cancelled,
nothing left live. Needs the Debian packages (see conftest.py).
"""

from __future__ import annotations

import socket
import time
import uuid

import pytest

from busyhour.bench.sip_stack import SipStack

pytestmark = pytest.mark.slow

ROUTER = """
[[agents]]
id = "n1"

[[queues]]
name = "sales"
members = ["n1"]
ring_timeout_s = 30
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory, sip_packages):
    with SipStack(tmp_path_factory.mktemp("sip"), ROUTER, {"n1": "noanswer.xml"}, {"5000": "sales"},
                  children=2) as s:
        assert s.request("login", agent="n1", ready=False)["ok"]
        yield s


class Caller:
    """One UDP caller speaking just enough SIP."""

    def __init__(self, stack: SipStack, call_id: str) -> None:
        self.stack, self.call_id, self.tag = stack, call_id, uuid.uuid4().hex[:8]
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.got: list[str] = []

    def __enter__(self) -> "Caller":
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def send(self, method: str, cseq: int, to_tag: str = "") -> None:
        to = f"<sip:5000@127.0.0.1>{';tag=' + to_tag if to_tag else ''}"
        self.sock.sendto((f"{method} sip:5000@127.0.0.1:{self.stack.sip_port} SIP/2.0\r\n"
                          f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bK{uuid.uuid4().hex[:12]}\r\n"
                          f"From: <sip:c@127.0.0.1:{self.port}>;tag={self.tag}\r\nTo: {to}\r\n"
                          f"Call-ID: {self.call_id}\r\nCSeq: {cseq} {method}\r\n"
                          f"Contact: <sip:c@127.0.0.1:{self.port}>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
                          ).encode(), ("127.0.0.1", self.stack.sip_port))

    def wait(self, pred, timeout_s: float = 4.0) -> list[str]:
        """Read until pred(all messages so far) holds (bounded); return the status lines with their CSeq method."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not pred(self.got):
            try:
                self.got.append(self.sock.recv(65536).decode(errors="replace"))
            except socket.timeout:
                continue
        return [m.split("\r\n")[0].split()[1] + " " + _hdr(m, "CSeq").split()[-1] for m in self.got]

    def to_tags(self) -> list[str]:
        return [_hdr(m, "To").split("tag=")[1] for m in self.got if m.startswith("SIP/2.0 18") and "tag=" in m]


def _hdr(msg: str, name: str) -> str:
    return next((line.split(":", 1)[1].strip() for line in msg.split("\r\n")[1:]
                 if line.lower().startswith(name.lower() + ":")), "")


def outcome(stack: SipStack, call_id: str) -> list:
    return [(ev[2], ev[6]) for ev in stack.events() if ev[3] == call_id and ev[2] in ("CALL_ENDED", "CALL_OFFERED")]


def test_duplicate_call_id_then_bye_of_the_held_caller(stack):
    call_id = uuid.uuid4().hex
    with Caller(stack, call_id) as first, Caller(stack, call_id) as second:
        duplicate_then_bye(stack, call_id, first, second)


def duplicate_then_bye(stack: SipStack, call_id: str, first: Caller, second: Caller) -> None:
    first.send("INVITE", 1)
    assert first.wait(lambda got: got and got[-1].startswith("SIP/2.0 180")) == ["180 INVITE"]
    # The 180 comes from Kamailio before the bridge hears of the call; each INVITE may reach another worker,
    # so wait until the engine holds the first call: the second is then a duplicate of a live call.
    deadline = time.monotonic() + 4.0
    while not stack.request("call", call=call_id)["ok"] and time.monotonic() < deadline:
        time.sleep(0.05)
    second.send("INVITE", 1)
    assert second.wait(lambda got: any(not m.startswith("SIP/2.0 1") for m in got))[-1] == "482 INVITE"   # (1)
    assert stack.request("call", call=call_id)["result"]["state"] == "WAITING"
    first.send("BYE", 2, first.to_tags()[0])
    lines = first.wait(lambda got: sum(not m.startswith("SIP/2.0 1") for m in got) >= 2)
    assert sorted(lines[1:]) == ["200 BYE", "487 INVITE"], lines                                        # (2)
    assert stack.settle() == [] and outcome(stack, call_id) == [("CALL_ENDED", "abandoned")]


def test_bye_while_the_agent_rings_cancels_the_branch(stack):
    assert stack.request("ready", agent="n1")["ok"]
    try:
        call_id = uuid.uuid4().hex
        with Caller(stack, call_id) as caller:
            caller.send("INVITE", 1)
            caller.wait(lambda got: len(got) >= 2)             # our 180, then the agent's
            tags = caller.to_tags()
            assert len(set(tags)) == 2, caller.got
            caller.send("BYE", 2, tags[-1])                    # the agent's early dialog
            lines = caller.wait(lambda got: any(m.startswith("SIP/2.0 487") for m in got))
        assert "487 INVITE" in lines and "200 BYE" in lines, lines                                      # (2)
        assert stack.settle() == []
        assert outcome(stack, call_id) == [("CALL_OFFERED", ""), ("CALL_ENDED", "abandoned-ringing")]
        assert stack.request("agent", agent="n1")["result"]["state"] == "AVAILABLE"
    finally:
        stack.request("not_ready", agent="n1")
