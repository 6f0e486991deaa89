"""The store's schema as SQLAlchemy 2 declarative models: one place that names every table.

The Alembic migrations in ``migrations/versions`` create exactly these tables (a test compares
the two), and the store modules query through these classes so that a renamed column fails
type checking instead of at run time. Types stay portable: everything here works the same on
SQLite and on PostgreSQL. Later tables (applications, operations, history, audit) join
``Base`` the same way, each with its own migration.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Deterministic constraint names, so that later migrations can alter them on every dialect.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """The declarative base every Conveyor table derives from."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dict[str, Any]: JSON,
        datetime: DateTime(timezone=True),
    }


class RuntimeObject(Base):
    """One object of the local runtime, status included, as it was last recorded."""

    __tablename__ = "runtime_objects"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    """``str(ObjectKey)``: ``Kind.group/namespace/name`` (or ``Kind/name`` cluster-scoped)."""
    api_version: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    namespace: Mapped[str] = mapped_column(Text)
    """Empty for cluster-scoped objects."""
    name: Mapped[str] = mapped_column(Text)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The whole object, as canonical (compact, sorted) JSON."""
    updated_at: Mapped[datetime]


class RuntimePort(Base):
    """A Service port the local runtime allocated, kept so that URLs survive a restart."""

    __tablename__ = "runtime_ports"

    owner: Mapped[str] = mapped_column(Text, primary_key=True)
    """``namespace/service/portName``."""
    port: Mapped[int] = mapped_column(Integer, unique=True)


class ApplicationRow(Base):
    """A registered Application: its manifest as given, and its last computed status."""

    __tablename__ = "applications"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ProjectRow(Base):
    """A registered AppProject manifest."""

    __tablename__ = "projects"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime]


class OperationRow(Base):
    """A sync operation, written before it starts and updated as it goes."""

    __tablename__ = "operations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    app: Mapped[str] = mapped_column(
        Text, ForeignKey("applications.name", ondelete="CASCADE"), index=True
    )
    phase: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    operation: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class HistoryRow(Base):
    """One deployment of an app; unique per operation so a resumed sync never writes twice."""

    __tablename__ = "history"
    __table_args__ = (UniqueConstraint("app", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    app: Mapped[str] = mapped_column(
        Text, ForeignKey("applications.name", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    """The per-app id users see (``app rollback NAME SEQ``)."""
    operation_id: Mapped[int] = mapped_column(Integer, unique=True)
    revision: Mapped[str] = mapped_column(Text)
    deployed_at: Mapped[datetime]
    deploy_started_at: Mapped[datetime]
    initiated_by: Mapped[dict[str, Any]] = mapped_column(JSON)
    source: Mapped[dict[str, Any]] = mapped_column(JSON)


class ApiToken(Base):
    """A bearer token of the API, kept only as its SHA-256 (the token is shown once)."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    """``admin`` for the token the server writes to CONVEYOR_HOME; random hex for the others."""
    name: Mapped[str] = mapped_column(Text)
    """Who or what the token is for; recorded as ``initiatedBy.username`` of its syncs."""
    token_hash: Mapped[str] = mapped_column(Text, unique=True)
    """Hex SHA-256 of the token."""
    created_at: Mapped[datetime]
    role: Mapped[str] = mapped_column(Text, server_default="role:admin")
    """The role the token acts as: ``role:admin``, ``role:readonly`` or its own (api.rbac)."""
    policy: Mapped[str] = mapped_column(Text, server_default="")
    """Argo CD RBAC policy CSV of the token's own role; empty for the built-in roles."""


class DeploymentRow(Base):
    """One deployment, kept for good: never trimmed with the history, kept after its app goes.

    No foreign key to ``applications``: the record outlives the app. ``operation_id`` is not
    unique either, since operation ids of a deleted app may be given out again.
    """

    __tablename__ = "deployments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    operation_id: Mapped[int] = mapped_column(Integer, index=True)
    app: Mapped[str] = mapped_column(Text, index=True)
    project: Mapped[str] = mapped_column(Text)
    dest_server: Mapped[str] = mapped_column(Text)
    dest_name: Mapped[str] = mapped_column(Text)
    dest_namespace: Mapped[str] = mapped_column(Text)
    revision: Mapped[str] = mapped_column(Text)
    """The config commit synced to ("" until known)."""
    app_commit: Mapped[str | None] = mapped_column(Text, nullable=True)
    """The application commit behind ``revision``: the config commit's ``Conveyor-App-Commit``
    trailer, written by CI write-back (None when the commit has none)."""
    app_commit_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    """The app commit's time (``Conveyor-App-Commit-Date``): lead time runs from it."""
    initiator: Mapped[str] = mapped_column(Text)
    username: Mapped[str] = mapped_column(Text)
    phase: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    served_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    """First moment the app was Healthy and Synced at ``revision`` after the operation."""


class CiRunRow(Base):
    """One ``conveyor ci run``: its commit, its status and every stage's result as JSON."""

    __tablename__ = "ci_runs"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text, index=True)
    """The artifact name (the app)."""
    repo: Mapped[str] = mapped_column(Text)
    commit: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    artifact: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The whole run as ``conveyor.ci`` writes it (stages, scrubbed findings, logs)."""


class PromotionRow(Base):
    """One ``conveyor promote``: promoted or refused, with every gate's verdict."""

    __tablename__ = "promotions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pipeline: Mapped[str] = mapped_column(Text, index=True)
    app: Mapped[str] = mapped_column(Text, index=True)
    """The target environment's Application."""
    from_env: Mapped[str] = mapped_column(Text)
    to_env: Mapped[str] = mapped_column(Text)
    image: Mapped[str] = mapped_column(Text)
    tag: Mapped[str] = mapped_column(Text)
    """The tag promoted ("" when the source ran none)."""
    promoted_by: Mapped[str] = mapped_column(Text)
    """Who asked (the CLI's user)."""
    recorded_by: Mapped[str] = mapped_column(Text)
    """The API token that recorded it ("" when recorded without the API)."""
    promoted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    outcome: Mapped[str] = mapped_column(Text)
    """``promoted`` or ``refused``."""
    failed_gates: Mapped[str] = mapped_column(Text)
    """Names of the gates that failed, comma-separated ("" when promoted)."""
    message: Mapped[str] = mapped_column(Text)
    gates: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    """Each gate as ``{"name", "held", "detail"}``."""
    commit: Mapped[str] = mapped_column(Text)
    """The config commit that promoted ("" when refused)."""
    branch: Mapped[str] = mapped_column(Text)
    app_commit: Mapped[str] = mapped_column(Text)


class NotificationConfigRow(Base):
    """The notification ConfigMaps and Secrets as applied (``argocd-notifications-cm``...)."""

    __tablename__ = "notification_config"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    """``ConfigMap`` or ``Secret``."""
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class NotificationStateRow(Base):
    """One (trigger, condition, service, recipient[, oncePer value]) already notified."""

    __tablename__ = "notification_state"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    subject: Mapped[str] = mapped_column(Text, index=True)
    """``app/<name>`` or ``rollout/<namespace>/<name>``."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class NotificationOutboxRow(Base):
    """A notification to deliver, written before it is sent; kept as sent or dead-lettered."""

    __tablename__ = "notification_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    subject: Mapped[str] = mapped_column(Text)
    """``app/<name>`` or ``rollout/<namespace>/<name>``."""
    app: Mapped[str] = mapped_column(Text, index=True)
    """The app it concerns (a Rollout's: the app that tracks it; "" when none does)."""
    trigger: Mapped[str] = mapped_column(Text)
    service: Mapped[str] = mapped_column(Text)
    recipient: Mapped[str] = mapped_column(Text)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The templates sent and their rendered parts (no secret: services resolve at send)."""
    status: Mapped[str] = mapped_column(Text, index=True)
    """``pending``, ``sent`` or ``dead``."""
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AuditRow(Base):
    """One audited action: who, what, on which target, from where, revisions, outcome.

    Append-only: rows are never updated; retention deletes the oldest. No Secret value,
    request body or query string is ever written here.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(Text, index=True)
    """The token's subject (its name), ``system:controller``, or ``anonymous``."""
    action: Mapped[str] = mapped_column(Text)
    target_kind: Mapped[str] = mapped_column(Text)
    target: Mapped[str] = mapped_column(Text)
    app: Mapped[str] = mapped_column(Text, index=True)
    """The app concerned ("" when none), for ``?app=`` filters."""
    project: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    """Where from: the client address of an API request, ``controller`` for its own acts."""
    revision_before: Mapped[str] = mapped_column(Text)
    revision_after: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(Text)
    """The HTTP status of a request, or the operation's phase."""
    detail: Mapped[str] = mapped_column(Text)


class HealthEventRow(Base):
    """A moment an app's health changed to one DORA counts as a failure (Degraded)."""

    __tablename__ = "health_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    app: Mapped[str] = mapped_column(Text, index=True)
    health: Mapped[str] = mapped_column(Text)
    revision: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class LeaseRow(Base):
    """A lease on a shard of the work (``store.leases``): one holder until ``expires_at``."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    """The shard: ``local`` is the local runtime and every app deployed to it."""
    holder: Mapped[str] = mapped_column(Text)
    """The holding server process (host, pid and a random part: new at every start)."""
    holder_url: Mapped[str] = mapped_column(Text)
    """Where the holder's API listens: other processes forward requests there."""
    token: Mapped[int] = mapped_column(BigInteger)
    """The fencing token: raised at every acquisition, checked by every fenced write."""
    acquired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
