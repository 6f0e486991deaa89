"""Audit trail and health events: who changed what, and when an app went Degraded.

Revision ID: 0009_audit
Revises: 0008_notifications
Create Date: 2026-12-05

``audit_log`` is append-only (rows leave only by retention, oldest first); ``health_events``
keeps the moments an app turned Degraded, which DORA's change failure rate and time to
restore read together with the deployment record. Neither has a foreign key to
``applications``: both outlive the app.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_audit"
down_revision: str | None = "0008_notifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("target_kind", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("app", sa.Text(), nullable=False),
        sa.Column("project", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("revision_before", sa.Text(), nullable=False),
        sa.Column("revision_after", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_actor", "audit_log", ["actor"])
    op.create_index("ix_audit_log_app", "audit_log", ["app"])
    op.create_table(
        "health_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("app", sa.Text(), nullable=False),
        sa.Column("health", sa.Text(), nullable=False),
        sa.Column("revision", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_health_events"),
    )
    op.create_index("ix_health_events_app", "health_events", ["app"])
    op.create_index("ix_health_events_at", "health_events", ["at"])


def downgrade() -> None:
    op.drop_index("ix_health_events_at", table_name="health_events")
    op.drop_index("ix_health_events_app", table_name="health_events")
    op.drop_table("health_events")
    op.drop_index("ix_audit_log_app", table_name="audit_log")
    op.drop_index("ix_audit_log_actor", table_name="audit_log")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
