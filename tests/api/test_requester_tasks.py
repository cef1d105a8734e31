"""Tasks a case asks of its requester: listed by tracking, decided through one public route, by
the identity or the signed link, as the requester of that one case (no workflow needed here:
the Update is recorded, or answered as a workflow would)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from api.errors import ApiError, FieldProblem
from api.routes import tasks as task_routes
from db.models import Case, Task
from domain.cases import Role, TaskStatus
from domain.requester_link import requester_link_token
from domain.tasks import CompleteTaskInput, TaskCompletion, requester_actor
from settings import Settings
from tests.factories import form_data, open_case
from workflows.human_task import CaseWorkflow

SCHEMA = {
    "type": "object",
    "properties": {
        "received": {"type": "boolean", "title": "Received?"},
        "note": {
            "anyOf": [{"type": "string", "maxLength": 200}, {"type": "null"}],
            "default": None,
            "title": "Note",
        },
    },
    "required": ["received"],
}


def add(engine: Engine, case: Case, role: Role, *, scope: str | None, **fields: Any) -> Task:
    task = Task(
        id=f"{case.workflow_id}:step:{uuid.uuid4().hex[:6]}",
        case_id=case.id,
        process=case.process,
        step="confirm_receipt",
        title_fa="تایید دریافت",
        title_en="Confirm receipt",
        role=role,
        scope=scope,
        due_at=datetime.now(UTC) + timedelta(days=2),
        form_schema=SCHEMA,
        **fields,
    )
    with Session(engine, expire_on_commit=False) as session:
        session.add(task)
        session.commit()
    return task


class RecordedWorkflow:
    """Stands in for `run_update`: notes what was delivered; accepts, or refuses with `error`."""

    def __init__(self, error: ApiError | None = None) -> None:
        self.error = error
        self.delivered: list[tuple[Any, CompleteTaskInput]] = []

    async def __call__(
        self, client: Any, session: Any, case: Any, update: Any, arg: Any, lang: Any
    ) -> Any:
        self.delivered.append((update, arg))
        if self.error is not None:
            raise self.error
        return TaskCompletion(task_id=arg.task_id, case_status="open", current_step=None)


@pytest.fixture
def case_asking(engine: Engine) -> tuple[Case, str, Task]:
    """An open case (its identity) with one task for its requester."""
    data = form_data()
    case = open_case(engine, data)
    return case, data["national_code"], add(engine, case, Role.requester, scope=case.tracking_code)


@pytest.fixture
def workflow(monkeypatch: pytest.MonkeyPatch) -> RecordedWorkflow:
    recorded = RecordedWorkflow()
    monkeypatch.setattr(task_routes, "run_update", recorded)
    return recorded


async def test_tracking_lists_the_requesters_open_tasks_only(
    api: httpx.AsyncClient, engine: Engine, settings: Settings, case_asking
) -> None:
    case, identity, task = case_asking
    add(engine, case, Role.technician, scope=None)
    add(engine, case, Role.requester, scope=case.tracking_code, status=TaskStatus.done)
    add(engine, case, Role.requester, scope="another-code")
    by_identity = await api.get(f"/api/track/{case.tracking_code}", params={"identity": identity})
    assert by_identity.status_code == 200, by_identity.text
    [listed] = by_identity.json()["tasks"]
    assert listed["id"] == task.id and listed["title_fa"] == "تایید دریافت"
    assert listed["form_schema"] == SCHEMA and listed["due_at_jalali"]

    token = requester_link_token(settings.secret_key, case.tracking_code)
    by_link = await api.get(f"/api/track/{case.tracking_code}", params={"token": token})
    assert by_link.json() == by_identity.json()

    wrong = await api.get(
        f"/api/track/{case.tracking_code}",
        params={"token": token[:-1] + ("B" if token.endswith("A") else "A")},
    )
    elsewhere = await api.get(
        "/api/track/9999999999",
        params={"token": requester_link_token(settings.secret_key, "9999999999")},
    )
    assert wrong.status_code == elsewhere.status_code == 404
    assert wrong.json() == elsewhere.json()


async def test_the_decision_goes_to_the_workflow_as_the_requester_of_that_case(
    api: httpx.AsyncClient, settings: Settings, case_asking, workflow: RecordedWorkflow
) -> None:
    case, identity, task = case_asking
    url = f"/api/track/{case.tracking_code}/tasks/{task.id}"
    by_identity = await api.post(url, json={"identity": identity, "decision": {"received": True}})
    assert by_identity.status_code == 200, by_identity.text
    token = requester_link_token(settings.secret_key, case.tracking_code)
    by_link = await api.post(url, json={"token": token, "decision": {"received": False}})
    assert by_link.status_code == 200, by_link.text

    assert [update for update, _ in workflow.delivered] == [CaseWorkflow.complete_task] * 2
    first, second = (arg for _, arg in workflow.delivered)
    assert first.actor == second.actor == requester_actor(case.tracking_code)
    assert first.actor.username == f"requester:{case.tracking_code}"
    assert not re.fullmatch(r"[a-z][a-z0-9._-]{1,63}", first.actor.username)  # never a login
    assert (first.task_id, first.decision, second.decision) == (
        task.id,
        {"received": True},
        {"received": False},
    )


async def test_refusals_before_the_workflow(
    api: httpx.AsyncClient, engine: Engine, case_asking, workflow: RecordedWorkflow
) -> None:
    case, identity, task = case_asking
    code = case.tracking_code

    async def post(task_id: str, who: str = identity, tracking_code: str = code) -> httpx.Response:
        return await api.post(
            f"/api/track/{tracking_code}/tasks/{task_id}",
            json={"identity": who, "decision": {"received": True}},
        )

    wrong, unknown = await post(task.id, "0013542419"), await post(task.id, tracking_code="1")
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json() == unknown.json() and wrong.headers.keys() == unknown.headers.keys()
    staffs = add(engine, case, Role.technician, scope=None)
    assert (await post(staffs.id)).status_code == 403
    closed = add(engine, case, Role.requester, scope=code, status=TaskStatus.done)
    assert (await post(closed.id)).status_code == 409
    other_case = open_case(engine, form_data())
    theirs = add(engine, other_case, Role.requester, scope=other_case.tracking_code)
    assert (await post(theirs.id)).status_code == 404
    assert (await post("no-such-task")).status_code == 404
    assert workflow.delivered == []


async def test_the_workflows_refusal_names_the_field_in_the_callers_language(
    api: httpx.AsyncClient, case_asking, workflow: RecordedWorkflow
) -> None:
    case, identity, task = case_asking
    workflow.error = ApiError(
        422,
        "invalid_decision",
        [FieldProblem(field="received", reason="This field is required.", code="required")],
    )
    refused = await api.post(
        f"/api/track/{case.tracking_code}/tasks/{task.id}",
        json={"identity": identity, "decision": {}},
        headers={"Accept-Language": "en"},
    )
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {"field": "received", "reason": "This field is required.", "code": "required"}
    ]


async def test_the_lookups_and_decisions_share_the_tracking_rate_limit(
    api: httpx.AsyncClient, settings: Settings, case_asking
) -> None:
    case, _, task = case_asking
    answers = [
        (
            await api.post(
                f"/api/track/{case.tracking_code}/tasks/{task.id}",
                json={"identity": "0013542419", "decision": {}},
            )
        ).status_code
        for _ in range(settings.track_rate_limit_per_minute)
    ]
    assert answers == [404] * settings.track_rate_limit_per_minute
    assert (await api.get(f"/api/track/{case.tracking_code}")).status_code == 429


def _csrf(page: httpx.Response) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, "no CSRF token on the page"
    return match.group(1)


async def test_the_page_keeps_a_refused_answer_and_shows_the_accepted_one(
    api: httpx.AsyncClient, settings: Settings, case_asking, workflow: RecordedWorkflow
) -> None:
    case, _, task = case_asking
    token = requester_link_token(settings.secret_key, case.tracking_code)
    page = await api.get(f"/track/{case.tracking_code}", params={"k": token})
    assert page.status_code == 200, page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "تایید دریافت" in page.text and f'name="k" value="{token}"' in page.text
    assert 'name="national_code"' not in page.text  # no identity asked, none carried
    action = f"/track/{case.tracking_code}/tasks/{task.id.replace(':', '%3A')}"
    assert f'action="{action}"' in page.text

    workflow.error = ApiError(
        422,
        "invalid_decision",
        [FieldProblem(field="received", reason="پر کردن این فیلد الزامی است.", code="required")],
    )
    refused = await api.post(
        action, data={"k": token, "note": "کیف ندارد", "csrf_token": _csrf(page)}
    )
    assert refused.status_code == 422
    assert 'id="e-received"' in refused.text and "پر کردن این فیلد الزامی است." in refused.text
    assert 'value="کیف ندارد"' in refused.text or ">کیف ندارد<" in refused.text
    assert workflow.delivered[-1][1].decision == {"note": "کیف ندارد"}

    workflow.error = None
    accepted = await api.post(
        action, data={"k": token, "received": "true", "csrf_token": _csrf(refused)}
    )
    assert accepted.status_code == 200
    assert 'id="task-decided"' in accepted.text
    assert workflow.delivered[-1][1].decision == {"received": True}

    forged = await api.post(
        action, data={"k": "x" * 22, "received": "true", "csrf_token": _csrf(accepted)}
    )
    assert forged.status_code == 404 and 'name="tracking_code"' in forged.text
