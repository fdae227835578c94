"""seed lineage table

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 04:20:00

Placeholder reserved for issue 19's seed lineage (being written); it changes
nothing yet, so later revisions can chain after it.
"""

from collections.abc import Sequence

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    return None


def downgrade() -> None:
    return None
