"""The warnings an app shows for what its sync options and annotations cannot do."""

from __future__ import annotations

from typing import Any

from conveyor.engine.syncoptions import (
    option_conditions,
    shared_resource_conditions,
    shared_resource_failure,
)
from conveyor.model.objects import Object, ObjectKey
from conveyor.model.syncoptions import SyncOptions


def cm(name: str, app: str | None = None, **notes: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "demo"}
    if app:
        meta["labels"] = {"app.kubernetes.io/instance": app}
    if notes:
        meta["annotations"] = dict(notes)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}


def test_server_side_apply_gives_a_warning_naming_the_option() -> None:
    found = option_conditions(SyncOptions.parse(["ServerSideApply=true"]), [])
    assert [c["type"] for c in found] == ["SyncOptionWarning"]
    assert "ServerSideApply=true is not supported" in found[0]["message"]


def test_on_a_server_side_target_server_side_apply_is_honoured_and_false_is_warned() -> None:
    honoured = SyncOptions.parse(["ServerSideApply=true", "ClientSideApplyMigration=false"])
    assert option_conditions(honoured, [cm("a")], server_side_apply=True) == []
    refused = option_conditions(
        SyncOptions.parse(["ServerSideApply=false"]), [cm("a")], server_side_apply=True
    )
    assert [c["message"] for c in refused] == [
        "ServerSideApply=false has no effect on a Kubernetes cluster: Conveyor always applies "
        "server-side there (field manager conveyor)"
    ]


def test_options_that_are_honoured_give_no_warning() -> None:
    honoured = ["Replace=true", "Validate=false", "PrunePropagationPolicy=orphan",
                "RespectIgnoreDifferences=true", "FailOnSharedResource=true", "Force=true",
                "SkipDryRunOnMissingResource=true", "CreateNamespace=true", "PruneLast=true",
                "ApplyOutOfSyncOnly=true", "Prune=false", "Delete=false",
                "ServerSideApply=false"]  # fmt: skip
    assert option_conditions(SyncOptions.parse(honoured), [cm("a")]) == []


def test_per_resource_problems_name_the_resource() -> None:
    desired = [
        cm("a", **{"argocd.argoproj.io/sync-options": "ServerSideApply=true,Replace=maybe"}),
        cm("b", **{"argocd.argoproj.io/sync-options": "Delete=confirm"}),
        cm("c", **{"argocd.argoproj.io/hook": "PreSynk",
                   "argocd.argoproj.io/hook-delete-policy": "Always"}),
    ]  # fmt: skip
    messages = [(c["type"], c["message"]) for c in option_conditions(SyncOptions(), desired)]
    assert messages[0][0] == "SyncOptionWarning"
    assert messages[0][1].startswith("ConfigMap/a: ServerSideApply=true is not supported")
    assert "ConfigMap/a" in messages[1][1] and "Replace=maybe" in messages[1][1]
    assert messages[2][1].startswith("ConfigMap/b: Delete=confirm is not supported")
    assert messages[3] == (
        "HookAnnotationWarning",
        "ConfigMap/c: argocd.argoproj.io/hook 'PreSynk' is not a hook type (use PreSync, "
        "Sync, PostSync, SyncFail or Skip); it is ignored",
    )
    assert messages[4][0] == "HookAnnotationWarning" and "'Always'" in messages[4][1]


def test_a_resource_tracked_by_another_app_is_shared() -> None:
    live: dict[ObjectKey, Object] = {
        ObjectKey.of(o): o for o in (cm("settings", "web"), cm("mine", "api"))
    }
    desired = [cm("settings", "api"), cm("mine", "api"), cm("new", "api")]
    assert shared_resource_conditions("api", desired, live.get) == [
        {"type": "SharedResourceWarning",
         "message": "ConfigMap/settings is part of applications api and web"}
    ]  # fmt: skip
    assert shared_resource_failure("api", desired, live.get) == (
        "Shared resource found: ConfigMap/settings is part of applications api and web"
    )
    assert shared_resource_failure("api", desired[1:], live.get) is None
