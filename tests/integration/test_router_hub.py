"""CentroidRouter.from_hub through hf_hub_download, against a Hub stand-in on 127.0.0.1.

HF_ENDPOINT.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

PROBE = """
from neulora import CentroidRouter, RouterFileError
from neulora.embedders import HashingEmbedder
try:
    r = CentroidRouter.from_hub({args}embedder=HashingEmbedder(), allow_mismatch=True)
    print("OK", r.styles, r.to_spec().label_counts["socratic"])
except RouterFileError as exc:
    print("ERR", exc)
"""


@pytest.fixture
def hub(router_file: Path) -> Iterator[tuple[str, list[str]]]:
    data = router_file.read_bytes()
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _headers(self) -> bool:
            seen.append(f"{self.command} {self.path}")
            found = self.path == "/marimmo/multi-lora/resolve/main/router/router_model.json"
            self.send_response(200 if found else 404)
            self.send_header("Content-Length", str(len(data) if found else 0))
            if found:
                self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
                self.send_header("X-Repo-Commit", "0" * 40)
            self.end_headers()
            return found

        def do_HEAD(self) -> None:
            self._headers()

        def do_GET(self) -> None:
            if self._headers():
                self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def probe(endpoint: str, home: Path, args: str) -> str:
    env = {**os.environ, "HF_ENDPOINT": endpoint, "HF_HOME": str(home)}
    env.pop("HF_HUB_OFFLINE", None)
    return subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.strip()


def test_from_hub_downloads_the_router_file(hub: tuple[str, list[str]], tmp_path: Path) -> None:
    endpoint, seen = hub
    assert (
        probe(endpoint, tmp_path, "")
        == "OK ('direct', 'socratic', 'scaffolding', 'feedback') 27007"
    )
    assert "GET /marimmo/multi-lora/resolve/main/router/router_model.json" in seen


def test_a_missing_hub_file_is_a_router_file_error(
    hub: tuple[str, list[str]], tmp_path: Path
) -> None:
    out = probe(hub[0], tmp_path, "'someone/absent', 'router.json', ")
    assert out.startswith("ERR cannot download router.json from someone/absent")
