"""Notification templates: Argo CD's ``template.<name>`` keys, rendered by a sandboxed Jinja2.

A template has a ``message``, a ``slack`` part (``attachments``, ``blocks``) and
``webhook.<name>`` parts (``method``, ``path``, ``body``); anything else is a warning. Each
text is a Jinja2 template rendered in a ``SandboxedEnvironment`` over ``app`` (or ``rollout``
and ``analysisRun``), ``context``, ``serviceType``, ``notificationType`` and ``event`` (the
trigger, its condition's ``oncePer`` value, and the moment). Missing fields render as empty text.

Argo CD writes templates in Go's text/template. The common forms are translated:
``{{.app.metadata.name}}`` -> ``{{ app.metadata.name }}``, ``{{if eq .a "b"}}`` /
``{{if .a}}`` / ``{{else}}`` / ``{{end}}`` -> Jinja's ``if``; any other Go construct
(``range``, ``call``, pipes) is left as written with a warning that names it, so a template
is never quietly half-translated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from jinja2 import ChainableUndefined, TemplateError
from jinja2 import Template as JinjaTemplate
from jinja2.sandbox import SandboxedEnvironment

from conveyor.errors import ValidationError

MAX_OUTPUT = 256 * 1024
"""Longest text one field may render to."""
SLACK_FIELDS = {"attachments", "blocks"}
WEBHOOK_FIELDS = {"method", "path", "body"}

_ENV = SandboxedEnvironment(
    undefined=ChainableUndefined, autoescape=False, keep_trailing_newline=True
)
_ACTION = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.DOTALL)
_FIELD = r"\.[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*"
_UNTRANSLATED = "-"
_GO_WORDS = {
    "if", "else", "end", "range", "with", "call", "printf", "template", "define", "block",
    "eq", "ne", "index", "len", "and", "or", "not", "print", "toJson",
}  # fmt: skip


@dataclass(frozen=True)
class Template:
    """One template, its texts compiled, keyed by their place (``slack.attachments``)."""

    name: str
    parts: dict[str, JinjaTemplate]

    def render(self, variables: dict[str, Any]) -> dict[str, str]:
        """Every part rendered; raises ValidationError when one cannot be."""
        out: dict[str, str] = {}
        for place, template in self.parts.items():
            try:
                text = template.render(variables)
            except TemplateError as err:
                raise ValidationError(f"template {self.name}: {place}: {err}") from err
            if len(text) > MAX_OUTPUT:
                raise ValidationError(f"template {self.name}: {place} renders too long")
            out[place] = text
        return out


def _go_field(text: str) -> str:
    return text[1:] if re.fullmatch(_FIELD, text) else ""


def translate_go(text: str) -> tuple[str, list[str]]:
    """``text`` with Go template actions turned into Jinja2, and what was left untranslated."""
    notes: list[str] = []
    stack: list[str] = []

    def action(match: re.Match[str]) -> str:
        left, inner, right = match.group(1), match.group(2), match.group(3)
        word = inner.split(" ", 1)[0] if inner else ""
        if not inner.startswith((".", "$")) and word not in _GO_WORDS:
            return match.group(0)  # Jinja already
        field = _go_field(inner)
        if field:
            return f"{{{{{left} {field} {right}}}}}"
        cond = _go_condition(inner[3:].strip()) if word == "if" else None
        if cond is not None:
            stack.append("if")
            return f"{{%{left} if {cond} {right}%}}"
        if word == "else" and inner == "else" and stack:
            return f"{{%{left} else {right}%}}"
        if word == "end" and inner == "end" and stack:
            opened = stack.pop()
            if opened == _UNTRANSLATED:
                return match.group(0)  # closes an action already reported
            return f"{{%{left} end{opened} {right}%}}"
        notes.append(
            f"the Go template action '{{{{{inner}}}}}' is not translated: write it in Jinja2"
        )
        if word in ("range", "with", "if"):
            stack.append(_UNTRANSLATED)
        return match.group(0)

    return _ACTION.sub(action, text), notes


def _go_condition(text: str) -> str | None:
    field = _go_field(text)
    if field:
        return field
    match = re.fullmatch(rf"(eq|ne)\s+({_FIELD})\s+(\"[^\"]*\")", text)
    if match:
        op = "==" if match.group(1) == "eq" else "!="
        return f"{match.group(2)[1:]} {op} {match.group(3)}"
    return None


def compile_template(name: str, raw: Any) -> tuple[Template, list[str]]:
    """The template ``name`` from its YAML mapping, and warnings about what is not used."""
    if not isinstance(raw, dict):
        raise ValidationError("expected a mapping (message, slack, webhook)")
    texts: dict[str, str] = {}
    notes: list[str] = []
    for key, value in raw.items():
        if key == "message" and isinstance(value, str):
            texts[key] = value
        elif key == "slack" and isinstance(value, dict):
            for field, text in value.items():
                if field in SLACK_FIELDS:
                    texts[f"slack.{field}"] = str(text)
                else:
                    notes.append(f"slack.{field} is not supported (ignored)")
        elif key == "webhook" and isinstance(value, dict):
            for service, part in value.items():
                if not isinstance(part, dict):
                    raise ValidationError(f"webhook.{service}: expected method, path, body")
                for field, text in part.items():
                    if field not in WEBHOOK_FIELDS:
                        notes.append(f"webhook.{service}.{field} is not supported (ignored)")
                    else:
                        texts[f"webhook.{service}.{field}"] = str(text)
        else:
            notes.append(f"'{key}' is not sent by Conveyor (slack and webhook only; ignored)")
    parts: dict[str, JinjaTemplate] = {}
    for place, text in texts.items():
        jinja, untranslated = translate_go(text)
        notes.extend(f"{place}: {note}" for note in untranslated)
        try:
            parts[place] = _ENV.from_string(jinja)
        except TemplateError as err:
            raise ValidationError(f"{place}: {err}") from err
    return Template(name, parts), notes
