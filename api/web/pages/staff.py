"""Staff pages: login and logout, the cartable, a task's form, a case's page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from temporalio.client import Client

from api.blocking import run_blocking
from api.errors import ApiError, FieldProblem
from api.logins import LoginAttempt, LoginRefused, log_in
from api.routes import cases, tasks
from api.routes.files import keep_posted_files
from api.security import (
    SESSION_COOKIE,
    SessionDep,
    SettingsDep,
    issue_token,
    read_token,
    revoke_token,
    void_tokens,
)
from api.web.pages.shared import (
    ClientDep,
    PageUser,
    PostedForm,
    admin_only,
    page_lang,
    posted_form,
    problems_by_field,
    render,
    staff,
)
from api.web.schema_form import FormField, fields_of, read_posted
from db.models import User
from domain.cases import Role
from domain.messages import message
from processes.declaration import Registry

router = APIRouter(include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, user: PageUser, next: str = "/cartable") -> HTMLResponse:
    return render(request, "staff/login.html", user, next=next, username="")


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request, session: SessionDep, settings: SettingsDep, posted: PostedForm
) -> Response:
    target = posted.get("next") or "/cartable"
    if not target.startswith("/") or target.startswith("//"):
        target = "/cartable"
    username = posted.get("username", "")
    attempt = LoginAttempt.of(request, username, posted.get("password", ""), "web")
    try:
        user = log_in(session, settings, attempt)
    except LoginRefused as refused:
        lang = page_lang(request)
        locked = refused.retry_after is not None
        page = render(
            request,
            "staff/login.html",
            None,
            status_code=429 if locked else 401,
            next=target,
            username=username,
            problem=(
                message("login_locked_minutes", lang, minutes=refused.minutes)
                if locked
                else message(refused.code, lang)
            ),
        )
        if locked:
            page.headers["Retry-After"] = str(refused.retry_after)
        return page
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        issue_token(settings, user.username),
        httponly=True,
        samesite="lax",
        secure=settings.public_base_url.startswith("https://"),
        max_age=settings.access_token_minutes * 60,
    )
    return response


@router.post("/logout")
def logout(
    request: Request, session: SessionDep, settings: SettingsDep, _posted: PostedForm
) -> Response:
    """The session's own token is void from now on, wherever a copy of the cookie is."""
    claims = read_token(settings, request.cookies.get(SESSION_COOKIE, ""))
    if claims is not None:
        revoke_token(session, claims)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.post("/logout-all")
def logout_everywhere(
    request: Request, user: PageUser, session: SessionDep, _posted: PostedForm
) -> Response:
    """Every token of this user issued until now (other browsers, API clients) is void."""
    me = staff(request, user)
    void_tokens(me)
    session.add(me)
    session.commit()
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/cartable", response_class=HTMLResponse)
def cartable(
    request: Request,
    user: PageUser,
    session: SessionDep,
    process: str | None = None,
    overdue: bool | None = None,
    page: int = 1,
    done: str = "",
) -> HTMLResponse:
    me = staff(request, user)
    processes: Registry = request.app.state.processes
    process = process if process in processes else None
    listing = tasks.my_tasks(
        me,
        session,
        processes,
        page_lang(request),
        process,
        overdue or None,
        max(1, min(page, 10_000)),
    )
    query = {"process": process} if process else {}
    if overdue:
        query["overdue"] = "true"
    return render(
        request,
        "staff/cartable.html",
        me,
        listing=listing,
        process=process,
        overdue=overdue,
        page=page,
        page_size=tasks.PAGE_SIZE,
        processes=list(processes),
        done=done,
        base_query=urlencode(query),
    )


@dataclass(frozen=True)
class Records:
    """Records in a task's data (SRM's errors grouped by message): a table of their own."""

    key: str
    columns: list[str]
    rows: list[dict[str, Any]]


def _records(value: Any) -> bool:
    return bool(value) and isinstance(value, list) and all(isinstance(v, dict) for v in value)


def _task_data(
    context: dict[str, Any], fields: list[FormField]
) -> tuple[dict[str, Any], list[Records]]:
    """The task's data as its page shows it: facts, and records as tables. The labels of a
    field's choices are read in that field, not again among the facts."""
    in_fields = {f.choice_labels_key for f in fields if f.choice_labels}
    facts = {k: v for k, v in context.items() if k not in in_fields and not _records(v)}
    tables = [
        Records(key, list(dict.fromkeys(c for row in rows for c in row)), rows)
        for key, rows in context.items()
        if _records(rows)
    ]
    return facts, tables


def task_page_of(
    request: Request,
    me: User,
    detail: tasks.TaskDetail,
    fields: list[FormField],
    status_code: int = 200,
    problem: str | None = None,
    refused: bool = False,
    **panel: Any,
) -> HTMLResponse:
    """The task's page; its process's panel for the step, if any, gets `panel` as well."""
    processes: Registry = request.app.state.processes
    facts, tables = _task_data(detail.context, fields)
    return render(
        request,
        "staff/task.html",
        me,
        status_code=status_code,
        task=detail,
        fields=fields,
        facts=facts,
        tables=tables,
        problem=problem,
        refused=refused,
        panel=processes[detail.process].task_panels.get(detail.step),
        **panel,
    )


@router.get("/tasks/{task_id}", response_class=HTMLResponse)
def task_page(task_id: str, request: Request, user: PageUser, session: SessionDep) -> HTMLResponse:
    me = staff(request, user)
    detail = tasks.task_detail(task_id, me, session)
    return task_page_of(request, me, detail, fields_of(detail.form_schema, detail.context))


@router.post("/tasks/{task_id}", response_class=HTMLResponse)
async def task_decide(
    task_id: str, request: Request, user: PageUser, session: SessionDep, client: ClientDep
) -> Response:
    me = staff(request, user)
    posted = await posted_form(request)
    detail, visible = await run_blocking(tasks.read_task, session, task_id, me)
    fields = fields_of(detail.form_schema, detail.context)
    refused = await keep_posted_files(request, me, fields, posted) if visible else {}
    decision = read_posted(fields, posted.every)
    try:
        if not visible:
            raise ApiError(403, "task_not_yours")
        if refused:
            problems = [
                FieldProblem(field=name, reason=reason, code="invalid_value")
                for name, reason in refused.items()
            ]
            raise ApiError(422, "invalid_value", problems)
        await tasks.complete_task(task_id, decision, request, me, session, client)
    except ApiError as error:
        lang = page_lang(request)
        by_name = {f.name: f for f in fields}
        for problem in error.errors:
            target = by_name.get(problem.field.split(".")[0])
            if target is not None:
                target.error = problem.reason
        unplaced = [p.reason for p in error.errors if p.field.split(".")[0] not in by_name]
        text = " ".join([message(error.code, lang), *unplaced])
        # The form stays as typed, the answer beside it, even if the task closed or went to
        # someone else meanwhile; the case's data is shown only to who may still see it.
        shown = detail if visible else detail.model_copy(update={"context": {}})
        page = task_page_of(
            request, me, shown, fields, error.status_code, problem=text, refused=True
        )
        page.headers.update(error.headers or {})
        return page
    return RedirectResponse("/cartable?done=1", status_code=303)


@router.post("/tasks/{task_id}/reassign", response_class=HTMLResponse)
async def task_reassign(
    task_id: str, request: Request, user: PageUser, session: SessionDep, client: ClientDep
) -> Response:
    me = admin_only(request, user)
    posted = await posted_form(request)
    detail = await run_blocking(tasks.task_detail, task_id, me, session)
    lang = page_lang(request)
    try:
        body = tasks.Reassignment(
            assignee=posted.get("assignee", "").strip(), reason=posted.get("reason", "")
        )
        await tasks.reassign_task(task_id, body, request, me, session, client)
    except ValidationError as error:
        problem = " ".join(problems_by_field(error, lang).values())
        return await _case_view(
            detail.tracking_code, request, me, session, client, 422, problem=problem
        )
    except ApiError as error:
        reasons = " ".join([message(error.code, lang), *(p.reason for p in error.errors)])
        return await _case_view(
            detail.tracking_code, request, me, session, client, error.status_code, problem=reasons
        )
    return RedirectResponse(f"/cases/{detail.tracking_code}", status_code=303)


async def _case_view(
    code: str,
    request: Request,
    me: User,
    session: SessionDep,
    client: Client,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    detail = await cases.case_detail(code, me, session, client, request.app.state.processes)
    facts, tables = _task_data(detail.facts, [])
    return render(
        request,
        "staff/case.html",
        me,
        status_code=status_code,
        case=detail,
        case_facts=facts,
        case_tables=tables,
        **context,
    )


@router.get("/cases/{code}", response_class=HTMLResponse)
async def case_page(
    code: str, request: Request, user: PageUser, session: SessionDep, client: ClientDep
) -> HTMLResponse:
    return await _case_view(code, request, staff(request, user), session, client)


@router.post("/cases/{code}/comments", response_class=HTMLResponse)
async def case_comment(
    code: str, request: Request, user: PageUser, session: SessionDep, client: ClientDep
) -> Response:
    me = staff(request, user)
    posted = await posted_form(request)
    try:
        comment = cases.NewComment(text=posted.get("text", ""))
    except ValidationError as error:
        return await _case_view(
            code,
            request,
            me,
            session,
            client,
            422,
            comment_error=problems_by_field(error, page_lang(request)).get("text"),
        )
    await run_blocking(cases.add_comment, code, comment, me, session)
    return RedirectResponse(f"/cases/{code}#timeline", status_code=303)


@router.post("/cases/{code}/cancel", response_class=HTMLResponse)
async def case_cancel(
    code: str, request: Request, user: PageUser, session: SessionDep, client: ClientDep
) -> Response:
    me = staff(request, user)
    posted = await posted_form(request)
    lang = page_lang(request)
    if Role.admin not in me.roles:
        raise ApiError(403, "forbidden")
    try:
        body = cases.CancelRequest(reason=posted.get("reason", ""))
        await cases.cancel_case(code, body, request, me, session, client)
    except ValidationError as error:
        problem, status_code = problems_by_field(error, lang).get("reason"), 422
    except ApiError as error:
        problem, status_code = message(error.code, lang), error.status_code
    else:
        return RedirectResponse(f"/cases/{code}", status_code=303)
    return await _case_view(
        code,
        request,
        me,
        session,
        client,
        status_code,
        cancel_error=problem,
        cancel_value=posted.get("reason", ""),
    )
