"""The default Rego bundle and the AppProject policy gate: what a violating manifest gets."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from conveyor.cli.main import app as cli
from conveyor.engine.compare import compare_objects
from conveyor.errors import ValidationError
from conveyor.model.application import Application
from conveyor.model.appproject import AppProject
from conveyor.policy.gate import POLICY_WARNING, check
from conveyor.policy.rego import evaluate, load_bundle


def deployment(name: str = "web", **container: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "app",
        "image": "ghcr.io/acme/hello:3f2a9c1",
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001},
        "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}},
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
    }
    base.update(container)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "hello"},
        "spec": {"template": {"spec": {"containers": [base]}}},
    }


def messages(obj: dict[str, Any], environment: str = "") -> list[str]:
    return [v.message for v in evaluate(load_bundle("default"), [obj], environment=environment)]


def test_a_compliant_deployment_passes_even_in_prod() -> None:
    assert messages(deployment(), "prod") == []


@pytest.mark.parametrize(
    ("container", "expected"),
    [
        ({"securityContext": {"runAsUser": 0}}, 'container "app" may run as root'),
        ({"securityContext": {}}, 'container "app" may run as root'),
        ({"resources": {"limits": {"cpu": "1"}}}, 'container "app" has no memory limit'),
        ({"image": "ghcr.io/acme/hello:latest"}, ":latest is not a version"),
        ({"image": "ghcr.io/acme/hello"}, "uses the untagged image"),
    ],
    ids=["root-user", "root-by-default", "no-memory-limit", "latest", "untagged"],
)
def test_each_seed_rule_refuses_with_its_message(container: dict[str, Any], expected: str) -> None:
    [message] = messages(deployment(**container))
    assert message.startswith("Deployment/web: ") and expected in message


def test_probes_are_required_in_prod_only() -> None:
    bare = deployment(readinessProbe=None, livenessProbe=None)
    for c in bare["spec"]["template"]["spec"]["containers"]:
        del c["readinessProbe"], c["livenessProbe"]
    assert messages(bare, "dev") == []
    assert len(messages(bare, "prod")) == 2


def test_the_seeds_own_admission_policy_runs_unchanged(tmp_path: Path) -> None:
    (tmp_path / "security-policies.rego").write_text(
        "package kubernetes.admission\n\n"
        "deny[msg] {\n"
        '    input.request.kind.kind == "Pod"\n'
        "    input.request.object.spec.containers[_].securityContext.runAsRoot == true\n"
        '    msg := "Containers must not run as root"\n'
        "}\n"
    )
    container = {"name": "c", "securityContext": {"runAsRoot": True}}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}
    pod["spec"] = {"containers": [container]}
    [violation] = evaluate(load_bundle(tmp_path), [pod])
    assert violation.message == "Containers must not run as root" and violation.deny


def project(gate: str) -> AppProject:
    return AppProject.model_validate(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "AppProject",
            "metadata": {"name": "team", "annotations": {"policy.conveyor.dev/gate": gate}},
            "spec": {
                "sourceRepos": ["*"],
                "destinations": [{"server": "*", "namespace": "*"}],
                "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
            },
        }
    )


def app() -> Application:
    return Application.model_validate(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": "hello", "labels": {"conveyor.dev/environment": "dev"}},
            "spec": {
                "project": "team",
                "source": {"repoURL": "https://example.com/config.git", "path": "hello"},
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "hello"},
            },
        }
    )


def test_an_enforcing_project_refuses_a_root_container() -> None:
    root = deployment(securityContext={"runAsUser": 0})
    with pytest.raises(ValidationError, match=r'container "app" may run as root'):
        compare_objects(
            app(), "abc", [root], [], project=project("enforce"), source_type="Directory"
        )


def test_a_warning_project_syncs_and_shows_the_rule() -> None:
    root = deployment(securityContext={"runAsUser": 0})
    comparison = compare_objects(
        app(), "abc", [root], [], project=project("warn"), source_type="Directory"
    )
    [condition] = [c for c in comparison.conditions if c.type == POLICY_WARNING]
    assert "may run as root" in condition.message


EXAMPLE = Path(__file__).parent / "bundle-example"


def test_policy_test_runs_the_default_bundle_against_fixtures() -> None:
    result = CliRunner().invoke(cli, ["policy", "test", str(EXAMPLE), "--bundle", "default"])
    assert result.exit_code == 0, result.output
    assert "ok   deny/deployment-root.yaml" in result.output
    assert "2 fixtures passed" in result.output


def test_policy_test_fails_when_a_deny_fixture_gets_through(tmp_path: Path) -> None:
    (tmp_path / "lenient.rego").write_text(
        'package lenient\nimport rego.v1\ndeny contains "x" if false\n'
    )
    shutil.copytree(EXAMPLE / "fixtures", tmp_path / "fixtures")
    result = CliRunner().invoke(cli, ["policy", "test", str(tmp_path)])
    assert result.exit_code == 1
    assert "FAIL deny/deployment-root.yaml: no deny rule matched 'may run as root'" in (
        result.output
    )


def test_the_gate_reads_the_environment_label_for_prod_rules() -> None:
    bare = deployment()
    for c in bare["spec"]["template"]["spec"]["containers"]:
        del c["readinessProbe"], c["livenessProbe"]
    enforce = {"policy.conveyor.dev/gate": "enforce"}
    assert check(enforce, {"environment": "dev"}, [bare]).errors == []
    errors = check(enforce, {"environment": "prod"}, [bare]).errors
    assert len(errors) == 2 and all("required in prod" in e for e in errors)
    assert (
        check(enforce, {"conveyor.dev/environment": "dev", "environment": "prod"}, [bare]).errors
        == []
    )
