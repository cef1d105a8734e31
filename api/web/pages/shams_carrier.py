"""The carrier's page (مخابرات): its spreadsheet of ranging answers and installed lines sent in
one upload, each row answered in place; the template; the sites waiting for it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Request, Response, UploadFile
from fastapi.responses import HTMLResponse
from temporalio.client import Client

from api.blocking import run_blocking
from api.errors import ApiError
from api.routes import shams_carrier as api
from api.web.pages.shared import PageUser, PostedForm, add_to_navigation, page_lang, render, staff
from db.models import User
from domain.cases import Role
from domain.shams import SiteState
from domain.shams_carrier import CarrierReportAnswer

router = APIRouter(include_in_schema=False)

add_to_navigation("/shams/carrier", "nav.shams_carrier", Role.carrier)


def _carrier(request: Request, user: User | None) -> User:
    me = staff(request, user)
    if not ({Role.admin, Role.carrier} & set(me.roles)):
        raise ApiError(403, "forbidden")
    return me


def _page(
    request: Request,
    me: User,
    status_code: int = 200,
    answer: CarrierReportAnswer | None = None,
    file_problem: str = "",
) -> HTMLResponse:
    return render(
        request,
        "shams/carrier.html",
        me,
        status_code=status_code,
        answer=answer,
        file_problem=file_problem,
        waiting=SiteState.sent_to_carrier.value,
    )


@router.get("/shams/carrier", response_class=HTMLResponse)
async def carrier_page(request: Request, user: PageUser) -> HTMLResponse:
    return _page(request, _carrier(request, user))


@router.post("/shams/carrier/reports", response_class=HTMLResponse)
async def carrier_upload(
    request: Request,
    user: PageUser,
    _posted: PostedForm,
    file: Annotated[UploadFile, File()],
) -> HTMLResponse:
    me = _carrier(request, user)
    try:
        rows = await run_blocking(api.file_rows, file, page_lang(request))
        if not rows:
            raise ApiError(422, "file_empty")
    except ApiError as error:
        problem = error.errors[0].reason if error.errors else error.code
        return _page(request, me, error.status_code, file_problem=problem)
    client: Client = request.app.state.temporal
    answer = await api.report(request, client, me, rows, page_lang(request))
    return _page(request, me, 422 if answer.rejected else 200, answer=answer)


@router.get("/shams/carrier/template")
async def carrier_template(request: Request, user: PageUser) -> Response:
    _carrier(request, user)
    return api.report_template()
