"""SHA-256 repositories (``git init --object-format=sha256``): 64-digit commits everywhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from source_repos import Upstream, git

from conveyor.artifacts import ArtifactStore
from conveyor.model.revisions import is_commit_sha
from conveyor.source import RepoCache, RevisionNotFoundError


@pytest.fixture
def upstream256(tmp_path: Path) -> Upstream:
    path = tmp_path / "upstream256"
    path.mkdir()
    git(path, "init", "-q", "-b", "main", "--object-format=sha256")
    repo = Upstream(path)
    repo.commit({"apps/guestbook/deploy.yaml": "replicas: 1\n", "README.md": "hi\n"})
    return repo


async def test_a_mirror_resolves_branches_tags_and_short_and_full_shas(
    cache: RepoCache, upstream256: Upstream
) -> None:
    first = upstream256.git("rev-parse", "HEAD")
    upstream256.git("tag", "v1")
    second = upstream256.commit({"apps/guestbook/deploy.yaml": "replicas: 2\n"})
    assert len(second) == 64 and is_commit_sha(second)

    assert await cache.resolve(upstream256.url, "main") == second
    assert await cache.resolve(upstream256.url, "HEAD") == second
    assert await cache.resolve(upstream256.url, "v1") == first
    assert await cache.resolve(upstream256.url, first[:12]) == first
    assert await cache.resolve(upstream256.url, first) == first
    files = await cache.read_tree(upstream256.url, first, "apps/guestbook")
    assert files == {"deploy.yaml": b"replicas: 1\n"}


async def test_a_64_digit_sha_no_branch_holds_is_fetched_by_sha(
    cache: RepoCache, upstream256: Upstream
) -> None:
    await cache.fetch(upstream256.url)
    upstream256.git("checkout", "-q", "-b", "scratch")
    orphan = upstream256.commit({"a": "1"})
    upstream256.git("checkout", "-q", "main")
    upstream256.git("branch", "-q", "-D", "scratch")

    assert await cache.resolve(upstream256.url, orphan) == orphan
    with pytest.raises(RevisionNotFoundError, match="the remote does not have it either"):
        await cache.resolve(upstream256.url, "0" * 64)


async def test_an_artifact_of_a_sha256_repository_is_tagged_with_its_64_digit_sha(
    tmp_path: Path, upstream256: Upstream
) -> None:
    sha = upstream256.git("rev-parse", "HEAD")
    store = ArtifactStore(tmp_path / "artifacts")

    local = await store.build("app", source=upstream256.url)
    cloned = await store.build("app", source=upstream256.path.resolve().as_uri(), tag="v1")

    assert local.tag == local.revision == sha
    assert cloned.revision == sha
    for artifact in (local, cloned):
        assert (artifact.source_dir / "README.md").read_text() == "hi\n"
    assert store.resolve(f"app:{sha}") == local
