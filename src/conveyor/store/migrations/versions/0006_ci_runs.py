"""CI runs: every ``conveyor ci run``, with each stage's result, counts and log.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ci_runs",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("repo", sa.Text(), nullable=False),
        sa.Column("commit", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("artifact", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ci_runs"),
    )
    op.create_index("ix_ci_runs_name", "ci_runs", ["name"])
    op.create_index("ix_ci_runs_started_at", "ci_runs", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_ci_runs_started_at", table_name="ci_runs")
    op.drop_index("ix_ci_runs_name", table_name="ci_runs")
    op.drop_table("ci_runs")
