"""Conversation memory in the process: bounded, thread-safe, the default."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import replace

from ..errors import ConfigError
from ._base import Session, Turn, check_session_id


class InMemoryMemory:
    """At most ``max_sessions`` sessions (least recently used go first), ``max_turns`` each."""

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
        return (
            f"InMemoryMemory(sessions={len(self)}/{self.max_sessions}, max_turns={self.max_turns})"
        )

    def get(self, session_id: str) -> Session:
        check_session_id(session_id)
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return Session()
            self._sessions.move_to_end(session_id)
            return session

    def append(self, session_id: str, turn: Turn) -> Session:
        check_session_id(session_id)
        with self._lock:
            old = self._sessions.get(session_id, Session())
            new = replace(
                old, turns=(*old.turns, turn)[-self.max_turns :], total_turns=old.total_turns + 1
            )
            self._store(session_id, new)
            return new

    def set_policy(self, session_id: str, policy: str | None) -> None:
        check_session_id(session_id)
        with self._lock:
            self._store(
                session_id, replace(self._sessions.get(session_id, Session()), policy=policy)
            )

    def reset(self, session_id: str) -> None:
        check_session_id(session_id)
        with self._lock:
            self._sessions.pop(session_id, None)

    def _store(self, session_id: str, session: Session) -> None:
        self._sessions[session_id] = session
        self._sessions.move_to_end(session_id)
        while len(self._sessions) > self.max_sessions:
            self._sessions.popitem(last=False)
