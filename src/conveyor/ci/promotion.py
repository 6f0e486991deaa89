"""Promotion: move the exact tag running in one environment into the next, through gates.

Environments are an ordered pipeline declared in the config repository
(``.conveyor/promotion.yaml``); each environment is an Application whose Image Updater
annotations say where its tag lives. ``promote`` never rebuilds: it reads the tag the previous
environment runs (its ``status.summary.images``) and commits that tag into the next
environment's config by write-back, when every gate holds (Kargo's verification, in short):

- ``source-healthy``: the previous environment is Healthy and Synced;
- ``soak``: and has been serving its revision (the deployment record's ``servedAt``) for the
  soak time;
- ``analysis``: its AnalysisRuns succeeded (none failed, none still running);
- ``policy``: the next environment's manifests, with the new tag, pass the policy bundle for
  that environment;
- ``approval``: an environment that asks for approval (prod) gets it from a person
  (``--approve``).

A refusal names the gates that failed. A promotion is recorded in the config commit itself
(Git is the record that cannot drift): trailers name the environments, the tag, who promoted
and every gate with what it saw, next to the app commit carried over from the source. Each
attempt, refused ones too, is also a ``PromotionRecord`` that the server keeps
(``/api/v1/promotions``).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from conveyor.ci.imageupdater import read_config
from conveyor.ci.writeback import (
    RUN_TRAILER,
    Author,
    Checkout,
    pin_reason,
    request_for,
)
from conveyor.ci.yamledit import image_name
from conveyor.errors import ConveyorError, ValidationError
from conveyor.model.trailers import APP_COMMIT_DATE_TRAILER, APP_COMMIT_TRAILER
from conveyor.policy.rego import evaluate, load_bundle
from conveyor.source.cache import CredentialLookup

PIPELINE_FILE = ".conveyor/promotion.yaml"
PROMOTION_TRAILER = "Conveyor-Promotion"
PROMOTED_BY_TRAILER = "Conveyor-Promoted-By"
GATE_TRAILER = "Conveyor-Gate"
PROMOTED = "promoted"
REFUSED = "refused"
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


class PromotionRefused(ConveyorError):
    """A gate did not hold; the message names every one that failed. ``record`` is the
    refusal as it is kept (``outcome`` refused), when the promotion got as far as the gates."""

    def __init__(
        self, message: str, gates: Sequence[GateCheck], record: PromotionRecord | None = None
    ) -> None:
        super().__init__(message)
        self.gates = list(gates)
        self.record = record


def parse_duration(text: str | int) -> timedelta:
    """``90s``, ``10m``, ``1h30m`` (or a number of seconds)."""
    if isinstance(text, int):
        return timedelta(seconds=text)
    match = _DURATION.match(str(text).strip())
    if not match or not any(match.groups()):
        raise ValidationError(f"duration {text!r} is not like 30s, 10m or 1h30m")
    h, m, s = (int(g or 0) for g in match.groups())
    return timedelta(hours=h, minutes=m, seconds=s)


@dataclass(frozen=True)
class Environment:
    name: str
    application: str
    soak: timedelta
    approval: bool


@dataclass(frozen=True)
class Pipeline:
    """One app's environments, in promotion order."""

    name: str
    environments: tuple[Environment, ...]
    image: str = ""
    """The promoted image (name without tag); "" for the first of the apps' image-list."""
    policy: str = "default"

    def step_to(self, target: str) -> tuple[Environment, Environment]:
        """(previous, target) environments; raises when ``target`` is not a later stage."""
        names = [e.name for e in self.environments]
        if target not in names:
            raise ValidationError(
                f"pipeline {self.name!r} has no environment {target!r} (it has {', '.join(names)})"
            )
        index = names.index(target)
        if index == 0:
            raise ValidationError(f"{target!r} is the first environment: nothing promotes to it")
        return self.environments[index - 1], self.environments[index]


def load_pipelines(text: str) -> dict[str, Pipeline]:
    """The pipelines of a ``.conveyor/promotion.yaml``."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise ValidationError(f"{PIPELINE_FILE} is not valid YAML: {err}") from err
    pipelines: dict[str, Pipeline] = {}
    for raw in data.get("pipelines") or []:
        name = str(raw.get("name") or "")
        default_soak = raw.get("soak", "0s")
        envs = tuple(
            Environment(
                name=str(e["name"]),
                application=str(e.get("application") or f"{name}-{e['name']}"),
                soak=parse_duration(e.get("soak", default_soak)),
                approval=bool(e.get("approval", False)),
            )
            for e in raw.get("environments") or []
        )
        if not name or len(envs) < 2:
            raise ValidationError(f"{PIPELINE_FILE}: a pipeline needs a name and 2+ environments")
        pipelines[name] = Pipeline(
            name, envs, str(raw.get("image") or ""), raw.get("policy", "default")
        )
    return pipelines


@dataclass(frozen=True)
class GateCheck:
    """One gate: whether it held and what it saw."""

    name: str
    held: bool
    detail: str

    def trailer(self) -> str:
        return f"{self.name} {'held' if self.held else 'FAILED'}: {self.detail}"


@dataclass(frozen=True)
class EnvironmentState:
    """What the server says about one environment's application."""

    application: Mapping[str, Any]
    served_at: datetime | None = None
    """When it began serving its current revision (deployment record), None if not yet."""
    manifests: Sequence[Mapping[str, Any]] = field(default_factory=list)
    """Its rendered manifests (for the policy gate of the target environment)."""


def running_tag(application: Mapping[str, Any], image: str) -> str:
    """The tag of ``image`` the app runs (``status.summary.images``); "" when none."""
    for ref in ((application.get("status") or {}).get("summary") or {}).get("images") or []:
        ref = str(ref)
        if image_name(ref) == image and ":" in ref[len(image) :]:
            return ref[len(image) + 1 :].split("@", 1)[0]
    return ""


def promoted_image(pipeline: Pipeline, target_app: Mapping[str, Any]) -> str:
    if pipeline.image:
        return pipeline.image
    return next(iter(read_config(target_app).images.values()))


def _with_tag(objects: Sequence[Mapping[str, Any]], image: str, tag: str) -> list[Any]:
    def walk(node: Any) -> Any:
        if isinstance(node, Mapping):
            out = {k: walk(v) for k, v in node.items()}
            ref = out.get("image")
            if isinstance(ref, str) and image_name(ref) == image:
                out["image"] = f"{image}:{tag}"
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return [walk(o) for o in objects]


def check_gates(
    pipeline: Pipeline,
    source: Environment,
    target: Environment,
    source_state: EnvironmentState,
    target_state: EnvironmentState,
    *,
    image: str,
    now: datetime,
    approved: bool,
) -> tuple[str, list[GateCheck]]:
    """The tag to promote and every gate's verdict (all are checked, to name each failure)."""
    app = source_state.application
    status = app.get("status") or {}
    health = (status.get("health") or {}).get("status", "Unknown")
    sync = (status.get("sync") or {}).get("status", "Unknown")
    tag = running_tag(app, image)
    gates = [
        GateCheck(
            "source-healthy",
            health == "Healthy" and sync == "Synced" and bool(tag),
            f"{source.name} ({source.application}) is {health} and {sync}"
            + (f", running {image}:{tag}" if tag else f", running no {image} image"),
        )
    ]
    if source_state.served_at is None:
        gates.append(GateCheck("soak", False, f"{source.name} has not served its revision yet"))
    else:
        served_for = now - source_state.served_at
        gates.append(
            GateCheck(
                "soak",
                served_for >= source.soak,
                f"{source.name} served for {int(served_for.total_seconds())}s of "
                f"{int(source.soak.total_seconds())}s",
            )
        )
    runs = [r for r in status.get("resources") or [] if r.get("kind") == "AnalysisRun"]
    bad = [
        f"{r.get('name')} {(r.get('health') or {}).get('status', 'Unknown')}"
        for r in runs
        if (r.get("health") or {}).get("status") != "Healthy"
    ]
    gates.append(
        GateCheck(
            "analysis",
            not bad,
            ("not successful: " + ", ".join(bad))
            if bad
            else f"{len(runs)} analysis runs succeeded",
        )
    )
    denied = [
        v.message
        for v in evaluate(
            load_bundle(pipeline.policy),
            _with_tag(target_state.manifests, image, tag or "unknown"),
            environment=target.name,
        )
        if v.deny
    ]
    gates.append(
        GateCheck(
            "policy",
            not denied,
            "; ".join(denied) if denied else f"{target.name} manifests pass {pipeline.policy}",
        )
    )
    if target.approval:
        gates.append(
            GateCheck(
                "approval",
                approved,
                "approved" if approved else f"{target.name} needs --approve from a person",
            )
        )
    return tag, gates


def refuse_unless_held(
    target: Environment, gates: Sequence[GateCheck], refusal: PromotionRecord | None = None
) -> None:
    """Raise PromotionRefused naming every failed gate (with ``refusal`` as its record)."""
    failed = [g for g in gates if not g.held]
    if failed:
        message = f"promotion to {target.name} refused: " + "; ".join(
            f"gate {g.name} failed: {g.detail}" for g in failed
        )
        record = replace(refusal, outcome=REFUSED, message=message) if refusal else None
        raise PromotionRefused(message, gates, record)


def promotion_trailers(
    source: Environment, target: Environment, tag: str, user: str, gates: Sequence[GateCheck]
) -> tuple[tuple[str, str], ...]:
    return (
        (PROMOTION_TRAILER, f"{source.name} -> {target.name} {tag}"),
        (PROMOTED_BY_TRAILER, user),
        *((GATE_TRAILER, g.trailer()) for g in gates),
    )


@dataclass(frozen=True)
class PromotionRecord:
    """What was promoted where, by whom, when, past which gates, in which config commit."""

    pipeline: str
    source: str
    target: str
    image: str
    tag: str
    user: str
    at: datetime
    gates: tuple[GateCheck, ...]
    commit: str
    branch: str
    app_commit: str = ""
    app: str = ""
    """The target environment's Application."""
    outcome: str = PROMOTED
    """``promoted``, or ``refused`` (then ``commit`` is "" and ``message`` says why)."""
    message: str = ""

    @property
    def failed_gates(self) -> list[str]:
        return [g.name for g in self.gates if not g.held]

    def to_dict(self) -> dict[str, Any]:
        """The API's shape (``/api/v1/promotions``; the store keeps it as it is)."""
        return {
            "pipeline": self.pipeline,
            "app": self.app,
            "from": self.source,
            "to": self.target,
            "image": f"{self.image}:{self.tag}" if self.tag else self.image,
            "tag": self.tag,
            "promotedBy": self.user,
            "promotedAt": self.at.isoformat(),
            "outcome": self.outcome,
            "failedGates": self.failed_gates,
            "message": self.message,
            "gates": [{"name": g.name, "held": g.held, "detail": g.detail} for g in self.gates],
            "commit": self.commit,
            "branch": self.branch,
            "appCommit": self.app_commit,
        }


async def promote(
    pipeline: Pipeline,
    target_name: str,
    states: Mapping[str, EnvironmentState],
    *,
    user: str,
    approved: bool,
    now: datetime,
    author: Author | None = None,
    credentials: CredentialLookup | None = None,
) -> PromotionRecord:
    """Check the gates, then commit the source's running tag into the target's config.

    ``states`` maps environment names (at least the source and the target) to their state;
    ``credentials`` finds the config repository's stored credentials (``conveyor repo add``).
    Raises PromotionRefused naming every failing gate (a pinned target included).
    """
    source, target = pipeline.step_to(target_name)
    target_app = states[target.name].application
    image = promoted_image(pipeline, target_app)
    tag, gates = check_gates(
        pipeline, source, target, states[source.name], states[target.name],
        image=image, now=now, approved=approved,
    )  # fmt: skip
    app_name = str((target_app.get("metadata") or {}).get("name") or target.application)
    refusal = PromotionRecord(
        pipeline.name, source.name, target.name, image, tag, user, now, tuple(gates),
        "", "", app=app_name, outcome=REFUSED,
    )  # fmt: skip
    refuse_unless_held(target, gates, refusal)
    pinned = pin_reason(target_app)
    if pinned:
        message = f"promotion to {target.name} refused: {pinned}"
        pin = GateCheck("unpinned", False, pinned)
        raise PromotionRefused(
            message, gates, replace(refusal, gates=(*gates, pin), message=message)
        )
    request, _ = request_for(target_app, {image: tag}, author=author, credentials=credentials)
    source_revision = str(
        ((states[source.name].application.get("status") or {}).get("sync") or {}).get("revision")
        or ""
    )
    with tempfile.TemporaryDirectory(prefix="conveyor-promote-") as tmp:
        checkout = Checkout(request, Path(tmp) / "repo")
        await checkout.clone()
        carried = await checkout.trailers(source_revision)
        checkout.request = replace(
            request,
            app_commit=carried.get(APP_COMMIT_TRAILER, ""),
            app_commit_date=carried.get(APP_COMMIT_DATE_TRAILER, ""),
            run_id=carried.get(RUN_TRAILER, ""),
            subject=f"promote {pipeline.name} {image}:{tag} from {source.name} to {target.name}",
            trailers=promotion_trailers(source, target, tag, user, gates),
        )
        result = await checkout.land()
    return PromotionRecord(
        pipeline.name, source.name, target.name, image, tag, user, now, tuple(gates),
        result.commit, result.branch, checkout.request.app_commit, app=app_name,
    )  # fmt: skip
