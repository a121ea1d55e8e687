"""What every style client returns: :class:`Generation`, :class:`GenerationStream`, and answer cleaning."""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from .errors import GenerationError, InvalidInputError
from .text import check_encodable

__all__ = ["Generation", "GenerationStream", "ReplayStream", "StyleClient", "TemplateFilter", "check_messages",
           "clean_answer"]

T = TypeVar("T")
R = TypeVar("R")

_SPECIAL = ("<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|eot_id|>", "</s>")
_ROLE_ECHO = re.compile(r"^\s*(?:<\|im_start\|>)?\s*(?:assistant|Assistant|ASSISTANT)\s*[:\n]\s*")


@dataclass(frozen=True, slots=True)
class Generation:
    """One answer: its text, the style asked for, what actually answered, and how it got there.

    >>> Generation("What power of 2 gives 8?", "socratic", "direct-lora", fallback_from="socratic:x")
    Generation(style='socratic', model='direct-lora', fallback_from='socratic:x', text='What power of 2 gives 8?')
    """

    text: str
    style: str
    model: str
    usage: dict[str, int] | None = None
    attempts: int = 1
    latency_s: float = 0.0
    fallback_from: str | None = None
    finish_reason: str | None = None
    path: tuple[str, ...] = ()

    def __repr__(self) -> str:
        via = f", fallback_from={self.fallback_from!r}" if self.fallback_from else ""
        return f"Generation(style={self.style!r}, model={self.model!r}{via}, text={self.text[:40]!r})"


class StyleClient(Protocol):
    """Generates an answer in a teaching style: the remote and the local clients both fit."""

    def generate(self, style: str, messages: Sequence[Mapping[str, str]], **params: Any) -> Generation:
        """Return the whole answer."""
        ...

    def stream(self, style: str, messages: Sequence[Mapping[str, str]], **params: Any) -> GenerationStream:
        """Return a stream of text deltas; the :class:`Generation` is available when it ends."""
        ...


class ReplayStream(Generic[T, R]):
    """Iterate for items; ``result`` holds the final value once the producer has finished.

    The producer runs once: iterating again replays the items without running it again (no second model call).
    """

    def __init__(self, producer: Callable[[], Generator[T, None, R]]) -> None:
        self._producer = producer
        self._items: list[T] = []
        self._result: R | None = None
        self._started = False

    def __iter__(self) -> Iterator[T]:
        if self._started:
            if self._result is None:
                raise GenerationError("this stream was abandoned or failed part-way; start a new one")
            return iter(self._items)
        self._started = True
        return self._run()

    def _run(self) -> Iterator[T]:
        gen = self._producer()
        while True:
            try:
                item = next(gen)
            except StopIteration as stop:
                self._result = stop.value
                return
            self._items.append(item)
            yield item

    @property
    def result(self) -> R:
        """The finished value (raises if the stream has not been read to its end)."""
        if self._result is None:
            raise GenerationError("the stream has not finished: iterate over it first")
        return self._result


class GenerationStream(ReplayStream[str, Generation]):
    """Iterate for text deltas; ``result`` holds the :class:`Generation` once the stream has ended.

    >>> def produce():
    ...     yield "Hello"
    ...     yield ", learner"
    ...     return Generation("Hello, learner", "direct", "m")
    >>> stream = GenerationStream(produce)
    >>> list(stream), stream.result.text, list(stream)
    (['Hello', ', learner'], 'Hello, learner', ['Hello', ', learner'])
    """

    def text(self) -> str:
        """Read the whole stream (if not yet read) and return the full answer."""
        for _ in self:
            pass
        return self.result.text


def clean_answer(text: str) -> str:
    r"""Strip chat-template leftovers (``<|im_start|>``, ``<|im_end|>``, an echoed role label) from an answer.

    U+FFFD goes too: a model only "writes" it when its bytes are not UTF-8 (a character it never finished, as at
    a ``max_tokens`` cut, or bytes a small model gets wrong), and a replacement mark is never part of an answer.

    >>> clean_answer("<|im_start|>assistant\n등비수열의 합\ufffd")
    '등비수열의 합'
    """
    cleaned = _ROLE_ECHO.sub("", text.replace(_REPLACEMENT, ""), count=1)
    for token in _SPECIAL:
        cleaned = cleaned.replace(token, "")
    return cleaned.strip()


_REPLACEMENT = "\ufffd"  # what a decoder writes for bytes that are not UTF-8
_SENTENCE_END = re.compile(r"[.!?\u3002\uff01\uff1f](?=[\s\"')\]]|$)|\n")


def whole_sentences(text: str) -> str:
    """``text`` up to its last sentence end (``.``, ``!``, ``?``, a line end), or all of it if it has none.

    For an answer cut at ``max_tokens``: better a shorter answer than one that stops mid-word.

    >>> whole_sentences("Start with the first term. Then multiply by the rat")
    'Start with the first term.'
    """
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    return text[: ends[-1]].rstrip() if ends else text


class SentenceHold:
    """Holds back the text after the last sentence end of a stream until the stream says whether it was cut."""

    def __init__(self) -> None:
        self._held = ""
        self._ended = False  # a sentence end has passed: a cut tail can be dropped

    def feed(self, text: str) -> str:
        """What can be emitted now: everything up to the last sentence end seen."""
        self._held += text
        # a full stop at the very end may still become "3.5": wait for the next character to tell
        ends = [m.end() for m in _SENTENCE_END.finditer(self._held) if m.end() < len(self._held)
                or m.group() == "\n"]
        if not ends:
            return ""
        self._ended = True
        out = self._held[: ends[-1]]
        self._held = self._held[ends[-1] :]
        return out

    def flush(self, *, cut: bool) -> str:
        """The rest: dropped when the stream was cut after a whole sentence, else given."""
        rest = self._held
        self._held = ""
        return "" if cut and self._ended else rest.rstrip()


class TemplateFilter:
    """Cleans a stream of deltas as :func:`clean_answer` cleans a whole answer.

    Holds back text that could be the start of a special token (or, at the very start, an echoed role label)
    until it can tell; everything else passes at once.
    """

    _HOLD = max(len(t) for t in _SPECIAL)

    def __init__(self) -> None:
        self._buffer = ""
        self._at_start = True

    def feed(self, delta: str) -> str:
        """Return what can be emitted after ``delta`` arrived."""
        self._buffer += delta.replace(_REPLACEMENT, "")
        if self._at_start:
            for token in _SPECIAL:
                self._buffer = self._buffer.replace(token, "")
            head = self._buffer.lstrip()
            undecided = not head or any(t.startswith(head) for t in _SPECIAL) or (
                len(head) <= len("assistant") and "assistant".startswith(head.lower()))
            if undecided:
                return ""
            self._buffer = _ROLE_ECHO.sub("", head, count=1).lstrip()
            self._at_start = False
        for token in _SPECIAL:
            self._buffer = self._buffer.replace(token, "")
        cut = len(self._buffer)
        start = self._buffer.rfind("<", max(0, cut - self._HOLD))
        if start != -1 and any(t.startswith(self._buffer[start:]) for t in _SPECIAL):
            cut = start
        out, self._buffer = self._buffer[:cut], self._buffer[cut:]
        return out

    def flush(self) -> str:
        """Return what is left at the end of the stream."""
        rest = self._buffer
        if self._at_start:
            rest = _ROLE_ECHO.sub("", rest.lstrip(), count=1)
        for token in _SPECIAL:
            rest = rest.replace(token, "")
        self._buffer = ""
        return rest.rstrip()


def check_messages(messages: Any) -> list[dict[str, str]]:
    """Validate chat messages: a non-empty list of ``{"role", "content"}`` with str values."""
    if not isinstance(messages, Sequence) or isinstance(messages, str) or not messages:
        raise InvalidInputError("messages must be a non-empty list of {'role', 'content'} dicts")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            raise InvalidInputError(f"message {i} must be a dict with str 'role' and 'content'")
        if m["role"] not in ("system", "user", "assistant"):
            raise InvalidInputError(f"message {i} has role {m['role'][:40]!r}: use system, user or assistant")
        check_encodable(m["content"], what=f"message {i}")  # refused here: no engine could be sent it
        out.append({"role": m["role"], "content": m["content"]})
    return out
