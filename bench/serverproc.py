"""``busyhour serve`` as a child process on loopback: start, wait until ready, kill, restart, stop.

Used by the server benchmark, the fault soak and the client tests. The
server is the installed console script's module (``python -m
busyhour.cli.main serve …``) run by the current interpreter, so it is the
real thing, with its own process and core.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

READY_PREFIX = "busyhour serve: ready"
READY_TIMEOUT_S = 60.0  # a start includes the journal replay
STOP_TIMEOUT_S = 30.0


class ServerStartError(RuntimeError):
    """The server did not print its ready line in time, or exited first."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    return free_ports(1)[0]


def free_ports(n: int) -> list[int]:
    """``n`` distinct such ports: held open together while the kernel picks them, since two calls of
    :func:`free_port` one after the other may get the same port back (a server given it for both its command
    and its event socket then failed to bind)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def write_config(path: Path, queues: dict[str, list[str]], *, ring_timeout_s: float = 600.0,
                 wrap_up_s: float = 0.0) -> Path:
    """A router TOML: the given queues (name -> member agent ids) and their agents."""
    lines: list[str] = []
    agents: dict[str, None] = {}
    for name, members in queues.items():
        lines += ["[[queues]]", f'name = "{name}"', "members = [" + ", ".join(f'"{a}"' for a in members) + "]",
                  f"ring_timeout_s = {ring_timeout_s!r}", f"wrap_up_s = {wrap_up_s!r}", ""]
        agents.update(dict.fromkeys(members))
    for a in agents:
        lines += ["[[agents]]", f'id = "{a}"', ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of process ``pid`` from ``/proc/PID/stat``; None where there is none."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()  # after the command name, which may hold spaces
        cpu_ticks = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        return int(fields[1]), cpu_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def process_cpu_s(pid: int) -> float | None:
    """CPU seconds of process ``pid`` (user and system, with its reaped children: a snapshot's forked writer)
    from ``/proc``; None where there is none (not Linux, or the process is gone)."""
    st = _stat(pid)
    return None if st is None else st[1]


def process_tree_cpu_s(pid: int) -> float:
    """CPU seconds used so far by process ``pid`` and its live descendants (a process pool's workers, which a
    forkserver starts), from ``/proc``: 0.0 where there is none."""
    stats = {int(e): st for e in os.listdir("/proc") if e.isdigit() and (st := _stat(int(e))) is not None}
    children: dict[int, list[int]] = {}
    for p, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(p)
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += stats[p][1] if p in stats else 0.0
        todo += children.get(p, [])
    return total


class ServerProcess:
    """One ``busyhour serve`` child. Ports are picked once and kept across restarts (clients reconnect)."""

    def __init__(self, config: Path, journal: Path | None, *, fsync: str = "batch",
                 extra_args: tuple[str, ...] = (), log_path: Path | None = None, metrics: bool = False):
        self.config = Path(config)
        self.journal = journal
        self.fsync = fsync
        commands, events, *rest = free_ports(3 if metrics else 2)  # drawn together: never the same port twice
        self.metrics_port = rest[0] if metrics else None  # ``--metrics 127.0.0.1:PORT`` when asked for
        self.extra_args = tuple(extra_args) + (("--metrics", f"127.0.0.1:{rest[0]}") if metrics else ())
        self.commands, self.events = f"tcp://127.0.0.1:{commands}", f"tcp://127.0.0.1:{events}"
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self._threads: list[threading.Thread] = []
        self.starts = 0
        self.stderr_tail: list[str] = []
        self.ready_line = ""

    def argv(self) -> list[str]:
        args = [sys.executable, "-m", "busyhour.cli.main", "serve", str(self.config), "--bind", self.commands,
                "--pub", self.events, "--fsync", self.fsync, *self.extra_args]
        if self.journal is not None:
            args += ["--journal", str(self.journal)]
        return args

    def start(self, timeout_s: float = READY_TIMEOUT_S) -> float:
        """Start and wait for the ready line; return the seconds it took."""
        t0 = time.monotonic()
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(self.argv(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=env, start_new_session=True)
        self.starts += 1
        self._pump_stderr(self.proc)
        ready = threading.Event()
        lines: list[str] = []

        def read() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                lines.append(line)
                if line.startswith(READY_PREFIX):
                    ready.set()
            ready.set()

        self._spawn(read)
        ready.wait(timeout_s)
        self.ready_line = next((x.strip() for x in lines if x.startswith(READY_PREFIX)), "")
        if self.proc.poll() is not None or not self.ready_line:
            self.kill()
            tail = " | ".join(self.stderr_tail[-5:])
            raise ServerStartError(f"busyhour serve did not become ready in {timeout_s:g} s: {tail}")
        return time.monotonic() - t0

    def _pump_stderr(self, proc: subprocess.Popen) -> None:
        log = open(self.log_path, "a", encoding="utf-8") if self.log_path else None

        def pump() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                self.stderr_tail.append(line.rstrip())
                del self.stderr_tail[:-50]
                if log:
                    log.write(line)
                    log.flush()
            if log:
                log.close()

        self._spawn(pump)

    def _spawn(self, target) -> None:
        t = threading.Thread(target=target, daemon=True)
        t.start()
        self._threads.append(t)

    def _reap(self) -> None:
        """After the child exited: let the pipe readers reach EOF, then close the pipes."""
        for t in self._threads:
            t.join(5)
        self._threads.clear()
        if self.proc is not None:
            for f in (self.proc.stdout, self.proc.stderr):
                if f is not None:
                    f.close()

    def kill(self) -> None:
        """SIGKILL: no drain, no snapshot (what a crash looks like)."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(STOP_TIMEOUT_S)
        self._reap()

    def stop(self) -> int | None:
        """SIGTERM (drain, snapshot, exit 0) and wait; SIGKILL if it does not exit in time."""
        if self.proc is None or self.proc.poll() is not None:
            self._reap()
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()
            return None
        self._reap()
        return code

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def cpu_s(self) -> float | None:
        """The running server's CPU seconds so far (:func:`process_cpu_s`), or None."""
        return process_cpu_s(self.proc.pid) if self.alive() else None

    def __enter__(self) -> "ServerProcess":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
