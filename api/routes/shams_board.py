"""Process 4's rollout board: counties × site states, the share connected and the late counties,
one county's sites, the progress day by day, and each view as XLSX. Read from the SQL read
model only (db/shams_board.py), never from Temporal.

The IT office, the IT director, the IT supervisor and admins see every county. A county
network's user sees its own county (another county's drill-down: 403); the carrier sees the
counts of the sites sent to it (of its exchange area, if its scope names one).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from sqlmodel import Session

from api.errors import ApiError, documented
from api.routes.shams_register import XLSX_ANSWER, find_county, xlsx_answer
from api.security import CurrentUser, SessionDep, require_role
from db.models import User
from db.shams import SiteReach
from db.shams_board import (
    Board,
    CountySites,
    Progress,
    board,
    board_reach,
    board_rows,
    county_rows,
    county_sites,
    progress,
    progress_rows,
    tehran_today,
)
from domain.cases import Role
from domain.shams import SiteState
from domain.spreadsheets import xlsx_bytes

BOARD_READERS = (
    Role.it_office,
    Role.it_director,
    Role.it_supervisor,
    Role.county_network,
    Role.carrier,
)
read_board = Depends(require_role(*BOARD_READERS))

router = APIRouter(prefix="/api/shams/board", tags=["shams board"], responses=documented(401, 403))

Rollout = Annotated[
    str | None,
    Query(max_length=40, description="A rollout's tracking code; left out: the whole register"),
]
Days = Annotated[int, Query(ge=7, le=731, description="Days the series spans")]
Until = Annotated[
    date | None,
    # Bounded, so the span's first day and the day after its last stay real dates.
    Query(
        ge=date(2000, 1, 1),
        le=date(2100, 12, 31),
        description="The series' last day; left out: today",
    ),
]


def reach_of(user: User) -> SiteReach:
    return board_reach(user.roles, user.scopes)


def board_for(session: Session, user: User, rollout: str | None) -> Board:
    return board(session, reach_of(user), rollout or None)


def county_for(
    session: Session,
    user: User,
    code: str,
    rollout: str | None,
    state: SiteState | None,
    page: int,
    per_page: int,
) -> CountySites:
    """A county's drill-down; 404 for an unknown county, 403 for a county network's user
    asking for another county (the carrier may narrow its share to any county)."""
    reach = reach_of(user)
    county = find_county(session, code)
    if not reach.sees_county(county.code) and reach.exchanges == frozenset():
        raise ApiError(403, "forbidden")
    return county_sites(
        session,
        reach,
        county,
        rollout_id=rollout or None,
        state=state,
        page=page,
        per_page=per_page,
    )


def progress_for(
    session: Session, user: User, rollout: str | None, days: int, until: date | None
) -> Progress:
    last = until or tehran_today()
    first = last - timedelta(days=days - 1)
    return progress(session, reach_of(user), rollout or None, since=first, until=last)


@router.get("", response_model=Board, dependencies=[read_board])
def get_board(session: SessionDep, user: CurrentUser, rollout: Rollout = None) -> Board:
    """Counties × site states: counts, the share connected, and the late counties first (a
    county is late when its answer's deadline passed and it has sent no sites)."""
    return board_for(session, user, rollout)


@router.get("/export", response_class=Response, dependencies=[read_board], responses=XLSX_ANSWER)
def export_board(session: SessionDep, user: CurrentUser, rollout: Rollout = None) -> Response:
    """The board as XLSX: a row per county, late ones first, then the totals."""
    content = xlsx_bytes(board_rows(board_for(session, user, rollout)), title="پیشرفت شمس")
    return xlsx_answer(content, "shams-board.xlsx")


@router.get("/progress", response_model=Progress, dependencies=[read_board])
def get_progress(
    session: SessionDep,
    user: CurrentUser,
    rollout: Rollout = None,
    days: Days = 90,
    until: Until = None,
) -> Progress:
    """Day by day (Tehran days), from the sites' history: the sites that reached each state,
    and the sites connected by the day's end."""
    return progress_for(session, user, rollout, days, until)


@router.get(
    "/progress/export", response_class=Response, dependencies=[read_board], responses=XLSX_ANSWER
)
def export_progress(
    session: SessionDep,
    user: CurrentUser,
    rollout: Rollout = None,
    days: Days = 90,
    until: Until = None,
) -> Response:
    """The progress series as XLSX, a row per day."""
    view = progress_for(session, user, rollout, days, until)
    return xlsx_answer(xlsx_bytes(progress_rows(view), title="روند"), "shams-progress.xlsx")


@router.get(
    "/counties/{code}",
    response_model=CountySites,
    dependencies=[read_board],
    responses=documented(404),
)
def get_county(
    code: str,
    session: SessionDep,
    user: CurrentUser,
    rollout: Rollout = None,
    state: SiteState | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
) -> CountySites:
    """A county's row of the board and its sites by code, filtered by state, a page at a time."""
    return county_for(session, user, code, rollout, state, page, per_page)


@router.get(
    "/counties/{code}/export",
    response_class=Response,
    dependencies=[read_board],
    responses={**XLSX_ANSWER, **documented(404)},
)
def export_county(
    code: str,
    session: SessionDep,
    user: CurrentUser,
    rollout: Rollout = None,
    state: SiteState | None = None,
) -> Response:
    """The county's sites (same filter, every page) as XLSX."""
    view = county_for(session, user, code, rollout, state, 1, 0)
    content = xlsx_bytes(county_rows(view), title=view.county.code)
    return xlsx_answer(content, f"shams-county-{view.county.code}.xlsx")
