"""In-cluster addresses, reached on this machine: what cluster DNS does on Kubernetes.

Templates written for a cluster name ``http://prometheus:9090`` or
``http://svc.ns.svc.cluster.local:80``. Without touching /etc/hosts or any DNS, the runtime
maps such a URL to the local port behind it: a Service name (``svc``, ``svc.ns``,
``svc.ns.svc``, ``svc.ns.svc.cluster.local``) with one of the Service's ports goes to that
port's local proxy; ``prometheus`` (also ``prometheus.NS[.svc[.cluster.local]]``), when no
Service of that name exists, goes to the Prometheus Conveyor supervises or was configured
with. Anything else is returned unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

from conveyor.errors import TemporaryError
from conveyor.model.objects import Object, ObjectKey

ServiceLookup = Callable[[ObjectKey], Object | None]
ProxyPort = Callable[[ObjectKey, str | int], int | None]
PROMETHEUS = "prometheus"
PROMETHEUS_OFF = "Conveyor runs no Prometheus (CONVEYOR_PROMETHEUS=off)"
_CLUSTER_SUFFIXES = (".svc.cluster.local", ".svc")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def split_service_host(host: str, namespace: str) -> tuple[str, str] | None:
    """(service, namespace) that a cluster host name designates, or None."""
    name = host.lower().rstrip(".")
    for suffix in _CLUSTER_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    parts = name.split(".")
    if len(parts) == 1 and parts[0]:
        return parts[0], namespace
    if len(parts) == 2 and all(parts):
        return parts[0], parts[1]
    return None


class AddressResolver:
    """Maps cluster URLs to 127.0.0.1 ports of the local runtime."""

    def __init__(self, services: ServiceLookup, proxy_port: ProxyPort) -> None:
        self._services = services
        self._proxy_port = proxy_port
        self.prometheus_url: str | None = None
        """Where ``http://prometheus:9090`` goes; None when no Prometheus is available."""
        self.prometheus_unavailable = PROMETHEUS_OFF
        """Why not, when ``prometheus_url`` is None: the message a measurement shows."""

    def set_prometheus(self, url: str | None, unavailable: str = "") -> None:
        """Where ``http://prometheus:9090`` goes; None, with the reason, when nowhere."""
        self.prometheus_url = url
        if unavailable:
            self.prometheus_unavailable = unavailable

    def resolve(self, url: str, namespace: str = "default") -> str:
        """``url`` with a cluster host replaced by the local address that serves it.

        Raises TemporaryError for the Prometheus address when none is available.
        """
        parts = urlsplit(url)
        host = parts.hostname
        if not host:
            return url
        target = split_service_host(host, namespace)
        if target is None:
            return url
        service, ns = target
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 80)
        svc = self._services(ObjectKey("", "Service", ns, service))
        if svc is not None:
            local = self._service_port(svc, port)
            if local is not None:
                return urlunsplit(parts._replace(netloc=self._netloc(parts, f"127.0.0.1:{local}")))
            return url
        if service == PROMETHEUS:
            if self.prometheus_url is None:
                raise TemporaryError(f"cannot reach {url}: {self.prometheus_unavailable}")
            base = urlsplit(self.prometheus_url)
            netloc = self._netloc(parts, base.netloc)
            path = base.path.rstrip("/") + parts.path
            return urlunsplit(parts._replace(scheme=base.scheme, netloc=netloc, path=path))
        return url

    def _service_port(self, svc: Object, port: int) -> int | None:
        key = ObjectKey.of(svc)
        for spec in (svc.get("spec") or {}).get("ports") or []:
            if int(spec.get("port") or 0) == port:
                return self._proxy_port(key, spec.get("name") or spec.get("port"))
        return None

    @staticmethod
    def _netloc(parts: object, hostport: str) -> str:
        userinfo = getattr(parts, "netloc", "").rpartition("@")
        return f"{userinfo[0]}@{hostport}" if userinfo[1] else hostport
