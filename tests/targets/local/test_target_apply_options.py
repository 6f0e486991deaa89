"""LocalTarget's apply and delete options: replace, validate, unknown kinds, propagation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conveyor.errors import ValidationError
from conveyor.model.objects import ObjectKey
from conveyor.model.syncoptions import PropagationPolicy
from conveyor.targets.local.journal import MemoryJournal
from conveyor.targets.local.runtime import LocalRuntime
from conveyor.targets.local.target import LocalTarget
from conveyor.targets.protocol import ApplyOptions, UnknownKindError


class NoImages:
    def resolve(self, image: str) -> None:
        return None


@pytest.fixture
def target(tmp_path: Path) -> LocalTarget:
    runtime = LocalRuntime(runtime_dir=tmp_path, journal=MemoryJournal(), images=NoImages())
    runtime.store.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
    return LocalTarget(runtime)


def service(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}], **spec}}  # fmt: skip


async def test_a_misspelt_field_is_refused_unless_validation_is_off(target: LocalTarget) -> None:
    with pytest.raises(ValidationError, match=r'unknown field "spec\.selecter"'):
        await target.apply(service(selecter={"app": "x"}))
    stored = await target.apply(service(selecter={"app": "x"}), ApplyOptions(validate=False))
    assert stored["spec"]["selecter"] == {"app": "x"}


async def test_the_server_rules_apply_even_without_validation(target: LocalTarget) -> None:
    bad = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
           "spec": {"template": {"spec": {"containers": []}}}}  # fmt: skip
    with pytest.raises(ValidationError, match="at least one container"):
        await target.apply(bad, ApplyOptions(validate=False))


async def test_replace_dry_run_shows_the_result_and_stores_nothing(target: LocalTarget) -> None:
    await target.apply(service(sessionAffinity="ClientIP"))
    preview = await target.apply(service(), ApplyOptions(replace=True, dry_run=True))
    assert "sessionAffinity" not in preview["spec"]
    live = await target.get(ObjectKey("", "Service", "default", "web"))
    assert live is not None and live["spec"]["sessionAffinity"] == "ClientIP"


async def test_a_kind_no_crd_defines_is_refused_until_its_crd_exists(target: LocalTarget) -> None:
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    with pytest.raises(UnknownKindError, match="could not find the requested resource"):
        await target.apply(widget)
    await target.apply(
        {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
         "metadata": {"name": "widgets.example.com"},
         "spec": {"group": "example.com", "names": {"kind": "Widget", "plural": "widgets"}}}
    )  # fmt: skip
    assert (await target.apply(widget))["metadata"]["uid"]


async def test_built_in_and_argoproj_kinds_need_no_crd(target: LocalTarget) -> None:
    for obj in (
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "p"}},
        {"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate",
         "metadata": {"name": "a"},
         "spec": {"metrics": [{"name": "up", "successCondition": "result == 1",
                               "provider": {"web": {"url": "http://127.0.0.1:1/"}}}]}},
    ):  # fmt: skip
        assert (await target.apply(obj))["metadata"]["uid"]


async def test_orphan_delete_leaves_children_without_the_owner_reference(
    target: LocalTarget,
) -> None:
    owner = await target.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "o"}})
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": owner["metadata"]["uid"]}
    target.runtime.store.create(
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "c", "namespace": "default", "ownerReferences": [ref]}}
    )  # fmt: skip
    key = ObjectKey.of(owner)
    assert await target.delete(key, propagation_policy=PropagationPolicy.ORPHAN)
    child = await target.get(ObjectKey("", "ConfigMap", "default", "c"))
    assert child is not None and "ownerReferences" not in child["metadata"]
    assert await target.get(key) is None
