"""Request bodies: authenticated before they are read, bounded while read, checked once read.

A plain ASGI middleware in front of every route, so that no handler (nor FastAPI's body
parsing) sees a body that could hurt the server:

- a request with a body on an authenticated path must carry a valid token *before* one byte
  of the body is read (401 otherwise), or the UI's session cookie with a matching Origin and
  HX-Request (403 without them); the verified caller is handed to ``require_token``
  through the request state, so the token is looked up once;
- a body longer than its bound (``Content-Length`` or, chunked, as it arrives) is a 413
  without reading the rest: ``MAX_BODY`` for the API, Argo CD's 25 MiB for webhooks;
- a JSON body nested deeper than ``MAX_DEPTH`` or holding a lone surrogate (``\\ud800``,
  which no database can store) is a 400 naming the field, instead of a RecursionError or a
  UnicodeEncodeError deep in a handler. The webhook checks its signature first and then
  parses with the same ``parse_json``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conveyor.api.errors import error_response
from conveyor.api.sessions import browser_refusal, cookie_caller
from conveyor.store import TokenStore

MAX_BODY = 4 * 1024 * 1024
"""Largest API body: an Application or AppProject manifest is a few kilobytes."""

MAX_WEBHOOK_BODY = 25 * 1024 * 1024
"""Argo CD's default limit for webhooks (webhook.maxPayloadSizeMB)."""

MAX_DEPTH = 100
"""Deepest JSON nesting accepted; a CRD's schema, the deepest real manifest, is ~30."""

PUBLIC_PATHS = frozenset(
    {"/healthz", "/metrics", "/api/version", "/api/v1/webhook", "/ui/login", "/ui/logout"}
)
"""Paths that take no bearer token (the webhook checks its HMAC signature itself; the UI's
login and logout check the request's Origin themselves)."""

CALLER_STATE = "conveyor_caller"
"""Request-state key holding the TokenInfo verified here."""


class BodyTooDeep(ValueError):
    """A JSON document nested deeper than MAX_DEPTH, or holding text no database can store."""


def check_document(doc: Any, *, max_depth: int = MAX_DEPTH) -> None:
    """Raise BodyTooDeep naming the field when ``doc`` is too deep or holds a lone surrogate.

    Iterative (an explicit stack), so a document that is too deep cannot exhaust the stack.
    """
    stack: list[tuple[Any, tuple[str, ...]]] = [(doc, ())]
    while stack:
        value, path = stack.pop()
        if len(path) > max_depth:
            where = ".".join(path[:3]) + "..."
            raise BodyTooDeep(f"{where}: the body is nested deeper than {max_depth} levels")
        if isinstance(value, dict):
            for key, item in value.items():
                _check_text(key, (*path, key))
                stack.append((item, (*path, key)))
        elif isinstance(value, list):
            stack.extend((item, (*path, f"[{i}]")) for i, item in enumerate(value))
        elif isinstance(value, str):
            _check_text(value, path)


def _check_text(text: str, path: tuple[str, ...]) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        where = ".".join(path).replace(".[", "[")
        bad = text[err.start : err.end].encode("unicode_escape").decode()
        raise BodyTooDeep(
            f"{where or 'body'}: contains a lone surrogate ({bad}), which is not text: "
            "send valid UTF-8"
        ) from err


_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"\s*(?P<colon>:)?|[{}\[\]]', re.DOTALL)


def _check_depth(body: bytes, max_depth: int = MAX_DEPTH) -> None:
    """Find nesting deeper than ``max_depth`` before parsing, naming the field it is under."""
    if body.count(b"{") + body.count(b"[") <= max_depth:
        return
    path: list[str] = []
    key = ""
    for match in _TOKEN.finditer(body):
        token = match.group(0)
        if token in (b"{", b"["):
            path.append(key)
            key = ""
            if len(path) > max_depth:
                where = ".".join(p for p in path[1:4] if p) + "..."
                raise BodyTooDeep(f"{where}: the body is nested deeper than {max_depth} levels")
        elif token in (b"}", b"]"):
            if path:
                path.pop()
        elif match.group("colon"):
            key = token[1:].split(b'"')[0].decode("utf-8", "replace")


def parse_json(body: bytes) -> Any:
    """``json.loads`` with depth and text checked; BodyTooDeep names the field."""
    _check_depth(body)
    try:
        doc = json.loads(body)
    except RecursionError as err:
        raise BodyTooDeep(f"body: the JSON is nested deeper than {MAX_DEPTH} levels") from err
    check_document(doc)
    return doc


class BodyGuard:
    """The middleware; see the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_body(scope):
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        if path not in PUBLIC_PATHS:
            token = _bearer_token(scope)
            caller = await _verify(scope, token) if token else None
            if caller is None and token is None:
                context = scope["app"].state.context
                caller = await cookie_caller(scope, context.sessions, context.tokens)
                refusal = browser_refusal(scope) if caller is not None else None
                if refusal is not None:
                    await _answer(scope, receive, send, 403, refusal, {"Connection": "close"})
                    return
            if caller is None:
                message = (
                    "invalid or revoked token"
                    if token
                    else "a bearer token is required (Authorization: Bearer TOKEN)"
                )
                headers = {"WWW-Authenticate": "Bearer", "Connection": "close"}
                await _answer(scope, receive, send, 401, message, headers)
                return
            scope.setdefault("state", {})[CALLER_STATE] = caller
        limit = MAX_WEBHOOK_BODY if path == "/api/v1/webhook" else MAX_BODY
        declared = _content_length(scope)
        too_big = f"the request body is larger than {limit} bytes"
        if declared is not None and declared > limit:
            await _answer(scope, receive, send, 413, too_big, {"Connection": "close"})
            return
        body = bytearray()
        more = True
        while more:
            chunk = await receive()
            if chunk["type"] == "http.disconnect":
                return
            body += chunk.get("body", b"")
            more = bool(chunk.get("more_body", False))
            if len(body) > limit:
                await _answer(scope, receive, send, 413, too_big, {"Connection": "close"})
                return
        if path not in PUBLIC_PATHS and _is_json(scope) and body.strip():
            try:
                parse_json(bytes(body))
            except BodyTooDeep as err:
                await _answer(scope, receive, send, 400, str(err))
                return
            except ValueError:
                pass  # not JSON: the handler says so, naming what it expected
        await self.app(scope, _replay(bytes(body), receive), send)


def _has_body(scope: Scope) -> bool:
    headers = dict(scope.get("headers") or [])
    if b"transfer-encoding" in headers:
        return True
    length = _content_length(scope)
    return length is not None and length > 0


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers") or []:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers") or []:
        if name == b"content-type":
            return b"json" in value.lower()
    return True  # FastAPI parses an untyped body as JSON too


def _bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers") or []:
        if name == b"authorization":
            scheme, _, rest = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer":
                return rest.strip() or None
    return None


async def _verify(scope: Scope, token: str) -> Any:
    tokens: TokenStore = scope["app"].state.context.tokens
    return await tokens.verify(token)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _answer(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    message: str,
    headers: dict[str, str] | None = None,
) -> None:
    await error_response(status, message, headers=headers)(scope, receive, send)
