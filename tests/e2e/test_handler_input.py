"""The Kamailio handler (adapters/kamailio/busyhour_kamailio.py) against a fake ``KSR`` module, without Kamailio.

app_python3's ``KSR.pv.get`` raises ``UnicodeDecodeError`` for a field whose bytes are not UTF-8; the fake does
the same. Checked:
1. such bytes in the dialled number give 404 (not a queue), in an ``X-Busyhour-*`` header 400 Bad X-Busyhour
   Header, in the Call-ID ``400 Bad Call-ID`` (replied by the handler), in a BYE's Call-ID nothing: never an
   ERROR line, never ``500 Adapter Error``;
2. those lines are INFO and rate-limited per process;
3. a bridge whose sockets cannot open (``adapter.ipc`` in a missing folder) is not kept half-open: the router
   flag stays 0, one ERROR line, and a later try binds the ipc socket once the folder exists.
"""

from __future__ import annotations

import importlib.util
import sys
import time
import types

import msgpack
import pytest
import zmq

from busyhour.bench.sip_stack import ADAPTER_DIR


class FakeKSR(types.ModuleType):
    """What the handler uses of app_python3's ``KSR``; ``fields`` holds str, or bytes decoded as app_python3 does."""

    def __init__(self) -> None:
        super().__init__("KSR")
        self.fields: dict = {}
        self.lines: list[tuple[str, str]] = []
        self.replies: list[tuple[int, str]] = []
        self.suspended = 0
        self.pv = types.SimpleNamespace(get=self._get, seti=self._set, sets=self._set)
        self.tm = types.SimpleNamespace(t_reply=lambda code, reason: self.replies.append((code, reason)) or 1)
        self.tmx = types.SimpleNamespace(t_suspend=self._suspend)
        for level in ("info", "warn", "err"):
            setattr(self, level, lambda line, level=level: self.lines.append((level, line)))

    def _get(self, name: str):
        value = self.fields.get(name)
        return value.decode("utf-8") if isinstance(value, bytes) else value   # strict, like app_python3

    def _set(self, name: str, value) -> None:
        self.fields[name] = value

    def _suspend(self) -> int:
        self.suspended += 1
        return 1

    def levels(self) -> list[str]:
        return [level for level, _ in self.lines]


@pytest.fixture
def ksr(monkeypatch):
    fake = FakeKSR()
    monkeypatch.setitem(sys.modules, "KSR", fake)
    monkeypatch.setattr(sys, "path", list(sys.path))       # the handler puts its folder first
    spec = importlib.util.spec_from_file_location("busyhour_kamailio_under_test", ADAPTER_DIR / "busyhour_kamailio.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    fake.mod = mod
    return fake


def _handler(ksr, ipc: str = "ipc:///nonexistent/x"):
    cfg = {"router": {"commands": "tcp://127.0.0.1:1", "events": "tcp://127.0.0.1:2"},
           "adapter": {"ipc": ipc, "name": "t", "queue_equals_user": True},
           "queues": {"5000": "sales"}, "agents": {}}
    handler = ksr.mod.Handler(cfg)
    handler.pushed = []
    handler._push = lambda fact: handler.pushed.append(fact) or True
    return handler


def _invite(ksr, **fields) -> None:
    ksr.fields.update({"$rU": "5000", "$ci": "call-1", "$cs": "1", "$sht(bh=>up)": 1, "$T(id_index)": 7,
                       "$T(id_label)": 9})
    ksr.fields.update(fields)


def test_a_good_invite_is_held_and_pushed(ksr):
    h = _handler(ksr)
    _invite(ksr, **{"$hdr(X-Busyhour-Priority)": "5", "$hdr(X-Busyhour-Skills)": "es=2"})
    assert h.bh_invite(None) == 1 and ksr.suspended == 1
    assert h.pushed == [{"k": "arrive", "c": "call-1", "q": "sales", "cseq": "1", "priority": 5,
                         "skills": {"es": 2}, "ti": 7, "tl": 9}]


@pytest.mark.parametrize("field, bad, code", [
    ("$rU", b"50\xff0", "NOT_A_QUEUE"),
    ("$hdr(X-Busyhour-Priority)", b"5\xff", "BAD_HEADER"),
    ("$hdr(X-Busyhour-Skills)", b"\xffes=2", "BAD_HEADER"),
    ("$hdr(X-Busyhour-Agent)", b"a\xff1", "BAD_HEADER"),
    ("$hdr(X-Busyhour-Priority)", "\u00b2", "BAD_HEADER"),
])
def test_bytes_that_are_not_utf8_get_a_4xx_at_info(ksr, field, bad, code):
    h = _handler(ksr)
    _invite(ksr, **{field: bad})
    assert h.bh_invite(None) == getattr(ksr.mod, code)                                      # (1)
    assert ksr.levels() == ["info"] and ksr.suspended == 0 and h.pushed == []              # (2)
    assert field.removeprefix("$hdr(").removesuffix(")") in ksr.lines[0][1] or field == "$rU"


def test_a_call_id_that_is_not_utf8_gets_400(ksr):
    h = _handler(ksr)
    _invite(ksr, **{"$ci": b"bad\xff\xfe-1"})
    assert h.bh_invite(None) == 1 and ksr.replies == [(400, "Bad Call-ID")]                # (1)
    assert ksr.suspended == 0 and h.pushed == [] and ksr.levels() == ["info"]
    assert h.bh_bye(None) == 1 and h.bh_cancel(None) == 1 and h.pushed == []
    assert "err" not in ksr.levels()


def test_caller_errors_are_rate_limited(ksr, monkeypatch):
    h = _handler(ksr)
    _invite(ksr, **{"$hdr(X-Busyhour-Priority)": "x"})
    for _ in range(500):
        assert h.bh_invite(None) == ksr.mod.BAD_HEADER
    assert set(ksr.levels()) == {"info"} and len(ksr.lines) <= 50                           # (2)
    assert len(ksr.lines) == ksr.mod.NOTES_PER_WINDOW
    assert h.note_limit.window_s == ksr.mod.NOTE_WINDOW_S
    monkeypatch.setattr(h.note_limit, "window_s", 0.0)                                      # the window is over
    h.bh_invite(None)
    assert f"{500 - ksr.mod.NOTES_PER_WINDOW} more caller errors not logged" in ksr.lines[-2][1]


def test_a_bridge_that_cannot_bind_is_not_kept_half_open(ksr, tmp_path, monkeypatch):
    folder = tmp_path / "run"
    ipc = f"ipc://{folder}/b.ipc"
    h = _handler(ksr, ipc)
    ksr.fields["$sht(bh=>up)"] = 1          # as if an earlier bridge had been up
    monkeypatch.setattr(ksr.mod, "OPEN_RETRY_S", 0.0, raising=False)
    for _ in range(5):
        assert h.bh_tick(None) == 1
    assert h.bridge is None and ksr.fields["$sht(bh=>up)"] == 0                            # (3)
    assert ksr.levels() == ["err"] and "cannot open its sockets" in ksr.lines[0][1]
    folder.mkdir()
    assert h.bh_tick(None) == 1 and h.bridge is not None
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 0)
    try:
        push.connect(ipc)
        push.send(msgpack.packb({"k": "arrive", "c": "c1", "q": "sales", "cseq": "1", "ti": 1, "tl": 2}))
        end = time.monotonic() + 5
        while "c1" not in h.bridge.calls and time.monotonic() < end:
            h.bh_tick(None)
            time.sleep(0.01)
        assert "c1" in h.bridge.calls                   # the retried bridge bound the workers' socket
        assert ksr.fields["$sht(bh=>up)"] == 0          # no router here
    finally:
        push.close()
        ctx.term()
        h.bridge.sock.context.destroy(linger=0)
