"""``neulora serve`` under hostile requests.

A real server process on loopback, raw HTTP where a client library would tidy the request up. Each
test is one defect an attack found.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from neulora.testing import ChatStubServer

from ..integration.test_serve import serve_env, start
from ..servers import ManagedServer

pytestmark = pytest.mark.slow

KEY = "attack-key-0123456789"
STYLES = ("direct", "socratic", "scaffolding", "feedback")


@pytest.fixture(scope="module")
def engine() -> Iterator[ChatStubServer]:
    with ChatStubServer() as stub:
        yield stub


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, engine: ChatStubServer
) -> Iterator[ManagedServer]:
    tmp = tmp_path_factory.mktemp("attack")
    with start(
        tmp, serve_env(tmp, engine, NEULORA_API_KEY=KEY, NEULORA_MAX_BODY="65536")
    ) as server:
        yield server


def raw(
    server: ManagedServer, request: bytes, timeout: float = 30
) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as given; return the status, headers and body of the reply."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as conn:
        conn.sendall(request)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
            head, sep, body = data.partition(b"\r\n\r\n")
            if sep:
                headers = dict(
                    line.decode().lower().split(": ", 1) for line in head.split(b"\r\n")[1:]
                )
                if len(body) >= int(headers.get("content-length", 10**9)):
                    break
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    return int(lines[0].split()[1]), dict(h.lower().split(": ", 1) for h in lines[1:]), body


def openai_error(body: bytes) -> dict[str, Any]:
    error = json.loads(body)["error"]
    assert {"message", "type", "param", "code"} <= set(error), error
    return dict(error)


AUTH = {"Authorization": f"Bearer {KEY}"}
ASK = {"model": "neulora", "messages": [{"role": "user", "content": "등비수열의 합은?"}]}


@pytest.mark.parametrize(
    "header", [f"bearer {KEY}", f"BEARER {KEY}", f"Bearer  {KEY}", f"bEaReR    {KEY}"]
)
def test_the_bearer_scheme_is_case_insensitive_and_spaces_do_not_matter(
    served: ManagedServer, header: str
) -> None:
    reply = httpx.get(f"{served.url}/v1/models", headers={"Authorization": header}, timeout=30)
    assert reply.status_code == 200


@pytest.mark.parametrize("header", [None, f"Basic {KEY}", f"Bearer {KEY}x", "Bearer", f"{KEY}"])
def test_a_wrong_key_is_401(served: ManagedServer, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    reply = httpx.get(f"{served.url}/v1/models", headers=headers, timeout=30)
    assert reply.status_code == 401 and openai_error(reply.content)["code"] == "invalid_api_key"


def test_a_malformed_body_without_a_key_is_401_not_a_parser_error(served: ManagedServer) -> None:
    reply = httpx.post(
        f"{served.url}/v1/chat/completions",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert reply.status_code == 401 and "json" not in reply.text.lower()


def test_framework_errors_are_openai_errors(served: ManagedServer) -> None:
    cases = [
        (httpx.get(f"{served.url}/v1/nowhere", headers=AUTH, timeout=30), 404),
        (httpx.get(f"{served.url}/nowhere", timeout=30), 404),
        (httpx.get(f"{served.url}/v1/chat/completions", headers=AUTH, timeout=30), 405),
        (
            httpx.post(
                f"{served.url}/v1/chat/completions",
                content=b"\xff\xfe{",
                timeout=30,
                headers={**AUTH, "Content-Type": "application/json"},
            ),
            400,
        ),
        (
            httpx.post(
                f"{served.url}/v1/chat/completions",
                content=b"[" * 20_000 + b"]" * 20_000,
                timeout=30,
                headers={**AUTH, "Content-Type": "application/json"},
            ),
            400,
        ),
    ]
    for reply, status in cases:
        assert reply.status_code == status, (reply.status_code, reply.text[:200])
        assert "detail" not in reply.json() and openai_error(reply.content)


def test_a_json_body_sent_without_its_content_type_is_read_as_json(served: ManagedServer) -> None:
    # curl -d sends application/x-www-form-urlencoded
    reply = httpx.post(
        f"{served.url}/v1/route",
        content=json.dumps({"input": "hint please"}).encode(),
        headers={**AUTH, "Content-Type": "application/x-www-form-urlencoded"},
        timeout=30,
    )
    assert reply.status_code == 200 and reply.json()["data"][0]["style"] in STYLES
    bare = httpx.post(
        f"{served.url}/v1/route",
        content=b"input=hint",
        timeout=30,
        headers={**AUTH, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert bare.status_code == 400 and openai_error(bare.content)["code"] == "invalid_json"


def test_a_chunked_body_over_the_limit_is_413(served: ManagedServer) -> None:
    body = json.dumps({"input": "x" * 70_000}).encode()
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + 4096]), body[i : i + 4096])
        for i in range(0, len(body), 4096)
    )
    request = (
        b"POST /v1/route HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + KEY.encode()
        + b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: "
        b"close\r\n\r\n" + chunks + b"0\r\n\r\n"
    )
    status, _, reply = raw(served, request)
    assert status == 413 and openai_error(reply)["code"] == "body_too_large"


@pytest.mark.parametrize(
    "name", ["a\x00b.md", "n" * 252 + ".md", "가" * 80 + ".md", "x" * 230 + ".md"]
)
def test_upload_names_a_filesystem_cannot_hold_are_400_or_stored(
    served: ManagedServer, name: str
) -> None:
    reply = httpx.post(
        f"{served.url}/v1/documents",
        params={"filename": name},
        headers=AUTH,
        timeout=30,
        content=b"# Notes\n\nA logarithm answers: to which power?",
    )
    if len(name.encode()) > 255 or "\x00" in name:
        assert (
            reply.status_code == 400 and openai_error(reply.content)["code"] == "invalid_document"
        )
    else:  # 230 characters: its own name fits, and so must the temporary file written before it
        assert reply.status_code == 200, reply.text
    assert "Traceback" not in served.log.read_text(encoding="utf-8", errors="replace")


def test_an_invalid_filter_is_the_clients_error_without_echoing_it(served: ManagedServer) -> None:
    secret_looking = "x" * 5_000
    reply = httpx.post(
        f"{served.url}/v1/search",
        headers=AUTH,
        timeout=30,
        json={"query": "log", "where": {"source": {"$bogus": secret_looking}}},
    )
    assert reply.status_code == 400 and secret_looking not in reply.text
    for levels, says in ((300, "nests deeper than 16 levels"), (2_000, "error parsing the body")):
        deep = '{"source": "a.md"}'
        # built as text: the client's own JSON encoder would hit its recursion limit
        for _ in range(levels):
            deep = '{"$and": [' + deep + ', {"page": 1}]}'
        reply = httpx.post(
            f"{served.url}/v1/search",
            headers={**AUTH, "Content-Type": "application/json"},
            content=('{"query": "log", "where": ' + deep + "}").encode(),
            timeout=30,
        )
        assert reply.status_code == 400 and says in openai_error(reply.content)["message"]


def test_a_client_that_hangs_up_on_a_whole_answer_stops_the_engine(
    served: ManagedServer, engine: ChatStubServer
) -> None:
    events = [
        json.dumps(
            {
                "id": "x",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "direct",
                "choices": [{"index": 0, "delta": {"content": f"w{i} "}, "finish_reason": None}],
            }
        ).encode()
        for i in range(40)
    ]
    engine.enqueue(events=events, trickle=0.25)  # ten seconds of answer, if read to the end
    before = engine.disconnects
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{served.url}/v1/chat/completions", headers=AUTH, json=ASK, timeout=1.5)
    deadline = time.monotonic() + 5
    while engine.disconnects == before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert engine.disconnects == before + 1, "neulora kept reading an answer nobody waits for"


def test_a_hostile_pdf_upload_neither_stalls_the_server_nor_is_stored(
    served: ManagedServer,
) -> None:
    import threading

    pytest.importorskip("pypdf")
    from .test_pdf_bounds import one_page_named

    outcome: list[httpx.Response] = []
    upload = threading.Thread(
        target=lambda: outcome.append(
            httpx.post(
                f"{served.url}/v1/documents",
                params={"filename": "bomb.pdf"},
                headers=AUTH,
                timeout=120,
                content=one_page_named(30_000),
            )
        )
    )
    upload.start()
    slowest = 0.0
    while upload.is_alive():
        started = time.monotonic()
        assert httpx.get(f"{served.url}/healthz", timeout=10).status_code == 200
        slowest = max(slowest, time.monotonic() - started)
        time.sleep(0.05)
    upload.join()
    assert outcome[0].status_code == 400 and "pages" in openai_error(outcome[0].content)["message"]
    assert slowest < 1.0, f"/healthz took {slowest:.2f} s during the upload"
    uploads = served.log.parent / "uploads"
    assert not (uploads / "bomb.pdf").exists() and not list(uploads.glob(".upload-*"))


def test_a_lone_surrogate_from_the_engine_neither_breaks_the_answer_nor_the_session(
    served: ManagedServer, engine: ChatStubServer
) -> None:
    bad = json.dumps(
        {
            "id": "x",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "direct",
            "choices": [
                {"index": 0, "delta": {"content": "bad \ud800 char"}, "finish_reason": "stop"}
            ],
        }
    )
    for stream in (False, True):
        engine.enqueue(events=[bad.encode(), b"[DONE]"])
        reply = httpx.post(
            f"{served.url}/v1/chat/completions",
            headers=AUTH,
            timeout=30,
            json={**ASK, "user": "poison", "stream": stream},
        )
        assert (
            reply.status_code == 200 and "data: [DONE]" in reply.text
            if stream
            else reply.status_code == 200
        )
    session = httpx.get(f"{served.url}/v1/sessions/poison", headers=AUTH, timeout=30)
    assert session.status_code == 200 and len(session.json()["turns"]) == 2
    again = httpx.post(
        f"{served.url}/v1/chat/completions",
        headers=AUTH,
        timeout=30,
        json={**ASK, "user": "poison"},
    )
    assert again.status_code == 200


def test_a_session_id_with_a_slash_can_be_read_back(served: ManagedServer) -> None:
    httpx.post(
        f"{served.url}/v1/chat/completions",
        headers=AUTH,
        timeout=30,
        json={**ASK, "user": "class-3/kim"},
    )
    reply = httpx.get(f"{served.url}/v1/sessions/class-3%2Fkim", headers=AUTH, timeout=30)
    assert reply.status_code == 200 and reply.json()["session_id"] == "class-3/kim"


def test_an_uploader_that_hangs_up_midway_leaves_no_traceback(served: ManagedServer) -> None:
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as conn:
        conn.sendall(
            b"POST /v1/documents?filename=cut.md HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            + KEY.encode()
            + b"\r\nContent-Length: 100000\r\n\r\n# partial"
        )
        time.sleep(0.3)
    time.sleep(0.5)
    assert "ClientDisconnect" not in served.log.read_text(encoding="utf-8", errors="replace")
    assert not (served.log.parent / "uploads" / "cut.md").exists()
