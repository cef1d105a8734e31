"""cases of any process: requester identity and contact, who started it

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 14:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_requester")
        batch_op.alter_column(
            "requester_national_code",
            new_column_name="requester_identity",
            existing_type=sa.String(length=10),
            type_=sa.String(length=30),
            nullable=True,
        )
        batch_op.alter_column(
            "requester_mobile",
            new_column_name="requester_contact",
            existing_type=sa.String(length=11),
            type_=sa.String(length=200),
            nullable=True,
        )
        batch_op.add_column(sa.Column("started_by", sa.String(length=64), nullable=True))
    # A batch of its own: SQLite's copy of the table must have the renamed columns first.
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cases_requester", ["process", "requester_identity", "status"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_requester")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("started_by")
        batch_op.alter_column(
            "requester_contact",
            new_column_name="requester_mobile",
            existing_type=sa.String(length=200),
            type_=sa.String(length=11),
            nullable=False,
        )
        batch_op.alter_column(
            "requester_identity",
            new_column_name="requester_national_code",
            existing_type=sa.String(length=30),
            type_=sa.String(length=10),
            nullable=False,
        )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cases_requester", ["requester_national_code", "status"], unique=False
        )
