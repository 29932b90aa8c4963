"""``busyhour import freeswitch``: callcenter.conf.xml → a busyhour configuration.

Checked on the configuration ``parse_config`` reads back from the importer's TOML:
1. every mapped queue param, agent attribute and tier of tests/data/import/callcenter.conf.xml lands on its key;
2. each mod_callcenter strategy maps to the busyhour strategy of the same name;
3. per-agent settings become the agents' own settings;
4. tiers naming an unknown agent or queue, and unknown params, are listed and skipped, never an error;
5. malformed XML, a DOCTYPE, a missing name, a duplicate queue: ``FILE:LINE: problem``.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import pytest

from busyhour.adapters.importers import APPROXIMATED, NOT_MAPPED, SourceError, import_freeswitch
from busyhour.adapters.importers.freeswitch import STRATEGIES
from busyhour.router.codes import STRATEGY_NAMES
from busyhour.router.config import RouterConfig, parse_config

DATA = Path(__file__).resolve().parents[1] / "data" / "import"


def configured(result) -> RouterConfig:
    return parse_config(tomllib.loads(result.toml))


def queue(cfg: RouterConfig, name: str):
    return next(q for q in cfg.queues if q.name == name)


def xml_file(tmp_path: Path, queues: str = "", agents: str = "", tiers: str = "", wrap: bool = False) -> Path:
    body = (f'<configuration name="callcenter.conf">\n<queues>\n{queues}\n</queues>\n'
            f"<agents>\n{agents}\n</agents>\n<tiers>\n{tiers}\n</tiers>\n</configuration>\n")
    if wrap:
        body = f'<document type="freeswitch/xml">\n<section name="configuration">\n{body}</section>\n</document>\n'
    path = tmp_path / "callcenter.conf.xml"
    path.write_text(body)
    return path


@pytest.fixture(scope="module")
def sample():
    return import_freeswitch(DATA / "callcenter.conf.xml")


def test_sample_queues(sample):
    cfg = configured(sample)
    assert [(q.name, q.strategy) for q in cfg.queues] == [
        ("support@default", "longest-idle-agent"), ("sales@default", "ring-progressively"), ("vip@default", "ring-all")]
    support = queue(cfg, "support@default")
    assert support.max_wait_s == 300 and support.max_wait_no_agents_s == 120
    sales = queue(cfg, "sales@default")
    assert sales.ring_step_s == 8 and math.isinf(sales.max_wait_s)  # max-wait-time 0 = no limit


def test_sample_tiers_become_members(sample):
    cfg = configured(sample)
    assert [(m.agent, m.tier, m.position) for m in queue(cfg, "support@default").members] == [
        ("1000@default", 1, 1), ("1001@default", 1, 2), ("1002@default", 2, 1)]
    assert [(m.agent, m.position) for m in queue(cfg, "sales@default").members] == [
        ("1000@default", 2), ("1001@default", 1)]
    assert [(m.agent, m.tier) for m in queue(cfg, "vip@default").members] == [("1000@default", 1), ("1002@default", 2)]
    assert [a.id for a in cfg.agents] == ["1000@default", "1001@default", "1002@default", "1003@default"]


def test_sample_agent_settings_become_the_agents_own(sample):
    cfg = configured(sample)
    own = {a.id: (a.wrap_up_s, a.reject_delay_s, a.busy_delay_s, a.no_answer_delay_s, a.max_no_answer)
           for a in cfg.agents}
    assert own == {"1000@default": (10, 10, 60, 20, 3), "1001@default": (10, 10, 60, 20, 3),
                   "1002@default": (10, 10, 60, 20, 5), "1003@default": (45, None, None, None, None)}
    support = queue(cfg, "support@default")  # the queues keep their defaults: each agent's own values apply
    assert (support.wrap_up_s, support.max_no_answer) == (0, 0)
    assert not [n for n in sample.notes if n.option in ("max-no-answer", "wrap-up-time")]  # mapped exactly


def test_sample_notes(sample):
    by = {(n.scope, n.option): n for n in sample.notes}
    assert by["sales@default", "loudness"][4:6] == (NOT_MAPPED, "unknown option")
    assert by["sales@default", "loudness"].where.endswith("callcenter.conf.xml:27")
    assert "no such agent" in by["support@default", "tier"].reason
    assert "no such queue" in by["nowhere@default", "tier"].reason
    assert by["vip@default", "time-base-score"].status == APPROXIMATED
    assert by["vip@default", "strategy"].status == APPROXIMATED  # ring-all over two levels
    assert by["agents", "status"].count == 3
    assert by["support@default", "tier-rule-wait-second"].status == NOT_MAPPED
    assert ("support@default", "tier-rules-apply") not in by  # false: busyhour's own rule
    assert ("support@default", "time-base-score") not in by  # system: busyhour's own rule
    assert ("sales@default", "agent-no-answer-status") not in by  # On Break = NOT_READY:no-answer
    assert "loudness = 11: not mapped: unknown option" in sample.toml


@pytest.mark.parametrize("name", STRATEGIES)
def test_each_freeswitch_strategy_is_ours(tmp_path, name):
    assert name in STRATEGY_NAMES
    path = xml_file(tmp_path, f'<queue name="q"><param name="strategy" value="{name}"/></queue>',
                    '<agent name="a" type="callback"/>', '<tier agent="a" queue="q"/>')
    r = import_freeswitch(path)
    assert configured(r).queues[0].strategy == name
    assert not [n for n in r.notes if n.option == "strategy"]


def test_document_wrapper_and_unknown_strategy(tmp_path):
    path = xml_file(tmp_path, '<queue name="q"><param name="strategy" value="telepathy"/></queue>', wrap=True)
    r = import_freeswitch(path)
    assert configured(r).queues[0].strategy == "longest-idle-agent"
    assert any(n.option == "strategy" and n.status == NOT_MAPPED for n in r.notes)


def test_agent_settings_in_no_queue_and_bad_numbers(tmp_path):
    path = xml_file(tmp_path, '<queue name="q"/>',
                    '<agent name="a" wrap-up-time="ten"/>\n<agent name="b" busy-delay-time="5"/>',
                    '<tier agent="a" queue="q" level="x"/>')
    r = import_freeswitch(path)
    cfg = configured(r)
    q, (a, b) = cfg.queues[0], cfg.agents
    assert q.wrap_up_s == 0 and q.members[0].tier == 1
    assert a.wrap_up_s == 0 and b.busy_delay_s == 5  # a bad number: 0, noted; an agent in no queue keeps its own
    assert {(n.scope, n.option) for n in r.notes} >= {("a", "wrap-up-time"), ("q", "tier level")}


@pytest.mark.parametrize("body, line, needle", [
    ('<configuration name="callcenter.conf">\n<queues>\n<queue name="q">\n</queues>', 4, "not well-formed"),
    ('<?xml version="1.0"?>\n<!DOCTYPE lol [<!ENTITY a "aaaa">]>\n<configuration name="callcenter.conf"/>', 2,
     "DOCTYPE"),
    ('<configuration name="callcenter.conf">\n<queues>\n<queue/>\n</queues>\n</configuration>', 3, "name="),
    ('<configuration name="callcenter.conf">\n<queues>\n<queue name="q"/>\n<queue name="q"/>\n</queues>\n'
     '</configuration>', 4, "defined twice"),
    ('<configuration name="callcenter.conf">\n<queues>\n<queue name="q"><param value="1"/></queue>\n</queues>\n'
     '</configuration>', 3, "name="),
    ('<configuration name="callcenter.conf">\n<queues>\n<queue name="q"/>\n</queues>\n<tiers>\n'
     '<tier queue="q"/>\n</tiers>\n</configuration>', 6, "agent="),
    ('<configuration name="switch.conf">\n</configuration>', 1, "callcenter.conf"),
    ('<configuration name="callcenter.conf">\n<agents/>\n</configuration>', 1, "no <queue>"),
])
def test_errors_name_file_and_line(tmp_path, body, line, needle):
    path = tmp_path / "callcenter.conf.xml"
    path.write_text(body)
    with pytest.raises(SourceError) as info:
        import_freeswitch(path)
    assert info.value.line == line and needle in info.value.problem, str(info.value)
    assert str(info.value).startswith(f"{path}:{line}: ")


def test_entity_expansion_is_refused_before_expanding(tmp_path):
    lol = '<!DOCTYPE x [<!ENTITY a "' + "a" * 1000 + '">' + "".join(
        f'<!ENTITY a{i} "' + f"&a{i - 1};" * 10 + '">' for i in range(1, 10)) + "]>"
    path = tmp_path / "callcenter.conf.xml"
    path.write_text(lol.replace("&a0;", "&a;") + '\n<configuration name="callcenter.conf">&a9;</configuration>')
    with pytest.raises(SourceError, match="DOCTYPE"):
        import_freeswitch(path)


def test_deep_nesting_is_refused(tmp_path):
    path = tmp_path / "callcenter.conf.xml"
    path.write_text("<a>" * 100 + "</a>" * 100)
    with pytest.raises(SourceError, match="nested deeper"):
        import_freeswitch(path)


def test_numbers_beyond_the_limit_are_noted_not_used(tmp_path):
    path = xml_file(tmp_path, '<queue name="q"><param name="max-wait-time" value="99999999999"/></queue>',
                    '<agent name="a" wrap-up-time="-4"/>', '<tier agent="a" queue="q" position="12345678901"/>')
    r = import_freeswitch(path)
    q = configured(r).queues[0]
    assert math.isinf(q.max_wait_s) and q.wrap_up_s == 0 and q.members[0].position == 1
    assert {n.option for n in r.notes} == {"max-wait-time", "wrap-up-time", "tier position"}


def test_encodings_utf8_declared_latin1_and_neither(tmp_path):
    """UTF-8 by default; Latin-1 when the declaration says so; Latin-1 bytes without one are refused as not UTF-8
    (expat alone would call them an "invalid token")."""
    body = '<configuration name="callcenter.conf">\n<queues>\n<queue name="café"/>\n</queues>\n</configuration>\n'
    path = tmp_path / "callcenter.conf.xml"
    path.write_bytes(body.encode("utf-8"))
    assert queue(configured(import_freeswitch(path)), "café")
    path.write_bytes(b'<?xml version="1.0" encoding="ISO-8859-1"?>\n' + body.encode("latin-1"))
    assert queue(configured(import_freeswitch(path)), "café")
    path.write_bytes(body.encode("latin-1"))
    with pytest.raises(SourceError, match=r"not UTF-8 \(column \d+\); an XML file is UTF-8 unless") as info:
        import_freeswitch(path)
    assert info.value.line == 3
