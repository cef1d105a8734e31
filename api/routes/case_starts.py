"""Starting a case of any declared process: one POST route per process, answered at once with
the service-desk receipt (tracking code and the date of the final answer).

The database work runs in the threadpool, so a request waiting on a database lock never holds
up the event loop; only the Temporal calls are awaited on it.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response, status
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.blocking import run_blocking
from api.errors import ApiError, FieldProblem, documented, lang_of, unavailable
from api.security import caller_if_any
from api.temporal import start_case_workflow
from db.calendar import working_calendar
from db.case_store import (
    find_by_idempotency_key,
    forget_case,
    open_case,
    open_case_of,
    stored_form,
)
from db.engine import one_writer_at_a_time
from db.models import Case, User
from domain.calendar import format_jalali
from domain.messages import Lang, message
from processes.declaration import Process, Registry
from settings import Settings

log = logging.getLogger("peygir.api")


class Receipt(BaseModel):
    """The service-desk receipt: keep the tracking code to follow the request."""

    tracking_code: str
    process: str
    submitted_at: datetime
    submitted_at_jalali: str
    answer_due_at: datetime
    """The final answer is promised by then (working days of the university calendar)."""
    answer_due_at_jalali: str


def receipt_of(case: Case) -> Receipt:
    assert case.answer_due_at is not None
    return Receipt(
        tracking_code=case.tracking_code,
        process=case.process,
        submitted_at=case.created_at.astimezone(UTC),
        submitted_at_jalali=format_jalali(case.created_at),
        answer_due_at=case.answer_due_at.astimezone(UTC),
        answer_due_at_jalali=format_jalali(case.answer_due_at),
    )


def _may_start(process: Process[Any], user: User | None, form: BaseModel, lang: Lang) -> None:
    if process.public:
        return
    if user is None:
        raise ApiError(401, "not_authenticated")
    if not process.may_start(user.roles):
        raise ApiError(403, "forbidden")
    if process.case_scope is not None and not process.may_start_in(
        user.roles, user.scopes, process.case_scope(form)
    ):
        if process.scope_field is None:
            raise ApiError(403, "forbidden")
        raise ApiError(
            403,
            "forbidden",
            [
                FieldProblem(
                    field=process.scope_field,
                    reason=message("not_your_scope", lang),
                    code="not_your_scope",
                )
            ],
        )


def accept_case(
    engine: Engine,
    settings: Settings,
    process: Process[Any],
    form: BaseModel,
    idempotency_key: str | None,
    started_by: str | None,
    lang: Lang,
) -> tuple[Case, BaseModel, bool]:
    """Write the case and its form, or find the one this key opened: (case, form, replayed).

    Every check of a start but the form's validation: the idempotency key, one open case per
    requester, the answer's due date by the calendar. Blocking: run it off the event loop."""
    with (
        one_writer_at_a_time(engine),
        Session(engine, expire_on_commit=False) as session,
    ):
        if idempotency_key:
            earlier = find_by_idempotency_key(session, idempotency_key)
            if earlier is not None:
                return earlier, _replayed_form(session, process, earlier, form), True
        if process.start_check is not None:
            problems = process.start_check(session, form)
            if problems:
                raise ApiError(
                    422,
                    "invalid_value",
                    [
                        FieldProblem(field=field, reason=message(code, lang), code=code)
                        for field, code in problems
                    ],
                )
        requester = process.requester(form)
        open_one = (
            open_case_of(session, process, requester.identity)
            if process.one_open_case_per_requester and requester.identity
            else None
        )
        if open_one is not None and idempotency_key and open_one.idempotency_key == idempotency_key:
            # The same key's first attempt committed between the lookup above and this one.
            return open_one, _replayed_form(session, process, open_one, form), True
        if open_one is not None:
            raise ApiError(
                409,
                "request_in_progress",
                [
                    FieldProblem(
                        field=process.identity_field or "request",
                        reason=message("request_in_progress", lang),
                        code="request_in_progress",
                    )
                ],
            )
        now = datetime.now(UTC)
        calendar = working_calendar(session, settings, now.date())
        due = calendar.add_working_days(now, process.answer_working_days)
        try:
            case = open_case(
                session,
                process,
                form,
                idempotency_key=idempotency_key,
                answer_due_at=due,
                started_by=started_by,
            )
            session.commit()
        except IntegrityError:
            # The same key arrived twice at once: the other request opened the case.
            session.rollback()
            earlier = find_by_idempotency_key(session, idempotency_key or "")
            if earlier is None:
                raise
            return earlier, _replayed_form(session, process, earlier, form), True
        return case, form, False


def _replayed_form(
    session: Session, process: Process[Any], case: Case, form: BaseModel
) -> BaseModel:
    """The form first accepted under this key; a key reused for someone else is refused."""
    assert case.id is not None
    if case.process != process.kind:
        raise ApiError(409, "idempotency_conflict")
    stored = stored_form(session, process, case.id)
    if stored is None:
        # The first attempt's start failed and it was removed a moment ago: retry anew.
        raise unavailable()
    if process.requester(stored).identity != process.requester(form).identity:
        raise ApiError(409, "idempotency_conflict")
    return stored


def _forget(engine: Engine, process: Process[Any], case: Case) -> None:
    with Session(engine) as session:
        forget_case(session, process, case)


async def _workflow_exists(client: Client, case: Case) -> bool | None:
    """After a failed start call: did the server start it all the same? None: cannot tell.

    Only a definite "not found" lets the case be removed; when Temporal cannot be asked, the
    case stays and the recovery sweep starts it later.
    """
    try:
        await client.get_workflow_handle(case.workflow_id).describe()
    except RPCError as error:
        return False if error.status == RPCStatusCode.NOT_FOUND else None
    except Exception:
        return None
    return True


async def start_case(
    request: Request,
    process: Process[Any],
    form: BaseModel,
    *,
    idempotency_key: str | None,
    user: User | None,
) -> tuple[Receipt, bool]:
    """Accept a start form: (receipt, whether this key had already opened the case).

    The case is written before its workflow starts, so an accepted request is never lost: if
    the API dies in between, the recovery sweep starts it.
    """
    state = request.app.state
    settings: Settings = state.settings
    _may_start(process, user, form, lang_of(request))
    # An empty key is no key: stored as such, it would clash with every other empty one.
    idempotency_key = (idempotency_key or "").strip() or None
    case, form, replayed = await run_blocking(
        accept_case,
        state.engine,
        settings,
        process,
        form,
        idempotency_key,
        user.username if user is not None else None,
        lang_of(request),
    )
    client: Client = state.temporal
    try:
        await start_case_workflow(client, settings.temporal_task_queue, process, case, form)
    except Exception:
        log.exception("could not start the workflow of case %s", case.tracking_code)
        if replayed:
            # The case is kept: the recovery sweep (or the client's next retry) starts it.
            raise unavailable() from None
        if await _workflow_exists(client, case) is False:
            await run_blocking(_forget, state.engine, process, case)
            raise unavailable() from None
        # Temporal cannot be asked: the case is kept and the recovery sweep starts its
        # workflow, so it is accepted and the person gets the tracking code now.
    return receipt_of(case), replayed


def _endpoint(process: Process[Any]) -> Callable[..., Awaitable[Receipt]]:
    async def submit(
        form: BaseModel,
        request: Request,
        response: Response,
        user: User | None,
        idempotency_key: str | None = None,
    ) -> Receipt:
        receipt, replayed = await start_case(
            request, process, form, idempotency_key=idempotency_key, user=user
        )
        if replayed:
            response.headers["Idempotent-Replayed"] = "true"
        return receipt

    # FastAPI reads the body's model from the signature: this process's start form.
    parameters = list(inspect.signature(submit).parameters.values())
    annotations = [
        process.start_form,
        Request,
        Response,
        Annotated[User | None, Depends(caller_if_any)],
        Annotated[str | None, Header(max_length=200)],
    ]
    submit.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [p.replace(annotation=a) for p, a in zip(parameters, annotations, strict=True)],
        return_annotation=Receipt,
    )
    return submit


def start_routes(processes: Registry) -> APIRouter:
    """`POST {api_path}` for every process: the same checks, receipt and idempotency."""
    router = APIRouter(tags=["start a case"])
    for process in processes:
        router.add_api_route(
            process.api_path,
            _endpoint(process),
            methods=["POST"],
            status_code=status.HTTP_201_CREATED,
            response_model=Receipt,
            responses=documented(401, 403, 409, 503),
            summary=f"{process.title.en} ({process.title.fa}): submit the form",
            name=f"start_{process.kind}",
        )
    return router
