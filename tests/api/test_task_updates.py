"""A task's Update when the database shows the task open but the workflow does not know it yet.

After a worker crash the task row (written by a local activity) can be ahead of the workflow's
durable state; the next worker catches up within moments, so the API asks again, and gives the
caller 409 only when the database agrees the task is closed or the pauses run out.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from api.errors import ApiError
from api.routes import tasks as task_routes
from db.models import Task
from domain.cases import Role, TaskStatus
from domain.tasks import TaskCompletion
from tests.api.test_cartable import add_task


class ScriptedWorkflow:
    """Stands in for `run_update`: refuses as not open a number of times, then accepts."""

    def __init__(self, refusals: int, on_refusal: Any = None) -> None:
        self.refusals = refusals
        self.on_refusal = on_refusal
        self.calls = 0

    async def __call__(
        self,
        client: Any,
        session: Any,
        case: Any,
        update: Any,
        arg: Any,
        lang: Any,
        task_id: str | None = None,
    ) -> Any:
        self.calls += 1
        if self.calls <= self.refusals:
            if self.on_refusal is not None:
                self.on_refusal()
            raise ApiError(409, "task_not_open")
        return TaskCompletion(task_id=arg.task_id, case_status="open", current_step=None)


@pytest.fixture
def quick_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(task_routes, "READ_MODEL_LEAD", (0.01, 0.01, 0.01))


@pytest.fixture
def open_task(engine: Engine, make_user, quick_pauses) -> tuple[Task, dict[str, str]]:  # type: ignore[no-untyped-def]
    """An open review task in the database, and an expert's bearer header."""
    _, headers = make_user(Role.email_admin)
    return add_task(engine, Role.email_admin), headers


async def complete(
    api: httpx.AsyncClient,
    open_task: tuple[Task, dict[str, str]],
    workflow: ScriptedWorkflow,
    monkeypatch: pytest.MonkeyPatch,
) -> httpx.Response:
    task, headers = open_task
    monkeypatch.setattr(task_routes, "run_update", workflow)
    return await api.post(
        f"/api/tasks/{task.id}/complete", json={"form_complete": True}, headers=headers
    )


async def test_asks_again_until_the_workflow_catches_up(api, open_task, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    workflow = ScriptedWorkflow(refusals=2)
    answer = await complete(api, open_task, workflow, monkeypatch)
    assert answer.status_code == 200, answer.text
    assert answer.json()["task_id"] == open_task[0].id
    assert workflow.calls == 3


async def test_stops_asking_once_the_database_shows_it_closed(  # type: ignore[no-untyped-def]
    api, engine: Engine, open_task, monkeypatch
) -> None:
    def someone_else_closed_it() -> None:
        with Session(engine) as session:
            row = session.get(Task, open_task[0].id)
            assert row is not None
            row.status = TaskStatus.done
            session.add(row)
            session.commit()

    workflow = ScriptedWorkflow(refusals=10, on_refusal=someone_else_closed_it)
    answer = await complete(api, open_task, workflow, monkeypatch)
    assert answer.status_code == 409
    assert answer.json()["code"] == "task_not_open"
    assert workflow.calls == 1


async def test_gives_up_with_409_when_the_pauses_run_out(api, open_task, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    workflow = ScriptedWorkflow(refusals=10)
    answer = await complete(api, open_task, workflow, monkeypatch)
    assert answer.status_code == 409
    assert workflow.calls == 4  # the first ask and one after each of the three pauses
