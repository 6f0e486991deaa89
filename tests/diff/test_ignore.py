"""ignoreDifferences: JSON pointers and jq path expressions remove fields from the comparison."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from conveyor.diff import compile_ignore_rules, diff_object
from conveyor.diff.ignore import remove_pointer
from conveyor.errors import ValidationError
from conveyor.model.loading import application_from_dict


def test_json_pointer_makes_replicas_change_synced(
    desired: dict[str, Any], live: dict[str, Any]
) -> None:
    live["spec"]["replicas"] = 5
    rules = compile_ignore_rules(
        [{"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}]
    )
    assert diff_object(desired, live, namespace="prod", ignore_rules=rules).synced


def test_jq_expression_makes_image_change_synced(
    desired: dict[str, Any], live: dict[str, Any]
) -> None:
    live["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.local/web:hotfix"
    rules = compile_ignore_rules(
        [
            {
                "group": "apps",
                "kind": "Deployment",
                "jqPathExpressions": [
                    '.spec.template.spec.containers[] | select(.name == "web") | .image'
                ],
            }
        ]
    )
    assert diff_object(desired, live, namespace="prod", ignore_rules=rules).synced
    other = compile_ignore_rules(
        [{"kind": "Deployment", "group": "apps", "jqPathExpressions": [".spec.replicas"]}]
    )
    assert not diff_object(desired, live, namespace="prod", ignore_rules=other).synced


@pytest.mark.parametrize(
    ("rule", "applies"),
    [
        ({"group": "apps", "kind": "Deployment"}, True),
        ({"group": "*", "kind": "*"}, True),
        ({"group": "apps", "kind": "Deploy*"}, True),
        ({"group": "", "kind": "Deployment"}, False),
        ({"group": "apps", "kind": "StatefulSet"}, False),
        ({"group": "apps", "kind": "Deployment", "name": "web"}, True),
        ({"group": "apps", "kind": "Deployment", "name": "api"}, False),
        ({"group": "apps", "kind": "Deployment", "namespace": "prod"}, True),
        ({"group": "apps", "kind": "Deployment", "namespace": "dev"}, False),
    ],
    ids=str,
)
def test_rule_matching(
    desired: dict[str, Any], live: dict[str, Any], rule: dict[str, Any], applies: bool
) -> None:
    live["spec"]["replicas"] = 5
    rules = compile_ignore_rules([{**rule, "jsonPointers": ["/spec/replicas"]}])
    assert diff_object(desired, live, namespace="prod", ignore_rules=rules).synced is applies


def test_rules_from_a_seed_application(desired: dict[str, Any], live: dict[str, Any]) -> None:
    app = application_from_dict(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": "web"},
            "spec": {
                "project": "default",
                "source": {"repoURL": "https://x/y"},
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "prod"},
                "ignoreDifferences": [
                    {"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}
                ],
            },
        }
    ).value
    live["spec"]["replicas"] = 9
    rules = compile_ignore_rules(app.spec.ignore_differences)
    assert diff_object(desired, live, namespace="prod", ignore_rules=rules).synced


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"kind": "Deployment", "jsonPointers": ["spec/replicas"]},
            "spec.ignoreDifferences[0].jsonPointers[0]: 'spec/replicas' is not a JSON pointer",
        ),
        (
            {"kind": "Deployment", "jqPathExpressions": [".spec | bad("]},
            "spec.ignoreDifferences[0].jqPathExpressions[0]: '.spec | bad(' is not a jq path",
        ),
        ({"jsonPointers": ["/spec"]}, "spec.ignoreDifferences[0].kind: field required"),
    ],
    ids=["pointer", "jq", "kind"],
)
def test_bad_rules_are_clear_errors(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        compile_ignore_rules([entry])


def test_pointer_or_jq_that_does_not_apply_leaves_the_object(
    desired: dict[str, Any], live: dict[str, Any]
) -> None:
    rules = compile_ignore_rules(
        [
            {
                "group": "apps",
                "kind": "Deployment",
                "jsonPointers": ["/spec/nothing/here", "/spec/template/spec/containers/7"],
                "jqPathExpressions": [".spec.missing[] | .x"],
            }
        ]
    )
    assert diff_object(desired, live, namespace="prod", ignore_rules=rules).synced
    live["spec"]["replicas"] = 4
    assert not diff_object(desired, live, namespace="prod", ignore_rules=rules).synced


def test_remove_pointer_copies_only_the_path() -> None:
    obj = {"a": {"b": [1, {"c": 2, "d~/": 3}]}, "e": {"f": 1}}
    before = copy.deepcopy(obj)
    out = remove_pointer(obj, ("a", "b", "1", "c"))
    assert out == {"a": {"b": [1, {"d~/": 3}]}, "e": {"f": 1}}
    assert obj == before and out["e"] is obj["e"]
    assert remove_pointer(obj, ("x",)) is obj
    [rule] = compile_ignore_rules([{"kind": "*", "jsonPointers": ["/a/b/1/d~0~1"]}])
    assert rule.json_pointers == ("/a/b/1/d~0~1",)
