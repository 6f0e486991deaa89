"""The local runtime refuses an analysis manifest Argo's controller could not run, when it is
applied, with the field and the construct named; a valid one is stored as given."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from conveyor.errors import ValidationError
from conveyor.targets.local.validation import admit

TEMPLATE: dict[str, Any] = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "AnalysisTemplate",
    "metadata": {"name": "success-rate", "namespace": "default"},
    "spec": {
        "args": [{"name": "service-name"}],
        "metrics": [
            {
                "name": "success-rate",
                "interval": "2m",
                "count": 5,
                "successCondition": "result[0] >= 0.95",
                "failureLimit": 3,
                "provider": {
                    "prometheus": {
                        "address": "http://prometheus:9090",
                        "query": 'sum(rate(x{service="{{args.service-name}}"}[2m]))',
                    }
                },
            }
        ],
    },
}


def test_valid_template_is_admitted_unchanged() -> None:
    assert admit(copy.deepcopy(TEMPLATE)) == TEMPLATE


def test_unsupported_condition_is_refused_naming_it() -> None:
    bad = copy.deepcopy(TEMPLATE)
    bad["spec"]["metrics"][0]["successCondition"] = "result[0] matches '0.9.*'"
    with pytest.raises(ValidationError) as err:
        admit(bad)
    assert "spec.metrics[0].successCondition" in str(err.value)
    assert "the 'matches' operator (regular expressions) is not supported" in str(err.value)
    assert "AnalysisTemplate" in str(err.value)


def test_other_groups_kinds_are_not_judged_as_analysis() -> None:
    other = copy.deepcopy(TEMPLATE)
    other["apiVersion"] = "example.com/v1"
    other["spec"] = {"anything": True}
    assert admit(other) == other
