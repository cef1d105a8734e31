"""Process 5 (بررسی و رفع مشکلات ارسال پرونده به سپاس) as its workflow runs it: the hospital's
report, the expert's classification, the answers of the hospital, the HIS vendor and the
ministry's Jira, the evidence from SRM, the bank's lesson and the announcement.

The case moves through phases; a phase that waits for weeks (SRM data, the ministry's Jira, the
evidence) polls on a durable timer and continues as new with `SepasResume`, so its history
stays flat however long the wait.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from domain.calendar import TEHRAN
from domain.cases import CaseStart
from domain.jira import JiraIssue
from domain.records import CaseLine
from domain.repair import Email, Mobile
from domain.sepas import (
    CATEGORY_EN,
    CATEGORY_FA,
    BankEntryText,
    BankMatch,
    ErrorCategory,
    HospitalCode,
    SrmGroup,
    match_key,
)
from domain.tasks import Decision, needed_when
from domain.text import empty_as_none, normalize_digits, typed_text

REPORT_WINDOW_DAYS = 90
"""SRM is read at most this far back from the report, whatever `since` says."""
GROUPS_KEPT = 50
"""Message groups a case carries (the most frequent first): SRM can list hundreds of rare ones."""
SAMPLE_IDS_MAX = 20

ShortText = Annotated[str, BeforeValidator(typed_text), Field(min_length=2, max_length=200)]
LongText = Annotated[str, BeforeValidator(typed_text), Field(min_length=3, max_length=2000)]
OptionalNote = Annotated[
    Annotated[str, Field(max_length=2000)] | None,
    BeforeValidator(lambda v: empty_as_none(typed_text(v))),
]


def _record_ids(value: object) -> object:
    """Record ids as one text or a list of texts (the form's lines), each separated by commas,
    spaces or new lines."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [p for v in value for p in re.split(r"[,،\s]+", normalize_digits(v)) if p]
    return value


RecordIds = Annotated[
    list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,100}$")]],
    BeforeValidator(_record_ids),
    Field(max_length=SAMPLE_IDS_MAX),
]


class SepasReportForm(BaseModel):
    """گزارش مشکل ارسال پرونده به سپاس: what a hospital's IT unit reports."""

    hospital_code: HospitalCode = Field(title="Hospital code (SEPAS)")
    """The hospital's code in SEPAS / SRM; a `hospital_it` user reports for its own only."""
    reporter_name: ShortText = Field(title="Reporter's name")
    mobile: Mobile = Field(title="Mobile")
    """Where the result is sent by SMS."""
    email: Email = Field(default=None, title="E-mail (optional)")
    what_fails: LongText = Field(title="What fails")
    since: date = Field(title="Since when")
    """The first day of the problem: SRM is read from then until the report."""
    sample_record_ids: RecordIds = Field(default_factory=list, title="Sample record ids")
    error_text: OptionalNote = Field(default=None, title="The error text, if you have it")

    @field_validator("since")
    @classmethod
    def _not_future(cls, value: date) -> date:
        # Tomorrow in Tehran is still today somewhere a clock may be: one day of slack.
        if value > datetime.now(TEHRAN).date() + timedelta(days=1):
            raise PydanticCustomError("date_in_the_future", "a day that has not come yet")
        return value


class Phase(StrEnum):
    """Where a case stands in the chart; a case that continues as new resumes there."""

    srm = "srm"
    """Reading SRM for the reported window (waiting for an import if it has no data yet)."""
    classify = "classify"
    hospital = "hospital"
    vendor = "vendor"
    jira = "jira"
    learn = "learn"
    evidence = "evidence"
    announce = "announce"


class Verdict(StrEnum):
    """The expert's classification of a case (PROCESSES.md §5, box 4)."""

    hospital = "hospital"
    software = "software"
    structural = "structural"
    other = "other"
    unknown = "unknown"
    """Nothing in the bank explains it: the ministry is asked, and the bank learns the answer."""
    no_error = "no_error"
    """SRM shows nothing wrong and the report is not a SEPAS error: answered at once."""


VERDICT_FA: dict[Verdict, str] = {
    **{Verdict(c.value): CATEGORY_FA[c] for c in ErrorCategory},
    Verdict.unknown: "خطای ناشناخته",
    Verdict.no_error: "خطای ارسال به سپاس نیست",
}
VERDICT_EN: dict[Verdict, str] = {
    **{Verdict(c.value): CATEGORY_EN[c] for c in ErrorCategory},
    Verdict.unknown: "Unknown error",
    Verdict.no_error: "Not a SEPAS sending error",
}


class SepasOutcome(StrEnum):
    resolved = "resolved"
    """The fix was confirmed by SRM: the messages stopped."""
    no_error = "no_error"
    cancelled = "cancelled"


OUTCOME_FA: dict[SepasOutcome, str] = {
    SepasOutcome.resolved: "رفع شد (با تایید سامانه اس آر ام)",
    SepasOutcome.no_error: "خطای ارسال به سپاس نبود",
    SepasOutcome.cancelled: "لغو شد",
}
OUTCOME_EN: dict[SepasOutcome, str] = {
    SepasOutcome.resolved: "Resolved (confirmed by SRM)",
    SepasOutcome.no_error: "Not a SEPAS sending error",
    SepasOutcome.cancelled: "Cancelled",
}


class Classification(Decision):
    """تفسیر و دسته‌بندی خطا: the expert confirms the bank's explanation or changes it."""

    verdict: Verdict = Field(title="Classification")
    """`software` is offered only when the hospital's HIS vendor is known."""
    bank_entry_id: str | None = Field(
        default=None,
        title="The bank entry that explains it",
        json_schema_extra={"x-option-labels": "bank_entries"},
    )
    """One of the task's options (the bank's matches); none for an unknown error."""
    note: OptionalNote = Field(default=None, title="Note", validate_default=True)
    """What the hospital or the vendor is told beside the bank's remedy; why, for no error."""

    @field_validator("verdict")
    @classmethod
    def _offered(cls, value: Verdict, info: ValidationInfo) -> Verdict:
        options = (info.context or {}).get("options", {}).get("verdict")
        if options is not None and value.value not in options:
            # HIS software needs the hospital's HIS vendor in the register.
            raise PydanticCustomError("not_an_option", "choose one of the listed entries")
        return value

    @field_validator("bank_entry_id", mode="before")
    @classmethod
    def _blank(cls, value: object) -> object:
        return empty_as_none(value) if isinstance(value, str) else value

    @field_validator("bank_entry_id")
    @classmethod
    def _one_of_the_options(cls, value: str | None, info: ValidationInfo) -> str | None:
        options = (info.context or {}).get("options", {}).get("bank_entry_id")
        if value is not None and options is not None and value not in options:
            raise PydanticCustomError("not_an_option", "choose one of the listed entries")
        if value is not None and info.data.get("verdict") in (Verdict.unknown, Verdict.no_error):
            raise PydanticCustomError("entry_for_unknown", "an unknown error has no bank entry")
        return value

    _why_no_error = field_validator("note")(
        needed_when("verdict", Verdict.no_error, "reason_required", "say why it is no error")
    )


class HospitalFix(Decision):
    """رفع خطا توسط بیمارستان: the hospital's IT unit corrected its data, or cannot."""

    fixed: bool = Field(title="Corrected?")
    what_was_done: OptionalNote = Field(default=None, title="What was done", validate_default=True)
    reason: OptionalNote = Field(default=None, title="Why not", validate_default=True)

    _done = field_validator("what_was_done")(
        needed_when("fixed", True, "required", "say what was done")
    )
    _why = field_validator("reason")(
        needed_when("fixed", False, "reason_required", "say why it cannot be corrected")
    )


class VendorFix(Decision):
    """رفع خطا توسط شرکت پشتیبانی: the HIS vendor's fix and the version it ships in."""

    fixed: bool = Field(title="Fixed?")
    fix: OptionalNote = Field(default=None, title="The fix", validate_default=True)
    version: Annotated[
        Annotated[str, Field(max_length=60)] | None,
        BeforeValidator(lambda v: empty_as_none(typed_text(v))),
    ] = Field(default=None, title="Version with the fix", validate_default=True)
    reason: OptionalNote = Field(default=None, title="Why not", validate_default=True)
    """E.g. the error is not in the HIS: the case goes back to the expert."""

    _fix = field_validator("fix", "version")(
        needed_when("fixed", True, "required", "needed when fixed")
    )
    _why = field_validator("reason")(
        needed_when("fixed", False, "reason_required", "say why it is not fixed")
    )


class BankLesson(Decision, BankEntryText):
    """آموزش بانک خطا: the answer that resolved an unknown error, as an entry of the bank."""

    entry_id: str | None = Field(
        default=None,
        title="Update this entry instead of adding one",
        json_schema_extra={"x-option-labels": "bank_entries"},
    )

    @field_validator("entry_id", mode="before")
    @classmethod
    def _blank(cls, value: object) -> object:
        return empty_as_none(value) if isinstance(value, str) else value

    @field_validator("entry_id")
    @classmethod
    def _one_of_the_options(cls, value: str | None, info: ValidationInfo) -> str | None:
        options = (info.context or {}).get("options", {}).get("entry_id")
        if value is not None and options is not None and value not in options:
            raise PydanticCustomError("not_an_option", "choose one of the listed entries")
        return value


class SepasPolicy(BaseModel):
    """The settings a case runs by, read once when it starts (the workflow reads no settings)."""

    srm_check_hours: int = 12
    """While waiting for SRM data (or its evidence), look again this often even if no import
    is announced."""
    import_reminder_hours: int = 24
    """While waiting for SRM data, remind the experts to import this often."""
    jira_poll_hours: int = 6
    clean_days: int = 3
    """The fix is confirmed when the messages are absent from this many days of SRM data."""
    continue_as_new_after_events: int = 2000
    """A waiting phase continues as new past this many history events."""


class HospitalFacts(BaseModel):
    code: str
    name: str
    his_product: str = ""
    his_vendor_id: int | None = None
    his_vendor_name: str | None = None


class BankOption(BaseModel):
    """An entry the task offers, with what the expert reads of it."""

    entry_id: int
    message: str
    category: ErrorCategory
    remedy_fa: str
    remedy_en: str
    cause_fa: str
    cause_en: str


class SrmQuery(BaseModel):
    case_id: int
    hospital_code: str
    since: datetime
    until: datetime
    error_text: str | None = None


class SrmLook(BaseModel):
    """What a look at SRM found: the grouped errors of the window and the bank's entries that
    explain them (and the reported text)."""

    covered: bool
    data_until: datetime | None
    groups: list[SrmGroup]
    reported_match: BankMatch | None = None
    """The bank's best explanation of the error text the hospital typed."""
    entries: list[BankOption]
    """The entries the matches name."""


class SepasFacts(BaseModel):
    """Read when the case starts: the hospital, and the policy."""

    hospital: HospitalFacts
    policy: SepasPolicy


class EvidenceState(StrEnum):
    waiting = "waiting"
    """SRM data does not reach `clean_days` past the fix yet."""
    clean = "clean"
    still_failing = "still_failing"


class EvidenceQuery(BaseModel):
    case_id: int
    hospital_code: str
    message_keys: list[str]
    """`match_key` of each message the case is about."""
    fixed_at: datetime
    clean_days: int


class Evidence(BaseModel):
    """What SRM shows of the case's messages since the fix was reported."""

    state: EvidenceState
    data_until: datetime | None
    groups: list[SrmGroup]
    """The case's messages seen in the last `clean_days` of data."""
    checked_from: datetime
    """The start of the window the verdict is about."""


class SepasResume(BaseModel):
    """A case carried over a continue-as-new: everything its next phase reads."""

    phase: Phase
    facts: SepasFacts
    look: SrmLook | None = None
    verdict: Verdict | None = None
    bank_entry_id: int | None = None
    note: str | None = None
    issue: JiraIssue | None = None
    jira_status: str | None = None
    last_comment_id: int | None = None
    answer_fa: str | None = None
    """What resolved it: the hospital's correction, the vendor's fix, the ministry's answer."""
    answer_source: str | None = None
    """Where that answer came from: a Jira issue's address, the vendor's name."""
    reply: str | None = None
    """The ministry's last comment on the issue: what the bank's lesson starts from."""
    fixed_at: datetime | None = None
    rounds: int = 0
    """Times the case went back to the expert."""
    events: int = 0
    """Timeline lines written (their keys' sequence)."""
    reminders: int = 0
    next_reminder_at: datetime | None = None
    jira_round: int = 0
    """The round the issue was last raised in: a later round raises it again by a comment."""
    awaiting_reply: bool = False
    """Raised again: the issue's resolution counts only after a new comment from the ministry."""
    task_numbers: dict[str, int] = {}
    evidence: Evidence | None = None


class SepasStart(CaseStart):
    form: SepasReportForm
    resume: SepasResume | None = None


class SepasChange(CaseLine):
    """A change to the case's SEPAS record, with its line on the timeline (written once)."""

    look: SrmLook | None = None
    verdict: Verdict | None = None
    bank_entry_id: int | None = None
    count_match: bool = False
    """The bank entry explained this case: its match count grows by one (once, by the key)."""
    jira_key: str | None = None
    jira_url: str | None = None
    jira_status: str | None = None
    answer_fa: str | None = None
    answer_source: str | None = None
    fix_version: str | None = None
    fixed_at: datetime | None = None
    rounds: int | None = None
    evidence: Evidence | None = None


class LessonWrite(BaseModel):
    """The expert's lesson, into the bank (once, by the event key)."""

    case_id: int
    event_key: str
    actor: str
    entry_id: int | None
    text: BankEntryText


class NoticeKind(StrEnum):
    received = "received"
    """The case reached an outside party (the hospital's own expert, the vendor, Jira)."""
    resolved = "resolved"
    no_error = "no_error"
    cancelled = "cancelled"
    vendor_job = "vendor_job"
    """To the HIS vendor's contact: a software error of a hospital it supports is its job."""


class SepasNotice(BaseModel):
    """A message about the case: to the reporter, or to the HIS vendor."""

    case_id: int
    kind: NoticeKind
    number: int = 1
    """Which time this kind is sent for the case (a second round, a second vendor job)."""
    detail: str = ""


class ImportReminder(BaseModel):
    """Ask the SEPAS experts to import SRM's latest export."""

    case_id: int
    number: int
    since: datetime
    until: datetime


class SrmNews(BaseModel):
    """Signal: an SRM import added data; a case waiting on SRM looks again now."""

    source_name: str
    """The import's file or endpoint, for the Temporal UI."""


class JiraNews(BaseModel):
    """Signal: the ministry's Jira said (by webhook) that the case's issue changed."""

    issue_key: str
    event: str = ""


def message_keys(groups: Iterable[SrmGroup]) -> list[str]:
    return sorted({match_key(g.message) for g in groups})


def srm_extract(groups: Iterable[SrmGroup]) -> bytes:
    """The grouped errors as CSV (UTF-8 with a BOM, so Excel shows the Persian): Jira's
    attachment and the expert's download."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["message", "count", "records", "sample_records", "first_at", "last_at"])
    for g in groups:
        writer.writerow(
            [
                g.message,
                g.count,
                g.records,
                " ".join(g.sample_records),
                g.first_at.isoformat(timespec="minutes"),
                g.last_at.isoformat(timespec="minutes"),
            ]
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def groups_context(
    groups: Iterable[SrmGroup], entries: dict[int, BankOption]
) -> list[dict[str, Any]]:
    """The groups as a page lists them: message, counts, and the bank's best match (how, its
    score, the entry and its category when `entries` holds it); coded values are labelled by
    the process (`match.exact`, `category.hospital`)."""
    shown = []
    for g in groups:
        match = g.match
        entry = entries.get(match.entry_id) if match is not None else None
        shown.append(
            {
                "message": g.message,
                "count": g.count,
                "records": g.records,
                "sample_records": ", ".join(g.sample_records),
                "match": match.kind.value if match is not None else None,
                "score": round(match.score) if match is not None else None,
                "bank_entry": f"#{match.entry_id}" + (f" {entry.message}" if entry else "")
                if match is not None
                else None,
                "category": entry.category.value if entry is not None else None,
            }
        )
    return shown
