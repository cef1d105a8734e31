"""The public's pages: the services, the language switch, every process's start form, the
receipt and tracking."""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlmodel import select

from api.blocking import run_blocking
from api.errors import ApiError
from api.routes import tracking
from api.routes.case_starts import start_case
from api.routes.files import keep_posted_files
from api.security import SessionDep, SettingsDep
from api.web.pages.shared import (
    LANG_COOKIE,
    ClientDep,
    PageUser,
    PostedForm,
    page_lang,
    posted_form,
    problems_by_field,
    render,
    staff,
)
from api.web.schema_form import FormField, fields_of, read_posted
from db.models import Case, User
from domain.messages import Lang, message
from domain.text import normalize_digits
from processes.declaration import Process, Registry
from settings import Settings

router = APIRouter(include_in_schema=False)


def _receipt_signature(settings: Settings, code: str) -> str:
    return hmac.new(settings.secret_key.encode(), f"receipt:{code}".encode(), "sha256").hexdigest()[
        :32
    ]


@router.get("/", response_class=HTMLResponse)
def home(request: Request, user: PageUser) -> HTMLResponse:
    """The services this person may start: the public ones, and staff ones by role."""
    processes: Registry = request.app.state.processes
    services = [p for p in processes if p.public or (user and p.may_start(user.roles))]
    return render(request, "public/home.html", user, services=services)


@router.get("/lang/{code}")
def switch_language(code: str, next: str = "/") -> Response:
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    response = RedirectResponse(target, status_code=303)
    if code in (Lang.fa, Lang.en):
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 24 * 3600, samesite="lax")
    return response


def _start_page(
    request: Request,
    user: User | None,
    process: Process[Any],
    fields: list[FormField],
    errors: dict[str, str],
    status_code: int = 200,
    problem: str | None = None,
    form_token: str | None = None,
) -> HTMLResponse:
    for f in fields:
        f.error = errors.get(f.name)
    return render(
        request,
        f"public/{process.form_template or 'start_form.html'}",
        user,
        status_code=status_code,
        process=process,
        fields=fields,
        values={f.name: f.value for f in fields},
        errors=errors,
        problem=problem,
        form_token=form_token or str(uuid.uuid4()),
    )


def _start_fields(process: Process[Any]) -> list[FormField]:
    return fields_of(process.start_form.model_json_schema())


def _starter(request: Request, user: User | None, process: Process[Any]) -> User | None:
    """Anyone may open a public process's form; staff-only ones need a login and a role."""
    if process.public:
        return user
    me = staff(request, user)
    if not process.may_start(me.roles):
        raise ApiError(403, "forbidden")
    return me


def _start_form_page(process: Process[Any]) -> Callable[..., HTMLResponse]:
    def show(request: Request, user: PageUser) -> HTMLResponse:
        me = _starter(request, user, process)
        fields = _start_fields(process)
        if me is not None and process.starter_defaults is not None:
            defaults = process.starter_defaults(me.scopes)
            for f in fields:
                f.value = defaults.get(f.name, f.value)
        return _start_page(request, me, process, fields, {})

    return show


def _start_form_submit(process: Process[Any]) -> Callable[..., Awaitable[Response]]:
    async def submit(request: Request, user: PageUser, posted: PostedForm) -> Response:
        me = _starter(request, user, process)
        lang = page_lang(request)
        fields = _start_fields(process)
        token = posted.get("form_token", "")
        refused = await keep_posted_files(request, me, fields, posted)
        data = read_posted(fields, posted.every)
        if refused:
            return _start_page(request, me, process, fields, refused, 422, form_token=token)
        try:
            form = process.start_form.model_validate(data)
        except ValidationError as error:
            problems = problems_by_field(error, lang)
            return _start_page(request, me, process, fields, problems, 422, form_token=token)
        try:
            receipt, _ = await start_case(
                request,
                process,
                form,
                idempotency_key=f"form:{token}" if token else None,
                user=me,
            )
        except ApiError as error:
            # A refusal naming a field (one request per person: the identity) shows beside it.
            names = {f.name for f in fields}
            placed = {p.field: p.reason for p in error.errors if p.field in names}
            page = _start_page(
                request,
                me,
                process,
                fields,
                placed,
                error.status_code,
                problem=None if placed else message(error.code, lang),
                form_token=token,
            )
            page.headers.update(error.headers or {})
            return page
        code = receipt.tracking_code
        settings: Settings = request.app.state.settings
        return RedirectResponse(
            f"/receipt/{code}?sig={_receipt_signature(settings, code)}", status_code=303
        )

    return submit


def start_pages(processes: Registry) -> APIRouter:
    """The start form's page of every process, at its declared `web_path`."""
    pages = APIRouter(include_in_schema=False)
    for process in processes:
        pages.add_api_route(
            process.web_path,
            _start_form_page(process),
            methods=["GET"],
            response_class=HTMLResponse,
        )
        pages.add_api_route(
            process.web_path,
            _start_form_submit(process),
            methods=["POST"],
            response_class=HTMLResponse,
        )
    return pages


@router.get("/receipt/{code}", response_class=HTMLResponse)
def receipt(
    code: str,
    request: Request,
    user: PageUser,
    session: SessionDep,
    settings: SettingsDep,
    sig: str = "",
) -> HTMLResponse:
    if not hmac.compare_digest(sig, _receipt_signature(settings, code)):
        raise ApiError(404, "not_found")
    case = session.exec(select(Case).where(Case.tracking_code == code)).first()
    if case is None:
        raise ApiError(404, "not_found")
    processes: Registry = request.app.state.processes
    steps = processes[case.process].receipt_steps if case.process in processes else ()
    return render(request, "public/receipt.html", user, case=case, steps=steps)


@router.get("/track", response_class=HTMLResponse)
def track_form(request: Request, user: PageUser, code: str = "") -> HTMLResponse:
    return render(request, "public/track.html", user, values={"tracking_code": code}, view=None)


def _lookup_refused(
    request: Request, user: User | None, code: str, error: ApiError
) -> HTMLResponse:
    """The lookup form again, the code kept, with the reason (the same for any wrong factor)."""
    page = render(
        request,
        "public/track.html",
        user,
        status_code=error.status_code,
        values={"tracking_code": code},
        view=None,
        problem=message(error.code, page_lang(request)),
    )
    page.headers.update(error.headers or {})
    return page


def _case_page(
    request: Request,
    user: User | None,
    view: tracking.TrackingView,
    *,
    national_code: str = "",
    link_token: str = "",
    status_code: int = 200,
    forms: dict[str, list[FormField]] | None = None,
    refused: str | None = None,
    problem: str | None = None,
    decided: bool = False,
) -> HTMLResponse:
    """The opened case with a form for each task it asks of its requester. The forms carry
    what opened the case (the identity or the link's token) back to the decision route."""
    task_forms = {t.id: fields_of(t.form_schema) for t in view.tasks}
    task_forms.update(forms or {})
    page = render(
        request,
        "public/track.html",
        user,
        status_code=status_code,
        values={"tracking_code": view.tracking_code},
        view=view,
        national_code=national_code,
        link_token=link_token,
        task_forms=task_forms,
        refused=refused,
        task_problem=problem,
        decided=decided,
    )
    # The page shows a person's case, and its address may hold the link's token.
    page.headers["Cache-Control"] = "no-store"
    page.headers["Referrer-Policy"] = "no-referrer"
    return page


@router.post("/track", response_class=HTMLResponse)
def track_result(
    request: Request, user: PageUser, session: SessionDep, settings: SettingsDep, posted: PostedForm
) -> HTMLResponse:
    tracking.limit_lookups(request)
    code = normalize_digits(posted.get("tracking_code", "")).strip()
    national_code = normalize_digits(posted.get("national_code", "")).strip()
    processes = request.app.state.processes
    try:
        view = tracking.track(code, session, processes, settings, identity=national_code)
    except ApiError as error:
        return _lookup_refused(request, user, code, error)
    return _case_page(request, user, view, national_code=national_code)


@router.get("/track/{code}", response_class=HTMLResponse)
def track_link(
    code: str,
    request: Request,
    user: PageUser,
    session: SessionDep,
    settings: SettingsDep,
    k: str = "",
) -> HTMLResponse:
    """The link sent to the requester: its token `k` opens this one case, no identity asked."""
    if not k:
        return track_form(request, user, code)
    tracking.limit_lookups(request)
    processes = request.app.state.processes
    try:
        view = tracking.track(code, session, processes, settings, token=k)
    except ApiError as error:
        return _lookup_refused(request, user, code, error)
    return _case_page(request, user, view, link_token=k)


@router.post("/track/{code}/tasks/{task_id}", response_class=HTMLResponse)
async def track_task_decide(
    code: str,
    task_id: str,
    request: Request,
    user: PageUser,
    session: SessionDep,
    settings: SettingsDep,
    client: ClientDep,
) -> HTMLResponse:
    """The requester's decision, posted from the case's page: the API's route does the rest. A
    refused decision comes back with the form as typed and the reasons beside the fields."""
    posted = await posted_form(request)
    tracking.limit_lookups(request)
    identity = normalize_digits(posted.get("national_code", "")).strip()
    token = posted.get("k", "")
    link_token = "" if identity else token
    processes = request.app.state.processes
    try:
        view = await run_blocking(
            tracking.track, code, session, processes, settings, identity=identity, token=token
        )
        task = next((t for t in view.tasks if t.id == task_id), None) or await run_blocking(
            tracking.requester_task_form, session, view.tracking_code, task_id
        )
    except ApiError as error:
        return _lookup_refused(request, user, code, error)
    if task is None:
        return _case_page(
            request,
            user,
            view,
            status_code=404,
            problem=message("not_found", page_lang(request)),
            national_code=identity,
            link_token=link_token,
        )
    fields = fields_of(task.form_schema)
    decision = read_posted(fields, posted.every)
    try:
        body = tracking.RequesterDecisionBody(identity=identity, token=token, decision=decision)
        await tracking.complete_requester_task(
            view.tracking_code, task_id, body, request, session, settings, client
        )
    except ApiError as error:
        if error.status_code == 404:
            return _lookup_refused(request, user, code, error)
        by_name = {f.name: f for f in fields}
        for problem in error.errors:
            target = by_name.get(problem.field.split(".")[0])
            if target is not None:
                target.error = problem.reason
        unplaced = [p.reason for p in error.errors if p.field.split(".")[0] not in by_name]
        text = " ".join([message(error.code, page_lang(request)), *unplaced])
        # The form stays as typed, even if the task closed meanwhile.
        shown = (
            view if task in view.tasks else view.model_copy(update={"tasks": [*view.tasks, task]})
        )
        page = _case_page(
            request,
            user,
            shown,
            status_code=error.status_code,
            forms={task.id: fields},
            refused=task.id,
            problem=text,
            national_code=identity,
            link_token=link_token,
        )
        page.headers.update(error.headers or {})
        return page
    updated = await run_blocking(
        tracking.track, code, session, processes, settings, identity=identity, token=token
    )
    return _case_page(
        request, user, updated, decided=True, national_code=identity, link_token=link_token
    )


@router.post("/track/password", response_class=HTMLResponse)
def track_password(
    request: Request, user: PageUser, session: SessionDep, settings: SettingsDep, posted: PostedForm
) -> HTMLResponse:
    tracking.limit_lookups(request)
    code = normalize_digits(posted.get("tracking_code", "")).strip()
    try:
        revealed = tracking.reveal_password(
            code,
            tracking.RevealRequest(identity=posted.get("national_code", "")),
            session,
            settings,
            request.app.state.processes,
        )
    except (ApiError, ValidationError) as error:
        key = error.code if isinstance(error, ApiError) else "not_found"
        return render(
            request,
            "public/track.html",
            user,
            status_code=404 if key == "not_found" else 410,
            values={"tracking_code": code},
            view=None,
            problem=message(key, page_lang(request)),
        )
    response = render(request, "public/revealed.html", user, revealed=revealed, code=code)
    response.headers["Cache-Control"] = "no-store"
    return response
