"""office automation: units and their heads, posts, appointment letters and their reverses,
signatures

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "automation_units",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("parent_code", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("head_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column(
            "head_national_code", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False
        ),
        sa.Column("head_mobile", sqlmodel.sql.sqltypes.AutoString(length=11), nullable=False),
        sa.Column("head_email", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    with op.batch_alter_table("automation_units", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_automation_units_parent_code"), ["parent_code"], unique=False
        )

    op.create_table(
        "automation_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_code", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("automation_code", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("is_manager", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column(
            "holder_national_code", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True
        ),
        sa.Column("holder_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("held_from", sa.Date(), nullable=True),
        sa.Column("held_until", sa.Date(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("automation_code"),
    )
    with op.batch_alter_table("automation_posts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_automation_posts_holder_national_code"),
            ["holder_national_code"],
            unique=False,
        )
        batch_op.create_index(
            "ix_automation_posts_unit_state", ["unit_code", "state"], unique=False
        )

    op.create_table(
        "appointment_letters",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("letter_number", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("letter_date", sa.Date(), nullable=False),
        sa.Column("national_code", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("first_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("last_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("personnel_number", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("mobile", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("post_title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("unit_code", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("is_manager", sa.Boolean(), nullable=False),
        sa.Column("letter_file_id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=True),
        sa.Column(
            "automation_username", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
        ),
        sa.Column("handover_state", sa.String(length=20), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.ForeignKeyConstraint(
            ["letter_file_id"],
            ["stored_files.id"],
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["automation_posts.id"],
        ),
        sa.PrimaryKeyConstraint("case_id"),
    )
    with op.batch_alter_table("appointment_letters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_appointment_letters_national_code"), ["national_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_appointment_letters_post_id"), ["post_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_appointment_letters_unit_code"), ["unit_code"], unique=False
        )

    op.create_table(
        "end_of_appointment_letters",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("letter_number", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("letter_date", sa.Date(), nullable=False),
        sa.Column("national_code", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("unit_code", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=True),
        sa.Column("post_code", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("letter_file_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.ForeignKeyConstraint(
            ["letter_file_id"],
            ["stored_files.id"],
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["automation_posts.id"],
        ),
        sa.PrimaryKeyConstraint("case_id"),
    )
    with op.batch_alter_table("end_of_appointment_letters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_end_of_appointment_letters_national_code"),
            ["national_code"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_end_of_appointment_letters_post_id"), ["post_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_end_of_appointment_letters_unit_code"), ["unit_code"], unique=False
        )

    op.create_table(
        "signatures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("national_code", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_case_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["stored_files.id"],
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["automation_posts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["withdrawn_case_id"],
            ["cases.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("file_id"),
    )
    with op.batch_alter_table("signatures", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_signatures_national_code"), ["national_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_signatures_post_id"), ["post_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("signatures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signatures_post_id"))
        batch_op.drop_index(batch_op.f("ix_signatures_national_code"))

    op.drop_table("signatures")
    with op.batch_alter_table("end_of_appointment_letters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_end_of_appointment_letters_unit_code"))
        batch_op.drop_index(batch_op.f("ix_end_of_appointment_letters_post_id"))
        batch_op.drop_index(batch_op.f("ix_end_of_appointment_letters_national_code"))

    op.drop_table("end_of_appointment_letters")
    with op.batch_alter_table("appointment_letters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_appointment_letters_unit_code"))
        batch_op.drop_index(batch_op.f("ix_appointment_letters_post_id"))
        batch_op.drop_index(batch_op.f("ix_appointment_letters_national_code"))

    op.drop_table("appointment_letters")
    with op.batch_alter_table("automation_posts", schema=None) as batch_op:
        batch_op.drop_index("ix_automation_posts_unit_state")
        batch_op.drop_index(batch_op.f("ix_automation_posts_holder_national_code"))

    op.drop_table("automation_posts")
    with op.batch_alter_table("automation_units", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_automation_units_parent_code"))

    op.drop_table("automation_units")
