"""No pooled database connection waits on Temporal: every route ends its transaction first.

A stand-in for the Temporal client notes how many of the app's pooled connections are checked
out at each call; with the database work moved to worker threads, that must still be none.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.app import create_app
from api.security import SESSION_COOKIE, issue_token
from db.engine import make_engine
from db.models import Case
from domain.cases import CaseStatus, Role
from domain.tasks import TaskCompletion
from settings import Settings
from tests.api.test_cartable import add_task
from tests.factories import forget_case, form_data


class CountingTemporal:
    """Answers like Temporal would; records the checked-out connections at each call."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.held: dict[str, int] = {}

    def _note(self, call: str) -> None:
        self.held[call] = self.engine.pool.checkedout()  # type: ignore[attr-defined]

    async def start_workflow(self, *_: Any, **__: Any) -> None:
        self._note("start_workflow")

    def get_workflow_handle(self, *_: Any) -> CountingTemporal:
        return self

    async def execute_update(self, _update: Any, arg: Any) -> TaskCompletion:
        self._note("execute_update")
        return TaskCompletion(task_id=arg.task_id, case_status=CaseStatus.open, current_step=None)

    async def query(self, *_: Any) -> None:
        self._note("query")


@dataclass
class CountedApi:
    http: httpx.AsyncClient
    temporal: CountingTemporal


@pytest.fixture
async def counted(settings: Settings) -> AsyncIterator[CountedApi]:
    engine = make_engine(settings.database_url)
    temporal = CountingTemporal(engine)
    app = create_app(settings, engine=engine, temporal=temporal)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50002))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield CountedApi(http, temporal)
    engine.dispose()


async def test_the_submit_holds_no_connection_while_starting_the_workflow(
    counted: CountedApi, engine: Engine
) -> None:
    answer = await counted.http.post("/api/email-requests", json=form_data())
    assert answer.status_code == 201, answer.text
    assert counted.temporal.held == {"start_workflow": 0}
    forget_case_by_code(engine, answer.json()["tracking_code"])


async def test_decisions_and_case_pages_hold_no_connection_while_asking_the_workflow(
    counted: CountedApi, engine: Engine, settings: Settings, make_user
) -> None:  # type: ignore[no-untyped-def]
    expert, headers = make_user(Role.email_admin, Role.operator)
    task = add_task(engine, Role.email_admin)
    decided = await counted.http.post(
        f"/api/tasks/{task.id}/complete", json={"form_complete": True}, headers=headers
    )
    assert decided.status_code == 200, decided.text
    code = task.id.split(":")[0].removeprefix("email-")
    counted.http.cookies.set(SESSION_COOKIE, issue_token(settings, expert.username))
    page = await counted.http.get(f"/cases/{code}")
    assert page.status_code == 200, page.text
    assert counted.temporal.held == {"execute_update": 0, "query": 0}


def forget_case_by_code(engine: Engine, tracking_code: str) -> None:
    """The case the stand-in 'started' has no workflow: remove it before a sweep meets it."""
    with Session(engine) as session:
        case = session.exec(select(Case).where(Case.tracking_code == tracking_code)).one()
    forget_case(engine, case)
