"""Reading an app's path at a commit: history, symlinks, confinement, export."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
from source_repos import Upstream

from conveyor.source import (
    InvalidSourceError,
    PathNotFoundError,
    RepoCache,
    RevisionNotFoundError,
    TreeLimits,
    TreeTooLargeError,
    UnsafeTreeError,
)


async def head(cache: RepoCache, upstream: Upstream) -> str:
    await cache.fetch(upstream.url)
    return await cache.resolve(upstream.url, "main")


async def test_reads_the_path_at_an_old_sha_after_the_branch_moved(
    cache: RepoCache, upstream: Upstream
) -> None:
    old = await head(cache, upstream)
    upstream.commit(
        {"apps/guestbook/deploy.yaml": "replicas: 3\n", "apps/guestbook/svc.yaml": "port: 80\n"}
    )
    new = await head(cache, upstream)

    assert await cache.read_tree(upstream.url, old, "apps/guestbook") == {
        "deploy.yaml": b"replicas: 1\n"
    }
    assert await cache.read_tree(upstream.url, new, "./apps/guestbook/") == {
        "deploy.yaml": b"replicas: 3\n",
        "svc.yaml": b"port: 80\n",
    }


async def test_reads_the_whole_repository_at_the_root(cache: RepoCache, upstream: Upstream) -> None:
    sha = await head(cache, upstream)
    assert sorted(await cache.read_tree(upstream.url, sha, ".")) == [
        "README.md",
        "apps/guestbook/deploy.yaml",
    ]


async def test_missing_path_says_so(cache: RepoCache, upstream: Upstream) -> None:
    sha = await head(cache, upstream)
    with pytest.raises(PathNotFoundError, match=r"'apps/nope' does not exist at commit"):
        await cache.read_tree(upstream.url, sha, "apps/nope")
    with pytest.raises(PathNotFoundError, match="is a file"):
        await cache.read_tree(upstream.url, sha, "README.md")


async def test_path_added_later_is_missing_at_the_old_sha(
    cache: RepoCache, upstream: Upstream
) -> None:
    old = await head(cache, upstream)
    upstream.commit({"apps/new/a.yaml": "a: 1\n"})
    await cache.fetch(upstream.url)
    with pytest.raises(PathNotFoundError):
        await cache.read_tree(upstream.url, old, "apps/new")


async def test_unknown_commit_and_unfetched_repo(
    cache: RepoCache, upstream: Upstream, tmp_path: Path
) -> None:
    with pytest.raises(RevisionNotFoundError, match="has not been fetched"):
        await cache.read_tree(upstream.url, "a" * 40, ".")
    await cache.fetch(upstream.url)
    with pytest.raises(RevisionNotFoundError, match="is not in the mirror"):
        await cache.read_tree(upstream.url, "a" * 40, ".")
    with pytest.raises(InvalidSourceError, match="not a full commit SHA"):
        await cache.read_tree(upstream.url, "main", ".")


@pytest.mark.parametrize(
    ("path", "says"),
    [("../upstream", "'..'"), ("apps/../..", "'..'"), ("/etc", "absolute")],
    ids=["parent", "climb", "absolute"],
)
async def test_paths_that_leave_the_repo_are_refused(
    cache: RepoCache, upstream: Upstream, path: str, says: str
) -> None:
    sha = await head(cache, upstream)
    with pytest.raises(InvalidSourceError, match=says):
        await cache.read_tree(upstream.url, sha, path)


async def test_symlinks_inside_the_repo_are_replaced_by_their_content(
    cache: RepoCache, upstream: Upstream
) -> None:
    upstream.commit(
        {"shared/common.yaml": "common: true\n", "shared/base/a.yaml": "a: 1\n"},
        links={
            "apps/guestbook/common.yaml": "../../shared/common.yaml",
            "apps/guestbook/base": "../../shared/base",
            "apps/guestbook/again.yaml": "common.yaml",  # a link to a link
            "apps/guestbook/dangling.yaml": "missing.yaml",
            "apps/alias": "guestbook",
        },
    )
    sha = await head(cache, upstream)

    expected = {
        "again.yaml": b"common: true\n",
        "base/a.yaml": b"a: 1\n",
        "common.yaml": b"common: true\n",
        "deploy.yaml": b"replicas: 1\n",
    }
    assert await cache.read_tree(upstream.url, sha, "apps/guestbook") == expected
    assert await cache.read_tree(upstream.url, sha, "apps/alias") == expected  # path via link


@pytest.mark.parametrize(
    ("links", "path", "says"),
    [
        ({"apps/guestbook/passwd": "/etc/passwd"}, "apps/guestbook", "absolute path '/etc/passwd'"),
        ({"apps/guestbook/up": "../../../outside"}, "apps/guestbook", "outside the repository"),
        ({"apps/guestbook/up": "../../.."}, "apps/guestbook", "outside the repository"),
        ({"apps/out": "../.."}, "apps/out/etc", "outside the repository"),
        ({"apps/guestbook/x": "nothing/../../../.."}, "apps/guestbook", "outside the repository"),
        ({"apps/guestbook/self": "."}, "apps/guestbook", "the symlink loops"),
        ({"apps/guestbook/root": "../.."}, "apps/guestbook", "the symlink loops"),
        ({"apps/a/to-b": "../b", "apps/b/to-a": "../a"}, "apps/a", "the symlink loops"),
        ({"apps/l1": "l2", "apps/l2": "l1"}, "apps/l1", "symlink loop"),
    ],
    ids=["absolute", "parent", "dotdot-dir", "path-through-link", "lexical", "self", "ancestor",
         "mutual", "link-cycle"],
)  # fmt: skip
async def test_symlinks_that_leave_the_repo_or_loop_are_refused(
    cache: RepoCache, upstream: Upstream, links: dict[str, str], path: str, says: str
) -> None:
    upstream.commit(links=links)
    sha = await head(cache, upstream)
    with pytest.raises(UnsafeTreeError, match=says) as caught:
        await cache.read_tree(upstream.url, sha, path)
    assert caught.value.obj == upstream.url


async def test_an_escaping_symlink_elsewhere_in_the_repo_does_not_matter(
    cache: RepoCache, upstream: Upstream
) -> None:
    upstream.commit(links={"other/passwd": "/etc/passwd"})
    sha = await head(cache, upstream)
    assert await cache.read_tree(upstream.url, sha, "apps/guestbook") == {
        "deploy.yaml": b"replicas: 1\n"
    }


async def test_limits_bound_what_one_read_loads(tmp_path: Path, upstream: Upstream) -> None:
    upstream.commit({"apps/guestbook/big.yaml": "x" * 1000})
    cache = RepoCache(tmp_path / "m", limits=TreeLimits(max_files=5, max_bytes=500))
    sha = await head(cache, upstream)
    with pytest.raises(TreeTooLargeError, match="500 bytes"):
        await cache.read_tree(upstream.url, sha, "apps/guestbook")
    cache = RepoCache(tmp_path / "m", limits=TreeLimits(max_files=1))
    with pytest.raises(TreeTooLargeError, match="more than 1 files"):
        await cache.read_tree(upstream.url, sha, "apps/guestbook")


async def test_export_writes_plain_files(
    cache: RepoCache, upstream: Upstream, tmp_path: Path
) -> None:
    (upstream.path / "apps/guestbook/hook.sh").write_text("#!/bin/sh\n")
    os.chmod(upstream.path / "apps/guestbook/hook.sh", 0o755)
    upstream.commit(
        {"shared/c.yaml": "c: 1\n"}, links={"apps/guestbook/c.yaml": "../../shared/c.yaml"}
    )
    sha = await head(cache, upstream)

    dest = await cache.export(upstream.url, sha, "apps/guestbook", tmp_path / "out" / "app")

    assert sorted(p.name for p in dest.iterdir()) == ["c.yaml", "deploy.yaml", "hook.sh"]
    assert not (dest / "c.yaml").is_symlink()
    assert (dest / "c.yaml").read_text() == "c: 1\n"
    assert (dest / "hook.sh").stat().st_mode & stat.S_IXUSR
    assert not (dest / "deploy.yaml").stat().st_mode & stat.S_IXUSR
    with pytest.raises(FileExistsError, match="not an empty directory"):
        await cache.export(upstream.url, sha, "apps/guestbook", dest)


@pytest.mark.parametrize("name", ["..", ".git", ".GIT"], ids=["dotdot", "dot-git", "upper"])
async def test_crafted_tree_entries_are_refused(
    cache: RepoCache, upstream: Upstream, name: str
) -> None:
    blob = upstream.git("hash-object", "-w", "--", "README.md")
    inner = _mktree(upstream, f"100644 blob {blob}\t{name}\n")
    root = _mktree(upstream, f"040000 tree {inner}\tevil\n")
    commit = upstream.git("commit-tree", root, "-m", "crafted")
    upstream.git("update-ref", "refs/heads/evil", commit)
    await cache.fetch(upstream.url)
    sha = await cache.resolve(upstream.url, "evil")

    with pytest.raises(UnsafeTreeError, match="git itself refuses to check out"):
        await cache.read_tree(upstream.url, sha, "evil")


def _mktree(upstream: Upstream, listing: str) -> str:
    return subprocess.run(
        ["git", "mktree"], cwd=upstream.path, input=listing, text=True, check=True,
        capture_output=True,
    ).stdout.strip()  # fmt: skip
