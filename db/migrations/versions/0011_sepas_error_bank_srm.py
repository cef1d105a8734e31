"""sepas: hospitals, HIS vendors, the error bank, SRM's imports and errors

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 10:00:00
"""

import re
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The error bank's first entries, messages seen in real SRM reports: reference data production
# needs too, so they are the migration's own data, frozen here (later changes are the expert's).
# (message, is_pattern, category, cause_fa, cause_en, remedy_fa, remedy_en)
SEED: tuple[tuple[str, bool, str, str, str, str, str], ...] = (
    (
        "NationalCode invalid",
        False,
        "hospital",
        (
            "کد ملی بیمار در پرونده ده رقم نیست یا رقم کنترل آن درست نیست؛ معمولاً در پذیرش "
            "اشتباه تایپ شده یا برای بیمار بدون کد ملی (نوزاد، اتباع) عددی ساختگی نوشته شده است."
        ),
        (
            "The patient's national code is not ten digits or fails its check digit: usually a "
            "typing slip at admission, or a made-up number for a patient without one (a newborn, "
            "a foreign national)."
        ),
        (
            "کد ملی را از روی کارت ملی یا شناسنامه در HIS اصلاح و پرونده را دوباره ارسال کنید. "
            "برای اتباع خارجی شناسه فراگیر (فیدا) یا شماره گذرنامه را در فیلد مخصوص آن و برای "
            "نوزاد کد ملی مادر را طبق دستورالعمل وزارت ثبت کنید."
        ),
        (
            "Correct the national code in the HIS from the national card or birth certificate and "
            "resend the record. For a foreign national use the FIDA id or passport number in its "
            "own field, and for a newborn the mother's code, as the ministry's guideline says."
        ),
    ),
    (
        "NationalCode is block.",
        False,
        "hospital",
        (
            "سازمان ثبت احوال این کد ملی را مسدود اعلام کرده است: فرد فوت شده، کد تکراری یا "
            "ابطال\u200cشده است، یا کارت ملی او در حال تعویض است."
        ),
        (
            "The civil registry reports this national code as blocked: the person has died, the "
            "code is a duplicate or was revoked, or the national card is being replaced."
        ),
        (
            "هویت بیمار را با مدرک شناسایی او بررسی کنید. اگر کد درست است، بیمار باید وضعیت کد "
            "ملی خود را از دفاتر ثبت احوال پیگیری کند؛ پس از رفع انسداد پرونده را دوباره ارسال "
            "کنید. اگر بیمار فوت کرده، ثبت فوت را در HIS بررسی کنید."
        ),
        (
            "Check the patient's identity against their papers. If the code is right, the patient "
            "must settle its status at a civil registry office; resend the record once it is "
            "unblocked. If the patient has died, check the death is recorded in the HIS."
        ),
    ),
    (
        "MedicalRecordNumber is mandatory.",
        False,
        "software",
        (
            "پیام ارسالی شماره پرونده پزشکی بیمار را ندارد؛ نرم\u200cافزار HIS این فیلد اجباری را "
            "در پیام سپاس پر نمی\u200cکند (یا در پذیرش سرپایی و اورژانس شماره پرونده\u200cای "
            "ساخته نمی\u200cشود)."
        ),
        (
            "The message carries no medical record number: the HIS does not fill this mandatory "
            "field in the SEPAS message (or creates no record number for outpatient and emergency "
            "admissions)."
        ),
        (
            "از شرکت پشتیبان HIS بخواهید شماره پرونده پزشکی را در همه انواع پذیرش به پیام سپاس "
            "نگاشت کند. تا رسیدن نسخه اصلاحی، بیمارستان شماره پرونده پذیرش\u200cهای ناقص را ثبت و "
            "پرونده\u200cها را دوباره ارسال کند."
        ),
        (
            "Ask the HIS vendor to map the medical record number into the SEPAS message for every "
            "kind of admission. Until the fixed version ships, the hospital fills in the number "
            "of the incomplete admissions and resends them."
        ),
    ),
    (
        "InsuranceBox is invalid.",
        False,
        "hospital",
        (
            "صندوق بیمه ثبت\u200cشده برای بیمار در جدول کدهای بیمه سپاس نیست یا با بیمه فعال "
            "بیمار (استعلام بیمه) نمی\u200cخواند؛ اغلب پس از تغییر فهرست صندوق\u200cها در اطلاعات "
            "پایه HIS."
        ),
        (
            "The insurance box recorded for the patient is not in SEPAS's insurer codes or does "
            "not agree with the patient's active insurance; often after the list of boxes changed "
            "in the HIS's base tables."
        ),
        (
            "صندوق بیمه را با استعلام بیمه بیمار اصلاح و پرونده را دوباره ارسال کنید. اگر کد "
            "صندوق در اطلاعات پایه HIS قدیمی است، جدول صندوق\u200cها را با فهرست جاری وزارت "
            "به\u200cروز کنید (یا از شرکت پشتیبان بخواهید)."
        ),
        (
            "Correct the insurance box from the patient's insurance inquiry and resend. If the "
            "HIS's base table holds an old box code, update it to the ministry's current list (or "
            "ask the vendor to)."
        ),
    ),
    (
        "Error at CTS validation.",
        False,
        "software",
        (
            "کدی از پیام (تشخیص ICD، خدمت، دارو یا واحد) در سرویس اصطلاحات بالینی سپاس (CTS) "
            "معتبر نیست؛ معمولاً HIS جدول کدهای قدیمی را به کار می\u200cبرد."
        ),
        (
            "A code in the message (an ICD diagnosis, a service, a drug or a unit) is not valid "
            "in SEPAS's clinical terminology service (CTS); usually the HIS uses an outdated code "
            "table."
        ),
        (
            "شرکت پشتیبان HIS باید جداول کد را با نسخه جاری CTS وزارت هماهنگ کند و کد نامعتبر را "
            "در پرونده\u200cهای نمونه پیدا کند. اگر همه بیمارستان\u200cها هم\u200cزمان این خطا را "
            "دارند، اشکال از سرویس CTS است و باید در جیرای وزارت ثبت شود."
        ),
        (
            "The HIS vendor must align its code tables with the ministry's current CTS release "
            "and find the invalid code in the sample records. If every hospital sees this at "
            "once, the CTS service itself is at fault: report it in the ministry's Jira."
        ),
    ),
    (
        "MessagePrepare.Patient info is not matched with nationalcode.",
        False,
        "hospital",
        (
            "نام، نام خانوادگی، تاریخ تولد یا جنسیت بیمار در HIS با اطلاعات ثبت احوال برای این کد "
            "ملی یکی نیست."
        ),
        (
            "The patient's first name, last name, birth date or sex in the HIS differs from the "
            "civil registry's data for this national code."
        ),
        (
            "اطلاعات هویتی بیمار را با استعلام ثبت احوال (یا کارت ملی) در HIS اصلاح و پرونده را "
            "دوباره ارسال کنید؛ به پذیرش یادآوری کنید که اطلاعات را از استعلام برداشت کند نه "
            "دستی."
        ),
        (
            "Correct the patient's identity data in the HIS from the civil registry inquiry (or "
            "the national card) and resend; remind admission staff to take it from the inquiry "
            "rather than type it."
        ),
    ),
    (
        "DO_CODED_TEXT {text} is not Complete.",
        True,
        "software",
        (
            "یک عنصر متن کدگذاری\u200cشده (DO_CODED_TEXT) در پیام ناقص است: کد، نام سیستم کدگذاری "
            "یا متن آن خالی است. عنصر مشکل\u200cدار در خود پیام خطا نام برده شده است."
        ),
        (
            "A coded-text element (DO_CODED_TEXT) of the message is incomplete: its code, its "
            "terminology or its text is empty. The error message names the element."
        ),
        (
            "شرکت پشتیبان HIS باید عنصر نام\u200cبرده را با هر سه جزء (کد، سیستم کدگذاری، متن) "
            "بسازد. اگر مقدار در پرونده بیمار خالی مانده، بیمارستان آن را تکمیل و دوباره ارسال "
            "کند."
        ),
        (
            "The HIS vendor must build the named element with all three parts (code, terminology, "
            "text). Where the value is simply empty in the patient's record, the hospital fills "
            "it in and resends."
        ),
    ),
    (
        "Error at VerifyPerson.",
        False,
        "structural",
        (
            "سرویس استعلام هویت سپاس (اتصال به ثبت احوال) هنگام ارسال پاسخ نداده یا خطا داده است؛ "
            "اشکال از سمت سپاس است نه داده بیمارستان."
        ),
        (
            "SEPAS's identity verification service (its link to the civil registry) failed or did "
            "not answer during the send; the fault is on SEPAS's side, not in the hospital's "
            "data."
        ),
        (
            "پرونده\u200cها را پس از چند ساعت دوباره ارسال کنید. اگر خطا بیش از یک روز کاری ادامه "
            "یافت یا در چند بیمارستان دیده شد، در جیرای وزارت ثبت کنید."
        ),
        (
            "Resend the records after a few hours. If it lasts more than a working day or shows "
            "at several hospitals, report it in the ministry's Jira."
        ),
    ),
    (
        "Destination SepasNode is Down",
        False,
        "structural",
        (
            "گره سپاسی که پرونده\u200cها باید به آن برسند از دسترس خارج است (قطعی یا نگهداری در "
            "سمت وزارت)."
        ),
        (
            "The SEPAS node the records are sent to is down (an outage or maintenance on the "
            "ministry's side)."
        ),
        (
            "بیمارستان کاری لازم ندارد؛ پرونده\u200cها در صف HIS می\u200cمانند و پس از برقراری "
            "گره دوباره ارسال می\u200cشوند. اگر قطعی بیش از چند ساعت طول کشید، در جیرای وزارت "
            "گزارش کنید."
        ),
        (
            "Nothing to do at the hospital: the records wait in the HIS's queue and are resent "
            "once the node is up. If the outage lasts more than a few hours, report it in the "
            "ministry's Jira."
        ),
    ),
)


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
    _seed_error_bank()


def _match_key(message: str) -> str:
    """domain.sepas.match_key of these ASCII messages: whitespace collapsed, a final full stop
    dropped, case folded (tests/db/test_error_bank.py checks the two agree)."""
    return re.sub(r"[\s.]+$", "", " ".join(message.split())).casefold()


def _seed_error_bank() -> None:
    text = sqlmodel.sql.sqltypes.AutoString()
    when = sa.DateTime(timezone=True)
    bank = sa.table(
        "error_bank",
        sa.column("message", text),
        sa.column("match_key", text),
        sa.column("is_pattern", sa.Boolean()),
        sa.column("category", sa.String()),
        sa.column("cause_fa", text),
        sa.column("cause_en", text),
        sa.column("remedy_fa", text),
        sa.column("remedy_en", text),
        sa.column("source", sa.String()),
        sa.column("match_count", sa.Integer()),
        sa.column("active", sa.Boolean()),
        sa.column("created_at", when),
        sa.column("updated_at", when),
        sa.column("updated_by", text),
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        bank,
        [
            {
                "message": message,
                "match_key": _match_key(message),
                "is_pattern": is_pattern,
                "category": category,
                "cause_fa": cause_fa,
                "cause_en": cause_en,
                "remedy_fa": remedy_fa,
                "remedy_en": remedy_en,
                "source": "seed",
                "match_count": 0,
                "active": True,
                "created_at": now,
                "updated_at": now,
                "updated_by": "system",
            }
            for message, is_pattern, category, cause_fa, cause_en, remedy_fa, remedy_en in SEED
        ],
    )


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
