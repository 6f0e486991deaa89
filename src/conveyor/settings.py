"""Where Conveyor keeps its state, read once from the environment.

One place decides the data directory so that the CLI, the server and the tests agree on it;
tests point ``CONVEYOR_HOME`` at a temporary directory.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from conveyor.errors import ValidationError

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-_.A-Za-z0-9]{0,61}[A-Za-z0-9])?)?")

PRIVATE_DIR = 0o700
"""CONVEYOR_HOME holds live Secret data (the database), tokens, checkouts and Pod logs."""
PRIVATE_UMASK = 0o077
"""What the server creates under CONVEYOR_HOME is readable by its user only."""


@dataclass(frozen=True)
class Settings:
    """Paths and URLs for one Conveyor installation."""

    home: Path
    """Root of everything Conveyor writes: database, artifacts, logs."""
    database_url: str
    """SQLAlchemy async URL; a SQLite file under ``home`` unless CONVEYOR_DATABASE_URL is set."""
    namespace: str = "argocd"
    """Conveyor's own namespace (CONVEYOR_NAMESPACE; Argo CD's ``argocd`` by default):
    Applications and AppProjects synced into it are registered (app of apps)."""
    prometheus: str = "off"
    """CONVEYOR_PROMETHEUS: ``auto`` (run one when the binary is present; ``from_env``'s
    default), ``off`` (the default of settings built in code), or a Prometheus server's URL."""
    prometheus_scrape_interval: float = 5.0
    """CONVEYOR_PROMETHEUS_SCRAPE_INTERVAL, seconds, for the Prometheus run under ``auto``."""
    rollouts_instance_id: str = ""
    """CONVEYOR_ROLLOUTS_INSTANCE_ID: Argo Rollouts' ``--instance-id`` for the local runtime's
    Rollout and AnalysisRun controllers: they run only the objects whose
    ``argo-rollouts.argoproj.io/controller-instance-id`` label equals it ("" by default: only
    the objects without the label)."""
    audit_max_age_days: int = 365
    """CONVEYOR_AUDIT_MAX_AGE_DAYS: audit rows older than this are deleted (0: kept)."""
    audit_max_rows: int = 1_000_000
    """CONVEYOR_AUDIT_MAX_ROWS: only the newest this many audit rows are kept (0: all)."""
    cluster: str = ""
    """CONVEYOR_CLUSTER: where this server deploys. Empty: the cluster it runs in when it
    runs in a Pod (else the local runtime) and every cluster registered with ``conveyor
    cluster add``, each app to the one its destination names; ``local``: the local runtime
    only; otherwise the name (or server URL) of the one registered cluster to deploy to."""
    ha: str = "off"
    """CONVEYOR_HA: ``auto`` (``from_env``'s default: on with PostgreSQL, off with SQLite),
    ``on`` or ``off``. On, several servers share the database: one holds the lease and runs
    the runtime and the controller, the others forward the API to it (docs/ha.md)."""
    lease_ttl: float = 10.0
    """CONVEYOR_LEASE_TTL, seconds a lease lasts without renewal (the takeover delay)."""
    advertise_url: str | None = None
    """CONVEYOR_ADVERTISE_URL: where the other servers reach this one's API (default: the
    address it listens on, which must then be reachable from them)."""

    @property
    def leases(self) -> bool:
        """Servers share this database: work is done under leases (``ha``)."""
        if self.ha == "auto":
            return self.database_url.startswith(("postgres", "postgresql"))
        return self.ha == "on"

    @property
    def artifacts_dir(self) -> Path:
        """Immutable artifacts built by ``conveyor artifact build``."""
        return self.home / "artifacts"

    @property
    def runtime_dir(self) -> Path:
        """Pod logs and scratch space of the local runtime."""
        return self.home / "runtime"

    @property
    def prometheus_dir(self) -> Path:
        """The supervised Prometheus' config, TSDB and log."""
        return self.home / "prometheus"

    @property
    def prometheus_targets_dir(self) -> Path:
        """The file_sd files the runtime (``pods.json``) and the server (``conveyor.json``)
        write."""
        return self.runtime_dir / "prometheus"

    def make_private(self) -> None:
        """Make ``home`` 0700 and what this process creates from now on 0600/0700.

        The server calls it before opening the database: the SQLite file, its journal, the
        mirrors, checkouts, artifacts and Pod logs are then readable by this user only.
        """
        os.umask(PRIVATE_UMASK)
        os.chmod(self.home, PRIVATE_DIR)

    @classmethod
    def from_env(cls, home: Path | None = None) -> Settings:
        """Build settings from CONVEYOR_HOME / CONVEYOR_DATABASE_URL, creating the home dir."""
        if home is None:
            env_home = os.environ.get("CONVEYOR_HOME")
            home = Path(env_home) if env_home else Path(platformdirs.user_data_dir("conveyor"))
        home = home.expanduser().resolve()
        home.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
        url = (
            os.environ.get("CONVEYOR_DATABASE_URL") or f"sqlite+aiosqlite:///{home / 'conveyor.db'}"
        )
        namespace = os.environ.get("CONVEYOR_NAMESPACE") or "argocd"
        if not _DNS_LABEL.fullmatch(namespace):
            raise ValidationError(
                f"CONVEYOR_NAMESPACE={namespace!r} is not a namespace name: lowercase letters, "
                "digits and '-', starting and ending with a letter or digit, at most 63"
            )
        return cls(
            home=home,
            database_url=url,
            namespace=namespace,
            prometheus=_prometheus_mode(os.environ.get("CONVEYOR_PROMETHEUS", "auto")),
            prometheus_scrape_interval=_seconds(
                "CONVEYOR_PROMETHEUS_SCRAPE_INTERVAL",
                os.environ.get("CONVEYOR_PROMETHEUS_SCRAPE_INTERVAL", "5"),
            ),
            rollouts_instance_id=_label_value(
                "CONVEYOR_ROLLOUTS_INSTANCE_ID", os.environ.get("CONVEYOR_ROLLOUTS_INSTANCE_ID", "")
            ),
            audit_max_age_days=_count("CONVEYOR_AUDIT_MAX_AGE_DAYS", 365),
            audit_max_rows=_count("CONVEYOR_AUDIT_MAX_ROWS", 1_000_000),
            cluster=os.environ.get("CONVEYOR_CLUSTER", "").strip(),
            ha=_ha_mode(os.environ.get("CONVEYOR_HA", "auto")),
            lease_ttl=_seconds("CONVEYOR_LEASE_TTL", os.environ.get("CONVEYOR_LEASE_TTL", "10")),
            advertise_url=_advertise_url(os.environ.get("CONVEYOR_ADVERTISE_URL") or ""),
        )


def _prometheus_mode(value: str) -> str:
    mode = value.strip()
    if mode.lower() in ("auto", "off", ""):
        return mode.lower() or "auto"
    if mode.startswith(("http://", "https://")):
        return mode.rstrip("/")
    raise ValidationError(
        f"CONVEYOR_PROMETHEUS={value!r}: use auto, off, or a Prometheus URL (http://host:9090)"
    )


def _advertise_url(value: str) -> str | None:
    url = value.strip().rstrip("/")
    if not url:
        return None
    if not url.startswith(("http://", "https://")):
        raise ValidationError(
            f"CONVEYOR_ADVERTISE_URL={value!r}: give the URL other servers reach this one at, "
            "e.g. http://10.0.0.1:8600"
        )
    return url


def _ha_mode(value: str) -> str:
    mode = value.strip().lower() or "auto"
    if mode not in ("auto", "on", "off"):
        raise ValidationError(f"CONVEYOR_HA={value!r}: use auto, on or off")
    return mode


def _seconds(name: str, value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not 0.1 <= seconds <= 3600:
        raise ValidationError(f"{name}={value!r}: give seconds between 0.1 and 3600")
    return seconds


def _label_value(name: str, value: str) -> str:
    if not _LABEL_VALUE.fullmatch(value.strip()):
        raise ValidationError(
            f"{name}={value!r} is not a label value: at most 63 letters, digits, '-', '_' or"
            " '.', starting and ending with a letter or digit"
        )
    return value.strip()


def _count(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit():
        raise ValidationError(f"{name}={value!r}: give a whole number (0: no limit)")
    return int(value)
