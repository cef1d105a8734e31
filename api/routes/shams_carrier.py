"""The carrier's bulk reports (رانژه and installed lines) for many SHAMS sites at once.

Each row goes to its own site's workflow, as the decision of that site's open task (never
through the rollout or the county, whose histories would not hold thousands of Updates), and
is answered on its own: accepted, unchanged, or rejected with its reason; a bad row does not
stop the others. The same report sent twice changes nothing: a row whose task already took the
same decision is answered unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Request, Response, UploadFile
from pydantic import ValidationError
from sqlalchemy import ColumnElement, Engine, and_, or_, select
from sqlmodel import Session, col
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError

from api.blocking import run_blocking
from api.errors import ApiError, FieldProblem, documented, field_problems, lang_of
from api.routes.tasks import ClientDep, update_refusal
from api.security import actor_of, require_role
from api.uploads import receive, refusal
from db.case_store import workflow_id
from db.models import Case, Task, User
from db.shams import Site, reach_filter, site_reach
from db.site_register import read_table
from domain.cases import Role, TaskStatus
from domain.messages import Lang, message
from domain.shams_carrier import (
    CARRIER_HEADERS,
    CARRIER_REQUIRED,
    CarrierReport,
    CarrierReportAnswer,
    CarrierReportRow,
    CarrierReports,
    RowAnswer,
    RowOutcome,
    row_from_cells,
)
from domain.spreadsheets import xlsx_bytes
from domain.tasks import CompleteTaskInput, Decision, workflow_of_task
from domain.text import normalize_text
from domain.uploads import FileRefused, MediaType, UploadKind
from processes.shams import SHAMS
from workflows.human_task import CaseWorkflow, Step
from workflows.shams_site import INSTALL_LINE, RANGE_SITE, REPAIR_LINE

UPDATES_AT_ONCE = 32
"""Updates in flight per bulk call: enough to keep the worker busy, few enough to leave the
server room for everyone else."""

STEPS: dict[CarrierReport, tuple[Step[Any], ...]] = {
    CarrierReport.ranging: (RANGE_SITE,),
    CarrierReport.line_installed: (INSTALL_LINE, REPAIR_LINE),
}
"""The site's tasks each report answers (a repaired line is reported as installed)."""

carrier_only = Depends(require_role(Role.carrier))
router = APIRouter(
    prefix="/api/shams/carrier", tags=["shams carrier"], responses=documented(401, 403)
)


@dataclass
class _Row:
    number: int
    site_code: str | None
    report: CarrierReportRow | None = None
    decision: dict[str, Any] | None = None
    task_id: str | None = None
    answer: RowAnswer | None = None


@dataclass(frozen=True)
class _TaskRow:
    id: str
    step: str
    status: TaskStatus
    decision: dict[str, Any] | None


def _reject(row: _Row, code: str, lang: Lang, detail: str | None = None) -> None:
    """Rejected with `code`; the reason is `detail` where it names the fields at fault."""
    row.answer = RowAnswer(
        row=row.number,
        site_code=row.site_code,
        outcome=RowOutcome.rejected,
        code=code,
        reason=detail or message(code, lang),
    )


def _fields_text(problems: list[FieldProblem], lang: Lang) -> str:
    """«column: reason; …», the columns by the spreadsheet's own headers in Persian."""

    def column(field: str) -> str:
        names = CARRIER_HEADERS.get(field.split(".")[0])
        return names[0] if names is not None and lang == Lang.fa else field

    separator = "؛ " if lang == Lang.fa else "; "
    return separator.join(f"{column(p.field)}: {p.reason}" for p in problems)


def _problems_text(errors: list[dict[str, Any]], lang: Lang) -> str:
    return _fields_text(field_problems(errors, lang), lang)


def _checked_rows(raw: list[tuple[int, dict[str, Any]]], lang: Lang) -> list[_Row]:
    """Each row parsed and its decision checked by the model its task takes."""
    now = datetime.now(UTC)
    rows: list[_Row] = []
    seen: set[str] = set()
    for number, data in raw:
        code = data.get("site_code")
        row = _Row(number, normalize_text(str(code)) if code not in (None, "") else None)
        rows.append(row)
        try:
            row.report = CarrierReportRow.model_validate(data)
        except ValidationError as error:
            _reject(
                row, "invalid_value", lang, _problems_text([dict(e) for e in error.errors()], lang)
            )
            continue
        row.site_code = row.report.site_code
        if row.site_code in seen:
            _reject(row, "site_repeated", lang)
            continue
        seen.add(row.site_code)
        model: type[Decision] = STEPS[row.report.report][0].decision
        try:
            checked = model.model_validate(
                row.report.decision(), context={"options": {}, "now": now}
            )
        except ValidationError as error:
            _reject(
                row, "invalid_value", lang, _problems_text([dict(e) for e in error.errors()], lang)
            )
            continue
        row.decision = checked.model_dump(mode="json")
    return rows


def site_workflow(rollout: str, county: str, site_code: str) -> str:
    """A site's workflow id: its county's (the rollout's and the county code) and its code."""
    return f"{workflow_id(SHAMS, rollout)}-{county}-{site_code}"


FEW_SITES = 200
"""Up to this many sites, their tasks are read by id range each; beyond, by their rollouts'
cases (a big report covers most of a rollout anyway)."""


def _tasks_of(owners: Iterable[str], rollouts: set[str | None]) -> ColumnElement[bool]:
    """The tasks asked by `owners` (ids `{workflow}:{step}:{n}`: a range of the primary key)."""
    ids = list(owners)
    if len(ids) <= FEW_SITES:
        return or_(*(and_(col(Task.id) > f"{o}:", col(Task.id) < f"{o};") for o in ids))
    cases = select(col(Case.id)).where(
        col(Case.workflow_id).in_([workflow_id(SHAMS, r) for r in rollouts if r])
    )
    return col(Task.case_id).in_(cases)


def _find_tasks(engine: Engine, user: User, rows: list[_Row], lang: Lang) -> None:
    """The open task each row answers (or, for a report taken before, the task that took it),
    read in two statements whatever the number of rows."""
    wanted = [r for r in rows if r.answer is None and r.site_code is not None]
    if not wanted:
        return
    reach = site_reach(user.roles, user.scopes)
    with Session(engine) as session:
        sites = {
            code: (rollout, county)
            for code, rollout, county in session.execute(
                select(col(Site.site_code), col(Site.rollout_id), col(Site.county_code)).where(
                    col(Site.site_code).in_([r.site_code for r in wanted]),
                    reach_filter(reach),
                )
            )
        }
        owners = {
            code: site_workflow(rollout, county, code)
            for code, (rollout, county) in sites.items()
            if rollout
        }
        tasks: dict[str, list[_TaskRow]] = {}
        if owners:
            all_steps = [s.key for report in STEPS.values() for s in report]
            for task_id, step, status, decision in session.execute(
                select(col(Task.id), col(Task.step), col(Task.status), col(Task.decision)).where(
                    col(Task.step).in_(all_steps),
                    col(Task.status).in_([TaskStatus.open, TaskStatus.done]),
                    _tasks_of(owners.values(), {rollout for rollout, _ in sites.values()}),
                )
            ):
                tasks.setdefault(workflow_of_task(task_id), []).append(
                    _TaskRow(task_id, step, TaskStatus(status), decision)
                )
    for row in wanted:
        assert row.site_code is not None and row.report is not None
        site = sites.get(row.site_code)
        if site is None or not site[0]:
            _reject(row, "unknown_site", lang)
            continue
        steps = {s.key for s in STEPS[row.report.report]}
        mine = [t for t in tasks.get(owners[row.site_code], []) if t.step in steps]
        open_now = [t for t in mine if t.status == TaskStatus.open]
        if open_now:
            row.task_id = open_now[0].id
        elif any(t.decision == row.decision for t in mine):
            row.answer = RowAnswer(
                row=row.number, site_code=row.site_code, outcome=RowOutcome.unchanged
            )
        else:
            _reject(row, "not_at_this_step", lang)


async def _deliver(client: Client, user: User, row: _Row, lang: Lang) -> None:
    assert row.task_id is not None and row.decision is not None
    handle = client.get_workflow_handle(workflow_of_task(row.task_id))
    try:
        await handle.execute_update(
            CaseWorkflow.complete_task,
            CompleteTaskInput(task_id=row.task_id, actor=actor_of(user), decision=row.decision),
        )
    except WorkflowUpdateFailedError as error:
        refused = update_refusal(error, lang)
        _reject(row, refused.code, lang, _fields_text(refused.errors, lang) or None)
        return
    except RPCError:
        _reject(row, "unavailable", lang)  # nothing was taken: the row may be sent again
        return
    row.answer = RowAnswer(row=row.number, site_code=row.site_code, outcome=RowOutcome.accepted)


async def report(
    request: Request,
    client: Client,
    user: User,
    raw: list[tuple[int, dict[str, Any]]],
    lang: Lang,
) -> CarrierReportAnswer:
    """Every row checked, matched to its site's task and delivered; each answered."""
    rows = _checked_rows(raw, lang)
    await run_blocking(_find_tasks, request.app.state.engine, user, rows, lang)
    turns = asyncio.Semaphore(UPDATES_AT_ONCE)

    async def deliver(row: _Row) -> None:
        async with turns:
            await _deliver(client, user, row, lang)

    await asyncio.gather(*(deliver(r) for r in rows if r.answer is None))
    answers = [r.answer for r in rows if r.answer is not None]
    assert len(answers) == len(rows)
    return CarrierReportAnswer(
        accepted=sum(a.outcome == RowOutcome.accepted for a in answers),
        unchanged=sum(a.outcome == RowOutcome.unchanged for a in answers),
        rejected=sum(a.outcome == RowOutcome.rejected for a in answers),
        rows=answers,
    )


@router.post("/reports", response_model=CarrierReportAnswer)
async def report_sites(
    body: CarrierReports,
    request: Request,
    client: ClientDep,
    user: Annotated[User, carrier_only],
) -> CarrierReportAnswer:
    """Ranging answers or installed lines of up to 5,000 sites, each row to its own site.

    A row is `{"site_code", "report": "ranging" | "line_installed", ...}` with the report's
    fields (ranging: feasible, exchange, link_type, reason, expected_on, note; line: circuit_id,
    note). Every row is answered accepted, unchanged (taken before) or rejected with its
    reason, in the order sent; the call itself fails only when it cannot be read."""
    return await report(
        request, client, user, list(enumerate(body.rows, start=1)), lang_of(request)
    )


def file_rows(file: UploadFile, lang: Lang) -> list[tuple[int, dict[str, Any]]]:
    upload = receive(file, UploadKind.spreadsheet, lang)
    try:
        table = read_table(upload, CARRIER_HEADERS, CARRIER_REQUIRED)
    except FileRefused as error:
        raise refusal(error, lang) from None
    return [(number, row_from_cells(cells)) for number, cells in table.rows]


@router.post("/reports/upload", response_model=CarrierReportAnswer, responses=documented(413))
async def upload_report(
    file: Annotated[UploadFile, File()],
    request: Request,
    client: ClientDep,
    user: Annotated[User, carrier_only],
) -> CarrierReportAnswer:
    """The same as the carrier's spreadsheet (CSV or XLSX, headers in Persian or English, the
    template's); each row is answered by its line in the file."""
    raw = await run_blocking(file_rows, file, lang_of(request))
    if not raw:
        raise ApiError(422, "file_empty")
    return await report(request, client, user, raw, lang_of(request))


@router.get(
    "/reports/template",
    dependencies=[carrier_only],
    response_class=Response,
    responses={200: {"content": {MediaType.xlsx.value: {}}}},
)
def report_template() -> Response:
    """The carrier's spreadsheet with its Persian headers and two example rows."""
    headers = [names[0] for names in CARRIER_HEADERS.values()]
    examples = [
        ["12345", "رانژه", "بله", "مرکز شهید بهشتی", "fibre", "", "1405-10-20", "", ""],
        ["12346", "رانژه", "خیر", "", "", "no_free_port", "", "", "پورت آزاد ندارد"],
    ]
    return Response(
        xlsx_bytes([headers, *examples], title="carrier"),
        media_type=MediaType.xlsx.value,
        headers={"Content-Disposition": 'attachment; filename="shams-carrier-report.xlsx"'},
    )
