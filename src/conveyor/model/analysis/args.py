"""Arguments of an analysis: resolving ``{{args.name}}`` placeholders, and masking secrets.

Argo resolves a run's args when the run starts: a value given by the caller wins over the
template's default, ``valueFrom`` reads a Secret key, a field of the owning object, or a
ReplicaSet's pod-template-hash; an argument without a value is an error naming it. Every
string of a metric (query, url, headers, conditions, even ``interval``) is then rendered.

A value that came from a Secret is masked as ``*****`` in anything shown (measurement
messages, metadata, CLI output), as Argo does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from conveyor.model.analysis.kinds import Argument, Metric
from conveyor.model.analysis.status import Measurement

MASK = "*****"
_ARG = re.compile(r"\{\{\s*args\.([^{}\s]+)\s*\}\}")

SecretLookup = Callable[[str, str], str | None]
"""(secret name, key) -> value, or None when missing."""
FieldLookup = Callable[[str], str | None]
"""A field path of the owning object (``metadata.labels['env']``) -> value, or None."""


class ArgumentError(ValueError):
    """An argument has no value, or a placeholder names no argument."""


@dataclass(frozen=True)
class ResolvedArgs:
    """Argument values by name, and which of those values are secret."""

    values: dict[str, str]
    secrets: frozenset[str] = field(default_factory=frozenset)

    def mask(self, text: str) -> str:
        """``text`` with every secret value replaced by ``*****``."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            if secret:
                text = text.replace(secret, MASK)
        return text

    def mask_measurement(self, measurement: Measurement) -> Measurement:
        """``measurement`` with secret values masked in its value, message and metadata."""
        if not self.secrets:
            return measurement
        return replace(
            measurement,
            value=self.mask(measurement.value) if measurement.value is not None else None,
            message=self.mask(measurement.message),
            metadata=self.mask_data(measurement.metadata),
        )

    def mask_data(self, value: Any) -> Any:
        """A copy of ``value`` (dicts, lists, strings) with secret values masked."""
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, dict):
            return {k: self.mask_data(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.mask_data(v) for v in value]
        return value


def resolve_args(
    declared: list[Argument] | None,
    given: Mapping[str, str] | None = None,
    *,
    secrets: SecretLookup | None = None,
    fields: FieldLookup | None = None,
    pod_template_hashes: Mapping[str, str] | None = None,
) -> ResolvedArgs:
    """Each declared argument's value; raises ArgumentError listing every one without."""
    given = dict(given or {})
    values: dict[str, str] = {}
    secret_values: set[str] = set()
    missing: list[str] = []
    for arg in declared or []:
        if arg.name in given:
            values[arg.name] = given.pop(arg.name)
            if arg.is_secret:  # a value given for a Secret-backed argument stays secret
                secret_values.add(values[arg.name])
            continue
        value = _from_source(arg, secrets, fields, pod_template_hashes)
        if value is None:
            missing.append(arg.name)
            continue
        values[arg.name] = value
        if arg.is_secret:
            secret_values.add(value)
    if given:
        unknown = ", ".join(sorted(given))
        raise ArgumentError(f"the template declares no argument {unknown}")
    if missing:
        raise ArgumentError(f"args.{', args.'.join(missing)}: no value given (set --arg)")
    return ResolvedArgs(values, frozenset(secret_values))


def _from_source(
    arg: Argument,
    secrets: SecretLookup | None,
    fields: FieldLookup | None,
    hashes: Mapping[str, str] | None,
) -> str | None:
    if arg.value_from is None:
        return arg.value
    source = arg.value_from
    if source.secret_key_ref is not None:
        ref = source.secret_key_ref
        value = secrets(ref.name, ref.key) if secrets else None
        if value is None:
            raise ArgumentError(
                f"args.{arg.name}: key '{ref.key}' of secret '{ref.name}' was not found"
            )
        return value
    if source.field_ref is not None:
        return fields(source.field_ref.field_path) if fields else None
    return (hashes or {}).get(source.pod_template_hash_value or "")


def render(value: Any, args: ResolvedArgs) -> Any:
    """``value`` (strings, lists, dicts) with every ``{{args.name}}`` replaced."""
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in args.values:
                raise ArgumentError(f"args.{name} was not resolved: declare it under spec.args")
            return args.values[name]

        return _ARG.sub(substitute, value)
    if isinstance(value, dict):
        return {k: render(v, args) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, args) for v in value]
    return value


def render_metric(metric: Metric, args: ResolvedArgs) -> Metric:
    """The metric with its placeholders resolved, validated again (counts, durations)."""
    return Metric.model_validate(render(metric.model_dump(by_alias=True, exclude_unset=True), args))
