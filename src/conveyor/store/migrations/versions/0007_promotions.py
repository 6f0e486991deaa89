"""Promotions: every ``conveyor promote``, promoted or refused, with the gates it met; and the
app commit's time on each deployment, so that lead time is read from the record.

Revision ID: 0007_promotions
Revises: 0006
Create Date: 2026-12-05

Git keeps a promotion as a config commit with trailers, but a refused promotion leaves no
commit, and history per app or environment should not need a checkout: this table keeps both.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_promotions"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "promotions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pipeline", sa.Text(), nullable=False),
        sa.Column("app", sa.Text(), nullable=False),
        sa.Column("from_env", sa.Text(), nullable=False),
        sa.Column("to_env", sa.Text(), nullable=False),
        sa.Column("image", sa.Text(), nullable=False),
        sa.Column("tag", sa.Text(), nullable=False),
        sa.Column("promoted_by", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.Text(), nullable=False),
        sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("failed_gates", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("gates", sa.JSON(), nullable=False),
        sa.Column("commit", sa.Text(), nullable=False),
        sa.Column("branch", sa.Text(), nullable=False),
        sa.Column("app_commit", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_promotions"),
    )
    op.create_index("ix_promotions_pipeline", "promotions", ["pipeline"])
    op.create_index("ix_promotions_app", "promotions", ["app"])
    op.create_index("ix_promotions_promoted_at", "promotions", ["promoted_at"])
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("app_commit_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("app_commit_at")
    op.drop_index("ix_promotions_promoted_at", table_name="promotions")
    op.drop_index("ix_promotions_app", table_name="promotions")
    op.drop_index("ix_promotions_pipeline", table_name="promotions")
    op.drop_table("promotions")
