"""Request shapes of the API: validated at the edge, in Argo CD's field names.

Bodies that are whole manifests (an Application, an AppProject, a patch) stay plain JSON
objects here and are validated by ``conveyor.model`` with messages that name the field; the
small bodies (sync, rollback, token) are pydantic models that refuse wrong types. Extra
fields are ignored rather than refused, so that a request written for Argo CD's API (which
has more options) still works.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
"""Kubernetes object names (RFC 1123 subdomain): what every app and project name must be."""
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
K8S_NAME = r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
"""Kinds and names of resources: letters, digits, '-', '_' and '.' (as Kubernetes allows)."""
GROUP = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)?$"
REVISION_MAX = 255

AppName = Annotated[
    str,
    Path(pattern=DNS_SUBDOMAIN, max_length=253, description="The Application's name."),
]
ProjectName = Annotated[
    str,
    Path(pattern=DNS_SUBDOMAIN, max_length=253, description="The AppProject's name."),
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, strict=True)


class ResourceRef(_Body):
    """One resource to sync (Argo CD's SyncOperationResource)."""

    group: Annotated[str, Field(max_length=253, pattern=GROUP)] = ""
    kind: Annotated[str, Field(min_length=1, max_length=63, pattern=K8S_NAME)]
    namespace: Annotated[
        str, Field(max_length=63, pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$")
    ] = ""
    name: Annotated[str, Field(min_length=1, max_length=253, pattern=K8S_NAME)]


class SyncBody(_Body):
    """``POST /applications/{name}/sync``: Argo CD's ApplicationSyncRequest, in part."""

    revision: Annotated[str, Field(max_length=REVISION_MAX)] = ""
    """Branch, tag or SHA to sync to; empty means the app's targetRevision."""
    prune: bool | None = None
    """Delete live objects that left Git; default: the app's automated.prune."""
    dry_run: Annotated[bool, Field(alias="dryRun")] = False
    resources: Annotated[list[ResourceRef], Field(max_length=500)] = []
    """Only these resources; empty means all."""
    sync_options: Annotated[
        list[Annotated[str, Field(max_length=100, pattern=r"^[A-Za-z]+=[A-Za-z0-9-]+$")]],
        Field(alias="syncOptions", max_length=50),
    ] = []
    """Sync options for this operation only, over the app's (``Replace=true``, ...)."""
    retry_limit: Annotated[int | None, Field(alias="retryLimit", ge=0, le=100)] = None
    """Retries for this operation only; none: the app's ``syncPolicy.retry.limit``."""


def _integral(value: Any) -> Any:
    """JSON Schema counts 3.0 as an integer; so does the API (strict mode would not)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


class RollbackBody(_Body):
    """``POST /applications/{name}/rollback``: the history id to go back to."""

    id: Annotated[int, BeforeValidator(_integral), Field(ge=0, le=2**31 - 1)]


class TokenBody(_Body):
    """``POST /account/token``: what the new token is for."""

    name: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[\w .@-]+$")] = "token"
    role: Annotated[
        str | None,
        Field(
            max_length=63,
            pattern=r"^[a-z0-9][a-z0-9-]*$",
            description="admin, readonly, or the name of the token's own role (with projects"
            " or policy). Default: admin, the role of the caller.",
        ),
    ] = None
    projects: Annotated[
        list[Annotated[str, Field(max_length=253, pattern=DNS_SUBDOMAIN)]] | None,
        Field(max_length=100, description="Limit the token to the apps of these projects."),
    ] = None
    policy: Annotated[
        str | None,
        Field(
            max_length=65536,
            description="Argo CD RBAC policy CSV of the token's own role, e.g."
            " 'p, role:deployer, applications, sync, team-a/*, allow'.",
        ),
    ] = None


URL_MAX = 2048


class RepositoryBody(_Body):
    """``POST /repositories``: Argo CD's Repository, in part (http(s) username/password)."""

    repo: Annotated[str, Field(min_length=1, max_length=URL_MAX)]
    username: Annotated[str, Field(max_length=255)] = ""
    password: Annotated[str, Field(max_length=4096)] = ""
    type: Annotated[str, Field(pattern=r"^git$")] = "git"
    name: Annotated[str, Field(max_length=253)] = ""
    project: Annotated[str, Field(max_length=253, pattern=r"^[a-z0-9.-]*$")] = ""


JsonObject = dict[str, Any]


def manifest_name(manifest: Any) -> str | None:
    """``metadata.name`` of a body not validated yet (None when it has none)."""
    meta = manifest.get("metadata") if isinstance(manifest, dict) else None
    name = meta.get("name") if isinstance(meta, dict) else None
    return name if isinstance(name, str) else None


class ClusterBody(_Body):
    """``POST /clusters``: Argo CD's Cluster (name, server, config), credentials inside."""

    name: Annotated[str, Field(min_length=1, max_length=253)]
    server: Annotated[str, Field(min_length=1, max_length=URL_MAX)]
    config: dict[str, Any] = Field(default_factory=dict)
    namespace: Annotated[str, Field(max_length=63)] = ""
