"""The SHAMS rollout's board (process 4), read from the SQL read model only, never from Temporal:
sites counted by county and state, the share connected, the counties late with their answer,
one county's sites, and the progress day by day from the sites' history.

Each view is one grouped query over indexed columns, whatever the number of counties: the
counts use `ix_sites_county_state` (or `ix_sites_rollout_county_state` for one rollout), the
progress `ix_site_events_state_at`. Every view is narrowed to what the reader may see (`reach`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Date, and_, false, func, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Session, col, select

from db.models import Case
from db.shams import SITE_OFFICE_ROLES, County, Site, SiteEvent, SiteReach, reach_filter, site_reach
from db.shams_progress import CountyRun, RolloutRequest
from domain.calendar import TEHRAN, to_jalali_date_str
from domain.cases import Role
from domain.shams import (
    LINK_TYPE_FA,
    SITE_KIND_FA,
    SITE_STATE_FA,
    LinkType,
    SiteKind,
    SiteState,
)
from domain.shams_process import CountyPhase

BOARD_OFFICE_ROLES = SITE_OFFICE_ROLES | {Role.it_supervisor}
"""They see the whole board: the office's roles, and the supervisor who is sent the late
counties' escalations."""


def board_reach(roles: list[str], scopes: list[str]) -> SiteReach:
    """What `roles` within `scopes` may see of the board: a county network its own counties,
    the carrier the sites sent to it, the office everything."""
    if set(roles) & BOARD_OFFICE_ROLES:
        return SiteReach(everything=True)
    return site_reach(roles, scopes)


def tehran_today() -> date:
    return datetime.now(TEHRAN).date()


class CountyProgress(BaseModel):
    """A county's row of the board."""

    code: str
    name: str
    sites: int
    """Its sites the reader may see (in the rollout, when the board is for one)."""
    states: dict[SiteState, int]
    """Those sites by state; every state is listed, with 0 where there are none."""
    connected_percent: float | None
    """Connected sites as a share of `sites`, to one decimal; None without sites."""
    answer_by: date | None
    """The deadline of the county's first answer while it still owes one (an open rollout's
    county still collecting); None once it answered."""
    late: bool
    """The deadline passed and the county has not answered: it sent no sites."""


class Board(BaseModel):
    """Counties × site states, the late counties first."""

    rollout_id: str | None
    """The rollout counted (its tracking code), or None: every site of the register."""
    today: date
    """The day lateness is judged on (Tehran)."""
    counties: list[CountyProgress]
    """Late counties first (the longest overdue first), then those still owing their answer
    (the nearest deadline first), then the others by code."""
    states: dict[SiteState, int]
    """All counted sites by state."""
    sites: int
    connected_percent: float | None
    late_counties: int


class BoardSite(BaseModel):
    """A site in a county's drill-down."""

    site_code: str
    name: str
    kind: SiteKind
    link_type: LinkType
    state: SiteState
    exchange: str | None
    """The carrier's exchange serving it, once ranged."""
    updated_at: datetime


class CountySites(BaseModel):
    """One county of the board and a page of its sites."""

    county: CountyProgress
    state: SiteState | None
    """The state the sites are filtered by, if any."""
    items: list[BoardSite]
    total: int
    """Sites matching the filter, on every page."""
    page: int
    per_page: int


class ProgressDay(BaseModel):
    """A day of the progress chart (Tehran's calendar day)."""

    day: date
    reached: dict[SiteState, int]
    """Sites whose state changed to each state that day (a site counts once per state and
    day); every state is listed."""
    connected: int
    """Sites connected for the first time that day."""
    connected_total: int
    """Sites connected by the end of that day."""


class Progress(BaseModel):
    """The rollout's progress over a span of days, every day listed (zeros included)."""

    rollout_id: str | None
    since: date
    until: date
    days: list[ProgressDay]


class RolloutChoice(BaseModel):
    """A rollout the board may be narrowed to."""

    rollout_id: str
    """Its tracking code (what sites record as their rollout)."""
    title: str


class tehran_day(FunctionElement[date]):
    """A timestamp's calendar day in Tehran, in SQL (a day of the chart is a Tehran day)."""

    type = Date()
    inherit_cache = True


@compiles(tehran_day, "sqlite")
def _tehran_day_sqlite(element: tehran_day, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite knows no zones; Iran has kept +03:30 all year since 2022 (no more summer time).
    return f"date({compiler.process(element.clauses, **kw)}, '+210 minutes')"


@compiles(tehran_day, "postgresql")
def _tehran_day_postgresql(element: tehran_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'Asia/Tehran' AS DATE)"


def _as_date(value: date | str) -> date:
    # SQLite answers date() with text.
    return value if isinstance(value, date) else date.fromisoformat(value)


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _all_states(counts: dict[SiteState, int]) -> dict[SiteState, int]:
    return {state: counts.get(state, 0) for state in SiteState}


def _county_filter(reach: SiteReach) -> ColumnElement[bool]:
    """The counties whose every site (and answer) the reader sees, on `counties.code`."""
    if reach.everything or reach.counties is None:
        return true()
    if reach.counties:
        return col(County.code).in_(sorted(reach.counties))
    return false()


def _site_counts(
    session: Session, reach: SiteReach, rollout_id: str | None, county: str | None = None
) -> dict[str, dict[SiteState, int]]:
    query = select(Site.county_code, Site.state, func.count()).where(reach_filter(reach))
    if rollout_id is not None:
        query = query.where(Site.rollout_id == rollout_id)
    if county is not None:
        query = query.where(Site.county_code == county)
    counts: dict[str, dict[SiteState, int]] = defaultdict(dict)
    for code, state, sites in session.exec(query.group_by(col(Site.county_code), col(Site.state))):
        counts[code][SiteState(state)] = sites
    return counts


def _owed_answers(session: Session, reach: SiteReach, rollout_id: str | None) -> dict[str, date]:
    """The counties that still owe their first answer in an open rollout, with the earliest
    such deadline. A county run in phase `collect` has sent no sites yet (it leaves that phase
    with its first answer), so past its deadline it is late."""
    query = (
        select(CountyRun.county_code, func.min(CountyRun.answer_by))
        .join(County, col(County.code) == col(CountyRun.county_code))
        .where(
            col(CountyRun.ended).is_(False),
            col(CountyRun.cancelled).is_(False),
            CountyRun.phase == CountyPhase.collect,
            _county_filter(reach),
        )
        .group_by(col(CountyRun.county_code))
    )
    if rollout_id is not None:
        query = query.where(CountyRun.rollout_id == rollout_id)
    return {code: _as_date(by) for code, by in session.exec(query)}


def _listed_counties(
    session: Session, reach: SiteReach, rollout_id: str | None, with_sites: set[str]
) -> list[County]:
    """The counties the board shows: those with counted sites, and those the reader answers
    for (every active county, or the rollout's counties, or a county user's own) even
    without any site yet; a county that never answers is the one the board must show."""
    owned = _county_filter(reach)
    if rollout_id is None:
        expected = and_(owned, col(County.active).is_(True))
    else:
        in_rollout = select(CountyRun.county_code).where(CountyRun.rollout_id == rollout_id)
        expected = and_(owned, col(County.code).in_(in_rollout))
    query = select(County).where(expected | col(County.code).in_(sorted(with_sites)))
    return list(session.exec(query))


def _row(
    county: County, counts: dict[SiteState, int], owed: dict[str, date], today: date
) -> CountyProgress:
    sites = sum(counts.values())
    answer_by = owed.get(county.code)
    return CountyProgress(
        code=county.code,
        name=county.name,
        sites=sites,
        states=_all_states(counts),
        connected_percent=_percent(counts.get(SiteState.connected, 0), sites),
        answer_by=answer_by,
        late=answer_by is not None and answer_by < today,
    )


def _late_first(row: CountyProgress) -> tuple[bool, date, str]:
    return (not row.late, row.answer_by or date.max, row.code)


def board(
    session: Session, reach: SiteReach, rollout_id: str | None = None, today: date | None = None
) -> Board:
    """Counties × states for `reach`, over one rollout's sites or the whole register."""
    today = today or tehran_today()
    counts = _site_counts(session, reach, rollout_id)
    owed = _owed_answers(session, reach, rollout_id)
    rows = [
        _row(c, counts.get(c.code, {}), owed, today)
        for c in _listed_counties(session, reach, rollout_id, set(counts))
    ]
    rows.sort(key=_late_first)
    totals: dict[SiteState, int] = defaultdict(int)
    for by_state in counts.values():
        for state, sites in by_state.items():
            totals[state] += sites
    sites = sum(totals.values())
    return Board(
        rollout_id=rollout_id,
        today=today,
        counties=rows,
        states=_all_states(totals),
        sites=sites,
        connected_percent=_percent(totals[SiteState.connected], sites),
        late_counties=sum(r.late for r in rows),
    )


def county_sites(
    session: Session,
    reach: SiteReach,
    county: County,
    *,
    rollout_id: str | None = None,
    state: SiteState | None = None,
    page: int = 1,
    per_page: int = 50,
    today: date | None = None,
) -> CountySites:
    """A county's row of the board and a page of its sites (by code) the reader may see.
    `per_page` 0 gives every site (for an export)."""
    counts = _site_counts(session, reach, rollout_id, county.code).get(county.code, {})
    owed = _owed_answers(session, reach, rollout_id) if reach.sees_county(county.code) else {}
    row = _row(county, counts, owed, today or tehran_today())
    query = select(Site).where(reach_filter(reach), Site.county_code == county.code)
    if rollout_id is not None:
        query = query.where(Site.rollout_id == rollout_id)
    if state is not None:
        query = query.where(Site.state == state)
    total = counts.get(state, 0) if state is not None else row.sites
    query = query.order_by(col(Site.site_code))
    if per_page:
        query = query.offset((page - 1) * per_page).limit(per_page)
    items = [BoardSite.model_validate(s, from_attributes=True) for s in session.exec(query)]
    return CountySites(
        county=row, state=state, items=items, total=total, page=page, per_page=per_page
    )


def _start_of(day: date) -> datetime:
    """The moment a Tehran day starts, in UTC (as the history's timestamps are kept)."""
    return datetime.combine(day, time(), TEHRAN).astimezone(UTC)


def progress(
    session: Session,
    reach: SiteReach,
    rollout_id: str | None = None,
    *,
    since: date,
    until: date,
) -> Progress:
    """Each day from `since` to `until` (Tehran days): the sites that reached each state, and
    the sites connected by its end, counted from the sites' history."""
    scope = [reach_filter(reach)]
    if rollout_id is not None:
        scope.append(col(Site.rollout_id) == rollout_id)
    day = tehran_day(SiteEvent.at)
    # Every state named, so the index (state, at, site_id) is read one range per state.
    reached_query = (
        select(day, SiteEvent.state, func.count(func.distinct(SiteEvent.site_id)))
        .join(Site, col(Site.id) == col(SiteEvent.site_id))
        .where(
            col(SiteEvent.state).in_(list(SiteState)),
            col(SiteEvent.at) >= _start_of(since),
            col(SiteEvent.at) < _start_of(until + timedelta(days=1)),
            *scope,
        )
        .group_by(day, col(SiteEvent.state))
    )
    reached: dict[date, dict[SiteState, int]] = defaultdict(dict)
    for on, state, sites in session.exec(reached_query):
        reached[_as_date(on)][SiteState(state)] = sites
    # A site's first connection (connected is its end state, but a repeated history line
    # must not count it twice), for the running total from before the span too.
    first = (
        select(SiteEvent.site_id, func.min(SiteEvent.at).label("at"))
        .join(Site, col(Site.id) == col(SiteEvent.site_id))
        .where(SiteEvent.state == SiteState.connected, *scope)
        .group_by(col(SiteEvent.site_id))
        .subquery()
    )
    first_day = tehran_day(first.c.at)
    connected_by_day = {
        _as_date(on): sites
        for on, sites in session.exec(
            select(first_day, func.count())
            .where(first.c.at < _start_of(until + timedelta(days=1)))
            .group_by(first_day)
        )
    }
    total = sum(sites for on, sites in connected_by_day.items() if on < since)
    days: list[ProgressDay] = []
    for offset in range((until - since).days + 1):
        on = since + timedelta(days=offset)
        connected = connected_by_day.get(on, 0)
        total += connected
        days.append(
            ProgressDay(
                day=on,
                reached=_all_states(reached.get(on, {})),
                connected=connected,
                connected_total=total,
            )
        )
    return Progress(rollout_id=rollout_id, since=since, until=until, days=days)


def rollouts(session: Session) -> list[RolloutChoice]:
    """The rollouts started, the newest first."""
    query = (
        select(Case.tracking_code, RolloutRequest.title)
        .join(RolloutRequest, col(RolloutRequest.case_id) == col(Case.id))
        .order_by(col(Case.id).desc())
    )
    return [RolloutChoice(rollout_id=code, title=title) for code, title in session.exec(query)]


# --- Exports: each view as a sheet, Persian headers (what the office files and forwards) ---

_STATE_HEADERS = [SITE_STATE_FA[state] for state in SiteState]


def _day(value: date | None) -> str:
    return to_jalali_date_str(value) if value is not None else ""


def board_rows(view: Board) -> Iterable[list[object]]:
    """A row per county (late ones first, as on the board), then the totals."""
    yield [
        "کد شهرستان",
        "شبکه بهداشت",
        *_STATE_HEADERS,
        "جمع نقاط",
        "درصد متصل",
        "مهلت پاسخ",
        "دیرکرد",
    ]
    for c in view.counties:
        yield [
            c.code,
            c.name,
            *c.states.values(),
            c.sites,
            c.connected_percent,
            _day(c.answer_by),
            "دیرکرد" if c.late else "",
        ]
    yield ["", "جمع", *view.states.values(), view.sites, view.connected_percent, "", ""]


def county_rows(view: CountySites) -> Iterable[list[object]]:
    yield ["کد نقطه", "نام نقطه", "نوع نقطه", "نوع ارتباط", "وضعیت", "مرکز مخابراتی", "آخرین تغییر"]
    for s in view.items:
        yield [
            s.site_code,
            s.name,
            SITE_KIND_FA[s.kind],
            LINK_TYPE_FA[s.link_type],
            SITE_STATE_FA[s.state],
            s.exchange or "",
            _day(s.updated_at.astimezone(TEHRAN).date()),
        ]


def progress_rows(view: Progress) -> Iterable[list[object]]:
    yield ["روز", "تاریخ میلادی", *_STATE_HEADERS, "متصل‌شده در روز", "جمع متصل‌ها"]
    for d in view.days:
        yield [
            _day(d.day),
            d.day,
            *d.reached.values(),
            d.connected,
            d.connected_total,
        ]
