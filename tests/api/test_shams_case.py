"""The rollout's case page: its own tasks listed, and its counties' and sites' open tasks
counted by step, the first of each linked (a rollout has thousands)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import Engine
from sqlmodel import Session

from db.case_store import open_case
from db.models import Case, Task
from domain.cases import Role, TaskStatus
from domain.shams_process import RolloutForm
from domain.tasks import task_id_of
from processes.shams import SHAMS
from settings import Settings
from tests.api.test_pages import logged_in
from workflows.shams import DRAFT_LETTER
from workflows.shams_county import COLLECT_SITES
from workflows.shams_site import RANGE_SITE


def rollout(engine: Engine) -> Case:
    with Session(engine, expire_on_commit=False) as session:
        case = open_case(
            session,
            SHAMS,
            RolloutForm(title="اتصال نقاط روستایی، مرحله آزمون"),
            idempotency_key=None,
            answer_due_at=datetime.now(UTC) + timedelta(days=60),
            started_by="office",
        )
        session.commit()
    return case


def add_task(
    engine: Engine,
    case: Case,
    owner: str,
    step: str,
    role: Role,
    *,
    status: TaskStatus = TaskStatus.open,
    overdue: bool = False,
    due_in_days: int = 3,
) -> str:
    task_id = task_id_of(owner, step, 1)
    assert case.id is not None
    with Session(engine) as session:
        session.add(
            Task(
                id=task_id,
                case_id=case.id,
                process=SHAMS.kind,
                step=step,
                title_fa=f"عنوان {step}",
                title_en=f"Title {step}",
                role=role,
                scope="*",
                status=status,
                overdue=overdue,
                due_at=datetime.now(UTC) + timedelta(days=due_in_days),
            )
        )
        session.commit()
    return task_id


async def test_the_case_counts_and_links_its_parts_open_tasks(
    api: httpx.AsyncClient, engine: Engine, settings: Settings, make_user
) -> None:  # type: ignore[no-untyped-def]
    case = rollout(engine)
    county = f"{case.workflow_id}-C{uuid.uuid4().hex[:4]}"
    own = add_task(
        engine, case, case.workflow_id, DRAFT_LETTER.key, Role.it_office, status=TaskStatus.done
    )
    collect = add_task(engine, case, county, COLLECT_SITES.key, Role.county_network)
    late = add_task(
        engine, case, f"{county}-S1", RANGE_SITE.key, Role.carrier, overdue=True, due_in_days=-1
    )
    ranging = [late] + [
        add_task(engine, case, f"{county}-S{n}", RANGE_SITE.key, Role.carrier) for n in (2, 3)
    ]
    add_task(engine, case, f"{county}-S4", RANGE_SITE.key, Role.carrier, status=TaskStatus.done)
    user, headers = make_user(Role.it_office)

    detail = await api.get(f"/api/cases/{case.tracking_code}", headers=headers)
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert [t["id"] for t in body["tasks"]] == [own]
    parts = {g["step"]: g for g in body["part_tasks"]}
    assert set(parts) == {COLLECT_SITES.key, RANGE_SITE.key}
    assert (parts[RANGE_SITE.key]["open"], parts[RANGE_SITE.key]["overdue"]) == (3, 1)
    assert [t["id"] for t in parts[RANGE_SITE.key]["first"]] == ranging  # the oldest due first
    assert (parts[COLLECT_SITES.key]["open"], parts[COLLECT_SITES.key]["overdue"]) == (1, 0)

    await logged_in(api, settings, user.username)
    page = await api.get(f"/cases/{case.tracking_code}")
    assert page.status_code == 200
    for task_id in (collect, *ranging):
        assert f'href="/tasks/{task_id.replace(":", "%3A")}"' in page.text
    assert "Title range_site" not in page.text and "عنوان range_site" in page.text
    assert "کارهای باز بخش‌های پرونده" in page.text and "باز: ۳" in page.text
