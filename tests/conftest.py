from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from .servers import ManagedServer, background_server, free_port, report_dead_servers

pytest_plugins = ["pytester"]

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """A test failing while one of its servers is dead fails with the server's exit and log."""
    return (yield from report_dead_servers(item))


@pytest.fixture(autouse=True)
def _checks_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Answer checks are off unless a test turns them on.

    Each pipeline would otherwise read the shipped scorer's sentence encoder (about a second) on
    its first answer; the checks' own tests (tests/unit/turn/test_contract.py and others) turn
    them on and test the default with the variable unset.
    """
    monkeypatch.setenv("NEULORA_CHECKS", "off")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(
            f"shared test data not found at {SHARED_DATA}: the shared/ folder must sit beside the "
            "project"
        )
    return SHARED_DATA


@pytest.fixture(scope="session")
def router_file(shared_data: Path) -> Path:
    return shared_data / "router_model.json"


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedServer]:
    """A real ``chroma run`` server on a free loopback port, for the whole session.

    Tests use their own collections.
    """
    chroma = shutil.which("chroma", path=os.path.dirname(sys.executable)) or shutil.which("chroma")
    if chroma is None:
        pytest.fail("the 'chroma' command (installed with chromadb) was not found")
    port = free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    argv = [chroma, "run", "--path", str(data / "db"), "--host", "127.0.0.1", "--port", str(port)]
    with background_server(
        argv, port, log=data / "server.log", timeout=30, name="chroma run"
    ) as server:
        yield server
