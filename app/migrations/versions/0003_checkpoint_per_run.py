"""checkpoint keyed by (run_id, id)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 04:20:00

Checkpoint ids (`ckpt-<step>`) repeat across runs: keyed by the id alone, a
later run's checkpoint at an already-used step was dropped. The primary key
becomes (run_id, id), which also serves the per-run lookups the run_id index
served; the store's sha256 and the validation accuracy are added. Every row is
kept. Downgrading keeps one row per id (the highest run id's): the old key
cannot hold more.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

String = sqlmodel.sql.sqltypes.AutoString


def _columns(new: bool) -> list[sa.Column[object]]:
    columns: list[sa.Column[object]] = [
        sa.Column("id", String(length=100), nullable=False),
        sa.Column("run_id", String(length=36), nullable=False),
        sa.Column("path", String(length=2000), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("good", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    ]
    if new:
        columns.append(sa.Column("sha256", String(length=64), nullable=True))
        columns.append(sa.Column("val_accuracy", sa.Float(), nullable=True))
    return columns


def upgrade() -> None:
    if _sqlite():
        _rebuild(_columns(new=True), ["run_id", "id"], copied=_columns(new=False))
        return
    op.drop_index("ix_checkpoint_run_id", table_name="checkpoint")
    for column in _columns(new=True)[-2:]:
        op.add_column("checkpoint", column)
    _rekey(["run_id", "id"])


def downgrade() -> None:
    op.execute(
        "DELETE FROM checkpoint WHERE EXISTS (SELECT 1 FROM checkpoint AS newer "
        "WHERE newer.id = checkpoint.id AND newer.run_id > checkpoint.run_id)"
    )
    if _sqlite():
        _rebuild(_columns(new=False), ["id"], copied=_columns(new=False))
    else:
        _rekey(["id"])
        op.drop_column("checkpoint", "val_accuracy")
        op.drop_column("checkpoint", "sha256")
    op.create_index("ix_checkpoint_run_id", "checkpoint", ["run_id"], unique=False)


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _rekey(key: list[str]) -> None:
    op.drop_constraint("checkpoint_pkey", "checkpoint", type_="primary")
    op.create_primary_key("checkpoint_pkey", "checkpoint", key)


def _rebuild(
    columns: list[sa.Column[object]], key: list[str], copied: list[sa.Column[object]]
) -> None:
    """SQLite cannot change a table's key: a new table, the rows copied over."""
    op.create_table("_checkpoint_new", *columns, sa.PrimaryKeyConstraint(*key))
    names = ", ".join(column.name for column in copied)
    op.execute(f"INSERT INTO _checkpoint_new ({names}) SELECT {names} FROM checkpoint")
    op.drop_table("checkpoint")
    op.rename_table("_checkpoint_new", "checkpoint")
