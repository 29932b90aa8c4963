"""Asterisk ``queues.conf`` (and optionally ``agents.conf``) → a busyhour router configuration.

Every section that is not ``[general]`` and not a template is a queue.
Every member interface (``member => PJSIP/1001,2``) becomes an agent whose id
is the interface, shared by every queue that lists it: a member naming an
agent that does not exist elsewhere is **created** as an agent (Asterisk has
no agent list of its own; with ``--agents``, ``Agent/<id>`` members are checked
against agents.conf and a missing one is noted). Each option is mapped as
docs/import.md and docs/routing.md ("Asterisk / FreeSWITCH option →
busyhour") describe; what is approximated or not mapped becomes a
:class:`~busyhour.adapters.importers.common.Note`.
"""

from __future__ import annotations

import math
import os
from typing import Any

from .asterisk_conf import Entry, Section, read_sections
from .common import MAX_NUMBER, Notes, SourceError, check_counts, render_toml
from .result import ImportResult
from ...router.empty import CONDITIONS as EMPTY_CONDITIONS

#: Asterisk strategy → (busyhour strategy, difference or "" when the rule is the same).
STRATEGIES: dict[str, tuple[str, str]] = {
    "ringall": ("ring-all", ""),
    "leastrecent": ("leastrecent", ""),
    "fewestcalls": ("fewestcalls", ""),
    "random": ("random", ""),
    "rrmemory": ("round-robin", "the ring follows the listing order here (Asterisk's own member order otherwise)"),
    "roundrobin": ("round-robin", "the ring follows the listing order here (Asterisk's own member order otherwise)"),
    "rrordered": ("round-robin", ""),
    "linear": ("top-down", ""),
    "wrandom": ("wrandom", ""),
}
#: With [general] shared_lastcall = yes, Asterisk counts a member's calls in every queue that lists it.
_SHARED_COUNTS = {"leastrecent": "longest-idle-agent", "fewestcalls": "agent-with-fewest-calls"}

_TRUE = {"yes", "true", "y", "t", "1", "on"}
_FALSE = {"no", "false", "n", "f", "0", "off"}
_EMPTY_ALIASES = {  # joinempty / leavewhenempty legacy words (queues.conf.sample)
    "joinempty": {"yes": "", "no": "penalty,paused,invalid", "strict": "penalty,paused,invalid,unavailable",
                  "loose": "penalty,invalid"},
    "leavewhenempty": {"yes": "penalty,paused,invalid", "no": "", "strict": "penalty,paused,invalid,unavailable",
                       "loose": "penalty,invalid"},
}
_EMPTY_CONDITIONS = set(EMPTY_CONDITIONS)

ADAPTER = "played or set by the PBX adapter; busyhour routes only"
_ADAPTER_KEYS = {
    "musicclass", "musiconhold", "announce", "queue-callerannounce", "context", "setinterfacevar",
    "setqueueentryvar", "setqueuevar", "membergosub", "membermacro", "announce-frequency", "min-announce-frequency",
    "periodic-announce-frequency", "periodic-announce-startdelay", "random-periodic-announce",
    "relative-periodic-announce", "announce-holdtime", "announce-position", "announce-to-first-user",
    "announce-position-limit", "announce-round-seconds", "announce-position-only-up", "periodic-announce",
    "monitor-format", "monitor-type", "reportholdtime", "memberdelay", "timeoutpriority", "eventwhencalled",
    "eventmemberstatus", "updatecdr",
}
_UNSUPPORTED: dict[str, str] = {
    "retry": "busyhour offers the call to the next candidate at once; a pause between rounds is not modelled",
    "penaltymemberslimit": "busyhour always applies penalties (no member-count limit)",
    "defaultrule": "queuerules.conf penalty rules are not imported; write escalation steps instead",
    "autopausedelay": "max_no_answer has no delay since the last call",
    "autopausebusy": "a busy reply locks the agent for busy_delay_s; it never pauses it",
    "autopauseunavail": "an unreachable device is the adapter's business (log the agent out)",
    "timeoutrestart": "a busy or congested reply ends the offer (reject), it does not restart the timer",
}
_GENERAL: dict[str, tuple[str, str]] = {  # key -> (status when set to yes, reason)
    "autofill": ("same", "busyhour always offers waiting calls to every free agent in parallel"),
    "shared_lastcall": ("same", "an agent's wrap-up holds for every queue it serves"),
    "force_longest_waiting_caller": ("approx", "a freed agent takes, over its queues, the highest queue weight, "
                                                "then priority, then the longest-waiting call"),
}


def import_asterisk(queues_path: str | os.PathLike[str], agents_path: str | os.PathLike[str] | None = None
                    ) -> ImportResult:
    """Read ``queues.conf`` (and ``agents.conf``) and return the busyhour configuration and the notes."""
    notes = Notes()
    label = str(queues_path)
    sections = read_sections(queues_path, notes, label)
    known_agents: dict[str, Entry | Section] = {}
    own: dict[str, dict[str, Any]] = {}  # agents.conf settings per agent id
    if agents_path is not None:
        known_agents, own = _agents_conf(agents_path, notes)
    agents: dict[str, dict[str, Any]] = {}
    queues: list[dict[str, Any]] = []
    n_queues = sum(1 for s in sections if not s.template and s.name.lower() != "general")
    shared = any(e.key == "shared_lastcall" and _bool(e.value) is True
                 for s in sections if s.name.lower() == "general" for e in s.entries)
    check_counts(label, n_queues, 0, 0)
    for sec in sections:
        if sec.template:
            continue
        if sec.name.lower() == "general":
            _general(sec, notes)
            continue
        queues.append(_queue(sec, agents, notes, shared))
    if not queues:
        raise SourceError(label, None, "no queue found (every section is [general] or a template)")
    for aid, where in known_agents.items():
        agents.setdefault(aid, {"id": aid}).update(own.get(aid, {}))
    for aid in agents:
        if known_agents and aid.lower().startswith("agent/") and aid not in known_agents:
            notes.approx(label, aid, "member", aid, "not defined in the agents file; created as an agent")
    check_counts(label, len(queues), len(agents), sum(len(q.get("members", [])) for q in queues))
    raw: dict[str, Any] = {"agents": list(agents.values()), "queues": queues}
    header = [f"busyhour router configuration imported from Asterisk {os.path.basename(label)}"
              + (f" and {os.path.basename(str(agents_path))}" if agents_path is not None else ""),
              "by 'busyhour import asterisk'. Rules: docs/routing.md; the mapping: docs/import.md."]
    merged = notes.merged()
    return ImportResult(render_toml(raw, merged, header, label), tuple(merged), len(queues), len(agents))


def _general(sec: Section, notes: Notes) -> None:
    for e in sec.entries:
        if e.key in _GENERAL:
            kind, reason = _GENERAL[e.key]
            on = _bool(e.value)
            if on is True and kind == "same":
                continue
            if on is True:
                notes.approx(e.where, "general", e.key, e.value, reason)
            else:
                notes.skip(e.where, "general", e.key, e.value, f"not supported: {reason}")
        else:
            notes.skip(e.where, "general", e.key, e.value, "a global setting with no busyhour meaning (logging, "
                                                           "storage or a PBX feature)")


def _bool(text: str) -> bool | None:
    t = text.strip().lower()
    return True if t in _TRUE else False if t in _FALSE else None


def _number(e: Entry, scope: str, notes: Notes, *, lo: float = 0.0) -> float | None:
    try:
        v = float(e.value)
    except ValueError:
        notes.skip(e.where, scope, e.key, e.value, "not a number; the busyhour default is kept")
        return None
    if math.isnan(v) or not lo <= v <= MAX_NUMBER:
        notes.skip(e.where, scope, e.key, e.value, f"must be a number from {lo:g} to {MAX_NUMBER:,}; the busyhour "
                                                   "default is kept")
        return None
    return v


def _seconds(v: float) -> float | int:
    return int(v) if float(v).is_integer() else v


def _queue(sec: Section, agents: dict[str, dict[str, Any]], notes: Notes, shared: bool = False) -> dict[str, Any]:
    """One queue's table; ``shared``: [general] shared_lastcall = yes."""
    q: dict[str, Any] = {"name": sec.name, "strategy": "ring-all"}  # Asterisk's default strategy is ringall
    last: dict[str, Entry] = {}
    members: list[Entry] = []
    for e in sec.entries:  # a later value overrides an inherited one; members accumulate
        if e.key == "member":
            members.append(e)
        else:
            last[e.key] = e
    strategy = "ringall"
    if "strategy" in last:
        e = last["strategy"]
        strategy = e.value.lower()
        if strategy not in STRATEGIES:
            notes.skip(e.where, sec.name, "strategy", e.value, "unknown strategy; ring-all (Asterisk's default) used")
            strategy = "ringall"
        else:
            q["strategy"], diff = STRATEGIES[strategy]
            if shared and strategy in _SHARED_COUNTS:
                diff = (f"with shared_lastcall = yes Asterisk counts a member's calls in every queue that lists it; "
                        f"busyhour's {strategy} counts this queue's only ({_SHARED_COUNTS[strategy]} counts every "
                        "queue's, with other tie-breaks)")
            if diff:
                notes.approx(e.where, sec.name, "strategy", e.value, f"→ {q['strategy']}: {diff}")
    empty_rules: list[Entry] = []
    for key, e in last.items():
        if key == "strategy":
            continue
        if key in ("joinempty", "leavewhenempty"):
            empty_rules.append(e)
        elif not _option(key, e, q, sec.name, notes):
            notes.skip(e.where, sec.name, key, e.value, "unknown option")
    _empty_rules(empty_rules, q, sec.name, notes)
    q["members"] = _members(members, strategy, sec.name, agents, notes)
    return q


def _option(key: str, e: Entry, q: dict[str, Any], scope: str, notes: Notes) -> bool:
    """Map one queue option into ``q`` (or note it); False when the option is unknown."""
    if key in ("timeout", "wrapuptime", "servicelevel", "maxlen", "weight"):
        v = _number(e, scope, notes)
        if v is None:
            return True
        if key == "timeout":
            if v == 0:
                notes.skip(e.where, scope, key, e.value, "0 (ring until answered) has no equivalent: a ring timeout "
                                                         "is > 0; the busyhour default 15 s is kept")
            else:
                q["ring_timeout_s"] = _seconds(v)
        elif key == "wrapuptime":
            q["wrap_up_s"] = _seconds(v)
        elif key == "servicelevel":
            if v > 0:
                q["sl_threshold_s"] = _seconds(v)
        elif key == "maxlen":
            q["max_length"] = int(v)
        else:
            q["weight"] = int(v) + 1 if v.is_integer() else v + 1
            notes.approx(e.where, scope, key, e.value, f"→ weight {q['weight']}: busyhour weights are > 0, so "
                                                        "Asterisk's weight + 1 (the same order)")
        return True
    if key == "autopause":
        t = e.value.strip().lower()
        if t == "all" or _bool(t) is True:
            q["max_no_answer"] = 1
            if t != "all":
                notes.approx(e.where, scope, key, e.value, "→ max_no_answer = 1: the agent goes NOT_READY for "
                                                            "every queue, not only this one")
        elif _bool(t) is not False:
            notes.skip(e.where, scope, key, e.value, "expected yes, no or all")
        return True
    if key in ("autofill", "ringinuse"):
        on = _bool(e.value)
        if (key == "autofill" and on is False) or (key == "ringinuse" and on is True):
            why = ("busyhour always serves waiting calls in parallel" if key == "autofill"
                   else "an agent with a call on a channel is never offered another on it (capacity)")
            notes.skip(e.where, scope, key, e.value, f"not supported: {why}")
        return True
    if key in _ADAPTER_KEYS or key.startswith("queue-"):
        notes.skip(e.where, scope, key, e.value, ADAPTER)
        return True
    if key in _UNSUPPORTED:
        notes.skip(e.where, scope, key, e.value, f"not supported: {_UNSUPPORTED[key]}")
        return True
    return False


def _empty_rules(rules: list[Entry], q: dict[str, Any], scope: str, notes: Notes) -> None:
    """joinempty / leavewhenempty → join_empty / leave_when_empty (their conditions; the legacy words as
    queues.conf.sample translates them)."""
    for e in rules:
        text = _EMPTY_ALIASES[e.key].get(e.value.strip().lower(), e.value)
        conds = {c.strip().lower() for c in text.split(",") if c.strip()}
        unknown = sorted(conds - _EMPTY_CONDITIONS)
        if unknown:
            notes.skip(e.where, scope, e.key, e.value, f"unknown condition {', '.join(unknown)}")
            conds -= set(unknown)
        key = "join_empty" if e.key == "joinempty" else "leave_when_empty"
        q[key] = [c for c in EMPTY_CONDITIONS if c in conds]
        diffs = []
        if conds & {"invalid", "unknown"}:
            diffs.append("invalid and unknown mean logged out (busyhour has no device states)")
        if "inuse" in conds:
            diffs.append("inuse: on a connected call of any channel")
        if q[key] and key == "leave_when_empty":
            diffs.append("checked at the instant a member's state changes, not about once a second")
        if diffs:
            notes.approx(e.where, scope, e.key, e.value, f"→ {key} = {q[key]}: {'; '.join(diffs)}")


def _members(lines: list[Entry], strategy: str, scope: str, agents: dict[str, dict[str, Any]],
             notes: Notes) -> list[Any]:
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for e in lines:
        fields = [f.strip() for f in e.value.split(",")]
        iface = fields[0]
        if not iface or "/" not in iface:
            raise SourceError(e.file, e.line, f"member {e.value[:40]!r}: expected Technology/Resource[,penalty…]")
        if iface in seen:
            notes.skip(e.where, scope, "member", iface, "listed twice in this queue; the first listing is kept")
            continue
        seen.add(iface)
        m: dict[str, Any] = {"agent": iface}
        if len(fields) > 1 and fields[1]:
            try:
                m["penalty"] = int(fields[1])
            except ValueError:
                notes.skip(e.where, scope, "member penalty", fields[1], "not an integer; penalty 0 used")
            else:
                if abs(m["penalty"]) > MAX_NUMBER:
                    notes.skip(e.where, scope, "member penalty", fields[1], f"beyond ±{MAX_NUMBER:,}; penalty 0 used")
                    del m["penalty"]
        for i, (name, reason) in enumerate((
                ("membername", "names are for logs; the interface is the agent id"),
                ("state_interface", "device state is followed by the PBX adapter"),
                ("ringinuse", "per-member ringinuse is not supported (capacity decides)"),
                ("wrapuptime", "per-member wrap-up is not supported; the queue's wrapuptime applies"),
                ("paused", "members start logged out here; pause them at run time")), start=2):
            if len(fields) > i and fields[i] and not (name == "ringinuse" and _bool(fields[i]) is False):
                notes.skip(e.where, "members", f"member {name}", fields[i], reason)
        agents.setdefault(iface, {"id": iface})
        out.append(m)
    penalties = [m.get("penalty", 0) for m in out]
    if penalties and min(penalties) < 0:
        low = min(penalties)
        for m in out:
            m["penalty"] = m.get("penalty", 0) - low
        notes.approx(lines[0].where, scope, "member penalty", low,
                     f"negative penalties: every penalty raised by {-low} (busyhour penalties are ≥ 0; same order)")
    return [m if len(m) > 1 else m["agent"] for m in out]


def _agents_conf(path: str | os.PathLike[str], notes: Notes) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Agent ids (``Agent/<id>``) from agents.conf — ``[id](template)`` sections or ``agent => id,pw,name``
    lines — and each section's own settings (``wrapuptime``, milliseconds → ``wrap_up_s``)."""
    label = str(path)
    found: dict[str, Any] = {}
    own: dict[str, dict[str, Any]] = {}
    for sec in read_sections(path, notes, label):
        if sec.template:
            continue
        if sec.name.lower() in ("general", "agents"):
            for e in sec.entries:
                if e.key == "agent":
                    found.setdefault("Agent/" + e.value.split(",")[0].strip(), e)
                else:
                    notes.skip(e.where, sec.name, e.key, e.value, "agent channel setting; not a routing rule")
            continue
        found.setdefault("Agent/" + sec.name, sec)
        for e in sec.entries:
            if e.key == "fullname":
                continue
            if e.key == "wrapuptime":  # the agent's own wrap-up, in milliseconds; a later entry wins
                ms = _number(e, "agents", notes)
                if ms is not None:
                    own.setdefault("Agent/" + sec.name, {})["wrap_up_s"] = _seconds(ms / 1000)
                continue
            notes.skip(e.where, "agents", e.key, e.value, "agent channel setting; not a routing rule")
    return found, own
