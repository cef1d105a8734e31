"""A database lock held by another connection stalls only the request that needs it.

Another process holds the write lock (SQLite `BEGIN IMMEDIATE`, or a PostgreSQL table lock)
while a public submit waits for it: health, the home page and tracking keep answering while the
submit is still pending, and the submit then answers 503 with Retry-After, leaving no case.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from api.app import create_app
from api.errors import is_lock_wait
from api.security import SESSION_COOKIE, issue_token
from db.engine import make_engine, one_writer_at_a_time
from db.models import Case, Holiday
from domain.calendar import to_jalali_date_str
from domain.cases import Role
from settings import Settings
from tests.api.conftest import statements_on_the_loop
from tests.factories import form_data, open_case

LOCK_TIMEOUT_SECONDS = 3.0
"""Long enough for the other requests to answer meanwhile; short to keep the test quick."""


@dataclass
class WaitingApi:
    http: httpx.AsyncClient
    inserting_case: threading.Event
    """Set once the submit has sent its INSERT and so waits on the lock."""
    engine: Engine
    """The app's own engine."""


@pytest.fixture
async def waiting_api(settings: Settings) -> AsyncIterator[WaitingApi]:
    engine = make_engine(settings.database_url, lock_timeout_seconds=LOCK_TIMEOUT_SECONDS)
    inserting = threading.Event()
    on_the_loop = statements_on_the_loop(engine)

    @event.listens_for(engine, "before_cursor_execute")
    def _watch(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO CASES"):
            inserting.set()

    app = create_app(settings, engine=engine, temporal=object())  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield WaitingApi(http, inserting, engine)
    engine.dispose()
    assert on_the_loop == [], "database work ran on the event loop"


@contextmanager
def write_lock_held(url: str) -> Iterator[None]:
    """Another connection holds the lock a new case or holiday needs, until the block ends."""
    if make_url(url).get_backend_name() == "sqlite":
        other = sqlite3.connect(str(make_url(url).database), isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            yield
            other.execute("ROLLBACK")
        finally:
            other.close()
        return
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("LOCK TABLE cases, holidays IN EXCLUSIVE MODE"))  # reads pass
            yield
            conn.rollback()
    finally:
        engine.dispose()


async def until_set(flag: threading.Event) -> None:
    for _ in range(1000):
        if flag.is_set():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the submit never reached its INSERT")


async def test_a_held_lock_stalls_only_the_submit_which_answers_503(
    waiting_api: WaitingApi, settings: Settings, engine: Engine
) -> None:
    api = waiting_api.http
    known = form_data()
    tracked = open_case(engine, known)
    await api.get("/track")  # the CSRF cookie of the tracking form
    data = form_data()
    with write_lock_held(settings.database_url):
        submit = asyncio.create_task(api.post("/api/email-requests", json=data))
        await until_set(waiting_api.inserting_case)
        health = await api.get("/api/health")
        home = await api.get("/")
        tracking_page = await api.post(
            "/track",
            data={
                "csrf_token": api.cookies["peygir_csrf"],
                "tracking_code": tracked.tracking_code,
                "national_code": known["national_code"],
            },
        )
        tracking_api = await api.get(
            f"/api/track/{tracked.tracking_code}", params={"national_code": known["national_code"]}
        )
        # The causal check: all four answered while the submit still waited on the lock.
        assert not submit.done()
        answer = await submit

    assert health.status_code == 200 and health.json()["database"] is True
    assert home.status_code == 200
    assert tracking_page.status_code == 200, tracking_page.text
    assert tracking_api.status_code == 200 and tracking_api.json()["status"] == "open"
    assert answer.status_code == 503, answer.text
    assert answer.json()["code"] == "unavailable"
    assert int(answer.headers["Retry-After"]) > 0
    with Session(engine) as session:
        left = session.exec(
            select(Case).where(Case.requester_identity == data["national_code"])
        ).all()
    assert left == []


async def test_a_page_waiting_past_the_lock_timeout_answers_503(
    waiting_api: WaitingApi, settings: Settings, engine: Engine
) -> None:
    """A page whose write waits too long gets an error page with Retry-After, not a 500."""
    api = waiting_api.http
    await api.get("/email/new")
    data = form_data()
    with write_lock_held(settings.database_url):
        page = await api.post("/email/new", data={**data, "csrf_token": api.cookies["peygir_csrf"]})
    assert page.status_code == 503, page.text
    assert int(page.headers["Retry-After"]) > 0
    assert 'name="national_code"' in page.text  # the form is still there, as typed
    assert data["requested_username"] in page.text
    with Session(engine) as session:
        left = session.exec(
            select(Case).where(Case.requester_identity == data["national_code"])
        ).all()
    assert left == []


async def test_sync_routes_waiting_past_the_lock_timeout_answer_503(
    waiting_api: WaitingApi, settings: Settings, engine: Engine, make_user
) -> None:  # type: ignore[no-untyped-def]
    """The same for a route FastAPI runs in its thread pool: JSON for /api/, a page for pages."""
    api = waiting_api.http
    admin, headers = make_user(Role.admin)
    api.cookies.set(SESSION_COOKIE, issue_token(settings, admin.username))
    await api.get("/admin/holidays")
    day = date(2100 + secrets.randbelow(800), 1, 1)
    with write_lock_held(settings.database_url):
        json_answer = await api.put(
            f"/api/admin/holidays/{day}", json={"title": "نوروز"}, headers=headers
        )
        page = await api.post(
            "/admin/holidays",
            data={
                "csrf_token": api.cookies["peygir_csrf"],
                "day": to_jalali_date_str(day),
                "title": "نوروز",
            },
        )
    assert json_answer.status_code == 503, json_answer.text
    assert json_answer.json()["code"] == "unavailable"
    assert int(json_answer.headers["Retry-After"]) > 0
    assert page.status_code == 503, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert int(page.headers["Retry-After"]) > 0
    with Session(engine) as session:
        assert session.get(Holiday, day) is None


async def test_a_submit_waits_its_turn_behind_this_process_s_writers(
    waiting_api: WaitingApi, settings: Settings, engine: Engine
) -> None:
    """SQLite writes of one process queue on a lock handed over at once; a turn that does not
    come within the lock timeout is a lock wait like SQLite's own: 503, nothing written."""
    if make_url(settings.database_url).get_backend_name() != "sqlite":
        pytest.skip("PostgreSQL takes concurrent writers itself")
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with one_writer_at_a_time(waiting_api.engine):
            holding.set()
            release.wait(30)

    other = threading.Thread(target=writer)
    other.start()
    try:
        holding.wait(5)
        data = form_data()
        submit = asyncio.create_task(waiting_api.http.post("/api/email-requests", json=data))
        health = await waiting_api.http.get("/api/health")
        assert health.status_code == 200 and not submit.done()
        answer = await submit
    finally:
        release.set()
        other.join()
    assert answer.status_code == 503 and answer.json()["code"] == "unavailable"
    with Session(engine) as session:
        left = session.exec(
            select(Case).where(Case.requester_identity == data["national_code"])
        ).all()
    assert left == []
    # Once the other writer is done, the next submit goes straight through.
    after = await waiting_api.http.post("/api/email-requests", json=form_data())
    assert after.status_code == 201, after.text


def test_the_turn_is_only_sqlite_s_and_its_timeout_is_a_lock_wait(tmp_path: Path) -> None:
    sqlite_engine = make_engine(f"sqlite:///{tmp_path}/turns.db", lock_timeout_seconds=0.1)
    with one_writer_at_a_time(sqlite_engine):
        caught: list[Exception] = []

        def second() -> None:
            try:
                with one_writer_at_a_time(sqlite_engine):
                    pass
            except Exception as error:
                caught.append(error)

        thread = threading.Thread(target=second)
        thread.start()
        thread.join()
    assert len(caught) == 1 and is_lock_wait(caught[0])  # type: ignore[arg-type]
    postgres = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    with one_writer_at_a_time(postgres), one_writer_at_a_time(postgres):
        pass  # no turn taken: PostgreSQL orders its writers itself
    sqlite_engine.dispose()
    postgres.dispose()
