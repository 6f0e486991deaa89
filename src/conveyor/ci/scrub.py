"""Secrets never leave the scan: what is stored or shown of a tool's output goes through here.

Findings keep where and what (file, line, type or rule), never the matched text: the keys
that echo code or secrets (bandit's ``code``, semgrep's ``lines``, detect-secrets'
``hashed_secret``, gitleaks' ``Secret`` and ``Match``) are dropped. Logs are masked for the
credential shapes a scanner would flag, and for URL credentials (``conveyor.redaction``).
"""

from __future__ import annotations

import re
from typing import Any

from conveyor.redaction import mask_credentials

MASK = "******"
ECHOING_KEYS = frozenset(
    {"code", "lines", "hashed_secret", "secret", "match", "line", "fingerprint", "snippet"}
)
"""Keys (compared lowercase) whose value repeats scanned text."""

_PATTERNS = [
    re.compile(r"\b(?:A3T[A-Z0-9]|AKIA|ABIA|ACCA|ASIA)[0-9A-Z]{16}\b"),
    re.compile(r"-----BEGIN[A-Z ]*PRIVATE KEY-----.*?(?:-----END[A-Z ]*PRIVATE KEY-----|\Z)", re.S),
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"),
    re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b"),
    re.compile(r"(?i)(aws_secret_access_key|password|passwd|secret|token)(\s*[:=]\s*)\S+"),
]


def mask_text(text: str) -> str:
    """``text`` with credential-looking values and URL credentials masked."""
    text = mask_credentials(text)
    for pattern in _PATTERNS:
        if pattern.groups >= 2:
            text = pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
        else:
            text = pattern.sub(MASK, text)
    return text


def finding(raw: dict[str, Any]) -> dict[str, Any]:
    """A finding without the keys that echo scanned text; strings masked."""
    clean: dict[str, Any] = {}
    for key, value in raw.items():
        if key.lower() in ECHOING_KEYS:
            continue
        if isinstance(value, str):
            clean[key] = mask_text(value)
        elif isinstance(value, int | float | bool) or value is None:
            clean[key] = value
    return clean
