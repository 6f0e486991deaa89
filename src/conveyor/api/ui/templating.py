"""Jinja2 for the web UI: one autoescaping environment, the page frame's data, HTML answers.

Templates live in ``templates/`` of this package (shipped in the wheel). ``page`` renders a
whole page in the frame of ``base.html`` (navigation, the signed-in token, the vendored
scripts with their Subresource Integrity hashes); ``fragment`` renders a piece that htmx
swaps in. Every answer carries a Content-Security-Policy that allows only this server's own
scripts and styles, so nothing inline can run: behaviour lives in ``static/app.js``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

import yaml
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from conveyor.api import rbac
from conveyor.store import TokenInfo

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class NavItem:
    """A page in the navigation bar, shown to callers who may read ``resource``."""

    label: str
    path: str
    resource: str


NAV: list[NavItem] = [
    NavItem("Applications", "/ui/applications", "applications"),
    NavItem("Pipeline runs", "/ui/pipelines", "ci"),
    NavItem("Deployments", "/ui/deployments", "deployments"),
    NavItem("Promotions", "/ui/promotions", "promotions"),
    NavItem("DORA", "/ui/dora", "deployments"),
    NavItem("Compliance", "/ui/compliance", "deployments"),
    NavItem("Audit log", "/ui/audit", "audit"),
    NavItem("Notifications", "/ui/notifications", "notifications"),
]
"""The pages of the UI, in order. A new page adds its item here (see docs/ui.md)."""


@cache
def vendor_manifest() -> dict[str, Any]:
    """``static/vendor/vendor.json``: the pinned third-party files and their SHA-256."""
    text = resources.files(__package__).joinpath("static/vendor/vendor.json").read_text()
    manifest: dict[str, Any] = json.loads(text)
    return manifest


def vendor_scripts() -> list[str]:
    """The vendored scripts, in the manifest's order (htmx before its extensions)."""
    return [
        name
        for package in vendor_manifest()["packages"].values()
        for name in package["files"]
        if name.endswith(".js")
    ]


@cache
def integrity(filename: str) -> str:
    """The Subresource Integrity value of a vendored file, from the pinned manifest."""
    for package in vendor_manifest()["packages"].values():
        entry = package["files"].get(filename)
        if entry is not None:
            digest = bytes.fromhex(entry["sha256"])
            return "sha256-" + base64.b64encode(digest).decode()
    raise KeyError(f"{filename} is not in static/vendor/vendor.json")


def short(revision: object) -> str:
    text = str(revision or "")
    return text[:7] if len(text) >= 40 else text


def when(value: object) -> str:
    """An RFC 3339 time as ``2026-12-05 03:04:05`` (UTC), or ''."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def to_yaml(obj: object) -> str:
    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False, allow_unicode=True)


def duration(seconds: object) -> str:
    """Seconds as a person reads them: ``850 ms``, ``42 s``, ``3 min 5 s``, ``2 h 10 min``,
    ``3 d 4 h``; '' for none."""
    if seconds is None or seconds == "":
        return ""
    value = float(str(seconds))
    if value < 1:
        return f"{round(value * 1000)} ms"
    whole = round(value)
    for unit, size, sub, sub_size in (("d", 86400, "h", 3600), ("h", 3600, "min", 60),
                                      ("min", 60, "s", 1)):  # fmt: skip
        if whole >= size:
            rest = (whole % size) // sub_size
            return f"{whole // size} {unit}" + (f" {rest} {sub}" if rest else "")
    return f"{value:.3g} s" if value < 10 else f"{whole} s"


def percent(rate: object) -> str:
    """A rate (0..1) as ``33.3%``; '' for none."""
    if rate is None or rate == "":
        return ""
    return f"{float(str(rate)) * 100:.1f}%".replace(".0%", "%")


def css_token(value: object) -> str:
    """A status as a CSS class suffix (``OutOfSync`` -> ``outofsync``)."""
    return "".join(c for c in str(value or "unknown").lower() if c.isalnum()) or "unknown"


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("conveyor.api.ui", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        short=short, when=when, yaml=to_yaml, css=css_token, duration=duration, percent=percent
    )
    env.globals.update(integrity=integrity, vendor_scripts=vendor_scripts)
    return env


def nav_for(caller: TokenInfo | None) -> list[NavItem]:
    if caller is None:
        return []
    policy = rbac.parse_policy(caller.role, caller.policy)
    return [item for item in NAV if policy.may_list(item.resource)]


def render(template: str, /, **context: Any) -> str:
    return environment().get_template(template).render(**context)


def page(
    request: Request,
    template: str,
    caller: TokenInfo | None,
    /,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A whole page, in the frame of ``base.html``."""
    html = render(
        template,
        request=request,
        caller=caller,
        nav=nav_for(caller),
        current=request.url.path,
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers=HEADERS)


def fragment(
    template: str,
    /,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """A piece of a page, for htmx to swap in."""
    return HTMLResponse(
        render(template, **context), status_code=status_code, headers={**HEADERS, **(headers or {})}
    )
