"""Who may call which route: every authenticated route is checked against the caller's role.

``require_access`` is the dependency of every authenticated router (``conveyor.api.app``). It
authenticates (``require_token``), then looks the route up in ``ROUTES`` by method and path
template and asks the token's policy (``conveyor.api.rbac``) about Argo CD's resource and
action on the object: ``<project>/<app>`` for an app's routes, its project read from the
controller. A route missing from the table is the admin's only, so a new route is never
open by accident. Lists (apps, projects, the event stream) are filtered per item by
``visible``; a body that names a project (create, update) is checked by ``enforce``.
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from conveyor.api import rbac
from conveyor.api.auth import require_token
from conveyor.errors import NotFoundError
from conveyor.model.objects import ObjectKey
from conveyor.store import TokenInfo
from conveyor.targets.protocol import TRACKING_LABEL

ADMIN_ONLY = "admin"
LIST = "list"
ROLLOUT = "rollout"
"""The object is the app that tracks the Rollout named by the path."""
ROLLOUT_ACTION = "argoproj.io/Rollout/{action}"
"""Argo CD's RBAC action of a resource action: ``action/<group>/<kind>/<name>``."""

# (method, route path) -> (resource, action, what the object is)
ROUTES: dict[tuple[str, str], tuple[str, str, str]] = {
    ("GET", "/api/v1/applications"): ("applications", "get", LIST),
    ("POST", "/api/v1/applications"): ("applications", "create", LIST),  # body: enforce()
    ("GET", "/api/v1/applications/{name}"): ("applications", "get", "app"),
    ("PUT", "/api/v1/applications/{name}"): ("applications", "update", "app"),
    ("PATCH", "/api/v1/applications/{name}"): ("applications", "update", "app"),
    ("DELETE", "/api/v1/applications/{name}"): ("applications", "delete", "app"),
    ("POST", "/api/v1/applications/{name}/sync"): ("applications", "sync", "app"),
    ("POST", "/api/v1/applications/{name}/rollback"): ("applications", "sync", "app"),
    ("DELETE", "/api/v1/applications/{name}/operation"): ("applications", "sync", "app"),
    ("GET", "/api/v1/applications/{name}/history"): ("applications", "get", "app"),
    ("GET", "/api/v1/applications/{name}/manifests"): ("applications", "get", "app"),
    ("GET", "/api/v1/applications/{name}/diff"): ("applications", "get", "app"),
    ("GET", "/api/v1/applications/{name}/resource-tree"): ("applications", "get", "app"),
    ("GET", "/api/v1/applications/{name}/events"): ("applications", "get", "app"),
    ("POST", "/api/v1/applications/{name}/resource"): ("applications", "update", "app"),
    ("GET", "/api/v1/applications/{name}/logs"): ("logs", "get", "app"),
    ("GET", "/api/v1/applications/{name}/resource/actions"): ("applications", "get", "app"),
    ("POST", "/api/v1/applications/{name}/resource/actions"): (
        "applications",
        f"action/{ROLLOUT_ACTION}",
        "app",
    ),
    ("GET", "/api/v1/rollouts/{namespace}/info"): ("applications", "get", LIST),
    ("GET", "/api/v1/rollouts/{namespace}/info/watch"): ("applications", "get", LIST),
    ("GET", "/api/v1/rollouts/{namespace}/{name}/info"): ("applications", "get", ROLLOUT),
    ("GET", "/api/v1/rollouts/{namespace}/{name}/info/watch"): ("applications", "get", ROLLOUT),
    **{
        ("PUT", f"/api/v1/rollouts/{{namespace}}/{{name}}/{verb}"): (
            "applications",
            f"action/{ROLLOUT_ACTION}",
            ROLLOUT,
        )
        for verb in ("promote", "abort", "retry", "restart", "pause", "resume")
    },
    ("PUT", "/api/v1/rollouts/{namespace}/{rollout}/set/{container}/{image:path}"): (
        "applications",
        "update",
        ROLLOUT,
    ),
    ("PUT", "/api/v1/rollouts/{namespace}/{rollout}/undo/{revision}"): (
        "applications",
        "update",
        ROLLOUT,
    ),
    ("GET", "/api/v1/stream/applications"): ("applications", "get", LIST),
    ("GET", "/api/v1/projects"): ("projects", "get", LIST),
    ("GET", "/api/v1/projects/{name}"): ("projects", "get", "project"),
    ("POST", "/api/v1/projects"): ("projects", "update", ADMIN_ONLY),
    ("DELETE", "/api/v1/projects/{name}"): ("projects", "delete", ADMIN_ONLY),
    ("GET", "/api/v1/account/tokens"): ("accounts", "get", "*"),
    ("POST", "/api/v1/account/token"): ("accounts", "update", ADMIN_ONLY),
    ("DELETE", "/api/v1/account/tokens/{token_id}"): ("accounts", "update", ADMIN_ONLY),
    ("GET", "/api/v1/clusters"): ("clusters", "get", "*"),
    ("POST", "/api/v1/clusters"): ("clusters", "create", ADMIN_ONLY),  # holds credentials
    ("DELETE", "/api/v1/clusters"): ("clusters", "delete", ADMIN_ONLY),
    ("GET", "/api/v1/artifacts"): ("artifacts", "get", "*"),
    ("GET", "/api/v1/deployments"): ("deployments", "get", "*"),
    ("GET", "/api/v1/promotions"): ("promotions", "get", "*"),
    ("POST", "/api/v1/promotions"): ("applications", "sync", LIST),  # body's app: enforce()
    ("GET", "/api/v1/notifications"): ("notifications", "get", "*"),
    ("GET", "/api/v1/notifications/config"): ("notifications", "get", "*"),
    # where notifications go, and the secrets they carry: the admin's
    ("POST", "/api/v1/notifications/config"): ("notifications", "update", ADMIN_ONLY),
    ("GET", "/api/v1/dora"): ("deployments", "get", "*"),
    ("GET", "/api/v1/reports/compliance"): ("deployments", "get", "*"),
    ("GET", "/api/v1/audit"): ("audit", "get", "*"),
    ("GET", "/api/v1/ci/runs"): ("ci", "get", "*"),
    ("GET", "/api/v1/ci/runs/{run_id}"): ("ci", "get", "*"),
    ("POST", "/api/v1/ci/runs"): ("ci", "create", ADMIN_ONLY),  # runs tools on the server
    # The web UI (conveyor.api.ui): the same rights as the API calls each page stands for.
    ("GET", "/ui/applications"): ("applications", "get", LIST),
    ("GET", "/ui/stream/applications"): ("applications", "get", LIST),
    ("GET", "/ui/applications/{name}"): ("applications", "get", "app"),
    ("GET", "/ui/applications/{name}/stream"): ("applications", "get", "app"),
    **{
        ("GET", f"/ui/applications/{{name}}/{tab}"): ("applications", "get", "app")
        for tab in ("tree", "diff", "manifests", "history", "events", "rollout", "sync", "delete")
    },
    ("GET", "/ui/applications/{name}/logs"): ("logs", "get", "app"),
    ("GET", "/ui/applications/{name}/logs/stream"): ("logs", "get", "app"),
    ("POST", "/ui/applications/{name}/sync"): ("applications", "sync", "app"),
    ("POST", "/ui/applications/{name}/refresh"): ("applications", "get", "app"),
    ("POST", "/ui/applications/{name}/rollback"): ("applications", "sync", "app"),
    ("POST", "/ui/applications/{name}/delete"): ("applications", "delete", "app"),
    ("GET", "/ui/pipelines"): ("ci", "get", "*"),
    ("GET", "/ui/pipelines/{run_id}"): ("ci", "get", "*"),
    ("GET", "/ui/deployments"): ("deployments", "get", "*"),
    ("POST", "/ui/applications/{name}/rollout/{rollout}/{action}"): (
        "applications",
        f"action/{ROLLOUT_ACTION}",
        "app",
    ),
    ("GET", "/ui/promotions"): ("promotions", "get", "*"),
    ("GET", "/ui/dora"): ("deployments", "get", "*"),
    ("GET", "/ui/compliance"): ("deployments", "get", "*"),
    ("GET", "/ui/audit"): ("audit", "get", "*"),
    ("GET", "/ui/notifications"): ("notifications", "get", "*"),
}


def policy_of(caller: TokenInfo) -> rbac.Policy:
    return rbac.parse_policy(caller.role, caller.policy)


def forbidden(caller: TokenInfo, resource: str, action: str, obj: str) -> HTTPException:
    return HTTPException(
        403,
        f"permission denied: token '{caller.name}' ({caller.role}) may not {action}"
        f" {resource} {obj}",
    )


def enforce(caller: TokenInfo, resource: str, action: str, obj: str) -> None:
    """403 unless the caller's role allows ``action`` on ``resource`` ``obj``."""
    if not policy_of(caller).allows(resource, action, obj):
        raise forbidden(caller, resource, action, obj)


def visible(caller: TokenInfo, resource: str, obj: str) -> bool:
    """Whether a list shows ``obj`` to the caller."""
    return policy_of(caller).allows(resource, "get", obj)


def app_object(app: dict[str, Any]) -> str:
    """``<project>/<name>``, the object of an app in policies."""
    meta, spec = app.get("metadata"), app.get("spec")
    name = meta.get("name") if isinstance(meta, dict) else None
    project = spec.get("project") if isinstance(spec, dict) else None
    return f"{project if isinstance(project, str) and project else 'default'}/{name or ''}"


async def require_access(
    request: Request, caller: Annotated[TokenInfo, Depends(require_token)]
) -> TokenInfo:
    """The caller, once its role allows this route on this object; 403 otherwise."""
    return await authorize(request, caller)


async def authorize(request: Request, caller: TokenInfo) -> TokenInfo:
    """``require_access`` for a caller already authenticated (the UI's pages)."""
    policy = policy_of(caller)
    if policy.is_admin:
        return caller
    route = request.scope.get("route")
    template = str(getattr(route, "path", request.url.path))
    entry = ROUTES.get((request.method, template))
    if entry is None or entry[2] == ADMIN_ONLY:
        resource, action = entry[:2] if entry else ("*", request.method.lower())
        raise forbidden(caller, resource, action, "(only role:admin may)")
    resource, action, kind = entry
    if kind == LIST:
        if not policy.may_list(resource):
            raise forbidden(caller, resource, action, "*")
        return caller
    name = str(request.path_params.get("name", ""))
    if "{action}" in action:
        action = action.format(action=await _action_name(request))
    if kind == ROLLOUT:
        tracked = _rollout_app(request)
        if tracked == "":  # no app tracks it: the admin's only (a missing one is a 404)
            raise forbidden(caller, resource, action, "(a Rollout no app tracks)")
        name, kind = tracked or "", "app"
    if kind == "app":
        obj = f"/{name}"
        with contextlib.suppress(NotFoundError):  # the handler answers 404 then
            obj = app_object(request.app.state.context.controller.application(name))
        if not policy.allows(resource, action, obj) and not (
            obj.startswith("/") and policy.may_list(resource)
        ):
            raise forbidden(caller, resource, action, obj)
        return caller
    obj = name if kind == "project" else kind
    if not policy.allows(resource, action, obj):
        raise forbidden(caller, resource, action, obj)
    return caller


async def _action_name(request: Request) -> str:
    """The action a request runs: the last path segment (Argo Rollouts' paths, the UI's
    rollout buttons), or the body's action name (Argo CD's resource actions; the handler
    reads the body again)."""
    verb = request.url.path.rstrip("/").rsplit("/", 1)[-1]
    if verb not in ("actions", "promote") or request.url.path.startswith("/ui/"):
        return verb
    try:
        body = await request.json() if await request.body() else None
    except ValueError:
        return "*"
    if verb == "promote":  # Argo Rollouts' promote; with {"full": true}, Argo CD's promote-full
        return "promote-full" if isinstance(body, dict) and body.get("full") else verb
    name = body.get("action") if isinstance(body, dict) else body
    return name if isinstance(name, str) and name else "*"


def _rollout_app(request: Request) -> str | None:
    """The app whose tracking label the Rollout carries: '' when none does, None when
    there is no such Rollout (the handler answers 404)."""
    params = request.path_params
    key = ObjectKey(
        "argoproj.io",
        "Rollout",
        str(params.get("namespace", "")),
        str(params.get("name") or params.get("rollout") or ""),
    )
    live = request.app.state.context.controller.live.get(key)
    if live is None:
        return None
    labels = (live.get("metadata") or {}).get("labels") or {}
    app = labels.get(TRACKING_LABEL)
    return app if isinstance(app, str) else ""


Access = Annotated[TokenInfo, Depends(require_access)]
"""The authorized caller."""
