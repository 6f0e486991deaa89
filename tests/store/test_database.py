"""Opening the store: migrations create the schema once, SQLite is tuned, bad URLs are clear."""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect, text

from conveyor.errors import ConveyorError, TemporaryError, ValidationError
from conveyor.settings import Settings
from conveyor.store import Base, Database, dumps_json, mask_url, open_database


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = await open_database(settings)
    yield db
    await db.close()


def _schema(conn: Connection) -> dict[str, Any]:
    inspector = inspect(conn)
    return {
        "tables": sorted(inspector.get_table_names()),
        "version": conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one(),
        "diff": compare_metadata(MigrationContext.configure(conn), Base.metadata),
    }


async def test_migrations_create_the_tables_the_models_describe(database: Database) -> None:
    async with database.engine.connect() as conn:
        schema = await conn.run_sync(_schema)
    assert {
        "runtime_objects",
        "runtime_ports",
        "applications",
        "operations",
        "history",
        "api_tokens",
        "deployments",
        "notification_config",
        "notification_state",
        "notification_outbox",
        "audit_log",
        "health_events",
        "leases",
        "alembic_version",
    } <= set(schema["tables"])
    assert schema["version"] == "0010_leases"
    assert schema["diff"] == []  # the hand-written migration matches tables.py exactly


async def test_opening_again_migrates_nothing_and_keeps_data(settings: Settings) -> None:
    first = await open_database(settings)
    async with first.engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO runtime_ports (owner, port) VALUES ('a/b/http', 30000)")
        )
    await first.close()

    second = await open_database(settings)
    third = await open_database(settings)
    try:
        async with third.engine.connect() as conn:
            schema = await conn.run_sync(_schema)
            ports = (await conn.execute(text("SELECT owner, port FROM runtime_ports"))).all()
        assert schema["version"] == "0010_leases"
        assert schema["diff"] == []
        assert [tuple(row) for row in ports] == [("a/b/http", 30000)]
    finally:
        await second.close()
        await third.close()


@pytest.mark.skipif(
    bool(os.environ.get("CONVEYOR_DATABASE_URL")), reason="CONVEYOR_DATABASE_URL chooses another"
)
async def test_default_is_a_sqlite_file_under_home(tmp_path: Path) -> None:
    settings = Settings.from_env(home=tmp_path)
    async with await open_database(settings) as db:
        assert db.dialect == "sqlite"
        assert (tmp_path / "conveyor.db").is_file()


async def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(
    database: Database,
) -> None:
    if database.dialect != "sqlite":
        pytest.skip("SQLite pragmas")
    async with database.engine.connect() as conn:
        journal_mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar_one()
        busy_timeout = (await conn.execute(text("PRAGMA busy_timeout"))).scalar_one()
        foreign_keys = (await conn.execute(text("PRAGMA foreign_keys"))).scalar_one()
    assert journal_mode == "wal"
    assert busy_timeout == 30000
    assert foreign_keys == 1


async def test_sessions_work_on_the_engine(database: Database) -> None:
    async with database.sessions() as session:
        assert (await session.execute(text("SELECT 1"))).scalar_one() == 1


@pytest.mark.parametrize(
    "url",
    [
        "this is not a url",
        "postgresql+psycopg://conveyor:s3cret@db.example:notaport/conveyor",
    ],
)
async def test_malformed_url_is_a_validation_error_without_the_password(
    tmp_path: Path, url: str
) -> None:
    with pytest.raises(ValidationError, match="malformed database URL") as info:
        await open_database(Settings(home=tmp_path, database_url=url))
    assert "s3cret" not in str(info.value)


async def test_unknown_driver_is_a_validation_error(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, database_url="nosuchdb://user:s3cret@host/db")
    with pytest.raises(ValidationError) as info:
        await open_database(settings)
    assert "nosuchdb://user:***@host/db" in str(info.value)
    assert "s3cret" not in str(info.value)


async def test_in_memory_sqlite_is_refused(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, database_url="sqlite+aiosqlite:///:memory:")
    with pytest.raises(ValidationError, match="in-memory"):
        await open_database(settings)


async def test_unreachable_postgresql_names_the_url_with_the_password_masked(
    tmp_path: Path,
) -> None:
    url = "postgresql+psycopg://conveyor:s3cret@127.0.0.1:1/conveyor?connect_timeout=5"
    with pytest.raises(TemporaryError, match="cannot connect") as info:
        await open_database(Settings(home=tmp_path, database_url=url))
    message = str(info.value)
    assert "postgresql+psycopg://conveyor:***@127.0.0.1:1/conveyor" in message
    assert "s3cret" not in message


async def test_sqlite_file_in_a_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'dir' / 'conveyor.db'}"
    with pytest.raises(ConveyorError, match="cannot connect") as info:
        await open_database(Settings(home=tmp_path, database_url=url))
    assert "missing/dir/conveyor.db" in str(info.value)


def test_mask_url_hides_only_the_password() -> None:
    assert (
        mask_url("postgresql+psycopg://me:pa%40ss@db:5432/c")
        == "postgresql+psycopg://me:***@db:5432/c"
    )
    assert (
        mask_url("sqlite+aiosqlite:////data/conveyor.db") == "sqlite+aiosqlite:////data/conveyor.db"
    )


def test_json_is_compact_and_deterministic() -> None:
    from datetime import date

    first = dumps_json({"b": [1, {"d": None, "c": "é"}], "a": date(2024, 1, 2)})
    second = dumps_json({"a": date(2024, 1, 2), "b": [1, {"c": "é", "d": None}]})
    assert first == second == '{"a":"2024-01-02","b":[1,{"c":"é","d":null}]}'


async def test_the_sqlite_file_is_private(tmp_path: Path) -> None:
    """It holds live Secret data (the runtime journal) and token hashes."""
    settings = Settings.from_env(home=tmp_path / "home")
    database = await open_database(settings)
    try:
        db_file = settings.home / "conveyor.db"
        assert stat.S_IMODE(db_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(settings.home.stat().st_mode) == 0o700
    finally:
        await database.close()
