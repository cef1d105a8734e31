"""Admin: the login records and the admin audit log, read-only (no route changes them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from sqlalchemy import func
from sqlmodel import Session, col, select

from api.audit import ACTIONS
from api.errors import ApiError, FieldProblem, documented, lang_of
from api.security import SessionDep, require_role
from db.models import AuditEntry, LoginOutcome, LoginRecord
from domain.cases import Role
from domain.messages import message

router = APIRouter(
    prefix="/api/admin",
    tags=["admin"],
    dependencies=[Depends(require_role(Role.admin))],
    responses=documented(401, 403),
)

PER_PAGE = 50


class LoginView(BaseModel):
    at: datetime
    username: str
    """As typed (truncated): attempts on unknown names are listed too."""
    user_id: int | None
    address: str
    user_agent: str
    outcome: LoginOutcome
    channel: str


class LoginPage(BaseModel):
    items: list[LoginView]
    total: int
    page: int
    per_page: int


def login_records(
    session: Session,
    username: str = "",
    outcome: LoginOutcome | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> LoginPage:
    query = select(LoginRecord)
    name = username.strip()
    if name:
        query = query.where(LoginRecord.username == name)
    if outcome is not None:
        query = query.where(LoginRecord.outcome == outcome)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(
        query.order_by(col(LoginRecord.at).desc(), col(LoginRecord.id).desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    items = [LoginView.model_validate(r, from_attributes=True) for r in rows]
    return LoginPage(items=items, total=total, page=page, per_page=per_page)


@router.get("/logins", response_model=LoginPage, summary="Login attempts, the latest first")
def list_logins(
    session: SessionDep,
    username: Annotated[str, Query(max_length=64)] = "",
    outcome: LoginOutcome | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = PER_PAGE,
) -> Any:
    """Every login attempt (API and web): the username as typed, the account if it is one,
    the client address and user agent, the outcome. Filter by username (exact) or outcome."""
    return login_records(session, username, outcome, page, per_page)


class AuditView(BaseModel):
    at: datetime
    actor: str
    action: str
    target: str
    detail: dict[str, Any]
    """Old and new values (`[old, new]`) or what was done; never a password."""
    address: str


class AuditPage(BaseModel):
    items: list[AuditView]
    total: int
    page: int
    per_page: int


def audit_entries(
    session: Session, action: str = "", page: int = 1, per_page: int = PER_PAGE
) -> AuditPage:
    query = select(AuditEntry)
    if action:
        query = query.where(AuditEntry.action == action)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(
        query.order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    items = [AuditView.model_validate(r, from_attributes=True) for r in rows]
    return AuditPage(items=items, total=total, page=page, per_page=per_page)


@router.get(
    "/audit",
    response_model=AuditPage,
    summary="The admin audit log, the latest first",
    responses=documented(422),
)
def list_audit(
    request: Request,
    session: SessionDep,
    action: Annotated[str, Query(max_length=40)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = PER_PAGE,
) -> Any:
    """Who changed users and roles, holidays, the person registry, tasks' assignees, cases,
    vendors and the equipment register; `action` filters (e.g. `user.roles`). Append-only: no
    route changes or deletes an entry."""
    if action and action not in ACTIONS:
        problem = FieldProblem(
            field="action", reason=message("invalid_value", lang_of(request)), code="invalid_value"
        )
        raise ApiError(422, "invalid_value", [problem])
    return audit_entries(session, action, page, per_page)
