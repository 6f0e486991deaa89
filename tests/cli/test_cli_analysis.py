"""`conveyor analysis run`: the seeds' template measured once against a real Prometheus, with
each metric's value and verdict printed, the exit status following the verdicts, and
secret arguments masked."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import conveyor

from support import prometheus

SEED_TEMPLATE = """\
# Argo Rollouts AnalysisTemplate
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: success-rate
spec:
  args:
  - name: service-name
  metrics:
  - name: success-rate
    interval: 2m
    count: 5
    successCondition: result[0] >= {threshold}
    failureLimit: 3
    provider:
      prometheus:
        address: http://prometheus:9090
        query: |
          sum(rate(http_requests_total{{service="{{{{args.service-name}}}}",status!~"5.."}}[2m])) /
          sum(rate(http_requests_total{{service="{{{{args.service-name}}}}"}}[2m]))
"""


@pytest.fixture(scope="module")
def server() -> Iterator[prometheus.PrometheusServer]:
    if prometheus.missing():
        pytest.skip("prometheus is not installed")
    with prometheus.started() as running:
        yield running


@pytest.mark.slow
def test_seed_template_against_live_data(
    server: prometheus.PrometheusServer, tmp_path: Path
) -> None:
    template = tmp_path / "template.yaml"
    # 950 ok and 50 errors per scrape: 0.95, give or take rate()'s floating point
    template.write_text(SEED_TEMPLATE.format(threshold="0.94"))
    mapping = f"http://prometheus:9090={server.url}"
    args = ["analysis", "run", "-f", str(template), "--arg", "service-name=api"]
    result = conveyor(tmp_path, *args, "--map-address", mapping)
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.strip().splitlines()
    assert header.split() == ["METRIC", "PROVIDER", "VALUE", "VERDICT", "MESSAGE"]
    name, provider, value, verdict = row.split()
    assert (name, provider, verdict) == ("success-rate", "prometheus", "Successful")
    assert float(value.strip("[]")) == pytest.approx(0.95)

    template.write_text(SEED_TEMPLATE.format(threshold="0.99"))
    failed = conveyor(tmp_path, *args, "--map-address", mapping, "-o", "json")
    assert failed.returncode == 1
    (metric,) = json.loads(failed.stdout)
    assert (metric["name"], metric["phase"]) == ("success-rate", "Failed")
    assert float(metric["value"].strip("[]")) == pytest.approx(0.95)


def test_missing_argument_and_bad_template(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(SEED_TEMPLATE.format(threshold="0.95"))
    missing = conveyor(tmp_path, "analysis", "run", "-f", str(template))
    assert missing.returncode == 1
    assert "args.service-name: no value given (set --arg)" in missing.stderr
    template.write_text(SEED_TEMPLATE.format(threshold="0.95 | 1"))
    bad = conveyor(tmp_path, "analysis", "run", "-f", str(template), "--arg", "service-name=x")
    assert bad.returncode == 1
    assert "the pipe operator '|' is not supported" in bad.stderr


@pytest.mark.slow
def test_nested_templates_are_said_not_measured(tmp_path: Path) -> None:
    template = tmp_path / "suite.yaml"
    template.write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata:\n  name: suite\n"
        "spec:\n  templates:\n  - templateName: success-rate\n"
    )
    result = conveyor(tmp_path, "analysis", "run", "-f", str(template))
    assert result.returncode == 1
    said = " ".join(result.stderr.split())
    assert "spec.templates: the templates it names are not in this file" in said
    assert "AnalysisTemplate/suite has no metrics of its own" in said


def test_secret_arguments_are_masked(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once closed
    template = tmp_path / "web.yaml"
    template.write_text(f"""\
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {{name: web}}
spec:
  args:
  - name: api-token
    valueFrom: {{secretKeyRef: {{name: token-secret, key: apiToken}}}}
  metrics:
  - name: webmetric
    successCondition: result == true
    provider:
      web:
        url: "http://127.0.0.1:{port}/check?token={{{{ args.api-token }}}}"
""")
    result = conveyor(
        tmp_path, "analysis", "run", "-f", str(template), "--arg", "api-token=hunter2", "-o", "yaml"
    )
    assert result.returncode == 1
    assert "hunter2" not in result.stdout + result.stderr
    assert "token=*****" in result.stdout
