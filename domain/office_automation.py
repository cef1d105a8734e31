"""Process 3 (ایجاد کارتابل اتوماسیون اداری): the units and their heads, the organisational posts
(پست سازمانی) of the office-automation system (Didgah and its peers), the appointment letter
(ابلاغ) a unit sends and its reverse (لغو ابلاغ), the decisions of the automation admin's
tasks, and the rules of a scanned signature.

Every coded value has a Persian label (what the pages and the checklists show) and an English
one. A checklist is a list of enum values: a grant names at least one permission, a reverse
step ticks every item of its list.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from domain.calendar import TEHRAN, parse_date
from domain.identity import is_valid_national_code
from domain.repair import Mobile, OptionalNote, PersonnelNumber
from domain.shams import Email, Flag, SmsMobile
from domain.tasks import Decision, needed_when
from domain.text import empty_as_none, typed_digits, typed_text
from domain.uploads import MB, CheckedFile, FileRefused, UploadKind, check, image_size

# --- the records ---------------------------------------------------------------------------


def _required_text(value: object) -> object:
    value = typed_text(value)
    if isinstance(value, str) and not value:
        raise PydanticCustomError("required", "required")
    return value


def _code(error: str, pattern: str) -> Callable[[object], object]:
    """A code typed with any digits; letters, digits, `-` (and what `pattern` adds) only."""
    shape = re.compile(pattern)

    def check_code(value: object) -> object:
        value = typed_digits(value)
        if not isinstance(value, str):
            return value
        if not value:
            raise PydanticCustomError("required", "required")
        if not shape.fullmatch(value):
            raise PydanticCustomError(error, "letters, digits and - only")
        return value

    return check_code


def _national_code(value: object) -> object:
    value = typed_digits(value)
    if isinstance(value, str):
        if not value:
            raise PydanticCustomError("required", "required")
        if not is_valid_national_code(value):
            raise PydanticCustomError("national_code_invalid", "not a valid national code")
    return value


def _not_future(value: date | None) -> date | None:
    # Tomorrow in Tehran is still today somewhere a clock may be: one day of slack.
    if value is not None and value > datetime.now(TEHRAN).date() + timedelta(days=1):
        raise PydanticCustomError("date_in_the_future", "a day that has not come yet")
    return value


UnitCode = Annotated[
    str, BeforeValidator(_code("unit_code_invalid", r"[A-Za-z0-9-]{1,20}")), Field(max_length=20)
]
"""A unit's code (کد واحد): it names the unit's scope and its cases."""
AutomationCode = Annotated[
    str,
    BeforeValidator(_code("automation_code_invalid", r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")),
    Field(max_length=40),
]
"""A post's code in the automation system, as that system shows it (it goes into URLs)."""
AutomationUsername = Annotated[
    str,
    BeforeValidator(_code("automation_username_invalid", r"[A-Za-z][A-Za-z0-9._@-]{1,63}")),
    Field(max_length=64),
]
NationalCode = Annotated[str, BeforeValidator(_national_code), Field(max_length=10)]
"""کد ملی, typed with any digits, checked by its check digit."""
Name = Annotated[str, BeforeValidator(_required_text), Field(min_length=2, max_length=100)]
Title = Annotated[str, BeforeValidator(_required_text), Field(min_length=2, max_length=200)]
LetterNumber = Annotated[
    str,
    BeforeValidator(_code("letter_number_invalid", r"[\w/.-]{1,40}")),
    Field(max_length=40),
]
"""شماره نامه, as the secretariat numbers it (e.g. ۱۲۳۴/۵۶/د)."""
Day = Annotated[date, BeforeValidator(parse_date)]
"""A date typed in Jalali (۱۴۰۴/۰۹/۱۰) or Gregorian (2025-12-01)."""
LetterDay = Annotated[Day, AfterValidator(_not_future)]
FileId = Annotated[int, Field(ge=1)]
"""A stored file (db/stored_files.py), uploaded through POST /api/files."""


class UnitRow(BaseModel):
    """واحد: a unit of the university, typed in the register's form or a row of its file."""

    code: UnitCode
    name: Title
    parent_code: Annotated[UnitCode | None, BeforeValidator(empty_as_none)] = None
    """The unit it belongs to (کد واحد بالادستی); none for a top unit."""
    head_name: Name
    """The unit's highest authority (بالاترین مقام): receives the credentials of its posts."""
    head_national_code: NationalCode
    """The head's second factor when opening the credentials' link."""
    head_mobile: Annotated[SmsMobile, AfterValidator(lambda v: _present(v))]
    """Where the credentials' one-time link goes by SMS."""
    head_email: Email = None
    active: Flag = True
    """An inactive unit sends no letter."""

    @field_validator("parent_code")
    @classmethod
    def _not_its_own_parent(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and value == info.data.get("code"):
            raise PydanticCustomError("unit_parent_itself", "a unit is not its own parent")
        return value


def _present(value: object) -> object:
    if value is None:
        raise PydanticCustomError("required", "required")
    return value


class PostState(StrEnum):
    """Where a post stands, in the order the process moves it."""

    vacant = "vacant"
    """No holder: free for the next appointment (a freed post is re-used)."""
    being_created = "being_created"
    """An appointment letter is being carried out: post, signature, cartable, handover."""
    held = "held"
    being_revoked = "being_revoked"
    """An end-of-appointment letter is being carried out: cartable, permissions, signature."""


POST_STATE_FA: dict[PostState, str] = {
    PostState.vacant: "بدون متصدی",
    PostState.being_created: "در حال ایجاد",
    PostState.held: "دارای متصدی",
    PostState.being_revoked: "در حال لغو",
}
POST_STATE_EN: dict[PostState, str] = {
    PostState.vacant: "Vacant",
    PostState.being_created: "Being created",
    PostState.held: "Held",
    PostState.being_revoked: "Being revoked",
}


class HandoverState(StrEnum):
    """Where the hand-over of a cartable's username and password to the unit's head stands
    (اعلام نام کاربری و پسورد): what the unit's page shows for each letter."""

    waiting = "waiting"
    """The cartable is not ready yet: nothing to hand over."""
    link_sent = "link_sent"
    viewed = "viewed"
    """The head saw the credentials; receipt not confirmed yet."""
    confirmed = "confirmed"
    expired = "expired"
    """The link expired unused; the admin issues a new one."""


HANDOVER_STATE_FA: dict[HandoverState, str] = {
    HandoverState.waiting: "در انتظار ایجاد کارتابل",
    HandoverState.link_sent: "پیوند یک‌بارمصرف ارسال شد",
    HandoverState.viewed: "مشاهده شد، در انتظار تایید دریافت",
    HandoverState.confirmed: "دریافت تایید شد",
    HandoverState.expired: "پیوند منقضی شد",
}
HANDOVER_STATE_EN: dict[HandoverState, str] = {
    HandoverState.waiting: "Waiting for the cartable",
    HandoverState.link_sent: "One-time link sent",
    HandoverState.viewed: "Viewed, receipt not confirmed",
    HandoverState.confirmed: "Receipt confirmed",
    HandoverState.expired: "Link expired",
}


class PostRow(BaseModel):
    """پست سازمانی: a post of a unit, as the register's form creates it (its holder and state
    are the process's)."""

    unit_code: UnitCode
    title: Title
    automation_code: Annotated[AutomationCode | None, BeforeValidator(empty_as_none)] = None
    """Its code in the automation system; none until the admin creates it there."""
    is_manager: bool = False
    """A manager's post: its holder signs, and has the management permissions."""


# --- the letters ---------------------------------------------------------------------------


class AppointmentLetter(BaseModel):
    """درخواست ارسال ابلاغ: the appointment letter a unit's secretariat sends."""

    letter_number: LetterNumber = Field(title="Letter number")
    letter_date: LetterDay = Field(title="Letter date")
    national_code: NationalCode = Field(title="National code")
    first_name: Name = Field(title="First name")
    last_name: Name = Field(title="Last name")
    personnel_number: PersonnelNumber = Field(title="Personnel number")
    mobile: Mobile = Field(title="Mobile")
    post_title: Title = Field(title="Post title")
    """The post the person is appointed to; a vacant post of this title in the unit is re-used."""
    unit_code: UnitCode = Field(title="Unit code")
    effective_date: Day = Field(title="Effective date")
    is_manager: bool = Field(default=False, title="A manager's post?")
    letter_file_id: FileId = Field(title="The letter (PDF)", json_schema_extra={"x-file": "pdf"})
    """The scanned letter, a stored PDF."""

    @field_validator("effective_date")
    @classmethod
    def _not_before_the_letter(cls, value: date, info: ValidationInfo) -> date:
        letter = info.data.get("letter_date")
        if letter is not None and value < letter:
            raise PydanticCustomError("effective_before_letter", "before the letter's date")
        return value

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class EndOfAppointment(BaseModel):
    """لغو ابلاغ: the letter ending a person's appointment to a post."""

    letter_number: LetterNumber = Field(title="Letter number")
    letter_date: LetterDay = Field(title="Letter date")
    national_code: NationalCode = Field(title="National code of the holder")
    unit_code: UnitCode = Field(title="Unit code")
    post_id: Annotated[
        Annotated[int, Field(ge=1)] | None,
        BeforeValidator(lambda v: empty_as_none(typed_digits(v))),
    ] = Field(default=None, title="Post (its number in Peygir)")
    post_code: Annotated[AutomationCode | None, BeforeValidator(empty_as_none)] = Field(
        default=None, title="Post code in the automation system", validate_default=True
    )
    """The post, by its code in the automation system or its number in Peygir (one of them)."""
    end_date: Day = Field(title="End date")
    letter_file_id: FileId = Field(title="The letter (PDF)", json_schema_extra={"x-file": "pdf"})

    _post_named = field_validator("post_code")(
        needed_when("post_id", None, "post_required", "the post's code or its number")
    )


# --- the automation admin's decisions ------------------------------------------------------

E = TypeVar("E", bound=StrEnum)


class ManagementPermission(StrEnum):
    """دسترسی‌های مدیریت: what a manager's cartable may do beyond an employee's."""

    sign_letters = "sign_letters"
    approve_outgoing = "approve_outgoing"
    refer_to_subordinates = "refer_to_subordinates"
    view_subordinate_cartables = "view_subordinate_cartables"
    confidential_letters = "confidential_letters"
    delegate = "delegate"


MANAGEMENT_PERMISSION_FA: dict[ManagementPermission, str] = {
    ManagementPermission.sign_letters: "امضای نامه‌ها",
    ManagementPermission.approve_outgoing: "تایید نامه‌های صادره",
    ManagementPermission.refer_to_subordinates: "ارجاع به زیرمجموعه",
    ManagementPermission.view_subordinate_cartables: "مشاهده کارتابل زیرمجموعه",
    ManagementPermission.confidential_letters: "دسترسی به نامه‌های محرمانه",
    ManagementPermission.delegate: "تعیین جانشین (تفویض اختیار)",
}
MANAGEMENT_PERMISSION_EN: dict[ManagementPermission, str] = {
    ManagementPermission.sign_letters: "Sign letters",
    ManagementPermission.approve_outgoing: "Approve outgoing letters",
    ManagementPermission.refer_to_subordinates: "Refer to subordinates",
    ManagementPermission.view_subordinate_cartables: "View subordinates' cartables",
    ManagementPermission.confidential_letters: "Confidential letters",
    ManagementPermission.delegate: "Appoint a deputy (delegation)",
}


class CartablePermission(StrEnum):
    """دسترسی‌های لازم: what every cartable of the post may do."""

    receive_letters = "receive_letters"
    compose_internal = "compose_internal"
    refer = "refer"
    register_incoming = "register_incoming"
    register_outgoing = "register_outgoing"
    archive = "archive"
    search = "search"


CARTABLE_PERMISSION_FA: dict[CartablePermission, str] = {
    CartablePermission.receive_letters: "دریافت نامه در کارتابل",
    CartablePermission.compose_internal: "ایجاد نامه داخلی",
    CartablePermission.refer: "ارجاع نامه",
    CartablePermission.register_incoming: "ثبت نامه وارده (دبیرخانه)",
    CartablePermission.register_outgoing: "ثبت نامه صادره (دبیرخانه)",
    CartablePermission.archive: "بایگانی",
    CartablePermission.search: "جستجوی نامه‌ها",
}
CARTABLE_PERMISSION_EN: dict[CartablePermission, str] = {
    CartablePermission.receive_letters: "Receive letters in the cartable",
    CartablePermission.compose_internal: "Compose internal letters",
    CartablePermission.refer: "Refer letters",
    CartablePermission.register_incoming: "Register incoming letters (secretariat)",
    CartablePermission.register_outgoing: "Register outgoing letters (secretariat)",
    CartablePermission.archive: "Archive",
    CartablePermission.search: "Search letters",
}


class CartableClosing(StrEnum):
    """غیرفعال‌سازی کارتابل: what disabling a departed holder's cartable takes."""

    user_disabled = "user_disabled"
    sessions_ended = "sessions_ended"
    open_letters_referred = "open_letters_referred"


class PermissionRevocation(StrEnum):
    """سلب دسترسی‌ها: what revoking the holder's permissions takes."""

    cartable_permissions_revoked = "cartable_permissions_revoked"
    management_permissions_revoked = "management_permissions_revoked"
    """A non-manager had none: ticked as nothing left to revoke."""
    delegations_cancelled = "delegations_cancelled"


class SignatureWithdrawal(StrEnum):
    """ابطال امضا: a departed manager's signature, kept for the record, usable no more."""

    removed_from_system = "removed_from_system"
    signed_drafts_checked = "signed_drafts_checked"
    """No unsent draft still carries the signature."""


class PostRelease(StrEnum):
    """آزادسازی پست: the post kept, without a holder, for the next appointment."""

    holder_detached = "holder_detached"
    post_kept = "post_kept"


CHECKLIST_FA: dict[StrEnum, str] = {
    CartableClosing.user_disabled: "حساب کاربری در سامانه غیرفعال شد",
    CartableClosing.sessions_ended: "نشست‌های باز کاربر بسته شد",
    CartableClosing.open_letters_referred: "نامه‌های در جریان به جانشین یا مدیر ارجاع شد",
    PermissionRevocation.cartable_permissions_revoked: "دسترسی‌های کارتابل گرفته شد",
    PermissionRevocation.management_permissions_revoked: "دسترسی‌های مدیریتی گرفته شد",
    PermissionRevocation.delegations_cancelled: "جانشینی‌ها و تفویض‌ها لغو شد",
    SignatureWithdrawal.removed_from_system: "امضا از سامانه برداشته شد",
    SignatureWithdrawal.signed_drafts_checked: "پیش‌نویس‌های دارای امضا بررسی شد",
    PostRelease.holder_detached: "متصدی از پست جدا شد",
    PostRelease.post_kept: "پست برای ابلاغ بعدی نگه داشته شد",
}
CHECKLIST_EN: dict[StrEnum, str] = {
    CartableClosing.user_disabled: "The user is disabled in the system",
    CartableClosing.sessions_ended: "The user's open sessions are ended",
    CartableClosing.open_letters_referred: "Letters in progress referred to a deputy or manager",
    PermissionRevocation.cartable_permissions_revoked: "Cartable permissions revoked",
    PermissionRevocation.management_permissions_revoked: "Management permissions revoked",
    PermissionRevocation.delegations_cancelled: "Delegations cancelled",
    SignatureWithdrawal.removed_from_system: "Signature removed from the system",
    SignatureWithdrawal.signed_drafts_checked: "Drafts carrying the signature checked",
    PostRelease.holder_detached: "Holder detached from the post",
    PostRelease.post_kept: "Post kept for the next appointment",
}


def _distinct(values: list[E]) -> list[E]:
    if len(set(values)) != len(values):
        raise PydanticCustomError("invalid_value", "an item is named twice")
    return values


def _every_item(items: type[E]) -> Any:
    """A validator of a reverse step's checklist: every item ticked, once."""

    def check_items(cls: type, value: list[E]) -> list[E]:
        if any(item not in value for item in items):
            raise PydanticCustomError("checklist_incomplete", "tick every item")
        return _distinct(value)

    return classmethod(check_items)


def _granted() -> Any:
    def check_items(cls: type, value: list[E]) -> list[E]:
        return _distinct(value)

    return classmethod(check_items)


Note = Annotated[OptionalNote, Field(title="Note")]


class PostCreated(Decision):
    """ایجاد پست سازمانی مرتبط در واحد مربوطه: the post as created in the automation system."""

    automation_code: AutomationCode = Field(title="Post code in the automation system")
    permissions_group: Title = Field(title="Permissions group")
    """The system's group (گروه دسترسی) the post was put in."""
    note: Note = None


class ManagerAccess(Decision):
    """اسکن امضاء و دادن دسترسی‌های مدیریت: the manager's signature and what was granted."""

    signature_file_id: FileId = Field(
        title="Signature (a stored image)", json_schema_extra={"x-file": "signature"}
    )
    """Uploaded under the signature rules (`checked_signature`) by the admin or the unit."""
    permissions: list[ManagementPermission] = Field(
        min_length=1, max_length=len(ManagementPermission), title="Management permissions granted"
    )
    note: Note = None

    _once_each = field_validator("permissions")(_granted())


class CartableCreated(Decision):
    """ایجاد کارتابل و دادن دسترسی‌های لازم: the user in the automation system and its grants."""

    username: AutomationUsername = Field(title="Username in the automation system")
    permissions: list[CartablePermission] = Field(
        min_length=1, max_length=len(CartablePermission), title="Permissions granted"
    )
    note: Note = None

    _once_each = field_validator("permissions")(_granted())


class CartableDisabled(Decision):
    """غیرفعال‌سازی کارتابل: the departed holder's cartable, closed."""

    done: list[CartableClosing] = Field(title="Done")
    note: Note = None

    _all = field_validator("done")(_every_item(CartableClosing))


class PermissionsRevoked(Decision):
    """سلب دسترسی‌ها: every permission of the departed holder, revoked."""

    done: list[PermissionRevocation] = Field(title="Done")
    note: Note = None

    _all = field_validator("done")(_every_item(PermissionRevocation))


class SignatureWithdrawn(Decision):
    """ابطال امضا: the departed manager's signature, withdrawn (kept for the record)."""

    done: list[SignatureWithdrawal] = Field(title="Done")
    note: Note = None

    _all = field_validator("done")(_every_item(SignatureWithdrawal))


class PostFreed(Decision):
    """آزادسازی پست: the post, without a holder, kept for the next appointment."""

    done: list[PostRelease] = Field(title="Done")
    note: Note = None

    _all = field_validator("done")(_every_item(PostRelease))


# --- the signature -------------------------------------------------------------------------

SIGNATURE_MAX_BYTES = 2 * MB
"""A scanned signature at 300 dpi is a few hundred KB."""
SIGNATURE_MIN_SIZE = (150, 50)
"""Width and height below which strokes cannot be read (a thumbnail, a crop gone wrong)."""
SIGNATURE_MAX_SIZE = (3000, 2000)
"""Width and height past which it is a whole scanned page, not a signature."""


def checked_signature(data: bytes) -> CheckedFile:
    """A signature image as it may be kept: PNG or JPEG by its bytes, at most
    SIGNATURE_MAX_BYTES, within the size limits, re-encoded without metadata (domain.uploads);
    FileRefused with the reason otherwise."""
    upload = check(data, UploadKind.signature, limit=SIGNATURE_MAX_BYTES)
    width, height = image_size(upload.data)
    if width < SIGNATURE_MIN_SIZE[0] or height < SIGNATURE_MIN_SIZE[1]:
        raise FileRefused(
            "signature_too_small", width=SIGNATURE_MIN_SIZE[0], height=SIGNATURE_MIN_SIZE[1]
        )
    if width > SIGNATURE_MAX_SIZE[0] or height > SIGNATURE_MAX_SIZE[1]:
        raise FileRefused(
            "signature_too_big", width=SIGNATURE_MAX_SIZE[0], height=SIGNATURE_MAX_SIZE[1]
        )
    return upload


# --- the automation system -----------------------------------------------------------------


class AutomationPost(BaseModel):
    """A post as the automation system is asked to create it: the post's code is the key that
    makes every call idempotent (a retry after a lost answer creates nothing twice)."""

    automation_code: AutomationCode
    unit_code: UnitCode
    title: Title
    is_manager: bool = False


class AutomationUser(BaseModel):
    """A cartable: the user holding a post in the automation system."""

    automation_code: AutomationCode
    """The post it holds."""
    username: AutomationUsername
    national_code: NationalCode
    first_name: Name
    last_name: Name


class AutomationGrant(BaseModel):
    """Permissions of a post's user, granted or revoked."""

    automation_code: AutomationCode
    username: AutomationUsername
    permissions: list[CartablePermission | ManagementPermission] = Field(min_length=1)
