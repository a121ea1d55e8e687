"""Conversation memory: a protocol and a bounded, thread-safe in-process default.

>>> memory = InMemoryMemory(max_sessions=2, max_turns=3)
>>> _ = memory.append("s1", Turn("question", "answer", "direct"))
>>> len(memory.get("s1").turns)
1
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from .errors import ConfigError, InvalidInputError, SessionError

__all__ = ["FileMemory", "InMemoryMemory", "Memory", "Session", "Turn", "check_session_id"]

logger = logging.getLogger(__name__)

MAX_SESSION_ID = 200  # characters, as Pipeline accepts


def check_session_id(session_id: Any) -> str:
    """Return ``session_id`` if it is a non-blank ``str`` of at most 200 characters that UTF-8 can encode.

    Every memory applies this one rule (Pipeline checks the same), so a bad id fails the same way whatever
    memory is plugged in, with :class:`InvalidInputError`.
    """
    if not isinstance(session_id, str) or not session_id.strip() or len(session_id) > MAX_SESSION_ID:
        raise InvalidInputError(f"session_id must be a non-empty str of at most {MAX_SESSION_ID} characters, "
                                f"got {type(session_id).__name__}")
    try:
        session_id.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(f"session_id contains a lone surrogate at position {exc.start}: it cannot be stored; "
                                "use a plain text id") from None
    return session_id


@dataclass(frozen=True, slots=True)
class Turn:
    """One exchange: the learner's question, the tutor's answer, and the style used.

    ``meta``: what else was known about the turn (scores, margin, sources, timings, model: the ``neulora``
    object of ``neulora serve``), kept so that a page reloaded later shows the turn as it was first shown.
    """

    question: str
    answer: str
    style: str
    meta: Mapping[str, Any] | None = None


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
            new = replace(old, turns=(*old.turns, turn)[-self.max_turns:], total_turns=old.total_turns + 1)
            self._store(session_id, new)
            return new

    def set_policy(self, session_id: str, policy: str | None) -> None:
        check_session_id(session_id)
        with self._lock:
            self._store(session_id, replace(self._sessions.get(session_id, Session()), policy=policy))

    def reset(self, session_id: str) -> None:
        check_session_id(session_id)
        with self._lock:
            self._sessions.pop(session_id, None)

    def _store(self, session_id: str, session: Session) -> None:
        self._sessions[session_id] = session
        self._sessions.move_to_end(session_id)
        while len(self._sessions) > self.max_sessions:
            self._sessions.popitem(last=False)


class FileMemory:
    """Sessions stored as JSON files in a directory, so that separate processes (CLI calls) share them.

    Every read-modify-write holds a lock shared by the threads and processes using the directory; writes are
    atomic (temporary file, fsync, rename), so a crash leaves the old file or the new one, never half of one.
    A corrupted session file raises :class:`SessionError` and is left as it is; ``reset`` replaces it.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     FileMemory(folder, max_turns=2).append("learner", Turn("question", "answer", "direct")).total_turns
    1
    """

    LOCK_NAME = ".neulora-sessions.lock"
    LOCK_TIMEOUT = 30.0  # seconds; a writer holds the lock for one small read and write

    def __init__(self, directory: str | os.PathLike[str], *, max_turns: int = 50) -> None:
        if max_turns < 1:
            raise ConfigError("max_turns must be at least 1")
        self.directory = Path(directory)
        self.max_turns = max_turns
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FileMemory({str(self.directory)!r}, max_turns={self.max_turns})"

    def _path(self, session_id: str) -> Path:
        # A hash, never the id itself: no id can name a path outside the directory ("../x", "/etc", NUL...).
        return self.directory / (hashlib.sha256(session_id.encode("utf-8")).hexdigest()[:32] + ".json")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the directory's lock: the threads of this process first, then every other process.

        One lock for the directory rather than one per session: the critical section is one small file read and
        write, so sessions hardly wait on each other, and a per-session lock file would be left behind for every
        session ever seen (deleting a lock file that another process may be waiting on breaks the lock).
        """
        from filelock import FileLock, Timeout  # here, not at import time: most memories never lock

        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SessionError(f"cannot create the session directory {self.directory}: {exc}") from exc
        lock = FileLock(self.directory / self.LOCK_NAME, timeout=self.LOCK_TIMEOUT)
        with self._lock:
            try:
                with lock:
                    yield
            except Timeout as exc:  # before OSError: Timeout is a TimeoutError
                raise SessionError(f"session directory {self.directory} stayed locked for {self.LOCK_TIMEOUT:.0f}s: "
                                   f"another process holds {lock.lock_file}; retry, or stop that process") from exc
            except OSError as exc:
                raise SessionError(f"cannot lock the session directory {self.directory}: {exc}; check that it is "
                                   "writable") from exc

    def get(self, session_id: str) -> Session:
        # No lock: files are replaced atomically, so a reader sees the old session or the new one.
        path = self._path(check_session_id(session_id))
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return Session()
        except OSError as exc:
            raise SessionError(f"session file {path} cannot be read: {exc}") from exc
        return _parse(path, data)

    def append(self, session_id: str, turn: Turn) -> Session:
        check_session_id(session_id)
        with self._locked():
            old = self.get(session_id)
            new = replace(old, turns=(*old.turns, turn)[-self.max_turns:], total_turns=old.total_turns + 1)
            self._write(session_id, new)
            return new

    def set_policy(self, session_id: str, policy: str | None) -> None:
        check_session_id(session_id)
        with self._locked():
            self._write(session_id, replace(self.get(session_id), policy=policy))

    def reset(self, session_id: str) -> None:
        path = self._path(check_session_id(session_id))
        with self._locked():
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                raise SessionError(f"cannot delete session file {path}: {exc}") from exc

    def _write(self, session_id: str, session: Session) -> None:
        path = self._path(session_id)
        payload = {"session_id": session_id, "policy": session.policy, "total_turns": session.total_turns,
                   "turns": [asdict(t) for t in session.turns]}
        try:
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise SessionError(f"cannot write session to {path}: a turn or the policy holds text UTF-8 cannot "
                               f"encode ({exc.reason} at position {exc.start})") from exc
        except (TypeError, ValueError) as exc:  # a turn's meta that JSON cannot hold (an object, NaN is fine)
            raise SessionError(f"cannot write session to {path}: a turn's meta is not JSON ({exc}); nothing was "
                               "written") from exc
        _write_atomically(path, data)
        logger.debug("session %s written to %s (%d turns)", session_id, path, len(session.turns))


def _write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers (and a crash) see the old content or the new, never a part."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())  # else a power cut after the rename can leave an empty file
        os.replace(tmp, path)
    except OSError as exc:
        raise SessionError(f"cannot write session to {path}: {exc}") from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _parse(path: Path, data: bytes) -> Session:
    """The session a file holds; :class:`SessionError` naming the file and the fault if it is not one."""
    try:
        raw = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise _corrupt(path, f"not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})") from exc
    except ValueError as exc:
        raise _corrupt(path, f"invalid JSON ({exc})") from exc
    except RecursionError as exc:
        raise _corrupt(path, "JSON nested too deeply") from exc
    if not isinstance(raw, dict):
        raise _corrupt(path, f"expected a JSON object, found {type(raw).__name__}")
    turns = raw.get("turns", [])
    if not isinstance(turns, list):
        raise _corrupt(path, f"'turns' must be a list, found {type(turns).__name__}")
    parsed = tuple(_turn(path, i, t) for i, t in enumerate(turns))
    policy = raw.get("policy")
    if policy is not None and not isinstance(policy, str):
        raise _corrupt(path, f"'policy' must be a string or null, found {type(policy).__name__}")
    total = raw.get("total_turns", len(parsed))
    if isinstance(total, bool) or not isinstance(total, int) or total < len(parsed):
        raise _corrupt(path, f"'total_turns' must be an int of at least {len(parsed)} (the turns held), "
                             f"found {total!r:.40}")
    return Session(turns=parsed, policy=policy, total_turns=total)


def _turn(path: Path, index: int, raw: object) -> Turn:
    try:
        return turn_of(raw)
    except ValueError as exc:
        raise _corrupt(path, f"turn {index}: {exc}") from None


def turn_of(raw: object) -> Turn:
    """A :class:`Turn` from its JSON form, or ValueError saying what is wrong."""
    fields = ("question", "answer", "style")
    if not isinstance(raw, dict) or not all(isinstance(raw.get(f), str) for f in fields):
        raise ValueError(f"a turn must be an object with string fields {', '.join(fields)}, found "
                         f"{json.dumps(raw)[:80]}")
    meta = raw.get("meta")
    if meta is not None and not isinstance(meta, dict):
        raise ValueError(f"a turn's 'meta' must be an object or null, found {type(meta).__name__}")
    return Turn(raw["question"], raw["answer"], raw["style"], meta)


def _corrupt(path: Path, fault: str) -> SessionError:
    return SessionError(f"session file {path} is corrupt: {fault}. It was left untouched: repair it, or reset the "
                        "session to start it afresh")
