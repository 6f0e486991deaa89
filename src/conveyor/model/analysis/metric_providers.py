"""``metrics[].provider``: the providers Conveyor measures with, and those it refuses by name.

Each provider (prometheus, web, job, plugin) has its own fields and checks (a web jsonPath
must parse, a body needs POST or PUT, a plugin must name one Conveyor knows); the providers
Argo Rollouts ships but Conveyor does not measure with are kept and named in an error. A
metric's timing and limits are ``kinds``'; what a provider is, is this module's.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from conveyor.model.analysis.expr import PLACEHOLDER
from conveyor.model.analysis.jsonpath import JSONPathError
from conveyor.model.analysis.jsonpath import parse as parse_json_path
from conveyor.model.analysis.plugins import PLUGINS, check_plugin
from conveyor.model.manifest import ArgoModel

# Providers Argo Rollouts ships that Conveyor keeps but does not measure with.
UNSUPPORTED_PROVIDERS = {
    name: (
        "this metric provider is not available in Conveyor; use prometheus, web, job or the"
        " conveyor/builtin and conveyor/judge plugins"
    )
    for name in (
        "datadog",
        "newRelic",
        "wavefront",
        "kayenta",
        "cloudWatch",
        "graphite",
        "influxdb",
        "skywalking",
        "apm",
    )
}


class Header(ArgoModel):
    """An HTTP header for the web and prometheus providers."""

    key: str
    value: str


class PrometheusMetric(ArgoModel):
    """``provider.prometheus``: an instant PromQL query against a server."""

    unsupported_fields = {"authentication": "SigV4 and OAuth2 are not supported by Conveyor"}

    address: str | None = None
    query: str
    timeout: int | None = Field(default=None, ge=0)  # seconds; 30 when unset
    insecure: bool | None = None
    headers: list[Header] | None = None


class WebMetric(ArgoModel):
    """``provider.web``: an HTTP request whose JSON answer (or a jsonPath of it) is the value."""

    url: str
    method: str | None = None
    headers: list[Header] | None = None
    body: str | None = None
    json_body: Any = None
    json_path: str | None = None
    timeout_seconds: int | None = Field(default=None, ge=0)
    insecure: bool | None = None

    @field_validator("json_path")
    @classmethod
    def _check_json_path(cls, value: str | None) -> str | None:
        if value is not None and not PLACEHOLDER.search(value):
            try:
                parse_json_path(value)
            except JSONPathError as err:
                raise ValueError(str(err)) from None
        return value

    @model_validator(mode="after")
    def _body_rules(self) -> WebMetric:
        method = (self.method or "GET").upper()
        if method not in ("GET", "POST", "PUT"):
            raise ValueError(f"method: '{self.method}' is not GET, POST or PUT")
        if self.body is not None and self.json_body is not None:
            raise ValueError("set body or jsonBody, not both")
        if (self.body is not None or self.json_body is not None) and method == "GET":
            raise ValueError("body and jsonBody need method POST or PUT")
        return self


class JobMetric(ArgoModel):
    """``provider.job``: a Job whose success or failure is the measurement."""

    metadata: dict[str, Any] | None = None
    spec: dict[str, Any]


class MetricProvider(ArgoModel):
    """``metrics[].provider``: exactly one provider."""

    unsupported_fields = UNSUPPORTED_PROVIDERS

    prometheus: PrometheusMetric | None = None
    web: WebMetric | None = None
    job: JobMetric | None = None
    plugin: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> MetricProvider:
        given = [n for n in ("prometheus", "web", "job", "plugin") if getattr(self, n) is not None]
        given += list(self.model_extra or {})
        if not given:
            raise ValueError("no provider specified: set prometheus, web or job")
        if len(given) > 1:
            raise ValueError(f"multiple providers specified ({', '.join(given)}): keep one")
        if self.plugin is not None:
            check_plugin(self.plugin)
        return self

    def semantic_warnings(self) -> list[tuple[str, str]]:
        if self.plugin is None:
            return []
        unknown = [name for name in self.plugin if name not in PLUGINS]
        if self.plugin and not unknown:
            return []
        names = ", ".join(unknown) or "(none)"
        return [("plugin", f"plugin {names} is not available in Conveyor; its measurements error")]

    @property
    def kind(self) -> str:
        """The provider's name as written (``prometheus``, ``web``...)."""
        for name in ("prometheus", "web", "job", "plugin"):
            if getattr(self, name) is not None:
                return name
        return next(iter(self.model_extra or {}), "")
