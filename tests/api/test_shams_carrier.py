"""The carrier's bulk report: each row to its own site's task, answered on its own; the same
report twice changes nothing. The workflows are stood in for by a scripted Temporal client
(tests/e2e/test_shams_rollout.py runs the real ones)."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from db.case_store import workflow_id
from db.models import Task
from db.shams import County, Site
from domain.cases import Role, TaskStatus
from domain.shams import LinkType, SiteKind, SiteState
from domain.tasks import CompleteTaskInput, TaskCompletion, TaskRefusal, task_id_of
from processes.shams import SHAMS
from workflows.shams_site import INSTALL_LINE, RANGE_SITE

FEASIBLE = {"feasible": True, "exchange": "مرکز امام", "link_type": "fibre"}
RANGED = {**FEASIBLE, "reason": None, "expected_on": None, "note": None}
"""`FEASIBLE` as the site's task takes it."""


@dataclass
class ScriptedClient:
    """A Temporal client whose workflows take every decision, but those it is told to refuse."""

    refuse: dict[str, ApplicationError] = field(default_factory=dict)
    """Task id → the validator's refusal."""
    taken: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    """(workflow id, task id, decision) of every decision taken."""

    def get_workflow_handle(self, workflow_id: str) -> ScriptedHandle:
        return ScriptedHandle(self, workflow_id)


@dataclass
class ScriptedHandle:
    client: ScriptedClient
    workflow_id: str

    async def execute_update(self, update: Any, arg: CompleteTaskInput) -> TaskCompletion:
        refusal = self.client.refuse.get(arg.task_id)
        if refusal is not None:
            raise WorkflowUpdateFailedError(refusal)
        self.client.taken.append((self.workflow_id, arg.task_id, arg.decision))
        return TaskCompletion(task_id=arg.task_id, case_status="open", current_step=None)


@dataclass
class Rollout:
    rollout_id: str
    county: str
    sites: dict[str, str]
    """Site code → the workflow id of its site."""


def seed(engine: Engine, states: dict[str, SiteState]) -> Rollout:
    """A county's sites in a rollout, each in `states`' state (by a short name)."""
    tag = uuid.uuid4().hex[:6]
    rollout = Rollout(rollout_id=f"9{uuid.uuid4().int % 10**9:09d}", county=f"C{tag}", sites={})
    with Session(engine) as session:
        session.add(County(code=rollout.county, name=f"شبکه بهداشت {tag}"))
        session.commit()
        for name, state in states.items():
            code = f"{name}{tag}"
            session.add(
                Site(
                    county_code=rollout.county,
                    site_code=code,
                    name=f"خانه بهداشت {code}",
                    kind=SiteKind.health_house,
                    address="روستای آزمون",
                    latitude=35.7,
                    longitude=51.4,
                    link_type=LinkType.adsl,
                    state=state,
                    rollout_id=rollout.rollout_id,
                )
            )
            owner = f"{workflow_id(SHAMS, rollout.rollout_id)}-{rollout.county}-{code}"
            rollout.sites[name] = owner
        session.commit()
    return rollout


def add_site_task(
    engine: Engine,
    case_id: int,
    owner: str,
    step: str,
    *,
    status: TaskStatus = TaskStatus.open,
    decision: dict[str, Any] | None = None,
) -> str:
    task_id = task_id_of(owner, step, 1)
    with Session(engine) as session:
        session.add(
            Task(
                id=task_id,
                case_id=case_id,
                process=SHAMS.kind,
                step=step,
                title_fa="رانژه",
                title_en="Range",
                role=Role.carrier,
                scope="*",
                status=status,
                due_at=datetime.now(UTC) + timedelta(days=3),
                decision=decision,
            )
        )
        session.commit()
    return task_id


@pytest.fixture
def scripted(api: httpx.AsyncClient) -> ScriptedClient:
    client = ScriptedClient()
    api.app.state.temporal = client  # type: ignore[attr-defined]
    return client


@pytest.fixture
def case_id(engine: Engine) -> int:
    from tests.factories import form_data, open_case

    case = open_case(engine, form_data())
    assert case.id is not None
    return case.id


def row(code: str, report: str = "ranging", **fields: Any) -> dict[str, Any]:
    return {"site_code": code, "report": report, **fields}


async def test_each_row_goes_to_its_own_site_and_is_answered_on_its_own(
    api: httpx.AsyncClient, engine: Engine, make_user, scripted: ScriptedClient, case_id: int
) -> None:
    rollout = seed(
        engine,
        {
            "a": SiteState.sent_to_carrier,
            "b": SiteState.sent_to_carrier,
            "c": SiteState.feasible,
            "d": SiteState.sent_to_carrier,
            "hidden": SiteState.accepted,
        },
    )
    tag = rollout.sites["a"].rsplit("-", 1)[1][1:]
    a = add_site_task(engine, case_id, rollout.sites["a"], RANGE_SITE.key)
    b = add_site_task(engine, case_id, rollout.sites["b"], RANGE_SITE.key)
    c = add_site_task(engine, case_id, rollout.sites["c"], INSTALL_LINE.key)
    scripted.refuse[b] = ApplicationError(
        "the decision is not valid for this step",
        [{"field": "exchange", "reason": "unknown exchange", "kind": "value_error"}],
        type=TaskRefusal.invalid_decision,
        non_retryable=True,
    )
    _, headers = make_user(Role.carrier)
    answer = await api.post(
        "/api/shams/carrier/reports",
        json={
            "rows": [
                row(f"a{tag}", **FEASIBLE, expected_on=None),
                row(f"b{tag}", **FEASIBLE),
                row(f"c{tag}", "line_installed", circuit_id="TX-1"),
                row(f"d{tag}", feasible=False),  # no reason
                row(f"hidden{tag}", **FEASIBLE),  # not sent to the carrier
                row("no-such-site", **FEASIBLE),
                row(f"a{tag}", **FEASIBLE),  # the same site twice in one report
                {"report": "ranging"},
            ]
        },
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    outcomes = [(r["row"], r["outcome"], r["code"]) for r in body["rows"]]
    assert outcomes == [
        (1, "accepted", None),
        (2, "rejected", "invalid_decision"),
        (3, "accepted", None),
        (4, "rejected", "invalid_value"),
        (5, "rejected", "unknown_site"),
        (6, "rejected", "unknown_site"),
        (7, "rejected", "site_repeated"),
        (8, "rejected", "invalid_value"),
    ]
    assert (body["accepted"], body["unchanged"], body["rejected"]) == (2, 0, 6)
    # The columns at fault, by the carrier's spreadsheet headers.
    assert body["rows"][1]["reason"].startswith("مرکز مخابراتی: ")
    assert body["rows"][3]["reason"].startswith("دلیل عدم امکان: ")
    assert sorted(scripted.taken) == sorted(
        [
            (
                rollout.sites["a"],
                a,
                {**FEASIBLE, "reason": None, "expected_on": None, "note": None},
            ),
            (rollout.sites["c"], c, {"circuit_id": "TX-1", "note": None}),
        ]
    )


async def test_the_same_report_twice_changes_nothing(
    api: httpx.AsyncClient, engine: Engine, make_user, scripted: ScriptedClient, case_id: int
) -> None:
    rollout = seed(engine, {"a": SiteState.feasible, "b": SiteState.feasible})
    tag = rollout.sites["a"].rsplit("-", 1)[1][1:]
    taken = RANGED
    # Both were ranged by the first report; a's line task is open since, b was closed.
    add_site_task(
        engine,
        case_id,
        rollout.sites["a"],
        RANGE_SITE.key,
        status=TaskStatus.done,
        decision=taken,
    )
    add_site_task(engine, case_id, rollout.sites["a"], INSTALL_LINE.key)
    add_site_task(
        engine,
        case_id,
        rollout.sites["b"],
        RANGE_SITE.key,
        status=TaskStatus.done,
        decision={**taken, "link_type": "adsl"},
    )
    _, headers = make_user(Role.carrier)
    answer = await api.post(
        "/api/shams/carrier/reports",
        json={"rows": [row(f"a{tag}", **FEASIBLE), row(f"b{tag}", **FEASIBLE)]},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    assert [(r["outcome"], r["code"]) for r in answer.json()["rows"]] == [
        ("unchanged", None),
        ("rejected", "not_at_this_step"),
    ]
    assert scripted.taken == []


async def test_the_carriers_spreadsheet_in_persian(
    api: httpx.AsyncClient, engine: Engine, make_user, scripted: ScriptedClient, case_id: int
) -> None:
    rollout = seed(engine, {"a": SiteState.sent_to_carrier, "b": SiteState.sent_to_carrier})
    tag = rollout.sites["a"].rsplit("-", 1)[1][1:]
    add_site_task(engine, case_id, rollout.sites["a"], RANGE_SITE.key)
    add_site_task(engine, case_id, rollout.sites["b"], RANGE_SITE.key)
    _, headers = make_user(Role.carrier)
    template = await api.get("/api/shams/carrier/reports/template", headers=headers)
    assert template.status_code == 200
    header = [c.value for c in next(load_workbook(io.BytesIO(template.content)).active.rows)]
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    sheet.append([f"a{tag}", "رانژه", "بله", "مرکز امام", "fibre", None, None, None, None])
    sheet.append([f"b{tag}", "رانژه", "خیر", None, None, "no_free_port", None, None, "پورت"])
    data = io.BytesIO()
    book.save(data)
    answer = await api.post(
        "/api/shams/carrier/reports/upload",
        files={"file": ("carrier.xlsx", data.getvalue())},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    assert [(r["row"], r["outcome"]) for r in answer.json()["rows"]] == [
        (2, "accepted"),
        (3, "accepted"),
    ]
    decisions = {task: decision for _, task, decision in scripted.taken}
    assert decisions[task_id_of(rollout.sites["b"], RANGE_SITE.key, 1)]["reason"] == (
        "no_free_port"
    )


async def test_only_the_carrier_reports(
    api: httpx.AsyncClient, make_user, scripted: ScriptedClient
) -> None:
    _, headers = make_user(Role.county_network, scopes=("county:101",))
    answer = await api.post(
        "/api/shams/carrier/reports", json={"rows": [row("x", **FEASIBLE)]}, headers=headers
    )
    assert answer.status_code == 403
    assert scripted.taken == []
