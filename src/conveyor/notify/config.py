"""The notification configuration: Argo CD's ``argocd-notifications-cm`` keys, read once.

The ConfigMap's data (over the built-in catalog, ``notify.catalog``) gives triggers
(``trigger.<name>``), templates (``template.<name>``), services (``service.slack``,
``service.slack.<name>``, ``service.webhook.<name>``), ``subscriptions``, ``defaultTriggers``
(and ``defaultTriggers.<service>``) and ``context``. Argo Rollouts'
``argo-rollouts-notification-configmap`` is read the same way and merged in. The Secret
``argocd-notifications-secret`` gives the values that ``$key`` references name; they are
resolved only when a request is sent, so they never reach the outbox, the API or a log.

Everything taken either works as Argo CD documents it or becomes a warning in
``NotificationConfig.warnings`` (shown by the API, the CLI and the log): an unsupported
service type, a condition outside the evaluated subset, an unknown key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from conveyor.errors import ValidationError
from conveyor.model.labelselectors import LabelSelector, parse_selector
from conveyor.model.yamldocs import load_stream
from conveyor.notify.catalog import CATALOG
from conveyor.notify.conditions import Expression, ExpressionError, compile_expression
from conveyor.notify.templates import Template, compile_template

CONFIGMAP = "argocd-notifications-cm"
ROLLOUTS_CONFIGMAP = "argo-rollouts-notification-configmap"
SECRET = "argocd-notifications-secret"  # noqa: S105 (a Secret's name)
ROLLOUTS_SECRET = "argo-rollouts-notification-secret"  # noqa: S105
SERVICE_TYPES = ("slack", "webhook")
_SECRET_REF = re.compile(r"\$([A-Za-z0-9_.-]+)")
_SERVICE_OPTIONS = {
    "slack": {"token", "apiURL", "webhookURL", "username", "icon", "disableUnfurl"},
    "webhook": {"url", "headers", "basicAuth"},
}
"""The options each service honours; any other is a warning (never taken and ignored)."""


@dataclass(frozen=True)
class Condition:
    """One condition of a trigger: when it holds, ``send`` these templates (once per value)."""

    when: Expression
    send: tuple[str, ...]
    once_per: Expression | None = None
    description: str = ""


@dataclass(frozen=True)
class Trigger:
    name: str
    conditions: tuple[Condition, ...]
    subject: str
    """What it speaks about: ``app``, ``rollout`` or ``analysisRun`` (the names it reads)."""


@dataclass(frozen=True)
class Service:
    name: str
    type: str
    options: dict[str, Any]
    """As configured, ``$key`` references unresolved."""


@dataclass(frozen=True)
class Subscription:
    """A ``subscriptions`` entry: recipients (service, recipient) for triggers, by selector."""

    recipients: tuple[tuple[str, str], ...]
    triggers: tuple[str, ...]
    selector: LabelSelector | None = None


@dataclass(frozen=True)
class NotificationConfig:
    triggers: dict[str, Trigger] = field(default_factory=dict)
    templates: dict[str, Template] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    subscriptions: tuple[Subscription, ...] = ()
    default_triggers: tuple[str, ...] = ()
    service_default_triggers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    context: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    warnings: tuple[str, ...] = ()

    def triggers_for(self, service: str, named: tuple[str, ...]) -> tuple[str, ...]:
        """The triggers a subscription means: those it names, else the defaults."""
        if named:
            return named
        return self.service_default_triggers.get(service) or self.default_triggers

    def resolve(self, value: Any) -> Any:
        """``value`` with every ``$key`` of the Secret replaced by its value (deeply)."""
        if isinstance(value, str):
            return _SECRET_REF.sub(lambda m: self.secrets.get(m.group(1), m.group(0)), value)
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        return value

    def secret_values(self) -> list[str]:
        """The values that must never be shown (masked in errors and logs)."""
        return [v for v in self.secrets.values() if len(v) >= 4]


def _yaml(text: str) -> Any:
    docs = list(load_stream(text))
    return docs[0] if docs else None


def parse_config(
    data: Mapping[str, str], secrets: Mapping[str, str] | None = None
) -> NotificationConfig:
    """The configuration of ``data`` (a ConfigMap's, over the catalog) and ``secrets``.

    A key that cannot be read is left out with a warning; the rest still works.
    """
    merged = {**CATALOG, **data}
    warnings: list[str] = []
    triggers: dict[str, Trigger] = {}
    templates: dict[str, Template] = {}
    services: dict[str, Service] = {}
    subscriptions: tuple[Subscription, ...] = ()
    defaults: tuple[str, ...] = ()
    service_defaults: dict[str, tuple[str, ...]] = {}
    context: dict[str, str] = {}
    for key in sorted(merged):
        text = merged[key]
        if not isinstance(text, str):
            warnings.append(f"{key}: the value is not text; ignored")
            continue
        try:
            if key.startswith("trigger."):
                triggers[key[8:]] = _trigger(key[8:], _yaml(text))
            elif key.startswith("template."):
                template, notes = compile_template(key[9:], _yaml(text))
                templates[key[9:]] = template
                warnings.extend(f"{key}: {note}" for note in notes)
            elif key.startswith("service."):
                service = _service(key, _yaml(text), warnings)
                if service is not None:
                    services[service.name] = service
            elif key == "subscriptions":
                subscriptions = _subscriptions(_yaml(text))
            elif key == "defaultTriggers":
                defaults = _names(key, _yaml(text))
            elif key.startswith("defaultTriggers."):
                service_defaults[key[16:]] = _names(key, _yaml(text))
            elif key == "context":
                raw = _yaml(text) or {}
                if not isinstance(raw, dict):
                    raise ValidationError("context: expected a mapping of names to text")
                context = {str(k): str(v) for k, v in raw.items()}
            else:
                warnings.append(f"{key}: not a key Conveyor reads (ignored)")
        except (ValidationError, ExpressionError) as err:
            warnings.append(f"{key}: {err}; left out")
    for name, trigger in triggers.items():
        for cond in trigger.conditions:
            for missing in (t for t in cond.send if t not in templates):
                warnings.append(f"trigger.{name}: template '{missing}' is not defined")
    secret_data = dict(secrets or {})
    for service in services.values():
        for ref in _SECRET_REF.findall(str(service.options)):
            if ref not in secret_data:
                warnings.append(
                    f"service {service.name}: ${ref} is not a key of {SECRET}; sent as written"
                )
    return NotificationConfig(
        triggers=triggers, templates=templates, services=services,
        subscriptions=subscriptions, default_triggers=defaults,
        service_default_triggers=service_defaults, context=context,
        secrets=secret_data, warnings=tuple(warnings),
    )  # fmt: skip


def _names(key: str, raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(n, str) for n in raw):
        raise ValidationError(f"{key}: expected a list of trigger names")
    return tuple(raw)


def _trigger(name: str, raw: Any) -> Trigger:
    if not isinstance(raw, list) or not raw:
        raise ValidationError("expected a list of conditions (when, send, oncePer)")
    conditions: list[Condition] = []
    for item in raw:
        if not isinstance(item, dict):
            raise ValidationError("each condition is a mapping with when and send")
        send = item.get("send") or []
        if not isinstance(send, list) or not send or not all(isinstance(s, str) for s in send):
            raise ValidationError("send: expected a list of template names")
        when = item.get("when")
        if isinstance(when, bool):  # `when: true` read as YAML's bool
            when = "true" if when else "false"
        if not isinstance(when, str):
            raise ValidationError("when: expected an expression")
        once = item.get("oncePer")
        conditions.append(
            Condition(
                when=compile_expression(when),
                send=tuple(send),
                once_per=compile_expression(str(once)) if once else None,
                description=str(item.get("description") or ""),
            )
        )
    texts = " ".join(f"{c.when.text} {c.once_per.text if c.once_per else ''}" for c in conditions)
    subject = (
        "analysisRun"
        if re.search(r"\banalysisRun\b", texts)
        else "rollout"
        if re.search(r"\brollout\b", texts)
        else "app"
    )
    return Trigger(name, tuple(conditions), subject)


def _service(key: str, raw: Any, warnings: list[str]) -> Service | None:
    parts = key.split(".", 2)  # service.<type>[.<name>]
    kind = parts[1] if len(parts) > 1 else ""
    if kind not in SERVICE_TYPES:
        warnings.append(
            f"{key}: the service type '{kind}' is not supported (Conveyor sends slack and "
            "webhook); left out"
        )
        return None
    if kind == "webhook" and len(parts) < 3:
        raise ValidationError("a webhook service needs a name: service.webhook.<name>")
    name = parts[2] if len(parts) > 2 else kind
    if not isinstance(raw, dict):
        raise ValidationError("expected a mapping of options")
    for option in sorted(set(raw) - _SERVICE_OPTIONS[kind]):
        warnings.append(f"{key}: option '{option}' is not supported (ignored)")
    if kind == "webhook" and not isinstance(raw.get("url"), str):
        raise ValidationError("url: a webhook service needs its url")
    if kind == "slack" and not (raw.get("token") or raw.get("webhookURL")):
        raise ValidationError("a slack service needs token (chat.postMessage) or webhookURL")
    return Service(name, kind, dict(raw))


def _subscriptions(raw: Any) -> tuple[Subscription, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ValidationError("expected a list of subscriptions")
    result: list[Subscription] = []
    for item in raw:
        if not isinstance(item, dict):
            raise ValidationError("each subscription is a mapping (recipients, triggers)")
        recipients: list[tuple[str, str]] = []
        for text in item.get("recipients") or []:
            service, _, recipient = str(text).partition(":")
            recipients.append((service.strip(), recipient.strip()))
        selector = item.get("selector")
        result.append(
            Subscription(
                recipients=tuple(recipients),
                triggers=_names("subscriptions.triggers", item.get("triggers")),
                selector=parse_selector(str(selector)) if selector else None,
            )
        )
    return tuple(result)
