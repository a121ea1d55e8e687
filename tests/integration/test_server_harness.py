"""The server harness says how a server died: exit code or signal, and the tail of its log."""

from __future__ import annotations

import os
import signal
import socket
import sys
import textwrap
from pathlib import Path

import pytest

from ..servers import ManagedServer, ServerDied, background_server, free_port

pytestmark = pytest.mark.slow

# A tiny server that logs a line, then serves until killed.
TINY = [
    sys.executable,
    "-u",
    "-c",
    textwrap.dedent("""
    import http.server, sys
    print("tiny server: model loaded, listening", flush=True)
    address = ("127.0.0.1", int(sys.argv[1]))
    http.server.HTTPServer(address, http.server.BaseHTTPRequestHandler).serve_forever()
"""),
]


def test_a_server_killed_by_sigsegv_is_reported_with_the_signal_and_its_log(tmp_path: Path) -> None:
    port = free_port()
    with background_server(
        [*TINY, str(port)], port, log=tmp_path / "tiny.log", name="tiny"
    ) as server:
        server.check()  # alive: no error
        os.kill(server.proc.pid, signal.SIGSEGV)
        with pytest.raises(ServerDied) as err:
            server.check(grace=5.0)
    message = str(err.value)
    assert "killed by signal SIGSEGV (11)" in message
    assert "tiny server: model loaded, listening" in message
    assert str(tmp_path / "tiny.log") in message


def test_a_server_that_exits_before_listening_reports_its_exit_code(tmp_path: Path) -> None:
    argv = [sys.executable, "-c", "import sys; print('bad config: no model file'); sys.exit(3)"]
    with (
        pytest.raises(ServerDied, match=r"exited with code 3(.|\n)*bad config: no model file"),
        background_server(argv, free_port(), log=tmp_path / "bad.log", timeout=30),
    ):
        pass


def test_a_test_whose_server_dies_mid_run_fails_naming_the_signal_and_the_log_tail(
    pytester: pytest.Pytester,
) -> None:
    # A test suite of its own: its fixture starts the tiny server, its test kills it with SIGKILL
    # mid-run and then fails the way a client does ("connection refused"); the hook must report the
    # crash instead.
    pytester.makeconftest(
        textwrap.dedent(f"""
        import pytest
        from tests.conftest import pytest_runtest_call  # the hook under test
        from tests.servers import background_server, free_port

        @pytest.fixture(scope="session")
        def engine_server(tmp_path_factory):
            port = free_port()
            log = tmp_path_factory.mktemp("srv") / "engine.log"
            with background_server({TINY!r} + [str(port)], port, log=log, name="engine") as server:
                yield server
    """)
    )
    pytester.makepyfile(
        textwrap.dedent("""
        import os, signal, socket, time

        def test_first(engine_server):
            os.kill(engine_server.proc.pid, signal.SIGKILL)
            time.sleep(0.5)
            socket.create_connection(("127.0.0.1", engine_server.port), timeout=2).close()

        def test_second(engine_server):
            engine_server.check()
    """)
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    assert "ServerDied: a server this test uses crashed: engine" in out
    assert "killed by signal SIGKILL (9)" in out
    assert "tiny server: model loaded, listening" in out
    # the client's error stays in the chain, below the crash report
    assert "ConnectionRefusedError" in out


def test_a_running_server_passes_the_liveness_check(tmp_path: Path) -> None:
    port = free_port()
    with background_server([*TINY, str(port)], port, log=tmp_path / "tiny.log") as server:
        assert isinstance(server, ManagedServer) and server.alive and server.death_report() is None
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    assert not server.alive and server.death_report() is None  # stopped on purpose: not a death
