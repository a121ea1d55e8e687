"""What the Chroma edge relies on in chromadb's private parts: it fails if upstream changes them.

chromadb offers no public way to reopen one path's database (``clear_system_cache()`` resets every
client of the process), so ``neulora.store._chroma.Embedded.reconnect`` drops the path's entry from
``SharedSystemClient._identifier_to_system``, and tells a client's database by its ``_server``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

chromadb = pytest.importorskip("chromadb")


def test_chromadb_keeps_one_database_per_path_in_its_private_table(tmp_path: Path) -> None:
    from chromadb.api import ServerAPI
    from chromadb.api.shared_system_client import SharedSystemClient
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False)
    first = chromadb.PersistentClient(path=str(tmp_path), settings=settings)
    second = chromadb.PersistentClient(path=str(tmp_path), settings=settings)
    table = SharedSystemClient._identifier_to_system
    assert table[str(tmp_path)].instance(ServerAPI) is first._server is second._server
    table.pop(str(tmp_path))
    fresh = chromadb.PersistentClient(path=str(tmp_path), settings=settings)
    assert fresh._server is not first._server  # dropping the entry opens the database again
    assert table[str(tmp_path)].instance(ServerAPI) is fresh._server


def test_the_edge_sees_a_replaced_database_and_reopens_it_once(tmp_path: Path) -> None:
    from neulora.store._chroma import Embedded

    mode = Embedded(tmp_path)
    client = mode.connect()
    assert mode.is_current(client)
    fresh = mode.reconnect(client)
    assert mode.is_current(fresh) and not mode.is_current(client)
    again = mode.reconnect(client)  # a second handle with the same stale client: no second reopen
    assert again._server is fresh._server
