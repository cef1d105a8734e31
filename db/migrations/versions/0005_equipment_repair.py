"""equipment repair: assets, vendors, repair requests and jobs

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 16:52:59.593434
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "vendors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("contact_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("mobile", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "assets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("property_number", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("serial", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("make_model", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("unit", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("room", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("holder", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("purchase_date", sa.Date(), nullable=True),
        sa.Column("warranty_end", sa.Date(), nullable=True),
        sa.Column("warranty_vendor_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=30), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["warranty_vendor_id"],
            ["vendors.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("property_number"),
    )
    op.create_table(
        "repair_requests",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("personnel_number", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("mobile", sqlmodel.sql.sqltypes.AutoString(length=11), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("full_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("unit", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("property_number", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=True),
        sa.Column("location", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("problem", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("urgency", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_table(
        "repair_jobs",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("under_warranty", sa.Boolean(), nullable=False),
        sa.Column("path", sa.String(length=20), nullable=True),
        sa.Column("vendor_id", sa.Integer(), nullable=True),
        sa.Column("dispatched_on", sa.Date(), nullable=True),
        sa.Column("taken_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("vendor_status", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=True),
        sa.Column("promised_date", sa.Date(), nullable=True),
        sa.Column("quote_rials", sa.BigInteger(), nullable=True),
        sa.Column("quote_approved", sa.Boolean(), nullable=True),
        sa.Column("send_backs", sa.Integer(), nullable=False),
        sa.Column("cost_minutes", sa.Integer(), nullable=False),
        sa.Column("cost_time_rials", sa.BigInteger(), nullable=False),
        sa.Column("cost_fixed_rials", sa.BigInteger(), nullable=False),
        sa.Column("cost_material_rials", sa.BigInteger(), nullable=False),
        sa.Column("technician_note", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("outcome", sa.String(length=30), nullable=True),
        sa.Column("handed_to", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("receipt_confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_without_answer", sa.Boolean(), nullable=False),
        sa.Column("satisfaction", sa.Integer(), nullable=True),
        sa.Column(
            "satisfaction_comment", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["assets.id"],
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"],
            ["vendors.id"],
        ),
        sa.PrimaryKeyConstraint("case_id"),
    )
    with op.batch_alter_table("repair_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_repair_jobs_asset_id"), ["asset_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_repair_jobs_vendor_id"), ["vendor_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("repair_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_repair_jobs_vendor_id"))
        batch_op.drop_index(batch_op.f("ix_repair_jobs_asset_id"))

    op.drop_table("repair_jobs")
    op.drop_table("repair_requests")
    op.drop_table("assets")
    op.drop_table("vendors")
