"""sepas: hospitals, HIS vendors, the error bank, SRM's imports and errors

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "his_vendors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("products", sa.JSON(), nullable=False),
        sa.Column("contact_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=11), nullable=True),
        sa.Column("mobile", sqlmodel.sql.sqltypes.AutoString(length=11), nullable=True),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "hospitals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("county_code", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("his_product", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("his_vendor_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["his_vendor_id"], ["his_vendors.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    with op.batch_alter_table("hospitals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_hospitals_his_vendor_id"), ["his_vendor_id"], unique=False
        )
    op.create_table(
        "error_bank",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("match_key", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("is_pattern", sa.Boolean(), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("cause_fa", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("cause_en", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("remedy_fa", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("remedy_en", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("jira_key", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=True),
        sa.Column("match_count", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("match_key", "is_pattern"),
    )
    op.create_table(
        "srm_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("source_name", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("period_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("period_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_key"),
    )
    with op.batch_alter_table("srm_imports", schema=None) as batch_op:
        batch_op.create_index(
            "ix_srm_imports_period", ["period_until", "period_from"], unique=False
        )
    op.create_table(
        "srm_errors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("row_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("hospital_code", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("record_id", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["import_id"], ["srm_imports.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("row_key"),
    )
    with op.batch_alter_table("srm_errors", schema=None) as batch_op:
        batch_op.create_index("ix_srm_errors_hospital_at", ["hospital_code", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_srm_errors_import_id"), ["import_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("srm_errors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_srm_errors_import_id"))
        batch_op.drop_index("ix_srm_errors_hospital_at")
    op.drop_table("srm_errors")
    with op.batch_alter_table("srm_imports", schema=None) as batch_op:
        batch_op.drop_index("ix_srm_imports_period")
    op.drop_table("srm_imports")
    op.drop_table("error_bank")
    with op.batch_alter_table("hospitals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hospitals_his_vendor_id"))
    op.drop_table("hospitals")
    op.drop_table("his_vendors")
