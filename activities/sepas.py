"""Side effects of process 5 (SEPAS record-sending errors): the hospital and policy read when a
case starts, SRM's errors of its window, the case's record and timeline, the evidence of a fix,
the bank's lessons, and the messages to the reporter, the HIS vendor and the experts.

Each write is keyed by the case and a timeline event key, so a retry changes nothing twice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, update
from sqlmodel import Session, col, select
from temporalio import activity

from activities.case_records import add_event, role_holders, write_line
from activities.notifications import EmailSender, SmsGateway
from db.error_bank import add_entry, change_entry
from db.models import Case, CaseEvent
from db.sepas import (
    ErrorBankEntry,
    HisVendor,
    Hospital,
    SepasCase,
    SrmImport,
    bank_matcher,
)
from db.srm_import import hospital_errors
from domain.calendar import format_jalali
from domain.cases import EventKind, Role
from domain.outgoing import OutgoingMessage
from domain.requester_link import requester_link
from domain.sepas import match_key
from domain.sepas_process import (
    GROUPS_KEPT,
    BankOption,
    Evidence,
    EvidenceQuery,
    EvidenceState,
    HospitalFacts,
    ImportReminder,
    LessonWrite,
    NoticeKind,
    SepasChange,
    SepasFacts,
    SepasNotice,
    SepasPolicy,
    SrmLook,
    SrmQuery,
)
from settings import Settings


def _now() -> datetime:
    return datetime.now(UTC)


class SepasActivities:
    def __init__(
        self, engine: Engine, settings: Settings, sms: SmsGateway, email: EmailSender
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._sms = sms
        self._email = email

    def _session(self) -> Session:
        return Session(self._engine, expire_on_commit=False)

    @activity.defn
    def look_up_hospital(self, case_id: int) -> SepasFacts:
        """The case's hospital and its HIS vendor, and the policy the case runs by."""
        with self._session() as session:
            found = session.exec(
                select(Hospital, HisVendor)
                .join(SepasCase, col(SepasCase.hospital_code) == col(Hospital.code))
                .join(HisVendor, col(HisVendor.id) == col(Hospital.his_vendor_id), isouter=True)
                .where(SepasCase.case_id == case_id)
            ).first()
        if found is None:
            raise ValueError(f"no hospital for SEPAS case {case_id}")
        hospital, vendor = found
        s = self._settings
        return SepasFacts(
            hospital=HospitalFacts(
                code=hospital.code,
                name=hospital.name,
                his_product=hospital.his_product,
                his_vendor_id=vendor.id if vendor is not None and vendor.active else None,
                his_vendor_name=vendor.name if vendor is not None else None,
            ),
            policy=SepasPolicy(
                srm_check_hours=s.sepas_srm_check_hours,
                import_reminder_hours=s.sepas_import_reminder_hours,
                jira_poll_hours=s.sepas_jira_poll_hours,
                clean_days=s.sepas_clean_days,
                continue_as_new_after_events=s.sepas_continue_as_new_after_events,
            ),
        )

    @activity.defn
    def look_at_srm(self, query: SrmQuery) -> SrmLook:
        """The hospital's SRM errors of the window, grouped, with the bank entries that explain
        them and the reported error text."""
        with self._session() as session:
            reading = hospital_errors(session, query.hospital_code, query.since, query.until)
            groups = reading.groups[:GROUPS_KEPT]
            reported = None
            if query.error_text:  # the same matcher hospital_errors used: the bank is cached
                reported = bank_matcher(session).best(query.error_text)
            ids = {g.match.entry_id for g in groups if g.match is not None}
            if reported is not None:
                ids.add(reported.entry_id)
            entries = session.exec(
                select(ErrorBankEntry).where(col(ErrorBankEntry.id).in_(sorted(ids)))
            ).all()
        return SrmLook(
            covered=reading.covered,
            data_until=reading.data_until,
            groups=groups,
            reported_match=reported,
            entries=[
                BankOption(
                    entry_id=e.id or 0,
                    message=e.message,
                    category=e.category,
                    cause_fa=e.cause_fa,
                    cause_en=e.cause_en,
                    remedy_fa=e.remedy_fa,
                    remedy_en=e.remedy_en,
                )
                for e in sorted(entries, key=lambda e: e.id or 0)
            ],
        )

    @activity.defn
    def record_sepas(self, change: SepasChange) -> None:
        """Apply a change to the case's SEPAS record and add its timeline line, once."""
        with self._session() as session:
            if not write_line(session, change):
                session.commit()  # the carried task's close, if this retry still had it
                return
            now = _now()
            values = _record_values(change)
            if values:
                session.execute(
                    update(SepasCase)
                    .where(col(SepasCase.case_id) == change.case_id)
                    .values(**values, updated_at=now)
                    .execution_options(synchronize_session=False)
                )
            if change.count_match and change.bank_entry_id is not None:
                session.execute(
                    update(ErrorBankEntry)
                    .where(col(ErrorBankEntry.id) == change.bank_entry_id)
                    .values(match_count=col(ErrorBankEntry.match_count) + 1)
                    .execution_options(synchronize_session=False)
                )
            session.execute(
                update(Case)
                .where(col(Case.id) == change.case_id)
                .values(updated_at=now)
                .execution_options(synchronize_session=False)
            )
            session.commit()

    @activity.defn
    def check_evidence(self, query: EvidenceQuery) -> Evidence:
        """Whether the case's messages stopped: the last `clean_days` of SRM's data after the
        fix, once the data reaches that far."""
        with self._session() as session:
            data_until = session.exec(select(func.max(SrmImport.period_until))).one()
            window = timedelta(days=query.clean_days)
            if data_until is None or data_until < query.fixed_at + window:
                return Evidence(
                    state=EvidenceState.waiting,
                    data_until=data_until,
                    groups=[],
                    checked_from=query.fixed_at,
                )
            since = data_until - window
            reading = hospital_errors(session, query.hospital_code, since, data_until)
        keys = set(query.message_keys)
        seen = [g for g in reading.groups if match_key(g.message) in keys]
        if not reading.covered:
            state = EvidenceState.waiting
        else:
            state = EvidenceState.still_failing if seen else EvidenceState.clean
        return Evidence(state=state, data_until=data_until, groups=seen, checked_from=since)

    @activity.defn
    def learn(self, lesson: LessonWrite) -> int:
        """The expert's lesson into the bank: a new entry, or the chosen one rewritten (also
        when the message is already another entry's: the newest answer wins); once, by key."""
        with self._session() as session:
            first = add_event(
                session,
                CaseEvent(
                    case_id=lesson.case_id,
                    event_key=lesson.event_key,
                    kind=EventKind.comment,
                    step="learn",
                    actor=lesson.actor,
                    text_fa=f"بانک خطا آموخت: «{lesson.text.message}»",
                    text_en=f"The error bank learned: “{lesson.text.message}”",
                    public=False,
                ),
            )
            entry = session.get(ErrorBankEntry, lesson.entry_id) if lesson.entry_id else None
            if entry is None:
                entry = session.exec(
                    select(ErrorBankEntry).where(
                        ErrorBankEntry.match_key == match_key(lesson.text.message),
                        ErrorBankEntry.is_pattern == lesson.text.is_pattern,
                    )
                ).first()
            if not first:
                session.commit()
                if entry is None or entry.id is None:
                    raise ValueError(f"the lesson {lesson.event_key} left no entry")
                return entry.id
            if entry is None:
                entry = add_entry(session, lesson.text, lesson.actor)
            else:
                change_entry(session, entry, lesson.text, lesson.actor, active=True)
            assert entry.id is not None
            session.execute(
                update(SepasCase)
                .where(col(SepasCase.case_id) == lesson.case_id)
                .values(bank_entry_id=entry.id, updated_at=_now())
                .execution_options(synchronize_session=False)
            )
            session.commit()
            return entry.id

    @activity.defn
    def notify(self, notice: SepasNotice) -> None:
        """SMS (and e-mail) to the reporter; for a vendor's job, to the vendor's contact too."""
        with self._session() as session:
            found = session.exec(
                select(Case, SepasCase)
                .join(SepasCase, col(SepasCase.case_id) == col(Case.id))
                .where(Case.id == notice.case_id)
            ).first()
            if found is None:
                raise ValueError(f"no SEPAS case {notice.case_id}")
            case, report = found
            vendor = None
            if notice.kind is NoticeKind.vendor_job:
                vendor = session.exec(
                    select(HisVendor)
                    .join(Hospital, col(Hospital.his_vendor_id) == col(HisVendor.id))
                    .where(Hospital.code == report.hospital_code)
                ).first()
        key = f"{case.workflow_id}:notice:{notice.kind.value}:{notice.number}"
        if vendor is not None:
            text = _vendor_text(case.tracking_code, report.hospital_code, self._base_url)
            self._both(key + ":vendor", case.id, vendor.mobile, vendor.email, case, text)
            return
        link = requester_link(self._base_url, self._settings.secret_key, case.tracking_code)
        text = _reporter_text(notice, case.tracking_code, link)
        self._both(key, case.id, report.mobile, report.email, case, text)

    @property
    def _base_url(self) -> str:
        return self._settings.public_base_url

    def _both(
        self,
        key: str,
        case_id: int | None,
        mobile: str | None,
        email: str | None,
        case: Case,
        text: str,
    ) -> None:
        if mobile:
            self._sms.send(
                OutgoingMessage(
                    message_key=f"{key}:sms", case_id=case_id, recipient=mobile, body=text
                )
            )
        if email:
            self._email.send(
                OutgoingMessage(
                    message_key=f"{key}:email",
                    case_id=case_id,
                    recipient=email,
                    subject=f"پرونده سپاس {case.tracking_code}",
                    body=text,
                )
            )

    @activity.defn
    def remind_import(self, reminder: ImportReminder) -> None:
        """E-mail the SEPAS experts: a case waits for SRM data of its window."""
        with self._session() as session:
            case = session.get(Case, reminder.case_id)
            if case is None:
                raise ValueError(f"no case {reminder.case_id}")
            holders = role_holders(session, Role.sepas_expert, None)
        body = (
            f"پرونده سپاس {case.tracking_code} منتظر داده سامانه اس آر ام از"
            f" {format_jalali(reminder.since)} تا {format_jalali(reminder.until)} است."
            " لطفاً آخرین خروجی خطاهای اس آر ام را وارد کنید:"
            f" {self._base_url}/admin/sepas/srm\n\n"
            f"SEPAS case {case.tracking_code} waits for SRM data from"
            f" {reminder.since.isoformat(timespec='minutes')} to"
            f" {reminder.until.isoformat(timespec='minutes')}: please import SRM's latest export."
        )
        for username, address in holders:
            self._email.send(
                OutgoingMessage(
                    message_key=(f"{case.workflow_id}:srm-reminder:{reminder.number}:{username}"),
                    case_id=case.id,
                    recipient=address,
                    subject=f"ورود داده اس آر ام — پرونده {case.tracking_code}",
                    body=body,
                )
            )


def _record_values(change: SepasChange) -> dict[str, Any]:
    """The SEPAS record's columns this change sets (what it leaves None stays)."""
    values: dict[str, Any] = change.model_dump(
        exclude_none=True,
        include={
            "verdict",
            "bank_entry_id",
            "jira_key",
            "jira_url",
            "jira_status",
            "answer_fa",
            "answer_source",
            "fix_version",
            "fixed_at",
            "rounds",
        },
    )
    if change.look is not None:
        values["groups"] = [g.model_dump(mode="json") for g in change.look.groups]
        values["srm_data_until"] = change.look.data_until
    if change.evidence is not None:
        values["evidence"] = change.evidence.model_dump(mode="json")
    return values


def _reporter_text(notice: SepasNotice, code: str, link: str) -> str:
    match notice.kind:
        case NoticeKind.received:
            return f"پرونده سپاس {code}: {notice.detail}\nپیگیری: {link}"
        case NoticeKind.resolved:
            return (
                f"مشکل ارسال پرونده به سپاس ({code}) رفع شد و سامانه اس آر ام آن را تایید کرد."
                f"\n{notice.detail}\nپیگیری: {link}"
            )
        case NoticeKind.no_error:
            return f"پرونده سپاس {code} بررسی شد: {notice.detail}\nپیگیری: {link}"
        case NoticeKind.cancelled:
            return f"پرونده سپاس {code} لغو شد: {notice.detail}\nپیگیری: {link}"
        case NoticeKind.vendor_job:
            return f"پرونده سپاس {code}: {notice.detail}"


def _vendor_text(code: str, hospital_code: str, base_url: str) -> str:
    return (
        f"خطای نرم‌افزاری سپاس در بیمارستان {hospital_code} (پرونده {code}) به شرکت شما ارجاع"
        f" شد. پاسخ و نسخه اصلاحی را در کارتابل ثبت کنید: {base_url}/tasks"
    )
