"""A lean HTTP/1.1 load generator for streaming chat completions.

One keep-alive connection per learner.

The benchmark measures the server, so the client must cost it as little CPU as possible on a shared
machine. httpx spent 2-16 ms of CPU per turn here (an SSL context per client, a pool scan per
request), as much as the server under test; this one writes the request bytes and reads the chunked
SSE reply with asyncio streams, and parses JSON only until the first text chunk.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import urlsplit


class LoadError(Exception):
    """A reply that was not a complete 200 stream."""


class Connection:
    """One keep-alive HTTP/1.1 connection to ``url``'s host, reopened if the server closes it."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.path = parts.path
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def stream_turn(self, body: dict[str, Any], headers: dict[str, str]) -> dict[str, float]:
        """POST ``body``, read the SSE reply to ``data: [DONE]``.

        The turn's total, first byte and first text.
        """
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        payload = json.dumps(body).encode()
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        t0 = time.perf_counter()
        self.writer.write(
            f"POST {self.path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n{head}\r\n".encode()
            + payload
        )
        status = await self.reader.readline()
        first_byte = time.perf_counter()
        if not status.startswith(b"HTTP/1.1 200"):
            await self.close()
            raise LoadError(status.decode(errors="replace").strip() or "connection closed")
        chunked, close = await self._headers()
        if not chunked:
            await self.close()
            raise LoadError("expected a chunked stream")
        first_text, done = await self._events()
        end = time.perf_counter()
        if close:
            await self.close()
        if not done:
            raise LoadError("stream ended without data: [DONE]")
        return {"total": end - t0, "ttfb": first_byte - t0, "first_text": (first_text or end) - t0}

    async def _headers(self) -> tuple[bool, bool]:
        """Read the headers: is the body chunked, does the server close the connection after it."""
        assert self.reader is not None
        chunked = close = False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            chunked = chunked or (name == "transfer-encoding" and value == "chunked")
            close = close or (name == "connection" and value == "close")
        return chunked, close

    async def _events(self) -> tuple[float | None, bool]:
        """Read the chunked SSE body: when the first text arrived, whether ``data: [DONE]`` came."""
        assert self.reader is not None
        first_text = None
        done = False
        buffer = b""
        while True:
            size = int((await self.reader.readline()).split(b";")[0], 16)
            data = await self.reader.readexactly(size + 2)
            if size == 0:
                return first_text, done
            buffer += data[:-2]
            *events, buffer = buffer.split(b"\n\n")
            for event in events:
                if event == b"data: [DONE]":
                    done = True
                elif first_text is None and event.startswith(b"data: "):
                    choices = json.loads(event[6:]).get("choices") or [{}]
                    if (choices[0].get("delta") or {}).get("content"):
                        first_text = time.perf_counter()

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
