"""The cartable lists exactly the user's open tasks (role, scope, assignee), overdue first."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlmodel import Session

from db.models import Task
from domain.cases import Role, TaskStatus
from tests.factories import form_data, open_case


def add_task(
    engine: Engine,
    role: Role,
    *,
    scope=None,
    assignee=None,
    overdue=False,
    status=TaskStatus.open,
    due_in_hours: int = 24,
    form_schema: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
) -> Task:  # type: ignore[no-untyped-def]
    case = open_case(engine, form_data())
    task = Task(
        id=f"{case.workflow_id}:step:{uuid.uuid4().hex[:6]}",
        case_id=case.id,
        process="email_account",
        step="review_form",
        title_fa="بررسی",
        title_en="Review",
        role=role,
        scope=scope,
        assignee=assignee,
        overdue=overdue,
        status=status,
        due_at=datetime.now(UTC) + timedelta(hours=due_in_hours),
        form_schema=form_schema or {"type": "object"},
        context=context or {},
    )
    with Session(engine, expire_on_commit=False) as session:
        session.add(task)
        session.commit()
    return task


async def test_cartable_by_role_scope_and_assignee(
    api: httpx.AsyncClient, engine: Engine, make_user
) -> None:
    unit = f"unit-{uuid.uuid4().hex[:6]}"
    other_unit = f"unit-{uuid.uuid4().hex[:6]}"
    user, headers = make_user(Role.support_lead, scopes=(unit,))
    mine_late = add_task(engine, Role.support_lead, scope=unit, overdue=True, due_in_hours=-5)
    mine = add_task(engine, Role.support_lead, scope=unit, due_in_hours=3)
    unscoped = add_task(engine, Role.support_lead, due_in_hours=10)
    other_scope = add_task(engine, Role.support_lead, scope=other_unit)
    other_role = add_task(engine, Role.technician, scope=unit)
    given_to_me = add_task(engine, Role.technician, scope=other_unit, assignee=user.username)
    given_to_other = add_task(engine, Role.support_lead, scope=unit, assignee="someone")
    done = add_task(engine, Role.support_lead, scope=unit, status=TaskStatus.done)

    listing = await api.get("/api/tasks", headers=headers)
    assert listing.status_code == 200
    ids = [t["id"] for t in listing.json()["items"]]
    assert ids[0] == mine_late.id  # overdue first
    assert set(ids) == {mine_late.id, mine.id, unscoped.id, given_to_me.id}
    for hidden in (other_scope, other_role, given_to_other, done):
        assert hidden.id not in ids
    body = listing.json()
    assert body["total"] == 4 and body["overdue"] == 1
    assert body["by_process"] == {"email_account": 4}
    assert body["items"][0]["due_at_jalali"]

    late = await api.get("/api/tasks", headers=headers, params={"overdue": True})
    assert [t["id"] for t in late.json()["items"]] == [mine_late.id]
    mine_only = await api.get("/api/tasks", headers=headers, params={"process": "email_account"})
    assert mine_only.json()["total"] == 4
    unknown = await api.get("/api/tasks", headers=headers, params={"process": "no_such_process"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "process"

    assert (await api.get(f"/api/tasks/{mine.id}", headers=headers)).status_code == 200
    denied = await api.get(f"/api/tasks/{other_scope.id}", headers=headers)
    assert denied.status_code == 403
    closed = await api.post(f"/api/tasks/{done.id}/complete", json={}, headers=headers)
    assert closed.status_code == 409
    assert (await api.get("/api/tasks/nope", headers=headers)).status_code == 404


async def test_anonymous_and_bad_token(api: httpx.AsyncClient) -> None:
    assert (await api.get("/api/tasks")).status_code == 401
    bad = await api.get("/api/tasks", headers={"Authorization": "Bearer forged"})
    assert bad.status_code == 401
    assert bad.json()["code"] == "not_authenticated"


async def test_login(api: httpx.AsyncClient, make_user) -> None:
    user, _ = make_user(Role.email_admin)
    ok = await api.post(
        "/api/auth/token", data={"username": user.username, "password": "pass-word-1"}
    )
    assert ok.status_code == 200
    me = await api.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {ok.json()['access_token']}"}
    )
    assert me.json()["roles"] == ["email_admin"]
    wrong = await api.post("/api/auth/token", data={"username": user.username, "password": "nope"})
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_credentials"


async def test_comments_by_people_on_the_case(
    api: httpx.AsyncClient, engine: Engine, make_user
) -> None:
    unit = f"unit-{uuid.uuid4().hex[:6]}"
    task = add_task(engine, Role.support_lead, scope=unit)
    with Session(engine) as session:
        code = session.get(Task, task.id).id.split(":")[0].removeprefix("email-")  # type: ignore[union-attr]
    _, on_case = make_user(Role.support_lead, scopes=(unit,))
    _, outsider = make_user(Role.support_lead, scopes=("elsewhere",))
    added = await api.post(
        f"/api/cases/{code}/comments", json={"text": "  با واحد تماس گرفتم  "}, headers=on_case
    )
    assert added.status_code == 201 and added.json()["text_fa"] == "با واحد تماس گرفتم"
    assert (
        await api.post(f"/api/cases/{code}/comments", json={"text": "x"}, headers=outsider)
    ).status_code == 403
    empty = await api.post(f"/api/cases/{code}/comments", json={"text": "   "}, headers=on_case)
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "text"
