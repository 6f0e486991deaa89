"""From a rendered notification to its request: Slack's Web API and incoming webhooks, and
generic webhooks, with ``$key`` references resolved from the Secret. Pure."""

from __future__ import annotations

import base64
import json

import pytest

from conveyor.errors import ValidationError
from conveyor.notify.config import parse_config
from conveyor.notify.services import build_request

ATTACHMENTS = '[{"title": "web", "color": "#18be52"}]'
RENDERED = {"message": "Application web synced.\n", "slack.attachments": ATTACHMENTS}


def test_slack_with_a_token_posts_chat_post_message_to_the_channel() -> None:
    config = parse_config(
        {"service.slack": "token: $slack-token\nusername: conveyor\nicon: ':rocket:'\n"},
        {"slack-token": "xoxb-123"},
    )
    request = build_request(config, "slack", "deploys", RENDERED)
    assert (request.method, request.url) == ("POST", "https://slack.com/api/chat.postMessage")
    assert request.headers["Authorization"] == "Bearer xoxb-123" and request.slack_api
    assert json.loads(request.body) == {
        "text": "Application web synced.", "attachments": json.loads(ATTACHMENTS),
        "username": "conveyor", "icon_emoji": ":rocket:", "channel": "deploys",
    }  # fmt: skip


def test_slack_incoming_webhook_posts_the_message_to_its_url() -> None:
    config = parse_config(
        {"service.slack.team": "webhookURL: $hook-url\n"},
        {"hook-url": "https://hooks.slack.example/T000/B000/XXXX"},
    )
    request = build_request(config, "team", "", {"message": "hi"})
    assert request.url == "https://hooks.slack.example/T000/B000/XXXX"
    assert "Authorization" not in request.headers and not request.slack_api
    assert json.loads(request.body) == {"text": "hi"}


def test_webhook_joins_url_and_path_with_method_headers_and_basic_auth() -> None:
    config = parse_config(
        {
            "service.webhook.github": (
                "url: https://api.example/\nheaders:\n- name: Accept\n  value: application/json\n"
                "basicAuth:\n  username: bot\n  password: $gh-pass\n"
            )
        },
        {"gh-pass": "pw-42"},
    )
    rendered = {
        "webhook.github.method": "post\n",
        "webhook.github.path": "/repos/x/statuses/abc",
        "webhook.github.body": '{"state": "success"}',
    }
    request = build_request(config, "github", "", rendered)
    assert (request.method, request.url) == ("POST", "https://api.example/repos/x/statuses/abc")
    assert request.headers == {
        "Accept": "application/json",
        "Authorization": "Basic " + base64.b64encode(b"bot:pw-42").decode(),
    }
    assert request.body == b'{"state": "success"}'


@pytest.mark.parametrize(
    ("service", "rendered", "why"),
    [
        ("nope", {"message": "x"}, "service 'nope' is not configured"),
        ("hook", {"message": "x"}, "no 'webhook.hook' part"),
        ("slack", {"message": "x", "slack.attachments": "[not json"}, "is not JSON"),
    ],
    ids=["unknown-service", "no-webhook-part", "bad-attachments"],
)
def test_what_cannot_be_sent_says_why(service: str, rendered: dict[str, str], why: str) -> None:
    config = parse_config(
        {"service.webhook.hook": "url: http://h\n", "service.slack": "token: t\n"}
    )
    recipient = "c" if service == "slack" else ""
    with pytest.raises(ValidationError, match=why):
        build_request(config, service, recipient, rendered)


def test_every_catalog_template_renders_a_valid_slack_message() -> None:
    config = parse_config({"service.slack": "token: t\n"})
    app = {
        "metadata": {"name": "web"},
        "spec": {"source": {"repoURL": "https://git.example/cfg.git"}},
        "status": {"sync": {"status": "Synced", "revision": "abc"},
                   "operationState": {"phase": "Failed", "message": "boom"}},
    }  # fmt: skip
    rollout = {"metadata": {"name": "web"}, "status": {"phase": "Paused"}}
    variables = {"app": app, "rollout": rollout, "serviceType": "slack", "context": {}}
    texts = {}
    for name, template in sorted(config.templates.items()):
        rendered = template.render(variables)
        message = json.loads(build_request(config, "slack", "c", rendered).body)
        texts[name] = message["text"]
        if "slack.attachments" in rendered:
            assert message["attachments"][0]["title"] == "web", name
    assert texts["app-sync-failed"] == (
        ":exclamation: The sync operation of application web has failed at  with the following"
        " error: boom"
    )
    assert texts["rollout-paused"] == "Rollout web has been paused."
    assert len(texts) == 12
