"""Prompts: a system prompt per style, numbered context, the session's policy, recent history.

Override any part with ``dataclasses.replace(PromptSet(), ...)`` and pass it to the pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from .._languages import LANGUAGE_NAMES
from .._styles import STYLES
from ..errors import ConfigError

if TYPE_CHECKING:
    from ..memory._base import Turn

_LANGUAGE = (
    "Always answer in the language the learner writes in (Korean questions get Korean answers)."
)


_DIRECT, _SOCRATIC, _SCAFFOLDING, _FEEDBACK = STYLES


STYLE_PROMPTS: dict[str, str] = {
    _DIRECT: (
        "You are a clear, patient math tutor. Answer the learner's question directly: state the "
        "answer or the "
        "rule first, then give a short explanation and, where useful, one worked example. Keep it "
        "concise. " + _LANGUAGE
    ),
    _SOCRATIC: (
        "You are a Socratic math tutor. Do not give the final answer. Ask one or two focused "
        "questions that lead "
        "the learner to discover the idea themselves, building on what they already said. End with "
        "a question. " + _LANGUAGE
    ),
    _SCAFFOLDING: (
        "You are a math tutor who scaffolds. Break the problem into small steps and give a hint "
        "for the next step "
        "only, with just enough support for the learner to take it themselves. Check understanding "
        "before moving on. " + _LANGUAGE
    ),
    _FEEDBACK: (
        "You are a math tutor giving feedback on the learner's attempt. Say precisely what is "
        "right, then point to "
        "the first mistake and why it is wrong, without redoing the whole solution. Suggest what "
        "to try next. " + _LANGUAGE
    ),
}


# What a second answer is told when the first broke its style's promise (the answer checks'
# ``regenerate``): one instruction per broken promise.
INSIST: Mapping[str, str] = MappingProxyType(
    {
        "reveals_answer": (
            "Important: do not state the final answer or the result of the learner's problem, "
            "not even at the end. Lead the learner to find it: ask a guiding question or give a "
            "hint for the next step only."
        ),
        "misses_mistake": (
            "Important: the learner showed their work. Check it step by step before anything else: "
            "name the first step that is wrong and why, quoting it; if every step is right, say so "
            "plainly."
        ),
    }
)


# The original app's seven teaching-policy tags (problem -> strategy).
POLICY_TAGS: tuple[str, ...] = (
    "개념 이해 부족 -> 예시를 통한 개념 설명",
    "응용능력 부족 -> 유사 문제 추천",
    "암기 능력 강화 -> 앞글자를 따 암기방식 추천",
    "개념 간 연결 부족 -> 연관 개념 및 비교 설명",
    "자주 틀리는 유형 -> 오답 분석 및 반복 학습 유도",
    "심화 학습 필요 -> 난이도 높은 질문 유도",
    "기초 부족 -> 선수 개념부터 단계적 설명",
)


@dataclass(frozen=True)
class PromptSet:
    """Everything that shapes the messages sent to the model.

    >>> context = "[1] (log.md) 밑 조건"
    >>> messages = PromptSet().build("socratic", "왜 로그의 밑은 양수죠?", context=context)
    >>> [m["role"] for m in messages], "[1] (log.md)" in messages[0]["content"]
    (['system', 'user'], True)
    """

    system: Mapping[str, str] = field(default_factory=lambda: dict(STYLE_PROMPTS))
    context_template: str = (
        "Use the course notes below when they help and cite them as [1], [2]; never invent a "
        "citation.\n\nCourse notes:\n{context}"
    )
    no_context: str = (
        "No course notes matched this question: answer from general knowledge, say so if "
        "unsure, and "
        "cite nothing."
    )
    policy_template: str = "Teaching policy for this learner: {policy}"
    insist: Mapping[str, str] = field(default_factory=lambda: dict(INSIST))
    language_template: str = (
        "You write only {language}. The learner writes in another language: answer in "
        "plain, simple {language}, in short full sentences."
    )
    max_history_turns: int = 6
    max_history_chars: int = 2000

    def __post_init__(self) -> None:
        if "{context}" not in self.context_template or "{policy}" not in self.policy_template:
            raise ConfigError("context_template needs {context} and policy_template needs {policy}")
        if "{language}" not in self.language_template:
            raise ConfigError("language_template needs {language}")
        if self.max_history_turns < 0 or self.max_history_chars < 0:
            raise ConfigError("history limits cannot be negative")
        missing = sorted(set(INSIST) - set(self.insist))
        if missing:
            raise ConfigError(f"insist needs an instruction for {missing} (the answer checks')")

    def history(self, turns: Sequence[Turn]) -> list[Turn]:
        """The most recent turns that fit both limits (oldest dropped first)."""
        kept: list[Turn] = []
        used = 0
        for turn in reversed(
            list(turns)[-self.max_history_turns :] if self.max_history_turns else []
        ):
            size = len(turn.question) + len(turn.answer)
            if used + size > self.max_history_chars:
                break
            kept.insert(0, turn)
            used += size
        return kept

    def build(
        self,
        style: str,
        question: str,
        *,
        context: str | None,
        history: Sequence[Turn] = (),
        policy: str | None = None,
        language: str | None = None,
        insist: Sequence[str] = (),
    ) -> list[dict[str, str]]:
        """Chat messages: a system message (style, context, policy), recent history, the question.

        ``language`` (a code of :data:`~neulora._languages.LANGUAGE_NAMES`): the one language the
        model writes, when it is not the learner's; the system message then asks for it, last, so
        that it wins. ``insist``: the promises a first answer broke (``reveals_answer``,
        ``misses_mistake``); their :attr:`insist` instructions follow the policy.
        """
        if style not in self.system:
            raise ConfigError(f"no system prompt for style {style!r}")
        parts = [
            self.system[style],
            self.context_template.format(context=context) if context else self.no_context,
        ]
        if policy:
            parts.append(self.policy_template.format(policy=policy))
        for promise in insist:
            if promise not in self.insist:
                raise ConfigError(f"no insist instruction for {promise!r}")
            parts.append(self.insist[promise])
        if language:
            parts.append(
                self.language_template.format(language=LANGUAGE_NAMES.get(language, language))
            )
        messages = [{"role": "system", "content": "\n\n".join(parts)}]
        for turn in self.history(history):
            messages += [
                {"role": "user", "content": turn.question},
                {"role": "assistant", "content": turn.answer},
            ]
        messages.append({"role": "user", "content": question})
        return messages
