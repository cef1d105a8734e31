"""shams board: an index of the sites' history by state and time, for the progress chart

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 14:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("site_events", schema=None) as batch_op:
        batch_op.create_index("ix_site_events_state_at", ["state", "at", "site_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("site_events", schema=None) as batch_op:
        batch_op.drop_index("ix_site_events_state_at")
