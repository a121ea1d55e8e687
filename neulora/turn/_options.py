"""How a turn runs (:class:`TurnOptions`) and how a question is read (:class:`QuestionRules`).

A pipeline holds one :class:`TurnOptions`: every turn's defaults. A call changes some of them for
its turn with keywords (``pipeline.ask(question, k=2, style="socratic")``), each checked before
anything runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass, fields, replace
from typing import Any, TypedDict

from .._checks import (
    check_answer_checks,
    check_int,
    check_seconds,
    check_temperature,
    check_text,
)
from ..errors import ConfigError, InvalidInputError, NeuloraError
from ..memory._base import Turn
from ._contract import AnswerChecks
from ._follow_up import FollowUp
from ._small_talk import SmallTalkRule
from ._state import turns_of


class TurnChanges(TypedDict, total=False):
    """The keywords of ``ask``, ``stream``, ``aask`` and ``astream``.

    What one call changes of its turn.
    """

    style: str | None
    k: int | None  # None here: the pipeline's
    policy: str | None
    history: Sequence[Mapping[str, str]] | None
    where: Mapping[str, Any] | None
    max_tokens: int | None  # None here: the pipeline's
    temperature: float | None  # None here: the pipeline's
    deadline: float | None
    checks: AnswerChecks | str | None  # None here: no checks for this turn


@dataclass(frozen=True, slots=True)
class TurnOptions:
    """How a turn runs: every field checked when made.

    :class:`~neulora.errors.ConfigError` names the bad one.

    ``style`` forces a style (None: the router chooses); ``k`` passages are retrieved; ``policy`` is
    the teaching policy (None: the session's); ``history`` (``{"role", "content"}`` messages)
    replaces the session's, and the turn is then neither read from nor written to memory; ``where``
    is a Chroma metadata filter for the notes (``{"source": "notes/ch3.md"}``); ``max_tokens`` and
    ``temperature`` go to the model; ``deadline`` (seconds, None: none) bounds the whole turn;
    ``checks`` score each answer against its style's contract (:class:`AnswerChecks`, or what
    they do: ``"flag"`` (``"on"``), ``"regenerate"``, ``"fallback:<style>"``, ``"off"``;
    ``"auto"``: ``NEULORA_CHECKS`` if set, else ``"flag"`` when the shipped scorer can run here;
    None: no checks).

    >>> options = TurnOptions(k=3)
    >>> options.changed(style="socratic", max_tokens=200)
    TurnOptions(style='socratic', k=3, max_tokens=200)
    >>> options.changed(k=0)
    Traceback (most recent call last):
    ...
    neulora.errors.InvalidInputError: k must be a positive int, got 0
    """

    style: str | None = None
    k: int = 4
    policy: str | None = None
    history: Sequence[Mapping[str, str]] | None = None
    where: Mapping[str, Any] | None = None
    max_tokens: int = 512
    temperature: float = 0.7
    deadline: float | None = 120.0
    checks: AnswerChecks | str | None = "auto"

    def __post_init__(self) -> None:
        _check({f.name: getattr(self, f.name) for f in fields(self)}, ConfigError)
        # copies: a caller who changes its list or dict later does not change these options
        if self.history is not None:
            object.__setattr__(self, "history", tuple(deepcopy(dict(m)) for m in self.history))
        if self.where is not None:
            object.__setattr__(self, "where", deepcopy(dict(self.where)))

    def changed(self, **changes: Any) -> TurnOptions:
        """These options with ``changes`` for one turn.

        A bad or unknown one: :class:`InvalidInputError`.
        """
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            raise InvalidInputError(
                f"unknown turn option(s) {unknown}: use {[f.name for f in fields(self)]}"
            )
        # None for an option that has a value by default means "the default", as it always has
        given = {
            name: value
            for name, value in changes.items()
            if value is not None or name in _NONE_MEANS
        }
        if not given:
            return self  # most turns change nothing: no copy, no second check
        _check(given, InvalidInputError)
        return replace(self, **given)

    def __repr__(self) -> str:
        changed = [f for f in fields(self) if getattr(self, f.name) != f.default]
        return f"TurnOptions({', '.join(f'{f.name}={getattr(self, f.name)!r}' for f in changed)})"


# None: a choice, not "unset"
_NONE_MEANS = frozenset({"style", "policy", "history", "where", "deadline", "checks"})


def _check(values: Mapping[str, Any], error: type[NeuloraError]) -> None:
    """Refuse what could only fail later, naming the option and what it takes."""
    for name in ("k", "max_tokens"):
        if name in values:
            check_int(name, values[name], error=error)
    if "temperature" in values:
        check_temperature(values["temperature"], error)
    if values.get("deadline") is not None:
        check_seconds("deadline", values["deadline"], error)
    for name in ("style", "policy"):
        if values.get(name) is not None:
            check_text(values[name], what=name, error=error)
    where = values.get("where")
    if where is not None and (not isinstance(where, Mapping) or not where):
        raise error(f"where must be a non-empty dict of metadata conditions, got {where!r}")
    if values.get("history") is not None:
        turns_of(values["history"], error)
    checks = values.get("checks")
    if isinstance(checks, str) and checks.strip().lower() == "auto":
        return
    if checks is not None and not isinstance(checks, AnswerChecks):
        check_answer_checks(checks, what="checks", error=error)


@dataclass(frozen=True, slots=True)
class QuestionRules:
    """How a pipeline reads a question before it routes and retrieves.

    ``max_chars`` is the longest question taken; ``follow_up`` searches a short question that leans
    on the last turn together with it (None: each question alone); ``small_talk`` recognises what
    needs no retrieval (None: everything is searched); ``route_with_history`` routes on the
    conversation, not the question alone.

    >>> QuestionRules(max_chars=0)
    Traceback (most recent call last):
    ...
    neulora.errors.ConfigError: max_chars must be a positive int, got 0
    """

    max_chars: int = 4000
    follow_up: FollowUp | None = FollowUp()
    small_talk: Callable[[str], bool] | None = SmallTalkRule()
    route_with_history: bool = False

    def __post_init__(self) -> None:
        check_int("max_chars", self.max_chars)
        if self.small_talk is not None and not callable(self.small_talk):
            raise ConfigError(
                f"small_talk must be callable (question -> bool) or None, got {self.small_talk!r}"
            )
        if not isinstance(self.route_with_history, bool):
            raise ConfigError(
                f"route_with_history must be True or False, got {self.route_with_history!r}"
            )


@dataclass(frozen=True)
class CheckedCall:
    """One call's checked arguments (internal to the pipeline)."""

    question: str
    session_id: str | None
    options: TurnOptions
    history: list[Turn] | None  # the call's own conversation (None: the session's, from memory)
    checks: AnswerChecks | None = None  # the turn's answer checks (None: none)
