"""Write-back: commit a new image tag to the config repository, as Argo CD Image Updater does.

The pipeline hands over a tag; this module clones the config repository, sets the tag in each
file (conveyor.ci.yamledit: only the tag changes), commits with trailers that tie the config
commit to the app commit and the pipeline run, and pushes. Another pipeline may push first:
the push is then rejected, and the edit is re-applied on the fetched branch and pushed again
(a re-apply, never a merge, so the result is exactly "theirs plus our tag"). With a target
branch (``git-branch: main:review``) the commit goes there for review instead.

An app that was rolled back is pinned (``pin_reason``): writing a new tag would bring back what
a person just took away, so write-back skips it, with a message, until automated sync is
turned back on.

A private config repository is reached with the credentials stored by ``conveyor repo add``
(``CredentialLookup``, as the engine's mirrors use them): handed to git through its
environment by ``conveyor.gitrun``, never on a command line, in the URL or in a log.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from conveyor.ci import yamledit
from conveyor.ci.imageupdater import TagEdit, TargetKind, UpdaterConfig, read_config
from conveyor.errors import ConveyorError, ValidationError
from conveyor.gitrun import GitOutput, HttpCredentials, run_git
from conveyor.model.trailers import APP_COMMIT_DATE_TRAILER as APP_COMMIT_DATE_TRAILER
from conveyor.model.trailers import APP_COMMIT_TRAILER as APP_COMMIT_TRAILER
from conveyor.source.cache import CredentialLookup

# APP_COMMIT_TRAILER and APP_COMMIT_DATE_TRAILER live in conveyor.model.trailers (the engine
# reads them too) and are re-exported above.
RUN_TRAILER = "Conveyor-Run"
"""Trailer naming the pipeline run that built it."""
GIT_TIMEOUT = 120.0
DEFAULT_ATTEMPTS = 5


class WriteBackError(ConveyorError):
    """The tag could not be committed; the message says which step failed and why."""


@dataclass(frozen=True)
class Author:
    """Who the write-back commits are by."""

    name: str = "Conveyor"
    email: str = "conveyor@localhost"

    def env(self) -> dict[str, str]:
        return {
            "GIT_AUTHOR_NAME": self.name,
            "GIT_AUTHOR_EMAIL": self.email,
            "GIT_COMMITTER_NAME": self.name,
            "GIT_COMMITTER_EMAIL": self.email,
        }


@dataclass(frozen=True)
class WriteBackRequest:
    """One write-back: these tags, into this repository, on this branch."""

    repo_url: str
    edits: Sequence[tuple[TagEdit, str]]
    """Each place to change with the tag to set there."""
    base_branch: str = ""
    """Branch to start from; "" for the remote's default branch."""
    target_branch: str = ""
    """Branch to push to; "" for ``base_branch`` (a different one is the review mode)."""
    app_commit: str = ""
    app_commit_date: str = ""
    """The app commit's committer time, ISO 8601 (``git show -s --format=%cI``)."""
    run_id: str = ""
    subject: str = ""
    trailers: tuple[tuple[str, str], ...] = ()
    """More trailers (a promotion's environment, who promoted, which gates held)."""
    author: Author = field(default_factory=Author)
    credentials: HttpCredentials | None = None


@dataclass(frozen=True)
class WriteBackResult:
    """What happened: the commit pushed (or why nothing was), and how many tries it took."""

    commit: str
    """The pushed config commit; "" when nothing changed or the app is pinned."""
    branch: str
    attempts: int
    changed: bool
    skipped: str = ""
    """Why nothing was written (a pin), "" otherwise."""


def _check_ref(name: str) -> None:
    if name.startswith("-") or any(c in name for c in " ~^:?*[\\\x00") or ".." in name:
        raise ValidationError(f"branch name {name!r} is not allowed")


def _one_line(name: str, value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValidationError(f"{name} must be one line (it becomes a commit trailer)")
    return value


def commit_message(request: WriteBackRequest) -> str:
    """Subject, the tags set, and the trailers (each value one line: no trailer injection)."""
    _one_line("app commit", request.app_commit)
    _one_line("run id", request.run_id)
    for key, value in request.trailers:
        _one_line(key, value)
    if request.app_commit_date:
        try:
            datetime.fromisoformat(_one_line("app commit date", request.app_commit_date))
        except ValueError as err:
            raise ValidationError(
                f"app commit date {request.app_commit_date!r} is not ISO 8601"
            ) from err
    tags = sorted({f"{edit.image}:{tag}" for edit, tag in request.edits})
    subject = request.subject or f"write-back: {', '.join(tags)}"
    body = "\n".join(f"- {edit.path}: {edit.image} -> {tag}" for edit, tag in request.edits)
    trailers = []
    if request.app_commit:
        trailers.append(f"{APP_COMMIT_TRAILER}: {request.app_commit}")
    if request.app_commit_date:
        trailers.append(f"{APP_COMMIT_DATE_TRAILER}: {request.app_commit_date}")
    if request.run_id:
        trailers.append(f"{RUN_TRAILER}: {request.run_id}")
    trailers.extend(f"{key}: {value}" for key, value in request.trailers)
    message = f"{subject}\n\n{body}\n"
    return message + ("\n" + "\n".join(trailers) + "\n" if trailers else "")


def apply_edit(text: str, edit: TagEdit, tag: str) -> str:
    """``text`` of ``edit.path`` with the tag set (conveyor.ci.yamledit does the splicing)."""
    if edit.kind is TargetKind.KUSTOMIZATION:
        return yamledit.set_kustomize_tag(text, edit.image, tag, path=edit.path)
    if edit.kind is TargetKind.MANIFEST:
        return yamledit.set_manifest_image(text, edit.image, tag, path=edit.path)
    value = f"{edit.image}:{tag}" if edit.full_spec else tag
    return yamledit.set_helm_value(text, edit.values_key, value, path=edit.path)


class Checkout:
    """A working clone of the config repository, owned by one write-back."""

    def __init__(self, request: WriteBackRequest, workdir: Path) -> None:
        for name in (request.base_branch, request.target_branch):
            if name:
                _check_ref(name)
        self.request = request
        self.dir = workdir
        self.branch = request.target_branch or request.base_branch

    async def git(self, *args: str, stdin: bytes | None = None) -> GitOutput:
        return await run_git(
            ["-C", str(self.dir), *args],
            timeout=GIT_TIMEOUT,
            env=self.request.author.env(),
            stdin=stdin,
            ceiling=self.dir.parent,
            credentials=self.request.credentials,
        )

    async def must(self, *args: str, stdin: bytes | None = None) -> str:
        out = await self.git(*args, stdin=stdin)
        if out.returncode != 0:
            raise WriteBackError(
                f"git {args[0]} failed: {out.stderr.decode(errors='replace').strip()}"
            )
        return out.stdout.decode().strip()

    async def clone(self) -> None:
        """Clone, and put HEAD on the branch to start from (the target branch when it exists)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        await self.must("init", "-q")
        await self.must("remote", "add", "origin", "--", self.request.repo_url)
        if not self.branch:
            head = await self.must("ls-remote", "--symref", "origin", "HEAD")
            first = head.splitlines()[0] if head else ""
            if not first.startswith("ref: refs/heads/"):
                raise WriteBackError("the config repository has no default branch to write to")
            self.branch = first.removeprefix("ref: refs/heads/").split("\t", 1)[0]
        await self.reset_to_remote()

    async def reset_to_remote(self) -> None:
        """Fetch the branch to push to (else the base branch) and check it out clean."""
        start = self.branch
        fetched = await self.git("fetch", "-q", "origin", "--", f"refs/heads/{start}")
        if fetched.returncode != 0 and self.request.base_branch not in ("", start):
            start = self.request.base_branch
            fetched = await self.git("fetch", "-q", "origin", "--", f"refs/heads/{start}")
        if fetched.returncode != 0:
            raise WriteBackError(
                f"cannot fetch branch {start!r}: {fetched.stderr.decode(errors='replace').strip()}"
            )
        await self.must("checkout", "-q", "-f", "-B", self.branch, "FETCH_HEAD")

    def _file(self, path: str) -> Path:
        target = (self.dir / path).resolve()
        if not target.is_relative_to(self.dir.resolve()):
            raise ValidationError(f"write-back path {path!r} leaves the repository")
        if not target.is_file():
            raise WriteBackError(f"{path} does not exist on branch {self.branch!r}")
        return target

    async def commit(self) -> bool:
        """Apply every edit and commit; False when the tags were already there."""
        changed: list[str] = []
        for edit, tag in self.request.edits:
            target = self._file(edit.path)
            before = target.read_bytes().decode()
            after = apply_edit(before, edit, tag)
            if after != before:
                target.write_bytes(after.encode())
                changed.append(edit.path)
        if not changed:
            return False
        await self.must("add", "--", *sorted(set(changed)))
        await self.must("commit", "-q", "-F", "-", stdin=commit_message(self.request).encode())
        return True

    async def push(self) -> bool:
        """Push HEAD to the branch; False when the remote moved on (rejected)."""
        out = await self.git("push", "-q", "origin", "--", f"HEAD:refs/heads/{self.branch}")
        if out.returncode == 0:
            return True
        err = out.stderr.decode(errors="replace")
        if "rejected" in err or "fetch first" in err or "non-fast-forward" in err:
            return False
        raise WriteBackError(f"git push failed: {err.strip()}")

    async def land(self, attempts: int = DEFAULT_ATTEMPTS) -> WriteBackResult:
        """Commit (already done or not) and push, re-applying on a fresh fetch when rejected."""
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                await self.reset_to_remote()
            if not await self._has_own_commit() and not await self.commit():
                return WriteBackResult("", self.branch, attempt, changed=False)
            if await self.push():
                head = await self.must("rev-parse", "HEAD")
                return WriteBackResult(head, self.branch, attempt, changed=True)
        raise WriteBackError(
            f"the branch {self.branch!r} kept moving: {attempts} pushes were rejected"
        )

    async def trailers(self, revision: str) -> dict[str, str]:
        """The Conveyor trailers of ``revision`` ({} when it is not in the fetched history)."""
        return await commit_trailers(self.dir, revision)

    async def _has_own_commit(self) -> bool:
        out = await self.git("rev-list", "--count", "FETCH_HEAD..HEAD")
        return out.returncode == 0 and out.stdout.strip() not in (b"", b"0")


async def commit_trailers(repo: Path, revision: str) -> dict[str, str]:
    """The ``Conveyor-*`` trailers of ``revision`` in the repository at ``repo`` ({} when the
    commit is not there); the last of a repeated key wins."""
    if not revision or revision.startswith("-"):
        return {}
    out = await run_git(
        ["-C", str(repo), "show", "-s", "--format=%(trailers:only,unfold)", revision, "--"],
        timeout=GIT_TIMEOUT,
        ceiling=repo.parent,
    )
    if out.returncode != 0:
        return {}
    found: dict[str, str] = {}
    for line in out.stdout.decode(errors="replace").splitlines():
        key, sep, value = line.partition(":")
        if sep and key.startswith("Conveyor-"):
            found[key.strip()] = value.strip()
    return found


async def write_back(
    request: WriteBackRequest, *, attempts: int = DEFAULT_ATTEMPTS, workdir: Path | None = None
) -> WriteBackResult:
    """Clone, set the tags, commit with trailers, push (retrying on a concurrent push)."""
    with tempfile.TemporaryDirectory(prefix="conveyor-writeback-") as tmp:
        checkout = Checkout(request, (workdir or Path(tmp)) / "repo")
        await checkout.clone()
        return await checkout.land(attempts)


def pin_reason(application: Mapping[str, Any]) -> str:
    """Why write-back must leave this app alone ("" when it may write).

    A rollback (``app rollback``) turns automated sync off and deploys a revision the app ran
    before; until a person turns automated sync back on, the app is pinned there.
    """
    spec = application.get("spec") or {}
    if (spec.get("syncPolicy") or {}).get("automated") is not None:
        return ""
    history = (application.get("status") or {}).get("history") or []
    if len(history) < 2:
        return ""
    last = history[-1].get("revision")
    if last and any(h.get("revision") == last for h in history[:-1]):
        name = (application.get("metadata") or {}).get("name", "?")
        return (
            f"application {name!r} was rolled back to {str(last)[:12]} and automated sync is "
            "off: write-back skips it until the pin is lifted "
            f"(`conveyor app set {name} --sync-policy automated`)"
        )
    return ""


def request_for(
    application: Mapping[str, Any],
    tags: Mapping[str, str],
    *,
    app_commit: str = "",
    app_commit_date: str = "",
    run_id: str = "",
    author: Author | None = None,
    credentials: CredentialLookup | None = None,
) -> tuple[WriteBackRequest, UpdaterConfig]:
    """The write-back request for an annotated Application; ``tags`` maps alias or image
    name to the new tag; ``credentials`` finds the config repository's stored credentials."""
    config = read_config(application)
    edits: list[tuple[TagEdit, str]] = []
    for alias, image in config.images.items():
        tag = tags.get(alias) or tags.get(image)
        if tag:
            edits.append((config.edits[alias], tag))
    if not edits:
        known = ", ".join(f"{a} ({i})" for a, i in config.images.items())
        raise ValidationError(f"no tag given for any of the app's images: {known}")
    request = WriteBackRequest(
        repo_url=config.repo_url,
        edits=edits,
        base_branch=config.base_branch,
        target_branch=config.target_branch,
        app_commit=app_commit,
        app_commit_date=app_commit_date,
        run_id=run_id,
        author=author or Author(),
        credentials=credentials(config.repo_url) if credentials is not None else None,
    )
    return request, config


async def write_back_app(
    application: Mapping[str, Any],
    tags: Mapping[str, str],
    *,
    app_commit: str = "",
    app_commit_date: str = "",
    run_id: str = "",
    author: Author | None = None,
    credentials: CredentialLookup | None = None,
) -> WriteBackResult:
    """Write ``tags`` back for an annotated Application, unless it is pinned; ``credentials``
    finds the stored credentials of the config repository (``conveyor repo add``)."""
    request, config = request_for(
        application, tags, app_commit=app_commit, app_commit_date=app_commit_date,
        run_id=run_id, author=author, credentials=credentials,
    )  # fmt: skip
    pinned = pin_reason(application)
    if pinned:
        return WriteBackResult("", config.target_branch, 0, changed=False, skipped=pinned)
    return await write_back(request)
