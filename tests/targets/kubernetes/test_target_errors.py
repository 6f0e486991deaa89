"""Every refusal of the API server becomes an error a person can act on."""

from __future__ import annotations

import re

import kmock
import pytest
from k8s_helpers import Sleeps, configmap, deployment, until

from conveyor.errors import TemporaryError, ValidationError
from conveyor.targets.kubernetes.errors import ApplyConflictError, FieldConflict, ForbiddenError
from conveyor.targets.kubernetes.informer import WATCH_FAILING
from conveyor.targets.kubernetes.target import KubernetesTarget
from support.kube_api import KubeApiServer, error

WEB = re.compile(r"^/apis/apps/v1/namespaces/shop/deployments/web$")

RBAC_MESSAGE = (
    'deployments.apps "web" is forbidden: User "system:serviceaccount:conveyor:conveyor" '
    'cannot patch resource "deployments" in API group "apps" in the namespace "shop"'
)


async def test_403_carries_the_rbac_message_and_what_to_grant(
    api: KubeApiServer, target: KubernetesTarget
) -> None:
    api.kmock["patch", WEB][:1] << (lambda: error(403, "Forbidden", RBAC_MESSAGE))
    with pytest.raises(ForbiddenError) as caught:
        await target.apply(deployment("web"))
    assert RBAC_MESSAGE in str(caught.value)
    assert "forbidden by the cluster's RBAC" in str(caught.value)
    assert "Deployment.apps/shop/web" in str(caught.value)


async def test_409_names_the_field_and_the_manager_that_owns_it(
    api: KubeApiServer, target: KubernetesTarget
) -> None:
    await target.apply(deployment("web", replicas=2))
    api.own("deployments", "shop", "web", ".spec.replicas", "kubectl-edit")
    with pytest.raises(ApplyConflictError) as caught:
        await target.apply(deployment("web", replicas=5))
    assert caught.value.conflicts == [FieldConflict(".spec.replicas", "kubectl-edit")]
    assert ".spec.replicas (owned by 'kubectl-edit')" in str(caught.value)
    assert api.kmock["patch"][-1].params["force"] == "false"
    assert api.get("deployments", "shop", "web")["spec"]["replicas"] == 2  # type: ignore[index]


async def test_422_lists_each_invalid_field(api: KubeApiServer, target: KubernetesTarget) -> None:
    causes = [
        {"reason": "FieldValueInvalid", "field": "spec.replicas",
         "message": "Invalid value: -1: must be greater than or equal to 0"},
        {"reason": "FieldValueRequired", "field": "spec.selector", "message": "Required value"},
    ]  # fmt: skip
    api.kmock["patch", WEB][:1] << (
        lambda: error(422, "Invalid", 'Deployment.apps "web" is invalid', causes=causes)
    )
    with pytest.raises(ValidationError) as caught:
        await target.apply(deployment("web"))
    assert str(caught.value).endswith(
        "the cluster refused the object as invalid: spec.replicas: Invalid value: -1: must be "
        "greater than or equal to 0; spec.selector: Required value"
    )


async def test_429_waits_retry_after_then_succeeds(
    api: KubeApiServer, target: KubernetesTarget, sleeps: Sleeps
) -> None:
    api.kmock["patch", WEB][:2] << (
        lambda: kmock.Response(
            status=429,
            headers={"Retry-After": "3"},
            payload={
                "kind": "Status",
                "code": 429,
                "reason": "TooManyRequests",
                "message": "Too many requests, please try again later.",
            },
        )
    )
    sleeps.delays.clear()
    stored = await target.apply(deployment("web"))
    assert stored["metadata"]["name"] == "web"
    assert sleeps.delays[:2] == [3.0, 3.0]
    assert len([r for r in api.kmock["patch"] if WEB.match(r.url.path)]) == 3


async def test_429_that_persists_is_temporary_with_the_servers_delay(
    api: KubeApiServer, target: KubernetesTarget
) -> None:
    api.kmock["patch", WEB] << (
        lambda: kmock.Response(
            status=429,
            headers={"Retry-After": "7"},
            payload={"kind": "Status", "code": 429, "message": "slow down"},
        )
    )
    with pytest.raises(TemporaryError, match="throttling") as caught:
        await target.apply(deployment("web"))
    assert caught.value.delay == 7.0


async def test_500_is_temporary(api: KubeApiServer, target: KubernetesTarget) -> None:
    api.kmock["patch", WEB][:1] << (lambda: error(500, "InternalError", "etcdserver: timeout"))
    with pytest.raises(TemporaryError, match=r"failed \(500 InternalError\): etcdserver: timeout"):
        await target.apply(deployment("web"))
    assert (await target.apply(deployment("web")))["metadata"]["name"] == "web"  # it passes


async def test_a_watch_refused_by_rbac_is_a_target_condition_until_it_works(
    api: KubeApiServer, target: KubernetesTarget
) -> None:
    secrets = re.compile(r"^/api/v1/secrets$")
    message = 'secrets is forbidden: User "conveyor" cannot list resource "secrets"'
    api.kmock["get", secrets][:3] << (lambda: error(403, "Forbidden", message))
    await until(lambda: api.open_watches >= 1, what="open watches")
    api.cut_watches()
    await until(
        lambda: any(c.type == WATCH_FAILING and message in c.message for c in target.conditions()),
        what="the RBAC refusal shown as a condition",
    )
    await target.apply(configmap("a"))
    await until(lambda: target.conditions() == [], what="the condition gone once it works")


async def test_a_throttled_watch_waits_the_servers_retry_after(
    api: KubeApiServer, target: KubernetesTarget, sleeps: Sleeps
) -> None:
    configmaps = re.compile(r"^/api/v1/configmaps$")
    api.kmock["get", configmaps][:8] << (
        lambda: kmock.Response(
            status=429,
            headers={"Retry-After": "9"},
            payload={"kind": "Status", "code": 429, "message": "slow down"},
        )
    )
    await until(lambda: api.open_watches >= 1, what="open watches")
    sleeps.delays.clear()
    api.cut_watches()
    await until(lambda: 9.0 in sleeps.delays, what="a wait of the server's Retry-After")
    await target.apply(configmap("after"))
    await until(lambda: target.conditions() == [], what="the watch back")
