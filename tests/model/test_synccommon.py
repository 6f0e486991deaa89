"""The sync vocabulary: what is a hook, in which phase it runs, its wave and delete policies."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor.errors import ValidationError
from conveyor.model.synccommon import (
    HookDeletePolicy,
    HookType,
    delete_policies,
    hook_types,
    invalid_hook_types,
    is_helm_test,
    is_hook,
    runs_in,
    wave,
)


def obj(kind: str = "Job", **notes: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": "x", "annotations": notes}}


HOOK = "argocd.argoproj.io/hook"
HELM = "helm.sh/hook"


@pytest.mark.parametrize(
    ("notes", "hook", "phases"),
    [
        ({}, False, set()),
        ({HOOK: "PreSync"}, True, {HookType.PRE_SYNC}),
        ({HOOK: "PreSync,PostSync"}, True, {HookType.PRE_SYNC, HookType.POST_SYNC}),
        ({HOOK: "Skip"}, True, set()),
        ({HELM: "pre-install"}, True, {HookType.PRE_SYNC}),
        ({HELM: "pre-upgrade,post-upgrade"}, True, {HookType.PRE_SYNC, HookType.POST_SYNC}),
        ({HELM: "post-install"}, True, {HookType.POST_SYNC}),
        ({HELM: "crd-install"}, False, set()),
        ({HELM: "test"}, True, set()),
        ({HELM: "test-success"}, True, set()),
        ({HELM: "test-failure"}, True, set()),
        ({HELM: "pre-delete"}, True, set()),
        ({HOOK: "PostSync", HELM: "pre-install"}, True, {HookType.POST_SYNC}),
    ],
    ids=["plain", "presync", "two-phases", "skip", "helm-pre-install", "helm-upgrade",
         "helm-post-install", "helm-crd-install", "helm-test", "helm-test-success",
         "helm-test-failure", "helm-pre-delete", "argo-wins-over-helm"],
)  # fmt: skip
def test_hooks_and_their_phases(notes: dict[str, str], hook: bool, phases: set[HookType]) -> None:
    o = obj(**notes)
    assert is_hook(o) is hook
    assert set(runs_in(o)) == phases


def test_helm_test_hooks_are_recognised() -> None:
    assert is_helm_test(obj(**{HELM: "test"}))
    assert not is_helm_test(obj(**{HELM: "pre-install"}))


def test_an_unknown_hook_name_is_reported_and_not_run() -> None:
    o = obj(**{HOOK: "PreSynk,PostSync"})
    assert hook_types(o) == {HookType.POST_SYNC}
    assert invalid_hook_types(o) == ["PreSynk"]


def test_a_non_string_hook_annotation_is_refused() -> None:
    o = obj(**{HOOK: 5})
    assert is_hook(o)
    with pytest.raises(ValidationError, match="must be a string"):
        hook_types(o)


@pytest.mark.parametrize(
    ("notes", "expected"),
    [
        ({}, 0),
        ({"argocd.argoproj.io/sync-wave": "-2"}, -2),
        ({"helm.sh/hook-weight": "5"}, 5),
        ({"argocd.argoproj.io/sync-wave": "1", "helm.sh/hook-weight": "5"}, 1),
        ({"argocd.argoproj.io/sync-wave": "soon", "helm.sh/hook-weight": "5"}, 5),
        ({"argocd.argoproj.io/sync-wave": "soon"}, 0),
    ],
    ids=["unset", "sync-wave", "helm-weight", "sync-wave-wins", "bad-wave-falls-back", "bad"],
)
def test_the_wave_rule(notes: dict[str, str], expected: int) -> None:
    assert wave(obj(**notes)) == expected


def test_delete_policies_from_argo_and_helm() -> None:
    assert delete_policies(obj()) == {HookDeletePolicy.BEFORE_HOOK_CREATION}
    helm = obj(**{"helm.sh/hook-delete-policy": "hook-succeeded,hook-failed"})
    assert delete_policies(helm) == {HookDeletePolicy.HOOK_SUCCEEDED, HookDeletePolicy.HOOK_FAILED}
    both = obj(**{"argocd.argoproj.io/hook-delete-policy": "HookFailed",
                  "helm.sh/hook-delete-policy": "hook-succeeded"})  # fmt: skip
    assert delete_policies(both) == {HookDeletePolicy.HOOK_FAILED, HookDeletePolicy.HOOK_SUCCEEDED}
