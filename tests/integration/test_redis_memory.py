"""RedisMemory on a real redis-server.

The in-process memory's behaviour, shared by processes and pipelines.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from neulora import ConfigError, GenerationError, InvalidInputError, Passage, SessionError
from neulora.embedders import HashingEmbedder
from neulora.memory import InMemoryMemory, Memory, RedisMemory, Session, Turn
from neulora.pipeline import Pipeline
from neulora.testing import FakeRetriever, FakeRouter, FakeStyleClient

from ..servers import ManagedServer, background_server, free_port, require_system

PASSWORD = f"secret-{uuid.uuid4().hex[:12]}"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedServer]:
    """A real redis-server on a free loopback port, with a password, nothing saved to disk."""
    binary = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    require_system("redis-server", binary is not None)
    assert binary is not None
    port = free_port()
    data = tmp_path_factory.mktemp("redis")
    argv = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(data),
        "--requirepass",
        PASSWORD,
    ]
    with background_server(
        argv, port, log=data / "redis.log", timeout=30, name="redis-server"
    ) as server:
        yield server


@pytest.fixture
def url(redis_server: ManagedServer) -> Iterator[str]:
    """The server's URL (password included), its database emptied before each test."""
    address = f"redis://:{PASSWORD}@127.0.0.1:{redis_server.port}/0"
    with redis.Redis.from_url(address) as client:
        client.flushdb()
    yield address


@pytest.fixture
def raw(url: str) -> Iterator[redis.Redis]:
    """A plain client, to look at (and spoil) what RedisMemory stored."""
    with redis.Redis.from_url(url) as client:
        yield client


def session_keys(raw: redis.Redis) -> dict[str, Any]:
    """The keys of the (only) session stored, by Redis type."""
    return {raw.type(key).decode(): key for key in raw.keys("*")}  # type: ignore[union-attr]


def chain_text(err: BaseException) -> str:
    return (
        "".join(traceback.format_exception(err))
        + repr(err)
        + "".join(repr(e) for e in iter_chain(err))
    )


def iter_chain(err: BaseException | None) -> Iterator[BaseException]:
    while err is not None:
        yield err
        err = err.__cause__ or err.__context__


def assert_no_password(err: BaseException) -> None:
    text = chain_text(err)
    assert PASSWORD not in text and "secret" not in text, text


# -- the same behaviour as the in-process memory
# ---------------------------------------------------------------
def scenario(memory: Memory) -> list[Session]:
    seen = [memory.get("unknown")]
    for i in range(5):
        seen.append(
            memory.append(
                "learner/1", Turn(f"질문 {i} 🙂", f"answer {i}", "socratic" if i % 2 else "direct")
            )
        )
    memory.set_policy("learner/1", "기초 부족 -> 선수 개념부터 단계적 설명")
    seen.append(memory.get("learner/1"))
    memory.set_policy("learner/1", None)
    seen.append(memory.get("learner/1"))
    memory.set_policy("policy only", "short answers")
    seen.append(memory.get("policy only"))
    memory.reset("learner/1")
    memory.reset("never seen")
    seen += [
        memory.get("learner/1"),
        memory.append("learner/1", Turn("again", "a", "direct")),
        memory.get("unknown"),
    ]
    bad_ids: list[Any] = ["", "  ", 3, "x" * 201, "lone \udc80 surrogate"]
    for bad in bad_ids:
        with pytest.raises(InvalidInputError):
            memory.get(bad)
    return seen


def test_redis_memory_behaves_like_the_in_process_memory(url: str) -> None:
    expected = scenario(InMemoryMemory(max_turns=3))
    assert expected[5].total_turns == 5 and [t.question for t in expected[5].turns] == [
        "질문 2 🙂",
        "질문 3 🙂",
        "질문 4 🙂",
    ]
    assert scenario(RedisMemory.from_url(url, max_turns=3)) == expected


def test_replicas_with_their_own_prefix_do_not_share_sessions(url: str) -> None:
    RedisMemory.from_url(url, prefix="app-a:").append("learner", Turn("q", "a", "direct"))
    assert RedisMemory.from_url(url, prefix="app-b:").get("learner") == Session()
    assert RedisMemory.from_url(url, prefix="app-a:").get("learner").total_turns == 1


# -- time to live
# ----------------------------------------------------------------------------------------------
def test_every_write_refreshes_the_ttl_of_every_key_of_the_session(
    url: str, raw: redis.Redis
) -> None:
    memory = RedisMemory.from_url(url, ttl=timedelta(seconds=100))
    memory.append("learner", Turn("q", "a", "direct"))
    keys = session_keys(raw)
    assert set(keys) == {"list", "hash"}
    for key in keys.values():
        raw.pexpire(key, 5_000)  # as if the session had been idle for 95 s
    memory.set_policy("learner", "step by step")
    assert all(95_000 < raw.pttl(key) <= 100_000 for key in keys.values())
    for key in keys.values():
        raw.pexpire(key, 5_000)
    memory.append("learner", Turn("q2", "a2", "direct"))
    assert all(95_000 < raw.pttl(key) <= 100_000 for key in keys.values())


def test_ttl_none_keeps_sessions_forever(url: str, raw: redis.Redis) -> None:
    memory = RedisMemory.from_url(url, ttl=None)
    memory.append("learner", Turn("q", "a", "direct"))
    memory.set_policy("learner", "p")
    assert [raw.ttl(key) for key in session_keys(raw).values()] == [-1, -1]
    assert "ttl=None" in repr(memory)


@pytest.mark.slow
def test_an_idle_session_expires_after_its_ttl(url: str, raw: redis.Redis) -> None:
    memory = RedisMemory.from_url(url, ttl=1)
    memory.append("learner", Turn("q", "a", "direct"))
    memory.set_policy("learner", "p")
    time.sleep(1.5)
    assert memory.get("learner") == Session() and raw.keys("*") == []


# -- atomicity
# -------------------------------------------------------------------------------------------------
WRITER = textwrap.dedent("""
    import os, sys, time
    from neulora.memory import Turn
    from neulora.memory import RedisMemory
    url, name, go = sys.argv[1], sys.argv[2], sys.argv[3]
    memory = RedisMemory.from_url(url, max_turns=50)
    memory.get("shared")  # connected before the race starts
    while not os.path.exists(go):
        time.sleep(0.005)
    for i in range(100):
        memory.append("shared", Turn(f"{name} {i}", "answer", "direct"))
""")


@pytest.mark.slow
def test_two_processes_appending_100_turns_each_count_all_200(url: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url, name, str(go)],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("A", "B")
    ]
    time.sleep(0.5)
    go.touch()
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
    session = RedisMemory.from_url(url).get("shared")
    assert session.total_turns == 200 and len(session.turns) == 50
    kept: dict[str, list[int]] = {"A": [], "B": []}
    for turn in session.turns:
        name, i = turn.question.split()
        kept[name].append(int(i))
    # each writer's turns in its order, the newest kept, none lost in between
    for indices in kept.values():
        assert indices == list(range(100 - len(indices), 100))
    assert session.turns[-1].question.endswith(" 99")


class ReplyDroppingProxy:
    """A TCP proxy to Redis that, when told to, closes the connection instead of the next reply."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.drop_next_reply = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._pipe, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, True), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, replies: bool) -> None:
        try:
            while data := source.recv(65536):
                if replies and self.drop_next_reply.is_set():
                    self.drop_next_reply.clear()
                    break
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


def test_an_append_retried_after_its_reply_was_lost_is_counted_once(
    redis_server: ManagedServer, url: str
) -> None:
    proxy = ReplyDroppingProxy(redis_server.port)
    try:
        memory = RedisMemory.from_url(url.replace(f":{redis_server.port}/", f":{proxy.port}/"))
        memory.append("learner", Turn("q0", "a0", "direct"))  # connected, script loaded
        proxy.drop_next_reply.set()
        # Redis ran it; the client retried
        session = memory.append("learner", Turn("q1", "a1", "direct"))
        assert not proxy.drop_next_reply.is_set()
        assert session.total_turns == 2 and [t.question for t in session.turns] == ["q0", "q1"]
        assert RedisMemory.from_url(url).get("learner") == session
    finally:
        proxy.listener.close()


# -- with a Pipeline
# -------------------------------------------------------------------------------------------
def pipeline(memory: RedisMemory, client: FakeStyleClient) -> Pipeline:
    embedder = HashingEmbedder(dim=64)
    passages = [Passage("로그함수는 지수함수의 역함수이다.", 0.82, "/notes/log.md", None, "p1", {})]
    return Pipeline(FakeRouter(embedder), FakeRetriever(embedder, passages), client, memory=memory)


def test_a_failed_generation_leaves_the_redis_session_untouched(url: str, raw: redis.Redis) -> None:
    memory = RedisMemory.from_url(url)
    client = FakeStyleClient()
    tutor = pipeline(memory, client)
    tutor.ask("로그함수가 뭐예요?", session_id="learner")
    stored = {
        key: raw.lrange(key, 0, -1) if kind == "list" else raw.hgetall(key)
        for kind, key in session_keys(raw).items()
    }
    before = memory.get("learner")
    client.enqueue(GenerationError("x"))
    with pytest.raises(GenerationError):
        tutor.ask("그럼 지수함수는요?", session_id="learner")
    assert memory.get("learner") == before and before.total_turns == 1
    assert {
        key: raw.lrange(key, 0, -1) if kind == "list" else raw.hgetall(key)
        for kind, key in session_keys(raw).items()
    } == stored


def test_two_pipelines_on_one_redis_continue_one_learners_session(url: str) -> None:
    first_client = FakeStyleClient()
    second_client = FakeStyleClient()
    first = pipeline(RedisMemory.from_url(url), first_client)
    second = pipeline(RedisMemory.from_url(url), second_client)
    first_client.enqueue("로그는 지수의 역연산이에요.")
    first.ask("로그함수가 뭐예요?", session_id="learner-7")
    second.ask("그럼 지수함수는요?", session_id="learner-7")
    messages = second_client.history[0][1]
    assert {"role": "user", "content": "로그함수가 뭐예요?"} in messages
    assert {"role": "assistant", "content": "로그는 지수의 역연산이에요."} in messages
    assert first.memory.get("learner-7").total_turns == 2


# -- failures: SessionError, quickly, without the password
# -----------------------------------------------------
def test_redis_down_raises_session_error_quickly_without_the_password() -> None:
    memory = RedisMemory.from_url(f"redis://:secret@127.0.0.1:{free_port()}/0")
    started = time.monotonic()
    with pytest.raises(
        SessionError, match=r"cannot reach Redis at redis://:\*\*\*@127\.0\.0\.1:\d+/0"
    ) as err:
        memory.append("learner", Turn("q", "a", "direct"))
    assert time.monotonic() - started < 5
    assert_no_password(err.value)
    assert "secret" not in repr(memory) and ":***@" in repr(memory)


def test_a_server_that_never_answers_times_out_as_session_error() -> None:
    # connections queue; nothing ever replies
    with socket.create_server(("127.0.0.1", 0)) as silent:
        memory = RedisMemory.from_url(
            f"redis://:secret@127.0.0.1:{silent.getsockname()[1]}/0", timeout=0.2
        )
        started = time.monotonic()
        with pytest.raises(SessionError, match="Timeout") as err:
            memory.get("learner")
    assert time.monotonic() - started < 5
    assert_no_password(err.value)


def test_a_wrong_password_raises_session_error_without_either_password(
    redis_server: ManagedServer,
) -> None:
    memory = RedisMemory.from_url(f"redis://:secret-but-wrong@127.0.0.1:{redis_server.port}/0")
    with pytest.raises(SessionError, match="password") as err:
        memory.get("learner")
    assert_no_password(err.value)


def test_a_key_of_the_wrong_type_raises_and_the_append_writes_nothing(
    url: str, raw: redis.Redis
) -> None:
    memory = RedisMemory.from_url(url)
    memory.append("learner", Turn("q", "a", "direct"))
    keys = session_keys(raw)
    raw.delete(keys["list"])
    raw.set(keys["list"], "not a list")
    before = raw.hgetall(keys["hash"])
    with pytest.raises(SessionError, match=r"corrupt: key .* holds a string, not a list") as err:
        memory.append("learner", Turn("q2", "a2", "direct"))
    assert raw.hgetall(keys["hash"]) == before and raw.get(keys["list"]) == b"not a list"
    assert_no_password(err.value)
    with pytest.raises(SessionError, match="reset the session"):
        memory.get("learner")
    memory.reset("learner")  # reset repairs it
    assert memory.append("learner", Turn("q3", "a3", "direct")).total_turns == 1


@pytest.mark.parametrize("spoil", [b"{not json", b"\xff\xfe", b'{"question": "q"}', b"[1, 2]"])
def test_a_corrupted_stored_turn_raises_session_error(
    url: str, raw: redis.Redis, spoil: bytes
) -> None:
    memory = RedisMemory.from_url(url)
    memory.append("learner", Turn("q", "a", "direct"))
    raw.rpush(session_keys(raw)["list"], spoil)
    with pytest.raises(SessionError, match="is corrupt") as err:
        memory.get("learner")
    assert_no_password(err.value)


def test_a_corrupted_total_raises_and_the_append_writes_nothing(url: str, raw: redis.Redis) -> None:
    memory = RedisMemory.from_url(url)
    memory.append("learner", Turn("q", "a", "direct"))
    keys = session_keys(raw)
    raw.hset(keys["hash"], "total", "many")
    with pytest.raises(SessionError, match=r"total .* is not a number"):
        memory.append("learner", Turn("q2", "a2", "direct"))
    assert raw.llen(keys["list"]) == 1


# -- configuration
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"max_turns": 0}, "max_turns"),
        ({"max_turns": True}, "max_turns"),
        ({"max_turns": 2.5}, "max_turns"),
        ({"ttl": 0}, "ttl"),
        ({"ttl": -1}, "ttl"),
        ({"ttl": "1d"}, "ttl"),
        ({"ttl": float("inf")}, "ttl"),
        ({"ttl": timedelta(0)}, "ttl"),
        ({"prefix": 3}, "prefix"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": None}, "timeout"),
        ({"timeout": "5"}, "timeout"),
    ],
)
def test_bad_options_raise_config_error_naming_the_option(
    options: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        RedisMemory.from_url("redis://:secret@127.0.0.1:1/0", **options)


@pytest.mark.parametrize(
    "bad", ["http://:secret@127.0.0.1:6379/0", "127.0.0.1:6379", "redis://:secret@host:port/0"]
)
def test_a_bad_url_raises_config_error_without_the_password(bad: str) -> None:
    with pytest.raises(ConfigError, match="URL") as err:
        RedisMemory.from_url(bad)
    assert "secret" not in chain_text(err.value)


def test_the_constructor_takes_a_client_does_no_io_and_shows_no_password() -> None:
    client = redis.Redis(
        host="127.0.0.1", port=free_port(), username="tutor", password="secret", db=2
    )
    memory = RedisMemory(client, max_turns=10, ttl=timedelta(hours=1), prefix="tutor:")
    assert repr(memory) == (
        f"RedisMemory('redis://tutor:***@127.0.0.1:{client.connection_pool.connection_kwargs['port']}"
        "/2', prefix='tutor:', max_turns=10, ttl=3600s)"
    )
    with pytest.raises(ConfigError, match="client"):
        RedisMemory("redis://127.0.0.1:6379")  # type: ignore[arg-type]


def test_a_client_that_decodes_responses_works_the_same(url: str) -> None:
    memory = RedisMemory(redis.Redis.from_url(url, decode_responses=True), max_turns=2)
    memory.set_policy("learner", "단계적으로")
    for i in range(3):
        memory.append("learner", Turn(f"질문 {i}", "답", "direct"))
    assert (
        memory.get("learner")
        == RedisMemory.from_url(url, max_turns=2).get("learner")
        == Session(
            turns=(Turn("질문 1", "답", "direct"), Turn("질문 2", "답", "direct")),
            policy="단계적으로",
            total_turns=3,
        )
    )


def test_importing_neulora_does_not_import_redis() -> None:
    code = (
        "import sys, neulora, neulora.memory; assert 'redis' not in sys.modules, 'redis imported'"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def test_a_turn_whose_append_failed_while_redis_was_frozen_never_appears_afterwards(
    redis_server: ManagedServer, url: str
) -> None:
    import os
    import signal
    import time

    memory = RedisMemory.from_url(url, timeout=0.5)
    # the server's clock is known from here on
    memory.append("frozen", Turn("before", "kept", "direct"))
    os.kill(redis_server.proc.pid, signal.SIGSTOP)
    try:
        with pytest.raises(SessionError):
            memory.append("frozen", Turn("during", "the caller was told this failed", "socratic"))
    finally:
        os.kill(redis_server.proc.pid, signal.SIGCONT)
    # the queued appends (the first try and redis-py's retries) run now, and are refused
    time.sleep(0.5)
    held = memory.get("frozen")
    assert [t.question for t in held.turns] == ["before"] and held.total_turns == 1
    memory.append("frozen", Turn("after", "the retry", "socratic"))
    assert [t.question for t in memory.get("frozen").turns] == ["before", "after"]
