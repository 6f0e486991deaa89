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

from sqlalchemy import JSON, DateTime, Integer, MetaData, Text
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
