"""Deployment record: every deployment for good, with when it started, finished and served.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05

Unlike ``history`` (Argo CD's RevisionHistory, trimmed to revisionHistoryLimit and deleted
with its app), this table is never trimmed and has no foreign key to ``applications``: DORA
figures, notifications and the UI read deployments of apps that no longer exist.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("operation_id", sa.Integer(), nullable=False),
        sa.Column("app", sa.Text(), nullable=False),
        sa.Column("project", sa.Text(), nullable=False),
        sa.Column("dest_server", sa.Text(), nullable=False),
        sa.Column("dest_name", sa.Text(), nullable=False),
        sa.Column("dest_namespace", sa.Text(), nullable=False),
        sa.Column("revision", sa.Text(), nullable=False),
        sa.Column("app_commit", sa.Text(), nullable=True),
        sa.Column("initiator", sa.Text(), nullable=False),
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("phase", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("served_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_deployments"),
    )
    op.create_index("ix_deployments_operation_id", "deployments", ["operation_id"])
    op.create_index("ix_deployments_app", "deployments", ["app"])
    op.create_index("ix_deployments_started_at", "deployments", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_deployments_started_at", table_name="deployments")
    op.drop_index("ix_deployments_app", table_name="deployments")
    op.drop_index("ix_deployments_operation_id", table_name="deployments")
    op.drop_table("deployments")
