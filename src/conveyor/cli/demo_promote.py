"""``conveyor demo promote [--to staging|prod] [--approve]``: the running tag, one environment on.

Against the running ``conveyor demo`` server and its config repo: the pipeline is the config
repo's ``.conveyor/promotion.yaml`` (dev -> staging -> prod, prod asking a person's approval)
and the promotion is exactly ``conveyor promote demo --to ENV`` (conveyor.cli.promote_cmd.
run_promotion: the gates of conveyor.ci.promotion, the tag committed by write-back, never a
rebuild). Without ``--to`` it promotes into the first environment that does not run the tag of
the one before it. While the soak time is the only gate that fails, it waits for it. Then it
syncs the target (staging and prod are synced by hand in the demo) and waits until it is Synced
and Healthy with the promoted tag, printing every gate and where the environment answers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conveyor.ci.promotion import (
    PIPELINE_FILE,
    Pipeline,
    PromotionRecord,
    PromotionRefused,
    load_pipelines,
    running_tag,
)
from conveyor.cli.client import Client, CliError
from conveyor.cli.promote_cmd import environment_state, print_gates, run_promotion
from conveyor.cli.waiting import wait_for
from conveyor.errors import ConveyorError
from conveyor.settings import Settings

PIPELINE = "demo"


def demo_pipeline(settings: Settings) -> Pipeline:
    """The demo's promotion pipeline, from its config repo."""
    config_repo = settings.home / "demo" / "config-repo"
    path: Path = config_repo / PIPELINE_FILE
    if not path.is_file():
        raise CliError(
            f"no demo in {config_repo.parent}: run `conveyor demo` first (and keep it serving)"
        )
    try:
        pipelines = load_pipelines(path.read_text())
    except ConveyorError as err:
        raise CliError(str(err)) from err
    if PIPELINE not in pipelines:
        raise CliError(f"{path} has no pipeline {PIPELINE!r}")
    return pipelines[PIPELINE]


def _app(client: Client, name: str) -> dict[str, Any]:
    return dict(client.get(f"/api/v1/applications/{name}"))


def choose_target(client: Client, pipeline: Pipeline) -> str | None:
    """The first environment whose tag differs from the one before it (None: all alike)."""
    image = pipeline.image
    previous = running_tag(_app(client, pipeline.environments[0].application), image)
    for env in pipeline.environments[1:]:
        tag = running_tag(_app(client, env.application), image)
        if tag != previous:
            return env.name
        previous = tag
    return None


def _soak_left(client: Client, pipeline: Pipeline, to: str) -> float | None:
    """Seconds until the source's soak time is over (None when it has not served yet)."""
    source, _ = pipeline.step_to(to)
    state = environment_state(client, source.application, manifests=False)
    if state.served_at is None:
        return None
    return (source.soak - (datetime.now(UTC) - state.served_at)).total_seconds()


def promote_through_soak(
    client: Client,
    pipeline: Pipeline,
    to: str,
    *,
    approve: bool,
    deadline: float,
    say: Callable[[str], None],
) -> PromotionRecord:
    """``conveyor promote``, retried while the soak time is the only gate that fails."""
    while True:
        try:
            return run_promotion(client, pipeline, to, approve=approve)
        except PromotionRefused as err:
            failed = {g.name for g in err.gates if not g.held}
            if failed != {"soak"} or time.monotonic() > deadline:
                print_gates(err.gates, say)
                raise CliError(str(err)) from err
            left = _soak_left(client, pipeline, to)
            wait = 1.0 if left is None else min(max(left, 0.2), deadline - time.monotonic())
            detail = next(g.detail for g in err.gates if g.name == "soak")
            say(f"waiting {max(wait, 0):.0f}s for the soak time ({detail})")
            time.sleep(max(wait, 0.2))
        except ConveyorError as err:
            raise CliError(str(err)) from err


def sync_and_wait(
    client: Client, name: str, image: str, *, timeout: float, say: Callable[[str], None]
) -> dict[str, Any]:
    """Sync ``name`` (refreshed first: the promotion just committed) and wait until it is
    Synced and Healthy running ``image``."""
    client.get(f"/api/v1/applications/{name}", refresh="normal")
    client.post(f"/api/v1/applications/{name}/sync", {"prune": True})
    say(f"syncing {name}...")

    def done(app: dict[str, Any]) -> bool:
        status = app.get("status") or {}
        return (
            (status.get("sync") or {}).get("status") == "Synced"
            and (status.get("health") or {}).get("status") == "Healthy"
            and image in ((status.get("summary") or {}).get("images") or [])
            and ((status.get("operationState") or {}).get("phase") == "Succeeded")
        )

    what = f"Synced and Healthy with {image}"
    return wait_for(client, name, done, what=what, timeout=timeout)


def run(*, to: str | None, approve: bool, timeout: float, say: Callable[[str], None]) -> int:
    """Promote, sync, wait; the exit code (a refusal is a CliError naming the gates)."""
    pipeline = demo_pipeline(Settings.from_env())
    deadline = time.monotonic() + timeout
    with Client() as client:
        target = to or choose_target(client, pipeline)
        if target is None:
            first = pipeline.environments[0].application
            tag = running_tag(_app(client, first), pipeline.image)
            say(f"every environment runs {pipeline.image}:{tag or '?'}: nothing to promote")
            return 0
        source, env = pipeline.step_to(target)
        say(f"promoting {pipeline.image} from {source.name} to {env.name}")
        record = promote_through_soak(
            client, pipeline, target, approve=approve, deadline=deadline, say=say
        )
        print_gates(record.gates, say)
        image = f"{record.image}:{record.tag}"
        if record.commit:
            say(f"promoted {image} to {env.name}: config commit {record.commit[:12]}")
        else:
            say(f"{env.name}'s config already names {image}: nothing to commit")
        app = sync_and_wait(
            client, env.application, image, timeout=max(deadline - time.monotonic(), 1.0), say=say
        )
    urls = ((app.get("status") or {}).get("summary") or {}).get("externalURLs") or []
    say(f"{env.application} Synced and Healthy with {image}" + (f": {urls[0]}" if urls else ""))
    return 0
