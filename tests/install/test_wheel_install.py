"""The wheel: build it, install it into a fresh virtual environment, run busyhour from there.

Offline and fast: the source is copied to a temporary folder (the checkout stays
untouched), the wheel is built without build isolation (setuptools>=77 from the
test environment), and the fresh venv gets the wheel alone (``--no-deps``) plus
a ``.pth`` line pointing at this environment's site-packages for numpy, numba,
typer … (their ``.pth`` hooks, such as the editable checkout's, are not run, so
``import busyhour`` can only find the wheel).

Checks: the wheel ships examples/ as ``busyhour/examples`` and the LICENSE;
``busyhour --version`` and ``busyhour erlang c`` run from the venv; and
``busyhour.examples.path("busy_hour.toml")`` is a file inside the venv.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IGNORE = shutil.ignore_patterns(".venv", ".git", "__pycache__", "build", "dist", "*.egg-info", ".hypothesis",
                                ".pytest_cache", ".benchmarks", "out", "*.nbi", "*.nbc")


def _run(cmd: list[str], *, cwd: Path, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert p.returncode == 0, f"{' '.join(map(str, cmd))}\n{p.stdout[-2000:]}\n{p.stderr[-4000:]}"
    return p


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    pytest.importorskip("setuptools", minversion="77")
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=IGNORE)
    dist = tmp / "dist"
    build = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-v",
                  "-w", str(dist), str(src)], cwd=tmp, timeout=300)
    assert "DeprecationWarning" not in build.stdout + build.stderr  # e.g. a TOML-table license
    wheel = next(dist.glob("busyhour-*.whl"))
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp)
    vpy = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(vpy), "install", "--no-deps", "--no-index", "-q", str(wheel)],
         cwd=tmp, timeout=300)
    purelib = Path(_run([str(vpy), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                        cwd=tmp).stdout.strip())
    deps = [sysconfig.get_path("purelib"), sysconfig.get_path("platlib"), *site.getsitepackages()]
    (purelib / "_busyhour_test_deps.pth").write_text("\n".join(dict.fromkeys(deps)) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "BUSYHOUR"))}
    env["NUMBA_CACHE_DIR"] = str(tmp / "numba-cache")
    return {"wheel": wheel, "venv": venv, "purelib": purelib, "env": env, "cwd": tmp}


def test_wheel_ships_examples_and_license(installed):
    names = zipfile.ZipFile(installed["wheel"]).namelist()
    assert "busyhour/examples/__init__.py" in names
    assert {"busyhour/examples/busy_hour.toml", "busyhour/examples/forecast_weekday.csv"} <= set(names)
    assert any(n.endswith("licenses/LICENSE") for n in names)
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(installed["wheel"]).read(meta).decode()
    assert "License-Expression: Apache-2.0" in text and "Classifier: Topic :: Communications :: Telephony" in text


def test_installed_cli_runs(installed):
    bin_ = installed["venv"] / "bin"
    out = _run([str(bin_ / "busyhour"), "--version"], cwd=installed["cwd"], env=installed["env"]).stdout
    assert out.strip() == f"busyhour {version('busyhour')}"
    p = _run([str(bin_ / "busyhour"), "erlang", "c", "--load", "10", "--aht-s", "180", "--sl", "80/20", "-f", "json"],
             cwd=installed["cwd"], env=installed["env"], timeout=300)
    assert json.loads(p.stdout)["summary"]["required_agents"] == 14


def test_installed_examples_path(installed):
    code = ("import busyhour, busyhour.examples as ex; p = ex.path('busy_hour.toml'); "
            "print(busyhour.__file__); print(p); print(p.is_file())")
    lines = _run([str(installed["venv"] / "bin" / "python"), "-c", code], cwd=installed["cwd"],
                 env=installed["env"]).stdout.split()
    pkg, example, is_file = Path(lines[0]), Path(lines[1]), lines[2]
    assert pkg.is_relative_to(installed["purelib"])  # the wheel, not the checkout
    assert example.is_relative_to(installed["purelib"]) and is_file == "True"


def test_installed_demo_runs(installed):
    """`busyhour demo` from the wheel: the shipped scenario, simulated, with its staffing suggestion.

    Run with ``NUMBA_DISABLE_JIT=1``: what this checks is the wheel (entry point, shipped scenario, the demo's
    whole path), in ~15 s instead of the ~1.5 min a first compile of the routing core and the simulation loop
    takes from a fresh install. Compiling from the wheel is checked by ``busyhour erlang c`` above; the
    compiled demo itself by tests/sim/test_sim_engine_cli.py."""
    env = {**installed["env"], "NUMBA_DISABLE_JIT": "1"}
    p = _run([str(installed["venv"] / "bin" / "busyhour"), "demo", "-r", "2", "--staffing-replications", "2",
              "--workers", "1", "-f", "json"], cwd=installed["cwd"], env=env, timeout=600)
    doc = json.loads(p.stdout)
    assert (doc["kind"], doc["scenario"], doc["replications"], doc["partial"]) == ("demo", "busy-hour", 2, False)
    assert [i["start"] for i in doc["intervals"]][:2] == ["08:00", "08:15"] and len(doc["intervals"]) == 16
    assert all(0.0 <= i["service_level"]["mean"] <= 1.0 for i in doc["intervals"]) and doc["staffing"]
