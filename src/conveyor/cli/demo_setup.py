"""What ``conveyor demo`` prepares: the app and config repos, the artifact, the Applications.

Everything lives under CONVEYOR_HOME/demo as real git repositories, so the demo is the same
flow a user runs: ``conveyor ci run`` turns the app repo's HEAD into an artifact tagged with its
SHA (the stages of the app's ``.conveyor/pipeline.yaml``: secret scan, lint, types, tests with
a coverage gate, SAST, staged build, audit, SBOM, publish), its write-back stage commits the tag
to the config repo's dev overlay as Argo CD Image Updater would (the Applications' annotations
say where), and Conveyor deploys the config repo. The first time, staging and prod get the same
tag, so that they can be synced by hand before any promotion. Running it again reuses what
exists: the repos are kept (with whatever commits the user made), the pipeline runs only when
the artifact of the app's HEAD is missing, and write-back commits only when the overlay does
not already name that SHA. The config repo accepts pushes into its checked-out branch
(``receive.denyCurrentBranch updateInstead``), so its working tree follows every write-back.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from conveyor.artifacts import ArtifactStore
from conveyor.ci.writeback import write_back_app
from conveyor.cli.ci_cmd import run_here
from conveyor.engine.controller import Controller
from conveyor.errors import ConveyorError
from conveyor.settings import Settings

ARTIFACT = "demo-app"
ENVIRONMENTS = ("dev", "staging", "prod")
_DEMO_SOURCES = Path(__file__).resolve().parent / "demo_sources"
_PLACEHOLDER_TAG = "REPLACE_WITH_GIT_SHA"
_REPO_PLACEHOLDER = "file:///REPLACED/BY/DEMO"
_IDENTITY = ("-c", "user.name=Conveyor demo", "-c", "user.email=demo@conveyor.invalid")


@dataclass(frozen=True)
class DemoSetup:
    """The prepared demo: where things are and the Applications to register."""

    app_repo: Path
    config_repo: Path
    revision: str
    """The app commit whose artifact dev runs (``demo-app:<revision>``)."""
    applications: list[dict[str, Any]]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *_IDENTITY, *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def demo_sources() -> Path:
    """The demo's app and config sources, shipped inside the package (pip install is enough)."""
    if not (_DEMO_SOURCES / "demo-app").is_dir():
        raise FileNotFoundError(
            f"the demo's sources are missing from {_DEMO_SOURCES}: reinstall conveyor "
            "(they ship as package data)"
        )
    return _DEMO_SOURCES


def _repo_from(example: Path, dest: Path, message: str) -> None:
    """Copy an example into a new git repository with one commit (once)."""
    if (dest / ".git").is_dir():
        return
    shutil.copytree(example, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", message)


def _write_back_targets(config_repo: Path, apps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Dev, as CI writes every build back to it; staging and prod only while their overlay
    still holds the placeholder (the first time), so that syncing them by hand works before
    any promotion."""
    targets = []
    for env, app in zip(ENVIRONMENTS, apps, strict=True):
        overlay = config_repo / "overlays" / env / "kustomization.yaml"
        if env == "dev" or _PLACEHOLDER_TAG in overlay.read_text():
            targets.append(app)
    return targets


async def _build(
    settings: Settings, app_repo: Path, revision: str, apps: list[dict[str, Any]],
    progress: Callable[[str], None],
) -> None:  # fmt: skip
    """``conveyor ci run`` on the app at ``revision``, writing the tag back for ``apps``."""
    progress(f"building artifact {ARTIFACT}:{revision[:12]} with `conveyor ci run`:")
    run = await run_here(
        app_repo, revision=revision, applications=apps, settings=settings,
        say=lambda line: progress(f"  {line}"),
    )  # fmt: skip
    if run["status"] == "failed":
        failed: dict[str, Any] = next((s for s in run["stages"] if s["status"] == "failed"), {})
        raise ConveyorError(
            f"the CI run {run['id']} of {ARTIFACT} failed at {failed.get('name', '?')}: "
            f"{failed.get('message', '')} (`conveyor ci logs {run['id']}` shows why)"
        )


async def _write_back(
    app_repo: Path, revision: str, apps: list[dict[str, Any]], progress: Callable[[str], None]
) -> None:
    """The write-back of an artifact that exists already (a run found it built)."""
    date = git(app_repo, "show", "-s", "--format=%cI", revision)
    for app in apps:
        result = await write_back_app(
            app, {ARTIFACT: revision}, app_commit=revision, app_commit_date=date
        )
        if result.changed:
            name = app["metadata"]["name"]
            progress(f"write-back: {name}: {ARTIFACT}:{revision[:12]} as {result.commit[:12]}")


def _applications(config_repo: Path) -> list[dict[str, Any]]:
    apps = []
    for env in ENVIRONMENTS:
        text = (config_repo / "apps" / f"demo-{env}.yaml").read_text()
        manifest = yaml.safe_load(text.replace(_REPO_PLACEHOLDER, f"file://{config_repo}"))
        apps.append(manifest)
    return apps


def application_of(config_repo: Path, name: str) -> dict[str, Any]:
    """The demo's Application ``name`` as registered (its repoURL the config repo)."""
    return next(a for a in _applications(config_repo) if a["metadata"]["name"] == name)


async def prepare(settings: Settings, progress: Callable[[str], None] = print) -> DemoSetup:
    """Create (or reuse) the repos; build the app's HEAD with the CI pipeline, write its tag
    back."""
    examples = demo_sources()
    root = settings.home / "demo"
    root.mkdir(parents=True, exist_ok=True)
    app_repo, config_repo = root / "demo-app", root / "config-repo"
    _repo_from(examples / "demo-app", app_repo, "demo-app: the seeds' FastAPI service")
    _repo_from(examples / "config-repo", config_repo, "config: base and dev/staging/prod")
    git(config_repo, "config", "receive.denyCurrentBranch", "updateInstead")
    revision = git(app_repo, "rev-parse", "HEAD")
    applications = _applications(config_repo)
    targets = _write_back_targets(config_repo, applications)
    store = ArtifactStore(settings.artifacts_dir)
    if store.get(ARTIFACT, revision) is None:
        await _build(settings, app_repo, revision, targets, progress)
    else:
        await _write_back(app_repo, revision, targets, progress)
    return DemoSetup(app_repo, config_repo, revision, applications)


def _env_line(app: dict[str, Any]) -> str:
    status = app.get("status") or {}
    name = app["metadata"]["name"]
    urls = (status.get("summary") or {}).get("externalURLs") or []
    sync = status.get("sync", {}).get("status", "Unknown")
    health = status.get("health", {}).get("status", "Unknown")
    where = ", ".join(urls) if urls else f"not deployed yet: conveyor app sync {name}"
    return f"  {name:<13} {sync:<10} {health:<11} {where}"


async def register_and_wait(
    controller: Controller,
    setup: DemoSetup,
    url: str,
    settings: Settings,
    *,
    timeout: float = 300.0,
    say: Callable[[str], None] = print,
) -> bool:
    """Register the three apps, wait for dev Synced and Healthy, print where things are."""
    for manifest in setup.applications:
        await controller.apply_application(manifest)
    say("registered demo-dev (automated), demo-staging and demo-prod (manual); syncing dev...")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    dev = controller.application("demo-dev")
    while loop.time() < deadline:
        dev = controller.application("demo-dev")
        status = dev.get("status") or {}
        if (
            status.get("sync", {}).get("status") == "Synced"
            and status.get("health", {}).get("status") == "Healthy"
            and status.get("sync", {}).get("revision")
            and (status.get("summary") or {}).get("externalURLs")
        ):
            break
        await controller.wait_reconciled("demo-dev", timeout=1.0)
    else:
        say(f"demo-dev is not Synced and Healthy after {timeout:.0f}s: {dev.get('status')}")
        return False
    say("")
    say(f"Conveyor API   {url}  (OpenAPI: {url}/docs)")
    say(f"admin token    {settings.home / 'admin.token'}")
    say(f"app revision   {setup.revision}  (dev answers with it)")
    say("")
    say(f"  {'APP':<13} {'SYNC':<10} {'HEALTH':<11} URL")
    for name in ("demo-dev", "demo-staging", "demo-prod"):
        say(_env_line(controller.application(name)))
    say("")
    say("try: conveyor app list | conveyor app get demo-dev | conveyor app sync demo-staging")
    return True
