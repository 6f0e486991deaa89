"""The pipeline's ``write-back`` stage: the published tag, committed to the config repository.

``conveyor ci run --write-back APP`` (or ``--app-file FILE``) appends this stage after
``publish`` (the runner's ``after_publish`` hook). For each Application it is given, the
Application's own Argo CD Image Updater annotations decide where the tag goes (conveyor.ci.
imageupdater), exactly as the Image Updater would; the tag is the commit's full SHA, and the
commit carries the app commit, its time and the run as trailers (conveyor.ci.writeback). The
image is matched by the artifact's name (an ``image-list`` alias or image name). A pinned app
(rolled back, automated sync off) is left alone, with the reason in the stage's message.
A private config repository is pushed to with its stored credentials (``conveyor repo add``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from conveyor.ci.context import StageContext
from conveyor.ci.imageupdater import read_config
from conveyor.ci.results import StageResult, Status
from conveyor.ci.runner import Stage
from conveyor.ci.writeback import Author, write_back_app
from conveyor.errors import ValidationError
from conveyor.gitrun import run_git
from conveyor.source.cache import CredentialLookup

STAGE_NAME = "write-back"


def _name(application: Mapping[str, Any]) -> str:
    return str((application.get("metadata") or {}).get("name") or "?")


def check_applications(applications: Sequence[Mapping[str, Any]]) -> None:
    """Refuse, before any stage runs, an Application whose annotations name no Git target."""
    for application in applications:
        read_config(application)


async def commit_date(ctx: StageContext) -> str:
    """The app commit's committer time, ISO 8601 ("" when git cannot say)."""
    out = await run_git(
        ["-C", str(ctx.repo), "show", "-s", "--format=%cI", ctx.commit, "--"],
        timeout=30.0,
        ceiling=ctx.repo.parent,
    )
    return out.stdout.decode().strip() if out.returncode == 0 else ""


def write_back_stage(
    applications: Sequence[Mapping[str, Any]],
    *,
    author: Author | None = None,
    credentials: CredentialLookup | None = None,
) -> Stage:
    """The stage that writes the published tag back for each of ``applications``;
    ``credentials`` finds a config repository's stored credentials."""
    check_applications(applications)
    apps = [dict(a) for a in applications]

    async def run(ctx: StageContext) -> StageResult:
        result = StageResult(STAGE_NAME)
        if ctx.artifact is None:
            result.status, result.message = Status.skipped, "nothing was published"
            return result
        tags = {ctx.name: ctx.commit}
        date = await commit_date(ctx)
        lines: list[str] = []
        written = skipped = 0
        for application in apps:
            try:
                outcome = await write_back_app(
                    application, tags, app_commit=ctx.commit, app_commit_date=date,
                    run_id=ctx.run_id, author=author, credentials=credentials,
                )  # fmt: skip
            except ValidationError as err:
                raise ValidationError(f"{_name(application)}: {err}") from err
            if outcome.skipped:
                skipped += 1
                lines.append(f"{_name(application)}: skipped: {outcome.skipped}")
            elif outcome.changed:
                written += 1
                lines.append(
                    f"{_name(application)}: {ctx.name}:{ctx.commit[:12]} committed to "
                    f"{outcome.branch} as {outcome.commit[:12]}"
                )
            else:
                lines.append(f"{_name(application)}: {outcome.branch} already names this tag")
        result.log = "\n".join(lines) + "\n"
        result.counts = {"applications": len(apps), "written": written, "pinned": skipped}
        result.status = Status.warned if skipped else Status.passed
        result.message = "; ".join(lines)
        return result

    return Stage(STAGE_NAME, run)
