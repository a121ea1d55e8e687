"""Answer cleaning: chat-template leftovers, replacement marks, cut sentences."""

from __future__ import annotations

import re

_SPECIAL = ("<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|eot_id|>", "</s>")


_ROLE_ECHO = re.compile(r"^\s*(?:<\|im_start\|>)?\s*(?:assistant|Assistant|ASSISTANT)\s*[:\n]\s*")


def clean_answer(text: str) -> str:
    r"""Strip chat-template leftovers (``<|im_start|>``, ``<|im_end|>``, a role label).

    U+FFFD goes too: a model only "writes" it when its bytes are not UTF-8 (a character it never
    finished, as at a ``max_tokens`` cut, or bytes a small model gets wrong), and a replacement mark
    is never part of an answer.

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
    """``text`` up to its last sentence end (``.``, ``!``, ``?``, a line end), or all of it.

    For an answer cut at ``max_tokens``: better a shorter answer than one that stops mid-word.

    >>> whole_sentences("Start with the first term. Then multiply by the rat")
    'Start with the first term.'
    """
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    return text[: ends[-1]].rstrip() if ends else text


class SentenceHold:
    """Holds a stream's text after its last sentence end until it is known whether it was cut."""

    def __init__(self) -> None:
        self._held = ""
        self._ended = False  # a sentence end has passed: a cut tail can be dropped

    def feed(self, text: str) -> str:
        """What can be emitted now: everything up to the last sentence end seen."""
        self._held += text
        # a full stop at the very end may still become "3.5": wait for the next character to tell
        ends = [
            m.end()
            for m in _SENTENCE_END.finditer(self._held)
            if m.end() < len(self._held) or m.group() == "\n"
        ]
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

    Holds back text that could be the start of a special token (or, at the very start, an echoed
    role label) until it can tell; everything else passes at once.
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
            undecided = (
                not head
                or any(t.startswith(head) for t in _SPECIAL)
                or (len(head) <= len("assistant") and "assistant".startswith(head.lower()))
            )
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
        out = self._buffer[:cut]
        self._buffer = self._buffer[cut:]
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
