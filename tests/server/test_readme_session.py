"""The README's server session runs as written: `busyhour serve examples/router_center.toml
--journal DIR` in one process, the README's client script in another, with its printed output."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from wire import spawn


ROOT = Path(__file__).resolve().parents[2]


def test_readme_server_session(tmp_path):
    text = (ROOT / "README.md").read_text()
    section = text.split("## The routing server", 1)[1].split("\n## ", 1)[0]
    command = re.findall(r"```sh\n(.*?)```", section, flags=re.S)[0].split()
    assert command[:2] == ["busyhour", "serve"] and command[3] == "--journal"
    script = re.findall(r"```py\n(.*?)```", section, flags=re.S)[0]
    expected = re.search(r"# (\S+ \d+)\s*$", script.strip().splitlines()[-1]).group(1)
    srv = spawn(ROOT / command[2], journal=tmp_path / "journal")
    try:
        script = script.replace("tcp://127.0.0.1:5570", srv.commands)
        res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        assert res.stdout.strip() == expected
    finally:
        assert srv.stop() == 0
