"""The UI's form posts: small ``application/x-www-form-urlencoded`` bodies, read here.

htmx sends a form's fields URL-encoded; these bodies are a few fields long, so they are parsed
with the standard library (``BodyGuard`` has already bounded the size).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs

from fastapi import Request

from conveyor.errors import ValidationError

MAX_FORM = 16 * 1024


@dataclass(frozen=True)
class Form:
    fields: dict[str, list[str]]

    def text(self, name: str, default: str = "") -> str:
        values = self.fields.get(name)
        return values[0] if values else default

    def flag(self, name: str) -> bool:
        """A checkbox: sent (as ``on`` or ``true``) when ticked, absent otherwise."""
        return self.text(name).lower() in ("on", "true", "1", "yes")

    def integer(self, name: str) -> int:
        value = self.text(name)
        if not value.isdigit() or len(value) > 18:
            raise ValidationError(f"{name} must be a whole number, not {value[:40]!r}")
        return int(value)


async def read_form(request: Request) -> Form:
    body = await request.body()
    if len(body) > MAX_FORM:
        raise ValidationError(f"the form is larger than {MAX_FORM} bytes")
    return Form(parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True))
