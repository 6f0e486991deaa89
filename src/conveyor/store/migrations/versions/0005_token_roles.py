"""Token roles: each API token acts as one role, written as Argo CD's RBAC policy CSV.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05

Tokens made before roles existed could do everything, so they become ``role:admin``; new
tokens say their role (``role:readonly``, a role limited to projects, or admin).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("role", sa.Text(), nullable=False, server_default="role:admin"))
        batch.add_column(sa.Column("policy", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("policy")
        batch.drop_column("role")
