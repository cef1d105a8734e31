"""Process 1 (ایجاد ایمیل دانشگاهی): the request form and the decisions of its human steps."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from domain.cases import CaseStart
from domain.identity import (
    checked_mobile,
    is_valid_national_code,
    is_valid_username,
)
from domain.tasks import Decision
from domain.text import typed_digits, typed_text

EMAIL = _EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_NAME = re.compile(r"^[\w\u200c\- .']+$")


class Affiliation(StrEnum):
    student = "student"
    staff = "staff"
    faculty = "faculty"


def _check_name(value: str) -> str:
    if not _NAME.match(value) or any(ch.isdigit() for ch in value):
        raise PydanticCustomError("name_invalid", "letters only")
    return value


def _check_national_code(value: str) -> str:
    if not is_valid_national_code(value):
        raise PydanticCustomError("national_code_invalid", "not a valid national code")
    return value


def _check_member_id(value: str) -> str:
    if not value.isdigit() or not 4 <= len(value) <= 15:
        raise PydanticCustomError("member_id_invalid", "4 to 15 digits")
    return value


def _check_username(value: str) -> str:
    if not is_valid_username(value):
        raise PydanticCustomError("username_invalid", "not a valid mailbox name")
    return value


PersonName = Annotated[
    str,
    BeforeValidator(typed_text),
    Field(min_length=2, max_length=50),
    AfterValidator(_check_name),
]
NationalCode = Annotated[str, BeforeValidator(typed_digits), AfterValidator(_check_national_code)]
Mobile = Annotated[str, BeforeValidator(typed_text), AfterValidator(checked_mobile)]
Username = Annotated[
    str,
    BeforeValidator(lambda v: typed_text(v).lower() if isinstance(v, str) else v),
    AfterValidator(_check_username),
]


class EmailRequestForm(BaseModel):
    """The public form (فرم درخواست ایمیل دانشگاهی); every field normalised, then validated."""

    first_name: PersonName
    """نام"""
    last_name: PersonName
    """نام خانوادگی"""
    national_code: NationalCode
    """کد ملی: ten digits with a valid check digit."""
    mobile: Mobile
    """تلفن همراه, stored as 09xxxxxxxxx."""
    affiliation: Affiliation
    """student, staff or faculty."""
    member_id: Annotated[str, BeforeValidator(typed_digits), AfterValidator(_check_member_id)]
    """Student number or personnel number."""
    unit: Annotated[str, BeforeValidator(typed_text), Field(min_length=2, max_length=200)]
    """Faculty, department or office."""
    requested_username: Username
    """The part before @ of the requested address."""
    personal_email: Annotated[str | None, BeforeValidator(typed_text)] = None
    """Where the answer is also sent (optional)."""

    @field_validator("personal_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if not value:
            return None
        if len(value) > 200 or not _EMAIL.match(value):
            raise PydanticCustomError("email_invalid", "not an e-mail address")
        return value.lower()

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class EmailAccountInput(CaseStart):
    """Start input of the e-mail workflow; encrypted in history by the payload codec."""

    form: EmailRequestForm


def _reason_when_refused(accepted_field: str) -> classmethod:  # type: ignore[type-arg]
    """A refusal must say why: the reason is sent to the person (named on the reason field)."""

    def check(cls: type, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get(accepted_field) is False and not (value or "").strip():
            raise PydanticCustomError("reason_required", "a reason is required when refusing")
        return value.strip() if value else value

    return field_validator("refusal_reason")(classmethod(check))


class FormReview(Decision):
    """بررسی فرم ارسالی — is the form filled in correctly and completely?"""

    form_complete: bool = Field(title="Form correct and complete?")
    refusal_reason: str | None = Field(
        default=None,
        max_length=500,
        title="Reason for refusal",
        description="Required when the form is refused; sent to the person.",
        validate_default=True,
    )

    _reason = _reason_when_refused("form_complete")


class IdentityCheck(Decision):
    """تایید هویت کاربر — the person was not found in the registry; check by hand."""

    identity_confirmed: bool = Field(title="Identity confirmed?")
    refusal_reason: str | None = Field(
        default=None,
        max_length=500,
        title="Reason for refusal",
        description="Required when the identity is not confirmed; sent to the person.",
        validate_default=True,
    )

    _reason = _reason_when_refused("identity_confirmed")


class UsernameChoice(Decision):
    """The requested name is taken: pick one of the proposed alternatives."""

    username: str = Field(title="Alternative username")

    @field_validator("username")
    @classmethod
    def _one_of_the_options(cls, value: str, info: ValidationInfo) -> str:
        options = (info.context or {}).get("options", {}).get("username")
        if options is not None and value not in options:
            raise PydanticCustomError("not_an_option", "choose one of the proposed names")
        return value


class UsernameCheck(BaseModel):
    available: bool
    alternatives: list[str] = Field(default_factory=list)


class UsernameQuery(BaseModel):
    case_id: int
    tracking_code: str
    """The owner of the case's mailbox: a mailbox already made for it does not count as taken."""
    username: str


class MailboxRequest(BaseModel):
    case_id: int
    tracking_code: str
    username: str


class MailboxCreated(BaseModel):
    address: str


class RegistryMatch(BaseModel):
    """Outcome of the automatic identity check against the person registry."""

    found: bool
    detail: str = ""


class RequestChecks(BaseModel):
    """The automatic checks made once the form is accepted, in one read."""

    registry: RegistryMatch
    username: UsernameCheck
    """For the username the person asked for."""


USERNAME_TAKEN = "UsernameTaken"
"""Error type of `create_mailbox` when someone else took the name since it was checked."""


class AnswerKind(StrEnum):
    created = "created"
    refused = "refused"
    cancelled = "cancelled"


class EmailAnswer(BaseModel):
    """What the person is told at the end (ارسال پاسخ به کاربر)."""

    case_id: int
    tracking_code: str
    kind: AnswerKind
    address: str | None = None
    reason: str | None = None
