"""Conversation memory in Redis, shared by several processes (replicas of a web server).

Each session is two keys, a list of turns (JSON, oldest first) and a hash (``total``, ``policy``,
``session_id``), named from a hash of the session id. Every read and write is one Lua script, so
Redis runs it whole and alone: concurrent appends from any number of replicas are all counted, and a
script checks every key before its first write, so a fault never leaves half a turn behind.

>>> url = "redis://:password@127.0.0.1:6379/0"
>>> memory = RedisMemory.from_url(url, max_turns=20)  # doctest: +SKIP
>>> memory  # doctest: +SKIP
RedisMemory('redis://:***@127.0.0.1:6379/0', prefix='neulora:', max_turns=20, ttl=604800s)
>>> memory.append("learner-1", Turn("question", "answer", "direct")).total_turns  # doctest: +SKIP
1
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .._checks import is_int, is_number
from .._redact import redact, redact_url, redacted
from ..errors import ConfigError, SessionError
from ._base import Session, Turn, check_session_id, turn_of

if TYPE_CHECKING:
    from redis import Redis

logger = logging.getLogger(__name__)

DEFAULT_TTL = timedelta(days=7)


# KEYS: the turns list, the session hash. ARGV[1]: get | append | policy; ARGV[2]: TTL in ms (0: no
# expiry). Every reply starts with the server's clock in ms, from which the client knows the
# server's time for deadlines.
_SCRIPT = """
local turns, meta, op, ttl = KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
-- Redis never rolls a script back: every check comes before the first write.
for i, want in ipairs({'list', 'hash'}) do
  local kind = redis.call('TYPE', KEYS[i]).ok
  if kind ~= 'none' and kind ~= want then
    return redis.error_reply('NEULORA key ' .. KEYS[i] .. ' holds a ' .. kind .. ', not a ' .. want)
  end
end
local total = redis.call('HGET', meta, 'total')
if total and not tonumber(total) then
  return redis.error_reply('NEULORA field total of ' .. meta .. ' is not a number')
end
total = math.max(tonumber(total or 0), redis.call('LLEN', turns))
local function touch()
  for _, key in ipairs(KEYS) do
    if ttl > 0 then redis.call('PEXPIRE', key, ttl) else redis.call('PERSIST', key) end
  end
end
if op == 'append' then
  -- ARGV[3]: the turn, ARGV[4]: max turns, ARGV[5]: the turn's id, ARGV[6]: session id,
  -- ARGV[7]: the server time (ms) after which the client has given up on this append (0: none).
  -- A Redis that froze runs the queued command when it resumes: a turn its caller was told
  -- failed must not appear then.
  local not_after = tonumber(ARGV[7] or 0)
  if not_after > 0 and now > not_after then
    local late = now - not_after
    local after = ' ms after its caller gave up'
    return redis.error_reply('NEULORA_LATE the append arrived ' .. late .. after)
  end
  local seen = false
  for _, item in ipairs(redis.call('LRANGE', turns, 0, -1)) do
    if string.find(item, ARGV[5], 1, true) then seen = true break end
  end
  if not seen then  -- else a retry of a call whose reply was lost: the turn is already there
    total = total + 1
    redis.call('RPUSH', turns, ARGV[3])
    redis.call('LTRIM', turns, -tonumber(ARGV[4]), -1)
    redis.call('HSET', meta, 'total', total, 'session_id', ARGV[6])
    touch()
  end
elseif op == 'policy' then  -- ARGV[3]: the policy (absent: clear it), ARGV[4]: session id
  if ARGV[3] then redis.call('HSET', meta, 'policy', ARGV[3], 'session_id', ARGV[4])
  else redis.call('HDEL', meta, 'policy') end
  touch()
  return {}
end
local state = redis.call('LRANGE', turns, 0, -1)
table.insert(state, 1, redis.call('HGET', meta, 'policy'))
table.insert(state, 1, total)
table.insert(state, 1, now)
return state
"""


class RedisMemory:
    """Sessions in Redis: ``max_turns`` turns each, forgotten after ``ttl`` without a write.

    None: kept.

    Construction does no I/O; the first call connects. Every Redis failure raises
    :class:`SessionError` whose message and causes name the server without its password.

    >>> import redis  # doctest: +SKIP
    >>> client = redis.Redis(port=6380)  # doctest: +SKIP
    >>> RedisMemory(client, max_turns=10, ttl=3600, prefix="tutor:")  # doctest: +SKIP
    RedisMemory('redis://127.0.0.1:6380/0', prefix='tutor:', max_turns=10, ttl=3600s)
    """

    def __init__(
        self,
        client: Redis,
        *,
        max_turns: int = 50,
        ttl: timedelta | float | None = DEFAULT_TTL,
        prefix: str = "neulora:",
    ) -> None:
        if not is_int(max_turns) or max_turns < 1:
            raise ConfigError(f"max_turns must be an int of at least 1, got {max_turns!r:.40}")
        if not isinstance(prefix, str):
            raise ConfigError(f"prefix must be a str, got {type(prefix).__name__}")
        if not callable(getattr(client, "register_script", None)):
            raise ConfigError(f"client must be a redis.Redis client, got {type(client).__name__}")
        self.client = client
        self.max_turns = max_turns
        self.prefix = prefix
        self.ttl = _seconds(ttl, "ttl")
        self.url = describe(client)
        kwargs = getattr(getattr(client, "connection_pool", None), "connection_kwargs", {})
        password = kwargs.get("password") if isinstance(kwargs, dict) else None
        self._secret = password if isinstance(password, str) and password else None
        self._script = client.register_script(_SCRIPT)
        timeout = kwargs.get("socket_timeout") if isinstance(kwargs, dict) else None
        self._reply_timeout = (
            float(timeout) if isinstance(timeout, (int, float)) and timeout > 0 else None
        )
        self._clock_offset: float | None = (
            None  # server clock minus ours, in ms, as of the last reply
        )

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        timeout: float = 5.0,
        max_turns: int = 50,
        ttl: timedelta | float | None = DEFAULT_TTL,
        prefix: str = "neulora:",
        **client_options: Any,
    ) -> RedisMemory:
        """A memory on a new client for ``redis://[[user]:password@]host[:port][/db]``.

        Or ``rediss://``, ``unix://``.

        ``timeout`` (seconds) bounds connecting and each reply; a failure retries twice, then raises
        :class:`SessionError`. Other keywords go to ``redis.Redis.from_url``.
        """
        shown = redact_url(url) if isinstance(url, str) else type(url).__name__
        if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(f"url must be a redis://, rediss:// or unix:// URL, got {shown!r}")
        seconds = _seconds(timeout, "timeout")
        if seconds is None:
            raise ConfigError("timeout must be a positive number of seconds, got None")
        try:
            import redis
            from redis.backoff import ExponentialWithJitterBackoff
            from redis.retry import Retry
        except ImportError as exc:
            raise ConfigError(
                "RedisMemory needs the redis client: pip install 'neulora[redis]'"
            ) from exc
        client_options.setdefault("socket_timeout", seconds)
        client_options.setdefault("socket_connect_timeout", seconds)
        # redis-py retries 10 times by default: close to a minute before a replica hears that Redis
        # is down.
        client_options.setdefault(
            "retry", Retry(ExponentialWithJitterBackoff(cap=0.5, base=0.05), 2)
        )
        try:
            client = redis.Redis.from_url(url, **client_options)
        except (ValueError, TypeError) as exc:
            detail = redact_url(str(exc).replace(url, shown))
            raise ConfigError(f"cannot use the Redis URL {shown!r}: {detail}") from None
        return cls(client, max_turns=max_turns, ttl=ttl, prefix=prefix)

    def __repr__(self) -> str:
        ttl = "None" if self.ttl is None else f"{self.ttl:g}s"
        return (
            f"RedisMemory({self.url!r}, prefix={self.prefix!r}, max_turns={self.max_turns}, "
            f"ttl={ttl})"
        )

    def close(self) -> None:
        """Close the client's connections (a later call opens new ones)."""
        self.client.close()

    def get(self, session_id: str) -> Session:
        check_session_id(session_id)
        return self._state(session_id, self._run("read", session_id, "get"))

    def append(self, session_id: str, turn: Turn) -> Session:
        check_session_id(session_id)
        turn_id = uuid.uuid4().hex
        try:
            text = json.dumps(
                {
                    "question": turn.question,
                    "answer": turn.answer,
                    "style": turn.style,
                    "meta": turn.meta,
                    "id": turn_id,
                },
                ensure_ascii=False,
            )
        except (TypeError, ValueError) as exc:
            raise SessionError(
                f"cannot write session {session_id!r:.60}: a turn's meta is not JSON ({exc}); "
                "nothing was written"
            ) from exc
        data = _encode(session_id, text)
        return self._state(
            session_id,
            self._run(
                "append a turn to",
                session_id,
                "append",
                data,
                self.max_turns,
                turn_id,
                session_id,
                self._not_after(),
            ),
        )

    def _not_after(self) -> int:
        """The server time (ms) after which an append sent now is refused.

        80% of the reply timeout from now, so that an append the server runs in time has the rest of
        it to answer. 0 (none) until the server's clock is known (the first reply of this client),
        or without a reply timeout (the caller waits forever).
        """
        if self._reply_timeout is None or self._clock_offset is None:
            return 0
        return int(time.time() * 1000 + self._clock_offset + 0.8 * self._reply_timeout * 1000)

    def set_policy(self, session_id: str, policy: str | None) -> None:
        check_session_id(session_id)
        args = () if policy is None else (_encode(session_id, policy), session_id)
        self._run("set the policy of", session_id, "policy", *args)

    def reset(self, session_id: str) -> None:
        check_session_id(session_id)
        self._run("delete", session_id, None)

    # -- the edge: every Redis call goes through _run
    # ------------------------------------------------
    def _keys(self, session_id: str) -> list[str]:
        # A hash, never the id itself: any id makes a short, plain key, and the {tag} keeps both
        # keys on one Redis Cluster slot, as a script's keys must be.
        digest = hashlib.sha256(session_id.encode("utf-8")).hexdigest()[:32]
        return [f"{self.prefix}{{{digest}}}:turns", f"{self.prefix}{{{digest}}}:session"]

    def _run(self, what: str, session_id: str, op: str | None, *args: str | bytes | int) -> Any:
        """Run one atomic operation (``op`` None: delete the session).

        Redis failures become SessionError.
        """
        keys = self._keys(session_id)
        ttl_ms = 0 if self.ttl is None else max(1, round(self.ttl * 1000))
        started = time.perf_counter()
        failure: SessionError | None = None
        try:
            with self._errors(what, session_id):
                if op is None:
                    reply = self.client.delete(*keys)
                else:
                    reply = self._script(keys, [op, ttl_ms, *args])
        except SessionError as exc:
            failure = exc
        if failure is not None:
            # Redis's own exception (its frames, a URL it may hold) is no one's context: the
            # redacted copy, its cause, is what travels
            failure.__context__ = None
            raise failure
        took = time.perf_counter() - started
        logger.debug("redis %s session %s: %.4fs", op or "delete", session_id[:8], took)
        return reply

    @contextmanager
    def _errors(self, what: str, session_id: str) -> Iterator[None]:
        """The one translator of this edge.

        What redis-py raises, as SessionError (chained to a redacted copy).
        """
        from redis.exceptions import RedisError

        try:
            yield
        except (RedisError, UnicodeDecodeError) as exc:
            raise self._error(what, session_id, exc) from redacted(exc, self._redact)

    def _error(self, what: str, session_id: str, exc: Exception) -> SessionError:
        from redis import exceptions

        detail = self._redact(f"{type(exc).__name__}: {exc}")
        if str(exc).startswith("NEULORA_LATE "):
            return SessionError(
                f"Redis at {self.url} ran the {what.split()[0]} too late for session "
                f"{session_id!r:.60} ({detail.split('NEULORA_LATE ', 1)[-1]}): it was not stored"
            )
        if isinstance(exc, UnicodeDecodeError) or str(exc).startswith("NEULORA "):
            return _corrupt(session_id, self.url, detail.split("NEULORA ", 1)[-1])
        if isinstance(exc, (exceptions.ConnectionError, exceptions.TimeoutError)):
            return SessionError(
                f"cannot reach Redis at {self.url} to {what} session {session_id!r:.60} "
                f"({detail}): "
                "check that Redis runs there and that the URL and password are right"
            )
        return SessionError(
            f"Redis at {self.url} refused to {what} session {session_id!r:.60}: {detail}"
        )

    def _redact(self, text: str) -> str:
        return redact(text, self._secret)

    def _state(self, session_id: str, reply: Any) -> Session:
        """The session a script returned: ``[server clock, total, policy, turn, ...]``."""
        try:
            self._clock_offset = int(reply[0]) - time.time() * 1000
            total = int(reply[1])
            policy = None if reply[2] is None else _text(reply[2])
            turns = tuple(turn_of(json.loads(_text(raw))) for raw in reply[3:])
        except (ValueError, TypeError, KeyError, IndexError, RecursionError) as exc:
            raise _corrupt(session_id, self.url, f"{type(exc).__name__}: {exc}"[:200]) from None
        return Session(turns=turns, policy=policy, total_turns=total)


def describe(client: Any) -> str:
    """The URL a redis-py client connects to, its password shown as ``***``."""
    kwargs = getattr(getattr(client, "connection_pool", None), "connection_kwargs", None)
    if not isinstance(kwargs, dict):
        return f"<{type(client).__name__}>"
    auth = ""
    if kwargs.get("password"):
        auth = f"{kwargs.get('username') or ''}:***@"
    elif kwargs.get("username"):
        auth = f"{kwargs['username']}@"
    if kwargs.get("path"):
        return f"unix://{auth}{kwargs['path']}"
    connection = getattr(client.connection_pool, "connection_class", type(None)).__name__
    scheme = "rediss" if "SSL" in connection else "redis"
    host = kwargs.get("host", "localhost")
    return f"{scheme}://{auth}{host}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"


def _seconds(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if not is_number(value) or value <= 0:
        raise ConfigError(
            f"{name} must be a positive number of seconds or a timedelta, got {value!r:.40}"
        )
    return float(value)


def _encode(session_id: str, text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise SessionError(
            f"cannot write session {session_id!r:.60}: a turn or the policy holds text UTF-8 "
            "cannot "
            f"encode ({exc.reason} at position {exc.start}); nothing was written"
        ) from None


def _text(raw: Any) -> str:
    return raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)


def _corrupt(session_id: str, url: str, fault: str) -> SessionError:
    return SessionError(
        f"session {session_id!r:.60} in Redis at {url} is corrupt: {fault}. It was left untouched: "
        "repair it, or reset the session to start it afresh"
    )
