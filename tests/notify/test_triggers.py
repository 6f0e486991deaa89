"""Trigger evaluation, pure: Argo CD's catalog conditions, oncePer, and the notified state."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from conveyor.notify.config import parse_config
from conveyor.notify.evaluate import evaluate
from conveyor.notify.subscriptions import Subscribed, of_object
from support.clock import ManualClock

WEBHOOK = """\
url: http://127.0.0.1:9/hook
headers:
- name: X-Token
  value: $token
"""
TEMPLATE = """\
message: "{{ app.metadata.name }} {{ event.trigger }}"
webhook:
  hook:
    method: POST
    body: '{"app": "{{ app.metadata.name }}", "rev": "{{ app.status.sync.revision }}"}'
"""
CONFIG = parse_config(
    {
        "service.webhook.hook": WEBHOOK,
        "template.app-sync-succeeded": TEMPLATE,
        "template.app-deployed": TEMPLATE,
        "template.app-sync-running": TEMPLATE,
    },
    {"token": "s3cr3t-value"},
)
REV1, REV2 = "a" * 40, "b" * 40


def app(
    *, phase: str | None = None, health: str = "Healthy", revision: str = REV1, **annotations: str
) -> dict[str, Any]:
    status: dict[str, Any] = {
        "sync": {"status": "Synced", "revision": revision},
        "health": {"status": health},
    }
    if phase is not None:
        status["operationState"] = {
            "phase": phase,
            "syncResult": {"revision": revision},
            "finishedAt": "2026-12-05T09:00:00Z",
        }
    return {
        "metadata": {"name": "web", "annotations": annotations},
        "spec": {"project": "default"},
        "status": status,
    }


class Engine:
    """Evaluates snapshots one after the other, keeping the notified keys as the store does."""

    def __init__(self) -> None:
        self.notified: set[str] = set()
        self.clock = ManualClock()
        self.sent: list[tuple[str, dict[str, str]]] = []

    def see(self, snapshot: dict[str, Any]) -> list[str]:
        subs = of_object(snapshot, CONFIG)
        result = evaluate(
            "app/web", "app", {"app": snapshot}, subs, CONFIG, self.notified, self.clock.now()
        )
        assert result.warnings == []
        self.notified.difference_update(result.forget)
        self.notified.update(o.key for o in result.send)
        self.sent += [(o.trigger, o.rendered) for o in result.send]
        self.clock.advance(1)
        return [o.trigger for o in result.send]


SUCCEEDED = {"notifications.argoproj.io/subscribe.on-sync-succeeded.hook": ""}
DEPLOYED = {"notifications.argoproj.io/subscribe.on-deployed.hook": ""}


def test_on_sync_succeeded_fires_when_the_condition_becomes_true_and_again_after_it_was_false() -> (
    None
):
    engine = Engine()
    assert engine.see(app(**SUCCEEDED)) == []  # no operation yet
    assert engine.see(app(phase="Running", **SUCCEEDED)) == []
    assert engine.see(app(phase="Succeeded", **SUCCEEDED)) == ["on-sync-succeeded"]
    assert engine.see(app(phase="Succeeded", health="Progressing", **SUCCEEDED)) == []
    assert engine.see(app(phase="Running", revision=REV2, **SUCCEEDED)) == []  # false: forgotten
    assert engine.see(app(phase="Succeeded", revision=REV2, **SUCCEEDED)) == ["on-sync-succeeded"]
    trigger, rendered = engine.sent[-1]
    assert trigger == "on-sync-succeeded"
    assert rendered["message"] == "web on-sync-succeeded"
    assert rendered["webhook.hook.body"] == f'{{"app": "web", "rev": "{REV2}"}}'


def test_on_deployed_fires_once_per_revision_even_when_the_condition_flaps() -> None:
    engine = Engine()
    assert engine.see(app(phase="Succeeded", health="Progressing", **DEPLOYED)) == []
    assert engine.see(app(phase="Succeeded", **DEPLOYED)) == ["on-deployed"]
    assert engine.see(app(phase="Succeeded", health="Degraded", **DEPLOYED)) == []
    assert engine.see(app(phase="Succeeded", **DEPLOYED)) == []  # same commit: once
    assert engine.see(app(phase="Succeeded", revision=REV2, **DEPLOYED)) == ["on-deployed"]


def test_the_notified_state_carries_over_a_restart() -> None:
    first = Engine()
    assert first.see(app(phase="Succeeded", **SUCCEEDED)) == ["on-sync-succeeded"]
    restarted = Engine()
    restarted.notified = set(first.notified)  # what the store kept
    assert restarted.see(app(phase="Succeeded", **SUCCEEDED)) == []


def test_subscription_forms_annotation_defaults_project_and_configmap() -> None:
    config = parse_config(
        {
            "service.webhook.hook": WEBHOOK,
            "service.slack": "token: $slack-token\n",
            "defaultTriggers": "[on-sync-failed]",
            "defaultTriggers.slack": "[on-health-degraded]",
            "subscriptions": (
                "- recipients: [slack:ops]\n  triggers: [on-deployed]\n  selector: env=prod\n"
            ),
        }
    )
    snapshot = app(**{
        "notifications.argoproj.io/subscribe.on-sync-running.hook": "",
        "notifications.argoproj.io/subscribe.slack": "dev;qa",
        "notifications.argoproj.io/subscribe.hook": "",
    })  # fmt: skip
    snapshot["metadata"]["labels"] = {"env": "prod"}
    project = {"metadata": {"annotations": {
        "notifications.argoproj.io/subscribe.on-created.slack": "audit"}}}  # fmt: skip
    assert sorted(of_object(snapshot, config, project)) == [
        Subscribed("on-created", "slack", "audit"),
        Subscribed("on-deployed", "slack", "ops"),
        Subscribed("on-health-degraded", "slack", "dev"),
        Subscribed("on-health-degraded", "slack", "qa"),
        Subscribed("on-sync-failed", "hook", ""),
        Subscribed("on-sync-running", "hook", ""),
    ]
    snapshot["metadata"]["labels"] = {"env": "dev"}
    assert Subscribed("on-deployed", "slack", "ops") not in of_object(snapshot, config)


def test_a_condition_that_fails_is_reported_not_ignored() -> None:
    config = parse_config(
        {
            "service.webhook.hook": WEBHOOK,
            "template.t": TEMPLATE,
            # operationState is nil here: fetching .phase from nil is an error in expr-lang
            "trigger.on-strict": "- when: app.status.operationState.phase == 'Succeeded'\n"
            "  send: [t]\n",
        }
    )
    snapshot = app(**{"notifications.argoproj.io/subscribe.on-strict.hook": ""})
    result = evaluate("app/web", "app", {"app": snapshot}, of_object(snapshot, config), config,
                      set(), ManualClock().now())  # fmt: skip
    assert result.send == []
    assert len(result.warnings) == 1
    assert (
        "on-strict" in result.warnings[0] and "cannot fetch .phase from nil" in (result.warnings[0])
    )


def test_rollout_triggers_are_evaluated_on_rollouts_not_on_apps() -> None:
    config = parse_config({"service.webhook.hook": WEBHOOK})
    subs = {
        Subscribed("on-rollout-aborted", "hook", ""),
        Subscribed("on-rollout-paused", "hook", ""),
    }
    rollout: dict[str, Any] = {
        "metadata": {"name": "web", "namespace": "prod"},
        "status": {"phase": "Degraded", "abort": True, "currentPodHash": "h2", "stableRS": "h1"},
    }
    on_app = evaluate("app/web", "app", {"app": app()}, subs, config, set(), ManualClock().now())
    assert on_app.send == [] and on_app.warnings == []
    notified: set[str] = set()
    first = evaluate("rollout/prod/web", "rollout", {"rollout": rollout}, subs, config, notified,
                     ManualClock().now())  # fmt: skip
    assert [o.trigger for o in first.send] == ["on-rollout-aborted"]
    notified |= {o.key for o in first.send}
    paused = copy.deepcopy(rollout)
    paused["status"] |= {"phase": "Paused", "pauseConditions": [{"reason": "CanaryPauseStep"}]}
    again = evaluate("rollout/prod/web", "rollout", {"rollout": paused}, subs, config, notified,
                     ManualClock().now())  # fmt: skip
    assert [o.trigger for o in again.send] == ["on-rollout-paused"]  # aborted: once per hash


@pytest.mark.parametrize(
    ("data", "warning"),
    [
        ({"service.email": "host: smtp"}, "service type 'email' is not supported"),
        ({"trigger.t": "- when: time.Now() > 0\n  send: [x]\n"}, "trigger.t:"),
        ({"template.x": "email:\n  subject: hi\n"}, "'email' is not sent by Conveyor"),
        ({"template.x": "message: '{{range .app.items}}x{{end}}'\n"}, "is not translated"),
        ({"service.webhook.w": "url: http://h\nretries: 3\n"}, "option 'retries' is not supported"),
        ({"colour": "blue"}, "colour: not a key Conveyor reads"),
    ],
    ids=["service-type", "condition", "template-part", "go-range", "service-option", "key"],
)
def test_what_is_not_supported_is_a_visible_warning(data: dict[str, str], warning: str) -> None:
    warnings = parse_config(data).warnings
    assert any(warning in w for w in warnings), warnings


def test_go_templates_of_the_common_forms_are_translated() -> None:
    config = parse_config(
        {
            "template.go": (
                "message: '{{.app.metadata.name}} is {{ .app.status.sync.status }}"
                '{{if eq .serviceType "slack"}} :tada:{{else}}.{{end}}'
                "{{if .app.status.operationState}} op{{end}}'\n"
            )
        }
    )
    assert config.warnings == ()
    rendered = config.templates["go"].render({"app": app(), "serviceType": "slack"})
    assert rendered["message"] == "web is Synced :tada:"


def test_templates_are_sandboxed() -> None:
    config = parse_config(
        {"template.evil": "message: '[{{ app.__class__.__mro__ }}][{{ app.items.__globals__ }}]'\n"}
    )
    assert config.templates["evil"].render({"app": app()})["message"] == "[][]"
