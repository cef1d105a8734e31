"""sepas cases: the hospital's report and where its case stands; a case's scope (whose it is)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("scope", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_cases_scope"), ["scope"], unique=False)
    op.create_table(
        "sepas_cases",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("hospital_code", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("reporter_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("mobile", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("what_fails", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("sample_record_ids", sa.JSON(), nullable=False),
        sa.Column("error_text", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("groups", sa.JSON(), nullable=False),
        sa.Column("srm_data_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verdict", sa.String(length=20), nullable=True),
        sa.Column("bank_entry_id", sa.Integer(), nullable=True),
        sa.Column("jira_key", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=True),
        sa.Column("jira_url", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("jira_status", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("answer_fa", sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=True),
        sa.Column("answer_source", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("fix_version", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True),
        sa.Column("fixed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.Column("rounds", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["bank_entry_id"], ["error_bank.id"]),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("case_id"),
    )
    with op.batch_alter_table("sepas_cases", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sepas_cases_hospital_code"), ["hospital_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_sepas_cases_jira_key"), ["jira_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sepas_cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sepas_cases_jira_key"))
        batch_op.drop_index(batch_op.f("ix_sepas_cases_hospital_code"))
    op.drop_table("sepas_cases")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cases_scope"))
        batch_op.drop_column("scope")
