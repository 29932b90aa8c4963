"""Run-time changes on a large centre, side by side: ``python -m busyhour.bench.membership``.

``--agents`` agents (default 10,000) in 20 queues, each agent a member of
about five (55,000 member rows at 10,000), all logged in ready. Per engine
(``Router``, the compiled core; ``ReferenceRouter``, the Python
specification), in one process:

* one membership change (``member_add`` / ``member_update`` then
  ``member_remove``), ``--repeats`` times;
* ``reload`` of an equal configuration, and of one with memberships
  changed (50 tries to add and 50 to remove an agent in a queue: at 10,000
  agents 50 added and 30 removed, and the members after them in their
  queues moved in position) and one setting of 5 queues, alternating
  between two such configurations.

Prints the medians in milliseconds.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

N_QUEUES = 20


def centre(n: int) -> dict:
    agents = [{"id": f"a{i}"} for i in range(n)]
    queues = [{"name": f"q{k}", "members": [f"a{i}" for i in range(n) if (i + k) % 4 == 0 or i % N_QUEUES == k]}
              for k in range(N_QUEUES)]
    return {"agents": agents, "queues": queues}


def variant(raw: dict, v: int, n: int) -> dict:
    """``raw`` with up to 50 memberships removed and 50 added, and ring_timeout_s of 5 queues changed."""
    out = copy.deepcopy(raw)
    for j in range(50):
        q = out["queues"][(j + v) % N_QUEUES]
        q["members"] = [m for m in q["members"] if m != f"a{(j * 97 + v) % n}"]
        extra = f"a{(j * 131 + 1 + v) % n}"
        if extra not in q["members"]:
            q["members"].append(extra)
    for k in range(5):
        out["queues"][k]["ring_timeout_s"] = 10.0 + v
    return out


def run(agents: int = 10_000, repeats: int = 30) -> dict[str, dict[str, float]]:
    from busyhour.router import ReferenceRouter, Router, parse_config

    if not 100 <= agents <= 50_000 or not 3 <= repeats <= 200:
        raise SystemExit("agents must be 100 to 50,000 and repeats 3 to 200")
    raw = centre(agents)
    base = parse_config(raw)
    changed = [parse_config(variant(raw, v, agents)) for v in range(2)]
    out = {}
    for cls in (Router, ReferenceRouter):
        r = cls(base, collect_stats=False)
        for i in range(agents):
            r.agent_login(0.0, f"a{i}", ready=True)
        change, same, diff, t = [], [], [], 1.0
        for k in range(repeats):
            a, q = f"a{(k * 37) % agents}", f"q{(k * 7 + 1) % N_QUEUES}"
            member = any(m.agent == a for m in r.config.queues[int(q[1:])].members)
            t0 = time.perf_counter()
            (r.member_update(t, a, q, penalty=1) if member else r.member_add(t, a, q, penalty=1))
            r.member_remove(t, a, q)
            change.append((time.perf_counter() - t0) / 2)
            t += 1.0
        r = cls(base, collect_stats=False)
        for i in range(agents):
            r.agent_login(0.0, f"a{i}", ready=True)
        current = base
        for k in range(max(3, repeats // 5)):
            t0 = time.perf_counter()
            r.reload(t, current)
            same.append(time.perf_counter() - t0)
            current = changed[k % 2]
            t0 = time.perf_counter()
            r.reload(t, current)
            diff.append(time.perf_counter() - t0)
            t += 1.0
        out[cls.__name__] = {"member change": statistics.median(change) * 1e3,
                             "reload, equal": statistics.median(same) * 1e3,
                             "reload, memberships + 5 settings": statistics.median(diff) * 1e3}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--agents", type=int, default=10_000)
    p.add_argument("--repeats", type=int, default=30)
    a = p.parse_args()
    res = run(a.agents, a.repeats)
    print(f"{a.agents:,} agents, {N_QUEUES} queues; medians in ms")
    rows = list(next(iter(res.values())))
    print(f"{'':40s}" + "".join(f"{name:>18s}" for name in res))
    for row in rows:
        print(f"{row:40s}" + "".join(f"{res[name][row]:18.1f}" for name in res))


if __name__ == "__main__":
    main()
