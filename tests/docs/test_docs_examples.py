"""The documentation's examples run: the TOML in docs/routing.md is a valid router
configuration that routes a call, and the README names the quick-start commands."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from busyhour.router import EventKind, ReferenceRouter, load_toml

ROOT = Path(__file__).resolve().parents[2]


def _toml_blocks(md: Path) -> list[str]:
    return re.findall(r"```toml\n(.*?)```", md.read_text(), flags=re.S)


def test_routing_doc_toml_example_is_a_working_configuration(tmp_path):
    blocks = _toml_blocks(ROOT / "docs" / "routing.md")
    assert blocks, "docs/routing.md lost its TOML example"
    path = tmp_path / "router.toml"
    path.write_text(blocks[0])
    cfg = load_toml(path)
    assert cfg.queues and cfg.agents
    r = ReferenceRouter(cfg)
    agent = cfg.queues[0].members[0].agent
    r.agent_login(0.0, agent, ready=True)
    ev = r.call_arrive(1.0, "c1", cfg.queues[0].name)
    kinds = [e.kind for e in ev]
    assert kinds[0] == EventKind.CALL_ARRIVED
    assert kinds[1] in (EventKind.CALL_OFFERED, EventKind.CALL_QUEUED, EventKind.CALL_ENDED)
    assert tomllib.loads(blocks[0])["queues"]  # plain TOML too


def test_readme_quick_start_has_exactly_the_two_commands():
    text = (ROOT / "README.md").read_text()
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    cmds = re.findall(r"^make (\w+)", quick, flags=re.M)
    assert cmds == ["demo", "test"]
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_readme_python_examples_run():
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    assert blocks
    for code in blocks:
        exec(compile(code, "README.md", "exec"), {})  # the examples assert their own claims
