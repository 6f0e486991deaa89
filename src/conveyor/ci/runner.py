"""``conveyor ci run``: the pipeline, one stage after another, on the tree at one commit.

The run reads as the pipeline itself: pin the commit, export its tree (never the working
tree), then secrets -> lint -> types -> tests -> sast -> stage -> audit -> sbom -> image ->
image-scan -> publish, then the hooks given as ``after_publish`` (write-back plugs in there).
The build is split: ``stage`` builds the artifact in a hidden directory, the audit, SBOM and
image scan look at exactly that, and only ``publish`` gives it the immutable full-SHA tag. The
first failed stage ends the run; the stages after it show "not run", and nothing is published.

In a config repository the pipeline is ``preview`` -> ``policy`` instead
(``conveyor.ci.configstages``): it builds nothing, it vets what the commit changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets as random
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from conveyor.artifacts import ArtifactStore, gitsource, stage_artifact
from conveyor.ci import checks, config, configstages, image, scans
from conveyor.ci.context import StageContext
from conveyor.ci.results import CiRun, StageResult, Status, overall
from conveyor.clock import Clock, SystemClock, rfc3339
from conveyor.errors import ConflictError, ConveyorError, NotFoundError, ValidationError

StageFn = Callable[[StageContext], Awaitable[StageResult]]
OnUpdate = Callable[[CiRun], Awaitable[None]]


@dataclass(frozen=True)
class Stage:
    """One named step; ``run`` returns its result (the runner times it)."""

    name: str
    run: StageFn


async def _stage(ctx: StageContext, stack: contextlib.AsyncExitStack) -> StageResult:
    result = StageResult("stage")
    try:
        ctx.staged = await stack.enter_async_context(
            stage_artifact(
                _store_of(ctx), ctx.name, source=str(ctx.repo), revision=ctx.commit, tag=ctx.commit
            )
        )
    except ConflictError:
        ctx.artifact = _store_of(ctx).get(ctx.name, ctx.commit)
        result.status = Status.skipped
        result.message = (
            f"{ctx.name}:{ctx.commit} already exists (tags are immutable); nothing is rebuilt"
        )
        return result
    result.status = Status.passed
    result.message = f"staged {ctx.name} at {ctx.commit[:12]}, not yet tagged"
    result.log = ctx.staged.path.joinpath("build.log").read_text(encoding="utf-8", errors="replace")
    return result


async def _publish(ctx: StageContext) -> StageResult:
    result = StageResult("publish")
    if ctx.staged is None:
        result.status = Status.skipped
        result.message = "already published" if ctx.artifact is not None else "nothing staged"
        return result
    ctx.artifact = await ctx.staged.publish()
    result.status = Status.passed
    result.message = f"published {ctx.artifact.image}"
    return result


def _store_of(ctx: StageContext) -> ArtifactStore:
    if ctx.store is None:
        raise ValidationError("this run has no artifact store")
    return ctx.store


def stages(stack: contextlib.AsyncExitStack) -> list[Stage]:
    """The pipeline's stages in order (``after_publish`` hooks are appended by the caller)."""

    async def stage(ctx: StageContext) -> StageResult:
        return await _stage(ctx, stack)

    return [
        Stage("secrets", checks.secrets),
        Stage("lint", checks.lint),
        Stage("types", checks.types),
        Stage("tests", checks.tests),
        Stage("sast", scans.sast),
        Stage("stage", stage),
        Stage("audit", scans.audit),
        Stage("sbom", scans.sbom),
        Stage("image", image.image),
        Stage("image-scan", image.image_scan),
        Stage("publish", _publish),
    ]


STAGE_NAMES = [
    "secrets",
    "lint",
    "types",
    "tests",
    "sast",
    "stage",
    "audit",
    "sbom",
    "image",
    "image-scan",
    "publish",
]


def default_name(repo: Path) -> str:
    """An artifact name from the repository directory (``My_App`` -> ``my_app``)."""
    name = re.sub(r"[^a-z0-9._-]+", "-", repo.name.lower()).strip("-._")
    return name or "app"


def new_run_id() -> str:
    return random.token_hex(6)


async def open_commit(repo: Path, revision: str = "HEAD") -> tuple[Path, gitsource.GitRepo, str]:
    """The repository (resolved path, git) and the full SHA of ``revision``; NotFoundError or
    ValidationError when there is no such repository or commit."""
    repo = await asyncio.to_thread(lambda: repo.expanduser().resolve())
    is_dir = await asyncio.to_thread(repo.is_dir)
    git = await gitsource.open_local(repo, source=str(repo)) if is_dir else None
    if git is None:
        raise NotFoundError(f"{repo} is not a git repository: CI runs on a commit")
    gitsource.validate_revision(revision)
    return repo, git, await git.resolve(revision)


async def run_pipeline(
    repo: Path,
    *,
    store: ArtifactStore,
    revision: str = "HEAD",
    name: str | None = None,
    run_id: str | None = None,
    after_publish: Sequence[Stage] = (),
    on_update: OnUpdate | None = None,
    clock: Clock | None = None,
) -> CiRun:
    """Run the pipeline on ``repo`` at ``revision``; the finished run (also on failure).

    ``after_publish`` stages run once the artifact is published, with ``ctx.artifact`` set
    (write-back). ``on_update`` is awaited whenever a stage starts or ends.
    """
    clock = clock or SystemClock()
    repo, git, commit = await open_commit(repo, revision)
    run = CiRun(
        id=run_id or new_run_id(),
        name=name or default_name(repo),
        repo=str(repo),
        commit=commit,
        started_at=rfc3339(clock.now()),
    )

    async def update() -> None:
        if on_update is not None:
            await on_update(run)

    work = Path(tempfile.mkdtemp(prefix="conveyor-ci-"))
    try:
        tree = work / "tree"
        await git.export(commit, work / "tree.tar", tree)
        try:
            pipeline = config.load(tree)
        except ValidationError as err:
            run.stages = [StageResult("config", Status.failed, str(err))]
            return await _finish(run, clock, update)
        run.name = name or pipeline.name or run.name
        scratch = work / "scratch"
        scratch.mkdir()
        ctx = StageContext(run.name, commit, repo, tree, scratch, pipeline, run.id, store)
        async with contextlib.AsyncExitStack() as stack:
            plan = [*stages(stack), *after_publish]
            if pipeline.kind == config.CONFIG:  # a config repository: policy and preview
                plan = [Stage(n, fn) for n, fn in configstages.config_stages()]
            run.stages = [StageResult(s.name) for s in plan]
            await update()
            failed = False
            for index, step in enumerate(plan):
                if failed:
                    run.stages[index].status = Status.not_run
                    continue
                run.stages[index] = await _run_stage(step, ctx, pipeline, run, index, update)
                failed = run.stages[index].status is Status.failed
                await update()
        run.artifact = ctx.artifact.image if ctx.artifact is not None else None
        return await _finish(run, clock, update)
    finally:
        await _remove(work)


async def _run_stage(
    step: Stage,
    ctx: StageContext,
    pipeline: config.PipelineConfig,
    run: CiRun,
    index: int,
    update: Callable[[], Awaitable[None]],
) -> StageResult:
    configurable = step.name in config.PipelineConfig.model_fields or step.name == "image-scan"
    if configurable and not pipeline.stage(step.name).enabled:
        return StageResult(step.name, Status.skipped, "disabled in .conveyor/pipeline.yaml")
    run.stages[index].status = Status.running
    await update()
    started = time.monotonic()
    try:
        result = await step.run(ctx)
    except ConveyorError as err:
        result = StageResult(step.name, Status.failed, str(err))
    except Exception as err:  # a broken tool or report must end the stage, not the run record
        result = StageResult(step.name, Status.failed, f"{type(err).__name__}: {err}")
    result.name = step.name
    result.duration = time.monotonic() - started
    return result


async def _finish(run: CiRun, clock: Clock, update: Callable[[], Awaitable[None]]) -> CiRun:
    run.status = overall(run.stages)
    run.finished_at = rfc3339(clock.now())
    await update()
    return run


async def _remove(work: Path) -> None:
    await asyncio.to_thread(shutil.rmtree, work, True)
