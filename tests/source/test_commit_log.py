"""``commit_log``: the commits a deployment brought, with their times and write-back trailers."""

from __future__ import annotations

from datetime import UTC, datetime

from source_repos import Upstream

from conveyor.source import RepoCache, commit_log


async def test_commits_between_two_revisions(upstream: Upstream, cache: RepoCache) -> None:
    first = upstream.git("rev-parse", "HEAD")
    plain = upstream.commit({"a.yaml": "a: 1\n"}, message="config change")
    written_back = upstream.commit(
        {"a.yaml": "a: 2\n"},
        message="image web -> 9f3c\n\nConveyor-App-Commit: 9f3c1d2e\n"
        "Conveyor-App-Commit-Date: 2026-12-01T08:30:00+00:00",
    )
    await cache.fetch(upstream.url)
    commits = await commit_log(cache, upstream.url, first, written_back)
    assert [c.sha for c in commits] == [written_back, plain]
    assert commits[0].trailers == {
        "Conveyor-App-Commit": "9f3c1d2e",
        "Conveyor-App-Commit-Date": "2026-12-01T08:30:00+00:00",
    }
    assert commits[0].change() == ("9f3c1d2e", datetime(2026, 12, 1, 8, 30, tzinfo=UTC))
    committed = datetime.fromisoformat(upstream.git("log", "-1", "--format=%cI", plain))
    assert commits[1].change() == (plain, committed.astimezone(UTC))

    # no previous revision, or one the mirror lacks: the new commit alone
    assert [c.sha for c in await commit_log(cache, upstream.url, "", plain)] == [plain]
    assert [c.sha for c in await commit_log(cache, upstream.url, "e" * 40, plain)] == [plain]
    # a commit the mirror does not have, or a repository never fetched: nothing
    assert await commit_log(cache, upstream.url, first, "f" * 40) == []
    assert await commit_log(cache, "https://example.invalid/none.git", "", plain) == []
