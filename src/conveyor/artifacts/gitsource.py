"""Safe access to the git source of an artifact: validate it, pin a revision, export a tree.

An artifact is "this source at this commit", so the build needs three things from git: is the
source a repository, which full commit SHA does the revision name, and what files are in the
tree at that commit (never the working tree, which may hold uncommitted edits). Sources and
revisions come from outside, so every argument is validated before git sees it and git runs
through ``conveyor.gitrun``: without a shell, with conveyor.gitsafety's flags and environment
(no prompts, no hooks, no command transports), with time and stall limits, and with
``--end-of-options`` between options and anything a user typed.
"""

from __future__ import annotations

import asyncio
import os
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from conveyor import gitrun
from conveyor.errors import NotFoundError, ValidationError
from conveyor.model.revisions import is_commit_sha, revision_problem
from conveyor.redaction import strip_credentials

URL_SCHEMES = frozenset({"file", "http", "https", "ssh", "git", "git+ssh", "ssh+git"})
"""Schemes git may fetch from; anything else is refused before git sees it."""

GIT_TIMEOUT = 600.0
"""Seconds one git command of a build may take (a clone of a large repository); a stalled
transfer ends much sooner, through ``conveyor.gitrun``'s network limits."""

SKIPPED_NAMES = frozenset({".git", ".venv", "__pycache__"})
"""Left out when a plain directory is copied: VCS data, a local venv, bytecode caches."""

_TRANSPORT = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def validate_source(source: str) -> None:
    """Refuse sources that git would read as an option or as a command transport."""
    if not source.strip():
        raise ValidationError("source is empty: pass a directory, a git repository or a git URL")
    if source.startswith("-"):
        raise ValidationError(
            f"source {source!r} starts with '-', which git would read as an option; "
            "for a local directory whose name starts with '-', write it as ./" + source
        )
    if _CONTROL.search(source):
        raise ValidationError("source contains control characters (newline, tab, ...)")
    transport = _TRANSPORT.match(source)
    if transport:
        raise ValidationError(
            f"source uses the transport {transport.group(0)!r}, which is refused: remote "
            "helpers like ext:: and fd:: run commands; use a path, file://, https:// or ssh:// URL"
        )
    if "://" in source:
        scheme = source.split("://", 1)[0].lower()
        if scheme not in URL_SCHEMES:
            raise ValidationError(
                f"source URL scheme {scheme!r} is not supported; "
                f"use one of {', '.join(sorted(URL_SCHEMES))}"
            )


def validate_revision(revision: str) -> None:
    """Refuse revisions that git would read as an option, or that cannot name a commit.

    The grammar is ``targetRevision``'s (``conveyor.model.revisions``) plus git's ancestry
    suffixes (``HEAD~1``, ``v1^``), which ``rev-parse`` resolves in the clone.
    """
    if not revision:
        raise ValidationError("revision is empty: pass a branch, a tag or a commit SHA")
    problem = revision_problem(revision, ancestry=True)
    if problem is not None:
        raise ValidationError(problem)


def is_remote(source: str) -> bool:
    """Whether git would treat ``source`` as a URL (``scheme://`` or scp-like ``host:path``)."""
    if "://" in source:
        return True
    head, colon, _ = source.partition(":")
    return bool(colon) and bool(head) and "/" not in head


@dataclass(frozen=True)
class GitResult:
    """What a git command said; ``stderr`` is already free of the source's credentials."""

    returncode: int
    stdout: str
    stderr: str


class GitRepo:
    """A local repository (work tree or bare) that git commands run in."""

    def __init__(
        self, path: Path, *, source: str, limits: gitrun.NetworkLimits = gitrun.DEFAULT_LIMITS
    ) -> None:
        self.path = path
        self.source = source
        """How the user named it; credentials are stripped before it appears in a message."""
        self.limits = limits
        """How long a fetch from the source may stall before git gives up."""

    async def run(self, *args: str, ceiling: Path | None = None) -> GitResult:
        """Run ``git -C <repo> <args>`` without a shell; stdin closed, output captured.

        With ``ceiling``, git does not look for the repository above that directory.
        """
        return await run_git(
            "-C", str(self.path), *args, source=self.source, ceiling=ceiling, limits=self.limits
        )

    async def resolve(self, revision: str) -> str:
        """The full SHA of the commit ``revision`` names; NotFoundError naming it if none."""
        validate_revision(revision)
        result = await self.run(
            "rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}"
        )
        sha = result.stdout.strip()
        if result.returncode != 0 or not is_commit_sha(sha):
            raise NotFoundError(
                f"revision {revision!r} does not name a commit in"
                f" {strip_credentials(self.source)}; "
                "check the branch, tag or SHA (for a URL, it must be fetchable from the remote)"
            )
        return sha

    async def export(self, sha: str, tar_path: Path, dest: Path) -> None:
        """Write the tree of commit ``sha`` into ``dest`` (``git archive`` via ``tar_path``)."""
        if not is_commit_sha(sha):
            raise ValidationError(f"{sha!r} is not a full commit SHA")
        archive = ["-C", str(self.path), "archive", "--format=tar", "--end-of-options", sha]
        with tar_path.open("wb") as out:
            result = await gitrun.run_git(archive, timeout=GIT_TIMEOUT, stdout=out)
        if result.returncode != 0:
            message = _clean(result.stderr.decode(errors="replace"), self.source)
            raise ValidationError(f"git archive of {sha} failed: {message}")
        await asyncio.to_thread(extract_tar, tar_path, dest)


async def open_local(path: Path, *, source: str) -> GitRepo | None:
    """The repository whose top (or bare directory) is ``path``; None for a plain directory.

    A directory somewhere inside a repository is not the repository: git is stopped from
    looking upwards, so an untracked folder in someone's home repo stays a plain directory.
    """
    repo = GitRepo(path, source=source)
    result = await repo.run("rev-parse", "--is-bare-repository", ceiling=path.parent)
    return repo if result.returncode == 0 else None


async def clone_bare(
    url: str, dest: Path, *, limits: gitrun.NetworkLimits = gitrun.DEFAULT_LIMITS
) -> GitRepo:
    """A bare clone of ``url`` (all branches and tags) at ``dest``; ValidationError on failure."""
    validate_source(url)
    result = await run_git(
        "clone", "--bare", "--quiet", "--", url, str(dest), source=url, limits=limits
    )
    if result.returncode != 0:
        raise ValidationError(
            f"cannot fetch {strip_credentials(url)}: {result.stderr or 'git clone failed'}"
        )
    return GitRepo(dest, source=url, limits=limits)


async def fetch_revision(repo: GitRepo, revision: str) -> str | None:
    """Fetch one ref or SHA that a clone does not carry (e.g. refs/pull/1/head); its SHA."""
    validate_revision(revision)
    result = await repo.run("fetch", "--quiet", "--no-tags", "--end-of-options", "origin", revision)
    if result.returncode != 0:
        return None
    check = await repo.run("rev-parse", "--verify", "--quiet", "FETCH_HEAD^{commit}")
    sha = check.stdout.strip()
    return sha if check.returncode == 0 and is_commit_sha(sha) else None


async def run_git(
    *args: str,
    source: str,
    ceiling: Path | None = None,
    limits: gitrun.NetworkLimits = gitrun.DEFAULT_LIMITS,
) -> GitResult:
    """Run git through ``conveyor.gitrun`` (safe flags, time and stall limits).

    A non-zero exit is returned, not raised; a timeout raises GitRunError (temporary).
    """
    result = await gitrun.run_git(args, timeout=GIT_TIMEOUT, ceiling=ceiling, limits=limits)
    return GitResult(
        returncode=result.returncode,
        stdout=result.stdout.decode(errors="replace"),
        stderr=_clean(result.stderr.decode(errors="replace"), source),
    )


def _clean(text: str, source: str) -> str:
    """Git's message on one line, with the source's credentials replaced by the redacted form."""
    if source and source != strip_credentials(source):
        text = text.replace(source, strip_credentials(source))
    return " ".join(line.strip() for line in text.strip().splitlines() if line.strip())


def export_directory(src: Path, tar_path: Path, dest: Path, store_root: Path) -> None:
    """Copy a plain directory through tar, so that one path-safety check covers both kinds."""
    skip = os.path.normpath(store_root.resolve())

    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        parts = PurePosixPath(info.name).parts
        if parts and parts[-1] in SKIPPED_NAMES:
            return None
        return None if os.path.normpath(src / info.name) == skip else info

    try:
        with tarfile.open(tar_path, "w") as tar:
            tar.add(src, arcname=".", filter=keep)
    except OSError as err:
        raise ValidationError(f"cannot read the source directory {src}: {err}") from err
    extract_tar(tar_path, dest)
    tar_path.unlink()


def extract_tar(tar_path: Path, dest: Path) -> None:
    """Extract ``tar_path`` into ``dest``, refusing any member that would land outside it."""
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    with tarfile.open(tar_path) as tar:
        members = tar.getmembers()
        for member in members:
            _check_member(member, root)
        if hasattr(tarfile, "data_filter"):
            tar.extractall(root, members=members, filter="data")
        else:  # Python < 3.11.4: the checks above have already refused unsafe members
            tar.extractall(root, members=members)  # noqa: S202


def _check_member(member: tarfile.TarInfo, root: Path) -> None:
    """Refuse absolute names, ``..``, links that point outside, devices and fifos."""
    name = PurePosixPath(member.name)
    if name.is_absolute() or ".." in name.parts:
        raise ValidationError(f"the source tree holds {member.name!r}, a path outside the tree")
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        raise ValidationError(f"the source tree holds {member.name!r}, which is not a file")
    if member.issym() or member.islnk():
        target = PurePosixPath(member.linkname)
        base = root / name.parent if member.issym() else root
        resolved = os.path.normpath(base / target)
        if target.is_absolute() or not (resolved == str(root) or resolved.startswith(f"{root}/")):
            raise ValidationError(
                f"the source tree holds the link {member.name!r} -> {member.linkname!r}, "
                "which points outside the tree"
            )
