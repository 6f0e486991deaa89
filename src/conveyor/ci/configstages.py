"""A config repository's pipeline: policy and preview of every app a commit touches.

``conveyor ci run`` in a config repository (``kind: config`` in ``.conveyor/pipeline.yaml``,
or a tree with ``.conveyor/promotion.yaml``) builds nothing: it renders every Application of
the repository at the commit and at the revision it is compared with (its first parent by
default), with the renderer the engine uses. An app is touched when its rendered output
changed, which catches a shared base as well as a direct edit (``conveyor.ci.preview``).

- ``preview`` keeps the Markdown a pull request would get as the stage's log: each touched
  app's diff, Secrets masked. It runs first, so that a refused change still shows its diff.
- ``policy`` runs the Rego bundle over each touched app's manifests at the commit, with the
  app's environment (its ``conveyor.dev/environment`` or ``environment`` label): a ``deny``
  fails the stage with the rule's message (or warns, as the pipeline file says); an app that
  no longer renders fails it too, since nothing vouches for it.

Both stages share one rendering of the two trees.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from conveyor.ci.config import OnFinding
from conveyor.ci.context import StageContext
from conveyor.ci.preview import Rendered, export, previews_of, render_trees, to_markdown
from conveyor.ci.results import StageResult, Status
from conveyor.errors import ValidationError
from conveyor.gitrun import run_git
from conveyor.policy.gate import ENVIRONMENT_LABEL, PLAIN_ENVIRONMENT_LABEL
from conveyor.policy.rego import DEFAULT_BUNDLE, Bundle, evaluate, load_bundle

STAGE_NAMES = ["preview", "policy"]
StageFn = Callable[[StageContext], Awaitable[StageResult]]
GIT_TIMEOUT = 60.0


async def _first_parent(repo: Path, commit: str) -> str:
    """The commit's first parent ("" for a root commit)."""
    out = await run_git(
        ["-C", str(repo), "rev-list", "--parents", "-n", "1", commit, "--"],
        timeout=GIT_TIMEOUT,
        ceiling=repo.parent,
    )
    words = out.stdout.decode().split() if out.returncode == 0 else []
    return words[1] if len(words) > 1 else ""


class _Change:
    """The two trees rendered once, for both stages."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._rendered: list[Rendered] | None = None
        self.base = ""
        """What the commit is compared with ("" for a root commit: an empty tree)."""

    async def rendered(self, ctx: StageContext) -> list[Rendered]:
        async with self._lock:
            if self._rendered is None:
                base_root = ctx.work / "base"
                base_root.mkdir(exist_ok=True)
                asked = ctx.config.preview.base
                self.base = asked or await _first_parent(ctx.repo, ctx.commit)
                if self.base:
                    self.base = await export(ctx.repo, self.base, base_root)
                self._rendered = await render_trees(base_root, ctx.tree)
            return self._rendered

    def against(self) -> str:
        return f"{self.base[:12]}" if self.base else "an empty tree (a root commit)"


def _bundle(ctx: StageContext) -> Bundle:
    where = ctx.config.policy.bundle
    if where == DEFAULT_BUNDLE:
        return load_bundle(DEFAULT_BUNDLE)
    path = (ctx.tree / where).resolve()
    if not path.is_relative_to(ctx.tree.resolve()):
        raise ValidationError(f"policy bundle {where!r} is outside the repository")
    return load_bundle(path)


def _environment(rendered: Rendered) -> str:
    labels = (rendered.application.get("metadata") or {}).get("labels") or {}
    return str(labels.get(ENVIRONMENT_LABEL) or labels.get(PLAIN_ENVIRONMENT_LABEL) or "")


async def _policy(ctx: StageContext, change: _Change) -> StageResult:
    result = StageResult("policy")
    bundle = _bundle(ctx)
    touched = [p.app for p in previews_of(await change.rendered(ctx))]
    apps = [r for r in await change.rendered(ctx) if r.app in touched]
    denied = warned = 0
    broken: list[str] = []
    for app in apps:
        if app.error:
            broken.append(f"{app.app} does not render: {app.error}")
            result.findings.append({"app": app.app, "type": "render", "message": app.error})
            continue
        environment = _environment(app)
        for v in evaluate(bundle, app.head or [], environment=environment):
            denied, warned = denied + v.deny, warned + (not v.deny)
            result.findings.append({
                "app": app.app, "environment": environment, "object": v.object,
                "rule": v.package, "severity": "deny" if v.deny else "warn", "message": v.message,
            })  # fmt: skip
    result.counts = {"apps": len(apps), "denied": denied, "warnings": warned}
    result.log = "".join(
        f"{f['app']}: {f.get('object', '')} {f['message']}\n" for f in result.findings
    )
    denials = [
        f"{f['app']}: {f['message']}" for f in result.findings if f.get("severity") == "deny"
    ]
    if broken or denials:
        result.message = "; ".join([*broken, *denials])
        on = ctx.config.policy.on_finding
        result.status = Status.failed if broken or on is OnFinding.fail else Status.warned
    elif warned:
        result.status, result.message = Status.warned, f"{warned} policy warnings"
    else:
        result.status = Status.passed
        result.message = (
            f"{len(apps)} changed apps pass {bundle.name} (against {change.against()})"
            if apps
            else f"no app's manifests change (against {change.against()})"
        )
    return result


async def _preview(ctx: StageContext, change: _Change) -> StageResult:
    previews = previews_of(await change.rendered(ctx))
    objects = sum(len(p.changes) for p in previews)
    names = ", ".join(p.app for p in previews)
    return StageResult(
        "preview",
        Status.passed,
        f"{len(previews)} apps change ({names}) against {change.against()}"
        if previews
        else f"no app's manifests change against {change.against()}",
        counts={"apps": len(previews), "objects": objects},
        log=to_markdown(previews),
    )


def config_stages() -> list[tuple[str, StageFn]]:
    """The config pipeline's stages in order (preview, policy), sharing one rendering."""
    change = _Change()

    async def policy(ctx: StageContext) -> StageResult:
        return await _policy(ctx, change)

    async def preview(ctx: StageContext) -> StageResult:
        return await _preview(ctx, change)

    return [("preview", preview), ("policy", policy)]
