"""Servers sharing one database (docs/ha.md): a second home without admin.token keeps the first
server's admin token and says what to do; `conveyor account reset-admin-token` replaces it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from structlog.testing import capture_logs
from typer.testing import CliRunner

from conveyor.api.auth import ensure_admin_token
from conveyor.api.discovery import ADMIN_TOKEN_FILE, read_admin_token
from conveyor.cli.main import app as cli
from conveyor.settings import Settings
from conveyor.store import TokenStore, open_database


async def test_a_second_home_keeps_the_shared_admin_token_and_says_what_to_do(
    tmp_path: Path,
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    second.mkdir()
    settings = Settings.from_env(home=first)
    async with await open_database(settings) as db:
        tokens = TokenStore(db)
        assert await ensure_admin_token(tokens, first, shared=True)
        token = read_admin_token(first)
        assert token is not None

        with capture_logs() as logs:
            assert not await ensure_admin_token(tokens, second, shared=True)
        assert (await tokens.verify(token)) is not None  # the first server's still works
        assert not (second / ADMIN_TOKEN_FILE).exists()
        warning = next(e for e in logs if e["log_level"] == "warning")["event"]
        assert f"{second / ADMIN_TOKEN_FILE} does not exist" in warning
        assert "Copy admin.token from the first server's CONVEYOR_HOME" in warning
        assert "conveyor account reset-admin-token" in warning
        assert token not in warning

        (second / ADMIN_TOKEN_FILE).write_text("cvy_not-the-token\n")  # edited: also kept
        with capture_logs() as logs:
            assert not await ensure_admin_token(tokens, second, shared=True)
        assert (await tokens.verify(token)) is not None
        assert any("does not hold the current admin token" in e["event"] for e in logs)

        (second / ADMIN_TOKEN_FILE).write_text(token + "\n")  # copied: valid, nothing said
        with capture_logs() as logs:
            assert await ensure_admin_token(tokens, second, shared=True)
        assert not [e for e in logs if e["log_level"] == "warning"]
        assert read_admin_token(second) == token


async def test_servers_starting_at_once_on_an_empty_database_make_one_admin_token(
    tmp_path: Path,
) -> None:
    homes = [tmp_path / f"home{i}" for i in range(3)]
    for home in homes:
        home.mkdir()
    async with await open_database(Settings.from_env(home=tmp_path / "db")) as db:
        tokens = TokenStore(db)
        valid = await asyncio.gather(*(ensure_admin_token(tokens, h, shared=True) for h in homes))
        written = [read_admin_token(h) for h in homes]
        assert valid.count(True) == 1 and sum(t is not None for t in written) == 1
        token = next(t for t in written if t is not None)
        assert (await tokens.verify(token)) is not None


def test_reset_admin_token_replaces_it_for_every_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    monkeypatch.setenv("CONVEYOR_DATABASE_URL", url)

    async def start(home: Path) -> bool:
        async with await open_database(Settings.from_env(home=home)) as db:
            return await ensure_admin_token(TokenStore(db), home, shared=True)

    assert asyncio.run(start(first))
    old = read_admin_token(first)
    assert not asyncio.run(start(second))

    monkeypatch.setenv("CONVEYOR_HOME", str(second))
    result = CliRunner().invoke(cli, ["account", "reset-admin-token"])
    assert result.exit_code == 0, result.output
    assert "copy this file to the other servers' homes" in result.output
    new = read_admin_token(second)
    assert new is not None and new != old and new not in result.output

    async def check() -> tuple[bool, bool]:
        async with await open_database(Settings.from_env(home=second)) as db:
            tokens = TokenStore(db)
            return (await tokens.verify(new)) is not None, (await tokens.verify(old or "")) is None

    assert asyncio.run(check()) == (True, True)
    assert asyncio.run(start(second))  # the next start of the second server is content
