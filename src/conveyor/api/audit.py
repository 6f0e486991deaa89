"""The audit trail of the API: one entry per request that may change something.

A plain ASGI middleware around the routes (outside ``BodyGuard``, so a refused token is
audited too). For every POST, PUT, PATCH and DELETE under ``/api/`` and under the web UI's
``/ui/`` it records who (the token's name, the session's token for the UI; ``anonymous`` when
none was verified), what (Argo CD's resource and action from the route table,
``applications.sync``; for the UI, the resource and the button, ``applications.refresh``,
``applications.rollback``, and ``session.login`` / ``session.logout``), the target (from the
path; a created app's or project's name from its body), from where (the client address),
the app's synced revision before and after, and the outcome (the HTTP status). Nothing of a
body but those two names, and nothing of a query string or header, is kept, so no Secret
value or credential can reach the trail. Entries are handed to
``engine.activity.ActivityRecorder``, which never blocks.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conveyor.api.access import ROUTES
from conveyor.api.bodyguard import CALLER_STATE, MAX_BODY
from conveyor.engine.records import AuditEntry
from conveyor.errors import NotFoundError
from conveyor.model.objects import ObjectKey
from conveyor.redaction import strip_credentials
from conveyor.targets.protocol import TRACKING_LABEL

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
AUDITED = ("/api/", "/ui/")
"""The API, and the web UI's actions (its pages are GETs: only its buttons are audited)."""
SESSIONS = {"/ui/login": "session.login", "/ui/logout": "session.logout"}
NAMED_BY_BODY = frozenset({"/api/v1/applications", "/api/v1/projects"})
"""Creations: the target's name is in the body (read for ``metadata.name`` only)."""
KINDS = {
    "applications": "Application",
    "projects": "AppProject",
    "rollouts": "Rollout",
    "account": "Token",
    "repositories": "Repository",
    "clusters": "Cluster",
    "ci": "CiRun",
    "webhook": "Webhook",
    "session": "Session",
}


class AuditTrail:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if (
            scope["type"] != "http"
            or scope.get("method") not in MUTATING
            or not path.startswith(AUDITED)
        ):
            await self.app(scope, receive, send)
            return
        status = 500
        body = bytearray()
        before = _revision(scope, _app_in_path(path))

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        async def receive_wrapper() -> Message:
            message = await receive()
            if message["type"] == "http.request" and len(body) <= MAX_BODY:
                body.extend(message.get("body", b""))
            return message

        tee = path.rstrip("/") in NAMED_BY_BODY and scope.get("method") == "POST"
        try:
            await self.app(scope, receive_wrapper if tee else receive, send_wrapper)
        finally:
            _record(scope, status, before, bytes(body) if tee else b"")


def _record(scope: Scope, status: int, before: str, body: bytes) -> None:
    context = getattr(scope["app"].state, "context", None)
    activity = getattr(context, "activity", None)
    if activity is None:
        return
    path = str(scope.get("path", ""))
    method = str(scope.get("method", ""))
    caller = (scope.get("state") or {}).get(CALLER_STATE)
    route = scope.get("route")
    template = str(getattr(route, "path", path))
    params: dict[str, Any] = dict(scope.get("path_params") or {})
    entry = ROUTES.get((method, template))
    ui = template.startswith("/ui/")
    segments = [s for s in template.split("/") if s][1 if ui else 2 :]  # after /ui, /api/v1
    group = segments[0] if segments else ""
    if template in SESSIONS:
        action, group = SESSIONS[template], "session"
    elif entry is not None and ui and "{action}" not in entry[1]:
        action = f"{entry[0]}.{segments[-1]}"  # the button: applications.refresh
    elif entry is not None:
        verb = str(params.get("action") or (segments[-1] if segments else ""))
        action = f"{entry[0]}.{entry[1]}".replace("{action}", verb)
    elif group == "webhook":
        action = "webhook.push"
    else:
        action = f"{method.lower()} {template}"
    kind, target, app, project = _target(scope, group, params, body, caller)
    app = app or _app_in_path(path)
    client = scope.get("client")
    actor = getattr(caller, "name", None) or ("webhook" if group == "webhook" else "anonymous")
    activity.audit(
        AuditEntry(
            at=datetime.now(UTC),
            actor=str(actor),
            action=action,
            target_kind=kind,
            target=strip_credentials(target),
            app=app,
            project=project or _project(scope, app),
            source=str(client[0]) if client else "",
            revision_before=before,
            revision_after=_revision(scope, app),
            outcome=str(status),
        )
    )


def _target(
    scope: Scope, group: str, params: dict[str, Any], body: bytes, caller: Any = None
) -> tuple[str, str, str, str]:
    """(kind, target, app, project) of a request."""
    kind = KINDS.get(group, group)
    if group == "rollouts":
        name = str(params.get("name") or params.get("rollout") or "")
        namespace = str(params.get("namespace", ""))
        return kind, f"{namespace}/{name}", _rollout_app(scope, namespace, name), ""
    if body:
        meta, project = _named(body)
        app = meta if group == "applications" else ""
        return kind, meta, app, project if group == "applications" else meta
    if group == "session":
        return kind, str(getattr(caller, "name", "") or ""), "", ""
    name = str(params.get("name") or params.get("token_id") or params.get("run_id") or "")
    app = name if group == "applications" else ""
    return kind, name, app, name if group == "projects" else ""


def _named(body: bytes) -> tuple[str, str]:
    """``metadata.name`` and ``spec.project`` of a manifest; nothing else is read."""
    try:
        doc = json.loads(body)
    except ValueError:
        return "", ""
    if not isinstance(doc, dict):
        return "", ""
    meta, spec = doc.get("metadata"), doc.get("spec")
    name = meta.get("name") if isinstance(meta, dict) else None
    project = spec.get("project") if isinstance(spec, dict) else None
    return (
        name if isinstance(name, str) else "",
        project if isinstance(project, str) else "",
    )


def _app_in_path(path: str) -> str:
    parts = path.split("/")
    if len(parts) > 4 and parts[1:4] == ["api", "v1", "applications"]:
        return parts[4]
    if len(parts) > 3 and parts[1:3] == ["ui", "applications"]:
        return parts[3]
    return ""


def _application(scope: Scope, app: str) -> dict[str, Any] | None:
    context = getattr(scope["app"].state, "context", None)
    if not app or context is None:
        return None
    try:
        found: dict[str, Any] = context.controller.application(app)
    except NotFoundError:
        return None
    return found


def _revision(scope: Scope, app: str) -> str:
    found = _application(scope, app)
    sync = ((found or {}).get("status") or {}).get("sync") or {}
    revision = sync.get("revision")
    return revision if isinstance(revision, str) else ""


def _project(scope: Scope, app: str) -> str:
    project = ((_application(scope, app) or {}).get("spec") or {}).get("project")
    return project if isinstance(project, str) else ""


def _rollout_app(scope: Scope, namespace: str, name: str) -> str:
    context = getattr(scope["app"].state, "context", None)
    if context is None:
        return ""
    live = context.controller.live.get(ObjectKey("argoproj.io", "Rollout", namespace, name))
    labels = ((live or {}).get("metadata") or {}).get("labels") or {}
    app = labels.get(TRACKING_LABEL)
    return app if isinstance(app, str) else ""
