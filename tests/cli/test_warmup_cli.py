"""``busyhour warmup`` and the first-compile notice."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from numba.core import config as numba_config
from typer.testing import CliRunner

from busyhour.cli.main import app
from busyhour.router import core_compile
from busyhour.router.core_compile import cached, compile_notice


def test_warmup_compiles_or_loads_both_kernels(monkeypatch):
    if numba_config.DISABLE_JIT:  # a run of the suite with the JIT off: nothing can compile
        return test_warmup_with_the_jit_off(monkeypatch)
    r = CliRunner().invoke(app, ["warmup"])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["routing core", "simulation loop", "cache"]
    assert all("ready (" in line for line in lines[:2])
    assert cached(core_compile.router_dispatchers())  # compiled in this process now
    folder = Path(lines[2].split(": ", 1)[1])  # where the batch entry's cache index is
    assert any(p.name.startswith("core_handle.run_batch_h-") for p in folder.glob("*.nbi")), sorted(folder.iterdir())


def test_warmup_with_the_jit_off(monkeypatch):
    """With NUMBA_DISABLE_JIT=1 nothing compiles: warmup says so, runs both engines, names no cache."""
    monkeypatch.setenv("NUMBA_DISABLE_JIT", "1")
    r = CliRunner().invoke(app, ["warmup"])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines == [f"{what}: ready (not compiled: NUMBA_DISABLE_JIT=1, {line.rsplit(', ', 1)[1]}"
                     for what, line in zip(("routing core", "simulation loop"), lines)], lines
    assert "numba compiles nothing" in r.stderr and "compiling" not in r.stderr


def test_warmup_announces_each_compile_with_its_estimate(monkeypatch):
    """From an empty cache: the core's estimate, then the loop's, asked once the core is ready (the loop then
    reuses the core's kernels, so its estimate is the smaller one)."""
    from busyhour.cli import warmup_cmd
    from busyhour.sim import fast

    monkeypatch.delenv("NUMBA_DISABLE_JIT", raising=False)
    core_ready: list[bool] = []
    monkeypatch.setattr(core_compile, "cached", lambda ds: False)
    monkeypatch.setattr(core_compile, "warm_up_router", lambda: core_ready.append(True) or 1.0)
    monkeypatch.setattr(fast, "cached", lambda ds: bool(core_ready))
    monkeypatch.setattr(warmup_cmd, "_warm_up_sim", lambda: 1.0)
    r = CliRunner().invoke(app, ["warmup"])
    assert r.exit_code == 0, r.output
    assert f"routing core: compiling, once: ~{core_compile.ROUTER_COMPILE_S} s" in r.stderr
    assert f"simulation loop: compiling, once: ~{fast.SIM_COMPILE_S} s" in r.stderr
    assert fast.SIM_COMPILE_S < fast.SIM_ALONE_COMPILE_S
    assert r.stdout.splitlines()[:2] == ["routing core: ready (compiled, 1.0 s)",
                                         "simulation loop: ready (compiled, 1.0 s)"]


def test_notice_once_when_a_compile_is_coming(capsys, monkeypatch):
    monkeypatch.delenv("NUMBA_DISABLE_JIT", raising=False)
    monkeypatch.setattr(core_compile, "_told", set())
    index: dict = {}  # numba's disk index for the kernel's current source: empty, nothing cached
    cache_file = SimpleNamespace(_load_index=lambda: index)
    cold = SimpleNamespace(signatures=[], _cache=SimpleNamespace(_cache_file=cache_file, _cache_path="/c/numba"))
    compile_notice("the test kernel", [cold], 12)
    compile_notice("the test kernel", [cold], 12)
    err = capsys.readouterr().err
    assert err.count("compiling the test kernel, once: ~12 s") == 1 and "busyhour warmup" in err
    assert "(cached afterwards in /c/numba;" in err  # where: a folder the user cannot write is not used
    compile_notice("a kernel without numba's cache", [SimpleNamespace(signatures=[])], 12)
    err = capsys.readouterr().err
    assert "a kernel without" in err and "(cached afterwards;" in err
    index["(int64,)"] = "code.nbc"  # now on disk: no notice for another kernel
    compile_notice("another kernel", [cold], 12)
    warm = SimpleNamespace(signatures=["(int64,)"])
    compile_notice("a third kernel", [warm], 12)
    assert capsys.readouterr().err == ""


def test_an_estimate_given_as_a_function_is_asked_only_for_a_notice(capsys, monkeypatch):
    monkeypatch.delenv("NUMBA_DISABLE_JIT", raising=False)
    monkeypatch.setattr(core_compile, "_told", set())
    asked = []
    warm = SimpleNamespace(signatures=["(int64,)"])
    compile_notice("a compiled kernel", [warm], lambda: asked.append(1) or 5)
    assert asked == [] and capsys.readouterr().err == ""
    compile_notice("a kernel to compile", [SimpleNamespace(signatures=[])], lambda: asked.append(1) or 5)
    assert asked == [1] and "a kernel to compile, once: ~5 s" in capsys.readouterr().err


def test_the_loops_notice_counts_the_core_when_the_core_is_not_compiled(monkeypatch):
    """A first `busyhour simulate` compiles the core's kernels with the loop: its notice says so."""
    from busyhour.sim import fast

    cold = SimpleNamespace(signatures=[], _cache=SimpleNamespace(_cache_file=SimpleNamespace(_load_index=dict)))
    monkeypatch.setattr(fast, "run_batch_h", cold)
    assert fast.sim_compile_estimate_s() == fast.SIM_ALONE_COMPILE_S > 2 * fast.SIM_COMPILE_S
    monkeypatch.setattr(fast, "run_batch_h", SimpleNamespace(signatures=["(int64,)"]))
    assert fast.sim_compile_estimate_s() == fast.SIM_COMPILE_S


def test_a_router_made_while_one_kernel_is_not_compiled_compiles_them_all_at_once(capsys, monkeypatch):
    """A program that never calls one of the core's entries (``position()``, say) was told it was compiling
    the routing core at every run, as that entry stayed out of the cache. Now the first Router compiles
    every entry (one notice, once per install); later Routers find them all and say nothing."""
    from busyhour.router import Router

    monkeypatch.delenv("NUMBA_DISABLE_JIT", raising=False)
    monkeypatch.setattr(core_compile, "_told", set())
    unused = SimpleNamespace(signatures=[])  # an entry this program never calls: not compiled, not on disk
    monkeypatch.setattr(core_compile, "router_dispatchers", lambda: [SimpleNamespace(signatures=["x"]), unused])
    warmed = []
    monkeypatch.setattr(core_compile, "warm_up_router", lambda: warmed.append(1) or unused.signatures.append("x"))
    cfg = {"agents": [{"id": "a"}], "queues": [{"name": "q", "members": ["a"]}]}
    Router.from_config(cfg)
    assert warmed == [1] and capsys.readouterr().err.count("compiling the routing core, once") == 1
    monkeypatch.setattr(core_compile, "_told", set())  # a later run of the program
    Router.from_config(cfg)
    assert warmed == [1] and capsys.readouterr().err == ""
