"""Small talk needs no retrieval: greetings and thanks, recognised without an LLM call."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class SmallTalkRule:
    """Recognises questions that need no retrieval (greetings, thanks) without an LLM call.

    >>> rule = SmallTalkRule()
    >>> rule("감사합니다!"), rule("Thanks, and what is a logarithm?")
    (True, False)
    """

    pattern: str = (
        r"(hi|hello|hey|thanks|thank you|thx|bye|good (morning|night)|안녕|안녕하세요|반가워요?|"
        r"고마워요?|고맙습니다|감사합니다|감사해요|ㅎㅇ|ㄱㅅ|잘 ?가|수고하셨습니다)"
    )
    max_chars: int = 40

    def __call__(self, question: str) -> bool:
        text = question.strip().lower()
        return (
            len(text) <= self.max_chars
            and re.fullmatch(self.pattern + r"[\s!.~?^ㅎㅋ]*", text) is not None
        )
