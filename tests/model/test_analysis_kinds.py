"""AnalysisTemplate, ClusterAnalysisTemplate and AnalysisRun: the seeds' and Argo's manifests
load unchanged, defaults are Argo's, and what Argo's controller would reject is refused when
the manifest is applied, naming the field."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from conveyor.model.analysis.args import (
    MASK,
    ArgumentError,
    render_metric,
    resolve_args,
)
from conveyor.model.analysis.kinds import (
    DEFAULT_CONSECUTIVE_ERROR_LIMIT,
    AnalysisRun,
    AnalysisTemplate,
    ClusterAnalysisTemplate,
)
from conveyor.model.analysis.loading import analysis_from_dict, analysis_problem
from conveyor.model.loading import ManifestError
from conveyor.model.objects import CLUSTER_SCOPED_KINDS

SEEDS = Path("/work/shared/seeds")


def seed_templates() -> list[dict[str, Any]]:
    found = []
    for path in sorted(SEEDS.glob("*.txt")):
        for block in re.findall(r"```yaml\n(.*?)```", path.read_text(), re.S):
            if "kind: AnalysisTemplate" not in block:
                continue  # other blocks are snippets, some not valid YAML on their own
            for doc in yaml.safe_load_all(block):
                if isinstance(doc, dict) and doc.get("kind") == "AnalysisTemplate":
                    found.append(doc)
    return found


def template(**metric: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "success-rate",
        "successCondition": "result[0] >= 0.95",
        "provider": {"prometheus": {"address": "http://prometheus:9090", "query": "up"}},
    }
    base.update(metric)
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "success-rate"},
        "spec": {"args": [{"name": "service-name"}], "metrics": [base]},
    }


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the seeds are not on this machine")
def test_seed_templates_load_unchanged() -> None:
    docs = seed_templates()
    assert len(docs) >= 2
    for doc in docs:
        loaded = analysis_from_dict(doc)
        assert isinstance(loaded.value, AnalysisTemplate)
        assert loaded.warnings == ()
        assert loaded.value.to_manifest() == doc


def test_argo_args_example_loads() -> None:
    doc = yaml.safe_load("""
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: args-example}
spec:
  args:
  - name: service-name
  - name: stable-hash
  - name: api-url
    value: http://example/measure
  - name: api-token
    valueFrom: {secretKeyRef: {name: token-secret, key: apiToken}}
  dryRun:
  - metricName: .*
  measurementRetention:
  - {metricName: webmetric, limit: 20}
  metrics:
  - name: webmetric
    successCondition: result == 'true'
    initialDelay: "{{ args.delay }}"
    count: "{{ args.count }}"
    interval: 30s
    failureLimit: -1
    consecutiveSuccessLimit: 2
    provider:
      web:
        url: "{{ args.api-url }}?service={{ args.service-name }}"
        headers:
        - {key: Authorization, value: "Bearer {{ args.api-token }}"}
        jsonPath: "{$.results.ok}"
""")
    loaded = analysis_from_dict(doc)
    assert loaded.warnings == ()
    assert loaded.value.to_manifest() == doc


def test_defaults_are_argos() -> None:
    metric = analysis_from_dict(template()).value.spec.metrics[0]
    assert metric.failure_limit is None and metric.consecutive_error_limit is None
    assert DEFAULT_CONSECUTIVE_ERROR_LIMIT == 4


def test_cluster_template_and_run() -> None:
    doc = template()
    doc["kind"] = "ClusterAnalysisTemplate"
    assert isinstance(analysis_from_dict(doc).value, ClusterAnalysisTemplate)
    assert "ClusterAnalysisTemplate" in CLUSTER_SCOPED_KINDS
    doc["metadata"]["namespace"] = "default"
    with pytest.raises(ManifestError, match="cluster-scoped: remove the namespace"):
        analysis_from_dict(doc)
    run = template()
    run["kind"] = "AnalysisRun"
    run["spec"]["terminate"] = True
    loaded = analysis_from_dict(run).value
    assert isinstance(loaded, AnalysisRun) and loaded.spec.terminate is True


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"successCondition": "result | len(#) > 0"},
            "spec.metrics[0].successCondition: 'result | len(#) > 0' cannot be evaluated:"
            " the pipe operator '|' is not supported",
        ),
        ({"failureCondition": "now() > 1"}, "the function 'now' is not supported"),
        (
            {"count": 2, "failureLimit": 3, "interval": "1m"},
            "count (2) must be >= failureLimit (3)",
        ),
        ({"count": 3}, "interval must be set when count > 1"),
        ({"failureLimit": -1}, "one of them must apply"),
        ({"interval": "soon"}, "'soon' is not a duration"),
        ({"count": "three"}, "expected a whole number"),
        ({"provider": {}}, "no provider specified"),
        (
            {"provider": {"prometheus": {"query": "up"}, "web": {"url": "http://x"}}},
            "multiple providers specified (prometheus, web)",
        ),
        (
            {"provider": {"web": {"url": "http://x", "body": "{}"}}},
            "body and jsonBody need method POST or PUT",
        ),
        (
            {"provider": {"web": {"url": "http://x", "jsonPath": "{$..ok}"}}},
            "jsonPath: '{$..ok}': '..ok' is not supported by Conveyor",
        ),
    ],
)
def test_refused_at_apply_time(change: dict[str, Any], message: str) -> None:
    problem = analysis_problem(template(**change))
    assert problem is not None
    assert message in problem


def test_argument_value_or_value_from() -> None:
    doc = template()
    doc["spec"]["args"] = [
        {"name": "a", "value": "1", "valueFrom": {"podTemplateHashValue": "Latest"}}
    ]
    assert "set value or valueFrom, not both" in (analysis_problem(doc) or "")
    doc["spec"]["args"] = [{"name": "a", "valueFrom": {"podTemplateHashValue": "Newest"}}]
    assert "is not Stable or Latest" in (analysis_problem(doc) or "")


def test_unknown_and_unsupported_fields_warn() -> None:
    doc = template(
        provider={"datadog": {"query": "avg:x"}},
        successConditon="result > 1",
    )
    warnings = analysis_from_dict(doc).warnings
    assert any("successConditon: unknown field" in w and "successCondition" in w for w in warnings)
    assert any("provider.datadog: not supported by Conveyor yet" in w for w in warnings)


def test_args_resolve_and_secrets_are_masked() -> None:
    doc = analysis_from_dict(
        yaml.safe_load("""
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: t}
spec:
  args:
  - name: service-name
  - name: max
    value: "4"
  - name: api-token
    valueFrom: {secretKeyRef: {name: token-secret, key: apiToken}}
  - name: latest-hash
    valueFrom: {podTemplateHashValue: Latest}
  metrics:
  - name: m
    interval: 30s
    count: "{{ args.max }}"
    failureCondition: default(result, 0) > {{ args.max }}
    provider:
      web:
        url: "http://h/{{args.service-name}}/{{ args.latest-hash }}"
        headers: [{key: Authorization, value: "Bearer {{ args.api-token }}"}]
""")
    ).value
    args = resolve_args(
        doc.spec.args,
        {"service-name": "svc"},
        secrets=lambda name, key: "s3cr3t" if (name, key) == ("token-secret", "apiToken") else None,
        pod_template_hashes={"Latest": "6c54bd5d9b"},
    )
    metric = render_metric(doc.spec.metrics[0], args)
    assert metric.count == "4"
    assert metric.failure_condition == "default(result, 0) > 4"
    assert metric.provider.web is not None
    assert metric.provider.web.url == "http://h/svc/6c54bd5d9b"
    assert metric.provider.web.headers is not None
    assert args.mask(metric.provider.web.headers[0].value) == f"Bearer {MASK}"
    with pytest.raises(ArgumentError, match=r"args\.service-name: no value given"):
        resolve_args(doc.spec.args, secrets=lambda n, k: "x", pod_template_hashes={"Latest": "a"})
    with pytest.raises(ArgumentError, match="key 'apiToken' of secret 'token-secret'"):
        resolve_args(doc.spec.args, {"service-name": "svc"})


def test_a_template_may_name_others_instead_of_metrics_of_its_own() -> None:
    doc = template()
    doc["spec"] = {"templates": [{"templateName": "rate"}, {"templateName": "p99",
                                                          "clusterScope": True}]}  # fmt: skip
    loaded = analysis_from_dict(doc)
    assert not loaded.warnings  # a known field, followed when a run is built
    refs = loaded.value.spec.templates
    assert [(r.template_name, r.cluster_scope) for r in refs] == [("rate", False), ("p99", True)]
    doc["spec"] = {}
    assert "at least one metric (or templates naming others)" in (analysis_problem(doc) or "")
    run = {**doc, "kind": "AnalysisRun", "spec": {"templates": [{"templateName": "rate"}]}}
    assert "spec.metrics: field required" in (analysis_problem(run) or "")  # resolved
