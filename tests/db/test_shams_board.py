"""The SHAMS rollout board's queries: counts by county and state, exact, for the office, a county
and the carrier; the late counties first (deadline passed, no answer); a county's drill-down;
the progress day by day on Tehran's calendar; the exports' rows; one grouped query however many
counties there are."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlmodel import Session

from db.shams import County, Site, SiteEvent, county_scope, exchange_scope, site_reach
from db.shams_board import (
    board,
    board_reach,
    board_rows,
    county_rows,
    county_sites,
    progress,
    progress_rows,
    rollouts,
)
from db.shams_progress import CountyRun, RolloutRequest
from domain.cases import Role
from domain.shams import LinkType, SiteKind, SiteState
from domain.shams_process import CountyPhase
from tests.factories import form_data, open_case

TODAY = date(2026, 12, 1)
S = SiteState


def tag() -> str:
    return uuid.uuid4().hex[:6].upper()


@dataclass
class Rollout:
    """A rollout seeded for one test: its id and its counties' codes by their role."""

    rollout_id: str
    busy: str
    """Answered: sites in many states, its run waiting (not late though its deadline passed)."""
    silent: str
    """No answer, deadline passed two days ago: late."""
    silent_longer: str
    """No answer, deadline passed ten days ago: late, listed first."""
    waiting: str
    """No answer yet, deadline ahead: not late."""
    small: str
    """Answered with two sites, its run ended."""


BUSY_STATES = {
    S.submitted: 2,
    S.accepted: 1,
    S.sent_to_carrier: 3,
    S.connected: 2,
    S.closed_not_feasible: 1,
}


def _site(county: str, code: str, state: SiteState, rollout_id: str, **more: Any) -> Site:
    return Site(
        county_code=county,
        site_code=code,
        name=f"خانه بهداشت {code}",
        kind=SiteKind.health_house,
        address="روستای نمونه، خیابان اصلی",
        latitude=33.98,
        longitude=51.43,
        link_type=LinkType.adsl,
        state=state,
        rollout_id=rollout_id,
        **more,
    )


def seed_rollout(engine: Engine, today: date = TODAY) -> Rollout:
    """Five counties of a new rollout, as `Rollout` describes them (also used by the API's
    tests), its deadlines counted from `today`."""
    p = tag()
    # A rollout is a case: its tracking code is the rollout's id.
    case = open_case(engine, form_data())
    with Session(engine) as session:
        session.add(RolloutRequest(case_id=case.id or 0, title=f"طرح آزمون {p}"))
        session.commit()
    seeded = Rollout(
        rollout_id=case.tracking_code,
        busy=f"A{p}",
        silent=f"B{p}",
        silent_longer=f"C{p}",
        waiting=f"D{p}",
        small=f"E{p}",
    )
    runs = {
        seeded.busy: (today - timedelta(days=11), CountyPhase.wait, False),
        seeded.silent: (today - timedelta(days=2), CountyPhase.collect, False),
        seeded.silent_longer: (today - timedelta(days=10), CountyPhase.collect, False),
        seeded.waiting: (today + timedelta(days=9), CountyPhase.collect, False),
        seeded.small: (today - timedelta(days=11), CountyPhase.wait, True),
    }
    with Session(engine) as session:
        for code, (answer_by, phase, ended) in runs.items():
            session.add(County(code=code, name=f"شبکه بهداشت {code}"))
            session.add(
                CountyRun(
                    rollout_id=seeded.rollout_id,
                    county_code=code,
                    answer_by=answer_by,
                    phase=phase,
                    ended=ended,
                )
            )
        session.commit()
        n = 0
        for state, count in BUSY_STATES.items():
            for _ in range(count):
                n += 1
                exchange = ("X1" if n % 2 else "X2") if state in (S.sent_to_carrier,) else None
                session.add(
                    _site(seeded.busy, f"{p}-{n:02d}", state, seeded.rollout_id, exchange=exchange)
                )
        session.add(_site(seeded.small, f"{p}-S1", S.connected, seeded.rollout_id))
        session.add(_site(seeded.small, f"{p}-S2", S.not_feasible, seeded.rollout_id))
        # A site of the busy county in another rollout: not counted in this one.
        session.add(_site(seeded.busy, f"{p}-OTHER", S.connected, f"SH-{p}-2"))
        session.commit()
    return seeded


@pytest.fixture
def rollout(engine: Engine) -> Rollout:
    return seed_rollout(engine)


def states(**counts: int) -> dict[SiteState, int]:
    return {state: counts.get(state.value, 0) for state in SiteState}


def test_counts_are_exact_by_county_and_state_with_late_counties_first(
    engine: Engine, rollout: Rollout
) -> None:
    with Session(engine) as session:
        view = board(session, board_reach([Role.it_director], ["*"]), rollout.rollout_id, TODAY)
    assert [c.code for c in view.counties] == [
        rollout.silent_longer,
        rollout.silent,
        rollout.waiting,
        rollout.busy,
        rollout.small,
    ]
    rows = {c.code: c for c in view.counties}
    assert [c.late for c in view.counties] == [True, True, False, False, False]
    assert view.late_counties == 2
    assert rows[rollout.silent_longer].answer_by == date(2026, 11, 21)
    assert rows[rollout.waiting].answer_by == date(2026, 12, 10)
    assert rows[rollout.busy].answer_by is None, "it answered: no deadline owed"
    busy = rows[rollout.busy]
    assert busy.states == states(**{s.value: n for s, n in BUSY_STATES.items()})
    assert (busy.sites, busy.connected_percent) == (9, 22.2)
    assert rows[rollout.small].states == states(connected=1, not_feasible=1)
    assert rows[rollout.small].connected_percent == 50.0
    silent = rows[rollout.silent]
    assert (silent.sites, silent.connected_percent) == (0, None)
    assert silent.states == states()
    assert view.sites == 11
    assert view.states == states(
        submitted=2,
        accepted=1,
        sent_to_carrier=3,
        connected=3,
        closed_not_feasible=1,
        not_feasible=1,
    )
    assert view.connected_percent == 27.3


def test_the_deadline_day_itself_is_not_late(engine: Engine, rollout: Rollout) -> None:
    with Session(engine) as session:
        view = board(
            session, board_reach([Role.it_office], []), rollout.rollout_id, date(2026, 11, 29)
        )
    late = [c.code for c in view.counties if c.late]
    assert late == [rollout.silent_longer]


def test_a_county_user_sees_its_own_county_only(engine: Engine, rollout: Rollout) -> None:
    reach = board_reach([Role.county_network], [county_scope(rollout.silent)])
    with Session(engine) as session:
        view = board(session, reach, rollout.rollout_id, TODAY)
    assert [(c.code, c.late) for c in view.counties] == [(rollout.silent, True)]
    assert view.sites == 0


def test_the_carrier_counts_only_the_sites_sent_to_it(engine: Engine, rollout: Rollout) -> None:
    province = board_reach([Role.carrier], ["*"])
    one_exchange = board_reach([Role.carrier], [exchange_scope("X1")])
    with Session(engine) as session:
        view = board(session, province, rollout.rollout_id, TODAY)
        narrow = board(session, one_exchange, rollout.rollout_id, TODAY)
    assert [c.code for c in view.counties] == [rollout.busy, rollout.small]
    assert view.states == states(
        sent_to_carrier=3, connected=3, closed_not_feasible=1, not_feasible=1
    )
    assert view.late_counties == 0, "the carrier is not told which counties are late"
    assert all(c.answer_by is None for c in view.counties)
    assert [c.code for c in narrow.counties] == [rollout.busy]
    assert narrow.states == states(sent_to_carrier=1)


def test_the_it_supervisor_sees_the_whole_board() -> None:
    assert board_reach([Role.it_supervisor], []).everything
    assert not site_reach([Role.it_supervisor], []).everything


def test_a_countys_drill_down_filters_and_pages(engine: Engine, rollout: Rollout) -> None:
    office = board_reach([Role.it_office], ["*"])
    with Session(engine) as session:
        busy = session.get_one(County, _county_id(session, rollout.busy))
        first = county_sites(
            session, office, busy, rollout_id=rollout.rollout_id, page=1, per_page=4, today=TODAY
        )
        last = county_sites(
            session, office, busy, rollout_id=rollout.rollout_id, page=3, per_page=4, today=TODAY
        )
        sent = county_sites(
            session, office, busy, rollout_id=rollout.rollout_id, state=S.sent_to_carrier
        )
        every = county_sites(session, office, busy, per_page=0)
        carrier = county_sites(session, board_reach([Role.carrier], ["*"]), busy, per_page=0)
    assert (first.total, len(first.items), len(last.items)) == (9, 4, 1)
    codes = [s.site_code for s in first.items]
    assert codes == sorted(codes)
    assert first.county.states == states(**{s.value: n for s, n in BUSY_STATES.items()})
    assert (sent.total, {s.state for s in sent.items}) == (3, {S.sent_to_carrier})
    assert {s.exchange for s in sent.items} == {"X1", "X2"}
    assert every.total == len(every.items) == 10, "every rollout: the other one's site too"
    assert {s.state for s in carrier.items} <= {
        S.sent_to_carrier,
        S.connected,
        S.closed_not_feasible,
    }
    assert carrier.total == len(carrier.items) == 7


def _county_id(session: Session, code: str) -> int:
    from sqlmodel import select

    found = session.exec(select(County.id).where(County.code == code)).one()
    assert found is not None
    return found


def _event(site_id: int, state: SiteState, at: datetime) -> SiteEvent:
    return SiteEvent(site_id=site_id, state=state, at=at, actor="system")


def test_progress_counts_days_on_tehrans_calendar(engine: Engine) -> None:
    p = tag()
    rollout_id, county = f"SH-{p}", f"P{p}"
    with Session(engine) as session:
        session.add(County(code=county, name="شبکه بهداشت روند"))
        session.commit()
        sites = [_site(county, f"{p}-{i}", S.connected, rollout_id) for i in range(4)]
        session.add_all(sites)
        session.commit()
        one, two, three, four = (s.id or 0 for s in sites)
        session.add_all(
            [
                # 21:00 UTC is 00:30 the next day in Tehran.
                _event(one, S.connected, datetime(2026, 11, 2, 21, 0, tzinfo=UTC)),
                _event(two, S.connected, datetime(2026, 11, 2, 10, 0, tzinfo=UTC)),
                _event(three, S.sent_to_carrier, datetime(2026, 11, 2, 6, 0, tzinfo=UTC)),
                _event(three, S.sent_to_carrier, datetime(2026, 11, 2, 7, 0, tzinfo=UTC)),
                _event(four, S.connected, datetime(2026, 10, 20, 9, 0, tzinfo=UTC)),
                # A repeated line of an end state is no second connection.
                _event(one, S.connected, datetime(2026, 11, 5, 9, 0, tzinfo=UTC)),
                # After the span: not counted.
                _event(three, S.connected, datetime(2026, 11, 9, 9, 0, tzinfo=UTC)),
            ]
        )
        session.commit()
        series = progress(
            session,
            board_reach([Role.admin], []),
            rollout_id,
            since=date(2026, 11, 1),
            until=date(2026, 11, 5),
        )
        nothing = progress(
            session,
            board_reach([Role.county_network], [county_scope("ELSEWHERE")]),
            rollout_id,
            since=date(2026, 11, 1),
            until=date(2026, 11, 5),
        )
    assert [d.day.day for d in series.days] == [1, 2, 3, 4, 5]
    assert [d.connected for d in series.days] == [0, 1, 1, 0, 0]
    assert [d.connected_total for d in series.days] == [1, 2, 3, 3, 3]
    assert series.days[1].reached == states(connected=1, sent_to_carrier=1)
    assert series.days[2].reached == states(connected=1)
    assert series.days[4].reached == states(connected=1)
    assert [d.connected_total for d in nothing.days] == [0] * 5
    rows = list(progress_rows(series))
    assert len(rows) == 6 and rows[0][0] == "روز"
    assert rows[2][1] == date(2026, 11, 2) and rows[2][-2:] == [1, 2]


def test_the_exports_rows_follow_the_views(engine: Engine, rollout: Rollout) -> None:
    office = board_reach([Role.it_office], ["*"])
    with Session(engine) as session:
        view = board(session, office, rollout.rollout_id, TODAY)
        busy = session.get_one(County, _county_id(session, rollout.busy))
        sites = county_sites(session, office, busy, rollout_id=rollout.rollout_id, per_page=0)
    rows = list(board_rows(view))
    assert rows[0][:2] == ["کد شهرستان", "شبکه بهداشت"] and rows[0][-1] == "دیرکرد"
    assert [r[0] for r in rows[1:-1]] == [c.code for c in view.counties]
    assert rows[1][-1] == "دیرکرد" and rows[1][-2] == "1405/08/30"
    assert rows[-1][1] == "جمع" and rows[-1][-4] == 11
    site_rows = list(county_rows(sites))
    assert len(site_rows) == 10 and site_rows[0][0] == "کد نقطه"
    assert {r[4] for r in site_rows[1:]} >= {"متصل", "ارسال‌شده توسط شبکه"}


def test_rollouts_are_listed_by_tracking_code(engine: Engine, rollout: Rollout) -> None:
    with Session(engine) as session:
        listed = rollouts(session)
    assert listed[0].rollout_id == rollout.rollout_id
    assert listed[0].title.startswith("طرح آزمون")


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    yield seen
    event.remove(engine, "before_cursor_execute", note)


def test_the_board_is_a_few_queries_whatever_the_counties(
    engine: Engine, rollout: Rollout, statements: list[str]
) -> None:
    with Session(engine) as session:
        board(session, board_reach([Role.it_office], ["*"]), None, TODAY)
    # The sites' counts, the owed answers, the counties: never a query per county.
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 3
