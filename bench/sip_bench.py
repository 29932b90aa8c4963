"""Calls per second through the whole SIP loop: SIPp callers -> Kamailio -> ``busyhour serve`` -> SIPp agents.

A measurement, not a test. The stack of :mod:`busyhour.bench.sip_stack`
(server with a journal, Kamailio with the adapter, agent phones) runs a
staircase of offered rates; each step places ``rate × step_s`` calls that
ring ~100 ms, talk ``talk_ms`` and hang up. A step passes when every call
connected, SIPp counted no failed call, and the step ended within
``step_s + talk + 3 s`` (callers did not pile up waiting). The result is the
highest passing offered rate, with the wall rate (calls ÷ wall time of the
step, which includes SIPp's start and the last call's ring and talk) and the
CPU share of the router process and of all Kamailio processes (from
``/proc/<pid>/stat``: user + system time ÷ wall time; 1.0 = one core).

The first failing step ends the staircase. Every step is bounded in calls
and seconds.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from busyhour.bench.sip_stack import SipStack

MAX_RATE = 5_000
MAX_AGENTS = 5_000
MAX_STEP_S = 60.0
RATES = (50, 100, 200, 300, 400, 500, 600, 800, 1000, 1200, 1500, 2000)
PHONES = 4                       # SIPp agent phones the agents are spread over


@dataclass(frozen=True)
class SipStep:
    rate_target: float
    calls: int
    connected: int
    failed: int                   # calls that did not connect: SIPp failures, final responses (503 …), no outcome
    final_responses: int          # of those, calls answered with a final error response (e.g. 503 under overload)
    seconds: float
    wall_cps: float
    router_cpu: float
    kamailio_cpu: float


@dataclass(frozen=True)
class SipBenchResult:
    sustained_cps: float          # offered calls/s of the highest passing step (0: none passed)
    wall_cps: float               # that step's calls ÷ wall seconds
    rate_target: float            # that step's offered rate
    router_cpu: float             # that step's router CPU (cores)
    kamailio_cpu: float           # that step's Kamailio CPU (cores, all processes)
    agents: int
    talk_ms: int
    step_s: float
    fsync: str
    cores: int
    steps: tuple[SipStep, ...]


def _ticks(pid: int) -> int:
    """user + system clock ticks of one process (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def _family(pid: int) -> list[int]:
    """``pid`` and its direct children (Kamailio forks every worker from the main process)."""
    out = [pid]
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(d.name))
            except (OSError, ValueError, IndexError):
                continue
    return out


def router_toml(agents: int, ring_timeout_s: float = 10.0) -> str:
    ids = [f"g{i}" for i in range(agents)]
    lines = ["[[queues]]", 'name = "bench"', "members = [" + ", ".join(f'"{a}"' for a in ids) + "]",
             f"ring_timeout_s = {ring_timeout_s}", ""]
    for a in ids:
        lines += ["[[agents]]", f'id = "{a}"', ""]
    return "\n".join(lines)


def run(*, agents: int = 400, talk_ms: int = 200, step_s: float = 5.0, max_rate: float = 1000.0,
        fsync: str = "batch", work: Path | None = None, rates: tuple[float, ...] = RATES) -> SipBenchResult:
    """Run the staircase (limits checked first); stop at the first step with a failed call."""
    if not 1 <= agents <= MAX_AGENTS:
        raise ValueError(f"agents must be 1..{MAX_AGENTS}, got {agents}")
    if not 1.0 <= step_s <= MAX_STEP_S:
        raise ValueError(f"step_s must be 1..{MAX_STEP_S:g} seconds, got {step_s}")
    if not 1 <= max_rate <= MAX_RATE:
        raise ValueError(f"max_rate must be 1..{MAX_RATE} calls/s, got {max_rate}")
    if not 0 <= talk_ms <= 60_000:
        raise ValueError(f"talk_ms must be 0..60000, got {talk_ms}")
    steps: list[SipStep] = []
    best: SipStep | None = None
    phones = {f"p{i}": "agent.xml" for i in range(PHONES)}
    agent_phone = {f"g{i}": f"p{i % PHONES}" for i in range(agents)}
    with tempfile.TemporaryDirectory(prefix="busyhour-sip-") as tmp:
        stack = SipStack(Path(work or tmp), router_toml(agents), phones, {"6000": "bench"}, fsync=fsync,
                         agent_phone=agent_phone)
        with stack:
            for a in agent_phone:
                assert stack.request("login", agent=a, ready=True)["ok"]
            for rate in [r for r in rates if r <= max_rate] or [max_rate]:
                step = _step(stack, rate, step_s, talk_ms)
                steps.append(step)
                if step.failed or step.seconds > step_s + talk_ms / 1000 + 3:
                    break
                best = step
    return SipBenchResult(best.rate_target if best else 0.0, best.wall_cps if best else 0.0,
                          best.rate_target if best else 0.0,
                          best.router_cpu if best else 0.0, best.kamailio_cpu if best else 0.0, agents, talk_ms,
                          step_s, fsync, os.cpu_count() or 1, tuple(steps))


def _step(stack: SipStack, rate: float, step_s: float, talk_ms: int) -> SipStep:
    calls = max(1, int(rate * step_s))
    hz = os.sysconf("SC_CLK_TCK")
    kam = _family(stack.kamailio.pid)
    server_pid = stack.server.proc.pid
    r0, k0, t0 = _ticks(server_pid), sum(_ticks(p) for p in kam), time.monotonic()
    run = stack.callers("6000", calls, rate, talk_ms, timeout_s=step_s + 30, limit=max(100, int(rate * 5)))
    wall = time.monotonic() - t0
    r1, k1 = _ticks(server_pid), sum(_ticks(p) for p in kam)
    connected = sum(1 for v in run.outcomes.values() if v == "connected")
    finals = sum(1 for v in run.outcomes.values() if v.startswith("final-"))
    return SipStep(float(rate), calls, connected, calls - connected, finals, round(wall, 3), round(calls / wall, 1),
                   round((r1 - r0) / hz / wall, 3), round((k1 - k0) / hz / wall, 3))


def write_json(result: SipBenchResult, path: Path) -> None:
    path.write_text(json.dumps(asdict(result), indent=2) + "\n", encoding="utf-8")
