"""Process 4 (شمس) as workflows: the rollout's start form, the decisions of its human steps,
and the contracts of its workflows and activities (rollout → county → site).

The sites themselves (kinds, link types, states, row checks) are `domain.shams`; this module
holds what moves through Temporal, kept small: codes and decisions, never a county's rows.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from domain.calendar import TEHRAN
from domain.cases import CaseStart
from domain.shams import CountyCode, LinkType, NotFeasibleReason, SiteCode, SiteState
from domain.tasks import CancelCaseInput, Decision
from domain.text import empty_as_none, typed_digits, typed_text

MAX_SITES_PER_ANSWER = 5000
"""A county's answer names at most this many sites (about 150 KB in the county's history);
a larger county answers in rounds."""

PROBE_TIMEOUT_SECONDS = 5.0
"""One TCP connect of the connection check waits at most this long."""

Note = Annotated[
    Annotated[str, Field(max_length=2000)] | None,
    BeforeValidator(lambda v: empty_as_none(typed_text(v))),
]
Text = Annotated[str, BeforeValidator(typed_text)]


def _needed_when(flag: str, value: object, code: str, text: str) -> Any:
    """A validator for a field the decision needs when `flag` holds `value`; it belongs to
    that field (declared with `validate_default=True`), so the error names it."""

    def check(cls: type, given: object, info: ValidationInfo) -> object:
        if flag in info.data and info.data[flag] == value and given in (None, []):
            raise PydanticCustomError(code, text)
        return given

    return classmethod(check)


def _not_past(value: date | None, info: ValidationInfo) -> date | None:
    # The workflow validates with its own clock (`now` in the context), deterministically.
    now = (info.context or {}).get("now")
    if value is not None and now is not None and value < now.astimezone(TEHRAN).date():
        raise PydanticCustomError("date_in_the_past", "the date has passed")
    return value


def _distinct(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise PydanticCustomError("invalid_value", "a code is named twice")
    return values


def _date_not_past() -> Any:
    def check(cls: type, value: date | None, info: ValidationInfo) -> date | None:
        return _not_past(value, info)

    return classmethod(check)


class RolloutForm(BaseModel):
    """What the IT office fills in to start a rollout."""

    title: Annotated[str, BeforeValidator(typed_text), Field(min_length=3, max_length=200)]
    """The rollout's name, e.g. «اتصال نقاط روستایی، مرحله دوم»."""


class RolloutStart(CaseStart):
    form: RolloutForm
    resume: RolloutResume | None = None
    """Set only by the rollout's own continue-as-new: where the previous run stood."""


class ShamsPolicy(BaseModel):
    """The office's settings a rollout runs under, fixed in its history when it starts."""

    progress_check_minutes: int
    """How often the rollout and the counties read their progress from the read model."""
    carrier_reminder_working_days: int
    """While sites wait for ranging, the carrier is reminded this often."""
    site_batch: int
    """Sites a county starts at once."""
    probe_window_seconds: int
    """One attempt window of the connection check: probes with backoff for this long."""
    probe_pause_minutes: int
    """The wait between two attempt windows."""
    probe_first_retry_seconds: float
    probe_max_retry_seconds: float
    probe_give_up_working_days: int
    """A site still unreachable this many working days after it was entered in SHAMS goes
    back to the carrier as a fault."""
    continue_as_new_after_events: int
    """Continue-as-new at this history length if Temporal has not suggested it yet."""


class RolloutResume(BaseModel):
    """The rollout's small state across continue-as-new."""

    rollout_id: str
    counties: list[CountyCode]
    next_carrier_reminder: datetime | None
    policy: ShamsPolicy
    task_numbers: dict[str, int]


# --- Decisions ---------------------------------------------------------------------------


class LetterDraft(Decision):
    """تنظیم نامه: the letter to the county health networks."""

    text: Annotated[str, BeforeValidator(typed_text)] = Field(
        min_length=20, max_length=10_000, title="Letter text"
    )
    counties: list[CountyCode] = Field(default_factory=list, max_length=500, title="Counties")
    """Counties addressed, by code; empty: every active county."""
    answer_by: date = Field(title="Answer by")
    """The counties' deadline; reminders and the late mark count from it."""
    attachment_file_id: int | None = Field(default=None, ge=1, title="Attachment")
    """A stored file (the university's template or the ministry's circular)."""

    _answer_by = field_validator("answer_by")(_date_not_past())

    @field_validator("counties")
    @classmethod
    def _once_each(cls, value: list[str]) -> list[str]:
        return _distinct(value)


class LetterApproval(Decision):
    """تایید / عدم تایید: the IT director approves the letter, or returns it with comments."""

    approved: bool = Field(title="Approve the letter?")
    comments: Note = Field(default=None, title="Comments", validate_default=True)

    _comments = field_validator("comments")(
        _needed_when("approved", False, "reason_required", "say what to change")
    )


class CountySites(Decision):
    """The county's answer: the sites it entered or uploaded in the register, or none."""

    no_sites: bool = Field(default=False, title="No (more) sites")
    site_codes: list[SiteCode] = Field(
        default_factory=list,
        max_length=MAX_SITES_PER_ANSWER,
        title="Site codes",
        validate_default=True,
    )
    note: Note = Field(default=None, title="Note")

    _codes = field_validator("site_codes")(
        _needed_when("no_sites", False, "required", "name the sites, or say there are none")
    )

    @field_validator("site_codes")
    @classmethod
    def _once_each(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if info.data.get("no_sites") and value:
            raise PydanticCustomError("invalid_value", "no sites, yet sites are named")
        return _distinct(value)


class ReturnedSite(BaseModel):
    site_code: SiteCode
    reason: Annotated[str, BeforeValidator(typed_text)] = Field(min_length=3, max_length=500)


class SiteCheck(Decision):
    """بررسی صحت نقاط: every site not returned is accepted."""

    returned: list[ReturnedSite] = Field(
        default_factory=list, max_length=MAX_SITES_PER_ANSWER, title="Returned sites"
    )
    note: Note = Field(default=None, title="Note")

    @field_validator("returned")
    @classmethod
    def _once_each(cls, value: list[ReturnedSite]) -> list[ReturnedSite]:
        _distinct([r.site_code for r in value])
        return value


class RangingReport(Decision):
    """رانژه: can a line reach the site, over what, from which exchange, by when."""

    feasible: bool = Field(title="Feasible?")
    exchange: Note = Field(default=None, title="Exchange", validate_default=True)
    link_type: LinkType | None = Field(default=None, title="Link offered", validate_default=True)
    reason: NotFeasibleReason | None = Field(
        default=None, title="Why not feasible", validate_default=True
    )
    expected_on: date | None = Field(default=None, title="Expected date")
    """Feasible: when the line will be installed (the next task is due then)."""
    note: Note = Field(default=None, title="Note")

    _exchange = field_validator("exchange", "link_type")(
        _needed_when("feasible", True, "required", "needed when feasible")
    )
    _reason = field_validator("reason")(
        _needed_when("feasible", False, "reason_required", "say why it is not feasible")
    )
    _expected_on = field_validator("expected_on")(_date_not_past())


class NotFeasibleAction(StrEnum):
    close = "close"
    """Closed as not feasible, with the carrier's reason."""
    re_range = "re_range"
    """Ranged again later (after the carrier upgrades the exchange)."""
    other_link = "other_link"
    """Ranged again for another link type."""


class NotFeasibleChoice(Decision):
    """The IT office's answer to a site the carrier cannot connect."""

    action: NotFeasibleAction = Field(title="What now?")
    link_type: LinkType | None = Field(default=None, title="Other link type", validate_default=True)
    re_range_on: date | None = Field(default=None, title="Range again on")
    """Re-ranging: the carrier is asked again on this day (today if empty)."""
    note: Note = Field(default=None, title="Note")

    _link_type = field_validator("link_type")(
        _needed_when("action", NotFeasibleAction.other_link, "required", "choose the link")
    )
    _re_range_on = field_validator("re_range_on")(_date_not_past())


class LineInstalled(Decision):
    """The carrier built the line (or repaired it, after a fault)."""

    circuit_id: Note = Field(default=None, title="Circuit id")
    note: Note = Field(default=None, title="Note")


_REGISTRATION = re.compile(r"[A-Za-z0-9/-]{1,40}")
_HOSTNAME = re.compile(r"(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+")


def _registration(value: object) -> object:
    value = typed_digits(value)
    if isinstance(value, str) and not _REGISTRATION.fullmatch(value):
        raise PydanticCustomError("invalid_value", "letters, digits, / and - only")
    return value


def _host(value: object) -> object:
    value = typed_digits(value)
    if not isinstance(value, str):
        return value
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    if not _HOSTNAME.fullmatch(value):
        raise PydanticCustomError("invalid_value", "an IP address or a host name")
    return value.lower()


class ShamsEntry(Decision):
    """ورود در سامانه شمس: the site's SHAMS number and the router the check probes."""

    registration_number: Annotated[str, BeforeValidator(_registration)] = Field(
        title="SHAMS registration number"
    )
    router_host: Annotated[str, BeforeValidator(_host)] = Field(title="Router address")
    router_port: int = Field(ge=1, le=65535, title="Router port")


# --- Workflow inputs ---------------------------------------------------------------------


class RolloutRef(BaseModel):
    """What a county and a site know of their rollout."""

    case_id: int
    rollout_id: str
    """The rollout's tracking code (`Site.rollout_id`)."""
    policy: ShamsPolicy


class CountyPhase(StrEnum):
    collect = "collect"
    """Waiting for the county's first answer (the letter's deadline)."""
    correct = "correct"
    """Sites were returned: waiting for the corrected ones."""
    more = "more"
    """Open to a further round, until that task expires."""
    wait = "wait"
    """No more answers: waiting for the county's sites to end."""


class CountyStart(BaseModel):
    """A county's workflow input, and its small state across continue-as-new."""

    rollout: RolloutRef
    county_code: CountyCode
    county_name: str
    answer_by: date
    letter_text: str
    phase: CountyPhase = CountyPhase.collect
    round: int = 1
    returned: list[ReturnedSite] = Field(default_factory=list)
    """Returned in the last check, shown on the correction task."""
    to_start: list[SiteCode] = Field(default_factory=list)
    """Accepted sites whose workflows are not started yet (at most one answer's)."""
    task_numbers: dict[str, int] = Field(default_factory=dict)
    """Task and stage counters, so task ids stay unique across runs."""
    cancel: CancelCaseInput | None = None
    told_until: SiteCode | None = None
    """A wind-down that continued as new: the open sites up to this code were told already."""
    withdrawn: list[SiteCode] = Field(default_factory=list)
    """…and these sites, whose workflows were not running, are to be withdrawn."""


class SiteStart(BaseModel):
    rollout: RolloutRef
    county_code: CountyCode
    site_code: SiteCode


class SiteOutcome(StrEnum):
    connected = "connected"
    closed_not_feasible = "closed_not_feasible"
    withdrawn = "withdrawn"
    """Wound down (the rollout, county or site was cancelled)."""


# --- Activity contracts ------------------------------------------------------------------


class SiteChange(BaseModel):
    """A site's state change and its history line, written once by `event_key`."""

    event_key: str
    rollout_id: str
    county_code: str
    site_code: str
    state: SiteState
    step: str
    """The site workflow's step (the board's SiteStep)."""
    actor: str = "system"
    note_fa: str | None = None
    exchange: str | None = None
    link_type: LinkType | None = None
    router_host: str | None = None
    router_port: int | None = None
    registration_number: str | None = None
    outcome: SiteOutcome | None = None
    """Set when the site's workflow ends."""
    close_tasks_of: str | None = None
    """Wound down: this workflow's open tasks leave the cartable (the case may be closed)."""


class CountySubmission(BaseModel):
    rollout_id: str
    county_code: str
    site_codes: list[str]
    event_key: str
    actor: str


class SitesTaken(BaseModel):
    known: list[str]
    """In the register, of this county, in a state a county may send."""
    unknown: list[str]


class CheckResult(BaseModel):
    rollout_id: str
    county_code: str
    accepted: list[str]
    returned: list[ReturnedSite]
    event_key: str
    actor: str


class CountyChange(BaseModel):
    """Where a county stands in the rollout (the board's row)."""

    rollout_id: str
    county_code: str
    phase: CountyPhase | None = None
    ended: bool = False
    cancelled: bool = False
    close_tasks_of: str | None = None
    """Wound down: this workflow's open tasks leave the cartable (the case may be closed)."""


class SitesWithdrawn(BaseModel):
    """Sites whose workflows never started (or already ended) when their county wound down."""

    rollout_id: str
    county_code: str
    site_codes: list[str]
    reason: str
    actor: str
    event_key: str


class CountyQuery(BaseModel):
    rollout_id: str
    county_code: str
    after: str = ""
    limit: int = 500


class OpenSites(BaseModel):
    open: int
    """Site workflows of the county not ended."""
    codes: list[str]
    """A page of them (by code, after the query's cursor)."""


class RolloutOpening(BaseModel):
    case_id: int
    rollout_id: str
    title: str
    counties: list[str]
    """Empty: every active county."""
    answer_by: date
    attachment_file_id: int | None


class CountyRef(BaseModel):
    code: str
    name: str


class RolloutOpened(BaseModel):
    counties: list[CountyRef]
    policy: ShamsPolicy
    """The settings the rollout runs under from now on."""


class CountyNotice(BaseModel):
    rollout_id: str
    case_id: int
    county_code: str
    answer_by: date


class RolloutQuery(BaseModel):
    rollout_id: str
    now: datetime
    next_carrier_reminder: datetime | None
    carrier_reminder_working_days: int


class RolloutProgress(BaseModel):
    counties_open: int
    sites_total: int
    sites_connected: int
    sites_closed: int
    awaiting_ranging: int
    next_carrier_reminder: datetime | None
    """When the carrier is reminded next; None: nothing waits for it."""
    remind_carrier_now: bool


class ProbeDeadline(BaseModel):
    start: datetime
    working_days: int


class ProbeWindow(BaseModel):
    host: str
    port: int
    seconds: int
    first_retry_seconds: float
    max_retry_seconds: float


class ProbeResult(BaseModel):
    connected: bool
    probes: int
    last_error: str | None = None


RolloutStart.model_rebuild()
