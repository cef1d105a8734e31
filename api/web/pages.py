"""Server-rendered pages (Jinja2) over the same route functions the JSON API uses.

The pages hold no business logic: they turn form posts into the API's models, call the API's
functions, and show their answers or errors in the reader's language. Every form works
without JavaScript; state-changing forms carry a CSRF token (double-submit cookie).
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlmodel import select
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import Client

from api.errors import ApiError, field_problems
from api.routes import admin, cases, tasks, tracking
from api.routes.case_starts import start_case
from api.security import (
    SESSION_COOKIE,
    SessionDep,
    SettingsDep,
    authenticate,
    issue_token,
    session_user,
)
from api.temporal import temporal_client
from api.web.i18n import Translator
from api.web.schema_form import FormField, fields_of, read_posted
from db.models import Case, User
from domain.calendar import jalali_to_gregorian
from domain.cases import Role
from domain.messages import Lang, message
from domain.text import normalize_digits, normalize_text
from processes.declaration import Process, Registry
from settings import Settings

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

CSRF_COOKIE = "peygir_csrf"
LANG_COOKIE = "lang"

PageUser = Annotated[User | None, Depends(session_user)]
ClientDep = Annotated[Client, Depends(temporal_client)]


class LoginRequired(Exception):
    """Raised by staff pages without a session; answered with a redirect to /login."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


def page_lang(request: Request) -> Lang:
    """Pages are Persian unless the reader chose English (a cookie), whatever the browser says."""
    return Lang.en if request.cookies.get(LANG_COOKIE) == Lang.en else Lang.fa


def _receipt_signature(settings: Settings, code: str) -> str:
    return hmac.new(settings.secret_key.encode(), f"receipt:{code}".encode(), "sha256").hexdigest()[
        :32
    ]


def _csrf(request: Request) -> str:
    return request.cookies.get(CSRF_COOKIE) or request.state.__dict__.setdefault(
        "new_csrf", secrets.token_urlsafe(24)
    )


def render(
    request: Request,
    template: str,
    user: User | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    t = Translator(page_lang(request))
    token = _csrf(request)
    processes: Registry = request.app.state.processes

    def process_title(kind: str) -> str:
        return processes[kind].title(t.lang) if kind in processes else kind

    def label(kind: str, key: str, default: str | None = None) -> str:
        """A field's label: the process's own, else the shared table, else `default`."""
        own = processes[kind].label(key, t.lang) if kind in processes else None
        return own or t("field." + key, key if default is None else default)

    def shown(kind: str, key: str, value: Any) -> str:
        """A value of the case's data: coded values by their label, digits as the reader's."""
        if value is None or value == "":
            return "—"
        text = str(value)
        coded = label(kind, f"{key}.{text}", "")
        if coded:
            return coded
        return t.num(text) if text.isascii() and text.isdigit() else text

    response = templates.TemplateResponse(
        request,
        template,
        {
            "t": t,
            "lang": t.lang.value,
            "user": user,
            "is_admin": user is not None and Role.admin in user.roles,
            "csrf_token": token,
            "path": request.url.path,
            "query": request.url.query,
            "process_title": process_title,
            "label": label,
            "shown": shown,
            **context,
        },
        status_code=status_code,
    )
    if request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict")
    return response


async def posted_form(request: Request) -> dict[str, str]:
    """The posted fields, after checking the CSRF token against its cookie."""
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie, fields.pop("csrf_token", "")):
        raise ApiError(403, "csrf")
    return fields


def staff(request: Request, user: User | None) -> User:
    if user is None:
        raise LoginRequired(
            request.url.path + (f"?{request.url.query}" if request.url.query else "")
        )
    return user


def _problems_by_field(error: ValidationError, lang: Lang) -> dict[str, str]:
    problems: dict[str, str] = {}
    for p in field_problems(list(error.errors()), lang):
        problems.setdefault(p.field.split(".")[0], p.reason)
    return problems


def install(app: Any) -> None:
    """Page-level handlers: login redirects, CSRF and API errors rendered as pages."""

    json_errors = app.exception_handlers[ApiError]
    json_http_errors = app.exception_handlers[StarletteHTTPException]

    @app.exception_handler(StarletteHTTPException)
    async def _http_error_page(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith(("/api/", "/codec/", "/static/", "/docs", "/openapi")):
            return await json_http_errors(request, exc)
        t = Translator(page_lang(request))
        text = t("error.not_found") if exc.status_code == 404 else str(exc.detail)
        return render(request, "error.html", None, status_code=exc.status_code, problem=text)

    @app.exception_handler(LoginRequired)
    async def _to_login(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={quote(exc.next_url)}", status_code=303)

    @app.exception_handler(ApiError)
    async def _error_page(request: Request, exc: ApiError) -> Response:
        if request.url.path.startswith(("/api/", "/codec/")):
            return await json_errors(request, exc)
        t = Translator(page_lang(request))
        text = t("error.csrf") if exc.code == "csrf" else message(exc.code, t.lang)
        return render(request, "error.html", None, status_code=exc.status_code, problem=text)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, user: PageUser) -> HTMLResponse:
    processes: Registry = request.app.state.processes
    services = [p for p in processes if p.public or (user and p.may_start(user.roles))]
    return render(request, "home.html", user, services=services)


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
        process.form_template or "start_form.html",
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


def _start_form_page(process: Process[Any]) -> Any:
    def show(request: Request, user: PageUser) -> HTMLResponse:
        me = _starter(request, user, process)
        return _start_page(request, me, process, _start_fields(process), {})

    return show


def _start_form_submit(process: Process[Any]) -> Any:
    async def submit(request: Request, user: PageUser) -> Response:
        me = _starter(request, user, process)
        posted = await posted_form(request)
        lang = page_lang(request)
        fields = _start_fields(process)
        data = read_posted(fields, posted)
        token = posted.get("form_token", "")
        try:
            form = process.start_form.model_validate(data)
        except ValidationError as error:
            problems = _problems_by_field(error, lang)
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
            placed = {p.field: p.reason for p in error.errors}
            return _start_page(
                request,
                me,
                process,
                fields,
                placed,
                error.status_code,
                problem=None if placed else message(error.code, lang),
                form_token=token,
            )
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
    return render(request, "receipt.html", user, case=case, steps=steps)


@router.get("/track", response_class=HTMLResponse)
def track_form(request: Request, user: PageUser, code: str = "") -> HTMLResponse:
    return render(request, "track.html", user, values={"tracking_code": code}, view=None)


@router.post("/track", response_class=HTMLResponse)
async def track_result(request: Request, user: PageUser, session: SessionDep) -> HTMLResponse:
    posted = await posted_form(request)
    tracking.limit_lookups(request)
    code = normalize_digits(posted.get("tracking_code", "")).strip()
    national_code = normalize_digits(posted.get("national_code", "")).strip()
    try:
        view = tracking.track(code, session, request.app.state.processes, identity=national_code)
    except ApiError as error:
        return render(
            request,
            "track.html",
            user,
            status_code=error.status_code,
            values={"tracking_code": code},
            view=None,
            problem=message(error.code, page_lang(request)),
        )
    return render(
        request,
        "track.html",
        user,
        values={"tracking_code": code},
        view=view,
        national_code=national_code,
    )


@router.post("/track/password", response_class=HTMLResponse)
async def track_password(
    request: Request, user: PageUser, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    posted = await posted_form(request)
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
            "track.html",
            user,
            status_code=404 if key == "not_found" else 410,
            values={"tracking_code": code},
            view=None,
            problem=message(key, page_lang(request)),
        )
    response = render(request, "revealed.html", user, revealed=revealed, code=code)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, user: PageUser, next: str = "/cartable") -> HTMLResponse:
    return render(request, "login.html", user, next=next, username="")


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    posted = await posted_form(request)
    target = posted.get("next") or "/cartable"
    if not target.startswith("/") or target.startswith("//"):
        target = "/cartable"
    user = authenticate(session, posted.get("username", "").strip(), posted.get("password", ""))
    if user is None:
        return render(
            request,
            "login.html",
            None,
            status_code=401,
            next=target,
            username=posted.get("username", ""),
            problem=message("invalid_credentials", page_lang(request)),
        )
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
async def logout(request: Request) -> Response:
    await posted_form(request)
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
    listing = tasks.my_tasks(me, session, process, overdue or None, max(1, min(page, 10_000)))
    query = {"process": process} if process else {}
    if overdue:
        query["overdue"] = "true"
    return render(
        request,
        "cartable.html",
        me,
        listing=listing,
        process=process,
        overdue=overdue,
        page=page,
        page_size=tasks.PAGE_SIZE,
        processes=list(request.app.state.processes),
        done=done,
        base_query=urlencode(query),
    )


def _task_page(
    request: Request,
    me: User,
    detail: tasks.TaskDetail,
    fields: list[FormField],
    status_code: int = 200,
    problem: str | None = None,
) -> HTMLResponse:
    return render(
        request,
        "task.html",
        me,
        status_code=status_code,
        task=detail,
        fields=fields,
        problem=problem,
    )


@router.get("/tasks/{task_id}", response_class=HTMLResponse)
def task_page(task_id: str, request: Request, user: PageUser, session: SessionDep) -> HTMLResponse:
    me = staff(request, user)
    detail = tasks.task_detail(task_id, me, session)
    return _task_page(request, me, detail, fields_of(detail.form_schema))


@router.post("/tasks/{task_id}", response_class=HTMLResponse)
async def task_decide(
    task_id: str, request: Request, user: PageUser, session: SessionDep, client: ClientDep
) -> Response:
    me = staff(request, user)
    posted = await posted_form(request)
    detail = tasks.task_detail(task_id, me, session)
    fields = fields_of(detail.form_schema)
    decision = read_posted(fields, posted)
    try:
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
        session.expire_all()
        fresh = tasks.task_detail(task_id, me, session)
        return _task_page(request, me, fresh, fields, error.status_code, problem=text)
    return RedirectResponse("/cartable?done=1", status_code=303)


@router.post("/tasks/{task_id}/reassign", response_class=HTMLResponse)
async def task_reassign(
    task_id: str, request: Request, user: PageUser, session: SessionDep, client: ClientDep
) -> Response:
    me = _admin(request, user)
    posted = await posted_form(request)
    detail = tasks.task_detail(task_id, me, session)
    lang = page_lang(request)
    try:
        body = tasks.Reassignment(
            assignee=posted.get("assignee", "").strip(), reason=posted.get("reason", "")
        )
        await tasks.reassign_task(task_id, body, request, me, session, client)
    except ValidationError as error:
        problem = " ".join(_problems_by_field(error, lang).values())
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
    return render(request, "case.html", me, status_code=status_code, case=detail, **context)


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
            comment_error=_problems_by_field(error, page_lang(request)).get("text"),
        )
    cases.add_comment(code, comment, me, session)
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
        problem, status_code = _problems_by_field(error, lang).get("reason"), 422
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


def _admin(request: Request, user: User | None) -> User:
    me = staff(request, user)
    if Role.admin not in me.roles:
        raise ApiError(403, "forbidden")
    return me


def _users_page(
    request: Request, me: User, session: SessionDep, status_code: int = 200, **context: Any
) -> HTMLResponse:
    return render(
        request,
        "admin_users.html",
        me,
        status_code=status_code,
        users=admin.list_users(session),
        roles=list(Role),
        **context,
    )


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(
    request: Request, user: PageUser, session: SessionDep, saved: str = ""
) -> HTMLResponse:
    return _users_page(request, _admin(request, user), session, saved=saved, values={}, errors={})


@router.post("/admin/users", response_class=HTMLResponse)
async def users_create(request: Request, user: PageUser, session: SessionDep) -> Response:
    me = _admin(request, user)
    form = await request.form()
    posted = await posted_form(request)
    scopes = [s.strip() for s in normalize_text(posted.get("scopes", "")).split(",") if s.strip()]
    try:
        body = admin.NewUser(
            username=posted.get("username", "").strip(),
            full_name=posted.get("full_name", ""),
            password=posted.get("password", ""),
            roles=form.getlist("roles"),  # type: ignore[arg-type]
            scopes=scopes,
            email=posted.get("email") or None,
        )
        admin.create_user(body, request, session)
    except ValidationError as error:
        return _users_page(
            request,
            me,
            session,
            422,
            values=posted,
            errors=_problems_by_field(error, page_lang(request)),
        )
    except ApiError as error:
        errors = {p.field: p.reason for p in error.errors}
        return _users_page(request, me, session, error.status_code, values=posted, errors=errors)
    return RedirectResponse("/admin/users?saved=1", status_code=303)


@router.post("/admin/users/{username}/active", response_class=HTMLResponse)
async def users_active(
    username: str, request: Request, user: PageUser, session: SessionDep
) -> Response:
    _admin(request, user)
    posted = await posted_form(request)
    admin.change_user(username, admin.UserChange(is_active=posted.get("active") == "true"), session)
    return RedirectResponse("/admin/users?saved=1", status_code=303)


@router.post("/admin/users/{username}/password", response_class=HTMLResponse)
async def users_password(
    username: str, request: Request, user: PageUser, session: SessionDep
) -> Response:
    me = _admin(request, user)
    posted = await posted_form(request)
    try:
        admin.reset_password(
            username, admin.PasswordReset(password=posted.get("password", "")), session
        )
    except ValidationError as error:
        problems = _problems_by_field(error, page_lang(request))
        return _users_page(
            request,
            me,
            session,
            422,
            values={},
            errors={},
            password_errors={username: problems.get("password", "")},
        )
    return RedirectResponse("/admin/users?saved=1", status_code=303)


def _holidays_page(
    request: Request, me: User, session: SessionDep, status_code: int = 200, **context: Any
) -> HTMLResponse:
    return render(
        request,
        "admin_holidays.html",
        me,
        status_code=status_code,
        holidays=admin.list_holidays(session),
        **context,
    )


@router.get("/admin/holidays", response_class=HTMLResponse)
def holidays_page(request: Request, user: PageUser, session: SessionDep) -> HTMLResponse:
    return _holidays_page(request, _admin(request, user), session, values={}, errors={})


def _jalali_day(text: str) -> date:
    parts = normalize_digits(text).replace("-", "/").strip().split("/")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(text)
    return jalali_to_gregorian(*(int(p) for p in parts))


@router.post("/admin/holidays", response_class=HTMLResponse)
async def holidays_add(request: Request, user: PageUser, session: SessionDep) -> Response:
    me = _admin(request, user)
    posted = await posted_form(request)
    t = Translator(page_lang(request))
    errors: dict[str, str] = {}
    try:
        day = _jalali_day(posted.get("day", ""))
    except ValueError:
        errors["day"] = t("error.invalid_date")
    try:
        title = admin.HolidayTitle(title=posted.get("title", ""))
    except ValidationError as error:
        errors.update(_problems_by_field(error, page_lang(request)))
    if errors:
        return _holidays_page(request, me, session, 422, values=posted, errors=errors)
    admin.put_holiday(day, title, session)
    return RedirectResponse("/admin/holidays", status_code=303)


@router.post("/admin/holidays/{day}/delete", response_class=HTMLResponse)
async def holidays_delete(
    day: date, request: Request, user: PageUser, session: SessionDep
) -> Response:
    _admin(request, user)
    await posted_form(request)
    admin.delete_holiday(day, session)
    return RedirectResponse("/admin/holidays", status_code=303)
