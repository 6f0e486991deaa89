"""What ``conveyor demo`` prepares: the app and config repos, the artifact, the Applications.

Everything lives under CONVEYOR_HOME/demo as real git repositories, so the demo is the same
flow a user runs: a commit to the app repo becomes an artifact tagged with its SHA, the tag is
committed to the config repo's dev overlay, and Conveyor deploys the config repo. Running it
again reuses what exists: the repos are kept (with whatever commits the user made), the
artifact of the app's HEAD is built only if missing, and the tag commit happens only when the
overlay does not already name that SHA.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from conveyor.artifacts import ArtifactStore
from conveyor.engine.controller import Controller
from conveyor.settings import Settings

ARTIFACT = "demo-app"
ENVIRONMENTS = ("dev", "staging", "prod")
_DEMO_SOURCES = Path(__file__).resolve().parent / "demo_sources"
_TAG_LINE = re.compile(r"^(\s*newTag:\s*)\S+", re.MULTILINE)
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


def _set_tags(config_repo: Path, revision: str) -> bool:
    """Point dev at ``revision`` (as CI does on every build) and staging and prod too the
    first time, so that syncing them by hand works before any promotion; True on a change."""
    changed = False
    for env in ENVIRONMENTS:
        path = config_repo / "overlays" / env / "kustomization.yaml"
        text = path.read_text()
        if env != "dev" and "REPLACE_WITH_GIT_SHA" not in text:
            continue
        updated = _TAG_LINE.sub(rf"\g<1>{revision}", text)
        if updated != text:
            path.write_text(updated)
            changed = True
    return changed


def _applications(config_repo: Path) -> list[dict[str, Any]]:
    apps = []
    for env in ENVIRONMENTS:
        text = (config_repo / "apps" / f"demo-{env}.yaml").read_text()
        manifest = yaml.safe_load(text.replace(_REPO_PLACEHOLDER, f"file://{config_repo}"))
        apps.append(manifest)
    return apps


async def prepare(settings: Settings, progress: Callable[[str], None] = print) -> DemoSetup:
    """Create (or reuse) the repos, build the artifact of the app's HEAD, commit its tag."""
    examples = demo_sources()
    root = settings.home / "demo"
    root.mkdir(parents=True, exist_ok=True)
    app_repo, config_repo = root / "demo-app", root / "config-repo"
    _repo_from(examples / "demo-app", app_repo, "demo-app: the seeds' FastAPI service")
    _repo_from(examples / "config-repo", config_repo, "config: base and dev/staging/prod")
    revision = git(app_repo, "rev-parse", "HEAD")
    store = ArtifactStore(settings.artifacts_dir)
    if store.get(ARTIFACT, revision) is None:
        progress(f"building artifact {ARTIFACT}:{revision[:12]} (a venv from requirements.txt)")
        await store.build(ARTIFACT, source=str(app_repo), revision=revision, progress=None)
    if _set_tags(config_repo, revision):
        git(config_repo, "add", "-A")
        git(config_repo, "commit", "-q", "-m", f"demo-app: image tag -> {revision}")
        progress(f"committed image tag {revision[:12]} to the config repo")
    return DemoSetup(app_repo, config_repo, revision, _applications(config_repo))


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
