"""Fixtures for the source tests: an upstream repository, a cache, and its request log."""

from __future__ import annotations

from pathlib import Path

import pytest
from source_repos import Upstream, git

from conveyor.source import GitRequestLog, RepoCache


@pytest.fixture
def upstream(tmp_path: Path) -> Upstream:
    path = tmp_path / "upstream"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    repo = Upstream(path)
    repo.commit({"apps/guestbook/deploy.yaml": "replicas: 1\n", "README.md": "hi\n"})
    return repo


@pytest.fixture
def requests() -> GitRequestLog:
    return GitRequestLog()


@pytest.fixture
def cache(tmp_path: Path, requests: GitRequestLog) -> RepoCache:
    return RepoCache(tmp_path / "mirrors", on_request=requests, git_timeout=30)
