"""``busyhour import asterisk``: queues.conf (+ agents.conf) → a busyhour configuration.

Checked, always on the configuration that ``parse_config`` reads back from the importer's TOML:
1. every mapped option of the sample files (tests/data/import/queues.conf, agents.conf) lands on its key;
2. each Asterisk strategy maps to its busyhour strategy, the differing ones noted as approximated;
3. templates, ``(+)``, block comments, ``\\;``, ``#include`` / ``#tryinclude`` are read as Asterisk reads them;
4. unknown options are listed as "not mapped: unknown option", never an error;
5. syntax errors raise ``FILE:LINE: problem`` (exit 2 in the CLI), never a traceback.
"""

from __future__ import annotations

import math
import shutil
import tomllib
from pathlib import Path

import pytest

from busyhour.adapters.importers import APPROXIMATED, NOT_MAPPED, SourceError, import_asterisk
from busyhour.adapters.importers.asterisk import STRATEGIES
from busyhour.router.config import RouterConfig, parse_config

DATA = Path(__file__).resolve().parents[1] / "data" / "import"


def configured(result) -> RouterConfig:
    return parse_config(tomllib.loads(result.toml))


def queue(cfg: RouterConfig, name: str):
    return next(q for q in cfg.queues if q.name == name)


def members(q) -> list[tuple]:
    return [(m.agent, m.tier, m.penalty, round(m.weight, 6)) for m in q.members]


def imported(tmp_path: Path, text: str, **files: str):
    for name, body in files.items():
        (tmp_path / name.replace("_", ".")).write_text(body)
    path = tmp_path / "queues.conf"
    path.write_text(text)
    return import_asterisk(path)


@pytest.fixture(scope="module")
def sample():
    return import_asterisk(DATA / "queues.conf", DATA / "agents.conf")


def test_sample_queues_and_strategies(sample):
    cfg = configured(sample)
    assert [q.name for q in cfg.queues] == ["sales", "support", "billing", "overflow"]
    assert [q.strategy for q in cfg.queues] == ["leastrecent", "round-robin", "wrandom", "ring-all"]
    assert (sample.queues, sample.agents) == (4, 7)


def test_sample_sales_options_from_template_and_own_lines(sample):
    q = queue(configured(sample), "sales")
    assert q.ring_timeout_s == 20 and q.wrap_up_s == 10 and q.max_length == 30  # from [base](!)
    assert q.max_no_answer == 1  # autopause = yes
    assert q.weight == 3  # weight 2 overrides the template's 0; +1
    assert q.sl_threshold_s == 30
    assert q.join_empty == ("paused", "penalty", "unavailable", "invalid")  # joinempty = strict
    assert q.leave_when_empty == () and math.isinf(q.max_wait_no_agents_s)  # leavewhenempty = no
    assert members(q) == [("PJSIP/1001", 1, 0, 1.0), ("PJSIP/1002", 1, 1, 1.0), ("PJSIP/1003", 1, 2, 1.0),
                          ("PJSIP/1004", 1, 1, 1.0)]  # the last one from the #include


def test_sample_support_overrides_the_template(sample):
    q = queue(configured(sample), "support")
    assert (q.ring_timeout_s, q.wrap_up_s, q.max_length, q.max_no_answer, q.weight) == (15, 30, 0, 1, 1)
    assert q.join_empty == () and math.isinf(q.max_wait_no_agents_s)  # joinempty = yes: callers always join
    assert [m.agent for m in q.members] == ["PJSIP/1002", "PJSIP/1004", "Agent/2001"]
    assert [m.position for m in q.members] == [0, 1, 2]  # configuration order is kept (rrordered)


def test_sample_wrandom_keeps_its_penalties(sample):
    q = queue(configured(sample), "billing")  # busyhour's wrandom draws from the penalty as Asterisk does
    assert members(q) == [("PJSIP/1001", 1, 0, 1.0), ("PJSIP/1005", 1, 4, 1.0)]


def test_sample_defaults_of_a_bare_queue(sample):
    q = queue(configured(sample), "overflow")
    assert q.strategy == "ring-all"  # Asterisk's default, not busyhour's
    assert q.ring_timeout_s == 15 and q.wrap_up_s == 0 and q.max_length == 0 and q.weight == 1


def test_sample_agents_are_the_member_interfaces_and_agents_conf(sample):
    ids = {a.id for a in configured(sample).agents}
    assert ids == {"PJSIP/1001", "PJSIP/1002", "PJSIP/1003", "PJSIP/1004", "PJSIP/1005", "Agent/2001", "Agent/2002"}
    wrap = {a.id: a.wrap_up_s for a in configured(sample).agents}
    assert wrap["Agent/2001"] == wrap["Agent/2002"] == 5 and wrap["PJSIP/1001"] is None  # 5000 ms, inherited


def test_sample_notes(sample):
    by = {(n.scope, n.option): n for n in sample.notes}
    unknown = by["support", "frobnicate"]
    assert (unknown.status, unknown.reason, unknown.value) == (NOT_MAPPED, "unknown option", "7")
    assert unknown.where.endswith("queues.conf:42")
    assert by["sales", "strategy"].status == APPROXIMATED  # leastrecent with shared_lastcall = yes
    assert "every queue" in by["sales", "strategy"].reason
    assert by["sales", "joinempty"].status == APPROXIMATED and "invalid" in by["sales", "joinempty"].reason
    assert ("sales", "leavewhenempty") not in by  # 'no': no rule, exactly
    assert by["sales", "retry"].status == NOT_MAPPED
    assert ("agents", "wrapuptime") not in by  # mapped: the agent's own wrap-up
    assert by["agents", "ackcall"].count == 2  # one row for both agents of agents.conf
    assert ("support", "autopause") not in by  # 'all' is busyhour's rule exactly
    assert ("support", "ringinuse") not in by  # 'no' is busyhour's rule exactly
    assert "# " in sample.toml and "frobnicate = 7: not mapped: unknown option" in sample.toml


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_each_asterisk_strategy(tmp_path, name):
    r = imported(tmp_path, f"[q]\nstrategy = {name}\nmember => SIP/a,1\nmember => SIP/b\n")
    q = configured(r).queues[0]
    assert q.strategy == STRATEGIES[name][0]
    noted = [n for n in r.notes if n.option == "strategy"]
    assert bool(noted) == bool(STRATEGIES[name][1])
    assert all(n.status == APPROXIMATED for n in noted)


def test_strategy_names_cover_asterisk():
    assert set(STRATEGIES) == {"ringall", "leastrecent", "fewestcalls", "random", "rrmemory", "roundrobin",
                               "rrordered", "linear", "wrandom"}
    assert STRATEGIES["linear"][0] == "top-down" and STRATEGIES["rrordered"][0] == "round-robin"


@pytest.mark.parametrize("name", ["leastrecent", "fewestcalls"])
@pytest.mark.parametrize("shared", ["yes", "no", None])
def test_shared_lastcall_notes_the_per_queue_counts(tmp_path, name, shared):
    general = f"[general]\nshared_lastcall = {shared}\n" if shared else ""
    r = imported(tmp_path, f"{general}[q]\nstrategy = {name}\nmember => SIP/a\n")
    assert configured(r).queues[0].strategy == name
    noted = [n for n in r.notes if n.option == "strategy"]
    assert bool(noted) == (shared == "yes")
    assert all(n.status == APPROXIMATED and "every queue" in n.reason for n in noted)


def test_unknown_strategy_is_noted_and_ringall_used(tmp_path):
    r = imported(tmp_path, "[q]\nstrategy = psychic\n")
    assert configured(r).queues[0].strategy == "ring-all"
    assert any(n.option == "strategy" and n.status == NOT_MAPPED for n in r.notes)


def test_comments_escapes_append_and_tryinclude(tmp_path):
    text = ("[general]\n"
            "[q]\n"
            "member => SIP/a ; a comment\n"
            ";-- a block comment\n"
            "member => SIP/hidden\n"
            "--; wrapuptime = 7\n"
            "context = in\\;out\n"
            "#tryinclude missing.conf\n"
            "[q](+)\n"
            "maxlen = 4\n")
    r = imported(tmp_path, text)
    q = configured(r).queues[0]
    assert [m.agent for m in q.members] == ["SIP/a"]
    assert q.wrap_up_s == 7 and q.max_length == 4
    assert any(n.option == "context" and n.value == "in;out" for n in r.notes)


def test_negative_penalties_keep_their_order(tmp_path):
    r = imported(tmp_path, "[q]\nmember => SIP/a,-2\nmember => SIP/b,0\nmember => SIP/c,1\n")
    assert [m.penalty for m in configured(r).queues[0].members] == [0, 2, 3]
    assert any(n.status == APPROXIMATED and n.option == "member penalty" for n in r.notes)


def test_bad_values_keep_the_default_and_are_noted(tmp_path):
    r = imported(tmp_path, "[q]\ntimeout = 0\nwrapuptime = soon\nmaxlen = -3\n")
    q = configured(r).queues[0]
    assert (q.ring_timeout_s, q.wrap_up_s, q.max_length) == (15, 0, 0)
    assert {n.option for n in r.notes if n.status == NOT_MAPPED} == {"timeout", "wrapuptime", "maxlen"}


def test_leavewhenempty_alone_is_a_leave_rule_and_says_when_it_is_checked(tmp_path):
    r = imported(tmp_path, "[q]\nleavewhenempty = unavailable\n")
    q = configured(r).queues[0]
    assert q.leave_when_empty == ("unavailable",) and q.join_empty == () and math.isinf(q.max_wait_no_agents_s)
    note = next(n for n in r.notes if n.option == "leavewhenempty")
    assert note.status == APPROXIMATED and "instant" in note.reason


@pytest.mark.parametrize("key, value, conditions", [
    ("joinempty", "yes", ()), ("joinempty", "no", ("paused", "penalty", "invalid")),
    ("joinempty", "strict", ("paused", "penalty", "unavailable", "invalid")),
    ("joinempty", "loose", ("penalty", "invalid")),
    ("leavewhenempty", "yes", ("paused", "penalty", "invalid")), ("leavewhenempty", "no", ()),
    ("leavewhenempty", "Strict", ("paused", "penalty", "unavailable", "invalid")),
    ("leavewhenempty", "loose", ("penalty", "invalid")),
    ("joinempty", "wrapup, ringing,inuse", ("inuse", "ringing", "wrapup")),
    ("leavewhenempty", "unknown,paused", ("paused", "unknown")),
])
def test_empty_options_map_to_their_conditions(tmp_path, key, value, conditions):
    q = configured(imported(tmp_path, f"[q]\n{key} = {value}\n")).queues[0]
    assert (q.join_empty if key == "joinempty" else q.leave_when_empty) == conditions


def test_joinempty_with_exact_conditions_has_no_note_and_unknown_ones_are_noted(tmp_path):
    r = imported(tmp_path, "[q]\njoinempty = paused,penalty,ringing,wrapup,unavailable\n")
    assert not [n for n in r.notes if n.option == "joinempty"]
    r = imported(tmp_path, "[q]\njoinempty = paused,away\n")
    assert configured(r).queues[0].join_empty == ("paused",)
    note = next(n for n in r.notes if n.option == "joinempty")
    assert note.status == NOT_MAPPED and "away" in note.reason


def test_agents_conf_old_style_and_unknown_agent_member(tmp_path):
    (tmp_path / "agents.conf").write_text("[agents]\nagent => 300,1234,Dee\n")
    (tmp_path / "queues.conf").write_text("[q]\nmember => Agent/300\nmember => Agent/301\n")
    r = import_asterisk(tmp_path / "queues.conf", tmp_path / "agents.conf")
    assert {a.id for a in configured(r).agents} == {"Agent/300", "Agent/301"}
    assert [n.scope for n in r.notes if n.status == APPROXIMATED] == ["Agent/301"]


def test_odd_names_survive_the_toml(tmp_path):
    r = imported(tmp_path, '[ventas "ñ" \\x]\nmember => SIP/é"1,0,Bo\x01b\x7f\nfoo\x1b = \x02\n')
    cfg = configured(r)
    assert cfg.queues[0].name == 'ventas "ñ" \\x' and cfg.agents[0].id == 'SIP/é"1'
    assert {n.option for n in r.notes} == {"member membername", "foo\x1b"}
    with pytest.raises(SourceError, match="a queue name must not contain control characters"):
        imported(tmp_path, "[ventas\x7f]\nmember => SIP/1\n")  # docs/routing.md §12: printed, so refused


def test_include_is_followed_from_the_including_folder(tmp_path):
    sub = tmp_path / "conf.d"
    sub.mkdir()
    (sub / "more.conf").write_text("[extra]\nmember => SIP/z\n")
    r = imported(tmp_path, "[q]\nmember => SIP/a\n#include \"conf.d/*.conf\"\n")
    assert [q.name for q in configured(r).queues] == ["q", "extra"]


@pytest.mark.parametrize("text, line, needle", [
    ("[sales\nmember => SIP/a\n", 1, "malformed section header"),
    ("member => SIP/a\n[q]\n", 1, "before any [section]"),
    ("[q]\nthis is not an option\n", 2, "expected 'key = value'"),
    ("[q](tpl)\n", 1, "not defined before it"),
    ("[q]\n[q]\n", 2, "defined twice"),
    ("[q]\n#include nothere.conf\n", 2, "no such file"),
    ("[q]\n#frobnicate x\n", 2, "unknown directive"),
    ("[q]\n\n\nmember => nointerface\n", 4, "Technology/Resource"),
    ("[q](+)\n", 1, "not defined before it"),
    ("[]\n", 1, "malformed section header"),
])
def test_syntax_errors_name_file_and_line(tmp_path, text, line, needle):
    with pytest.raises(SourceError) as info:
        imported(tmp_path, text)
    assert info.value.line == line and needle in info.value.problem
    assert str(info.value).startswith(f"{tmp_path / 'queues.conf'}:{line}: ")


def test_unclosed_block_comment_and_no_queue(tmp_path):
    with pytest.raises(SourceError, match="block comment"):
        imported(tmp_path, "[q]\n;-- never closed\n")
    with pytest.raises(SourceError, match="no queue found"):
        imported(tmp_path, "[general]\nautofill = yes\n[tpl](!)\n")


def test_include_cycle_and_depth(tmp_path):
    with pytest.raises(SourceError, match="cycle"):
        imported(tmp_path, "[q]\n#include queues.conf\n")
    for i in range(10):
        (tmp_path / f"d{i}.conf").write_text(f"#include d{i + 1}.conf\n")
    (tmp_path / "d10.conf").write_text("")
    with pytest.raises(SourceError, match="deeper than 8"):
        imported(tmp_path, "[q]\n#include d0.conf\n")


def test_latin1_file_is_read_with_a_note(tmp_path):
    path = tmp_path / "queues.conf"
    path.write_bytes("[q]\nmember => SIP/a,0,José\n".encode("latin-1"))
    r = import_asterisk(path)
    assert configured(r).queues[0].members[0].agent == "SIP/a"
    assert any(n.option == "encoding" and n.where.endswith(":2") for n in r.notes)


def test_sample_files_are_copied_not_needed_in_place(tmp_path):
    for name in ("queues.conf", "queues-extra.conf"):
        shutil.copy(DATA / name, tmp_path / name)
    assert configured(import_asterisk(tmp_path / "queues.conf")).queues[0].name == "sales"
