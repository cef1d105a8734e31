"""Admin: users and roles, the holiday calendar, the person registry import."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, File, Request, UploadFile, status
from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, field_validator
from pydantic_core import PydanticCustomError
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from api.audit import audit, changed
from api.errors import ApiError, FieldProblem, documented, lang_of
from api.security import CurrentUser, SessionDep, require_role, void_tokens
from api.uploads import receive, refusal
from db.models import Holiday, User
from db.people import ColumnsMissing, ImportReport, import_people
from domain.cases import STAFF_ROLES, Role
from domain.email_account import EMAIL
from domain.messages import message
from domain.passwords import hash_password
from domain.text import normalize_text
from domain.uploads import FileRefused, UploadKind

router = APIRouter(
    prefix="/api/admin",
    tags=["admin"],
    dependencies=[Depends(require_role(Role.admin))],
    responses=documented(401, 403),
)

Text = Annotated[str, BeforeValidator(lambda v: normalize_text(v) if isinstance(v, str) else v)]


def _email(value: object) -> object:
    """An empty address is no address; any other must look like one."""
    if not isinstance(value, str):
        return value
    value = value.strip()
    if not value:
        return None
    if len(value) > 200 or not EMAIL.match(value):
        raise PydanticCustomError("email_invalid", "not an e-mail address")
    return value


Email = Annotated[str | None, BeforeValidator(_email)]


def _staff_role(value: Role) -> Role:
    if value not in STAFF_ROLES:
        raise PydanticCustomError("role_not_staff", "requester is not a role a login holds")
    return value


StaffRole = Annotated[Role, AfterValidator(_staff_role)]


class UserView(BaseModel):
    username: str
    full_name: str
    roles: list[Role]
    scopes: list[str]
    email: str | None
    mobile: str | None
    is_active: bool


class NewUser(BaseModel):
    username: Annotated[str, Field(pattern=r"^[a-z][a-z0-9._-]{1,63}$")]
    full_name: Text = ""
    password: Annotated[str, Field(min_length=8, max_length=200)]
    roles: list[StaffRole]
    scopes: list[str] = Field(default_factory=list)
    email: Email = None
    mobile: str | None = None


class UserChange(BaseModel):
    full_name: Text | None = None
    roles: list[StaffRole] | None = None
    scopes: list[str] | None = None
    email: Email = None
    is_active: bool | None = None
    """False disables the login; tasks stay with the role."""

    @field_validator("full_name", "roles", "scopes", "is_active")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:  # leave a field out to keep it; null is not a value for it
            raise PydanticCustomError("invalid_value", "may be left out, not null")
        return value


class PasswordReset(BaseModel):
    password: Annotated[str, Field(min_length=8, max_length=200)]


class HolidayTitle(BaseModel):
    title: Annotated[Text, Field(min_length=2, max_length=200)]
    """e.g. «عید فطر»."""


class HolidayView(HolidayTitle):
    day: date


def _problem(field: str, code: str, request: Request) -> FieldProblem:
    return FieldProblem(field=field, reason=message(code, lang_of(request)), code=code)


def _user(session: SessionDep, username: str) -> User:
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise ApiError(404, "not_found")
    return user


@router.get("/users", response_model=list[UserView])
def list_users(session: SessionDep) -> list[User]:
    return list(session.exec(select(User).order_by(col(User.username))))


@router.post(
    "/users",
    response_model=UserView,
    status_code=status.HTTP_201_CREATED,
    responses=documented(409),
)
def create_user(body: NewUser, request: Request, session: SessionDep, admin: CurrentUser) -> User:
    user = User(**body.model_dump(exclude={"password"}), password_hash=hash_password(body.password))
    session.add(user)
    audit(
        session,
        request,
        admin,
        "user.create",
        user.username,
        **body.model_dump(exclude={"password"}, mode="json"),
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ApiError(
            409,
            "conflict",
            [_problem("username", "conflict", request)],
        ) from None
    return user


ROLE_FIELDS = ("roles", "scopes")


@router.patch("/users/{username}", response_model=UserView, responses=documented(404))
def change_user(
    username: str, body: UserChange, request: Request, session: SessionDep, admin: CurrentUser
) -> User:
    user = _user(session, username)
    updates = body.model_dump(exclude_unset=True, mode="json")
    diff = changed(user.model_dump(include=set(updates), mode="json"), updates)
    user.sqlmodel_update(body.model_dump(exclude_unset=True))
    if body.is_active is False:
        void_tokens(user)  # re-enabling it later does not bring its old tokens back
    session.add(user)
    if "is_active" in diff:
        audit(
            session, request, admin, "user.enable" if user.is_active else "user.disable", username
        )
    roles = {k: v for k, v in diff.items() if k in ROLE_FIELDS}
    if roles:
        audit(session, request, admin, "user.roles", username, **roles)
    rest = {k: v for k, v in diff.items() if k not in (*ROLE_FIELDS, "is_active")}
    if rest:
        audit(session, request, admin, "user.change", username, **rest)
    session.commit()
    return user


@router.post(
    "/users/{username}/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=documented(404),
)
def reset_password(
    username: str, body: PasswordReset, request: Request, session: SessionDep, admin: CurrentUser
) -> None:
    user = _user(session, username)
    user.password_hash = hash_password(body.password)
    void_tokens(user)  # whoever knew the old password is logged out everywhere
    session.add(user)
    audit(session, request, admin, "user.password_reset", username)
    session.commit()


@router.get("/holidays", response_model=list[HolidayView])
def list_holidays(session: SessionDep) -> list[Holiday]:
    return list(session.exec(select(Holiday).order_by(col(Holiday.day))))


@router.put("/holidays/{day}", response_model=HolidayView)
def put_holiday(
    day: date, body: HolidayTitle, request: Request, session: SessionDep, admin: CurrentUser
) -> Holiday:
    """Add or rename an official holiday. Cases already waiting keep the due dates they have."""
    holiday = session.get(Holiday, day)
    if holiday is None:
        holiday = Holiday(day=day, title=body.title)
        audit(session, request, admin, "holiday.add", day, title=body.title)
    elif holiday.title != body.title:
        audit(session, request, admin, "holiday.rename", day, title=[holiday.title, body.title])
    holiday.title = body.title
    session.add(holiday)
    session.commit()
    return holiday


@router.delete("/holidays/{day}", status_code=status.HTTP_204_NO_CONTENT, responses=documented(404))
def delete_holiday(day: date, request: Request, session: SessionDep, admin: CurrentUser) -> None:
    holiday = session.get(Holiday, day)
    if holiday is None:
        raise ApiError(404, "not_found")
    session.delete(holiday)
    audit(session, request, admin, "holiday.delete", day, title=holiday.title)
    session.commit()


@router.post("/people/import", response_model=ImportReport, responses=documented(413))
def import_registry(
    file: Annotated[UploadFile, File()], request: Request, session: SessionDep, admin: CurrentUser
) -> ImportReport:
    """Upload the person registry as CSV (UTF-8) or XLSX: national_code, member_id, first_name,
    last_name, affiliation, unit. The file goes through the shared upload checks (api/uploads.py):
    refused whole (413 or 422 on `file`) when it is no spreadsheet or past the caps."""
    lang = lang_of(request)
    upload = receive(file, UploadKind.spreadsheet, lang)
    try:
        return import_people(
            session,
            upload,
            before_commit=lambda report: audit(
                session,
                request,
                admin,
                "people.import",
                file.filename or "",
                created=report.created,
                updated=report.updated,
                errors=len(report.errors),
            ),
        )
    except FileRefused as error:
        raise refusal(error, lang) from None
    except ColumnsMissing as error:
        problem = FieldProblem(
            field="file",
            reason=message("columns_missing", lang, columns=", ".join(error.columns)),
            code="columns_missing",
        )
        raise ApiError(422, "invalid_value", [problem]) from None
