"""Conversation memory: a protocol and a bounded, thread-safe in-process default.

>>> memory = InMemoryMemory(max_sessions=2, max_turns=3)
>>> _ = memory.append("s1", Turn("question", "answer", "direct"))
>>> len(memory.get("s1").turns)
1
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Protocol

from .errors import ConfigError, SessionError

__all__ = ["FileMemory", "InMemoryMemory", "Memory", "Session", "Turn"]


@dataclass(frozen=True, slots=True)
class Turn:
    """One exchange: the learner's question, the tutor's answer, and the style used."""

    question: str
    answer: str
    style: str


@dataclass(frozen=True, slots=True)
class Session:
    """What memory holds for one session: its turns (oldest first), its teaching policy, turns ever taken."""

    turns: tuple[Turn, ...] = ()
    policy: str | None = None
    total_turns: int = 0


class Memory(Protocol):
    """Where sessions live. Implementations must be safe to call from several threads."""

    def get(self, session_id: str) -> Session:
        """The session (an empty one if unknown)."""
        ...

    def append(self, session_id: str, turn: Turn) -> Session:
        """Add a finished turn; returns the session after it."""
        ...

    def set_policy(self, session_id: str, policy: str | None) -> None:
        """Set or clear the session's teaching policy."""
        ...

    def reset(self, session_id: str) -> None:
        """Forget the session."""
        ...


class InMemoryMemory:
    """Keeps at most ``max_sessions`` sessions (least recently used dropped first) of ``max_turns`` turns each."""

    def __init__(self, *, max_sessions: int = 1000, max_turns: int = 50) -> None:
        if max_sessions < 1 or max_turns < 1:
            raise ConfigError("max_sessions and max_turns must be at least 1")
        self.max_sessions = max_sessions
        self.max_turns = max_turns
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._sessions)

    def __repr__(self) -> str:
        return f"InMemoryMemory(sessions={len(self)}/{self.max_sessions}, max_turns={self.max_turns})"

    def get(self, session_id: str) -> Session:
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return Session()
            self._sessions.move_to_end(session_id)
            return session

    def append(self, session_id: str, turn: Turn) -> Session:
        with self._lock:
            old = self._sessions.get(session_id, Session())
            new = replace(old, turns=(*old.turns, turn)[-self.max_turns:], total_turns=old.total_turns + 1)
            self._store(session_id, new)
            return new

    def set_policy(self, session_id: str, policy: str | None) -> None:
        with self._lock:
            self._store(session_id, replace(self._sessions.get(session_id, Session()), policy=policy))

    def reset(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def _store(self, session_id: str, session: Session) -> None:
        self._sessions[session_id] = session
        self._sessions.move_to_end(session_id)
        while len(self._sessions) > self.max_sessions:
            self._sessions.popitem(last=False)


class FileMemory:
    """Sessions stored as JSON files in a directory, so that separate processes (CLI calls) share them.

    Writes are atomic (temporary file, then rename); one lock serialises the threads of a process.
    """

    def __init__(self, directory: str | os.PathLike[str], *, max_turns: int = 50) -> None:
        if max_turns < 1:
            raise ConfigError("max_turns must be at least 1")
        self.directory = Path(directory)
        self.max_turns = max_turns
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FileMemory({str(self.directory)!r}, max_turns={self.max_turns})"

    def _path(self, session_id: str) -> Path:
        return self.directory / (hashlib.sha256(session_id.encode("utf-8")).hexdigest()[:32] + ".json")

    def get(self, session_id: str) -> Session:
        path = self._path(session_id)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return Session()
        except (OSError, ValueError) as exc:
            raise SessionError(f"session file {path} cannot be read: {exc}") from exc
        turns = tuple(Turn(t["question"], t["answer"], t["style"]) for t in raw.get("turns", []))
        return Session(turns=turns, policy=raw.get("policy"), total_turns=int(raw.get("total_turns", len(turns))))

    def append(self, session_id: str, turn: Turn) -> Session:
        with self._lock:
            old = self.get(session_id)
            new = replace(old, turns=(*old.turns, turn)[-self.max_turns:], total_turns=old.total_turns + 1)
            self._write(session_id, new)
            return new

    def set_policy(self, session_id: str, policy: str | None) -> None:
        with self._lock:
            self._write(session_id, replace(self.get(session_id), policy=policy))

    def reset(self, session_id: str) -> None:
        with self._lock:
            self._path(session_id).unlink(missing_ok=True)

    def _write(self, session_id: str, session: Session) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        payload = {"session_id": session_id, "policy": session.policy, "total_turns": session.total_turns,
                   "turns": [asdict(t) for t in session.turns]}
        try:
            fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(payload, fh, ensure_ascii=False)
            os.replace(tmp, self._path(session_id))
        except OSError as exc:
            raise SessionError(f"cannot write session to {self.directory}: {exc}") from exc
