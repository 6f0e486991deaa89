"""Building an artifact: a source tree pinned to one commit, plus the virtualenv it needs.

The steps read as the pipeline: validate every input, pin the revision to a full SHA, refuse an
existing tag, export the tree at that commit, build the venv (``venv``; ``stage_artifact``: CI
audits and describes this staged environment), record ``artifact.json``, then ``os.rename`` the
staged directory into place (``StagedArtifact.publish``). Until that rename nothing is visible,
so a crash leaves no half artifact, and of two builds racing for one tag exactly one wins; the
other gets a ConflictError. Every subprocess runs through asyncio; file work runs in threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
import shlex
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from conveyor.artifacts import gitsource
from conveyor.artifacts.buildlog import BuildLog, Progress
from conveyor.artifacts.finish import make_read_only, relocate, write_metadata
from conveyor.artifacts.store import (
    BUILD_LOG,
    METADATA_FILE,
    SOURCE_DIR,
    STAGING_PREFIX,
    VENV_DIR,
    Artifact,
    ArtifactStore,
    validate_name,
    validate_tag,
)
from conveyor.artifacts.venv import BuildError, build_venv
from conveyor.clock import rfc3339
from conveyor.errors import ConflictError, NotFoundError, ValidationError
from conveyor.redaction import strip_credentials

__all__ = [
    "BuildError",
    "Progress",
    "StagedArtifact",
    "build_artifact",
    "parse_command",
    "stage_artifact",
]


def parse_command(text: str) -> list[str]:
    """``--command "uvicorn app:app --port $(PORT)"`` as an argv list (shell-style quoting)."""
    try:
        argv = shlex.split(text)
    except ValueError as err:
        raise ValidationError(f"--command {text!r} cannot be split into words: {err}") from err
    if not argv:
        raise ValidationError("--command is empty: give the program and its arguments")
    return argv


async def build_artifact(
    store: ArtifactStore,
    name: str,
    *,
    source: str,
    revision: str | None = None,
    tag: str | None = None,
    command: list[str] | None = None,
    progress: Progress | None = None,
) -> Artifact:
    """Build ``name`` from ``source`` at ``revision`` (default HEAD) as ``name:tag``."""
    async with stage_artifact(
        store, name, source=source, revision=revision, tag=tag, command=command, progress=progress
    ) as staged:
        return await staged.publish()


class StagedArtifact:
    """A finished build not yet in the store: its tree and venv can be inspected (audited,
    described by an SBOM) before ``publish`` gives it the immutable tag."""

    def __init__(
        self, store: ArtifactStore, artifact: Artifact, staged: Path, log: BuildLog
    ) -> None:
        self._store = store
        self._log = log
        self.artifact = artifact
        """What it will be once published (its paths are the final ones)."""
        self.path = staged
        self.source_dir = staged / SOURCE_DIR
        self.venv_dir = staged / VENV_DIR
        self.published: Artifact | None = None

    def add_file(self, name: str, data: bytes) -> None:
        """Keep a file (an SBOM, a scan report) inside the artifact, beside ``artifact.json``."""
        if "/" in name or name.startswith(".") or name in (SOURCE_DIR, VENV_DIR, METADATA_FILE):
            raise ValidationError(f"{name!r} cannot be added to an artifact")
        (self.path / name).write_bytes(data)

    async def publish(self) -> Artifact:
        """Rename the staged directory into place: from now on ``name:tag`` exists, read-only."""
        artifact, staged = self.artifact, self.path
        await asyncio.to_thread(relocate, staged, artifact.path)
        write_metadata(staged / METADATA_FILE, artifact)
        self._log(f"built {artifact.image}")
        self._log.close()
        try:
            os.rename(staged, artifact.path)
        except OSError as err:
            if err.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
                raise _conflict(artifact.name, artifact.tag) from err
            raise
        await asyncio.to_thread(make_read_only, artifact.path)
        self.published = artifact
        return artifact


@contextlib.asynccontextmanager
async def stage_artifact(
    store: ArtifactStore,
    name: str,
    *,
    source: str,
    revision: str | None = None,
    tag: str | None = None,
    command: list[str] | None = None,
    progress: Progress | None = None,
) -> AsyncIterator[StagedArtifact]:
    """Build ``name`` into a hidden staging directory; nothing is left of it unless published."""
    validate_name(name)
    if tag is not None:
        validate_tag(tag)
        _refuse_existing(store, name, tag)
    gitsource.validate_source(source)
    if revision is not None:
        gitsource.validate_revision(revision)
    if command is not None and not command:
        raise ValidationError("command is empty: give the program and its arguments")
    log = BuildLog(progress)

    repo: gitsource.GitRepo | None = None
    sha: str | None = None
    if gitsource.is_remote(source):
        recorded = strip_credentials(source)
    else:
        local = _local_directory(source)
        recorded = str(local)
        repo = await gitsource.open_local(local, source=recorded)
        if repo is not None:
            sha = await _resolve(repo, revision, log, remote=False)
        elif revision is not None:
            raise ValidationError(f"{recorded} is not a git repository, so --revision cannot apply")
        elif tag is None:
            raise ValidationError(
                f"{recorded} is not a git repository, so there is no commit SHA to tag it with; "
                "pass --tag (e.g. --tag 1.0.0)"
            )

    work = _make_workdir(store.name_dir(name))
    try:
        if gitsource.is_remote(source):
            log(f"fetching {recorded}")
            repo = await gitsource.clone_bare(source, work / "clone.git", limits=store.git_limits)
            sha = await _resolve(repo, revision, log, remote=True)
        tag = tag or sha
        if tag is None:  # unreachable: a plain directory without --tag was refused above
            raise ValidationError("pass --tag")
        validate_tag(tag)
        _refuse_existing(store, name, tag)
        final = store.artifact_dir(name, tag)
        staged = work / tag
        staged.mkdir()
        log.open(await asyncio.to_thread((staged / BUILD_LOG).open, "ab"))

        src = staged / SOURCE_DIR
        if repo is not None and sha is not None:
            log(f"exporting the tree at {sha}")
            await repo.export(sha, work / "src.tar", src)
        else:
            log(f"copying {recorded}")
            await asyncio.to_thread(
                gitsource.export_directory, Path(recorded), work / "src.tar", src, store.root
            )
        command = command or _procfile_command(src)
        await build_venv(staged / VENV_DIR, src, work, log)
        artifact = Artifact.at(
            final,
            {
                "name": name,
                "tag": tag,
                "source": recorded,
                "revision": sha,
                "created": rfc3339(store.clock.now()),
                "command": command,
            },
        )
        yield StagedArtifact(store, artifact, staged, log)
    finally:
        log.close()
        await asyncio.to_thread(_remove, work)


def _refuse_existing(store: ArtifactStore, name: str, tag: str) -> None:
    if store.artifact_dir(name, tag).exists():
        raise _conflict(name, tag)


def _conflict(name: str, tag: str) -> ConflictError:
    return ConflictError(
        "this tag already exists, and tags are immutable: it is never overwritten; "
        "commit your change and build the new commit, or pass a different --tag",
        obj=f"{name}:{tag}",
    )


def _local_directory(source: str) -> Path:
    path = Path(source).expanduser()
    if not path.exists():
        raise NotFoundError(
            f"source {source!r} does not exist: pass a directory, a git repository or a git URL"
        )
    if not path.is_dir():
        raise ValidationError(f"source {source!r} is not a directory")
    return path.resolve()


async def _resolve(
    repo: gitsource.GitRepo, revision: str | None, log: BuildLog, *, remote: bool
) -> str:
    """The full SHA of ``revision``; for a clone, fetch refs it lacks (refs/pull/1/head)."""
    wanted = revision or "HEAD"
    try:
        sha = await repo.resolve(wanted)
    except NotFoundError:
        fetched = await gitsource.fetch_revision(repo, wanted) if remote else None
        if fetched is None:
            raise
        sha = fetched
    log(f"{wanted} is commit {sha}")
    return sha


def _make_workdir(name_dir: Path) -> Path:
    """A private staging directory beside the tags (a concurrent cleanup may race us once)."""
    for _ in range(3):
        name_dir.mkdir(parents=True, exist_ok=True)
        try:
            return Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=name_dir))
        except FileNotFoundError:
            continue
    raise ValidationError(f"cannot create a staging directory in {name_dir}")


def _remove(work: Path) -> None:
    """Delete the staging directory, and the name directory if it was left empty."""
    shutil.rmtree(work, ignore_errors=True)
    with contextlib.suppress(OSError):  # other tags (or another build) live there
        work.parent.rmdir()


def _procfile_command(src: Path) -> list[str] | None:
    """The ``web:`` line of a Procfile: an argv when it is simple, else ``sh -c`` as Heroku does.

    ``$PORT`` / ``${PORT}`` become ``$(PORT)``, which the runtime expands from the container env.
    """
    procfile = src / "Procfile"
    if not procfile.is_file():
        return None
    for line in procfile.read_text(encoding="utf-8", errors="replace").splitlines():
        match = re.match(r"^web\s*:\s*(.+?)\s*$", line)
        if not match:
            continue
        text = match.group(1)
        if re.search(r"[|&;<>`*?~]|\$\(", text):
            return ["/bin/sh", "-c", text]
        expanded = re.sub(r"\$(?:\{(\w+)\}|(\w+))", lambda m: f"$({m[1] or m[2]})", text)
        try:
            return shlex.split(expanded) or None
        except ValueError:
            return ["/bin/sh", "-c", text]
    return None
