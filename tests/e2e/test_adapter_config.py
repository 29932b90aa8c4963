"""The Kamailio adapter's configuration file and caller headers (adapters/kamailio/bh_config.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kamailio_modules import cfgmod

ROOT = Path(__file__).resolve().parents[2]

MINIMAL = '[router]\ncommands = "tcp://127.0.0.1:1"\nevents = "tcp://127.0.0.1:2"\n[adapter]\nipc = "ipc:///tmp/x"\n'


def test_documented_example_loads(tmp_path):
    block = re.search(r"```toml\n(.*?)```", (ROOT / "docs" / "adapters.md").read_text(), flags=re.S).group(1)
    path = tmp_path / "busyhour.toml"
    path.write_text(block)
    cfg = cfgmod.load_config(str(path))
    assert cfg["queues"]["5000"] == "sales" and cfg["agents"]["a1"].startswith("sip:")
    assert cfg["router"]["arrive_timeout_ms"] == 2000 and cfg["adapter"]["name"] == "kamailio-1"


def test_defaults_filled(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(MINIMAL)
    cfg = cfgmod.load_config(str(path))
    assert cfg["router"]["request_timeout_ms"] == 1000 and cfg["adapter"]["queue_equals_user"] is True
    assert cfg["queues"] == {} and cfg["agents"] == {}


@pytest.mark.parametrize("text, needle", [
    ("", "router.commands"),
    (MINIMAL.replace("tcp://127.0.0.1:1", "tcp://127.0.0.1:99999"), "router.commands must be tcp://HOST:PORT"),
    (MINIMAL.replace("tcp://127.0.0.1:2", "tcp://127.0.0.1"), "router.events must be"),
    (MINIMAL.replace("tcp://127.0.0.1:2", "udp://127.0.0.1:2"), "router.events must be"),
    (MINIMAL.replace("ipc:///tmp/x", "tcp://127.0.0.1:3"), "adapter.ipc"),
    (MINIMAL.replace("ipc:///tmp/x", "ipc:///" + "x" * 120), "adapter.ipc"),
    (MINIMAL.replace("ipc:///tmp/x", "ipc:///" + "é" * 60), "adapter.ipc"),  # 60 characters, 121 bytes
    (MINIMAL.replace('ipc = "ipc:///tmp/x"', ""), "adapter.ipc"),
    (MINIMAL + "[queues]\n'5000' = 3\n", "queues.5000"),
    (MINIMAL.replace("[adapter]", "request_timeout_ms = 0\n[adapter]"), "router.request_timeout_ms"),
    (MINIMAL.replace("[adapter]", "hold_when_down_s = true\n[adapter]"), "router.hold_when_down_s"),
    ("[router\n", "not valid TOML"),
])
def test_bad_config_one_line_error(tmp_path, text, needle):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=re.escape(needle)) as err:
        cfgmod.load_config(str(path))
    assert "\n" not in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match="cannot read"):
        cfgmod.load_config(str(tmp_path / "nope.toml"))


def test_headers():
    assert cfgmod.parse_skills("es=2, billing = 4") == {"es": 2, "billing": 4}
    assert cfgmod.parse_priority(" 7 ") == 7
    for bad in ("es", "es=0", "es=6", "=2", "es=x", ",".join(f"s{i}=1" for i in range(65)), "a=1" + " " * 1100):
        with pytest.raises(ValueError, match="X-Busyhour-Skills"):
            cfgmod.parse_skills(bad)
    for bad in ("-1", "1000001", "x", ""):
        with pytest.raises(ValueError, match="X-Busyhour-Priority"):
            cfgmod.parse_priority(bad)
    assert cfgmod.parse_agent(" a7 ") == "a7"
    for bad in ("", "  ", "x" * 129):
        with pytest.raises(ValueError, match="X-Busyhour-Agent"):
            cfgmod.parse_agent(bad)
