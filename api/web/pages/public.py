"""The public's pages: the services, the language switch, the e-mail form, receipt, tracking."""

from __future__ import annotations

import hmac
import uuid

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlmodel import select

from api.errors import ApiError
from api.routes import tracking
from api.routes.email_requests import submit_email_request
from api.security import SessionDep, SettingsDep
from api.web.pages.shared import (
    LANG_COOKIE,
    ClientDep,
    PageUser,
    PostedForm,
    page_lang,
    problems_by_field,
    render,
)
from db.models import Case, User
from domain.cases import ProcessKind
from domain.email_account import Affiliation, EmailRequestForm
from domain.messages import Lang, message
from domain.text import normalize_digits
from settings import Settings

router = APIRouter(include_in_schema=False)

EMAIL_FIELDS = tuple(EmailRequestForm.model_fields)
ACTIVE_PROCESSES = {ProcessKind.email_account: "/email/new"}


def _receipt_signature(settings: Settings, code: str) -> str:
    return hmac.new(settings.secret_key.encode(), f"receipt:{code}".encode(), "sha256").hexdigest()[
        :32
    ]


@router.get("/", response_class=HTMLResponse)
def home(request: Request, user: PageUser) -> HTMLResponse:
    services = [{"kind": kind.value, "href": ACTIVE_PROCESSES.get(kind)} for kind in ProcessKind]
    return render(request, "public/home.html", user, services=services)


@router.get("/lang/{code}")
def switch_language(code: str, next: str = "/") -> Response:
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    response = RedirectResponse(target, status_code=303)
    if code in (Lang.fa, Lang.en):
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 24 * 3600, samesite="lax")
    return response


def _email_page(
    request: Request,
    user: User | None,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
    problem: str | None = None,
) -> HTMLResponse:
    return render(
        request,
        "public/email_form.html",
        user,
        status_code=status_code,
        values=values,
        errors=errors,
        problem=problem,
        affiliations=[a.value for a in Affiliation],
        form_token=values.get("form_token") or str(uuid.uuid4()),
    )


@router.get("/email/new", response_class=HTMLResponse)
def email_form(request: Request, user: PageUser) -> HTMLResponse:
    return _email_page(request, user, {}, {})


@router.post("/email/new", response_class=HTMLResponse)
async def email_submit(
    request: Request,
    user: PageUser,
    session: SessionDep,
    settings: SettingsDep,
    client: ClientDep,
    posted: PostedForm,
) -> Response:
    lang = page_lang(request)
    data = {k: posted.get(k, "") for k in EMAIL_FIELDS}
    data["personal_email"] = data["personal_email"] or None  # type: ignore[assignment]
    try:
        form = EmailRequestForm.model_validate(data)
    except ValidationError as error:
        return _email_page(request, user, posted, problems_by_field(error, lang), 422)
    try:
        receipt = await submit_email_request(
            form,
            request,
            Response(),
            session,
            settings,
            client,
            idempotency_key=f"form:{posted.get('form_token', '')}"
            if posted.get("form_token")
            else None,
        )
    except ApiError as error:
        # A refusal naming a field (one request per person: national_code) shows beside it.
        errors = {p.field: p.reason for p in error.errors if p.field in EMAIL_FIELDS}
        problem = None if errors else message(error.code, lang)
        page = _email_page(request, user, posted, errors, error.status_code, problem=problem)
        page.headers.update(error.headers or {})
        return page
    code = receipt.tracking_code
    return RedirectResponse(
        f"/receipt/{code}?sig={_receipt_signature(settings, code)}", status_code=303
    )


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
    return render(request, "public/receipt.html", user, case=case)


@router.get("/track", response_class=HTMLResponse)
def track_form(request: Request, user: PageUser, code: str = "") -> HTMLResponse:
    return render(request, "public/track.html", user, values={"tracking_code": code}, view=None)


@router.post("/track", response_class=HTMLResponse)
def track_result(
    request: Request, user: PageUser, session: SessionDep, posted: PostedForm
) -> HTMLResponse:
    tracking.limit_lookups(request)
    code = normalize_digits(posted.get("tracking_code", "")).strip()
    national_code = normalize_digits(posted.get("national_code", "")).strip()
    try:
        view = tracking.track(code, national_code, session)
    except ApiError as error:
        return render(
            request,
            "public/track.html",
            user,
            status_code=error.status_code,
            values={"tracking_code": code},
            view=None,
            problem=message(error.code, page_lang(request)),
        )
    return render(
        request,
        "public/track.html",
        user,
        values={"tracking_code": code},
        view=view,
        national_code=national_code,
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
            tracking.RevealRequest(national_code=posted.get("national_code", "")),
            session,
            settings,
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
