"""Process 4's rollout board pages: counties × site states with the late counties first, a
county's sites, the progress chart (SVG drawn here, with a table of its figures), and the
exports. The director reads it on a phone, so it needs no script and no wide screen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from api.errors import ApiError
from api.routes import shams_board as api
from api.routes import shams_register
from api.security import SessionDep
from api.web.pages.shared import PageUser, add_to_navigation, page_lang, render, staff
from db.models import User
from db.shams_board import Progress, rollouts
from domain.calendar import to_jalali_date_str
from domain.cases import Role
from domain.messages import Lang
from domain.shams import (
    LINK_TYPE_EN,
    LINK_TYPE_FA,
    SITE_KIND_EN,
    SITE_KIND_FA,
    SITE_STATE_EN,
    SITE_STATE_FA,
    SiteState,
)
from domain.text import to_persian_digits

router = APIRouter(include_in_schema=False)

PER_PAGE = 25
CHART_DAYS = 90

add_to_navigation("/shams/board", "nav.shams_board", *api.BOARD_READERS)


def _allowed(request: Request, user: User | None) -> User:
    me = staff(request, user)
    if not ({Role.admin, *api.BOARD_READERS} & set(me.roles)):
        raise ApiError(403, "forbidden")
    return me


def _opens_sites(me: User) -> bool:
    """Whether `me` may open a site's page (the IT supervisor sees the board, not the register)."""
    return bool({Role.admin, *shams_register.SITE_READERS} & set(me.roles))


@dataclass(frozen=True)
class Chart:
    """The progress chart's geometry, in the SVG's own units."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    line: str
    """The polyline's points: sites connected by each day's end."""
    area: str
    """The same line closed down to the axis."""
    top_value: int
    """The value at the top of the axis (0 at the bottom)."""


def _top_of(largest: int) -> int:
    """A round number at or above `largest`, for the axis' top."""
    step = 1
    while step * 10 <= largest:
        step *= 10
    return max(step, -(-largest // step) * step)


def chart(series: Progress) -> Chart:
    # Margins leave room for the axis' labels at the phone's larger type (style.css).
    width, height, left, right, top, bottom = 720, 260, 80, 700, 20, 210
    values = [d.connected_total for d in series.days]
    top_value = _top_of(max(values, default=0))
    span = max(len(values) - 1, 1)
    points = [
        (
            left + (right - left) * i / span,
            bottom - (bottom - top) * v / top_value,
        )
        for i, v in enumerate(values)
    ]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    area = f"{left},{bottom} {line} {right},{bottom}"
    return Chart(width, height, left, right, top, bottom, line, area, top_value)


def _page(request: Request, template: str, me: User, **context: Any) -> HTMLResponse:
    fa = page_lang(request) == Lang.fa

    def code(value: str) -> str:
        # Digits read as the reader's; a code with letters (B12-3) stays as typed, whole.
        return to_persian_digits(value) if fa and value.isdigit() else value

    kinds = SITE_KIND_FA if fa else SITE_KIND_EN
    links = LINK_TYPE_FA if fa else LINK_TYPE_EN
    names = SITE_STATE_FA if fa else SITE_STATE_EN
    return render(
        request,
        template,
        me,
        states=list(SiteState),
        kind_name=lambda kind: kinds[kind],
        link_name=lambda link: links[link],
        state_name=lambda state: names[state],
        opens_sites=_opens_sites(me),
        code=code,
        jalali=to_jalali_date_str,
        **context,
    )


def _rollout(rollout: str) -> str | None:
    return rollout[:40] or None


@router.get("/shams/board", response_class=HTMLResponse)
def board_page(
    request: Request, user: PageUser, session: SessionDep, rollout: str = ""
) -> HTMLResponse:
    me = _allowed(request, user)
    chosen = _rollout(rollout)
    series = api.progress_for(session, me, chosen, CHART_DAYS, None)
    return _page(
        request,
        "shams/board.html",
        me,
        board=api.board_for(session, me, chosen),
        series=series,
        active_days=[d for d in series.days if any(d.reached.values())],
        chart=chart(series),
        rollouts=rollouts(session),
        rollout=chosen or "",
        rollout_query=urlencode({"rollout": chosen} if chosen else {}),
    )


@router.get("/shams/board/counties/{code}", response_class=HTMLResponse)
def county_page(
    code: str,
    request: Request,
    user: PageUser,
    session: SessionDep,
    rollout: str = "",
    state: str = "",
    page: int = 1,
) -> HTMLResponse:
    me = _allowed(request, user)
    chosen = _rollout(rollout)
    filtered = SiteState(state) if state in SiteState.__members__ else None
    view = api.county_for(session, me, code, chosen, filtered, min(max(page, 1), 100_000), PER_PAGE)
    filters = {"rollout": chosen or "", "state": filtered.value if filtered else ""}
    return _page(
        request,
        "shams/board_county.html",
        me,
        view=view,
        rollout=chosen or "",
        base_query=urlencode({k: v for k, v in filters.items() if v}),
        rollout_query=urlencode({"rollout": chosen} if chosen else {}),
        state_query=lambda s: urlencode({**({"rollout": chosen} if chosen else {}), "state": s}),
    )


@router.get("/shams/board/export")
def board_export(
    request: Request, user: PageUser, session: SessionDep, rollout: str = ""
) -> Response:
    me = _allowed(request, user)
    return api.export_board(session, me, _rollout(rollout))


@router.get("/shams/board/progress/export")
def progress_export(
    request: Request, user: PageUser, session: SessionDep, rollout: str = ""
) -> Response:
    me = _allowed(request, user)
    return api.export_progress(session, me, _rollout(rollout), CHART_DAYS, None)


@router.get("/shams/board/counties/{code}/export")
def county_export(
    code: str,
    request: Request,
    user: PageUser,
    session: SessionDep,
    rollout: str = "",
    state: str = "",
) -> Response:
    me = _allowed(request, user)
    filtered = SiteState(state) if state in SiteState.__members__ else None
    return api.export_county(code, session, me, _rollout(rollout), filtered)
