"""A whole SIP contact centre on loopback: ``busyhour serve`` + Kamailio (adapters/kamailio) + SIPp.

Used by the end-to-end test (tests/e2e) and ``busyhour bench sip``. Every
process is started here and stopped by its pid (SIGTERM, then SIGKILL after
a bounded wait); Kamailio runs in the foreground (``-DD -E``) with ``-m 256``
and a clean environment; all sockets are on 127.0.0.1, ports picked free.

Needs the Debian packages in :data:`DEBIAN_PACKAGES`; :func:`missing_packages`
names the absent ones.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack
import zmq

from busyhour.bench.serverproc import ServerProcess

DEBIAN_PACKAGES = ("kamailio", "kamailio-python3-modules", "python3-zmq", "python3-msgpack", "sip-tester")
ADAPTER_DIR = Path(__file__).resolve().parents[1] / "adapters" / "kamailio"
SCENARIOS = ADAPTER_DIR / "sipp"
KAMAILIO_PYTHON = "/usr/bin/python3"
APP_PYTHON3 = ("/usr/lib/x86_64-linux-gnu/kamailio/modules/app_python3.so", "/usr/lib/kamailio/modules/app_python3.so")
STOP_TIMEOUT_S = 10.0
READY_TIMEOUT_S = 30.0


def missing_packages() -> list[str]:
    """The Debian packages of :data:`DEBIAN_PACKAGES` this machine lacks (empty when all are there)."""
    missing = []
    if shutil.which("kamailio") is None and not Path("/usr/sbin/kamailio").exists():
        missing.append("kamailio")
    if not any(Path(p).exists() for p in APP_PYTHON3):
        missing.append("kamailio-python3-modules")
    for mod, pkg in (("zmq", "python3-zmq"), ("msgpack", "python3-msgpack")):
        ok = Path(KAMAILIO_PYTHON).exists() and subprocess.run(
            [KAMAILIO_PYTHON, "-c", f"import {mod}"], capture_output=True, timeout=30, env={}).returncode == 0
        if not ok:
            missing.append(pkg)
    if shutil.which("sipp") is None:
        missing.append("sip-tester")
    return missing


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Child:
    """One child process in its own session, stopped by its pid."""

    def __init__(self, argv: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None):
        self.log = log
        self.argv0 = argv[0]
        self.fh = open(log, "ab")
        self.proc = subprocess.Popen(argv, stdout=self.fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=env, cwd=cwd, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(STOP_TIMEOUT_S)
        self.fh.close()


@dataclass(frozen=True)
class CallerRun:
    """One SIPp caller run: outcome per Call-ID (``connected``, ``final-480``, ``abandoned`` …)."""

    outcomes: dict[str, str]
    exit_code: int
    seconds: float
    sipp_failed: int


class SipStack:
    """Server + Kamailio + SIPp agent phones.

    ``agents``: phone name -> SIPp scenario file name (one SIPp UAS each);
    ``agent_phone``: engine agent id -> phone name (default: the agent id is
    the phone's name); ``queues``: dialled number -> queue name. ``curve_keys``: a folder from ``busyhour keys
    generate DIR --client kamailio --client stack``: the server runs ``--curve-keys DIR``, Kamailio's bridge
    uses client ``kamailio`` and this stack's own requests client ``stack``. ``reconcile_s``: the adapter's
    ``reconcile_s`` (its default when None)."""

    def __init__(self, work: Path, router_toml: str, agents: dict[str, str], queues: dict[str, str], *,
                 fsync: str = "batch", children: int = 4, journal: bool = True,
                 agent_phone: dict[str, str] | None = None, curve_keys: Path | None = None,
                 reconcile_s: float | None = None):
        self.work = Path(work)
        self.work.mkdir(parents=True, exist_ok=True)
        (self.work / "router.toml").write_text(router_toml, encoding="utf-8")
        self.curve_keys = curve_keys
        self.reconcile_s = reconcile_s
        self.server = ServerProcess(self.work / "router.toml", self.work / "journal" if journal else None,
                                    fsync=fsync, log_path=self.work / "serve.log",
                                    extra_args=("--curve-keys", str(curve_keys)) if curve_keys else ())
        self.sip_port = free_udp_port()
        self.agent_ports = {a: free_udp_port() for a in agents}
        self.agents = agents
        self.agent_phone = agent_phone or {a: a for a in agents}
        self.queues = queues
        self.children = children
        self.procs: list[Child] = []
        self.kamailio: Child | None = None
        self.ctx = zmq.Context.instance()
        self.sock: zmq.Socket | None = None
        self.runs = 0

    # ------------------------------------------------------------ lifecycle
    def start(self) -> "SipStack":
        if not (ADAPTER_DIR / "kamailio.cfg").exists():
            raise RuntimeError(f"{ADAPTER_DIR} not found: run from a busyhour source checkout")
        self.server.start()
        conf = self.work / "adapter.toml"
        ipc = self.work / "bridge.ipc"
        if len(str(ipc)) > 90:           # a Unix socket path holds at most ~107 bytes
            ipc = Path(tempfile.gettempdir()) / f"busyhour-{uuid.uuid4().hex[:12]}.ipc"
        lines = ["[router]", f'commands = "{self.server.commands}"', f'events = "{self.server.events}"']
        if self.curve_keys:
            lines += [f'curve_keys = "{self.curve_keys}"', 'curve_client = "kamailio"']
        lines += ["[adapter]", f'ipc = "ipc://{ipc}"', 'name = "e2e"']
        lines += [] if self.reconcile_s is None else [f"reconcile_s = {self.reconcile_s}"]
        lines += ["[queues]"]
        lines += [f'"{num}" = "{q}"' for num, q in self.queues.items()]
        lines += ["[agents]"] + [f'"{a}" = "sip:{a}@127.0.0.1:{self.agent_ports[ph]}"'
                                 for a, ph in self.agent_phone.items()]
        conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
        env = {"PATH": "/usr/sbin:/usr/bin:/bin", "BUSYHOUR_KAMAILIO_CONF": str(conf)}
        self.kamailio = Child(["kamailio", "-f", str(ADAPTER_DIR / "kamailio.cfg"), "-m", "256", "-DD", "-E",
                               "-A", f"BH_LISTEN=udp:127.0.0.1:{self.sip_port}",
                               "-A", f'BH_HANDLER="{ADAPTER_DIR / "busyhour_kamailio.py"}"',
                               "-A", f"BH_CHILDREN={self.children}"], self.work / "kamailio.log", env=env)
        for a, scenario in self.agents.items():
            self.procs.append(Child(["sipp", "-sf", str(SCENARIOS / scenario), "-i", "127.0.0.1", "-p",
                                     str(self.agent_ports[a]), "-nostdin", "-bind_local", "-max_recv_loops",
                                     "10000"], self.work / f"agent-{a}.log", cwd=self.work))
        self.wait_ready()
        return self

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Until Kamailio answers OPTIONS with 200 (its bridge reaches the router)."""
        deadline = time.monotonic() + timeout_s
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            s.settimeout(0.2)
            while time.monotonic() < deadline:
                for child in [self.kamailio, *self.procs]:
                    if child is not None and child.proc.poll() is not None:
                        raise RuntimeError(f"{child.argv0} exited early; see {child.log}")
                s.sendto(_options(s.getsockname()[1], self.sip_port), ("127.0.0.1", self.sip_port))
                try:
                    if s.recv(4096).startswith(b"SIP/2.0 200"):
                        return
                except socket.timeout:
                    pass
                time.sleep(0.1)
        raise RuntimeError(f"kamailio did not report the router reachable within {timeout_s:g} s")

    def stop(self) -> None:
        for child in self.procs:
            child.stop()
        self.procs.clear()
        if self.kamailio is not None:
            self.kamailio.stop()
            self.kamailio = None
        if self.sock is not None:
            self.sock.close(0)
            self.sock = None
        self.server.stop()

    def __enter__(self) -> "SipStack":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------- router client
    def request(self, op: str, timeout_s: float = 10.0, **fields: Any) -> dict:
        """One protocol request on a fresh-per-stack DEALER; returns the reply map."""
        if self.sock is None:
            self.sock = self.ctx.socket(zmq.DEALER)
            self.sock.setsockopt(zmq.LINGER, 0)
            self.sock.setsockopt(zmq.ROUTING_ID, f"e2e-{uuid.uuid4().hex[:12]}".encode())
            if self.curve_keys:
                from busyhour.router.server.security import client_keys

                keys = client_keys(self.curve_keys, "stack")
                self.sock.curve_publickey, self.sock.curve_secretkey = keys.public, keys.secret
                self.sock.curve_serverkey = keys.server_public
            self.sock.connect(self.server.commands)
        rid = uuid.uuid4().hex
        try:
            self.sock.send(msgpack.packb({"v": 1, "id": rid, "op": op, **fields}), zmq.NOBLOCK)
        except zmq.Again:  # no connection to queue on: fail now rather than block for ever
            raise TimeoutError(f"cannot send {op} to {self.server.commands}: no connection to queue on") from None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.sock.poll(100):
                rep = msgpack.unpackb(self.sock.recv(), raw=False)
                if rep.get("id") == rid:
                    return rep
        raise TimeoutError(f"no reply to {op} within {timeout_s:g} s")

    def settle(self, timeout_s: float = 10.0) -> list:
        """Wait (bounded) until the engine holds no live call (the last BYEs reached it); return what is left."""
        deadline = time.monotonic() + timeout_s
        while True:
            calls = self.request("snapshot")["result"]["calls"]
            if not calls or time.monotonic() > deadline:
                return calls
            time.sleep(0.1)

    def events(self) -> list[list]:
        """Every event the server has (from its memory and journal), oldest first."""
        out: list[list] = []
        seq = 0
        for _ in range(1000):
            rep = self.request("events_since", seq=seq)
            assert rep["ok"], rep
            out += rep["result"]["events"]
            seq = out[-1][0] if out else seq
            if not rep["result"]["more"]:
                return out
        raise RuntimeError("events_since did not finish")

    # -------------------------------------------------------------- callers
    def callers(self, number: str, calls: int, rate: float, talk_ms: int = 1000, *,
                scenario: str = "caller.xml", timeout_s: float = 60.0, background: bool = False,
                limit: int | None = None):
        """Run SIPp callers to ``number``: ``calls`` at ``rate``/s, each talking ``talk_ms``."""
        self.runs += 1
        log = self.work / f"callers-{self.runs}.log"
        argv = ["sipp", f"127.0.0.1:{self.sip_port}", "-sf", str(SCENARIOS / scenario), "-s", number,
                "-i", "127.0.0.1", "-p", str(free_udp_port()), "-m", str(calls), "-r", str(rate), "-rp", "1000",
                "-d", str(talk_ms), "-trace_logs", "-log_file", str(log), "-nostdin",
                "-recv_timeout", str(int(timeout_s * 1000)), "-timeout", f"{int(timeout_s) + 5}s",
                "-trace_stat", "-stf", str(self.work / f"callers-{self.runs}.csv"), "-fd", "3600"]
        if limit:
            argv += ["-l", str(limit)]
        t0 = time.monotonic()
        child = Child(argv, self.work / f"sipp-{self.runs}.out", cwd=self.work)
        if background:
            return child, log, t0
        return self.finish_callers(child, log, t0, timeout_s + 30)

    @staticmethod
    def finish_callers(child: Child, log: Path, t0: float, timeout_s: float = 90.0) -> CallerRun:
        """Wait for a SIPp caller run (bounded) and read its outcomes."""
        try:
            code = child.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            child.stop()
            code = -1
        child.fh.close()
        seconds = time.monotonic() - t0
        outcomes = {}
        if log.exists():
            for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
                parts = line.split()
                if len(parts) >= 2:
                    outcomes[parts[-2]] = parts[-1]
        failed = _failed_calls(log.with_suffix(".csv"))
        return CallerRun(outcomes, code, seconds, failed)


def _failed_calls(csv_path: Path) -> int:
    """SIPp's cumulative FailedCall count from its statistics CSV (-1 when absent)."""
    if not csv_path.exists():
        return -1
    rows = [r.split(";") for r in csv_path.read_text(encoding="utf-8", errors="replace").splitlines() if r]
    if len(rows) < 2 or "FailedCall(C)" not in rows[0]:
        return -1
    return int(rows[-1][rows[0].index("FailedCall(C)")])


def _options(local_port: int, port: int) -> bytes:
    branch = uuid.uuid4().hex
    return (f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{local_port};branch=z9hG4bK{branch}\r\n"
            f"From: <sip:probe@127.0.0.1>;tag={branch[:8]}\r\nTo: <sip:127.0.0.1:{port}>\r\nCall-ID: {branch}\r\n"
            f"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode()
