"""The bridge's view of the router's event stream (part of :class:`bh_bridge.Bridge`).

Keeps ``last_seq`` in step with the server: detects gaps (seq), a restarted
server (new ``boot`` in ``ping``) and fills them with ``events_since``, or
``snapshot`` when the server answers ``gone``. Every ``adapter.reconcile_s`` seconds
(and at first contact) it also takes a ``snapshot`` and acts on the
difference (:meth:`Sync.reconcile`): a live call marked with this adapter's
name that the bridge does not hold is a ghost (a caller gone, a path the
bridge missed) and is abandoned; a call the bridge holds that the server no
longer has is ended on the SIP side. Cost: one snapshot (all live calls and
agents) per ``reconcile_s`` (30 by default), O(calls) to compare. Imports nothing from busyhour.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only for the annotations: bh_bridge imports this module
    from bh_bridge import HeldCall

#: CALL_ENDED detail -> (SIP code, reason phrase) for the caller; anything else exited/rejected -> 503.
FINAL = {
    "rejected:queue-full": (486, "Queue Full"),
    "rejected:no-agents": (480, "No Agents"),
    "exited:no-agents": (480, "No Agents"),
    "exited:timeout": (480, "Queue Timeout"),
}
UNAVAILABLE = (503, "Routing Unavailable")
ENDED_ELSEWHERE = (480, "Call Ended")


class LineLimit:
    """At most ``per_window`` log lines each ``window_s`` seconds (one per Kamailio process: the handler's notes,
    the bridge's warnings); the lines left out are counted and said in one line, ``dropped`` formatted with their
    number, when the next window opens."""

    def __init__(self, per_window: int, window_s: float, dropped: str) -> None:
        self.per_window, self.window_s, self.dropped = per_window, window_s, dropped
        self.start_s, self.n = -1e18, 0

    def lines(self, line: str, now_s: float) -> list[str]:
        """What to log for ``line`` at ``now_s``: the count of the last window's dropped lines when this one is
        the first of a new window, then ``line`` unless this window is full."""
        out = []
        if now_s - self.start_s >= self.window_s:
            if self.n > self.per_window:
                out.append(self.dropped.format(self.n - self.per_window))
            self.start_s, self.n = now_s, 0
        self.n += 1
        if self.n <= self.per_window:
            out.append(line)
        return out


class Sync:
    """Mixin of :class:`bh_bridge.Bridge`: stream sequencing, resync, reconcile, events."""

    def on_ping(self, res: dict, now_s: float) -> None:
        if self.last_seq < 0:                       # first contact: look for leftovers
            self.last_seq, self.boot = int(res["seq"]), res["boot"]
            self.ask_snapshot(now_s)
        elif int(res["seq"]) < self.last_seq:     # a different journal: our seqs mean nothing there
            self.boot, self.last_seq, self.stash = res["boot"], int(res["seq"]), []
            self.ask_snapshot(now_s)
        elif res["boot"] != self.boot:                 # restarted from its journal: fill the gap
            self.boot = res["boot"]
            self.resync(now_s)
        elif int(res["seq"]) > self.last_seq:          # behind; resync if still behind at the next ping
            if self.behind_seq is not None and self.last_seq < self.behind_seq:
                self.resync(now_s)
            self.behind_seq = int(res["seq"])
        else:
            self.behind_seq = None
            if now_s - self.reconciled_s >= self.reconcile_s and not self.resyncing:
                self.ask_snapshot(now_s)

    def ask_snapshot(self, now_s: float) -> None:
        self.resyncing = True
        self.reconciled_s = now_s
        self.request("snapshot", now_s)

    def resync(self, now_s: float) -> None:
        if not self.resyncing:
            self.resyncing = True
            self.request("events_since", now_s, seq=self.last_seq)

    def on_sync_reply(self, op: str, rep: dict, n: int, now_s: float) -> None:
        if op == "events_since":
            self.resyncing = False
            if rep.get("ok"):
                res = rep["result"]
                self.apply(res["events"])
                if res.get("more"):
                    self.resync(now_s)
                else:
                    self.replay_stash()
            elif rep["error"]["code"] == "gone":
                self.ask_snapshot(now_s)
        else:                           # snapshot
            self.resyncing = False      # on an error the next ping asks again
            if rep.get("ok"):
                self.reconcile(rep["result"], n)
                self.replay_stash()

    def on_stream(self, msg: dict) -> None:
        if self.last_seq < 0 or self.resyncing:
            self.stash.append(msg)
        elif msg["seq0"] > self.last_seq + 1:
            self.stash.append(msg)
            self.resync(self.now_s)
        else:
            self.apply(msg["events"])

    def replay_stash(self) -> None:
        stash, self.stash = self.stash, []
        for msg in stash:
            self.on_stream(msg)

    def apply(self, events: list) -> None:
        for ev in events:
            if ev[0] <= self.last_seq:
                continue
            self.last_seq = ev[0]
            self.on_event(ev[2], ev[3], ev[4], ev[6])

    def reconcile(self, snap: dict, n: int = 1 << 62) -> None:
        """Compare our calls with the server's live calls (``snapshot``, our request number ``n``).

        Calls whose arrive went out after the snapshot, or with a request
        still in flight, are left for the next round (the snapshot may not
        show them yet, or shows them about to end)."""
        self.last_seq = max(self.last_seq, int(snap["seq"]))
        live = {c["call"]: c for c in snap["calls"]}
        busy = {p.req.get("call") for p in self.pending.values()}
        for call_id, s in live.items():
            if (call_id not in self.calls and call_id not in busy and call_id not in self.off_book
                    and (s.get("context") or {}).get("kamailio") == self.name):
                self.request("abandon", self.now_s, call=call_id)
        for call_id, c in list(self.calls.items()):
            s = live.get(call_id)
            if s is None:
                if c.arrive_n < n and call_id not in busy:
                    self.ended_elsewhere(call_id, c, None)
            elif s["state"] == "OFFERED" and c.phase == "held":
                ringing = s.get("ringing") or [s.get("agent")]
                self.decide(call_id, c, ("offer", ringing[0]))

    def on_event(self, kind: str, call_id: Any, agent: Any, detail: str) -> None:
        if kind == "AGENT_STATE":
            self.note_agent(agent, detail)
            return
        c = self.calls.get(call_id)
        if c is None:
            return      # not a call this Kamailio holds
        if kind == "CALL_OFFERED":
            self.decide(call_id, c, ("offer", agent))
        elif kind in ("OFFER_EXPIRED", "OFFER_WITHDRAWN"):
            if c.phase == "ringing" and c.agent == agent and not c.cancelling:
                c.cancelling = True
                self.actions.append(("cancel", call_id, c.cseq))
            elif c.pending and c.pending[0] == "offer" and c.pending[1] == agent:
                c.pending = None
        elif kind == "CALL_ENDED":
            if detail.startswith("exited:") or detail.startswith("rejected:"):
                self.ended_elsewhere(call_id, c, ("final",) + FINAL.get(detail, UNAVAILABLE))
            else:                       # e.g. abandoned or released by another client
                self.ended_elsewhere(call_id, c, ("final",) + ENDED_ELSEWHERE)

    def ended_elsewhere(self, call_id: Any, c: HeldCall, todo: tuple | None) -> None:
        """The engine has no such call any more: end the SIP side (a connected call just is forgotten)."""
        if c.phase == "connected":
            del self.calls[call_id]
            return
        if c.phase == "ringing" and not c.cancelling:
            c.cancelling = True
            self.actions.append(("cancel", call_id, c.cseq))
        self.decide(call_id, c, todo or ("final",) + UNAVAILABLE)

    def note_agent(self, agent: Any, detail: str) -> None:
        """An AGENT_STATE event: remember it for agents put not ready while they talk outside the engine."""
        if agent in self.agent_state:
            self.agent_state[agent] = detail
