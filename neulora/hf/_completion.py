r"""Reading chat completions, whole or streamed, checked.

A malformed 200 is :class:`~neulora.hf._errors.Malformed`.

One reader for both ways of waiting: the sync and the async request feed it the same answer and the
same events, so both read a response alike.

>>> from types import SimpleNamespace as NS
>>> reader = ChatReader(Partial(model="m"))
>>> delta = NS(content="<|im_start|>assistant\nHi")
>>> event = NS(choices=[NS(delta=delta, finish_reason="stop")], usage=None)
>>> reader.feed(event), reader.end(), reader.state.text
('Hi', '', '<|im_start|>assistant\nHi')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._checks import is_int, without_surrogates
from ..generation._cleaning import TemplateFilter
from ._errors import Malformed

# Ask for the token counts in a stream's last event (OpenAI, vLLM, TGI honour it; an engine that
# does not, such as llama-cpp-python's server, sends none, and the answer's usage stays None rather
# than guessed).
STREAM_OPTIONS = {"include_usage": True}


@dataclass
class Partial:
    """What one attempt has received so far."""

    model: str
    parts: list[str] = field(default_factory=list)
    finish: str | None = None
    usage: dict[str, int] | None = None

    @property
    def text(self) -> str:
        return "".join(self.parts)


class ChatReader:
    """Reads one chat completion into ``state``.

    A whole answer (:meth:`whole`) or a stream's events (:meth:`feed`).
    """

    def __init__(self, state: Partial) -> None:
        self.state = state
        self._filter = TemplateFilter()

    def whole(self, out: Any) -> None:
        """Check a whole chat completion and keep its text, finish reason, usage and model."""
        choices = getattr(out, "choices", None)
        if not isinstance(choices, list) or not choices:
            raise Malformed(f"the response has no choices (got {type(choices).__name__})")
        message = getattr(choices[0], "message", None)
        content = getattr(message, "content", None)
        if not isinstance(content, (str, type(None))):
            raise Malformed(f"choices[0].message.content is {type(content).__name__}, not text")
        self.state.parts.append(without_surrogates(content or ""))
        self.state.finish = _text_or_none(getattr(choices[0], "finish_reason", None))
        self.state.usage = _usage(getattr(out, "usage", None))
        self.state.model = _text_or_none(getattr(out, "model", None)) or self.state.model

    def feed(self, event: Any) -> str:
        """Check one stream event and keep what it says.

        Returns the cleaned text that can be shown now.
        """
        state = self.state
        state.usage = _usage(getattr(event, "usage", None)) or state.usage
        state.model = _text_or_none(getattr(event, "model", None)) or state.model
        choices = getattr(event, "choices", None)
        if not isinstance(choices, list):
            raise Malformed(f"a stream event has no choices list (got {type(choices).__name__})")
        if not choices:
            return ""
        state.finish = _text_or_none(getattr(choices[0], "finish_reason", None)) or state.finish
        raw = getattr(getattr(choices[0], "delta", None), "content", None) or ""
        if not isinstance(raw, str):
            raise Malformed(f"a stream event's delta content is {type(raw).__name__}, not text")
        raw = without_surrogates(raw)
        state.parts.append(raw)
        return self._filter.feed(raw)

    def end(self) -> str:
        """The stream has ended: the text held back, or Malformed if it never said why it ended."""
        if self.state.finish is None:
            raise Malformed("the stream ended without a finish reason")
        return self._filter.flush()


def _text_or_none(value: Any) -> str | None:
    return without_surrogates(value) if isinstance(value, str) else None


def _usage(usage: Any) -> dict[str, int] | None:
    if usage is None:
        return None
    fields = ("prompt_tokens", "completion_tokens", "total_tokens")
    counts = {f: getattr(usage, f, None) for f in fields}
    return {f: v for f, v in counts.items() if is_int(v)}
