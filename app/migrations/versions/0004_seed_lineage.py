"""seed lineage table

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 04:20:00

One row per seed a run germinated, built by the gateway from the worker's seed
events (app/seeds/). Runs persisted before this revision have no rows: the
endpoint answered [] for them before too.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "seed",
        sa.Column("run_id", _text(36), nullable=False),
        sa.Column("seed_id", _text(100), nullable=False),
        sa.Column("slot", _text(200), nullable=False),
        sa.Column("blueprint", _text(200), nullable=False),
        sa.Column("stage", _text(16), nullable=False),
        sa.Column("alpha", sa.Float(), nullable=False),
        sa.Column("params", sa.BigInteger(), nullable=False),
        sa.Column("germinated_step", sa.Integer(), nullable=False),
        sa.Column("ended_step", sa.Integer(), nullable=True),
        sa.Column("outcome", _text(16), nullable=False),
        sa.Column("reason", _text(4000), nullable=True),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("gates", sa.JSON(), nullable=False),
        sa.Column("cursor_ms", sa.BigInteger(), nullable=False),
        sa.Column("cursor_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "seed_id"),
    )


def downgrade() -> None:
    op.drop_table("seed")
