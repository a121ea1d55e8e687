"""Fakes for tests of code that uses neulora: they script their output and record their calls.

>>> from neulora.testing import CountingEmbedder
>>> from neulora.embedders import HashingEmbedder
>>> counting = CountingEmbedder(HashingEmbedder(dim=32))
>>> _ = counting.embed(["a", "b"])
>>> counting.calls, counting.texts
(1, 2)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._styles import STYLES

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from ..embedders._base import Embedder


class CountingEmbedder:
    """Wraps an embedder and counts calls and texts (to prove what was, or was not, embedded)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.calls = 0
        self.texts = 0
        self.history: list[list[str]] = []

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        items = list(texts)
        self.calls += 1
        self.texts += len(items)
        self.history.append(items)
        return self.inner.embed(items)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class FakeStyleClient:
    """A style client that returns queued texts (or raises queued errors) and records its calls.

    >>> client = FakeStyleClient()
    >>> client.enqueue("Think about it: what is 2 x 3?")
    >>> client.generate("socratic", [{"role": "user", "content": "2*3?"}]).text
    'Think about it: what is 2 x 3?'
    >>> client.history[0][0]
    'socratic'
    """

    def __init__(self, default: str = "fake answer") -> None:
        self.default = default
        self.queue: list[str | BaseException] = []
        self.history: list[tuple[str, list[dict[str, str]]]] = []

    def enqueue(self, *items: str | BaseException) -> None:
        """Script the next replies: a str is answered, an exception is raised."""
        self.queue.extend(items)

    def _next(self, style: str, messages: Any) -> str:
        self.history.append((style, [dict(m) for m in messages]))
        item = self.queue.pop(0) if self.queue else self.default
        if isinstance(item, BaseException):
            raise item
        return item

    def generate(self, style: str, messages: Any, **params: Any) -> Any:
        from ..generation._result import Generation

        return Generation(text=self._next(style, messages), style=style, model=f"fake-{style}")

    def stream(self, style: str, messages: Any, **params: Any) -> Any:
        from ..generation._result import Generation, GenerationStream

        def produce() -> Any:
            text = self._next(style, messages)
            for i, word in enumerate(text.split(" ")):
                yield word if i == 0 else " " + word
            return Generation(text=text, style=style, model=f"fake-{style}")

        return GenerationStream(produce)


class FakeRouter:
    """A router that always chooses ``style`` (or the next of ``script``) and records its calls."""

    def __init__(
        self,
        embedder: Embedder,
        style: str = "socratic",
        styles: Sequence[str] = STYLES,
    ) -> None:
        self.embedder = embedder
        self.style = style
        self.styles = tuple(styles)
        self.calls: list[tuple[Any, ...]] = []

    def _decision(self) -> Any:
        from ..routing._decision import RouteDecision

        scores = {s: (0.9 if s == self.style else 0.1) for s in self.styles}
        return RouteDecision(style=self.style, scores=scores, margin=0.8, reason="fake")

    def route(self, text: str, history: Any = None) -> Any:
        self.calls.append(("route", text, history) if history else ("route", text))
        self.embedder.embed([text])
        return self._decision()

    def route_vector(self, vector: Any) -> Any:
        self.calls.append(("route_vector", vector))
        return self._decision()


class FakeRetriever:
    """A retriever that returns fixed passages and records its calls."""

    def __init__(self, embedder: Embedder, passages: Sequence[Any] = ()) -> None:
        self.embedder = embedder
        self.passages = list(passages)
        self.calls: list[tuple[str, Any]] = []

    def retrieve(
        self,
        query: str,
        k: int | None = None,
        *,
        min_score: float | None = None,
    ) -> list[Any]:
        self.calls.append(("retrieve", query))
        self.embedder.embed([query])
        return self._filter(k, min_score)

    def retrieve_vector(
        self,
        vector: Any,
        k: int | None = None,
        *,
        min_score: float | None = None,
    ) -> list[Any]:
        self.calls.append(("retrieve_vector", vector))
        return self._filter(k, min_score)

    def _filter(self, k: int | None, min_score: float | None) -> list[Any]:
        found = [p for p in self.passages if min_score is None or p.score >= min_score]
        return found[: k or len(found)]
