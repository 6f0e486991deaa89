"""RepoCache against real repositories: mirrors, fetches, resolution, refusals."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from source_repos import Upstream, git

from conveyor.source import (
    GitError,
    GitRequestLog,
    InvalidSourceError,
    RepoCache,
    RequestKind,
    RevisionNotFoundError,
)


async def test_first_fetch_clones_a_bare_mirror(
    cache: RepoCache, upstream: Upstream, requests: GitRequestLog
) -> None:
    await cache.fetch(upstream.url)

    mirror = cache.mirror_path(upstream.url)
    assert git(mirror, "rev-parse", "--is-bare-repository") == "true"
    assert "-upstream-" in mirror.name  # readable slug, then the hash
    assert [(r.kind, r.ok) for r in requests.requests] == [(RequestKind.FETCH, True)]
    assert [p.name for p in cache.root.iterdir()] == [mirror.name]  # no temp dir left


async def test_resolves_branch_tags_sha_and_head(cache: RepoCache, upstream: Upstream) -> None:
    first = upstream.git("rev-parse", "HEAD")
    upstream.git("tag", "v1")
    upstream.git("tag", "-a", "v1-annotated", "-m", "release")
    upstream.git("checkout", "-q", "-b", "release/2")
    second = upstream.commit({"x.yaml": "x: 1\n"})
    upstream.git("checkout", "-q", "main")

    resolved = {
        rev: await cache.resolve(upstream.url, rev)
        for rev in ("main", "release/2", "v1", "v1-annotated", "refs/heads/main", "HEAD", "",
                    first, first[:8], second[:7])
    }  # fmt: skip

    assert resolved == {
        "main": first, "release/2": second, "v1": first, "v1-annotated": first,
        "refs/heads/main": first, "HEAD": first, "": first,
        first: first, first[:8]: first, second[:7]: second,
    }  # fmt: skip
    assert upstream.git("cat-file", "-t", "v1-annotated") == "tag"  # peeled, not the tag object


async def test_branch_wins_over_tag_of_the_same_name(cache: RepoCache, upstream: Upstream) -> None:
    tagged = upstream.git("rev-parse", "HEAD")
    upstream.git("tag", "stable")
    branch_tip = upstream.commit({"a": "1"})
    upstream.git("branch", "stable")
    upstream.git("reset", "-q", "--hard", tagged)

    assert await cache.resolve(upstream.url, "stable") == branch_tip


async def test_unknown_revision_lists_what_was_tried(cache: RepoCache, upstream: Upstream) -> None:
    with pytest.raises(RevisionNotFoundError) as caught:
        await cache.resolve(upstream.url, "nope")
    assert "tried branch refs/heads/nope, tag refs/tags/nope" in str(caught.value)
    assert caught.value.tried == ("refs/heads/nope", "refs/tags/nope")


async def test_unknown_full_sha_asks_the_remote_then_fails(
    cache: RepoCache, upstream: Upstream
) -> None:
    with pytest.raises(RevisionNotFoundError, match="the remote does not have it either"):
        await cache.resolve(upstream.url, "0" * 40)


async def test_sha_no_branch_holds_is_fetched_by_sha(
    cache: RepoCache, upstream: Upstream, requests: GitRequestLog
) -> None:
    await cache.fetch(upstream.url)
    upstream.git("checkout", "-q", "-b", "scratch")
    orphan = upstream.commit({"a": "1"})
    upstream.git("checkout", "-q", "main")
    upstream.git("branch", "-q", "-D", "scratch")

    assert await cache.resolve(upstream.url, orphan) == orphan
    assert requests.count(RequestKind.FETCH) == 2


async def test_incremental_fetch_sees_new_commits_and_pruned_branches(
    cache: RepoCache, upstream: Upstream
) -> None:
    upstream.git("branch", "old")
    await cache.fetch(upstream.url)
    before = await cache.resolve(upstream.url, "main")
    after = upstream.commit({"apps/guestbook/deploy.yaml": "replicas: 2\n"})
    upstream.git("branch", "-D", "old")

    assert await cache.resolve(upstream.url, "main") == before  # as of the last fetch
    await cache.fetch(upstream.url)
    assert await cache.resolve(upstream.url, "main") == after
    with pytest.raises(RevisionNotFoundError):
        await cache.resolve(upstream.url, "old")


async def test_concurrent_fetches_of_one_repo_run_git_once(
    cache: RepoCache, upstream: Upstream, requests: GitRequestLog
) -> None:
    await cache.fetch(upstream.url)
    upstream.commit({"b": "2"})

    await asyncio.gather(*(cache.fetch(upstream.url) for _ in range(5)))

    assert requests.count(RequestKind.FETCH) == 2  # the clone, then one shared fetch
    await cache.fetch(upstream.url)  # a later call fetches again
    assert requests.count(RequestKind.FETCH) == 3


async def test_spellings_of_one_repo_share_a_mirror_and_a_fetch(
    cache: RepoCache, upstream: Upstream, requests: GitRequestLog
) -> None:
    await asyncio.gather(cache.fetch(upstream.url), cache.fetch(f"file://{upstream.url}/"))
    assert requests.count(RequestKind.FETCH) == 1
    assert len(list(cache.root.iterdir())) == 1


async def test_different_repos_fetch_independently(
    tmp_path: Path, upstream: Upstream, requests: GitRequestLog
) -> None:
    other = Upstream(tmp_path / "other")
    other.path.mkdir()
    git(other.path, "init", "-q", "-b", "main")
    other.commit({"a": "1"})
    cache = RepoCache(tmp_path / "mirrors", on_request=requests, max_parallel_fetches=1)

    await asyncio.gather(cache.fetch(upstream.url), cache.fetch(other.url))

    assert sorted(r.repo for r in requests.requests) == sorted([upstream.url, other.url])
    assert len(list(cache.root.iterdir())) == 2


async def test_ls_remote_lists_refs(
    cache: RepoCache, upstream: Upstream, requests: GitRequestLog
) -> None:
    head = upstream.git("rev-parse", "HEAD")
    upstream.git("tag", "v1")
    refs = await cache.ls_remote(upstream.url)
    assert refs == {"HEAD": head, "refs/heads/main": head, "refs/tags/v1": head}
    assert requests.count(RequestKind.LS_REMOTE) == 1


async def test_fetch_failure_is_reported_masked(cache: RepoCache, requests: GitRequestLog) -> None:
    url = "http://deploy:hunter22@127.0.0.1:9/org/repo.git"  # port 9: nothing listens
    with pytest.raises(GitError) as caught:
        await cache.fetch(url)
    message = str(caught.value)
    assert "hunter22" not in message
    assert "could not fetch" in message
    assert "127.0.0.1:9/org/repo.git" in message
    assert requests.requests[-1].ok is False
    assert "hunter22" not in requests.requests[-1].repo
    assert not list(cache.root.iterdir())  # no half-made mirror


async def test_credentials_never_reach_the_mirror_config(
    cache: RepoCache, upstream: Upstream
) -> None:
    await cache.fetch(upstream.url)
    config = (cache.mirror_path(upstream.url) / "config").read_text()
    assert f"url = {upstream.url}" in config


async def test_command_transports_are_refused_before_git_runs(
    cache: RepoCache, tmp_path: Path, requests: GitRequestLog
) -> None:
    marker = tmp_path / "pwned"
    for url in (f"ext::sh -c touch% {marker}", f"ext::touch%20{marker}", "fd::3"):
        for call in (cache.fetch(url), cache.resolve(url, "main"), cache.ls_remote(url)):
            with pytest.raises(InvalidSourceError, match="transport form runs a helper command"):
                await call
    assert not marker.exists()
    assert requests.requests == []
    assert not cache.root.exists()


@pytest.mark.parametrize(
    "url", ["--upload-pack=touch /tmp/conveyor-pwned", "-uhelp"], ids=["long", "short"]
)
async def test_option_urls_are_refused(cache: RepoCache, url: str) -> None:
    with pytest.raises(InvalidSourceError, match="read as an option"):
        await cache.fetch(url)
    assert not Path("/tmp/conveyor-pwned").exists()


async def test_option_revisions_are_refused(cache: RepoCache, upstream: Upstream) -> None:
    with pytest.raises(InvalidSourceError, match=r"targetRevision.*read as an option"):
        await cache.resolve(upstream.url, "--upload-pack=touch /tmp/conveyor-pwned")
    assert not Path("/tmp/conveyor-pwned").exists()


async def test_a_cancelled_caller_does_not_cancel_the_shared_fetch(
    cache: RepoCache, upstream: Upstream, requests: GitRequestLog
) -> None:
    first = asyncio.create_task(cache.fetch(upstream.url))
    second = asyncio.create_task(cache.fetch(upstream.url))
    await asyncio.sleep(0)  # both have joined the one fetch
    first.cancel()

    await second
    assert first.cancelled()
    assert [(r.kind, r.ok) for r in requests.requests] == [(RequestKind.FETCH, True)]
    assert await cache.resolve(upstream.url, "main") == upstream.git("rev-parse", "HEAD")
