"""Tables of process 3 (office-automation cartables): the units and their heads, the posts of the
automation system, the appointment letters and their reverses (the start forms, by case, and
where each case stands), and the signatures kept for the record.

Who sees what is said by scopes: a `unit_secretary` user's scope is `unit_scope(code)`, its unit;
it sees that unit's posts and letters only. The automation admins (and admins) see every unit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, Index, true
from sqlalchemy.orm import Mapped
from sqlmodel import Field, Session, SQLModel, col, select

from db.models import EnumText, StoredFile, UtcDateTime, utcnow
from domain.cases import ALL_SCOPES, Role
from domain.office_automation import (
    AppointmentLetter,
    EndOfAppointment,
    HandoverState,
    PostState,
)
from domain.uploads import UploadKind

UNIT_SCOPE = "unit:"


def unit_scope(code: str) -> str:
    """The scope of a unit's secretariat users, of its letters' cases and of their tasks."""
    return f"{UNIT_SCOPE}{code}"


AUTOMATION_OFFICE_ROLES = frozenset({Role.admin, Role.automation_admin})
"""They keep the units and the posts, and see every unit."""


@dataclass(frozen=True)
class UnitReach:
    """The units a user may see: all, or those of its scopes."""

    everything: bool = False
    units: frozenset[str] = frozenset()

    def sees(self, code: str) -> bool:
        return self.everything or code in self.units


def unit_reach(roles: Iterable[str], scopes: Iterable[str]) -> UnitReach:
    """What `roles` within `scopes` may see of the units, their posts and letters."""
    held, within = set(roles), set(scopes)
    if held & AUTOMATION_OFFICE_ROLES:
        return UnitReach(everything=True)
    if Role.unit_secretary not in held:
        return UnitReach()
    if ALL_SCOPES in within:
        return UnitReach(everything=True)
    return UnitReach(
        units=frozenset(s.removeprefix(UNIT_SCOPE) for s in within if s.startswith(UNIT_SCOPE))
    )


def reach_filter(reach: UnitReach, column: Mapped[str]) -> ColumnElement[bool]:
    """`reach` as a condition on a unit code column."""
    return true() if reach.everything else column.in_(sorted(reach.units))


class Unit(SQLModel, table=True):
    """واحد: a unit of the university and its highest authority (بالاترین مقام)."""

    __tablename__ = "automation_units"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=20)
    name: str = Field(max_length=200)
    parent_code: str | None = Field(default=None, max_length=20, index=True)
    """The unit it belongs to, by code."""
    head_name: str = Field(max_length=100)
    head_national_code: str = Field(max_length=10)
    head_mobile: str = Field(max_length=11)
    head_email: str | None = Field(default=None, max_length=200)
    active: bool = True
    created_at: datetime = Field(sa_type=UtcDateTime, default_factory=utcnow)
    updated_at: datetime = Field(sa_type=UtcDateTime, default_factory=utcnow)


class Post(SQLModel, table=True):
    """پست سازمانی: a post of a unit in the automation system, and who holds it."""

    __tablename__ = "automation_posts"
    __table_args__ = (Index("ix_automation_posts_unit_state", "unit_code", "state"),)

    id: int | None = Field(default=None, primary_key=True)
    unit_code: str = Field(max_length=20)
    title: str = Field(max_length=200)
    automation_code: str | None = Field(default=None, unique=True, max_length=40)
    """Its code in the automation system; none until created there."""
    is_manager: bool = False
    state: PostState = Field(sa_type=EnumText(PostState, 20), default=PostState.vacant)
    holder_national_code: str | None = Field(default=None, max_length=10, index=True)
    holder_name: str | None = Field(default=None, max_length=200)
    held_from: date | None = None
    held_until: date | None = None
    """The end of the last holder's appointment, once it ended."""
    case_id: int | None = Field(default=None, foreign_key="cases.id")
    """The letter's case acting on the post now (creating or revoking it)."""
    created_at: datetime = Field(sa_type=UtcDateTime, default_factory=utcnow)
    updated_at: datetime = Field(sa_type=UtcDateTime, default_factory=utcnow)


class AppointmentCase(SQLModel, table=True):
    """ابلاغ: a unit's appointment letter (the start form, by case), and where its case stands."""

    __tablename__ = "appointment_letters"

    case_id: int = Field(primary_key=True, foreign_key="cases.id")
    letter_number: str = Field(max_length=40)
    letter_date: date
    national_code: str = Field(max_length=10, index=True)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    personnel_number: str = Field(max_length=12)
    mobile: str = Field(max_length=20)
    post_title: str = Field(max_length=200)
    unit_code: str = Field(max_length=20, index=True)
    effective_date: date
    is_manager: bool = False
    letter_file_id: int = Field(foreign_key="stored_files.id")
    post_id: int | None = Field(default=None, foreign_key="automation_posts.id", index=True)
    """The post it fills, once found or created."""
    automation_username: str | None = Field(default=None, max_length=64)
    """The cartable's user in the automation system, once created (never its password)."""
    handover_state: HandoverState | None = Field(default=None, sa_type=EnumText(HandoverState, 20))
    """Where the credentials' hand-over to the unit's head stands; the unit's page shows it."""
    updated_at: datetime = Field(sa_type=UtcDateTime, default_factory=utcnow)


class EndOfAppointmentCase(SQLModel, table=True):
    """لغو ابلاغ: a letter ending an appointment (the start form, by case), and where it stands."""

    __tablename__ = "end_of_appointment_letters"

    case_id: int = Field(primary_key=True, foreign_key="cases.id")
    letter_number: str = Field(max_length=40)
    letter_date: date
    national_code: str = Field(max_length=10, index=True)
    unit_code: str = Field(max_length=20, index=True)
    post_id: int | None = Field(default=None, foreign_key="automation_posts.id", index=True)
    post_code: str | None = Field(default=None, max_length=40)
    end_date: date
    letter_file_id: int = Field(foreign_key="stored_files.id")
    updated_at: datetime = Field(sa_type=UtcDateTime, default_factory=utcnow)


class Signature(SQLModel, table=True):
    """A manager's scanned signature: kept for the record; once withdrawn, usable no more, and
    never deleted."""

    __tablename__ = "signatures"

    id: int | None = Field(default=None, primary_key=True)
    file_id: int = Field(foreign_key="stored_files.id", unique=True)
    post_id: int = Field(foreign_key="automation_posts.id", index=True)
    national_code: str = Field(max_length=10, index=True)
    """Whose signature it is."""
    case_id: int | None = Field(default=None, foreign_key="cases.id")
    """The appointment's case it was recorded in."""
    recorded_at: datetime = Field(sa_type=UtcDateTime, default_factory=utcnow)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    withdrawn_case_id: int | None = Field(default=None, foreign_key="cases.id")
    """The end-of-appointment case that withdrew it."""


def active_unit(session: Session, code: str) -> Unit | None:
    unit = session.exec(select(Unit).where(Unit.code == code)).first()
    return unit if unit is not None and unit.active else None


def _letter_file_problem(session: Session, file_id: int) -> str | None:
    """A letter's file must be a stored PDF not kept for another case yet."""
    kept = session.get(StoredFile, file_id)
    if kept is None:
        return "letter_file_unknown"
    if kept.kind != UploadKind.pdf.value:
        return "letter_file_not_pdf"
    if kept.case_id is not None:
        return "letter_file_used"
    return None


def appointment_problems(session: Session, form: AppointmentLetter) -> list[tuple[str, str]]:
    """Checks of an appointment letter against the records, as `Process.start_check`: (field,
    message code) of each problem."""
    problems: list[tuple[str, str]] = []
    if active_unit(session, form.unit_code) is None:
        problems.append(("unit_code", "unit_unknown"))
    file_problem = _letter_file_problem(session, form.letter_file_id)
    if file_problem is not None:
        problems.append(("letter_file_id", file_problem))
    return problems


def post_of(session: Session, unit_code: str, post_id: int | None, code: str | None) -> Post | None:
    """A unit's post by its number in Peygir or its code in the automation system."""
    query = select(Post).where(Post.unit_code == unit_code)
    if post_id is not None:
        query = query.where(Post.id == post_id)
    else:
        query = query.where(Post.automation_code == code)
    return session.exec(query).first()


def end_of_appointment_problems(session: Session, form: EndOfAppointment) -> list[tuple[str, str]]:
    """Checks of an end-of-appointment letter against the records, as `Process.start_check`."""
    problems: list[tuple[str, str]] = []
    if active_unit(session, form.unit_code) is None:
        problems.append(("unit_code", "unit_unknown"))
    elif post_of(session, form.unit_code, form.post_id, form.post_code) is None:
        problems.append(("post_id" if form.post_id is not None else "post_code", "post_unknown"))
    file_problem = _letter_file_problem(session, form.letter_file_id)
    if file_problem is not None:
        problems.append(("letter_file_id", file_problem))
    return problems


def vacant_post(session: Session, unit_code: str, title: str) -> Post | None:
    """A vacant post of this title in the unit, the oldest first: a new appointment re-uses it."""
    return session.exec(
        select(Post)
        .where(Post.unit_code == unit_code, Post.title == title, Post.state == PostState.vacant)
        .order_by(col(Post.id))
    ).first()


def usable_signature(session: Session, post_id: int) -> Signature | None:
    """The post's signature in use (not withdrawn), if any."""
    return session.exec(
        select(Signature)
        .where(Signature.post_id == post_id, col(Signature.withdrawn_at).is_(None))
        .order_by(col(Signature.id).desc())
    ).first()


def withdraw_signatures(session: Session, post_id: int, case_id: int | None) -> list[Signature]:
    """Mark the post's signatures in use withdrawn (kept, never deleted); idempotent: already
    withdrawn ones are left as they are. The caller commits."""
    now = utcnow()
    found = list(
        session.exec(
            select(Signature).where(
                Signature.post_id == post_id, col(Signature.withdrawn_at).is_(None)
            )
        )
    )
    for signature in found:
        signature.withdrawn_at = now
        signature.withdrawn_case_id = case_id
        session.add(signature)
    return found
