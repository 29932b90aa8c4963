"""The bounds of a configuration (router/config_limits.py, docs/routing.md §12 "Limits"): each refused with a
message naming the key, on both engines, at the bound's edge; and the loop a too-short ring timeout made."""

from __future__ import annotations

import copy

import pytest
from router_helpers import engine

from busyhour.router import ConfigError, parse_config, parse_toml
from busyhour.router import config as config_mod
from busyhour.router.config_limits import MAX_ID_BYTES, MAX_SECONDS, MIN_RING_S, short

pytestmark = pytest.mark.usefixtures("each_engine")

BASE = {"agents": [{"id": "a1"}], "queues": [{"name": "q", "members": ["a1"]}]}


def with_(**changes) -> dict:
    cfg = copy.deepcopy(BASE)
    for where, value in changes.items():
        if where == "agent":
            cfg["agents"][0].update(value)
        elif where == "queue":
            cfg["queues"][0].update(value)
        else:
            cfg[where] = value
    return cfg


LONG = "é" * (MAX_ID_BYTES // 2) + "x"  # 129 bytes of UTF-8 in 65 characters: the bound is in bytes


@pytest.mark.parametrize("cfg, match", [
    (with_(agent={"id": LONG}), r"agents\[0\]\.id: an agent id is at most 128 bytes"),
    (with_(agent={"id": 2**63}), r"agents\[0\]\.id: an integer agent id must fit in int64"),
    (with_(agent={"id": -2**63 - 1}), r"agents\[0\]\.id: an integer agent id must fit in int64"),
    (with_(queue={"name": "q" * 129}), r"queues\[0\]\.name: a queue name is at most 128 bytes"),
    (with_(queue={"name": "q\x1b[31mRED"}), r"queues\[0\]\.name: a queue name must not contain control characters"),
    (with_(agent={"id": "a\r\nX"}), r"agents\[0\]\.id: an agent id must not contain control characters"),
    (with_(agent={"skills": {"s" * 129: 1}}), r"agents\[0\]\.skills\.s+: a skill name is at most 128 bytes"),
    (with_(skills=["k" * 129]), r"skills: a skill name is at most 128 bytes"),
    (with_(agent={"groups": ["g" * 129]}), r"agents\[0\]\.groups: a group name is at most 128 bytes"),
    (with_(channels=["voice", "c" * 129]), r"channels: a channel name is at most 128 bytes"),
    (with_(channels=["voice"] + [f"c{i}" for i in range(64)]), r"channels: at most 64 channels, got 65"),
    (with_(queue={"escalation": [{"after_s": float(k + 1)} for k in range(65)]}),
     r"queues\[0\]\.escalation: at most 64 steps, got 65"),
    (with_(queue={"ring_timeout_s": 0.09}), r"queues\[0\]\.ring_timeout_s: must be >= 0\.1, got 0\.09"),
    (with_(queue={"ring_timeout_s": 1e-300}), r"queues\[0\]\.ring_timeout_s: must be >= 0\.1"),
    (with_(queue={"ring_step_s": 0.01}), r"queues\[0\]\.ring_step_s: must be >= 0\.1, got 0\.01"),
    (with_(queue={"ring_timeout_s": 1e300}), r"queues\[0\]\.ring_timeout_s: must be at most 1e\+09, got 1e\+300"),
    (with_(queue={"max_wait_s": 2e9}), r"queues\[0\]\.max_wait_s: must be at most 1e\+09"),
    (with_(queue={"wrap_up_s": 10**5000}), r"queues\[0\]\.wrap_up_s: must be a number from 0 to 1e\+09, "
                                           r"got an integer of 16610 bits"),
    (with_(agent={"wrap_up_s": 1e10}), r"agents\[0\]\.wrap_up_s: must be at most 1e\+09"),
    (with_(seed=10**5000), r"config\.seed: must be in \[0, 9223372036854775807\], got an integer of 16610 bits"),
])
def test_a_value_past_a_bound_is_refused_naming_its_key(cfg, match):
    with pytest.raises(ConfigError, match=match):
        engine().from_config(cfg)


def test_the_bounds_themselves_are_accepted():
    cfg = with_(agent={"id": "é" * (MAX_ID_BYTES // 2), "skills": {"s" * 128: 1}, "groups": ["g" * 128]},
                channels=["voice"] + [f"c{i}" for i in range(63)],
                queue={"name": "q" * 128, "ring_timeout_s": MIN_RING_S, "ring_step_s": MIN_RING_S,
                       "max_wait_s": MAX_SECONDS, "escalation": [{"after_s": float(k + 1)} for k in range(64)]})
    cfg["queues"][0]["members"] = [cfg["agents"][0]["id"]]
    r = engine().from_config(cfg)
    assert r.config.queues[0].ring_timeout_s == MIN_RING_S and len(r.config.queues[0].escalation) == 64
    assert engine().from_config(with_(agent={"id": 2**63 - 1}, queue={"members": [2**63 - 1]})) is not None
    assert engine().from_config(with_(queue={"max_wait_s": float("inf")})).config.queues[0].max_wait_s > MAX_SECONDS


def test_counts_of_agents_queues_and_skills_are_bounded(monkeypatch):
    """The counts' bounds (1,000,000 agents, 10,000 queues, 1,000 skills) lowered, so the test stays small:
    the check is the same comparison."""
    monkeypatch.setattr(config_mod, "MAX_AGENTS", 2)
    monkeypatch.setattr(config_mod, "MAX_QUEUES", 2)
    monkeypatch.setattr(config_mod, "MAX_SKILLS", 3)
    two = {"agents": [{"id": "a1"}, {"id": "a2"}], "queues": [{"name": "q"}, {"name": "r"}]}
    assert len(parse_config(two).agents) == 2
    with pytest.raises(ConfigError, match=r"^agents: at most 2 agents, got 3$"):
        parse_config({**two, "agents": two["agents"] + [{"id": "a3"}]})
    with pytest.raises(ConfigError, match=r"^queues: at most 2 queues, got 3$"):
        parse_config({**two, "queues": two["queues"] + [{"name": "s"}]})
    skilled = {"agents": [{"id": "a1", "skills": {"x": 1, "y": 1}}, {"id": "a2", "skills": {"z": 1, "y": 2}}]}
    assert len(parse_config({**two, **skilled}).skills) == 3
    with pytest.raises(ConfigError, match=r"^skills: at most 3 distinct skills .*, got 4$"):
        parse_config({**two, **skilled, "skills": ["w"]})


@pytest.mark.parametrize("text, match", [
    ("x = " + "[" * 3000 + "]" * 3000, r"^cfg\.toml: not valid TOML: arrays or tables nested too deep$"),
    ("seed = " + "7" * 5000, r"^cfg\.toml: not valid TOML: a value this program cannot read \(Exceeds the limit"),
    ("queues = 1 = 2", r"^cfg\.toml: not valid TOML: .*line 1"),
])
def test_toml_that_python_cannot_read_is_a_config_error(text, match):
    with pytest.raises(ConfigError, match=match):
        parse_toml(text, "cfg.toml")


def test_the_shortest_ring_timeout_moves_time_on_at_any_time_the_engine_takes():
    """A ring timeout below the clock's resolution (1e-12 s at t = 1.7e9) ended and offered again at the same
    instant forever: the server hung. At the shortest allowed, 1e12 s in (the largest time), each no-answer
    cycle moves the clock on, so an advance of one second fires a bounded number of them."""
    r = engine().from_config(with_(queue={"ring_timeout_s": MIN_RING_S}))
    t0 = 1e12 - 10.0
    r.agent_login(t0, "a1", ready=True)
    r.call_arrive(t0, "c1", "q")
    events = r.advance(t0 + 1.0)
    expired = [e for e in events if e.kind.name == "OFFER_EXPIRED"]
    assert 1 <= len(expired) <= 1.0 / MIN_RING_S + 1
    assert r.next_deadline() > t0 + 1.0


@pytest.mark.parametrize("value, shown", [
    (10**5000, "an integer of 16610 bits"),  # str() of it would raise: more than 4,300 digits
    ({"a": 1, "b": 2}, "a map of 2 entries"),
    ([[1]] * 3, "an array of 3 items"),
    ((1,), "an array of 1 item"),
    ("x" * 100, "'" + "x" * 40 + "'..."),  # cut, and shown to be cut
    (b"\x00" * 100, "b'" + "\\x00" * 11 + "\\..."),
    ("sales", "'sales'"),
    (None, "None"),
], ids=["huge-int", "map", "array", "tuple", "long-str", "long-bytes", "str", "none"])
def test_short_names_a_value_without_printing_all_of_it(value, shown):
    assert short(value) == shown and len(shown) <= 50


def test_short_names_a_nested_array_without_recursing():
    deep: list = []
    for _ in range(100_000):  # repr() of it would pass the recursion limit
        deep = [deep]
    assert short(deep) == "an array of 1 item"
    assert short(None, "nil") == "nil"
