"""Loading Application/AppProject manifests: seeds round-trip, bad fields are named."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from conveyor.model.application import Application
from conveyor.model.appproject import AppProject
from conveyor.model.loading import (
    ManifestError,
    application_from_dict,
    load_documents,
    manifest_from_dict,
    project_from_dict,
)

TESTDATA = Path(__file__).parent / "testdata"
SEEDS = sorted(TESTDATA.glob("*.yaml"))

APP: dict[str, Any] = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Application",
    "metadata": {"name": "web", "namespace": "argocd"},
    "spec": {
        "project": "default",
        "source": {"repoURL": "https://github.com/org/config", "path": "apps/web"},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "web"},
    },
}


def app_with(path: str, value: Any) -> dict[str, Any]:
    """APP with the dotted ``path`` set to ``value`` (or removed when value is DELETE)."""
    out = copy.deepcopy(APP)
    *parents, last = path.split(".")
    node = out
    for part in parents:
        node = node.setdefault(part, {})
    if value is DELETE:
        node.pop(last, None)
    else:
        node[last] = value
    return out


DELETE = object()


def problems_of(obj: dict[str, Any]) -> str:
    with pytest.raises(ManifestError) as info:
        application_from_dict(obj)
    return "\n".join(info.value.problems)


# -- the seeds ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", SEEDS, ids=[p.stem for p in SEEDS])
def test_seed_manifest_loads_unchanged(path: Path) -> None:
    text = path.read_text()
    [doc] = load_documents(text, path.name)
    assert doc.ok, doc.error
    assert doc.warnings == ()
    assert isinstance(doc.object, Application | AppProject)
    assert doc.object.to_manifest() == yaml.safe_load(text)


def test_seeds_are_all_there() -> None:
    assert {p.stem for p in SEEDS} == {
        "application-backend-production",
        "application-my-application",
        "application-myapp",
        "application-production-app",
        "appproject-team-backend",
    }


def test_seed_fields_are_read() -> None:
    app = application_from_dict(yaml.safe_load((TESTDATA / "application-myapp.yaml").read_text()))
    spec = app.value.spec
    assert spec.source.repo_url == "https://github.com/company/k8s-configs.git"
    assert spec.source.revision == "HEAD"
    assert spec.destination.namespace == "myapp"
    assert app.value.automated is not None and app.value.automated.self_heal
    assert app.value.sync_option("CreateNamespace") is True
    assert app.value.sync_option("PruneLast") is False
    assert app.value.sync_option("Validate") is True  # Argo CD's default
    assert spec.sync_policy and spec.sync_policy.retry and spec.sync_policy.retry.limit == 5
    helm = application_from_dict(
        yaml.safe_load((TESTDATA / "application-my-application.yaml").read_text())
    ).value
    assert helm.spec.source.helm and helm.spec.source.helm.value_files == ["values-production.yaml"]
    assert helm.spec.ignore_differences and helm.spec.ignore_differences[0].json_pointers == [
        "/spec/replicas"
    ]


# -- required fields ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("spec.source.repoURL", "spec.source.repoURL: field required"),
        ("spec.source", "spec.source: field required"),
        ("spec.destination", "spec.destination: field required"),
        ("spec.destination.namespace", "spec.destination.namespace: field required"),
        ("metadata.name", "metadata.name: field required"),
        ("spec", "spec: field required"),
        ("apiVersion", "apiVersion: field required"),
    ],
    ids=lambda v: str(v),
)
def test_missing_required_field_is_named(path: str, message: str) -> None:
    assert message in problems_of(app_with(path, DELETE))


def test_missing_project_means_default_with_a_warning() -> None:
    loaded = application_from_dict(app_with("spec.project", DELETE))
    assert loaded.value.project == "default"
    assert any(w.startswith("spec.project: not set") for w in loaded.warnings)
    assert "project" not in loaded.value.to_manifest()["spec"]  # not invented on write-back


# -- invalid values ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            "spec.syncPolicy",
            {"retry": {"backoff": {"duration": "5x"}}},
            "spec.syncPolicy.retry.backoff.duration: '5x' is not a duration",
        ),
        (
            "spec.syncPolicy",
            {"retry": {"backoff": {"maxDuration": "soon"}}},
            "spec.syncPolicy.retry.backoff.maxDuration: 'soon' is not a duration",
        ),
        (
            "spec.syncPolicy",
            {"automated": {"prune": "true"}},
            "spec.syncPolicy.automated.prune: expected true or false, got a string",
        ),
        (
            "spec.syncPolicy",
            {"syncOptions": ["CreateNamespace"]},
            "spec.syncPolicy.syncOptions[0]: 'CreateNamespace' is not Key=value",
        ),
        (
            "spec.syncPolicy",
            {"syncOptions": ["PruneLast=yes"]},
            "spec.syncPolicy.syncOptions[0]: 'PruneLast=yes': PruneLast takes true or false",
        ),
        (
            "spec.source.targetRevision",
            1.0,
            "spec.source.targetRevision: expected a string, got a number: quote it in YAML",
        ),
        ("spec.source.path", "../secrets", "spec.source.path: '../secrets' leaves the repository"),
        (
            "spec.destination",
            {"namespace": "web"},
            "spec.destination: set server or name",
        ),
        (
            "spec.destination",
            {"server": "https://x", "name": "x", "namespace": "web"},
            "spec.destination: set server or name, not both",
        ),
        (
            "spec.ignoreDifferences",
            [{"kind": "Deployment", "jsonPointers": ["spec/replicas"]}],
            "spec.ignoreDifferences[0].jsonPointers[0]: 'spec/replicas' is not a JSON pointer",
        ),
        (
            "spec.ignoreDifferences",
            [{"kind": "Deployment", "jqPathExpressions": [".spec.replicas["]}],
            "spec.ignoreDifferences[0].jqPathExpressions[0]: '.spec.replicas[' is not a jq path",
        ),
        (
            "spec.ignoreDifferences",
            [{"jsonPointers": ["/spec"]}],
            "spec.ignoreDifferences[0].kind: field required",
        ),
        ("spec.revisionHistoryLimit", -1, "spec.revisionHistoryLimit: must be at least 0"),
        ("metadata.name", "Web_App", "metadata.name: 'Web_App' is not a valid name"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_invalid_value_is_named(path: str, value: Any, message: str) -> None:
    assert message in problems_of(app_with(path, value))


def test_every_problem_is_reported_at_once() -> None:
    obj = app_with("spec.destination", {"server": "s"})
    obj["spec"]["source"] = {"path": "/abs"}
    problems = problems_of(obj)
    assert "spec.source.repoURL: field required" in problems
    assert "spec.source.path: '/abs' leaves the repository" in problems
    assert "spec.destination.namespace: field required" in problems


def test_wrong_kind_and_api_version() -> None:
    with pytest.raises(ManifestError, match="not Application or AppProject"):
        manifest_from_dict({**APP, "kind": "Deployment"})
    assert "apiVersion: 'argoproj.io/v1' is not argoproj.io/v1alpha1" in problems_of(
        {**APP, "apiVersion": "argoproj.io/v1"}
    )


# -- unknown fields ----------------------------------------------------------------------


def test_unknown_fields_are_kept_and_reported_with_their_path() -> None:
    obj = app_with("spec.source.recurse", True)
    obj["spec"]["syncPolicy"] = {"automated": {"prune": True, "selfHeall": True}}
    obj["extra"] = {"a": 1}
    loaded = application_from_dict(obj)
    assert "spec.source.recurse: unknown field, kept as is" in loaded.warnings
    assert (
        "spec.syncPolicy.automated.selfHeall: unknown field, kept as is (did you mean selfHeal?)"
        in loaded.warnings
    )
    assert "extra: unknown field, kept as is" in loaded.warnings
    assert loaded.value.to_manifest() == obj


def test_snake_case_is_not_a_field_name() -> None:
    obj = app_with("spec.source", {"repoURL": "https://x/y", "target_revision": "main"})
    loaded = application_from_dict(obj)
    assert loaded.value.spec.source.target_revision is None
    assert any(
        "target_revision: unknown field" in w and "targetRevision" in w for w in loaded.warnings
    )
    assert loaded.value.to_manifest() == obj


def test_unsupported_argo_fields_say_so() -> None:
    obj = app_with("spec.source.plugin", {"name": "cmp"})
    loaded = application_from_dict(obj)
    assert any(
        w.startswith("spec.source.plugin: not supported by Conveyor yet") for w in loaded.warnings
    )
    assert loaded.value.to_manifest() == obj


def test_every_helm_option_the_renderer_passes_loads_without_a_warning() -> None:
    helm = {
        "valueFiles": ["values-prod.yaml"],
        "valuesObject": {"replicas": 2},
        "parameters": [{"name": "image.tag", "value": "v2", "forceString": True}],
        "fileParameters": [{"name": "config", "path": "files/app.conf"}],
        "releaseName": "web",
        "namespace": "web-system",
        "kubeVersion": "1.30.0",
        "apiVersions": ["monitoring.coreos.com/v1"],
        "ignoreMissingValueFiles": True,
        "skipCrds": True,
    }
    loaded = application_from_dict(app_with("spec.source.helm", helm))
    assert loaded.warnings == ()
    source_helm = loaded.value.spec.source.helm
    assert source_helm is not None and source_helm.file_parameters is not None
    assert source_helm.file_parameters[0].path == "files/app.conf"
    assert loaded.value.to_manifest()["spec"]["source"]["helm"] == helm


def test_every_kustomize_option_the_renderer_applies_loads_without_a_warning() -> None:
    kustomize = {
        "images": ["web=registry/web:v2"],
        "namePrefix": "pre-",
        "nameSuffix": "-suf",
        "commonLabels": {"team": "a"},
        "commonAnnotations": {"owner": "a"},
        "forceCommonLabels": True,
        "forceCommonAnnotations": True,
        "labelWithoutSelector": True,
        "namespace": "web",
        "replicas": [{"name": "web", "count": 3}, {"name": "worker", "count": "2"}],
    }
    loaded = application_from_dict(app_with("spec.source.kustomize", kustomize))
    assert loaded.warnings == ()
    assert loaded.value.to_manifest()["spec"]["source"]["kustomize"] == kustomize


def test_unknown_sync_option_is_kept_with_a_warning() -> None:
    obj = app_with("spec.syncPolicy", {"syncOptions": ["Frobnicate=true"]})
    loaded = application_from_dict(obj)
    assert any("syncOptions[0]: sync option 'Frobnicate'" in w for w in loaded.warnings)


def test_server_set_metadata_is_kept_quietly() -> None:
    obj = app_with("metadata.uid", "1234")
    loaded = application_from_dict(obj)
    assert loaded.warnings == ()
    assert loaded.value.to_manifest() == obj


# -- streams -----------------------------------------------------------------------------

STREAM = """\
# a comment before the first document
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata:
  name: team
spec:
  sourceRepos: ['*']
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations:
    built: 2024-05-01
---
# empty document
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: bad
spec:
  source: {repoURL: x}
  destination: {server: s}
---
kind: [unclosed
---
- a list
---
metadata: {name: nokind}
"""


def test_stream_documents_carry_index_line_and_errors() -> None:
    docs = load_documents(STREAM, "apps.yaml")
    assert [(d.index, d.line, d.kind, d.ok) for d in docs] == [
        (0, 2, "AppProject", True),
        (1, 9, "Deployment", True),
        (2, 18, "Application", False),
        (3, 26, None, False),
        (4, 28, None, False),
        (5, 30, None, False),
    ]
    assert isinstance(docs[0].object, AppProject)
    assert docs[1].object == yaml.safe_load(STREAM.split("---")[1]) | {
        "metadata": {"name": "web", "annotations": {"built": "2024-05-01"}}
    }
    assert docs[2].error and docs[2].error.startswith("apps.yaml: document 3 (line 18)")
    assert "spec.destination.namespace: field required" in docs[2].error
    assert docs[3].error and "document 4 (line 26): not valid YAML at line 27" in docs[3].error
    assert docs[4].error and "expected a mapping" in docs[4].error
    assert docs[5].error and "kind: field required" in docs[5].error


def test_timestamps_stay_strings() -> None:
    [doc] = load_documents("kind: ConfigMap\napiVersion: v1\ndata: {day: 2024-05-01}\n")
    assert isinstance(doc.object, dict)
    assert doc.object["data"]["day"] == "2024-05-01"


def test_project_from_dict() -> None:
    loaded = project_from_dict(
        yaml.safe_load((TESTDATA / "appproject-team-backend.yaml").read_text())
    )
    assert loaded.value.spec.source_repos == ["https://github.com/company/infrastructure"]
    with pytest.raises(ManifestError, match="sourceRepos lists"):
        project_from_dict(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "AppProject",
                "metadata": {"name": "p"},
                "spec": {"sourceRepos": ["a", "a"]},
            }
        )
