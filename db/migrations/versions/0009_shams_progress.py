"""shams progress: the rollout's start form, and where each county and site workflow stands

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shams_rollout_requests",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_table(
        "shams_county_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rollout_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("county_code", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("answer_by", sa.Date(), nullable=False),
        sa.Column("phase", sa.String(length=20), nullable=False),
        sa.Column("ended", sa.Boolean(), nullable=False),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rollout_id", "county_code"),
    )
    with op.batch_alter_table("shams_county_runs", schema=None) as batch_op:
        batch_op.create_index("ix_shams_county_runs_open", ["rollout_id", "ended"], unique=False)
    op.create_table(
        "shams_site_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rollout_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("county_code", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("site_code", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("step", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column(
            "registration_number", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True
        ),
        sa.Column("ended", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=30), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rollout_id", "site_code"),
    )
    with op.batch_alter_table("shams_site_runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_shams_site_runs_county_open",
            ["rollout_id", "county_code", "ended", "site_code"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("shams_site_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_shams_site_runs_county_open")
    op.drop_table("shams_site_runs")
    with op.batch_alter_table("shams_county_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_shams_county_runs_open")
    op.drop_table("shams_county_runs")
    op.drop_table("shams_rollout_requests")
