"""The Kamailio adapter's configuration file and caller headers (adapters/kamailio/bh_config.py)."""

from __future__ import annotations

import contextlib
import os
import re
import threading
from pathlib import Path

import pytest

from kamailio_modules import cfgmod

ROOT = Path(__file__).resolve().parents[2]

MINIMAL = '[router]\ncommands = "tcp://127.0.0.1:1"\nevents = "tcp://127.0.0.1:2"\n[adapter]\nipc = "ipc:///tmp/x"\n'


def test_documented_example_loads(tmp_path):
    block = re.search(r"```toml\n(.*?)```", (ROOT / "docs" / "adapters.md").read_text(), flags=re.S).group(1)
    path = tmp_path / "busyhour.toml"
    assert "ipc:///run/kamailio/busyhour.ipc" in block      # the folder Debian's kamailio package makes
    path.write_text(block.replace("/run/kamailio/", f"{tmp_path}/"))
    cfg = cfgmod.load_config(str(path))
    assert cfg["queues"]["5000"] == "sales" and cfg["agents"]["a1"].startswith("sip:")
    assert cfg["router"]["arrive_timeout_ms"] == 2000 and cfg["adapter"]["name"] == "kamailio-1"


def test_defaults_filled(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(MINIMAL)
    cfg = cfgmod.load_config(str(path))
    assert cfg["router"]["request_timeout_ms"] == 1000 and cfg["adapter"]["queue_equals_user"] is True
    assert cfg["adapter"]["off_queue_call_max_s"] == 14_400 and cfg["adapter"]["reconcile_s"] == 30
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
    ('router = "x"\n', "[router] must be a table"),
    ("adapter = 5\n" + MINIMAL.replace('[adapter]\nipc = "ipc:///tmp/x"', ""), "[adapter] must be a table"),
    ("agents = 3\n" + MINIMAL, "[agents] must be a table"),
    (MINIMAL.replace("[adapter]", "arrive_timout_ms = 5\n[adapter]"),
     "unknown key router.arrive_timout_ms (known: commands, events, request_timeout_ms, arrive_timeout_ms"),
    (MINIMAL + 'nmae = "k"\n', "unknown key adapter.nmae (known: ipc, name, queue_equals_user, off_queue_call_max_s, reconcile_s)"),
    (MINIMAL + 'reconcile_s = 0\n', "adapter.reconcile_s must be a number of seconds 1..3600"),
    (MINIMAL + 'off_queue_call_max_s = 59\n', "adapter.off_queue_call_max_s must be a number of seconds 60..43200"),
    (MINIMAL + 'off_queue_call_max_s = 43201\n', "adapter.off_queue_call_max_s must be"),
    (MINIMAL + 'off_queue_call_max_s = nan\n', "adapter.off_queue_call_max_s must be"),
    (MINIMAL + 'off_queue_call_max_s = "4h"\n', "adapter.off_queue_call_max_s must be"),
    (MINIMAL + '[agent]\na1 = "sip:a1@h"\n', "unknown table or key agent (known: [router], [adapter]"),
    (MINIMAL + '[agents]\na1 = "not a uri"\n', "agents.a1 must be a sip: or sips: URI"),
    (MINIMAL + '[agents]\na1 = "a1@192.0.2.1"\n', "agents.a1 must be a sip: or sips: URI"),
    (MINIMAL + '[agents]\na1 = "sip:a1@h:70000"\n', "agents.a1 must be a sip: or sips: URI"),
    (MINIMAL.replace("/tmp/x", "/nonexistent-busyhour-dir/x"), "adapter.ipc: folder /nonexistent-busyhour-dir"),
    (MINIMAL + 'name = "' + "n" * 256 + '"\n', "adapter.name must be a string of 1..255 bytes"),
    (MINIMAL + 'name = "' + "é" * 128 + '"\n', "adapter.name must be a string of 1..255 bytes"),  # 256 bytes
    (MINIMAL + 'name = ""\n', "adapter.name"),
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


def test_good_uris_and_names_load(tmp_path):
    path = tmp_path / "c.toml"
    uris = ["sip:a1@192.0.2.21:5060", "sips:a2@example.com;transport=tls", "sip:[2001:db8::1]:5070", "SIP:pool.lan"]
    path.write_text(MINIMAL + f'name = "{"é" * 127}"\n[agents]\n'
                    + "".join(f'a{i} = "{u}"\n' for i, u in enumerate(uris)))
    cfg = cfgmod.load_config(str(path))
    assert len(cfg["agents"]) == 4 and len(cfg["adapter"]["name"].encode()) == 254


def test_not_utf8_names_the_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_bytes(b"# \xff\xfe\n" + MINIMAL.encode())
    with pytest.raises(ValueError, match=re.escape(f"{path}: not UTF-8 text (byte 2")):
        cfgmod.load_config(str(path))


def test_ipc_folder_must_be_writable(tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o555)
    if os.geteuid() == 0:  # root may write to any folder: let the check see what another user would
        real_access = os.access
        monkeypatch.setattr(cfgmod.os, "access",
                            lambda p, mode: False if str(p) == str(folder) else real_access(p, mode))
    path = tmp_path / "c.toml"
    path.write_text(MINIMAL.replace("/tmp/x", f"{folder}/x"))
    with pytest.raises(ValueError, match="adapter.ipc: folder .* is not writable"):
        cfgmod.load_config(str(path))


@contextlib.contextmanager
def _fifo(fifo: Path):
    """Make a FIFO there; it is opened for writing after 3 s, so that code that blocks in opening it (as the old
    loader did) fails the test instead of hanging it."""
    def writer():
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            os.close(fd)
        except OSError:
            pass            # nobody is reading it: the loader did not block
    os.mkfifo(fifo)
    timer = threading.Timer(3.0, writer)
    timer.start()
    try:
        yield fifo
    finally:
        timer.cancel()


def test_config_file_must_be_a_small_regular_file(tmp_path):
    fifo = tmp_path / "fifo.toml"
    with _fifo(fifo), pytest.raises(ValueError, match=re.escape(f"{fifo}: not a regular file")):
        cfgmod.load_config(str(fifo))
    for bad in (tmp_path, "/dev/zero"):
        with pytest.raises(ValueError, match="not a regular file"):
            cfgmod.load_config(str(bad))
    big = tmp_path / "big.toml"
    big.write_text(MINIMAL + "#" * (1 << 20) + "\n")
    with pytest.raises(ValueError, match=re.escape(f"{big}: larger than 1,048,576 bytes")):
        cfgmod.load_config(str(big))


def test_key_files_must_be_small_regular_files(tmp_path):
    keys = tmp_path / "keys"
    (keys / "clients").mkdir(parents=True)
    good = 'public-key = "' + "a" * 40 + '"\n'
    (keys / "server.key").write_text(good)
    path = tmp_path / "c.toml"
    path.write_text(MINIMAL.replace("[adapter]", f'curve_keys = "{keys}"\n[adapter]'))
    secret = keys / "clients" / "k.key_secret"
    with _fifo(secret), pytest.raises(ValueError, match=re.escape(f"router.curve_keys: {secret}: not a regular file")):
        cfgmod.load_config(str(path))
    secret.unlink()
    secret.symlink_to("/dev/zero")
    with pytest.raises(ValueError, match=re.escape(f"router.curve_keys: {secret}: not a regular file")):
        cfgmod.load_config(str(path))
    secret.unlink()
    secret.write_text(good + 'secret-key = "' + "b" * 40 + '"\n' + "#" * 5000 + "\n")
    with pytest.raises(ValueError, match=re.escape(f"{secret}: larger than 4,096 bytes")):
        cfgmod.load_config(str(path))
    secret.write_text(good + 'secret-key = "short"\n')
    with pytest.raises(ValueError, match="not 40 z85 characters"):
        cfgmod.load_config(str(path))
    secret.write_text(good + 'secret-key = "' + "b" * 40 + '"\n')
    assert cfgmod.load_config(str(path))["router"]["curve"] == (b"a" * 40, b"b" * 40, b"a" * 40)


def test_headers():
    assert cfgmod.parse_skills("es=2, billing = 4") == {"es": 2, "billing": 4}
    assert cfgmod.parse_priority(" 7 ") == 7
    for bad in ("es", "es=0", "es=6", "=2", "es=x", ",".join(f"s{i}=1" for i in range(65)), "a=1" + " " * 1100):
        with pytest.raises(ValueError, match="X-Busyhour-Skills"):
            cfgmod.parse_skills(bad)
    for bad in ("-1", "1000001", "x", "", "\u00b2", "\u0663", "1" * 5000):   # '²', Arabic-Indic 3
        with pytest.raises(ValueError, match="X-Busyhour-Priority"):
            cfgmod.parse_priority(bad)
    for bad in ("es=\u00b2", "es=\u0663", "\u00e9" * 600 + "=2"):           # 602 characters, 1,202 bytes
        with pytest.raises(ValueError, match="X-Busyhour-Skills"):
            cfgmod.parse_skills(bad)
    assert cfgmod.parse_skills("\u00e9" * 500 + "=2") == {"\u00e9" * 500: 2}  # 1,002 bytes
    assert cfgmod.parse_agent(" a7 ") == "a7"
    for bad in ("", "  ", "x" * 129):
        with pytest.raises(ValueError, match="X-Busyhour-Agent"):
            cfgmod.parse_agent(bad)
