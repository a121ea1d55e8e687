"""``neulora chat``: the conversation loop, and the printouts that ``ask`` and ``demo`` share with it.

>>> error_line(ValueError("HTTP 400: Traceback (most recent call last):" + chr(10) + "  ValueError: bad adapter"))
'neulora: error: HTTP 400: Traceback (most recent call last): | ValueError: bad adapter'
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from .errors import InvalidInputError, NeuloraError

__all__ = ["CHAT_HELP", "Chat", "error_line", "print_answer"]

CHAT_HELP = "/style NAME|auto, /policy TEXT|off, /reset, /quit"


def error_line(exc: BaseException) -> str:
    """``neulora: error: ...`` on one line: a server's multi-line text is joined with `` | ``."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"neulora: error: {' | '.join(lines) or type(exc).__name__}"


def print_answer(answer: Any, out: TextIO) -> None:
    """The style and how it was chosen, the sources, the model, then the answer."""
    route = answer.route
    how = "forced" if route.forced else "fallback" if route.fallback else "routed"
    scores = "  ".join(f"{s} {v:.3f}" for s, v in sorted(route.scores.items(), key=lambda kv: -kv[1]))
    print(f"style: {answer.style} ({how}; margin {route.margin:.3f})  {scores}", file=out)
    for i, p in enumerate(answer.passages, start=1):
        print(f"  [{i}] {p.where}  ({p.score:.3f})", file=out)
    via = f" (fallback from {answer.fallback_from})" if answer.fallback_from else ""
    print(f"model: {answer.model}{via}  {answer.timings['total']:.2f}s\n\n{answer.text}", file=out)


class Chat:
    """One conversation on stdin: lines starting with ``/`` are commands, the others are questions.

    An error ends the turn, not the conversation: it is printed on one stderr line and the chat goes on.
    """

    def __init__(self, pipeline: Any, session: str, style: str | None = None) -> None:
        self.pipeline, self.session = pipeline, session
        self.style = None if style is None else self._checked(style, "")

    def run(self) -> int:
        """Read until ``/quit`` or the end of input (Ctrl-D, the end of a pipe, no stdin at all); returns 0."""
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
                    print_answer(self.pipeline.ask(line, session_id=self.session, style=self.style), sys.stdout)
            except NeuloraError as exc:
                print(error_line(exc), file=sys.stderr)
            sys.stdout.flush()  # a program reading the chat through a pipe sees each reply at once
        return 0

    def command(self, line: str) -> None:
        """Run one slash command (``/quit`` aside); an unknown command or argument raises InvalidInputError."""
        cmd, _, rest = line.partition(" ")
        rest = rest.strip()
        if cmd == "/reset":
            self.pipeline.reset(self.session)
            print("session cleared")
        elif cmd == "/style":
            self.style = None if rest.lower() in ("", "auto") else self._checked(
                rest, f" or auto; the style stays {self.style or 'routed'}")
            print(f"style now {self.style or 'routed'}")
        elif cmd == "/policy":
            self.pipeline.set_policy(self.session, None if rest.lower() in ("", "off") else rest)
            print("policy updated")
        else:
            raise InvalidInputError(f"unknown command {cmd}: use {CHAT_HELP}")

    def _checked(self, style: str, more: str) -> str:
        """``style`` if the router knows it (in any case), else InvalidInputError listing the styles."""
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
