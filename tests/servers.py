"""Real servers for tests and benchmarks: started in their own process group, watched, and stopped.

A :class:`ManagedServer` knows when its process has died and says how (exit code or signal) with the
tail of its log, so a test whose server crashed fails with "killed by SIGSEGV" and the server's last
words instead of "connection refused" from deep inside a client. The pytest hook
:func:`report_dead_servers` (wired in ``tests/conftest.py``) turns any failure of a test into that
message when one of its servers has died.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "ManagedServer",
    "ServerDied",
    "background_server",
    "free_port",
    "report_dead_servers",
    "require_system",
]


class ServerDied(RuntimeError):
    """A server process of a test exited or was killed."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def describe_exit(returncode: int) -> str:
    """``exited with code 3`` or ``killed by signal SIGSEGV (11)`` for a ``Popen.returncode``."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by signal {name} ({-returncode})"
    return f"exited with code {returncode}"


class ManagedServer:
    """A server process listening on 127.0.0.1:``port``, its log, and whether it is still alive."""

    def __init__(self, name: str, proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.name = name
        self.proc = proc
        self.port = port
        self.log = log
        self.url = f"http://127.0.0.1:{port}"
        self.stopping = False
        self._watcher = threading.Thread(target=proc.wait, name=f"watch-{name}", daemon=True)
        self._watcher.start()

    def __repr__(self) -> str:
        state = "running" if self.alive else describe_exit(self.proc.returncode)
        return f"ManagedServer({self.name!r}, {self.url}, pid={self.proc.pid}, {state})"

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            return f"(log {self.log} unreadable: {exc})"
        return "\n".join(text.splitlines()[-lines:]) or "(the log is empty)"

    def death_report(self) -> str | None:
        """None while the process runs; else how it ended and the end of its log."""
        if self.alive or self.stopping:
            return None
        return (
            f"{self.name} (pid {self.proc.pid}, {self.url}) {describe_exit(self.proc.returncode)}; "
            f"last lines of {self.log}:\n{self.log_tail()}"
        )

    def check(self, grace: float = 0.0) -> None:
        """Raise :class:`ServerDied` if the process has ended.

        Waiting up to ``grace`` s for a dying one.
        """
        if grace > 0:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=grace)
        report = self.death_report()
        if report is not None:
            raise ServerDied(report)


@contextlib.contextmanager
def background_server(
    argv: Sequence[str],
    port: int,
    *,
    log: Path,
    timeout: float = 60.0,
    name: str | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[ManagedServer]:
    """Run a server for the length of a ``with`` block.

    Yields it once it accepts connections on ``port``.

    Its output goes to ``log``. If it dies before listening, :class:`ServerDied` says how, with the
    log's tail. ``env`` replaces the environment of the server (default: this process's). The whole
    process group is stopped afterwards (SIGTERM, then SIGKILL after 15 s).
    """
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            list(argv), stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env
        )
    server = ManagedServer(name or Path(argv[0]).name, proc, port, log)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                server.check()
                if time.monotonic() > deadline:
                    raise ServerDied(
                        f"{server.name} did not listen on port {port} within {timeout:.0f} s; "
                        f"last lines of {log}:\n{server.log_tail()}"
                    ) from None
                time.sleep(0.2)
        yield server
    finally:
        server.stopping = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def dead_servers(values: Any) -> list[str]:
    """The death reports of the :class:`ManagedServer` objects among ``values``."""
    return [
        r for v in values if isinstance(v, ManagedServer) and (r := v.death_report()) is not None
    ]


def report_dead_servers(item: Any) -> Iterator[None]:
    """A ``pytest_runtest_call`` wrapper body.

    A failing test whose server died fails with :class:`ServerDied`.
    """
    try:
        yield
    except BaseException as exc:
        funcargs = getattr(item, "funcargs", {})
        servers = [v for v in funcargs.values() if isinstance(v, ManagedServer)]
        for server in servers:  # a crash may still be under way when the client already gave up
            with contextlib.suppress(subprocess.TimeoutExpired):
                if server.alive:
                    server.proc.wait(timeout=1.0)
        reports = dead_servers(servers)
        if reports:
            raise ServerDied("a server this test uses crashed: " + "\n\n".join(reports)) from exc
        raise


def require_system(what: str, found: bool) -> None:
    """A test that needs a system package (Chromium, redis-server).

    Skipped where it is truly absent, with the reason and the command that installs it; failed in CI
    (``CI=true``), which must keep proving it.
    """
    if found:
        return
    message = (
        f"{what} is not installed: run 'bash scripts/system_packages.sh' as root "
        "(scripts/setup.sh does)"
    )
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)
