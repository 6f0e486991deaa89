"""Structured logs (structlog): one line per event, key/values, the object's identity bound.

Secret values never reach a log: ``mask_secrets`` runs as a processor and replaces any value
whose key looks like a credential and the password of any URL in a text value (the one masking
function, ``conveyor.redaction``), and callers never log Secret data in the first place.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from conveyor.redaction import MASK, mask_credentials

__all__ = ["MASK", "configure", "get_logger", "mask_secrets"]

_SECRET_KEY = re.compile(r"(?i)(password|passwd|secret|token|api[_-]?key|credential)")


def mask_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Replace the values of keys that name credentials, and URL credentials in any text."""
    for key in list(event):
        if key != "event" and _SECRET_KEY.search(key):
            event[key] = MASK
        elif isinstance(event[key], str) and "://" in event[key]:
            event[key] = mask_credentials(event[key])
    return event


def _identity(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    return event


def configure(level: str = "INFO", *, json: bool = False) -> None:
    """Set up structlog once per process; safe to call again."""
    logging.basicConfig(stream=sys.stderr, level=level, format="%(message)s", force=True)
    # migrations, every probe request; and the SQL drivers, whose DEBUG lines carry the
    # parameters of every statement, Secret bodies of the runtime journal included
    for chatty in ("alembic", "httpx", "httpcore", "aiosqlite", "sqlalchemy.engine"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    # Plain tracebacks: rich's would print every frame's local variables, Secret values included.
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            mask_secrets,
            structlog.processors.format_exc_info if json else _identity,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),  # stdout is for output
        cache_logger_on_first_use=False,
    )


def get_logger(**identity: Any) -> Any:
    """A logger with the object's identity bound, e.g. ``get_logger(pod="ns/name")``."""
    # Lazy: a module-level logger must follow ``configure`` called later (bind() would not).
    return structlog.get_logger("conveyor", **identity)
