from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared test data not found at {SHARED_DATA}: the shared/ folder must sit beside the project")
    return SHARED_DATA


@pytest.fixture(scope="session")
def router_file(shared_data: Path) -> Path:
    return shared_data / "router_model.json"
