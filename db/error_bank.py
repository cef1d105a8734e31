"""The error bank (بانک خطا): its first entries, messages seen in real SRM reports, and what the
SEPAS expert does to it (add, change, deactivate, search).

The first entries are reference data, not demo data: production needs them too, so they are
seeded by `python -m db.error_bank` (and by the demo seed). Seeding adds only what is missing, by
message, and never overwrites what an expert has changed since.
"""

from __future__ import annotations

import sys
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from db.models import utcnow
from db.sepas import ErrorBankEntry
from domain.sepas import BankEntryText, BankSource, ErrorCategory, match_key
from domain.text import normalize_text

SYSTEM_ACTOR = "system"


class EntryTaken(Exception):
    """Another entry already holds this message (or pattern)."""


def _seed(
    message: str,
    category: ErrorCategory,
    cause: tuple[str, str],
    remedy: tuple[str, str],
    *,
    is_pattern: bool = False,
) -> BankEntryText:
    return BankEntryText(
        message=message,
        is_pattern=is_pattern,
        category=category,
        cause_fa=cause[0],
        cause_en=cause[1],
        remedy_fa=remedy[0],
        remedy_en=remedy[1],
        source=BankSource.seed,
    )


SEED_ENTRIES: tuple[BankEntryText, ...] = (
    _seed(
        "NationalCode invalid",
        ErrorCategory.hospital,
        (
            "کد ملی بیمار در پرونده ده رقم نیست یا رقم کنترل آن درست نیست؛ معمولاً در پذیرش اشتباه"
            " تایپ شده یا برای بیمار بدون کد ملی (نوزاد، اتباع) عددی ساختگی نوشته شده است.",
            "The patient's national code is not ten digits or fails its check digit: usually a"
            " typing slip at admission, or a made-up number for a patient without one (a newborn,"
            " a foreign national).",
        ),
        (
            "کد ملی را از روی کارت ملی یا شناسنامه در HIS اصلاح و پرونده را دوباره ارسال کنید. برای"
            " اتباع خارجی شناسه فراگیر (فیدا) یا شماره گذرنامه را در فیلد مخصوص آن و برای نوزاد کد"
            " ملی مادر را طبق دستورالعمل وزارت ثبت کنید.",
            "Correct the national code in the HIS from the national card or birth certificate and"
            " resend the record. For a foreign national use the FIDA id or passport number in its"
            " own field, and for a newborn the mother's code, as the ministry's guideline says.",
        ),
    ),
    _seed(
        "NationalCode is block.",
        ErrorCategory.hospital,
        (
            "سازمان ثبت احوال این کد ملی را مسدود اعلام کرده است: فرد فوت شده، کد تکراری یا"
            " ابطال‌شده است، یا کارت ملی او در حال تعویض است.",
            "The civil registry reports this national code as blocked: the person has died, the"
            " code is a duplicate or was revoked, or the national card is being replaced.",
        ),
        (
            "هویت بیمار را با مدرک شناسایی او بررسی کنید. اگر کد درست است، بیمار باید وضعیت کد ملی"
            " خود را از دفاتر ثبت احوال پیگیری کند؛ پس از رفع انسداد پرونده را دوباره ارسال کنید."
            " اگر بیمار فوت کرده، ثبت فوت را در HIS بررسی کنید.",
            "Check the patient's identity against their papers. If the code is right, the patient"
            " must settle its status at a civil registry office; resend the record once it is"
            " unblocked. If the patient has died, check the death is recorded in the HIS.",
        ),
    ),
    _seed(
        "MedicalRecordNumber is mandatory.",
        ErrorCategory.software,
        (
            "پیام ارسالی شماره پرونده پزشکی بیمار را ندارد؛ نرم‌افزار HIS این فیلد اجباری را در"
            " پیام سپاس پر نمی‌کند (یا در پذیرش سرپایی و اورژانس شماره پرونده‌ای ساخته نمی‌شود).",
            "The message carries no medical record number: the HIS does not fill this mandatory"
            " field in the SEPAS message (or creates no record number for outpatient and emergency"
            " admissions).",
        ),
        (
            "از شرکت پشتیبان HIS بخواهید شماره پرونده پزشکی را در همه انواع پذیرش به پیام سپاس"
            " نگاشت کند. تا رسیدن نسخه اصلاحی، بیمارستان شماره پرونده پذیرش‌های ناقص را ثبت و"
            " پرونده‌ها را دوباره ارسال کند.",
            "Ask the HIS vendor to map the medical record number into the SEPAS message for every"
            " kind of admission. Until the fixed version ships, the hospital fills in the number"
            " of the incomplete admissions and resends them.",
        ),
    ),
    _seed(
        "InsuranceBox is invalid.",
        ErrorCategory.hospital,
        (
            "صندوق بیمه ثبت‌شده برای بیمار در جدول کدهای بیمه سپاس نیست یا با بیمه فعال بیمار"
            " (استعلام بیمه) نمی‌خواند؛ اغلب پس از تغییر فهرست صندوق‌ها در اطلاعات پایه HIS.",
            "The insurance box recorded for the patient is not in SEPAS's insurer codes or does"
            " not agree with the patient's active insurance; often after the list of boxes changed"
            " in the HIS's base tables.",
        ),
        (
            "صندوق بیمه را با استعلام بیمه بیمار اصلاح و پرونده را دوباره ارسال کنید. اگر کد صندوق"
            " در اطلاعات پایه HIS قدیمی است، جدول صندوق‌ها را با فهرست جاری وزارت به‌روز کنید"
            " (یا از شرکت پشتیبان بخواهید).",
            "Correct the insurance box from the patient's insurance inquiry and resend. If the"
            " HIS's base table holds an old box code, update it to the ministry's current list"
            " (or ask the vendor to).",
        ),
    ),
    _seed(
        "Error at CTS validation.",
        ErrorCategory.software,
        (
            "کدی از پیام (تشخیص ICD، خدمت، دارو یا واحد) در سرویس اصطلاحات بالینی سپاس (CTS) معتبر"
            " نیست؛ معمولاً HIS جدول کدهای قدیمی را به کار می‌برد.",
            "A code in the message (an ICD diagnosis, a service, a drug or a unit) is not valid in"
            " SEPAS's clinical terminology service (CTS); usually the HIS uses an outdated code"
            " table.",
        ),
        (
            "شرکت پشتیبان HIS باید جداول کد را با نسخه جاری CTS وزارت هماهنگ کند و کد نامعتبر را"
            " در پرونده‌های نمونه پیدا کند. اگر همه بیمارستان‌ها هم‌زمان این خطا را دارند، اشکال"
            " از سرویس CTS است و باید در جیرای وزارت ثبت شود.",
            "The HIS vendor must align its code tables with the ministry's current CTS release and"
            " find the invalid code in the sample records. If every hospital sees this at once,"
            " the CTS service itself is at fault: report it in the ministry's Jira.",
        ),
    ),
    _seed(
        "MessagePrepare.Patient info is not matched with nationalcode.",
        ErrorCategory.hospital,
        (
            "نام، نام خانوادگی، تاریخ تولد یا جنسیت بیمار در HIS با اطلاعات ثبت احوال برای این کد"
            " ملی یکی نیست.",
            "The patient's first name, last name, birth date or sex in the HIS differs from the"
            " civil registry's data for this national code.",
        ),
        (
            "اطلاعات هویتی بیمار را با استعلام ثبت احوال (یا کارت ملی) در HIS اصلاح و پرونده را"
            " دوباره ارسال کنید؛ به پذیرش یادآوری کنید که اطلاعات را از استعلام برداشت کند نه"
            " دستی.",
            "Correct the patient's identity data in the HIS from the civil registry inquiry (or"
            " the national card) and resend; remind admission staff to take it from the inquiry"
            " rather than type it.",
        ),
    ),
    _seed(
        "DO_CODED_TEXT {text} is not Complete.",
        ErrorCategory.software,
        (
            "یک عنصر متن کدگذاری‌شده (DO_CODED_TEXT) در پیام ناقص است: کد، نام سیستم کدگذاری یا"
            " متن آن خالی است. عنصر مشکل‌دار در خود پیام خطا نام برده شده است.",
            "A coded-text element (DO_CODED_TEXT) of the message is incomplete: its code, its"
            " terminology or its text is empty. The error message names the element.",
        ),
        (
            "شرکت پشتیبان HIS باید عنصر نام‌برده را با هر سه جزء (کد، سیستم کدگذاری، متن) بسازد."
            " اگر مقدار در پرونده بیمار خالی مانده، بیمارستان آن را تکمیل و دوباره ارسال کند.",
            "The HIS vendor must build the named element with all three parts (code, terminology,"
            " text). Where the value is simply empty in the patient's record, the hospital fills"
            " it in and resends.",
        ),
        is_pattern=True,
    ),
    _seed(
        "Error at VerifyPerson.",
        ErrorCategory.structural,
        (
            "سرویس استعلام هویت سپاس (اتصال به ثبت احوال) هنگام ارسال پاسخ نداده یا خطا داده است؛"
            " اشکال از سمت سپاس است نه داده بیمارستان.",
            "SEPAS's identity verification service (its link to the civil registry) failed or did"
            " not answer during the send; the fault is on SEPAS's side, not in the hospital's"
            " data.",
        ),
        (
            "پرونده‌ها را پس از چند ساعت دوباره ارسال کنید. اگر خطا بیش از یک روز کاری ادامه"
            " یافت یا در چند بیمارستان دیده شد، در جیرای وزارت ثبت کنید.",
            "Resend the records after a few hours. If it lasts more than a working day or shows"
            " at several hospitals, report it in the ministry's Jira.",
        ),
    ),
    _seed(
        "Destination SepasNode is Down",
        ErrorCategory.structural,
        (
            "گره سپاسی که پرونده‌ها باید به آن برسند از دسترس خارج است (قطعی یا نگهداری در سمت"
            " وزارت).",
            "The SEPAS node the records are sent to is down (an outage or maintenance on the"
            " ministry's side).",
        ),
        (
            "بیمارستان کاری لازم ندارد؛ پرونده‌ها در صف HIS می‌مانند و پس از برقراری گره دوباره"
            " ارسال می‌شوند. اگر قطعی بیش از چند ساعت طول کشید، در جیرای وزارت گزارش کنید.",
            "Nothing to do at the hospital: the records wait in the HIS's queue and are resent"
            " once the node is up. If the outage lasts more than a few hours, report it in the"
            " ministry's Jira.",
        ),
    ),
)


def _taken(session: Session, text: BankEntryText, but: int | None = None) -> bool:
    query = select(ErrorBankEntry.id).where(
        ErrorBankEntry.match_key == match_key(text.message),
        ErrorBankEntry.is_pattern == text.is_pattern,
    )
    if but is not None:
        query = query.where(ErrorBankEntry.id != but)
    return session.exec(query).first() is not None


def add_entry(session: Session, text: BankEntryText, actor: str) -> ErrorBankEntry:
    """A new entry (flushed, not committed); EntryTaken if its message is in the bank."""
    if _taken(session, text):
        raise EntryTaken
    entry = ErrorBankEntry(**text.model_dump(), match_key=match_key(text.message), updated_by=actor)
    session.add(entry)
    session.flush()
    return entry


def change_entry(
    session: Session, entry: ErrorBankEntry, text: BankEntryText, actor: str, active: bool
) -> dict[str, Any]:
    """Rewrite `entry` (flushed, not committed); what changed, field by field; EntryTaken if its
    new message is another entry's."""
    if _taken(session, text, but=entry.id):
        raise EntryTaken
    after = {**text.model_dump(), "active": active}
    changes = {k: v for k, v in after.items() if getattr(entry, k) != v}
    if changes:
        entry.sqlmodel_update(
            {**changes, "match_key": match_key(text.message), "updated_at": utcnow()}
            | {"updated_by": actor}
        )
        session.add(entry)
        session.flush()
    return changes


def search_entries(
    session: Session,
    q: str = "",
    category: ErrorCategory | None = None,
    active: bool | None = None,
) -> list[ErrorBankEntry]:
    """The entries whose message, cause, remedy or Jira key holds `q`; the most matched first."""
    query = select(ErrorBankEntry)
    text = normalize_text(q)
    if text:
        query = query.where(
            or_(
                *(
                    col(column).icontains(text, autoescape=True)
                    for column in (
                        ErrorBankEntry.message,
                        ErrorBankEntry.cause_fa,
                        ErrorBankEntry.cause_en,
                        ErrorBankEntry.remedy_fa,
                        ErrorBankEntry.remedy_en,
                        ErrorBankEntry.jira_key,
                    )
                )
            )
        )
    if category is not None:
        query = query.where(ErrorBankEntry.category == category)
    if active is not None:
        query = query.where(ErrorBankEntry.active == active)
    order = (col(ErrorBankEntry.match_count).desc(), func.lower(ErrorBankEntry.message))
    return list(session.exec(query.order_by(*order)))


def seed_error_bank(session: Session) -> list[str]:
    """The seed entries whose message is not in the bank yet (flushed, not committed)."""
    created = []
    for text in SEED_ENTRIES:
        if not _taken(session, text):
            add_entry(session, text, SYSTEM_ACTOR)
            created.append(text.message)
    return created


def main() -> int:
    """`python -m db.error_bank`: add the seed entries the bank lacks (production included)."""
    from db.engine import get_engine  # the engine only when run, not when imported

    with Session(get_engine()) as session:
        created = seed_error_bank(session)
        session.commit()
    print(f"بانک خطا: {len(created)} مورد افزوده شد / error bank: {len(created)} entries added")
    return 0


if __name__ == "__main__":
    sys.exit(main())
