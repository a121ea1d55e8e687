"""One Pipeline shared by 16 answering threads and an ingesting thread, against real Chroma.

Embedded and server.

What a web app does while a teacher uploads notes: no raw exception, no session sees another's
turns, and every chunk ingested meanwhile can be retrieved afterwards. Bounded in time: hashing
embedder, a local echoing client.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from neulora import ChromaRetriever, Pipeline
from neulora.embedders import HashingEmbedder
from neulora.generation import Generation, GenerationStream
from neulora.train import exemplar_router

from ..servers import ManagedServer

SESSIONS = 200
TURNS = 3
THREADS = 16
BATCHES = 20
PER_BATCH = 25


class EchoClient:
    """Answers with the question it was asked, and records every prompt.

    To look for leaks between sessions.
    """

    def __init__(self) -> None:
        self.prompts: list[list[dict[str, str]]] = []
        self._lock = threading.Lock()

    def _answer(self, style: str, messages: Sequence[Mapping[str, str]]) -> Generation:
        msgs = [dict(m) for m in messages]
        with self._lock:
            self.prompts.append(msgs)
        question = msgs[-1]["content"].rsplit("\n", 1)[-1]
        return Generation(text=f"echo {question}", style=style, model="echo")

    def generate(
        self, style: str, messages: Sequence[Mapping[str, str]], **params: Any
    ) -> Generation:
        return self._answer(style, messages)

    def stream(
        self, style: str, messages: Sequence[Mapping[str, str]], **params: Any
    ) -> GenerationStream:
        def produce() -> Any:
            g = self._answer(style, messages)
            yield g.text
            return g

        return GenerationStream(produce)


def run_load(retriever: ChromaRetriever) -> None:
    retriever.add_texts(
        [f"seed note {i} on logarithms and exponents" for i in range(40)],
        metadatas=[{"source": "seed"}] * 40,
    )
    client = EchoClient()
    pipeline = Pipeline(exemplar_router(retriever.embedder), retriever, client, relevance=None)
    failures: list[BaseException] = []
    ingested: list[str] = []
    threads = [
        threading.Thread(target=answer, args=(pipeline, w, failures)) for w in range(THREADS)
    ]
    threads.append(threading.Thread(target=ingest, args=(retriever, ingested, failures)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert failures == []  # not one error, typed or raw
    for sid in range(SESSIONS):
        turns = pipeline.memory.get(f"s{sid:03d}").turns
        assert [t.question for t in turns] == [question(sid, n) for n in range(TURNS)]
        assert all(t.answer.endswith(t.question) for t in turns)
    for prompt in client.prompts:  # every prompt holds one session's words only
        owners = {w for m in prompt for w in m["content"].split() if w.startswith("session-")}
        assert len(owners) == 1, owners
    assert len(ingested) == BATCHES * PER_BATCH
    assert retriever.count() == 40 + len(ingested)
    for text in ingested:
        assert retriever.retrieve(text, k=1)[0].text == text


def question(sid: int, turn: int) -> str:
    return f"session-{sid:03d} turn-{turn} how do logarithms work"


def answer(pipeline: Pipeline, worker: int, failures: list[BaseException]) -> None:
    for sid in range(worker, SESSIONS, THREADS):
        for turn in range(TURNS):
            try:
                if turn % 2:
                    pipeline.stream(question(sid, turn), session_id=f"s{sid:03d}").text()
                else:
                    pipeline.ask(question(sid, turn), session_id=f"s{sid:03d}")
            except BaseException as exc:
                # the point of the test: every failure counts, whatever its type
                failures.append(exc)


def ingest(retriever: ChromaRetriever, ingested: list[str], failures: list[BaseException]) -> None:
    for batch in range(BATCHES):
        texts = [
            f"upload {batch} chunk {i} about matrices {batch * 1000 + i}" for i in range(PER_BATCH)
        ]
        try:
            retriever.add_texts(texts, metadatas=[{"source": f"upload-{batch}"}] * PER_BATCH)
            ingested.extend(texts)
        except BaseException as exc:
            failures.append(exc)


@pytest.mark.slow
def test_load_embedded(tmp_path: Path) -> None:
    run_load(ChromaRetriever(HashingEmbedder(), path=tmp_path / "db"))


@pytest.mark.slow
def test_load_server(chroma_server: ManagedServer) -> None:
    run_load(
        ChromaRetriever(
            HashingEmbedder(), host="127.0.0.1", port=chroma_server.port, collection="load"
        )
    )
