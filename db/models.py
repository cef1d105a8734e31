"""The system of record: SQLModel tables. Schema changes go through Alembic (db/migrations)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, DateTime, Index, String, TypeDecorator, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.cases import CaseStatus, EventKind, TaskStatus


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone, so it is restored on load)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class EnumText(TypeDecorator[StrEnum]):
    """A StrEnum kept as plain text (no database enum type to migrate), loaded as the enum."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[StrEnum], length: int) -> None:
        super().__init__(length)
        self._enum = enum

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else self._enum(value).value

    def process_result_value(self, value: str | None, dialect: Any) -> StrEnum | None:
        return None if value is None else self._enum(value)


def _ts(**kw: Any) -> Any:
    return Field(sa_type=UtcDateTime, **kw)


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, index=True, max_length=64)
    full_name: str = Field(default="", max_length=200)
    password_hash: str = Field(max_length=200)
    roles: list[str] = Field(default_factory=list, sa_type=JSON)
    scopes: list[str] = Field(default_factory=list, sa_type=JSON)
    """Units, counties or hospitals this user acts for (`*` for all)."""
    email: str | None = Field(default=None, max_length=200)
    mobile: str | None = Field(default=None, max_length=20)
    is_active: bool = True
    created_at: datetime = _ts(default_factory=utcnow)
    tokens_valid_after: datetime | None = _ts(default=None)
    """Tokens issued before this moment are void (a password reset, a disable, "log out
    everywhere"); compared to the token's `iat` to the microsecond."""


class Case(SQLModel, table=True):
    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_requester", "process", "requester_identity", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    tracking_code: str = Field(unique=True, index=True, max_length=20)
    process: str = Field(index=True, max_length=40)
    """The kind of its process declaration (processes.registry)."""
    workflow_id: str = Field(unique=True, max_length=100)
    idempotency_key: str | None = Field(default=None, unique=True, max_length=200)
    requester_name: str = Field(default="", max_length=200)
    requester_identity: str | None = Field(default=None, max_length=30)
    """The second factor of public tracking (national code, personnel number); None when
    only staff follow the case."""
    requester_contact: str | None = Field(default=None, max_length=200)
    """Where the answer goes: a mobile number or an e-mail address."""
    requester_unit: str = Field(default="", max_length=200)
    started_by: str | None = Field(default=None, max_length=64)
    scope: str | None = Field(default=None, max_length=64, index=True)
    """Whose case it is beyond its tasks (a hospital's): users of that scope see it."""
    """The staff member who started the case (for someone else, or a staff-only process)."""
    status: CaseStatus = Field(
        default=CaseStatus.open, sa_type=EnumText(CaseStatus, 20), index=True
    )
    current_step: str | None = Field(default=None, max_length=60)
    outcome: str | None = Field(default=None, max_length=20)
    outcome_detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    """What the requester is told at the end: the new address, or the refusal reason."""
    answer_due_at: datetime | None = _ts(default=None)
    created_at: datetime = _ts(default_factory=utcnow)
    updated_at: datetime = _ts(default_factory=utcnow)
    closed_at: datetime | None = _ts(default=None)


class Task(SQLModel, table=True):
    """A human step in a cartable; its id comes from the workflow, so writes are idempotent."""

    __tablename__ = "tasks"
    __table_args__ = (
        # Covering indexes of the cartable query (api/routes/tasks.py visible_to).
        Index(
            "ix_tasks_cartable_role",
            "status",
            "role",
            "scope",
            "assignee",
            "overdue",
            "due_at",
            "process",
            "id",
        ),
        Index(
            "ix_tasks_cartable_assignee", "status", "assignee", "overdue", "due_at", "process", "id"
        ),
    )

    id: str = Field(primary_key=True, max_length=160)
    case_id: int = Field(foreign_key="cases.id", index=True)
    process: str = Field(max_length=40)
    step: str = Field(max_length=60)
    title_fa: str = Field(max_length=200)
    title_en: str = Field(max_length=200)
    role: str = Field(max_length=40)
    scope: str | None = Field(default=None, max_length=100)
    assignee: str | None = Field(default=None, max_length=64)
    status: TaskStatus = Field(default=TaskStatus.open, sa_type=EnumText(TaskStatus, 20))
    overdue: bool = False
    due_at: datetime = _ts()
    form_schema: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    context: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    """The case's data shown beside the decision form."""
    decision: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    completed_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = _ts(default_factory=utcnow)
    completed_at: datetime | None = _ts(default=None)


class CaseEvent(SQLModel, table=True):
    """The case timeline; `event_key` makes a retried activity write an event once."""

    __tablename__ = "case_events"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    event_key: str | None = Field(default=None, unique=True, max_length=200)
    kind: EventKind = Field(sa_type=EnumText(EventKind, 30))
    step: str | None = Field(default=None, max_length=60)
    actor: str | None = Field(default=None, max_length=64)
    text_fa: str = Field(default="", max_length=2000)
    text_en: str = Field(default="", max_length=2000)
    public: bool = False
    """Shown to the requester on the tracking page."""
    at: datetime = _ts(default_factory=utcnow)


class Holiday(SQLModel, table=True):
    __tablename__ = "holidays"

    day: date = Field(primary_key=True)
    title: str = Field(max_length=200)


class Person(SQLModel, table=True):
    """The university's person registry (HR and education records), imported from CSV."""

    __tablename__ = "people"
    __table_args__ = (UniqueConstraint("national_code", "member_id"),)

    id: int | None = Field(default=None, primary_key=True)
    national_code: str = Field(max_length=10, index=True)
    member_id: str = Field(max_length=30)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    affiliation: str = Field(max_length=20)
    unit: str = Field(default="", max_length=200)
    is_active: bool = True


class EmailRequest(SQLModel, table=True):
    """The form as submitted; kept so that an accepted request can always be restarted."""

    __tablename__ = "email_requests"

    case_id: int = Field(primary_key=True, foreign_key="cases.id")
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    national_code: str = Field(max_length=10)
    mobile: str = Field(max_length=11)
    affiliation: str = Field(max_length=20)
    member_id: str = Field(max_length=30)
    unit: str = Field(max_length=200)
    requested_username: str = Field(max_length=32)
    personal_email: str | None = Field(default=None, max_length=200)


class MailAccount(SQLModel, table=True):
    __tablename__ = "mail_accounts"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(unique=True, foreign_key="cases.id")
    username: str = Field(unique=True, max_length=32)
    address: str = Field(max_length=200)
    created_at: datetime = _ts(default_factory=utcnow)


class DirectoryMailbox(SQLModel, table=True):
    """The local mail directory (the default MailDirectory): a mailbox per row."""

    __tablename__ = "directory_mailboxes"

    username: str = Field(primary_key=True, max_length=32)
    address: str = Field(max_length=200)
    display_name: str = Field(max_length=200)
    owner_ref: str = Field(max_length=100)
    """Who the mailbox was made for (the case's tracking code): a retry recognises its own."""
    password_hash: str = Field(max_length=200)
    created_at: datetime = _ts(default_factory=utcnow)


class CredentialReveal(SQLModel, table=True):
    """An initial password waiting to be shown once, encrypted; erased when shown or expired."""

    __tablename__ = "credential_reveals"

    case_id: int = Field(primary_key=True, foreign_key="cases.id")
    ciphertext: str | None = Field(default=None, max_length=500)
    expires_at: datetime = _ts()
    revealed_at: datetime | None = _ts(default=None)


class OutboundMessage(SQLModel, table=True):
    """Every SMS and e-mail sent; `message_key` makes a retried send go out once."""

    __tablename__ = "outbound_messages"

    id: int | None = Field(default=None, primary_key=True)
    message_key: str = Field(unique=True, max_length=200)
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    channel: str = Field(max_length=10)
    recipient: str = Field(max_length=200)
    subject: str = Field(default="", max_length=300)
    body: str = Field(max_length=4000)
    sent_at: datetime | None = _ts(default=None)
    created_at: datetime = _ts(default_factory=utcnow)


class LoginOutcome(StrEnum):
    ok = "ok"
    wrong_password = "wrong_password"
    unknown_user = "unknown_user"
    locked = "locked"
    """Refused unread: the account or the address was locked after too many failures."""
    disabled = "disabled"


class LoginThrottle(SQLModel, table=True):
    """Failed logins counted per key (`account:{name}` or `address:{ip}`), so a lock holds
    across API processes and restarts. A row idle for the failure window is purged."""

    __tablename__ = "login_throttles"

    key: str = Field(primary_key=True, max_length=120)
    failures: int = 0
    """Failures counted in the current window (attempts refused by a lock are not counted)."""
    last_failure_at: datetime = _ts(index=True)
    locked_until: datetime | None = _ts(default=None)


class LoginRecord(SQLModel, table=True):
    """Every login attempt, API or web, with its outcome. Never the password."""

    __tablename__ = "login_records"
    __table_args__ = (Index("ix_login_records_username_at", "username", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(default_factory=utcnow, index=True)
    username: str = Field(max_length=64)
    """As typed, truncated."""
    user_id: int | None = Field(default=None)
    """The account's id when the name is one."""
    address: str = Field(default="", max_length=64)
    user_agent: str = Field(default="", max_length=300)
    outcome: LoginOutcome = Field(sa_type=EnumText(LoginOutcome, 20), index=True)
    channel: str = Field(default="api", max_length=10)
    """`api` (POST /api/auth/token) or `web` (the /login page)."""


class RevokedToken(SQLModel, table=True):
    """A token logged out before its expiry; purged once it has expired anyway."""

    __tablename__ = "revoked_tokens"

    jti: str = Field(primary_key=True, max_length=64)
    expires_at: datetime = _ts(index=True)


class AuditEntry(SQLModel, table=True):
    """The admin audit log: who changed what, when, from where. Append-only: no route changes
    or deletes a row (on PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE)."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(default_factory=utcnow, index=True)
    actor: str = Field(max_length=64)
    action: str = Field(max_length=40, index=True)
    """e.g. `user.create`, `holiday.delete`, `case.cancel` (api/audit.py lists them)."""
    target: str = Field(default="", max_length=200)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    """What changed (old and new values); never a password or a secret."""
    address: str = Field(default="", max_length=64)


class StoredFile(SQLModel, table=True):
    """An upload kept for a case (a letter, a signature, a site list): its bytes are the file
    `name` under FILE_STORE_DIR (db/stored_files.py), outside the web root."""

    __tablename__ = "stored_files"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=32)
    """Random (32 hex digits); nothing of the upload's own name is in it."""
    kind: str = Field(max_length=20)
    """domain.uploads.UploadKind."""
    media_type: str = Field(max_length=100)
    """What its bytes are (domain.uploads.MediaType); served back as its Content-Type."""
    size: int
    sha256: str = Field(max_length=64)
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    """None: not a case's file; only admins download it."""
    uploaded_by: str = Field(max_length=64)
    created_at: datetime = _ts(default_factory=utcnow)
