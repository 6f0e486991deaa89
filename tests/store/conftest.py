"""The store tests run on both backends: SQLite (always) and PostgreSQL (when installed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.settings import Settings
from support.postgres import PostgresServer, find_bindir, running_postgres


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = find_bindir()
    if bindir is None:
        pytest.skip(
            "PostgreSQL binaries not found (apt-get install postgresql; .ci/run installs them)"
        )
    with running_postgres(bindir) as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Settings:
    if backend == "sqlite":
        return Settings.from_env(home=tmp_path)
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return Settings(home=tmp_path, database_url=server.create_database())
