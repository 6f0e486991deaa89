"""``conveyor demo release [--bad]``: a canary release of the demo's prod, good or bad, watched.

It is what a team does to ship, against the running ``conveyor demo`` server: a good release
is a new commit of the demo app, built by ``conveyor ci run`` into an artifact whose tag its
write-back stage commits to the prod overlay (demo-prod's Image Updater annotations); a bad
one commits ``ERROR_RATE=0.3`` to the overlay's ConfigMap instead (the same build, so no
rebuild), which makes 30 % of the new Pods' answers 500s. Then it syncs
demo-prod, runs a bounded load generator against the prod Service on 127.0.0.1 and follows
the Rollout's event stream, printing each change of step and weights with every
ReplicaSet's success rate (as users saw it) and the analysis' measurements, until the Rollout
is Healthy with the old ReplicaSet scaled down, or aborted. Exit 0 when the release ended as
the kind of release predicts (good: promoted; bad: aborted), else 1.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conveyor.api.rollout_info import finished
from conveyor.cli.client import Client, CliError
from conveyor.cli.demo_load import LoadGenerator
from conveyor.cli.demo_setup import ARTIFACT, application_of, git
from conveyor.settings import Settings

APP, NAMESPACE, ROLLOUT, SERVICE = "demo-prod", "demo-prod", "demo-app", "demo-app"
BAD_ERROR_RATE = "0.3"
_ERROR_RATE = re.compile(r"^(\s*-\s*ERROR_RATE=)[0-9.]+", re.MULTILINE)
_TEMPLATE = re.compile(r"^(\s*-\s*templateName:\s*)success-rate(-builtin)?\s*$", re.MULTILINE)
TEMPLATES = {"prometheus": "success-rate", "builtin": "success-rate-builtin"}


@dataclass
class Outcome:
    """What the release did: how it ended and when (seconds after the push)."""

    verdict: str = ""
    pushed_at: float = 0.0
    ended_after: float | None = None
    promoted_after: float | None = None
    failed_seen_at: float | None = None
    """Monotonic time the watch first showed the AnalysisRun Failed."""
    max_weight: int = 0
    aborted_at: float | None = None
    canary: str = ""
    stable: str = ""
    lines: list[str] = field(default_factory=list)


def _paths(settings: Settings) -> tuple[Path, Path]:
    root = settings.home / "demo"
    app_repo, config_repo = root / "demo-app", root / "config-repo"
    if not (app_repo / ".git").is_dir() or not (config_repo / ".git").is_dir():
        raise CliError(f"no demo in {root}: run `conveyor demo` first (and keep it serving)")
    return app_repo, config_repo


def _edit(path: Path, pattern: re.Pattern[str], value: str) -> bool:
    text = path.read_text()
    if not pattern.search(text):
        raise CliError(f"{path} has no line for {pattern.pattern!r}: was it edited by hand?")
    updated = pattern.sub(rf"\g<1>{value}", text)
    path.write_text(updated)
    return updated != text


def choose_template(analysis: str) -> str:
    """The AnalysisTemplate for ``analysis`` (auto: Prometheus when Conveyor runs one)."""
    if analysis == "auto":
        from conveyor.targets.local.monitoring.supervisor import find_binary

        off = os.environ.get("CONVEYOR_PROMETHEUS", "").strip().lower() == "off"
        analysis = "prometheus" if find_binary() and not off else "builtin"
    if analysis not in TEMPLATES:
        raise CliError(f"--analysis must be auto, builtin or prometheus, not {analysis!r}", code=2)
    return TEMPLATES[analysis]


async def _build(
    settings: Settings, app_repo: Path, config_repo: Path, say: Callable[[str], None]
) -> str:
    """A new commit of the demo app, built by the CI pipeline, its tag written back to prod;
    the commit's SHA."""
    from conveyor.cli.ci_cmd import run_here

    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    (app_repo / "RELEASE").write_text(f"released by `conveyor demo release` at {stamp}\n")
    git(app_repo, "add", "RELEASE")
    git(app_repo, "commit", "-q", "-m", f"demo-app: release {stamp}")
    revision = git(app_repo, "rev-parse", "HEAD")
    say(f"building artifact {ARTIFACT}:{revision[:12]} with `conveyor ci run`")
    run = await run_here(
        app_repo, revision=revision, applications=[application_of(config_repo, APP)],
        settings=settings, say=lambda line: say(f"  {line}"),
    )  # fmt: skip
    if run["status"] == "failed":
        raise CliError(f"the CI run {run['id']} failed: `conveyor ci logs {run['id']}`")
    return revision


def commit_release(
    settings: Settings,
    *,
    bad: bool,
    template: str,
    say: Callable[[str], None],
    error_rate: str = BAD_ERROR_RATE,
) -> str:
    """Commit the release to the config repo (building a good one first); its message."""
    import asyncio

    app_repo, config_repo = _paths(settings)
    overlay = config_repo / "overlays" / "prod"
    _edit(overlay / "rollout.yaml", _TEMPLATE, template)
    if bad:
        if not _edit(overlay / "kustomization.yaml", _ERROR_RATE, error_rate):
            raise CliError(f"prod already runs with ERROR_RATE={error_rate}: release a good one")
        message = f"demo-prod: ERROR_RATE={error_rate} (a bad release)"
        _commit(config_repo, message)
    else:
        _edit(overlay / "kustomization.yaml", _ERROR_RATE, "0.0")
        _commit(config_repo, f"demo-prod: analysis {template}, ERROR_RATE=0.0")
        revision = asyncio.run(_build(settings, app_repo, config_repo, say))
        message = f"demo-prod: image tag -> {revision} (write-back)"
    say(f"committed to the config repo: {message}")
    return message


def _commit(config_repo: Path, message: str) -> None:
    """Commit the working tree's edits, if any (write-back pushes need it clean)."""
    git(config_repo, "add", "-A")
    if git(config_repo, "status", "--porcelain"):
        git(config_repo, "commit", "-q", "-m", message)


def _sync(client: Client) -> None:
    client.get(f"/api/v1/applications/{APP}", refresh="normal")
    client.post(f"/api/v1/applications/{APP}/sync", {"prune": True})


def service_url(client: Client, timeout: float) -> str:
    """The prod Service's address on 127.0.0.1 (its live status), once it has one."""
    deadline = time.monotonic() + timeout
    while True:
        live = client.get(f"/api/v1/applications/{APP}/manifests", source="live")["manifests"]
        for item in live:
            obj = json.loads(item) if isinstance(item, str) else item
            if obj.get("kind") == "Service" and obj["metadata"]["name"] == SERVICE:
                for ingress in (obj.get("status") or {}).get("loadBalancer", {}).get(
                    "ingress"
                ) or []:
                    for port in ingress.get("ports") or []:
                        return f"http://{ingress.get('ip') or '127.0.0.1'}:{port['port']}/"
        if time.monotonic() > deadline:
            raise CliError(f"the {SERVICE} Service of {APP} has no address after {timeout:g}s")
        time.sleep(0.5)


def _info(client: Client) -> dict[str, Any]:
    info: dict[str, Any] = client.get(f"/api/v1/rollouts/{NAMESPACE}/{ROLLOUT}/info")
    return info


def _stream(client: Client, on_info: Callable[[dict[str, Any]], bool]) -> None:
    """Call ``on_info`` with each RolloutInfo from the server's stream until it says stop."""
    path = f"/api/v1/rollouts/{NAMESPACE}/{ROLLOUT}/info/watch"
    with client.stream_lines(path) as lines:
        for line in lines:
            if line.startswith("data:") and on_info(
                json.loads(line.removeprefix("data:"))["result"]
            ):
                return
    raise CliError(f"the server closed the watch of {ROLLOUT!r} before the release ended")


def ensure_deployed(client: Client, say: Callable[[str], None], timeout: float) -> None:
    """Sync prod once if its Rollout is not there yet and wait until it is Healthy."""
    rollouts = client.get(f"/api/v1/rollouts/{NAMESPACE}/info").get("rollouts") or []
    if not any(r["objectMeta"]["name"] == ROLLOUT for r in rollouts):
        say(f"{APP} is not deployed yet: syncing it (the first revision goes straight to 100 %)")
        _sync(client)
    deadline = time.monotonic() + timeout

    def healthy(info: dict[str, Any]) -> bool:
        if time.monotonic() > deadline:
            raise CliError(f"{ROLLOUT} is not Healthy after {timeout:g}s: {info['status']}")
        return finished(info) is not None

    _stream(client, healthy)


def _rs_line(info: dict[str, Any], load: LoadGenerator, since: float) -> str:
    tallies = load.tallies(since)
    parts = []
    for rs in info.get("replicaSets") or []:
        name = rs["objectMeta"]["name"]
        role = "canary" if rs.get("canary") else "stable" if rs.get("stable") else "old"
        tally = tallies.get(name)
        rate = tally.success_rate if tally else None
        shown = f"{rate:.0%} of {tally.total}" if tally and rate is not None else "no requests"
        parts.append(f"{name} ({role}, {rs.get('available', 0)}/{rs.get('replicas', 0)}): {shown}")
    return "; ".join(parts)


def _canary_weight(info: dict[str, Any]) -> int:
    """The canary's share of traffic: 0 once Healthy or aborted (all on stable)."""
    if finished(info) is not None:
        return 0
    try:
        return int(info.get("actualWeight") or 0)
    except ValueError:
        return 0


def _analysis(info: dict[str, Any]) -> str:
    runs = info.get("analysisRuns") or []
    if not runs:
        return ""
    run = runs[0]
    values = [m.get("value", "") for m in run.get("nonJobInfo") or []][-3:]
    return f"analysis {run['objectMeta']['name']}: {run['status']} {values}"


def follow(
    client: Client,
    load: LoadGenerator,
    *,
    pushed_at: float,
    timeout: float,
    say: Callable[[str], None],
) -> Outcome:
    """Print the release's progress until it ends; how it ended. The release is judged
    once a canary is seen running: what the stream shows first may be the state before the
    push (an earlier abort, Degraded, or Healthy without a canary)."""
    outcome = Outcome(pushed_at=pushed_at)
    seen: dict[str, Any] = {"key": None, "new": False, "after": 0.0, "stale": None}

    def on_info(info: dict[str, Any]) -> bool:
        elapsed = time.monotonic() - pushed_at
        if elapsed > timeout:
            raise CliError(f"the release did not end within {timeout:g}s: {info['status']}")
        sets = info.get("replicaSets") or []
        canary = next((rs for rs in sets if rs.get("canary")), None)
        stable = next((rs for rs in sets if rs.get("stable")), None)
        if canary is not None and finished(info) is None and not seen["new"]:
            seen["new"] = True
            outcome.canary = canary["objectMeta"]["name"]
        if stable is not None:
            outcome.stable = stable["objectMeta"]["name"]
        key = (info["status"], info.get("step"), info.get("setWeight"), info.get("actualWeight"))
        if key != seen["key"] or elapsed - seen["after"] >= 5:
            seen["key"], seen["after"] = key, elapsed
            weight = _canary_weight(info)
            say(
                f"[{elapsed:5.1f}s] {info['status']:<11} step {info.get('step') or '-':<5} "
                f"weights: canary {weight}%, stable {100 - weight}%"
            )
            say(f"         {_rs_line(info, load, pushed_at)}")
            if analysis := _analysis(info):
                say(f"         {analysis}")
        done = finished(info)
        runs = info.get("analysisRuns") or []
        if seen["stale"] is None:  # runs that had ended before the push are not this release's
            seen["stale"] = {r["objectMeta"]["name"] for r in runs if r["status"] != "Running"}
        failed = [
            r
            for r in runs
            if r["status"] == "Failed" and r["objectMeta"]["name"] not in seen["stale"]
        ]
        if seen["new"] and failed and not outcome.failed_seen_at:
            outcome.failed_seen_at = time.monotonic()
        if seen["new"]:
            outcome.max_weight = max(outcome.max_weight, _canary_weight(info))
        if not seen["new"]:  # still the state before the push (maybe an earlier abort)
            return False
        if done is False or "abort" in str(info.get("message", "")).lower():
            outcome.verdict = "aborted"
            outcome.aborted_at = outcome.ended_after = elapsed
            say(f"         aborted: {info.get('message', '')}")
            return True
        if done is True:
            if outcome.promoted_after is None:
                outcome.promoted_after = elapsed
            others = [
                rs for rs in sets if not rs.get("stable") and int(rs.get("replicas") or 0) > 0
            ]
            if others:  # the old ReplicaSet stays up for scaleDownDelaySeconds (30 s)
                return False
            outcome.verdict = "promoted"
            outcome.ended_after = elapsed
            return True
        return False

    _stream(client, on_info)
    return outcome


def summary(outcome: Outcome, load: LoadGenerator) -> list[str]:
    """The closing lines: verdict, timings, success rates, requests the canary served late."""
    lines = [f"verdict: {outcome.verdict}"]
    if outcome.aborted_at is not None:
        lines.append(f"time from push to abort: {outcome.aborted_at:.1f}s")
        late = load.tallies(outcome.pushed_at + outcome.aborted_at).get(outcome.canary)
        after = load.tallies(outcome.pushed_at + outcome.aborted_at)
        served = sum(t.total for t in after.values())
        on_stable = after[outcome.stable].total if outcome.stable in after else 0
        lines.append(
            f"after the abort: {served} requests, {on_stable} served by the stable "
            f"{outcome.stable}, {late.total if late else 0} by the canary {outcome.canary}"
        )
    if outcome.promoted_after is not None:
        lines.append(f"time from push to 100 %: {outcome.promoted_after:.1f}s")
    if outcome.verdict == "promoted" and outcome.ended_after is not None:
        lines.append(
            f"time from push to 100 % with the old ReplicaSet scaled down: "
            f"{outcome.ended_after:.1f}s"
        )
    for name, tally in sorted(load.tallies(outcome.pushed_at).items()):
        rate = tally.success_rate
        shown = f"success rate {rate:.1%}" if rate is not None else "no answers"
        lines.append(f"  {name}: {tally.total} requests, {shown}")
    everything = load.tallies(outcome.pushed_at).values()
    failed, total = sum(t.failed for t in everything), sum(t.total for t in everything)
    if total:
        lines.append(f"user requests that failed: {failed}/{total} ({failed / total:.1%})")
    return lines


def release(
    *,
    bad: bool,
    analysis: str,
    timeout: float,
    rate: float,
    say: Callable[[str], None],
    error_rate: str = BAD_ERROR_RATE,
) -> tuple[Outcome, LoadGenerator]:
    """Push a release and follow it to its end (``error_rate``: of a bad one)."""
    settings = Settings.from_env()
    template = choose_template(analysis)
    with Client() as client:
        ensure_deployed(client, say, timeout)
        url = service_url(client, timeout)
        load = LoadGenerator(url, rate=rate, max_seconds=timeout + 60)
        load.start()
        try:
            commit_release(settings, bad=bad, template=template, say=say, error_rate=error_rate)
            pushed_at = time.monotonic()
            _sync(client)
            say(f"synced {APP}; load on {url} at {rate:g} requests/s")
            outcome = follow(client, load, pushed_at=pushed_at, timeout=timeout, say=say)
            if outcome.aborted_at is not None:  # a few seconds more: the canary serves nothing
                time.sleep(3)
        finally:
            load.stop()
    return outcome, load


def run(
    *, bad: bool, analysis: str, timeout: float, rate: float, say: Callable[[str], None]
) -> int:
    """The whole release, its summary printed; the exit code."""
    outcome, load = release(bad=bad, analysis=analysis, timeout=timeout, rate=rate, say=say)
    for line in summary(outcome, load):
        say(line)
    expected = "aborted" if bad else "promoted"
    return 0 if outcome.verdict == expected else 1
