"""What every audience's pages share: rendering, the CSRF check, the login gate, error pages.

The pages hold no business logic: they turn form posts into the API's models, call the API's
functions, and show their answers or errors in the reader's language. Every form works
without JavaScript; state-changing forms carry a CSRF token (double-submit cookie).
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from temporalio.client import Client

from api.errors import ApiError, field_problems
from api.security import session_user
from api.temporal import temporal_client
from api.web.i18n import Translator
from db.models import User
from domain.cases import Role
from domain.messages import Lang, message
from domain.text import normalize_digits
from processes.declaration import Registry

templates = Jinja2Templates(directory=Path(__file__).parents[1] / "templates")

NUMBERS = re.compile(r"[0-9۰-۹][0-9۰-۹ ,،/:]*")
"""A number, a Jalali date and time (`1405/09/09 14:30`), record ids (`1001, 1002`)."""

CSRF_COOKIE = "peygir_csrf"
LANG_COOKIE = "lang"

PageUser = Annotated[User | None, Depends(session_user)]
ClientDep = Annotated[Client, Depends(temporal_client)]


@dataclass(frozen=True)
class NavLink:
    """A page in the staff navigation, shown to those holding one of `roles` (admins always)."""

    path: str
    label: str
    """A key of the translation tables."""
    roles: frozenset[str]


NAVIGATION: list[NavLink] = []
"""Pages a process's own modules add to the staff navigation, so that the shared template names
none of them; an app shows those it serves."""


def add_to_navigation(path: str, label: str, *roles: Role) -> None:
    link = NavLink(path, label, frozenset(roles))
    if link not in NAVIGATION:
        NAVIGATION.append(link)


def _serves(app: Any, path: str) -> bool:
    scope = {"type": "http", "method": "GET", "path": path, "root_path": ""}
    return any(route.matches(scope)[0] == Match.FULL for route in app.router.routes)


def nav_links(request: Request, user: User | None) -> list[NavLink]:
    """The added pages this app serves that `user` may open (found once per app)."""
    if user is None:
        return []
    state = request.app.state
    served: list[NavLink] | None = getattr(state, "nav_links", None)
    if served is None:
        served = state.nav_links = [n for n in NAVIGATION if _serves(request.app, n.path)]
    held = set(user.roles)
    return [link for link in served if Role.admin in held or link.roles & held]


class LoginRequired(Exception):
    """Raised by staff pages without a session; answered with a redirect to /login."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


def page_lang(request: Request) -> Lang:
    """Pages are Persian unless the reader chose English (a cookie), whatever the browser says."""
    return Lang.en if request.cookies.get(LANG_COOKIE) == Lang.en else Lang.fa


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

    def field_label(kind: str, step: str, key: str, default: str) -> str:
        """A decision field's label: the process's own for this step (`step.key`), else the
        field's label anywhere in the process (so one name may read differently per step)."""
        own = processes[kind].label(f"{step}.{key}", t.lang) if kind in processes else None
        return own or label(kind, key, default)

    def shown(kind: str, key: str, value: Any) -> str:
        """A value of the case's data: coded values by their label, digits as the reader's
        (in numbers, dates and lists of them, and in Persian text, not in Latin codes such as
        `PR-12` or `M404`);
        yes/no for flags; a record's values side by side, a list's records one after another."""
        if value is None or value == "":
            return "—"
        if isinstance(value, bool):
            return t("form.yes") if value else t("form.no")
        if isinstance(value, dict):
            return "، ".join(shown(kind, k, v) for k, v in value.items() if v not in (None, ""))
        if isinstance(value, list):
            return " | ".join(shown(kind, key, item) for item in value) or "—"
        text = str(value)
        coded = label(kind, f"{key}.{text}", "")
        if coded:
            return coded
        return t.num(normalize_digits(text)) if NUMBERS.fullmatch(text) else t.prose(text)

    response = templates.TemplateResponse(
        request,
        template,
        {
            "t": t,
            "lang": t.lang.value,
            "user": user,
            "is_admin": user is not None and Role.admin in user.roles,
            "nav_links": nav_links(request, user),
            "csrf_token": token,
            "path": request.url.path,
            "query": request.url.query,
            "process_title": process_title,
            "label": label,
            "field_label": field_label,
            "shown": shown,
            **context,
        },
        status_code=status_code,
    )
    if request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict")
    return response


class PostedFields(dict[str, str]):
    """The posted fields by name, each with its last value; `every` holds all the values of
    each name in order (the ticked boxes of a checklist)."""

    def __init__(
        self, items: list[tuple[str, str]], files: dict[str, UploadFile] | None = None
    ) -> None:
        super().__init__(items)
        self.every: dict[str, list[str]] = {}
        for name, value in items:
            self.every.setdefault(name, []).append(value)
        self.files = files or {}
        """The files chosen in the form's file inputs, by input name (none left empty)."""


async def posted_form(request: Request) -> PostedFields:
    """The posted fields, after checking the CSRF token against its cookie."""
    form = await request.form()
    fields = PostedFields(
        [(k, v) for k, v in form.multi_items() if isinstance(v, str) and k != "csrf_token"],
        {
            k: v
            for k, v in form.multi_items()
            if isinstance(v, UploadFile) and v.filename and (v.size is None or v.size > 0)
        },
    )
    cookie = request.cookies.get(CSRF_COOKIE, "")
    token = form.get("csrf_token")
    if not cookie or not hmac.compare_digest(cookie, token if isinstance(token, str) else ""):
        raise ApiError(403, "csrf")
    return fields


PostedForm = Annotated[PostedFields, Depends(posted_form)]
"""The CSRF-checked form, read on the event loop, so the page handler itself can be a sync
`def` that FastAPI runs in a worker thread with its database work."""


def staff(request: Request, user: User | None) -> User:
    if user is None:
        raise LoginRequired(
            request.url.path + (f"?{request.url.query}" if request.url.query else "")
        )
    return user


def admin_only(request: Request, user: User | None) -> User:
    me = staff(request, user)
    if Role.admin not in me.roles:
        raise ApiError(403, "forbidden")
    return me


def problems_by_field(error: ValidationError, lang: Lang) -> dict[str, str]:
    problems: dict[str, str] = {}
    for p in field_problems([dict(e) for e in error.errors()], lang):
        problems.setdefault(p.field.split(".")[0], p.reason)
    return problems


def install(app: FastAPI) -> None:
    """Page-level handlers: login redirects, CSRF and API errors rendered as pages."""

    json_errors = app.exception_handlers[ApiError]
    json_http_errors = app.exception_handlers[StarletteHTTPException]

    async def answer_json(handler: Any, request: Request, exc: Exception) -> Response:
        answer: Response = await handler(request, exc)
        return answer

    async def http_error_page(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if request.url.path.startswith(("/api/", "/codec/", "/static/", "/docs", "/openapi")):
            return await answer_json(json_http_errors, request, exc)
        t = Translator(page_lang(request))
        text = t("error.not_found") if exc.status_code == 404 else str(exc.detail)
        return render(request, "error.html", None, status_code=exc.status_code, problem=text)

    async def to_login(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        return RedirectResponse(f"/login?next={quote(exc.next_url)}", status_code=303)

    async def error_page(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        if request.url.path.startswith(("/api/", "/codec/")):
            return await answer_json(json_errors, request, exc)
        t = Translator(page_lang(request))
        text = t("error.csrf") if exc.code == "csrf" else message(exc.code, t.lang)
        page = render(request, "error.html", None, status_code=exc.status_code, problem=text)
        page.headers.update(exc.headers or {})
        return page

    app.add_exception_handler(StarletteHTTPException, http_error_page)
    app.add_exception_handler(LoginRequired, to_login)
    app.add_exception_handler(ApiError, error_page)
