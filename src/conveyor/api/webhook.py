"""``POST /api/v1/webhook``: a Git host says a repo got a push; refresh the apps it concerns.

GitHub, Gitea and GitLab push events are understood. With a secret configured
(CONVEYOR_WEBHOOK_SECRET, or the file CONVEYOR_HOME/webhook.secret), a request must prove it
knows it, as each host does: GitHub ``X-Hub-Signature-256`` (HMAC-SHA256 of the body),
Gitea ``X-Gitea-Signature`` (the same HMAC, hex), GitLab ``X-Gitlab-Token`` (the secret
itself). A request that does not is a 401 and refreshes nothing. Without a secret, any push
notice is accepted, as in Argo CD: the worst it can do is make Conveyor look at Git sooner.

The push's repository URLs (clone, SSH and web forms) and ref go to
``Controller.notify_push``, which refreshes exactly the apps tracking that repo at that ref.
The route needs no bearer token: Git hosts cannot send one.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Any

from fastapi import APIRouter, HTTPException, Request

from conveyor.api.bodyguard import BodyTooDeep, parse_json
from conveyor.api.context import Ctx
from conveyor.api.discovery import WEBHOOK_SECRET_FILE
from conveyor.api.errors import ERROR_RESPONSES
from conveyor.errors import ValidationError
from conveyor.logging import get_logger
from conveyor.settings import Settings

router = APIRouter(tags=["webhook"], responses=ERROR_RESPONSES)
log = get_logger(component="webhook")

MAX_PAYLOAD = 25 * 1024 * 1024
"""Argo CD's default limit (webhook.maxPayloadSizeMB)."""
_PUSH_EVENTS = {"github": {"push"}, "gitea": {"push"}, "gitlab": {"Push Hook", "Tag Push Hook"}}


def load_secret(settings: Settings) -> str | None:
    """The webhook secret from the environment or CONVEYOR_HOME, or None."""
    secret = os.environ.get("CONVEYOR_WEBHOOK_SECRET")
    if secret is None:
        try:
            secret = (settings.home / WEBHOOK_SECRET_FILE).read_text().strip()
        except OSError:
            return None
    return secret or None


def _provider(request: Request) -> tuple[str, str]:
    headers = request.headers
    if "x-gitea-event" in headers:  # Gitea also sends X-GitHub-Event: check it first
        return "gitea", headers["x-gitea-event"]
    if "x-gitlab-event" in headers:
        return "gitlab", headers["x-gitlab-event"]
    if "x-github-event" in headers:
        return "github", headers["x-github-event"]
    raise ValidationError(
        "not a webhook Conveyor understands: expected a GitHub, GitLab or Gitea push event "
        "(X-GitHub-Event, X-Gitlab-Event or X-Gitea-Event header)"
    )


def _hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(provider: str, headers: Any, body: bytes, secret: str) -> bool:
    """Does the request prove it knows ``secret``, the way ``provider`` signs?"""
    if provider == "gitlab":
        given = headers.get("x-gitlab-token", "")
        return hmac.compare_digest(given.encode(), secret.encode())
    expected = _hmac_hex(secret, body)
    if provider == "gitea" and "x-gitea-signature" in headers:
        given = headers["x-gitea-signature"].strip().lower()
        return hmac.compare_digest(given.encode(), expected.encode())
    given = headers.get("x-hub-signature-256", "").strip().lower()
    # bytes, not str: compare_digest refuses non-ASCII str (a 500 instead of a 401)
    return hmac.compare_digest(given.encode(), ("sha256=" + expected).encode())


def push_target(provider: str, payload: dict[str, Any]) -> tuple[list[str], str | None]:
    """The repository URLs and the ref of a push payload."""
    fields: tuple[str, ...]
    if provider == "gitlab":
        parts = [payload.get("project"), payload.get("repository")]
        fields = ("git_http_url", "git_ssh_url", "http_url", "ssh_url", "web_url", "url")
    else:
        parts = [payload.get("repository")]
        fields = ("clone_url", "ssh_url", "html_url", "git_url", "url")
    urls: list[str] = []
    for part in parts:
        if isinstance(part, dict):
            urls.extend(str(part[f]) for f in fields if isinstance(part.get(f), str) and part[f])
    ref = payload.get("ref")
    return list(dict.fromkeys(urls)), ref if isinstance(ref, str) and ref else None


@router.post("/api/v1/webhook", summary="Git push notices from GitHub, GitLab or Gitea")
async def webhook(ctx: Ctx, request: Request) -> dict[str, Any]:
    provider, event = _provider(request)
    body = await _read_body(request)
    if ctx.webhook_secret is not None and not verify(
        provider, request.headers, body, ctx.webhook_secret
    ):
        log.warning("webhook refused: bad signature", provider=provider, git_event=event)
        raise HTTPException(401, "the webhook's signature does not match the configured secret")
    if event not in _PUSH_EVENTS[provider]:
        return {"refreshed": [], "ignored": f"{provider} event {event!r} is not a push"}
    try:
        payload = parse_json(body)
    except BodyTooDeep as err:
        raise ValidationError(f"the webhook's body is refused: {err}") from err
    except (ValueError, UnicodeDecodeError) as err:
        raise ValidationError(f"the webhook's body is not JSON: {err}") from err
    if not isinstance(payload, dict):
        raise ValidationError("the webhook's body must be a JSON object")
    urls, ref = push_target(provider, payload)
    if not urls:
        raise ValidationError("the push event names no repository URL")
    refreshed: set[str] = set()
    for url in urls:
        refreshed.update(ctx.controller.notify_push(url, ref))
    log.info("push received", provider=provider, ref=ref, refreshed=sorted(refreshed))
    return {"refreshed": sorted(refreshed)}


async def _read_body(request: Request) -> bytes:
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_PAYLOAD:
            raise ValidationError(f"the webhook's body is larger than {MAX_PAYLOAD} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
