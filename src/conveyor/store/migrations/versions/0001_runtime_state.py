"""Runtime state: the local runtime's objects and Service ports, so a restart finds them.

Revision ID: 0001
Revises:
Create Date: 2024-11-23

Hand-written so that the revision id is stable. Types are portable (SQLite and PostgreSQL);
constraint names follow ``conveyor.store.tables.NAMING_CONVENTION``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "runtime_objects",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("api_version", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("namespace", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_runtime_objects"),
    )
    op.create_table(
        "runtime_ports",
        sa.Column("owner", sa.Text(), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("owner", name="pk_runtime_ports"),
        sa.UniqueConstraint("port", name="uq_runtime_ports_port"),
    )


def downgrade() -> None:
    op.drop_table("runtime_ports")
    op.drop_table("runtime_objects")
