"""Application helpers: durations, retry backoff, sync options."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from conveyor.model.application import Application
from conveyor.model.durations import parse_duration
from conveyor.model.loading import application_from_dict
from conveyor.model.syncpolicy import Backoff, Retry


def app(sync_policy: dict[str, Any] | None = None, **spec: Any) -> Application:
    body: dict[str, Any] = {
        "project": "default",
        "source": {"repoURL": "https://github.com/org/config"},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "web"},
        **spec,
    }
    if sync_policy is not None:
        body["syncPolicy"] = sync_policy
    return application_from_dict(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": "web"},
            "spec": body,
        }
    ).value


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5s", 5), ("2m", 120), ("1h", 3600), ("1h30m", 5400), ("30", 30), (30, 30), ("1.5s", 1.5)],
    ids=str,
)
def test_parse_duration(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["5x", "", "m", "-5s", "5 s"], ids=repr)
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


def test_backoff_grows_and_is_capped() -> None:
    backoff = Backoff.model_validate({"duration": "5s", "factor": 2, "maxDuration": "1m"})
    assert [backoff.delay(i).total_seconds() for i in range(5)] == [5, 10, 20, 40, 60]
    assert Retry.model_validate({"limit": 3}).delay(1) == timedelta(seconds=10)  # defaults
    assert Backoff.model_validate({"duration": 7}).delay(0) == timedelta(seconds=7)


def test_integer_duration_round_trips() -> None:
    a = app({"retry": {"limit": 2, "backoff": {"duration": 10}}})
    assert a.to_manifest()["spec"]["syncPolicy"]["retry"]["backoff"] == {"duration": 10}


def test_sync_options() -> None:
    a = app({"syncOptions": ["PrunePropagationPolicy=foreground", "Validate=false"]})
    assert a.sync_option_value("PrunePropagationPolicy") == "foreground"
    assert a.sync_option("Validate") is False
    assert a.sync_option("CreateNamespace") is False
    assert app().sync_option("Validate") is True
    assert app().automated is None


def test_revision_history_limit_default() -> None:
    assert app().revision_history_limit == 10
    assert app(revisionHistoryLimit=3).revision_history_limit == 3


@pytest.mark.parametrize("value", ["99999999999999999h", 10**20, "1e400h", "2562048h"])
def test_an_enormous_duration_is_refused_as_a_value_error(value: str | int) -> None:
    from conveyor.model.durations import parse_duration

    with pytest.raises(ValueError, match="duration"):
        parse_duration(value)
