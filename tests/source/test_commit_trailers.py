"""The mirror reads a commit's Conveyor trailers: how the engine learns the app commit."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from conveyor.model.trailers import AppCommit, app_commit
from conveyor.source import InvalidSourceError, RepoCache
from engine.engine_helpers import ConfigRepo

pytestmark = pytest.mark.processes  # real git


async def test_trailers_of_a_written_back_commit(tmp_path: Path) -> None:
    repo = ConfigRepo(tmp_path / "cfg")
    repo.write_text("a.txt", "1\n")
    plain = repo.commit("a person's commit\n\nSigned-off-by: Alice <a@example.com>\n")
    repo.write_text("a.txt", "2\n")
    written = repo.commit(
        "chore(ci): tag\n\nbody text: not a trailer\n\n"
        f"Conveyor-App-Commit: {'b' * 40}\n"
        "Conveyor-App-Commit-Date: 2026-12-05T10:00:00+01:00\n"
        "Conveyor-Run: 42\n"
    )
    cache = RepoCache(tmp_path / "mirrors")
    assert await cache.resolve(repo.url, "main") == written

    trailers = await cache.commit_trailers(repo.url, written)

    assert trailers == {
        "Conveyor-App-Commit": "b" * 40,
        "Conveyor-App-Commit-Date": "2026-12-05T10:00:00+01:00",
        "Conveyor-Run": "42",
    }
    found = app_commit(trailers)
    assert found.sha == "b" * 40 and found.at is not None
    assert found.at.isoformat() == "2026-12-05T09:00:00+00:00"
    assert app_commit(await cache.commit_trailers(repo.url, plain)) == AppCommit()
    with pytest.raises(InvalidSourceError):
        await cache.commit_trailers(repo.url, "main")  # a SHA only: nothing git would parse


async def test_a_commits_trailers_are_read_once_and_a_failed_read_is_not_kept(
    tmp_path: Path,
) -> None:
    repo = ConfigRepo(tmp_path / "cfg")
    repo.write_text("a.txt", "1\n")
    sha = repo.commit(f"chore(ci): tag\n\nConveyor-App-Commit: {'c' * 40}\n")
    cache = RepoCache(tmp_path / "mirrors")
    missing = "d" * 40
    await cache.resolve(repo.url, "main")
    with pytest.raises(Exception, match=missing):
        await cache.commit_trailers(repo.url, missing)  # not in the mirror: an error, each time

    many = await asyncio.gather(*(cache.commit_trailers(repo.url, sha) for _ in range(50)))
    assert all(t == {"Conveyor-App-Commit": "c" * 40} for t in many)
    shutil.rmtree(cache.mirror_path(repo.url))  # the commit cannot change: no git call again
    assert await cache.commit_trailers(repo.url, sha) == {"Conveyor-App-Commit": "c" * 40}
    with pytest.raises(Exception, match=missing):
        await cache.commit_trailers(repo.url, missing)
