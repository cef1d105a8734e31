"""Process 3 (ایجاد کارتابل اتوماسیون اداری) as its workflow runs it: the appointment letter's
case, its post, the manager's signature, the cartable, and the one-time hand-over of the
username and password to the unit's head.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from domain.cases import CaseStart
from domain.handover import SealedPassword
from domain.office_automation import (
    AppointmentLetter,
    CartableCreated,
    CartablePermission,
    EndOfAppointment,
    HandoverState,
    ManagementPermission,
    PostState,
)
from domain.records import CaseLine
from domain.repair import OptionalNote
from domain.tasks import Decision


class CartableReady(CartableCreated):
    """ایجاد کارتابل و دادن دسترسی‌های لازم, with the initial password the admin set there:
    typed once on the task page, sealed by the portal at once; the case only knows it is."""

    initial_password: SealedPassword = Field(title="Initial password (as set in the system)")


class ReissueLink(Decision):
    """صدور دوباره پیوند: the head's link expired or was locked; a new one voids it."""

    note: OptionalNote = Field(default=None, title="Note")


class AppointmentStart(CaseStart):
    form: AppointmentLetter


class HandoverPolicy(BaseModel):
    """The settings a case runs by, read once when it starts."""

    link_hours: int = 24
    reminder_hours: int = 24


class AppointmentFacts(BaseModel):
    """What the case starts from: the post it fills (found vacant or new), the unit's head."""

    post_id: int
    automation_code: str | None
    """The post's code in the automation system when it exists there already (a re-used post)."""
    unit_name: str
    head_name: str
    policy: HandoverPolicy


class PostChange(CaseLine):
    """A change to the letter's post and record, with its line on the timeline (once, by key)."""

    automation_code: str | None = None
    permissions_group: str | None = None
    signature_file_id: int | None = None
    username: str | None = None
    post_state: PostState | None = None
    handover_state: HandoverState | None = None
    held: bool = False
    """The letter's person now holds the post (from the effective date)."""
    released: bool = False
    """The post is free again (the case was cancelled before it was handed over)."""
    erase_secret: bool = False
    """The sealed password is erased and the link voided (the case ends without a hand-over)."""


class LinkRequest(BaseModel):
    case_id: int
    number: int
    """The case's `number`-th link: sending it again (a retry) sends the same one."""


class IssuedLink(BaseModel):
    expires_at: datetime


class HandoverEvent(StrEnum):
    viewed = "viewed"
    confirmed = "confirmed"
    locked = "locked"
    """Too many wrong second factors: the link opens no more."""


class HandoverNews(BaseModel):
    """Signal from the one-time page: the head saw the credentials, confirmed, or the link was
    locked."""

    event: HandoverEvent
    number: int
    """The link it happened on (a late event of a voided link changes nothing)."""


class HeadReminder(BaseModel):
    """Remind the unit's head to confirm receipt; `escalate` tells the IT supervisor too."""

    case_id: int
    number: int
    escalate: bool = False


class AutomationCall(StrEnum):
    """What the case asks of the automation system (`OFFICE_AUTOMATION=rest`); by hand, the
    admin's task did it."""

    create_post = "create_post"
    create_user = "create_user"
    """The cartable's user, granted its permissions (a manager's management ones too)."""


class AutomationRequest(BaseModel):
    """A call to the automation system; the person's data is read from the letter by case."""

    case_id: int
    call: AutomationCall
    automation_code: str
    username: str | None = None
    permissions: list[CartablePermission | ManagementPermission] = []


class EndOfAppointmentStart(CaseStart):
    form: EndOfAppointment


class RevocationFacts(BaseModel):
    """The post the end-of-appointment letter frees, as the case starts."""

    post_id: int
    post_title: str
    automation_code: str | None
    is_manager: bool
    username: str | None
    """The departing holder's cartable user, from the letter that appointed them."""
    holder_name: str | None


class RevocationChange(CaseLine):
    """A step of the reverse done on the post, with its line on the timeline (once, by key)."""

    withdraw_signature: bool = False
    """The post's signature in use is withdrawn: kept for the record, usable no more."""
    free_post: bool = False
    """The post is vacant again, kept for the next appointment."""


class RevocationCall(StrEnum):
    """What the reverse asks of the automation system (`OFFICE_AUTOMATION=rest`)."""

    disable_user = "disable_user"
    revoke_permissions = "revoke_permissions"
    free_post = "free_post"


class RevocationRequest(BaseModel):
    case_id: int
    call: RevocationCall
    automation_code: str
    username: str | None = None
    is_manager: bool = False
