"""FreeSWITCH ``callcenter.conf.xml`` (mod_callcenter) → a busyhour router configuration.

The file is read with expat, the parser under :mod:`xml.etree.ElementTree`,
driven directly so that every element keeps its line number for the
messages. A ``<!DOCTYPE>`` (and so any entity declaration) is refused with a
clear error: a configuration needs none, and refusing it rules out entity
expansion attacks without defusedxml. Nesting is limited to
:data:`MAX_DEPTH` levels, the size to the importer's limit.

Mapping: ``<queue name>`` → a queue, its ``<param>`` → queue keys;
``<agent name>`` → an agent; ``<tier agent queue level position>`` → a member
(``level`` → ``tier``, ``position`` → ``position``). A tier naming an agent
or queue that is not defined is **reported and skipped** (FreeSWITCH refuses
it too). mod_callcenter's per-agent settings (wrap-up, the three delays,
max-no-answer) become the agent's own settings, which busyhour uses over its
queues' (docs/routing.md §8).
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from xml.parsers import expat

from .common import MAX_NUMBER, Notes, SourceError, check_counts, read_bytes, render_toml
from .result import ImportResult

MAX_DEPTH = 64

STRATEGIES = ("ring-all", "longest-idle-agent", "round-robin", "top-down", "agent-with-least-talk-time",
              "agent-with-fewest-calls", "sequentially-by-agent-order", "random", "ring-progressively")

#: agent attribute → busyhour agent key
AGENT_SETTINGS = {"wrap-up-time": "wrap_up_s", "reject-delay-time": "reject_delay_s",
                  "busy-delay-time": "busy_delay_s", "no-answer-delay-time": "no_answer_delay_s",
                  "max-no-answer": "max_no_answer"}

ADAPTER = "played, recorded or dialled by the PBX adapter; busyhour routes only"
_QUEUE_ADAPTER = {"moh-sound", "announce-sound", "announce-frequency", "record-template", "cid-name-prefix"}
_TIER_RULES = "not supported: busyhour has no tier wait rules; every level serves from the start, lower first"
_QUEUE_UNSUPPORTED = {
    "tier-rule-wait-second": _TIER_RULES,
    "tier-rule-wait-multiply-level": _TIER_RULES, "tier-rule-no-agent-no-wait": _TIER_RULES,
    "discard-abandoned-after": "only used with abandoned-resume-allowed: a caller who hangs up and calls back is "
                               "a new call in busyhour",
    "max-wait-time-with-no-agent-time-reached": "not supported: busyhour applies max_wait_no_agents_s to each "
                                                "caller from its entry or the last logout",
    "skip-agents-with-external-calls": "the adapter marks an agent on an outside call not ready (or busy)",
}


@dataclass
class XNode:
    tag: str
    attrs: dict[str, str]
    line: int
    children: list["XNode"] = field(default_factory=list)


def parse_xml(data: bytes, label: str) -> XNode:
    """The element tree of ``data`` with line numbers; DOCTYPE refused; errors as :class:`SourceError`."""
    parser = expat.ParserCreate()
    root: list[XNode] = []
    stack: list[XNode] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        if len(stack) >= MAX_DEPTH:
            raise SourceError(label, parser.CurrentLineNumber, f"elements nested deeper than {MAX_DEPTH}")
        node = XNode(tag, attrs, parser.CurrentLineNumber)
        (stack[-1].children if stack else root).append(node)
        stack.append(node)

    def end(tag: str) -> None:
        stack.pop()

    def doctype(*args: Any) -> None:
        raise SourceError(label, parser.CurrentLineNumber, "a <!DOCTYPE> (DTD or entity declaration) is not "
                                                           "accepted; remove it")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = doctype
    parser.ExternalEntityRefHandler = doctype
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        undeclared = b"encoding" not in data[:data.find(b"?>") + 1] if data.lstrip().startswith(b"<?xml") else True
        if exc.code == expat.errors.codes[expat.errors.XML_ERROR_INVALID_TOKEN] and undeclared and not _is_utf8(data):
            raise SourceError(label, exc.lineno, f"not UTF-8 (column {exc.offset + 1}); an XML file is UTF-8 unless "
                                                 'it starts with a declaration such as <?xml version="1.0" '
                                                 'encoding="ISO-8859-1"?>') from None
        raise SourceError(label, exc.lineno, f"not well-formed XML: {expat.ErrorString(exc.code)} "
                                             f"(column {exc.offset + 1})") from None
    return root[0]


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _find_config(root: XNode, label: str) -> XNode:
    todo = deque([root])
    while todo:
        node = todo.popleft()
        if node.tag == "configuration" and node.attrs.get("name", "").lower() == "callcenter.conf":
            return node
        todo += node.children
    raise SourceError(label, root.line, 'no <configuration name="callcenter.conf"> element; '
                                        "is this mod_callcenter's configuration?")


def import_freeswitch(path: str | os.PathLike[str]) -> ImportResult:
    """Read ``callcenter.conf.xml`` and return the busyhour configuration and the notes."""
    label = str(path)
    notes = Notes()
    cfg = _find_config(parse_xml(read_bytes(path, label=label), label), label)
    at = lambda node: f"{label}:{node.line}"  # noqa: E731
    queues: dict[str, dict[str, Any]] = {}
    agents: dict[str, dict[str, int | float]] = {}
    agent_lines: dict[str, int] = {}
    tiers: list[XNode] = []
    for block in cfg.children:
        if block.tag == "settings":
            for p in block.children:
                notes.skip(at(p), "settings", p.attrs.get("name", p.tag), p.attrs.get("value", ""),
                           "a storage or deployment setting of mod_callcenter")
        elif block.tag == "queues":
            for node in _children(block, "queue", label, notes):
                name = _required(node, "name", label)
                if name in queues:
                    raise SourceError(label, node.line, f"queue {name!r} defined twice")
                queues[name] = _queue(node, name, label, notes)
        elif block.tag == "agents":
            for node in _children(block, "agent", label, notes):
                name = _required(node, "name", label)
                if name in agents:
                    raise SourceError(label, node.line, f"agent {name!r} defined twice (first at line "
                                                        f"{agent_lines[name]})")
                agent_lines[name] = node.line
                agents[name] = _agent(node, name, label, notes)
        elif block.tag == "tiers":
            tiers += _children(block, "tier", label, notes)
        else:
            notes.skip(at(block), "file", f"<{block.tag}>", "", "not part of mod_callcenter's configuration; ignored")
    check_counts(label, len(queues), len(agents), len(tiers))
    if not queues:
        raise SourceError(label, cfg.line, "no <queue> found in <queues>")
    members = _tiers(tiers, queues, agents, label, notes)
    for qname, q in queues.items():
        q["members"] = [m for _, m in members[qname]]
        levels = {m.get("tier", 1) if isinstance(m, dict) else 1 for m in q["members"]}
        if q["strategy"] == "ring-all" and len(levels) > 1:
            notes.approx(q.pop("_where"), qname, "strategy", "ring-all", "only the lowest level with a free agent "
                         "rings; FreeSWITCH without tier rules rings every level")
        q.pop("_where", None)
    raw = {"agents": [{"id": a, **{AGENT_SETTINGS[k]: v for k, v in settings.items()}} for a, settings in agents.items()],
           "queues": list(queues.values())}
    header = [f"busyhour router configuration imported from FreeSWITCH {os.path.basename(label)}",
              "by 'busyhour import freeswitch'. Rules: docs/routing.md; the mapping: docs/import.md."]
    merged = notes.merged()
    return ImportResult(render_toml(raw, merged, header, label), tuple(merged), len(queues), len(agents))


def _children(block: XNode, tag: str, label: str, notes: Notes) -> list[XNode]:
    out = []
    for node in block.children:
        if node.tag == tag:
            out.append(node)
        else:
            notes.skip(f"{label}:{node.line}", block.tag, f"<{node.tag}>", "", f"expected <{tag}>; ignored")
    return out


def _required(node: XNode, attr: str, label: str) -> str:
    value = node.attrs.get(attr, "").strip()
    if not value:
        raise SourceError(label, node.line, f"<{node.tag}> without a {attr}=\"…\" attribute")
    return value


def _int(value: str, where: str, scope: str, option: str, notes: Notes, default: int) -> int:
    try:
        v = int(value.strip())
    except ValueError:
        notes.skip(where, scope, option, value, f"not an integer; {default} used")
        return default
    if not 0 <= v <= MAX_NUMBER:
        notes.skip(where, scope, option, value, f"outside 0 to {MAX_NUMBER:,}; {default} used")
        return default
    return v


def _queue(node: XNode, name: str, label: str, notes: Notes) -> dict[str, Any]:
    q: dict[str, Any] = {"name": name, "strategy": "longest-idle-agent", "_where": f"{label}:{node.line}"}
    for p in _children(node, "param", label, notes):
        key = _required(p, "name", label).lower()
        value = p.attrs.get("value", "").strip()
        where = f"{label}:{p.line}"
        if "$${" in value or "${" in value:
            if key in _QUEUE_ADAPTER:
                notes.skip(where, name, key, value, ADAPTER)
            else:
                notes.skip(where, name, key, value, "a FreeSWITCH variable; write the value itself")
            continue
        if key == "strategy":
            if value in STRATEGIES:
                q["strategy"] = value
            else:
                notes.skip(where, name, key, value, "unknown strategy; longest-idle-agent (the default) used")
        elif key in ("max-wait-time", "max-wait-time-with-no-agent", "ring-progressively-delay"):
            v = _int(value, where, name, key, notes, 0)
            if key == "max-wait-time" and v > 0:
                q["max_wait_s"] = v
            elif key == "max-wait-time-with-no-agent" and v > 0:
                q["max_wait_no_agents_s"] = v
                notes.approx(where, name, key, value, "→ max_wait_no_agents_s: counted from the caller's entry or "
                                                      "the last logout of a member (any state counts as present)")
            elif key == "ring-progressively-delay":
                if v > 0:
                    q["ring_step_s"] = v
                else:
                    notes.skip(where, name, key, value, "0 has no equivalent (ring_step_s > 0); 5 s used")
        elif key == "time-base-score":
            if value.lower() != "system":
                notes.approx(where, name, key, value, "a caller's place always counts from its first arrival in "
                                                      "the system (kept across overflow and transfer)")
        elif key in ("tier-rules-apply", "abandoned-resume-allowed"):
            if value.lower() not in ("false", "no", "0", "off"):  # false is busyhour's rule
                notes.skip(where, name, key, value, _TIER_RULES if key == "tier-rules-apply" else
                           "not supported: a caller who hangs up and calls back is a new call")
        elif key == "agent-no-answer-status":
            if value.lower() != "on break":
                notes.skip(where, name, key, value, "not supported: after max-no-answer the agent is always "
                                                    "NOT_READY:no-answer (On Break)")
        elif key in _QUEUE_ADAPTER:
            notes.skip(where, name, key, value, ADAPTER)
        elif key in _QUEUE_UNSUPPORTED:
            notes.skip(where, name, key, value, _QUEUE_UNSUPPORTED[key])
        else:
            notes.skip(where, name, key, value, "unknown option")
    return q


def _agent(node: XNode, name: str, label: str, notes: Notes) -> dict[str, int | float]:
    where = f"{label}:{node.line}"
    settings: dict[str, int | float] = {}
    for attr, value in node.attrs.items():
        key = attr.lower()
        if key == "name":
            continue
        if key in AGENT_SETTINGS:
            settings[key] = _int(value, where, name, key, notes, 0)
        elif key in ("type", "contact"):
            notes.skip(where, "agents", key, value, "how to reach the agent is the PBX adapter's business")
        elif key == "status":
            notes.skip(where, "agents", key, value, "agents start logged out; log them in at run time "
                                                    "(agent_login, ready=True for Available)")
        else:
            notes.skip(where, "agents", key, value, "unknown option")
    return settings


def _tiers(tiers: list[XNode], queues: dict[str, dict[str, Any]], agents: dict[str, Any], label: str,
           notes: Notes) -> dict[str, list[tuple[str, Any]]]:
    members: dict[str, list[tuple[str, Any]]] = {q: [] for q in queues}
    first: dict[tuple[str, str], int] = {}
    for t in tiers:
        where = f"{label}:{t.line}"
        agent, queue = _required(t, "agent", label), _required(t, "queue", label)
        if queue not in queues:
            notes.skip(where, queue, "tier", agent, "no such queue in <queues>; tier skipped")
            continue
        if agent not in agents:
            notes.skip(where, queue, "tier", agent, "no such agent in <agents>; tier skipped")
            continue
        if (queue, agent) in first:
            notes.skip(where, queue, "tier", agent, f"already a tier of this queue (line {first[queue, agent]}); "
                                                    "the first is kept")
            continue
        first[queue, agent] = t.line
        m: dict[str, Any] = {"agent": agent}
        for attr, value in t.attrs.items():
            key = attr.lower()
            if key == "level":
                m["tier"] = _int(value, where, queue, "tier level", notes, 1)
            elif key == "position":
                m["position"] = _int(value, where, queue, "tier position", notes, 1)
            elif key == "state":
                notes.skip(where, "members", "tier state", value, "a run-time state; tiers start Ready")
            elif key not in ("agent", "queue"):
                notes.skip(where, "members", f"tier {key}", value, "unknown option")
        if m.get("tier") == 1:
            del m["tier"]
        members[queue].append((agent, m if len(m) > 1 else agent))
    return members
