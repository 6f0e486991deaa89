"""The AnalysisRun controller's decisions as a pure function: what to write, what to
measure, when to look again, and the runs that end in Error before measuring anything."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from conveyor.targets.local.controllers.analysisrun import field_lookup, plan_analysisrun

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SECRETS = {("creds", "token"): "hunter2"}


def secrets(name: str, key: str) -> str | None:
    return SECRETS.get((name, key))


def run(spec: dict[str, Any], status: dict[str, Any] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun",
                           "metadata": {"name": "r", "namespace": "shop",
                                        "labels": {"app": "web", "on": True}},
                           "spec": spec}  # fmt: skip
    if status is not None:
        obj["status"] = status
    return obj


def web(name: str = "m", url: str = "http://x/", **fields: Any) -> dict[str, Any]:
    return {"name": name, "provider": {"web": {"url": url}}, **fields}


def plan(obj: dict[str, Any], now: datetime = T0) -> Any:
    return plan_analysisrun(obj, now, secrets=secrets, fields=field_lookup(obj))


def test_a_new_run_measures_now_and_is_running() -> None:
    p = plan(run({"metrics": [web(interval="30s", count=2)]}))
    assert [t.metric.name for t in p.tasks] == ["m"]
    assert p.status["phase"] == "Running" and p.status["startedAt"] == "2026-01-01T12:00:00Z"
    assert p.requeue_after is None  # the measurement's end asks again
    assert not p.completed


def test_the_next_interval_is_a_timer() -> None:
    at = "2026-01-01T12:00:00Z"
    done = {"phase": "Successful", "startedAt": at, "finishedAt": at}
    result = {"name": "m", "phase": "Running", "count": 1, "successful": 1, "measurements": [done]}
    status = {"phase": "Running", "startedAt": at, "metricResults": [result]}
    p = plan(run({"metrics": [web(interval="30s", count=2)]}, status), T0 + timedelta(seconds=10))
    assert p.tasks == () and p.requeue_after == 20.0


def test_args_are_rendered_from_secrets_and_fields() -> None:
    label = {"fieldRef": {"fieldPath": "metadata.labels['app']"}}
    flag = {"fieldRef": {"fieldPath": "metadata.labels.on"}}
    args = [{"name": "t", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
            {"name": "app", "valueFrom": label}, {"name": "on", "valueFrom": flag}]  # fmt: skip
    p = plan(
        run({"args": args, "metrics": [web(url="http://x/{{args.app}}/{{args.on}}/{{args.t}}")]})
    )
    [task] = p.tasks
    assert task.metric.provider.web is not None
    assert task.metric.provider.web.url == "http://x/web/true/hunter2"
    assert p.args.mask("hunter2") == "*****"


def test_a_missing_secret_key_ends_the_run_in_error() -> None:
    args = [{"name": "t", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "other"}}}]
    p = plan(run({"args": args, "metrics": [web(url="http://x/{{args.t}}")]}))
    assert p.completed and p.tasks == ()
    assert p.status["phase"] == "Error"
    assert p.status["message"] == "args.t: key 'other' of secret 'creds' was not found"


def test_an_invalid_rendered_metric_is_an_error_with_the_secret_masked() -> None:
    args = [{"name": "t", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}}]
    p = plan(run({"args": args, "metrics": [web(count="{{args.t}}", interval="1s")]}))
    assert p.status["phase"] == "Error"
    assert "hunter2" not in p.status["message"] and "*****" in p.status["message"]


def test_a_spec_that_does_not_load_is_an_error() -> None:
    p = plan(run({"metrics": []}))
    assert p.status["phase"] == "Error"
    assert p.status["message"].startswith("Analysis spec invalid: metrics:")


def test_a_completed_run_plans_nothing() -> None:
    done = {"phase": "Successful", "completedAt": "2026-01-01T12:00:00Z"}
    p = plan(run({"metrics": [web()]}, done))
    assert p.completed and p.tasks == () and p.requeue_after is None
    assert p.status["phase"] == "Successful"
