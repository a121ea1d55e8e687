from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import pytest

from .servers import report_dead_servers

pytest_plugins = ["pytester"]

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """A test that fails while one of its servers is dead fails with the server's exit and log instead."""
    return (yield from report_dead_servers(item))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared test data not found at {SHARED_DATA}: the shared/ folder must sit beside the project")
    return SHARED_DATA


@pytest.fixture(scope="session")
def router_file(shared_data: Path) -> Path:
    return shared_data / "router_model.json"
