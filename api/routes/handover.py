"""اعلام نام کاربری و پسورد (process 3, box 6): the unit head's one-time link to a new cartable's
username and initial password, as JSON and as a plain, phone-first page.

Opening it takes a second factor, the head's national code; HANDOVER_MAX_FAILURES wrong ones
lock the link. The password is opened from its seal once, erased in the same transaction, and
served with `Cache-Control: no-store`; a second view is refused. The head then confirms receipt.
Every view, lock and confirmation is a line of the case's timeline, and the case is told by
signal.
"""

from __future__ import annotations

import hmac
import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, BeforeValidator, Field
from sqlalchemy import update
from sqlmodel import Session, col, select
from temporalio.client import Client

from api.blocking import run_blocking
from api.errors import ApiError, documented
from api.routes.tracking import limit_lookups
from api.security import SessionDep
from api.web.pages.shared import PageUser, PostedForm, page_lang, render
from db.handover import CaseSecret, HandoverLink
from db.models import Case, CaseEvent
from db.office_automation import AppointmentCase, Unit
from domain.appointment import HandoverEvent, HandoverNews
from domain.cases import CaseStatus, EventKind
from domain.credentials import CredentialVault
from domain.handover import token_hash, vault_ref
from domain.messages import Lang, message
from domain.text import typed_digits
from settings import Settings
from workflows.appointment import AppointmentWorkflow

log = logging.getLogger("peygir.api")

router = APIRouter(tags=["office automation: hand-over"])

PASSWORD = "initial_password"
"""The sealed field of the cartable's task."""


class SecondFactor(BaseModel):
    national_code: Annotated[str, BeforeValidator(typed_digits), Field(max_length=10)]
    """The unit head's national code."""


class Credentials(BaseModel):
    """What the head sees once."""

    person: str
    post_title: str
    unit: str
    username: str
    password: str


class HandoverView(BaseModel):
    """The answer to the second factor: the credentials the first time only."""

    credentials: Credentials | None
    """None: they were seen already and are shown no more."""
    confirm_key: str
    """What confirms receipt (POST …/confirm): only who gave the second factor has it."""


class Confirmation(BaseModel):
    confirm_key: Annotated[str, Field(max_length=100)]
    """From the answer that showed the credentials: only who saw them confirms."""


class LinkLocked(ApiError):
    """The last wrong second factor locked the link: the case is told, then 403."""

    def __init__(self, case: Case, link: HandoverLink) -> None:
        super().__init__(403, "handover_locked")
        self.case = case
        self.link = link


def confirm_key(settings: Settings, token: str) -> str:
    return hmac.new(settings.secret_key.encode(), f"confirm:{token}".encode(), "sha256").hexdigest()


def _link(session: Session, token: str) -> tuple[HandoverLink, Case, AppointmentCase, Unit]:
    """The link in force for this token with its case; 410 once expired, locked or ended."""
    link = session.exec(
        select(HandoverLink).where(HandoverLink.token_hash == token_hash(token))
    ).first()
    if link is None:
        raise ApiError(404, "not_found")
    case = session.get(Case, link.case_id)
    letter = session.get(AppointmentCase, link.case_id)
    if case is None or letter is None:
        raise ApiError(404, "not_found")
    unit = session.exec(select(Unit).where(Unit.code == letter.unit_code)).one()
    if case.status != CaseStatus.open or link.confirmed_at is not None:
        raise ApiError(410, "handover_done")
    if link.locked_at is not None:
        raise ApiError(410, "handover_locked")
    if link.viewed_at is None and link.expires_at <= datetime.now(UTC):
        raise ApiError(410, "handover_expired")
    return link, case, letter, unit


def _line(session: Session, case: Case, link: HandoverLink, event: str, fa: str, en: str) -> None:
    session.add(
        CaseEvent(
            case_id=case.id or 0,
            event_key=f"{case.workflow_id}:handover:{link.number}:{event}",
            kind=EventKind.comment,
            step="hand_over",
            actor="head",
            text_fa=fa,
            text_en=en,
            public=False,
        )
    )


def _open(
    session: Session, settings: Settings, token: str, factor: SecondFactor
) -> tuple[Case, HandoverLink, Credentials | None, HandoverEvent | None]:
    """Check the second factor; the credentials once (None if already seen). Also returns what
    the case should be told."""
    link, case, letter, unit = _link(session, token)
    assert case.id is not None
    if not hmac.compare_digest(factor.national_code.encode(), unit.head_national_code.encode()):
        link.failures += 1
        locked = link.failures >= settings.handover_max_failures
        if locked:
            link.locked_at = datetime.now(UTC)
            _line(
                session,
                case,
                link,
                "locked",
                f"پیوند شماره {link.number} پس از {link.failures} کد ملی نادرست قفل شد",
                f"Link {link.number} locked after {link.failures} wrong national codes",
            )
        session.add(link)
        session.commit()
        if locked:
            raise LinkLocked(case, link)
        raise ApiError(403, "handover_wrong_factor")
    if link.viewed_at is not None:
        session.commit()
        return case, link, None, None
    secret = session.get(CaseSecret, (case.id, PASSWORD))
    sealed = secret.ciphertext if secret is not None else None
    if not sealed:
        raise ApiError(410, "handover_done")
    # Erase first, and only if nobody else did meanwhile: the password is shown exactly once.
    erased = session.execute(
        update(CaseSecret)
        .where(
            col(CaseSecret.case_id) == case.id,
            col(CaseSecret.name) == PASSWORD,
            col(CaseSecret.ciphertext) == sealed,
        )
        .values(ciphertext=None, erased_at=datetime.now(UTC))
    )
    if erased.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise ApiError(410, "handover_done")
    link.viewed_at = datetime.now(UTC)
    session.add(link)
    _line(
        session,
        case,
        link,
        "viewed",
        f"نام کاربری و رمز با پیوند شماره {link.number} دیده شد",
        f"The username and password were seen through link {link.number}",
    )
    session.commit()
    password = CredentialVault(settings.vault_keys()).open(vault_ref(case.id, PASSWORD), sealed)
    return (
        case,
        link,
        Credentials(
            person=f"{letter.first_name} {letter.last_name}",
            post_title=letter.post_title,
            unit=unit.name,
            username=letter.automation_username or "",
            password=password,
        ),
        HandoverEvent.viewed,
    )


def _confirm(
    session: Session, settings: Settings, token: str, body: Confirmation
) -> tuple[Case, HandoverLink]:
    link, case, _, _ = _link(session, token)
    if link.viewed_at is None or not hmac.compare_digest(
        body.confirm_key, confirm_key(settings, token)
    ):
        raise ApiError(403, "handover_wrong_factor")
    link.confirmed_at = datetime.now(UTC)
    session.add(link)
    _line(
        session,
        case,
        link,
        "confirmed",
        "رئیس واحد دریافت نام کاربری و رمز را تایید کرد",
        "The unit's head confirmed receipt of the username and password",
    )
    session.commit()
    return case, link


async def _tell(client: Client, case: Case, link: HandoverLink, event: HandoverEvent) -> None:
    """The case hears of it at once; were Temporal unreachable, the timeline has it already and
    the case learns of a confirmation when the admin re-sends the link."""
    try:
        await client.get_workflow_handle_for(AppointmentWorkflow.run, case.workflow_id).signal(
            AppointmentWorkflow.handover, HandoverNews(event=event, number=link.number)
        )
    except Exception:
        log.warning("could not tell case %s of its hand-over (%s)", case.tracking_code, event)


@router.post(
    "/api/handover/{token}",
    response_model=HandoverView,
    responses=documented(403, 404, 410),
    summary="The unit head opens a cartable's credentials once (second factor: national code)",
)
async def open_credentials(
    token: str, factor: SecondFactor, request: Request, response: Response, session: SessionDep
) -> HandoverView:
    """200 with the credentials the first time, and without them afterwards (a second view is
    refused; receipt can still be confirmed); 403 wrong national code (the link locks after
    HANDOVER_MAX_FAILURES); 410 expired, locked or done."""
    limit_lookups(request)
    response.headers["Cache-Control"] = "no-store"
    state = request.app.state
    try:
        case, link, shown, event = await run_blocking(_open, session, state.settings, token, factor)
    except LinkLocked as locked:
        await _tell(state.temporal, locked.case, locked.link, HandoverEvent.locked)
        raise
    if event is not None:
        await _tell(state.temporal, case, link, event)
    return HandoverView(credentials=shown, confirm_key=confirm_key(state.settings, token))


@router.post(
    "/api/handover/{token}/confirm",
    status_code=204,
    response_class=Response,
    responses=documented(403, 404, 410),
    summary="The unit head confirms receipt of the cartable's credentials",
)
async def confirm_receipt(
    token: str, body: Confirmation, request: Request, session: SessionDep
) -> Response:
    state = request.app.state
    case, link = await run_blocking(_confirm, session, state.settings, token, body)
    await _tell(state.temporal, case, link, HandoverEvent.confirmed)
    return Response(status_code=204)


def _page(
    request: Request, user: Any, token: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    response = render(
        request, "public/handover.html", user, status_code=status_code, token=token, **context
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _problem(error: ApiError, lang: Lang) -> str:
    return message(error.code, lang)


@router.get("/handover/{token}", response_class=HTMLResponse, include_in_schema=False)
def handover_page(
    token: str, request: Request, user: PageUser, session: SessionDep
) -> HTMLResponse:
    try:
        _link(session, token)
    except ApiError as error:
        return _page(
            request, user, token, error.status_code, gone=_problem(error, page_lang(request))
        )
    return _page(request, user, token)


@router.post("/handover/{token}", response_class=HTMLResponse, include_in_schema=False)
async def handover_open(
    token: str, request: Request, user: PageUser, session: SessionDep, posted: PostedForm
) -> HTMLResponse:
    lang = page_lang(request)
    try:
        shown = await open_credentials(
            token,
            SecondFactor(national_code=posted.get("national_code", "")),
            request,
            Response(),
            session,
        )
    except ApiError as error:
        if error.status_code == 403 and error.code == "handover_wrong_factor":
            return _page(request, user, token, 403, problem=_problem(error, lang))
        return _page(request, user, token, error.status_code, gone=_problem(error, lang))
    return _page(
        request,
        user,
        token,
        shown=shown.credentials,
        confirm_key=shown.confirm_key,
        seen=True,
    )


@router.post("/handover/{token}/confirm", response_class=HTMLResponse, include_in_schema=False)
async def handover_confirm(
    token: str, request: Request, user: PageUser, session: SessionDep, posted: PostedForm
) -> HTMLResponse:
    try:
        await confirm_receipt(
            token, Confirmation(confirm_key=posted.get("confirm_key", "")), request, session
        )
    except ApiError as error:
        return _page(
            request, user, token, error.status_code, gone=_problem(error, page_lang(request))
        )
    return _page(request, user, token, confirmed=True)
