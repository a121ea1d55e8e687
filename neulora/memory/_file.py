"""Conversation memory in files: one JSON file per session, shared by processes on one machine."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path

from .._checks import is_int
from ..errors import ConfigError, SessionError
from ._base import Session, Turn, check_session_id, turn_of

logger = logging.getLogger(__name__)


class FileMemory:
    """Sessions as JSON files in a directory, so that separate processes (CLI calls) share them.

    Every read-modify-write holds a lock shared by the threads and processes using the directory;
    writes are atomic (temporary file, fsync, rename), so a crash leaves the old file or the new
    one, never half of one. A corrupted session file raises :class:`SessionError` and is left as it
    is; ``reset`` replaces it.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     memory = FileMemory(folder, max_turns=2)
    ...     memory.append("learner", Turn("question", "answer", "direct")).total_turns
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
        # A hash, never the id itself: no id can name a path outside the directory ("../x", "/etc",
        # NUL...).
        return self.directory / (
            hashlib.sha256(session_id.encode("utf-8")).hexdigest()[:32] + ".json"
        )

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the directory's lock: the threads of this process first, then every other process.

        One lock for the directory rather than one per session: the critical section is one small
        file read and write, so sessions hardly wait on each other, and a per-session lock file
        would be left behind for every session ever seen (deleting a lock file that another process
        may be waiting on breaks the lock).
        """
        from filelock import FileLock, Timeout  # here, not at import time: most memories never lock

        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SessionError(
                f"cannot create the session directory {self.directory}: {exc}"
            ) from exc
        lock = FileLock(self.directory / self.LOCK_NAME, timeout=self.LOCK_TIMEOUT)
        with self._lock:
            try:
                with lock:
                    yield
            except Timeout as exc:  # before OSError: Timeout is a TimeoutError
                raise SessionError(
                    f"session directory {self.directory} stayed locked for "
                    f"{self.LOCK_TIMEOUT:.0f}s: "
                    f"another process holds {lock.lock_file}; retry, or stop that process"
                ) from exc
            except OSError as exc:
                raise SessionError(
                    f"cannot lock the session directory {self.directory}: {exc}; check that it is "
                    "writable"
                ) from exc

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
            new = replace(
                old, turns=(*old.turns, turn)[-self.max_turns :], total_turns=old.total_turns + 1
            )
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
        payload = {
            "session_id": session_id,
            "policy": session.policy,
            "total_turns": session.total_turns,
            "turns": [asdict(t) for t in session.turns],
        }
        try:
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise SessionError(
                f"cannot write session to {path}: a turn or the policy holds text UTF-8 cannot "
                f"encode ({exc.reason} at position {exc.start})"
            ) from exc
        except (TypeError, ValueError) as exc:
            # a turn's meta that JSON cannot hold (an object, NaN is fine)
            raise SessionError(
                f"cannot write session to {path}: a turn's meta is not JSON ({exc}); nothing was "
                "written"
            ) from exc
        _write_atomically(path, data)
        logger.debug("session %s written to %s (%d turns)", session_id, path, len(session.turns))


def _write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``: readers and a crash see the old or the new, never a part."""
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
    """The session a file holds; a SessionError naming the file and the fault if it is not one."""
    try:
        raw = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise _corrupt(
            path, f"not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from exc
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
    if not is_int(total) or total < len(parsed):
        raise _corrupt(
            path,
            f"'total_turns' must be an int of at least {len(parsed)} (the turns held), "
            f"found {total!r:.40}",
        )
    return Session(turns=parsed, policy=policy, total_turns=total)


def _turn(path: Path, index: int, raw: object) -> Turn:
    try:
        return turn_of(raw)
    except ValueError as exc:
        raise _corrupt(path, f"turn {index}: {exc}") from None


def _corrupt(path: Path, fault: str) -> SessionError:
    return SessionError(
        f"session file {path} is corrupt: {fault}. It was left untouched: repair it, or reset the "
        "session to start it afresh"
    )
