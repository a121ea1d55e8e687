"""Retries and fallbacks, one state machine.

After each failed attempt, wait and retry, go on, or raise.

:meth:`Attempts.flow` is written once (a flow of :mod:`neulora._flow`): each attempt is a step the
caller makes for a target; the sync and the async driver run the same loop. huggingface_hub does not
retry 503 (model loading) or 429 (rate limit): the :class:`~neulora.hf.RetryPolicy` decides what is
retried and how long to wait, and one deadline bounds every attempt, every wait and every fallback.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from .._deadline import Deadline, DeadlineExpired
from .._flow import Step, Wait
from ..errors import GenerationError, NeuloraError, StreamInterruptedError, UpstreamError
from ..generation._cleaning import clean_answer
from ._auth import HFAuth
from ._errors import Failure, HubFailure
from ._policy import RetryPolicy

logger = logging.getLogger(__name__)

S = TypeVar("S", bound="Attempt")


@dataclass(frozen=True)
class Target:
    """One place to send a request.

    ``url`` (endpoint or shared server, else the provider) and ``model``.
    """

    label: str
    url: str | None
    model: str | None

    def __str__(self) -> str:
        return self.label


class Attempt(Step[Any]):
    """A step that is one attempt at a target.

    ``received`` is the raw text it had streamed when it failed.
    """

    target: Target

    @property
    def received(self) -> str:
        return ""


class Attempts:
    """One call's way along its targets under a retry policy.

    ``where(target)`` names an attempt in messages; ``what`` names the whole call when several
    targets failed; ``base`` is the error class of failures without a more specific one.
    """

    def __init__(
        self,
        *,
        policy: RetryPolicy,
        auth: HFAuth,
        deadline: Deadline,
        where: Callable[[Target], str],
        what: str,
        base: type[NeuloraError] = GenerationError,
    ) -> None:
        self.policy = policy
        self.auth = auth
        self.deadline = deadline
        self.where = where
        self.what = what
        self.base = base
        self.started = time.monotonic()
        self.count = 0
        self.tried: list[str] = []  # each target given up on, with why
        self.first: str | None = (
            None  # the first target given up on (an answer from another is a fallback)
        )

    def flow(
        self, targets: Sequence[Target], attempt: Callable[[Target], S]
    ) -> Generator[Any, Any, tuple[S, Any]]:
        """Try each target in turn, each up to ``policy.max_attempts`` times.

        The attempt that worked, and its value.
        """
        for n, target in enumerate(targets, start=1):
            for number in range(1, self.policy.max_attempts + 1):
                self.count += 1
                step = attempt(target)
                logger.info("%s (attempt %d)", self.where(target), number)
                failure: Failure
                cause: UpstreamError | None = None
                try:
                    value = yield step
                except DeadlineExpired:
                    message = f"no answer within the call's deadline of {self.deadline.seconds:g}s"
                    failure = Failure("deadline", None, message, False)
                except HubFailure as exc:
                    failure = exc.failure
                    cause = exc.cause
                else:
                    return step, value
                # outside the ``except``: the hub's exception is never chained as the context
                delay = self._after(step, number, failure, cause, last=n == len(targets))
                if delay is None:
                    break
                yield Wait(delay, self.policy.sleep)
        raise AssertionError("unreachable: the last target returns or raises")  # pragma: no cover

    def _after(
        self,
        step: Attempt,
        number: int,
        failure: Failure,
        cause: UpstreamError | None,
        *,
        last: bool,
    ) -> float | None:
        """Seconds to wait before trying again, None to go on to the next target.

        Raises when it is over.
        """
        target = step.target
        where = self.where(target)
        if step.received:
            raise StreamInterruptedError(
                f"{where}: the stream broke after {len(step.received)} characters "
                f"({failure.message})",
                partial_text=clean_answer(step.received),
            ) from cause
        started = self.deadline.at - self.deadline.seconds
        delay = self.policy.next_delay(number, failure.retryable, failure.retry_after, started)
        if delay is not None and delay < self.deadline.remaining():
            logger.info("retrying %s in %.2fs after %s", where, delay, failure.message)
            return delay
        # each earlier target in a sentence: a server's whole error body, once per target, buries
        # the last one's
        self.tried.append(f"{target}: {_short(failure.message)}")
        if not failure.fallback_allowed or last or self.deadline.expired:
            label = where
            if len(self.tried) > 1:
                tried = "; ".join(self.tried)
                label = (
                    f"{self.what}: {len(self.tried)} targets failed ({tried}); the last, {target}"
                )
            raise failure.to_error(label, self.auth.hint(target.url), self.base) from cause
        # one line, the server's own text cut short: the error that ends the call carries it whole
        logger.warning(
            "%s failed (%s); falling back", where, _short(failure.message) or failure.kind
        )
        self.first = self.first or target.label
        return None


def _short(message: str, limit: int = 200) -> str:
    """A failure's message on one line, at most ``limit`` characters.

    An engine's error body can be a traceback.
    """
    line = " | ".join(part.strip() for part in message.splitlines() if part.strip())
    return line if len(line) <= limit else line[: limit - 1] + "\u2026"
