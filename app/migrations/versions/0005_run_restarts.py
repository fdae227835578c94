"""run.restarts (times a run resumed after losing its worker) and
command.attempt (the run attempt a command was issued to, for fencing acks)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("restarts", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("command", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("attempt", sa.Integer(), nullable=False, server_default="1")
        )


def downgrade() -> None:
    with op.batch_alter_table("command", schema=None) as batch_op:
        batch_op.drop_column("attempt")
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_column("restarts")
