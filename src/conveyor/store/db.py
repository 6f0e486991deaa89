"""Opening the store: parse the URL, migrate the schema to head, hand out an async engine.

Every process that touches the store goes through ``open_database``, so the schema is always
current before the first query (migrating an up-to-date database is a no-op) and SQLite gets
the same pragmas everywhere: WAL so that readers never block the writer, a busy timeout so
that two Conveyor processes wait for each other instead of failing, and foreign keys on.
Alembic is synchronous; it runs in a worker thread so that the event loop never blocks.
A bad or unreachable URL becomes one ConveyorError that names the URL, password masked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import URL, Engine, create_engine, event, make_url, pool
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from conveyor.errors import ConveyorError, TemporaryError, ValidationError
from conveyor.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30000

# Drivers the engine runs on: async for the application, sync for Alembic.
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "postgresql+psycopg2": "postgresql+psycopg",
}
_SYNC_DRIVERS = {
    "sqlite+aiosqlite": "sqlite+pysqlite",
    "postgresql+psycopg_async": "postgresql+psycopg",
    "postgresql+asyncpg": "postgresql+psycopg",
}
_URL_PASSWORD = re.compile(r"(://[^:/@]*:)[^@]*@")
# The write turn of each SQLite file, per event loop (a lock belongs to one loop).
_WRITE_TURNS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)
_WRITE_TURNS_KEPT: dict[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = {}


def dumps_json(value: Any) -> str:
    """Canonical JSON: compact, keys sorted, so the same object always gives the same text.

    Dates and datetimes (which YAML produces for unquoted timestamps) become ISO 8601 strings.
    """
    return json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_json_default,
    )


def _json_default(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def mask_url(url: str | URL) -> str:
    """The URL with its password replaced by ``***``, safe for messages and logs."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    return _URL_PASSWORD.sub(r"\1***@", url)


@dataclass(frozen=True, eq=False)
class Database:
    """An open store: the async engine and a session factory on it."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    url: str
    """The database URL with its password masked."""

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        """Hold this process's turn to write (SQLite), around a whole transaction.

        SQLite has one writer. Two Databases of one process on the same file (the engine's
        store and the runtime's journal) would otherwise meet in SQLite's busy handler,
        which sleeps up to 100 ms between tries while the other side writes again and
        again; queueing in the process instead hands the file over at once. PostgreSQL
        needs no turn.
        """
        if self.dialect != "sqlite":
            yield
            return
        loop = asyncio.get_running_loop()
        try:
            turns = _WRITE_TURNS.setdefault(loop, {})
        except TypeError:  # a loop that takes no weak reference: keep it (one per loop)
            turns = _WRITE_TURNS_KEPT.setdefault(loop, {})
        async with turns.setdefault(self.url, asyncio.Lock()):
            yield

    async def close(self) -> None:
        """Close every pooled connection; the Database must not be used afterwards."""
        await self.engine.dispose()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def open_database(settings: Settings) -> Database:
    """Migrate the database at ``settings.database_url`` to head and open it.

    Raises ValidationError for a malformed or unsupported URL and TemporaryError when the
    database cannot be reached; both name the URL with its password masked.
    """
    url = _parse(settings.database_url)
    async_url = url.set(drivername=_ASYNC_DRIVERS.get(url.drivername, url.drivername))
    sync_url = async_url.set(
        drivername=_SYNC_DRIVERS.get(async_url.drivername, async_url.drivername)
    )
    masked = mask_url(async_url)
    await asyncio.to_thread(_migrate, sync_url, masked)
    if url.get_backend_name() == "sqlite" and url.database:
        await asyncio.to_thread(_private_files, Path(url.database))
    options: dict[str, Any] = {"json_serializer": dumps_json, "json_deserializer": json.loads}
    if async_url.get_backend_name() != "sqlite":
        options["pool_pre_ping"] = True
    try:
        engine = create_async_engine(async_url, **options)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise ValidationError(
            f"cannot use this database URL with asyncio: {exc}", obj=masked
        ) from exc
    if engine.dialect.name == "sqlite":
        _use_sqlite_pragmas(engine.sync_engine)
    return Database(
        engine=engine, sessions=async_sessionmaker(engine, expire_on_commit=False), url=masked
    )


def _private_files(database: Path) -> None:
    """The SQLite file and its journals, 0600: they hold live Secret data and token hashes.

    Done once SQLite has created the file: creating it empty beforehand would let another
    process (a CLI, a test) take the empty file for a database of its own while the server
    migrates it. Until then the file holds no data, and ``CONVEYOR_HOME`` itself is 0700.
    """
    for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        with contextlib.suppress(FileNotFoundError, PermissionError):
            os.chmod(path, 0o600)


def _parse(raw: str) -> URL:
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError) as exc:
        raise ValidationError(
            "malformed database URL; expected e.g. sqlite+aiosqlite:////path/conveyor.db "
            "or postgresql+psycopg://user:password@host:5432/conveyor",
            obj=mask_url(raw),
        ) from exc
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        raise ValidationError(
            "an in-memory SQLite database cannot be shared between connections; "
            "name a file, e.g. sqlite+aiosqlite:////path/conveyor.db",
            obj=mask_url(url),
        )
    return url


def _migrate(sync_url: URL, masked: str) -> None:
    """``alembic upgrade head`` on ``sync_url`` (blocking: run it in a thread)."""
    try:
        engine = create_engine(sync_url, poolclass=pool.NullPool)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise ValidationError(f"unsupported database URL: {exc}", obj=masked) from exc
    if engine.dialect.name == "sqlite":
        _use_sqlite_pragmas(engine)
    try:
        try:
            connection = engine.connect()
        except DBAPIError as exc:
            hint = (
                "check that its directory exists and is writable"
                if engine.dialect.name == "sqlite"
                else "check that the server is running and the URL is right"
            )
            raise TemporaryError(
                f"cannot connect to the database: {_reason(exc, sync_url)}; {hint} "
                "(CONVEYOR_DATABASE_URL chooses the database)",
                obj=masked,
            ) from exc
        with connection, connection.begin():
            config = _alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except ConveyorError:
        raise
    except SQLAlchemyError as exc:
        raise ConveyorError(
            f"migrating the database failed: {_reason(exc, sync_url)}", obj=masked
        ) from exc
    finally:
        engine.dispose()


def _alembic_config() -> Config:
    config = Config()
    # Config options go through ConfigParser interpolation: escape any '%'.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    return config


def _reason(exc: SQLAlchemyError, url: URL) -> str:
    """The driver's message, first line only, without the password should it echo it."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip().splitlines()
    reason = text[0] if text else type(exc).__name__
    if url.password:
        password = re.escape(str(url.password))
        reason = re.sub(rf"(?<!\w){password}(?!\w)", "***", reason)
    return reason


def _use_sqlite_pragmas(engine: Engine) -> None:
    """WAL, a busy timeout and foreign keys on every new SQLite connection, and
    ``BEGIN IMMEDIATE`` for every transaction.

    In WAL mode a transaction that reads and then writes fails at once with "database is
    locked" when another connection wrote in between (its snapshot is stale; the busy
    timeout does not apply). Taking the write lock at BEGIN makes such transactions wait
    their turn instead. Transactions here are short, so serializing them costs little.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver's own BEGIN is replaced below
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a crash of Conveyor loses nothing; only a power cut can lose the
            # last commits (never corrupts). FULL would fsync every commit (ms each).
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
