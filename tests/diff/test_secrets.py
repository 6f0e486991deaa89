"""Secret values: compared by content, masked everywhere they could be shown."""

from __future__ import annotations

import base64
import json
from typing import Any

from conveyor.diff import MASK, diff_object, fold_string_data, mask_secret, mask_secrets
from conveyor.model.merge import three_way_apply


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secret(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, **fields}


def test_equal_values_get_equal_masks_and_changed_values_different_ones() -> None:
    desired = secret(data={"user": b64("admin"), "password": b64("new-pw")})
    live = secret(data={"user": b64("admin"), "password": b64("old-pw")})
    masked_desired, masked_live = mask_secrets(desired, live)
    assert masked_desired and masked_live
    assert masked_desired["data"]["user"] == masked_live["data"]["user"] == MASK == "++++++++"
    assert masked_desired["data"]["password"] == "++++++++"
    assert masked_live["data"]["password"] == "++++++++++++"
    assert desired["data"]["password"] == b64("new-pw")  # inputs untouched


def test_secret_change_shows_without_revealing_values() -> None:
    desired = secret(stringData={"password": "hunter2-new"})
    live = three_way_apply(None, secret(data={"password": b64("hunter2")}))
    result = diff_object(desired, live, namespace="prod")
    assert not result.synced
    shown = (
        result.reason
        + result.unified_diff
        + repr(result)
        + json.dumps([result.normalized_desired, result.normalized_live])
    )
    for value in ("hunter2", b64("hunter2"), b64("hunter2-new")):
        assert value not in shown
    assert result.reason == "data.password: ++++++++++++ → ++++++++"
    assert "-  password: ++++++++++++\n+  password: ++++++++\n" in result.unified_diff


def test_string_data_equals_base64_data() -> None:
    desired = secret(stringData={"password": "hunter2"}, data={"user": b64("admin")})
    live = secret(metadata={"name": "db", "namespace": "prod", "uid": "u"})
    live["data"] = {"user": b64("admin"), "password": b64("hunter2")}
    assert diff_object(desired, live, namespace="prod").synced
    assert fold_string_data(desired)["data"] == live["data"]
    assert "stringData" not in fold_string_data(desired)


def test_masks_are_per_key_and_across_string_data_and_data() -> None:
    masked_desired, masked_live = mask_secrets(
        secret(stringData={"a": "same"}), secret(data={"a": b64("same"), "b": b64("same")})
    )
    assert masked_desired and masked_live
    assert masked_desired["stringData"]["a"] == masked_live["data"]["a"] == MASK
    assert masked_live["data"]["b"] == MASK  # first value seen for key b


def test_last_applied_annotation_is_masked() -> None:
    live = three_way_apply(None, secret(data={"password": b64("hunter2")}))
    masked = mask_secret(live)
    text = json.dumps(masked)
    assert b64("hunter2") not in text
    annotation = masked["metadata"]["annotations"][
        "kubectl.kubernetes.io/last-applied-configuration"
    ]
    assert json.loads(annotation)["data"]["password"] == MASK


def test_other_kinds_are_not_masked() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "b"}}
    assert mask_secret(cm) is cm


def test_missing_and_extraneous_secrets_are_masked() -> None:
    desired = secret(stringData={"password": "hunter2"})
    created = diff_object(desired, None, namespace="prod")
    assert "hunter2" not in created.unified_diff and b64("hunter2") not in created.unified_diff
    live = secret(metadata={"name": "db", "namespace": "prod"}, data={"password": b64("x")})
    pruned = diff_object(None, live)
    assert pruned.normalized_live and pruned.normalized_live["data"]["password"] == MASK
