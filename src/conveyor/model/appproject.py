"""The AppProject kind and what it permits, checked before anything is applied.

A project says which repositories its applications may deploy from, to which destinations,
and which kinds of resources they may create. Each check is a pure function of the project
that returns a ``Verdict``: allowed or not, and a sentence saying why (which entry matched, or
what to add). The policy stage and the engine call them on the Application and on every
rendered object; ``Verdict.raise_if_denied`` turns a denial into a ``ProjectDenied`` error.

Matching follows Argo CD (see ``conveyor.model.globs``): globs everywhere, and a leading ``!``
in sourceRepos or destinations denies what it matches. As in Argo CD, a ``!pattern`` that a
value escapes counts as a match, so a list of only deny patterns permits everything else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import model_validator

from conveyor.errors import ConveyorError, PermanentError, ValidationError
from conveyor.model.application import DEFAULT_PROJECT, Application
from conveyor.model.globs import compile_glob, glob_match
from conveyor.model.manifest import API_VERSION, ArgoModel, Manifest
from conveyor.model.objects import Object, ObjectKey
from conveyor.model.repourls import project_repo_form
from conveyor.model.scopes import CrdScopes, crd_scopes, is_namespaced
from conveyor.redaction import strip_credentials

IN_CLUSTER_SERVER = "https://kubernetes.default.svc"
IN_CLUSTER_NAME = "in-cluster"


class ProjectDenied(PermanentError):
    """An AppProject does not permit a source, destination or resource; nothing was applied."""


@dataclass(frozen=True)
class Verdict:
    """A project's answer: allowed or not, and why, as a sentence a person can act on."""

    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed

    def raise_if_denied(self, obj: str | None = None) -> None:
        """Raise ProjectDenied with the reason when not allowed."""
        if not self.allowed:
            raise ProjectDenied(self.reason, obj=obj)


class GroupKind(ArgoModel):
    """A resource kind in an allow or deny list; both parts may be globs."""

    group: str = ""
    kind: str


class ProjectDestination(ArgoModel):
    """A permitted destination: server or cluster name, and namespace, as globs."""

    server: str | None = None
    name: str | None = None
    namespace: str | None = None


class AppProjectSpec(ArgoModel):
    """``spec`` of an AppProject."""

    unsupported_fields = {
        "roles": "project roles and tokens are not enforced by Conveyor",
        "syncWindows": "sync windows are not enforced yet",
        "orphanedResources": "orphaned resources are not reported yet",
        "signatureKeys": "commit signatures are not verified yet",
        "sourceNamespaces": "applications are not namespaced in Conveyor",
        "destinationServiceAccounts": "service account impersonation is not supported",
        "permitOnlyProjectScopedClusters": "project-scoped clusters are not supported",
    }

    description: str | None = None
    source_repos: list[str] = []
    destinations: list[ProjectDestination] = []
    cluster_resource_whitelist: list[GroupKind] | None = None
    cluster_resource_blacklist: list[GroupKind] | None = None
    namespace_resource_whitelist: list[GroupKind] | None = None
    namespace_resource_blacklist: list[GroupKind] | None = None

    @model_validator(mode="after")
    def _no_duplicates(self) -> AppProjectSpec:
        problems = []
        if len(set(self.source_repos)) != len(self.source_repos):
            twice = sorted({r for r in self.source_repos if self.source_repos.count(r) > 1})
            problems.append(f"sourceRepos lists {', '.join(twice)} more than once: remove one")
        seen: set[tuple[str | None, str | None, str | None]] = set()
        for dest in self.destinations:
            key = (dest.server, dest.name, dest.namespace)
            if key in seen:
                problems.append(f"destinations lists {_describe(*key)} twice: remove one")
            seen.add(key)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _globs_parse(self) -> AppProjectSpec:
        """A glob that does not parse would deny (or, negated, allow) everything silently."""
        found: list[tuple[str, str, str | None]] = [
            (f"sourceRepos[{i}]", project_repo_form(p.removeprefix("!"), pattern=True), "/")
            for i, p in enumerate(self.source_repos)
        ]
        for i, dest in enumerate(self.destinations):
            for field, value in (
                ("server", dest.server),
                ("name", dest.name),
                ("namespace", dest.namespace),
            ):
                if value:
                    found.append((f"destinations[{i}].{field}", value.removeprefix("!"), None))
        lists = {
            "clusterResourceWhitelist": self.cluster_resource_whitelist,
            "clusterResourceBlacklist": self.cluster_resource_blacklist,
            "namespaceResourceWhitelist": self.namespace_resource_whitelist,
            "namespaceResourceBlacklist": self.namespace_resource_blacklist,
        }
        for name, entries in lists.items():
            for i, entry in enumerate(entries or ()):
                found += [(f"{name}[{i}].group", entry.group, None)]
                found += [(f"{name}[{i}].kind", entry.kind, None)]
        problems = []
        for where, pattern, separator in found:
            try:
                compile_glob(pattern, separator)
            except ValidationError as err:
                problems.append(f"{where}: {err.message}")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class AppProject(Manifest):
    """An Argo CD AppProject: the sources, destinations and kinds its applications may use."""

    kind: str = "AppProject"
    spec: AppProjectSpec

    def permits_source(self, repo_url: str) -> Verdict:
        """May applications in this project deploy from ``repo_url``, however it is spelled?

        URL and patterns are compared in one form (``project_repo_form``): ``a/../denied``,
        ``/denied/.git`` and ``file://localhost/denied`` are all ``/denied``.
        """
        return source_repos_verdict(self.spec.source_repos, repo_url, self.name)

    def permits_destination(
        self, namespace: str, *, server: str | None = None, name: str | None = None
    ) -> Verdict:
        """May applications deploy to ``namespace`` on this server (or named cluster)?

        ``in-cluster`` and ``https://kubernetes.default.svc`` name the same (default) target.
        """
        if name == IN_CLUSTER_NAME and not server:
            server = IN_CLUSTER_SERVER
        elif server == IN_CLUSTER_SERVER and not name:
            name = IN_CLUSTER_NAME
        where = "destination " + _describe(server, None if server else name, namespace)
        me = f"project '{self.name}'"
        allowed_by: int | None = None
        for i, item in enumerate(self.spec.destinations):
            name_ok = bool(name) and _match(item.name or "", name or "")
            server_ok = bool(server) and _match(item.server or "", server or "")
            namespace_ok = _match(item.namespace or "", namespace)
            if (server_ok or name_ok) and namespace_ok:
                allowed_by = i if allowed_by is None else allowed_by
            elif (
                (not name_ok and _is_deny(item.name))
                or (not server_ok and _is_deny(item.server))
                or (not namespace_ok and _is_deny(item.namespace))
            ):
                entry = _describe(item.server, item.name, item.namespace)
                return Verdict(False, f"{where} is denied by destinations[{i}] ({entry}) in {me}")
        if allowed_by is None:
            return Verdict(False, f"{where} is not permitted in {me}: add it to spec.destinations")
        return Verdict(True, f"{where} is permitted by destinations[{allowed_by}] in {me}")

    def permits_resource(self, group: str, kind: str, namespaced: bool) -> Verdict:
        """May applications in this project create resources of ``group``/``kind``?

        Cluster-scoped kinds must be in clusterResourceWhitelist; namespaced kinds are all
        permitted unless a namespaceResourceWhitelist is given. A blacklist always wins.
        """
        spec = self.spec
        scope = "namespace" if namespaced else "cluster"
        white = spec.namespace_resource_whitelist if namespaced else spec.cluster_resource_whitelist
        black = spec.namespace_resource_blacklist if namespaced else spec.cluster_resource_blacklist
        what = f"{'' if namespaced else 'cluster-scoped '}resource kind {_group_kind(group, kind)}"
        me = f"project '{self.name}'"
        denied_by = _find(group, kind, black)
        if denied_by is not None:
            return Verdict(
                False,
                f"{what} is denied by spec.{scope}ResourceBlacklist[{denied_by}] in {me}",
            )
        if white is None and namespaced:
            return Verdict(True, f"{what} is permitted in {me} (no namespaceResourceWhitelist)")
        allowed_by = _find(group, kind, white)
        if allowed_by is None:
            return Verdict(
                False,
                f"{what} is not permitted in {me}: add {{group: '{group}', kind: {kind}}}"
                f" to spec.{scope}ResourceWhitelist",
            )
        return Verdict(True, f"{what} is permitted by spec.{scope}ResourceWhitelist[{allowed_by}]")

    def check(self, app: Application, objects: Sequence[Object] = ()) -> list[str]:
        """Every way ``app`` and its rendered ``objects`` break this project, as sentences."""
        problems: list[str] = []
        if app.project != self.name:
            problems.append(
                f"application '{app.name}' belongs to project '{app.project}', not '{self.name}':"
                " check it against its own project"
            )
        dest = app.spec.destination
        for verdict in (
            self.permits_source(app.spec.source.repo_url),
            self.permits_destination(dest.namespace, server=dest.server, name=dest.name),
        ):
            if not verdict:
                problems.append(verdict.reason)
        crds = crd_scopes(objects)
        for index, obj in enumerate(objects):
            problem = self._check_object(index, obj, app, crds)
            if problem:
                problems.append(problem)
        return problems

    def _check_object(
        self, index: int, obj: Object, app: Application, crds: CrdScopes
    ) -> str | None:
        dest = app.spec.destination
        try:
            key = ObjectKey.of(obj, default_namespace=dest.namespace)
        except ConveyorError as err:
            return f"rendered object #{index + 1} cannot be checked: {err}"
        namespaced = is_namespaced(key.group, key.kind, crds)
        verdict = self.permits_resource(key.group, key.kind, namespaced)
        if verdict and namespaced:
            verdict = self.permits_destination(key.namespace, server=dest.server, name=dest.name)
        return None if verdict else f"{key}: {verdict.reason}"


def source_repos_verdict(patterns: Sequence[str], repo_url: str, project: str) -> Verdict:
    """Whether sourceRepos ``patterns`` (of ``project``) permit ``repo_url``, and why.

    The check behind ``AppProject.permits_source``, also run by the render stage on each
    Kustomize remote base (which has the patterns, not the project).
    """
    source = project_repo_form(repo_url)
    me = f"project '{project}'"
    repo_url = strip_credentials(repo_url)
    allowed_by: str | None = None
    for pattern in patterns:
        deny = pattern.startswith("!")
        form = project_repo_form(pattern.removeprefix("!"), pattern=True)
        hit = glob_match(form, source, "/")
        if deny and hit:
            return Verdict(False, f"repository {repo_url} is denied by '{pattern}' in {me}")
        if hit or deny:
            allowed_by = allowed_by or pattern
    if allowed_by is None:
        return Verdict(
            False,
            f"repository {repo_url} is not permitted in {me}: add it (or a glob matching it)"
            " to spec.sourceRepos",
        )
    return Verdict(True, f"repository {repo_url} is permitted by '{allowed_by}' in {me}")


def default_project() -> AppProject:
    """The ``default`` project: every repository, destination and kind is permitted."""
    return AppProject.model_validate(
        {
            "apiVersion": API_VERSION,
            "kind": "AppProject",
            "metadata": {"name": DEFAULT_PROJECT},
            "spec": {
                "sourceRepos": ["*"],
                "destinations": [{"server": "*", "name": "*", "namespace": "*"}],
                "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
            },
        }
    )


def _is_deny(pattern: str | None) -> bool:
    return pattern is not None and pattern.startswith("!")


def _match(pattern: str, value: str) -> bool:
    """A pattern matches; a ``!pattern`` matches whatever ``pattern`` does not."""
    if _is_deny(pattern):
        return not glob_match(pattern[1:], value)
    return glob_match(pattern, value)


def _find(group: str, kind: str, entries: Sequence[GroupKind] | None) -> int | None:
    for i, entry in enumerate(entries or ()):
        if glob_match(entry.kind, kind) and glob_match(entry.group, group):
            return i
    return None


def _group_kind(group: str, kind: str) -> str:
    return f"{kind}.{group}" if group else kind


def _describe(server: str | None, name: str | None, namespace: str | None) -> str:
    parts = [f"server {server}"] if server else []
    parts += [f"cluster '{name}'"] if name else []
    parts += [f"namespace '{namespace}'"] if namespace is not None else []
    return ", ".join(parts) or "an empty destination"
