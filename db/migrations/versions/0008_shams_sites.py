"""shams sites: the counties' health networks, their sites and each site's history

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "counties",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("contact_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=11), nullable=True),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("mobile", sqlmodel.sql.sqltypes.AutoString(length=11), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_table(
        "sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("county_code", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("site_code", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("siam_id", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("postal_code", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=11), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("link_type", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=30), nullable=False),
        sa.Column("rollout_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("exchange", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("router_host", sqlmodel.sql.sqltypes.AutoString(length=253), nullable=True),
        sa.Column("router_port", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["county_code"], ["counties.code"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("site_code"),
    )
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.create_index("ix_sites_county_state", ["county_code", "state"], unique=False)
        batch_op.create_index(
            "ix_sites_rollout_county_state", ["rollout_id", "county_code", "state"], unique=False
        )
        batch_op.create_index("ix_sites_state_exchange", ["state", "exchange"], unique=False)
        batch_op.create_index(batch_op.f("ix_sites_siam_id"), ["siam_id"], unique=False)
    op.create_table(
        "site_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=30), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("event_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_key"),
    )
    with op.batch_alter_table("site_events", schema=None) as batch_op:
        batch_op.create_index("ix_site_events_site_at", ["site_id", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("site_events", schema=None) as batch_op:
        batch_op.drop_index("ix_site_events_site_at")
    op.drop_table("site_events")
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sites_siam_id"))
        batch_op.drop_index("ix_sites_state_exchange")
        batch_op.drop_index("ix_sites_rollout_county_state")
        batch_op.drop_index("ix_sites_county_state")
    op.drop_table("sites")
    op.drop_table("counties")
