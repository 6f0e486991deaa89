"""From a rendered notification to the HTTP request its service sends. Pure.

- ``service.webhook.<name>``: ``url`` plus the template's ``webhook.<name>.path``, the
  template's ``method`` (GET by default, as in Argo CD) and ``body``, the service's
  ``headers`` (a list of name/value) and ``basicAuth``.
- ``service.slack`` (and ``service.slack.<name>``) with ``token``: Slack's
  ``chat.postMessage`` at ``apiURL`` (https://slack.com/api/ by default), the recipient as the
  channel, ``text`` from ``message``, ``attachments`` and ``blocks`` from the template's slack
  part (JSON text), ``username`` and ``icon``. With ``webhookURL`` (Conveyor's addition for
  Slack's incoming webhooks, which Argo CD reaches through a webhook service) the same message
  is posted to that URL.

``$key`` references are resolved here, at send time, from the Secret; the request is never
stored or logged (``masked`` gives its safe description).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from conveyor.errors import ValidationError
from conveyor.notify.config import NotificationConfig, Service

SLACK_API = "https://slack.com/api/"


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    slack_api: bool = False
    """Slack's Web API answers 200 with ``{"ok": false}`` on errors: read the body."""


def build_request(
    config: NotificationConfig, service_name: str, recipient: str, rendered: dict[str, str]
) -> Request:
    """The request for one notification; ValidationError when it cannot be built."""
    service = config.services.get(service_name)
    if service is None:
        raise ValidationError(f"service '{service_name}' is not configured in the ConfigMap")
    options = config.resolve(service.options)
    if service.type == "webhook":
        return _webhook(service, options, rendered)
    return _slack(options, recipient, rendered)


def _webhook(service: Service, options: dict[str, Any], rendered: dict[str, str]) -> Request:
    place = f"webhook.{service.name}"
    if not any(key.startswith(place + ".") for key in rendered):
        raise ValidationError(
            f"the templates sent have no '{place}' part, so there is nothing to send to the"
            f" webhook '{service.name}'"
        )
    url = str(options["url"]).rstrip("/") + rendered.get(f"{place}.path", "").strip()
    headers: dict[str, str] = {}
    for header in options.get("headers") or []:
        if isinstance(header, dict) and "name" in header:
            headers[str(header["name"])] = str(header.get("value", ""))
    auth = options.get("basicAuth")
    if isinstance(auth, dict):
        pair = f"{auth.get('username', '')}:{auth.get('password', '')}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    method = rendered.get(f"{place}.method", "").strip().upper() or "GET"
    return Request(method, url, headers, rendered.get(f"{place}.body", "").encode())


def _json_part(rendered: dict[str, str], place: str) -> Any:
    text = rendered.get(place, "").strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ValidationError(f"{place} is not JSON after rendering: {err}") from err


def _slack(options: dict[str, Any], recipient: str, rendered: dict[str, str]) -> Request:
    message: dict[str, Any] = {"text": rendered.get("message", "").strip()}
    for part in ("attachments", "blocks"):
        value = _json_part(rendered, f"slack.{part}")
        if value is not None:
            message[part] = value
    if options.get("username"):
        message["username"] = str(options["username"])
    icon = str(options.get("icon") or "")
    if icon:
        message["icon_url" if icon.startswith(("http://", "https://")) else "icon_emoji"] = icon
    if recipient:
        message["channel"] = recipient
    if options.get("disableUnfurl"):
        message["unfurl_links"] = message["unfurl_media"] = False
    body = json.dumps(message).encode()
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if options.get("token"):
        if not recipient:
            raise ValidationError("a Slack recipient (channel) is required with a token")
        url = str(options.get("apiURL") or SLACK_API).rstrip("/") + "/chat.postMessage"
        headers["Authorization"] = f"Bearer {options['token']}"
        return Request("POST", url, headers, body, slack_api=True)
    return Request("POST", str(options["webhookURL"]), headers, body)
