"""Which set Pod-spec fields the local runtime says it does not honour (pure, no processes),
and that it says so once per pod template, on the object a person wrote."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor.model.objects import ObjectKey
from conveyor.targets.local.fieldwarnings import FieldWarnings
from conveyor.targets.local.unhonoured import (
    REASON,
    HostUser,
    container_fields,
    pod_spec_fields,
    unhonoured_fields,
)

ROOT = HostUser(0, 0)
ALICE = HostUser(1000, 1000)


def _deployment(pod_spec: dict[str, Any], generation: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "uid": "u1", "generation": generation},
        "spec": {"replicas": 1, "template": {"spec": pod_spec}},
    }


def _container(**fields: Any) -> dict[str, Any]:
    return {"name": "web", "image": "web:1", **fields}


def _paths(spec: dict[str, Any], user: HostUser = ALICE) -> list[str]:
    return [f.path for f in pod_spec_fields(spec, "spec.", user)]


def test_a_plain_pod_spec_has_nothing_to_warn_about() -> None:
    spec = {
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "tolerations": [{"key": "x", "operator": "Exists"}],  # the one node has no taints
        "dnsPolicy": "Default",
        "containers": [
            _container(
                command=["python", "-m", "http.server"],
                env=[{"name": "A", "value": "1"}],
                ports=[{"name": "http", "containerPort": 8000, "protocol": "TCP"}],
                readinessProbe={"httpGet": {"path": "/", "port": "http"}},
                resources={"limits": {"cpu": "500m", "memory": "256Mi"}},  # ResourceLimits
                imagePullPolicy="IfNotPresent",
            )
        ],
    }
    assert _paths(spec) == []


def test_scheduling_volumes_and_dns_are_named_with_their_paths() -> None:
    spec = {
        "nodeSelector": {"disk": "ssd"},
        "affinity": {"nodeAffinity": {}},
        "volumes": [{"name": "data", "emptyDir": {}}],
        "dnsPolicy": "ClusterFirst",
        "containers": [_container(volumeMounts=[{"name": "data", "mountPath": "/data"}])],
        "initContainers": [_container(name="migrate", lifecycle={"preStop": {}})],
    }
    found = {f.path: f.why for f in pod_spec_fields(spec, "spec.template.spec.", ALICE)}
    assert set(found) == {
        "spec.template.spec.nodeSelector",
        "spec.template.spec.affinity",
        "spec.template.spec.volumes",
        "spec.template.spec.dnsPolicy",
        "spec.template.spec.initContainers[0].lifecycle",
        "spec.template.spec.containers[0].volumeMounts",
    }
    assert "no scheduler" in found["spec.template.spec.nodeSelector"]
    assert "mounts no volumes" in found["spec.template.spec.volumes"]


def test_requests_and_other_limits_are_said_but_cpu_and_memory_limits_are_not() -> None:
    container = _container(
        resources={
            "requests": {"cpu": "100m"},
            "limits": {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "1"},
        }
    )
    found = container_fields(container, "spec.containers[0].", ALICE)
    assert [f.message for f in found] == [
        "spec.containers[0].resources.requests: the local runtime has no scheduler and "
        "reserves nothing for requests (they only feed resourceFieldRef)",
        "spec.containers[0].resources.limits.nvidia.com/gpu: only cpu and memory limits are "
        "applied",
    ]


@pytest.mark.parametrize(
    ("user", "context", "expected"),
    [
        (ALICE, {"runAsNonRoot": True}, []),
        (ROOT, {"runAsNonRoot": True}, ["runAsNonRoot"]),
        (ALICE, {"runAsNonRoot": True, "runAsUser": 0}, ["runAsNonRoot", "runAsUser"]),
        (ALICE, {"runAsUser": 1000, "runAsGroup": 1000}, []),
        (ALICE, {"runAsUser": 10001}, ["runAsUser"]),
        (ROOT, {"privileged": False}, ["privileged"]),
        (ALICE, {"privileged": False, "readOnlyRootFilesystem": False}, []),
        (ALICE, {"readOnlyRootFilesystem": True}, ["readOnlyRootFilesystem"]),
        (ALICE, {"capabilities": {"drop": ["ALL"]}}, ["capabilities"]),
        (ALICE, {"seccompProfile": {"type": "RuntimeDefault"}}, ["seccompProfile"]),
    ],
    ids=[
        "non-root-server-honours-runAsNonRoot",
        "root-server-cannot",
        "runAsUser-0-contradicts",
        "own-uid-is-honoured",
        "other-uid-is-not",
        "root-is-privileged",
        "non-root-unprivileged-writable",
        "read-only-root",
        "capabilities",
        "seccomp",
    ],
)
def test_security_context_against_the_servers_user(
    user: HostUser, context: dict[str, Any], expected: list[str]
) -> None:
    spec = {"containers": [_container(securityContext=context)]}
    where = "spec.containers[0].securityContext."
    assert _paths(spec, user) == [where + name for name in expected]
    pod_level = {"securityContext": context, "containers": [_container()]}
    assert _paths(pod_level, user) == ["spec.securityContext." + name for name in expected]


def test_allow_privilege_escalation_false_is_applied_to_a_container_on_linux() -> None:
    context = {"allowPrivilegeEscalation": False}
    container_level = {"containers": [_container(securityContext=context)]}
    assert _paths(container_level) == []  # the kubelet sets no_new_privs
    pod_level = {"securityContext": context, "containers": []}  # not a Pod's field
    assert _paths(pod_level) == ["spec.securityContext.allowPrivilegeEscalation"]


def test_root_server_says_runAsNonRoot_is_not_enforced_and_why() -> None:
    [field] = pod_spec_fields({"securityContext": {"runAsNonRoot": True}}, "spec.", ROOT)
    assert field.message.startswith(
        "spec.securityContext.runAsNonRoot: every container runs as Conveyor's user, root (uid 0)"
    )
    assert "run Conveyor as a non-root user" in field.message


def test_isolation_fields_warn_only_when_they_ask_for_isolation() -> None:
    shared = {"hostPID": True, "hostIPC": True, "shareProcessNamespace": True, "containers": []}
    assert _paths(shared) == []
    isolated = {"hostPID": False, "hostUsers": False, "containers": []}
    assert _paths(isolated) == ["spec.hostPID", "spec.hostUsers"]


def test_service_account_token_unless_automount_is_off() -> None:
    assert _paths({"serviceAccountName": "api", "containers": []}) == ["spec.serviceAccountName"]
    off = {"serviceAccountName": "api", "automountServiceAccountToken": False, "containers": []}
    assert _paths(off) == []


def test_container_odds_and_ends() -> None:
    container = _container(
        imagePullPolicy="Always",
        tty=True,
        ports=[{"containerPort": 53, "protocol": "UDP", "hostPort": 53}],
        terminationMessagePolicy="FallbackToLogsOnError",
    )
    found = [f.path for f in container_fields(container, "", ALICE)]
    assert found == [
        "terminationMessagePolicy",
        "imagePullPolicy",
        "tty",
        "ports[0].hostPort",
        "ports[0].protocol",
    ]
    sidecar = _container(restartPolicy="Always")
    assert [f.path for f in container_fields(sidecar, "", ALICE, init=True)] == ["restartPolicy"]
    assert container_fields(sidecar, "", ALICE, init=False) == []


def test_workload_templates_pods_and_other_kinds() -> None:
    spec = {"nodeSelector": {"a": "b"}, "containers": []}
    assert [f.path for f in unhonoured_fields(_deployment(spec), ALICE)] == [
        "spec.template.spec.nodeSelector"
    ]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}
    assert [f.path for f in unhonoured_fields(pod, ALICE)] == ["spec.nodeSelector"]
    rollout = {**_deployment(spec), "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout"}
    assert [f.path for f in unhonoured_fields(rollout, ALICE)] == [
        "spec.template.spec.nodeSelector"
    ]
    impostor = {**pod, "apiVersion": "evil.example.com/v1"}  # a CRD's Pod is never run
    assert unhonoured_fields(impostor, ALICE) == []
    stateful = {**_deployment(spec), "kind": "StatefulSet"}  # stored, never run
    assert unhonoured_fields(stateful, ALICE) == []


class _Events:
    def __init__(self) -> None:
        self.recorded: list[tuple[ObjectKey, str, str, str]] = []

    def __call__(self, key: ObjectKey, reason: str, message: str, type_: str) -> None:
        self.recorded.append((key, reason, message, type_))


def test_warnings_are_said_once_per_template_revision() -> None:
    events = _Events()
    warnings = FieldWarnings(events, ALICE)
    key = ObjectKey("apps", "Deployment", "default", "web")
    spec = {"nodeSelector": {"a": "b"}, "containers": [_container()]}
    warnings.check(key, _deployment(spec))
    assert events.recorded == [
        (
            key,
            REASON,
            "spec.template.spec.nodeSelector: the local runtime has one node and no scheduler; "
            "it is not applied",
            "Warning",
        )
    ]
    warnings.check(key, _deployment(spec))  # another reconcile
    scaled = _deployment(spec, generation=2)
    scaled["spec"]["replicas"] = 3
    warnings.check(key, scaled)  # a new generation, the same template
    assert len(events.recorded) == 1

    changed = {**spec, "volumes": [{"name": "v", "emptyDir": {}}]}
    warnings.check(key, _deployment(changed, generation=3))
    assert sorted(e[2].split(":")[0] for e in events.recorded[1:]) == [
        "spec.template.spec.nodeSelector",
        "spec.template.spec.volumes",
    ]


def test_objects_a_controller_made_are_not_checked_again() -> None:
    events = _Events()
    warnings = FieldWarnings(events, ALICE)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-abc",
            "uid": "p1",
            "ownerReferences": [{"kind": "ReplicaSet", "name": "web-1", "controller": True}],
        },
        "spec": {"nodeSelector": {"a": "b"}, "containers": []},
    }
    warnings.check(ObjectKey.of(pod), pod)
    assert events.recorded == []
