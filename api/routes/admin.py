"""Admin: users and roles, the holiday calendar, the person registry import."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, File, Request, UploadFile, status
from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, field_validator
from pydantic_core import PydanticCustomError
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from api.errors import ApiError, FieldProblem, documented, lang_of
from api.security import SessionDep, require_role
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
def create_user(body: NewUser, request: Request, session: SessionDep) -> User:
    user = User(**body.model_dump(exclude={"password"}), password_hash=hash_password(body.password))
    session.add(user)
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


@router.patch("/users/{username}", response_model=UserView, responses=documented(404))
def change_user(username: str, body: UserChange, session: SessionDep) -> User:
    user = _user(session, username)
    user.sqlmodel_update(body.model_dump(exclude_unset=True))
    session.add(user)
    session.commit()
    return user


@router.post(
    "/users/{username}/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=documented(404),
)
def reset_password(username: str, body: PasswordReset, session: SessionDep) -> None:
    user = _user(session, username)
    user.password_hash = hash_password(body.password)
    session.add(user)
    session.commit()


@router.get("/holidays", response_model=list[HolidayView])
def list_holidays(session: SessionDep) -> list[Holiday]:
    return list(session.exec(select(Holiday).order_by(col(Holiday.day))))


@router.put("/holidays/{day}", response_model=HolidayView)
def put_holiday(day: date, body: HolidayTitle, session: SessionDep) -> Holiday:
    """Add or rename an official holiday. Cases already waiting keep the due dates they have."""
    holiday = session.get(Holiday, day) or Holiday(day=day, title=body.title)
    holiday.title = body.title
    session.add(holiday)
    session.commit()
    return holiday


@router.delete("/holidays/{day}", status_code=status.HTTP_204_NO_CONTENT, responses=documented(404))
def delete_holiday(day: date, session: SessionDep) -> None:
    holiday = session.get(Holiday, day)
    if holiday is None:
        raise ApiError(404, "not_found")
    session.delete(holiday)
    session.commit()


@router.post("/people/import", response_model=ImportReport, responses=documented(413))
def import_registry(
    file: Annotated[UploadFile, File()], request: Request, session: SessionDep
) -> ImportReport:
    """Upload the person registry as CSV (UTF-8) or XLSX: national_code, member_id, first_name,
    last_name, affiliation, unit. The file goes through the shared upload checks (api/uploads.py):
    refused whole (413 or 422 on `file`) when it is no spreadsheet or past the caps."""
    lang = lang_of(request)
    upload = receive(file, UploadKind.spreadsheet, lang)
    try:
        return import_people(session, upload)
    except FileRefused as error:
        raise refusal(error, lang) from None
    except ColumnsMissing as error:
        problem = FieldProblem(
            field="file",
            reason=message("columns_missing", lang, columns=", ".join(error.columns)),
            code="columns_missing",
        )
        raise ApiError(422, "invalid_value", [problem]) from None
