"""``busyhour bench server`` and ``bench soak`` as a user runs them: bounded, JSON written, one-line errors."""

from __future__ import annotations

import base64
import json
import os
import pickle
import subprocess
import sys
from types import SimpleNamespace

import pytest

from busyhour.bench.loadgen import Generator, LoadResult, LoadSpec
from busyhour.bench.serverproc import process_cpu_s, process_tree_cpu_s
from busyhour.bench.server_bench import _result


def busyhour(*args: str, timeout_s: float = 120.0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "busyhour.cli.main", *args], capture_output=True, text=True,
                          timeout=timeout_s)


def test_bench_server_small_run_writes_the_figures(tmp_path):
    out = tmp_path / "server.json"
    p = busyhour("bench", "server", "--calls", "400", "--max-seconds", "3", "--generators", "1", "--agents", "20",
                 "--queues", "2", "--frames", "batched", "--json", str(out))
    assert p.returncode == 0, p.stderr
    body = json.loads(out.read_text())
    for key in ("lifecycles_per_s", "bhca", "frames", "latency_ms", "latency_ms_at_max", "fsync", "ratios", "runs",
                "waited_share", "latency_ms_at_once", "server_cpu_us_per_lifecycle"):
        assert key in body
    assert body["frames"] == "batched" and body["fsync"] == "batch"
    assert body["bhca"] == body["lifecycles_per_s"] * 3600
    assert set(body["latency_ms"]) == {"p50", "p99", "p999"}
    assert body["latency_ms"]["p50"] <= body["latency_ms"]["p99"] <= body["latency_ms"]["p999"]
    assert body["runs"]["max"]["lifecycles"] == 400  # every call completed its lifecycle
    assert body["runs"]["max"]["waited_share"] == 0.0  # closed loop: a call arrives only for a free agent
    assert 0.0 <= body["waited_share"] <= 1.0
    once = body["latency_ms_at_once"]
    assert once["p50"] <= once["p99"] <= once["p999"] and once["p50"] > 0
    # the server's CPU over the max run, per lifecycle: more than nothing, less than the run's whole wall time
    cpu_us = body["server_cpu_us_per_lifecycle"]
    assert cpu_us == body["runs"]["max"]["server_cpu_us_per_lifecycle"]
    assert 0 < cpu_us < body["runs"]["max"]["seconds"] * 1e6 / 400 * 2  # at most both cores, the whole run
    assert body["ratios"] == {"processing_failure": 0.0, "premature_release": 0.0, "release_failure": 0.0,
                              "connection": 1.0}


def test_bench_refuses_bad_input_before_work(tmp_path):
    (tmp_path / "afile").write_text("")
    p = busyhour("bench", "server", "--json", str(tmp_path / "afile" / "x.json"))
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "not a folder" in p.stderr
    p = busyhour("bench", "soak", "--json", str(tmp_path / "x.txt"))
    assert p.returncode == 2 and ".json" in p.stderr
    p = busyhour("bench", "server", "--frames", "triple")
    assert p.returncode == 2 and "--frames" in p.stderr
    p = busyhour("bench", "server", "--queues", "9", "--agents", "4")
    assert p.returncode == 2 and "queues" in p.stderr
    p = busyhour("bench", "soak", "--kills", "-1")
    assert p.returncode == 2 and "--kills" in p.stderr


def test_a_generator_result_cut_short_is_a_clear_error():
    """A generator stopped while writing its result line (seen under a profiler) gets a message that says
    so, not a bare unpickling error."""
    whole = base64.b64encode(pickle.dumps(LoadResult("g", lifecycles=3))).decode("ascii")
    assert _result(whole, 0).lifecycles == 3
    for cut in (whole[:len(whole) // 2], whole[:-4], "not base64!", ""):
        with pytest.raises(RuntimeError, match="load generator 1 sent a result that could not be read"):
            _result(cut, 1)


def _reply(t_s: float, *events: tuple) -> SimpleNamespace:
    return SimpleNamespace(ok=True, received_s=t_s, events=[
        SimpleNamespace(kind=k, call=c, agent=a, detail=d) for k, c, a, d in events])


def test_the_generator_counts_calls_that_waited_for_an_agent_apart():
    """A call offered in its arrive's reply has its latency kept apart too; one offered in a later reply waited
    for an agent. The closed loop keeps ``busy_share`` of a queue's members busy at most (one at least)."""
    spec = LoadSpec("g", ("tcp://127.0.0.1:9",), (("q", 0, ("a0", "a1", "a2", "a3")),), calls=10, call_base=1,
                    max_seconds=1.0, busy_share=0.5)
    gen = Generator(spec)
    try:
        assert gen.caps == [2]
        gen._handle(0, [_reply(1.002, ("CALL_OFFERED", 1, "a0", "")), _reply(1.002, ("CALL_QUEUED", 2, None, ""))],
                    [(0, 1, 0, None), (0, 2, 0, None)], 1.0)
        assert gen.res.waited == 1 and gen.res.calls_arrived == 2
        assert list(gen.latencies_now) == pytest.approx([2.0], abs=1e-3)
        gen._handle(0, [_reply(1.050, ("CALL_CONNECTED", 1, "a0", ""), ("CALL_OFFERED", 2, "a1", ""))],
                    [(1, 1, 0, "a0")], 1.04)
        assert list(gen.latencies) == pytest.approx([2.0, 50.0], abs=1e-3)  # call 2: from its own arrive
        assert len(gen.latencies_now) == 1 and gen.res.waited == 1
    finally:
        gen.close()
    one = Generator(LoadSpec("h", ("tcp://127.0.0.1:9",), (("q", 0, ("a0",)),), 1, 1, 1.0, busy_share=0.05))
    one.close()
    assert one.caps == [1]


def test_a_process_cpu_time_is_read_from_proc():
    """process_cpu_s reads user + system time, with reaped children, as os.times() counts them; None for a
    process that is gone."""
    child = subprocess.run([sys.executable, "-c", "sum(i * i for i in range(3_000_000))"], check=True)
    assert child.returncode == 0
    x = 0
    for i in range(2_000_000):  # some CPU of our own
        x += i * i
    t = os.times()
    want = t.user + t.system + t.children_user + t.children_system
    got = process_cpu_s(os.getpid())
    assert got is not None and abs(got - want) < 0.05 and t.children_user > 0.05
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert process_cpu_s(gone.pid) is None


def test_a_process_trees_cpu_time_sums_its_live_descendants():
    """process_tree_cpu_s: the process's own CPU time plus that of its live children (not yet reaped, so not in
    the parent's own figure); 0.0 for a process that is gone."""
    child = subprocess.Popen([sys.executable, "-c", "import sys, time\nsum(i * i for i in range(3_000_000))\n"
                              "print('busy', flush=True)\ntime.sleep(30)"], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "busy"
        mine, its = process_cpu_s(os.getpid()), process_cpu_s(child.pid)
        assert its is not None and its > 0.05
        assert process_tree_cpu_s(child.pid) == its  # no descendants of its own
        assert process_tree_cpu_s(os.getpid()) >= mine + its - 0.02
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
    assert process_tree_cpu_s(child.pid) == 0.0
