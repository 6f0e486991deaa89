"""AppProject permissions: Argo CD's globs, `!` negation, and a reason for every answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from conveyor.model.appproject import AppProject, ProjectDenied, default_project
from conveyor.model.globs import glob_match
from conveyor.model.loading import application_from_dict, project_from_dict
from conveyor.model.repourls import normalize_git_url

TESTDATA = Path(__file__).parent / "testdata"


def project(**spec: Any) -> AppProject:
    return project_from_dict(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "AppProject",
            "metadata": {"name": "team"},
            "spec": spec,
        }
    ).value


def team_backend() -> AppProject:
    return project_from_dict(
        yaml.safe_load((TESTDATA / "appproject-team-backend.yaml").read_text())
    ).value


# -- default project -----------------------------------------------------------------------


def test_default_project_permits_everything() -> None:
    default = default_project()
    assert default.name == "default"
    assert default.permits_source("git@github.com:any/thing.git")
    assert default.permits_destination("kube-system", server="https://10.0.0.1")
    assert default.permits_destination("web", name="in-cluster")
    assert default.permits_resource("rbac.authorization.k8s.io", "ClusterRole", namespaced=False)
    assert default.permits_resource("apps", "Deployment", namespaced=True)


# -- sourceRepos ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("patterns", "url", "allowed"),
    [
        (
            ["https://github.com/company/infrastructure"],
            "https://github.com/company/infrastructure",
            True,
        ),
        (
            ["https://github.com/company/infrastructure"],
            "https://GitHub.com/company/infrastructure.git",
            True,
        ),
        (["https://github.com/company/infrastructure"], "https://github.com/company/other", False),
        (["https://github.com/company/*"], "https://github.com/company/web", True),
        (["https://github.com/company/*"], "https://github.com/company/group/web", False),
        (["https://github.com/company/**"], "https://github.com/company/group/web", True),
        (["https://github.com/company/web-?"], "https://github.com/company/web-1", True),
        (["https://github.com/{company,partner}/web"], "https://github.com/partner/web", True),
        (["git@github.com:company/*"], "git@github.com:company/web.git", True),
        (["*"], "anything", True),
        ([], "https://github.com/company/web", False),
        (["!https://github.com/company/secret", "*"], "https://github.com/company/secret", False),
        (["!https://github.com/company/secret", "*"], "https://github.com/company/web", True),
        (["!https://github.com/company/secret"], "https://github.com/company/web", True),
        (["*", "!https://github.com/company/*"], "https://github.com/company/web", False),
    ],
    ids=lambda v: str(v),
)
def test_permits_source(patterns: list[str], url: str, allowed: bool) -> None:
    assert bool(project(sourceRepos=patterns).permits_source(url)) is allowed


def test_source_reasons() -> None:
    p = project(sourceRepos=["!https://github.com/company/secret", "https://github.com/company/*"])
    denied = p.permits_source("https://github.com/company/secret")
    assert denied.reason == (
        "repository https://github.com/company/secret is denied by"
        " '!https://github.com/company/secret' in project 'team'"
    )
    missing = project(sourceRepos=["https://github.com/company/*"]).permits_source(
        "https://gitlab.com/x/y"
    )
    assert "is not permitted in project 'team'" in missing.reason
    assert "spec.sourceRepos" in missing.reason
    ok = project(sourceRepos=["https://github.com/company/*"]).permits_source(
        "https://github.com/company/web"
    )
    assert ok.reason.endswith("is permitted by 'https://github.com/company/*' in project 'team'")


# -- destinations --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("namespace", "server", "name", "allowed"),
    [
        ("backend-api", "https://kubernetes.default.svc", None, True),
        ("backend-api", "https://prod.example.com", None, True),
        ("backend-api", None, "in-cluster", True),
        ("frontend", "https://kubernetes.default.svc", None, False),
        ("backend", "https://kubernetes.default.svc", None, False),
    ],
    ids=lambda v: str(v),
)
def test_seed_project_destinations(
    namespace: str, server: str | None, name: str | None, allowed: bool
) -> None:
    verdict = team_backend().permits_destination(namespace, server=server, name=name)
    assert bool(verdict) is allowed, verdict.reason


def test_destination_negation_and_reasons() -> None:
    p = project(
        destinations=[
            {"server": "*", "namespace": "!kube-system"},
            {"name": "staging", "namespace": "*"},
        ]
    )
    denied = p.permits_destination("kube-system", server="https://kubernetes.default.svc")
    assert not denied
    assert "is denied by destinations[0]" in denied.reason
    assert "namespace 'kube-system'" in denied.reason
    assert p.permits_destination("web", server="https://kubernetes.default.svc")
    assert p.permits_destination("anything", name="staging")
    missing = project(
        destinations=[{"server": "https://a", "namespace": "web"}]
    ).permits_destination("web", server="https://b")
    assert missing.reason == (
        "destination server https://b, namespace 'web' is not permitted in project 'team':"
        " add it to spec.destinations"
    )


def test_in_cluster_name_and_server_are_the_same_target() -> None:
    by_server = project(
        destinations=[{"server": "https://kubernetes.default.svc", "namespace": "*"}]
    )
    by_name = project(destinations=[{"name": "in-cluster", "namespace": "*"}])
    assert by_server.permits_destination("web", name="in-cluster")
    assert by_name.permits_destination("web", server="https://kubernetes.default.svc")


# -- resources -----------------------------------------------------------------------------


def test_cluster_scoped_kinds_need_the_whitelist() -> None:
    p = project()
    verdict = p.permits_resource("", "Namespace", namespaced=False)
    assert not verdict
    assert verdict.reason == (
        "cluster-scoped resource kind Namespace is not permitted in project 'team':"
        " add {group: '', kind: Namespace} to spec.clusterResourceWhitelist"
    )
    assert p.permits_resource("apps", "Deployment", namespaced=True)
    allowed = project(clusterResourceWhitelist=[{"group": "", "kind": "Namespace"}])
    assert allowed.permits_resource("", "Namespace", namespaced=False)
    assert not allowed.permits_resource(
        "rbac.authorization.k8s.io", "ClusterRole", namespaced=False
    )


def test_blacklists_win_and_globs_apply() -> None:
    p = project(
        clusterResourceWhitelist=[{"group": "*", "kind": "*"}],
        clusterResourceBlacklist=[{"group": "rbac.authorization.k8s.io", "kind": "Cluster*"}],
        namespaceResourceBlacklist=[{"group": "", "kind": "ResourceQuota"}],
    )
    denied = p.permits_resource("rbac.authorization.k8s.io", "ClusterRoleBinding", namespaced=False)
    assert not denied
    assert "denied by spec.clusterResourceBlacklist[0]" in denied.reason
    assert p.permits_resource("", "Namespace", namespaced=False)
    quota = p.permits_resource("", "ResourceQuota", namespaced=True)
    assert not quota and "namespaceResourceBlacklist[0]" in quota.reason
    assert p.permits_resource("", "ConfigMap", namespaced=True)


def test_namespace_whitelist_restricts_namespaced_kinds() -> None:
    p = project(namespaceResourceWhitelist=[{"group": "apps", "kind": "*"}])
    assert p.permits_resource("apps", "Deployment", namespaced=True)
    verdict = p.permits_resource("", "Secret", namespaced=True)
    assert not verdict and "spec.namespaceResourceWhitelist" in verdict.reason
    assert not project(namespaceResourceWhitelist=[]).permits_resource("apps", "Deployment", True)


def test_raise_if_denied() -> None:
    verdict = project().permits_source("https://github.com/x/y")
    with pytest.raises(ProjectDenied, match="not permitted in project 'team'"):
        verdict.raise_if_denied(obj="Application/web")
    default_project().permits_source("x").raise_if_denied()


def test_check_names_every_problem() -> None:
    app = application_from_dict(
        yaml.safe_load((TESTDATA / "application-backend-production.yaml").read_text())
    ).value
    p = project(
        sourceRepos=["https://github.com/company/infrastructure"],
        destinations=[{"server": "*", "namespace": "production"}],
    )
    objects = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "production"}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "other"}},
    ]
    problems = p.check(app, objects)
    assert problems[0].startswith("application 'backend-production' belongs to project 'default'")
    assert any(s.startswith("Namespace/production: cluster-scoped resource kind") for s in problems)
    assert any(s.startswith("ConfigMap/other/c: destination") for s in problems)
    assert not any("Deployment" in s for s in problems)


# -- globs ---------------------------------------------------------------------------------


def test_glob_helpers() -> None:
    assert normalize_git_url("git@GitHub.com:Org/Repo.git") == "git@github.com/org/repo"
    assert glob_match("backend-*", "backend-api")
    assert not glob_match("backend-*", "front")
    assert glob_match("[a-c]x", "bx") and not glob_match("[!a-c]x", "bx")
    assert not glob_match("{unclosed", "unclosed")


# -- sourceRepos: one repository, whatever the spelling ----------------------------------------

DENIED_SPELLINGS = [
    "/srv/git/denied",
    "/srv/git/a/../denied",
    "/srv/git/./denied",
    "/srv/git//denied",
    "/srv/git/denied/",
    "/srv/git/denied/.git",
    "file:///srv/git/denied",
    "file://localhost/srv/git/denied",
]


@pytest.mark.parametrize("url", DENIED_SPELLINGS, ids=lambda v: str(v))
@pytest.mark.parametrize(
    "patterns",
    [["*", "!/srv/git/denied"], ["*", "!file:///srv/git/denied"], ["/srv/git/allowed"]],
    ids=["deny-path", "deny-file-url", "allow-other"],
)
def test_a_denied_local_repo_is_denied_in_every_spelling(patterns: list[str], url: str) -> None:
    assert not project(sourceRepos=patterns).permits_source(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/company/web/../secret",
        "https://github.com/company/./secret",
        "https://github.com/company//secret",
        "https://github.com/company/secret/",
        "https://user:pw@github.com/company/secret.git",
    ],
    ids=lambda v: str(v),
)
def test_a_denied_remote_repo_is_denied_in_every_spelling(url: str) -> None:
    p = project(sourceRepos=["https://github.com/company/*", "!https://github.com/company/secret"])
    verdict = p.permits_source(url)
    assert not verdict
    assert "pw" not in verdict.reason


def test_a_local_pattern_still_permits_its_repo_in_any_spelling() -> None:
    p = project(sourceRepos=["/srv/git/*"])
    assert p.permits_source("file://localhost/srv/git/web/.git")
    assert not p.permits_source("/srv/git/web/../../etc/repo")


# -- resource lists by API group and kind -----------------------------------------------------


def _team_app() -> Any:
    return application_from_dict(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": "web"},
            "spec": {
                "project": "team",
                "source": {"repoURL": "https://github.com/company/web", "path": "."},
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "web"},
            },
        }
    ).value


CRD_CLUSTER_WIDGET = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "clusterwidgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Cluster",
        "names": {"kind": "ClusterWidget", "plural": "clusterwidgets"},
    },
}


@pytest.mark.parametrize(
    "obj",
    [
        {"apiVersion": "networking.k8s.io/v1", "kind": "IPAddress", "metadata": {"name": "a"}},
        {
            "apiVersion": "storage.k8s.io/v1beta1",
            "kind": "VolumeAttributesClass",
            "metadata": {"name": "fast"},
        },
        {"apiVersion": "example.com/v1", "kind": "ClusterWidget", "metadata": {"name": "w"}},
        {"apiVersion": "evil.example.com/v1", "kind": "ClusterRole", "metadata": {"name": "r"}},
    ],
    ids=["IPAddress", "VolumeAttributesClass", "crd-cluster-kind", "lookalike-group"],
)
def test_cluster_scoped_kinds_by_group_need_the_cluster_whitelist(obj: dict[str, Any]) -> None:
    """Only CRDs may be cluster-scoped here; whatever the group, nothing else gets through."""
    p = project(
        sourceRepos=["*"],
        destinations=[{"server": "*", "namespace": "*"}],
        clusterResourceWhitelist=[
            {"group": "apiextensions.k8s.io", "kind": "CustomResourceDefinition"}
        ],
    )
    problems = p.check(_team_app(), [CRD_CLUSTER_WIDGET, obj])
    assert len(problems) == 1, problems
    assert "cluster-scoped resource kind" in problems[0]
    assert "is not permitted in project 'team'" in problems[0]


def test_a_namespaced_crd_kind_follows_the_namespace_lists() -> None:
    crd = {**CRD_CLUSTER_WIDGET, "spec": {**CRD_CLUSTER_WIDGET["spec"], "scope": "Namespaced"}}
    p = project(
        sourceRepos=["*"],
        destinations=[{"server": "*", "namespace": "*"}],
        clusterResourceWhitelist=[{"group": "*", "kind": "CustomResourceDefinition"}],
        namespaceResourceBlacklist=[{"group": "example.com", "kind": "*"}],
    )
    widget = {"apiVersion": "example.com/v1", "kind": "ClusterWidget", "metadata": {"name": "w"}}
    problems = p.check(_team_app(), [crd, widget])
    assert len(problems) == 1 and "spec.namespaceResourceBlacklist[0]" in problems[0], problems


@pytest.mark.parametrize("group", ["", "evil.example.com", "apps"])
def test_a_blacklist_for_every_group_holds_whatever_the_api_version(group: str) -> None:
    p = project(
        sourceRepos=["*"],
        destinations=[{"server": "*", "namespace": "*"}],
        namespaceResourceBlacklist=[{"group": "*", "kind": "Pod"}],
    )
    api_version = f"{group}/v1" if group else "v1"
    pod = {"apiVersion": api_version, "kind": "Pod", "metadata": {"name": "p"}}
    assert len(p.check(_team_app(), [pod])) == 1
