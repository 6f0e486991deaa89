"""Which manifests configure notifications (``apply -f``): the ConfigMaps and Secrets by name."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from conveyor.errors import ValidationError
from conveyor.notify.service import config_data


def _secret(**fields: Any) -> dict[str, Any]:
    return {"kind": "Secret", "metadata": {"name": "argocd-notifications-secret"}, **fields}


def test_a_secrets_data_is_decoded_and_string_data_wins() -> None:
    encoded = base64.b64encode(b"from-data").decode()
    manifest = _secret(data={"a": encoded, "b": encoded}, stringData={"b": "from-stringData"})
    assert config_data(manifest) == (
        "argocd-notifications-secret", "Secret", {"a": "from-data", "b": "from-stringData"},
    )  # fmt: skip


def test_both_configmaps_are_taken() -> None:
    for name in ("argocd-notifications-cm", "argo-rollouts-notification-configmap"):
        manifest = {"kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}}
        assert config_data(manifest) == (name, "ConfigMap", {"k": "v"})


@pytest.mark.parametrize(
    ("manifest", "why"),
    [
        ({"kind": "ConfigMap", "metadata": {"name": "argocd-cm"}}, "is not a notification setting"),
        ({"kind": "Deployment", "metadata": {"name": "x"}}, "is not a notification setting"),
        (_secret(data={"a": "not base64!"}), "data.a is not base64 text"),
        (_secret(data=["a"]), "data: expected a mapping"),
        ({"kind": "ConfigMap", "metadata": {"name": "argocd-notifications-cm"},
          "data": {"n": 1}}, "data values must be text"),
        ({"kind": "ConfigMap", "metadata": ["argocd-notifications-cm"]}, "not a notification"),
    ],
    ids=["other-configmap", "other-kind", "bad-base64", "data-list", "non-text", "bad-meta"],
)  # fmt: skip
def test_other_or_malformed_manifests_are_refused(manifest: dict[str, Any], why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        config_data(manifest)
