"""deploy/kubernetes renders with the real ``kubectl kustomize`` into what runs Conveyor in a
cluster: its own namespace and service account, a ClusterRole with the verbs the Kubernetes
target uses and no more, and ``conveyor server`` with its database URL from a Secret."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from conveyor.render.process import kubectl_binary

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"

TARGET_VERBS = {"get", "list", "watch", "create", "update", "patch", "delete"}
"""What ``targets.kubernetes`` sends: GET (get, list, watch), POST (create: Replace=true on
an absent object), PUT (update: Replace=true), PATCH (server-side apply, status actions),
DELETE (prune, app deletion)."""


@pytest.fixture(scope="module")
def rendered() -> dict[str, dict[str, Any]]:
    out = subprocess.run(
        [kubectl_binary(), "kustomize", str(DEPLOY)],
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in yaml.safe_load_all(out.stdout)}


def test_it_renders_the_objects_that_run_conveyor(rendered: dict[str, dict[str, Any]]) -> None:
    assert sorted(rendered) == [
        "ClusterRole/conveyor", "ClusterRoleBinding/conveyor", "Deployment/conveyor",
        "Namespace/conveyor", "Service/conveyor", "ServiceAccount/conveyor",
    ]  # fmt: skip
    for obj in rendered.values():
        if obj["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
            assert obj["metadata"]["namespace"] == "conveyor"


def test_the_cluster_role_grants_the_verbs_conveyor_uses_and_no_more(
    rendered: dict[str, dict[str, Any]],
) -> None:
    rules = rendered["ClusterRole/conveyor"]["rules"]
    resource_rules = [r for r in rules if "resources" in r]
    assert [set(r["verbs"]) for r in resource_rules] == [TARGET_VERBS]
    everything = {v for r in rules for v in r["verbs"]}
    assert not everything & {"*", "escalate", "bind", "impersonate", "deletecollection"}
    discovery = next(r for r in rules if "nonResourceURLs" in r)
    assert discovery["verbs"] == ["get"] and "/apis/*" in discovery["nonResourceURLs"]
    binding = rendered["ClusterRoleBinding/conveyor"]
    assert binding["roleRef"]["name"] == "conveyor"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "conveyor", "namespace": "conveyor"}
    ]


def test_the_server_runs_as_its_service_account_with_the_database_url_from_a_secret(
    rendered: dict[str, dict[str, Any]],
) -> None:
    pod = rendered["Deployment/conveyor"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "conveyor"
    container = pod["containers"][0]
    assert container["args"][0] == "server"
    env = {e["name"]: e for e in container["env"]}
    assert env["CONVEYOR_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "conveyor-database", "key": "url",
    }  # fmt: skip
    assert "CONVEYOR_CLUSTER" not in env  # in a Pod, its own cluster is the default
    port = container["ports"][0]
    assert container["args"][container["args"].index("--port") + 1] == str(port["containerPort"])
    service = rendered["Service/conveyor"]["spec"]
    assert service["ports"][0]["targetPort"] == port["name"]
    assert (
        service["selector"].items()
        <= rendered["Deployment/conveyor"]["spec"]["template"]["metadata"]["labels"].items()
    )
