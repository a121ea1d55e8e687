"""``neulora chat``: the conversation loop, and the printouts ``ask`` and ``demo`` share with it.

>>> body = "HTTP 400: Traceback (most recent call last):" + chr(10) + "  ValueError: bad adapter"
>>> error_line(ValueError(body))
'neulora: error: HTTP 400: Traceback (most recent call last): | ValueError: bad adapter'
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from ..errors import InvalidInputError, NeuloraError

CHAT_HELP = "/style NAME|auto, /policy TEXT|off, /reset, /quit"


def error_line(exc: BaseException, limit: int | None = 600) -> str:
    """``neulora: error: ...`` on one line.

    A server's multi-line text is joined with `` | `` and cut at ``limit`` characters (None: whole,
    with ``-v``).
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = " | ".join(lines) or type(exc).__name__
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "\u2026"
    return f"neulora: error: {text}"


@contextmanager
def loading(what: str, *, after: float = 1.0, out: TextIO | None = None) -> Iterator[None]:
    """Print ``loading <what>...`` on stderr (or ``out``) if the block lasts over ``after`` seconds.

    A progress note on a line of its own, never an error: whoever reads stderr tells them apart.
    """

    def show() -> None:
        print(f"loading {what}\u2026", file=out or sys.stderr, flush=True)

    timer = threading.Timer(after, show)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def print_route(route: Any, passages: Any, out: TextIO) -> None:
    """The style and how it was chosen, every score, and the sources.

    Or that no notes were used.
    """
    how = "routed"
    if route.forced:
        how = "forced"
    elif route.fallback:
        how = "fallback"
    scores = "  ".join(
        f"{s} {v:.3f}" for s, v in sorted(route.scores.items(), key=lambda kv: -kv[1])
    )
    print(f"style: {route.style} ({how}; margin {route.margin:.3f})  {scores}", file=out)
    for i, p in enumerate(passages, start=1):
        print(f"  [{i}] {p.where}  ({p.score:.3f})", file=out)
    if not passages:
        print("  (no notes used: nothing in the notes matched)", file=out)


def print_answer(answer: Any, out: TextIO) -> None:
    """The route and the sources, the model, then the answer; a broken contract on stderr."""
    print_route(answer.route, answer.passages, out)
    print(f"{_model_line(answer)}\n\n{answer.text}", file=out)
    warning = contract_warning(answer)
    if warning is not None:
        print(warning, file=sys.stderr)


_BROKEN = {
    "reveals_answer": "it gives the answer away",
    "misses_mistake": "it does not name the learner's mistake",
}


def contract_warning(answer: Any) -> str | None:
    """One line when the answer breaks its style's contract, or when a revision was needed."""
    revision = answer.revision
    if answer.violations:
        why = "; ".join(_BROKEN.get(v, v) for v in answer.violations)
        line = f"warning: this {answer.style} answer breaks its style's contract: {why}"
        if revision is not None:
            line += f" ({revision.policy} did not mend it)"
        return line
    if revision is not None and revision.kept == "second":
        why = "; ".join(_BROKEN.get(v, v) for v in revision.violations)
        return f"note: the first {revision.style} answer was replaced ({revision.policy}): {why}"
    return None


def _model_line(answer: Any) -> str:
    via = f" (fallback from {answer.fallback_from})" if answer.fallback_from else ""
    cut = " (cut at --max-tokens)" if answer.finish_reason == "length" else ""
    return f"model: {answer.model}{via}  {answer.timings['total']:.2f}s{cut}"


class Chat:
    """One conversation on stdin: lines starting with ``/`` are commands, the others are questions.

    An error ends the turn, not the conversation: it is printed on one stderr line and the chat goes
    on.
    """

    def __init__(
        self, pipeline: Any, session: str, style: str | None = None, **generation: Any
    ) -> None:
        self.pipeline = pipeline
        self.session = session
        self.style = None if style is None else self._checked(style, "")
        # max_tokens, temperature
        self.generation = {k: v for k, v in generation.items() if v is not None}

    def run(self) -> int:
        """Read until ``/quit`` or the end of input (Ctrl-D, the end of a pipe, no stdin at all).

        Returns 0.
        """
        print(f"session {self.session}. {CHAT_HELP}", flush=True)
        prompt = "you> " if _interactive() else ""
        while (line := _read(prompt)) is not None:
            if line.partition(" ")[0] == "/quit":
                break
            if not line:
                continue
            try:
                if line.startswith("/"):
                    self.command(line)
                else:
                    self.answer(line)
            except NeuloraError as exc:
                print(error_line(exc), file=sys.stderr)
            sys.stdout.flush()  # a program reading the chat through a pipe sees each reply at once
        return 0

    def answer(self, question: str) -> None:
        """Stream one turn: route and sources as soon as known, then the text as it comes."""
        for event in self.pipeline.stream(
            question, session_id=self.session, style=self.style, **self.generation
        ):
            if event.kind == "route":
                route = event.data
            elif event.kind == "passages":
                print_route(route, event.data, sys.stdout)
                print(flush=True)
            elif event.kind == "delta":
                print(event.data, end="", flush=True)
            elif event.kind == "done":
                print(f"\n\n{_model_line(event.data)}", flush=True)
                warning = contract_warning(event.data)
                if warning is not None:
                    print(warning, file=sys.stderr, flush=True)

    def command(self, line: str) -> None:
        """Run one slash command (``/quit`` aside).

        An unknown command or argument raises InvalidInputError.
        """
        cmd, _, rest = line.partition(" ")
        rest = rest.strip()
        if cmd == "/reset":
            self.pipeline.reset(self.session)
            print("session cleared")
        elif cmd == "/style":
            self.style = (
                None
                if rest.lower() in ("", "auto")
                else self._checked(rest, f" or auto; the style stays {self.style or 'routed'}")
            )
            print(f"style now {self.style or 'routed'}")
        elif cmd == "/policy":
            self.pipeline.set_policy(self.session, None if rest.lower() in ("", "off") else rest)
            print("policy updated")
        else:
            raise InvalidInputError(f"unknown command {cmd}: use {CHAT_HELP}")

    def _checked(self, style: str, more: str) -> str:
        """``style`` if the router knows it (in any case), else InvalidInputError listing them."""
        styles = tuple(self.pipeline.router.styles)
        if style.lower() in styles:
            return style.lower()
        raise InvalidInputError(f"unknown style {style!r}: choose one of {', '.join(styles)}{more}")


def _interactive() -> bool:
    return sys.stdin is not None and not sys.stdin.closed and sys.stdin.isatty()


def _read(prompt: str) -> str | None:
    """The next line, stripped; None at the end of input."""
    if sys.stdin is None or sys.stdin.closed:  # `neulora chat <&-`
        return None
    try:
        return input(prompt).strip()
    except EOFError:
        if prompt:
            print()  # end the prompt's line, so that the shell's prompt starts on a line of its own
        return None
