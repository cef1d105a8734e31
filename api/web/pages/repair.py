"""Process 2's register pages: the equipment register (search, import), the vendors, an asset."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from api.errors import ApiError, RowId
from api.routes import repair_register as api
from api.security import SessionDep
from api.web.pages.shared import (
    PageUser,
    PostedForm,
    add_to_navigation,
    page_lang,
    problems_by_field,
    render,
    staff,
)
from db.asset_register import FIELD_FA
from db.models import User
from domain.cases import Role
from domain.messages import MESSAGES, Lang, message
from domain.repair import ASSET_KIND_FA, AssetKind

router = APIRouter(include_in_schema=False)

KIND_EN: dict[AssetKind, str] = {
    AssetKind.pc: "Desktop computer",
    AssetKind.laptop: "Laptop",
    AssetKind.printer: "Printer",
    AssetKind.scanner: "Scanner",
    AssetKind.monitor: "Monitor",
    AssetKind.network_device: "Network device",
    AssetKind.other: "Other",
}
PER_PAGE = 25

add_to_navigation("/admin/assets", "nav.assets", *api.READERS)
add_to_navigation("/admin/vendors", "nav.vendors", *api.READERS)


def _allowed(request: Request, user: User | None, roles: tuple[Role, ...]) -> User:
    me = staff(request, user)
    if not ({Role.admin, *roles} & set(me.roles)):
        raise ApiError(403, "forbidden")
    return me


def _manages(user: User) -> bool:
    return bool({Role.admin, *api.MANAGERS} & set(user.roles))


def _page(
    request: Request, template: str, me: User, status_code: int = 200, **context: Any
) -> HTMLResponse:
    lang = page_lang(request)
    names = ASSET_KIND_FA if lang == Lang.fa else KIND_EN
    return render(
        request,
        template,
        me,
        status_code=status_code,
        kinds=list(AssetKind),
        kind_name=lambda kind: names[AssetKind(kind)],
        manages=_manages(me),
        **context,
    )


def _assets_page(
    request: Request,
    me: User,
    session: SessionDep,
    status_code: int = 200,
    q: str = "",
    kind: str = "",
    page: int = 1,
    **context: Any,
) -> HTMLResponse:
    chosen = AssetKind(kind) if kind in AssetKind.__members__ else None
    listing = api.list_assets(session, q=q[:100], kind=chosen, page=max(page, 1), per_page=PER_PAGE)
    query = urlencode({k: v for k, v in (("q", q), ("kind", kind)) if v})
    return _page(
        request,
        "repair/assets.html",
        me,
        status_code,
        listing=listing,
        q=q,
        kind=chosen.value if chosen else "",
        base_query=query,
        column_name=lambda field: (
            FIELD_FA.get(field, field) if page_lang(request) == Lang.fa else field
        ),
        **context,
    )


@router.get("/admin/assets", response_class=HTMLResponse)
def assets_page(
    request: Request,
    user: PageUser,
    session: SessionDep,
    q: str = "",
    kind: str = "",
    page: int = 1,
) -> HTMLResponse:
    me = _allowed(request, user, api.READERS)
    return _assets_page(request, me, session, q=q, kind=kind, page=page)


@router.post("/admin/assets/import", response_class=HTMLResponse)
def assets_import(
    request: Request,
    user: PageUser,
    session: SessionDep,
    _posted: PostedForm,
    file: Annotated[UploadFile, File()],
    dry_run: Annotated[str, Form()] = "",
) -> Response:
    me = _allowed(request, user, api.MANAGERS)
    lang = page_lang(request)
    try:
        data = api.read_upload(file, lang)
        report = api.run_import(
            session,
            data,
            lang,
            dry_run=dry_run == "1",
            before_commit=api.audited_import(session, request, me, file),
        )
    except ApiError as error:
        problem = error.errors[0].reason if error.errors else ""
        return _assets_page(request, me, session, error.status_code, file_problem=problem)
    return _assets_page(request, me, session, 422 if report.errors else 200, report=report)


@router.get("/assets/{property_number:path}", response_class=HTMLResponse)
def asset_page(
    property_number: str, request: Request, user: PageUser, session: SessionDep
) -> HTMLResponse:
    me = _allowed(request, user, api.READERS)
    return _page(request, "repair/asset.html", me, asset=api.asset_detail(session, property_number))


def _vendors_page(
    request: Request, me: User, session: SessionDep, status_code: int = 200, **context: Any
) -> HTMLResponse:
    context.setdefault("values", {})
    context.setdefault("errors", {})
    return _page(
        request,
        "repair/vendors.html",
        me,
        status_code,
        vendors=api.list_vendors(session),
        **context,
    )


@router.get("/admin/vendors", response_class=HTMLResponse)
def vendors_page(
    request: Request, user: PageUser, session: SessionDep, edit: int | None = None, saved: str = ""
) -> HTMLResponse:
    me = _allowed(request, user, api.READERS)
    values: dict[str, Any] = {}
    if edit is not None and _manages(me):
        vendor = api.find_vendor(session, edit)
        values = vendor.model_dump()
    return _vendors_page(request, me, session, editing=edit, values=values, saved=saved)


def _vendor_fields(posted: dict[str, str], fields: list[str] | None) -> dict[str, Any]:
    return {
        "name": posted.get("name", ""),
        "fields": fields or [],
        "contact_name": posted.get("contact_name", ""),
        "mobile": posted.get("mobile", ""),
        "email": posted.get("email", ""),
    }


def _save_vendor(
    request: Request,
    user: User | None,
    session: SessionDep,
    posted: dict[str, str],
    fields: list[str] | None,
    vendor_id: int | None,
) -> Response:
    me = _allowed(request, user, api.MANAGERS)
    values = _vendor_fields(posted, fields)
    try:
        if vendor_id is None:
            api.create_vendor(api.NewVendor.model_validate(values), request, session, me)
        else:
            change = api.VendorChange.model_validate(values)
            api.change_vendor(vendor_id, change, request, session, me)
    except ValidationError as error:
        errors = problems_by_field(error, page_lang(request))
        return _vendors_page(
            request, me, session, 422, editing=vendor_id, values=values, errors=errors
        )
    except ApiError as error:
        if not error.errors:
            raise
        lang = page_lang(request)
        errors = {
            p.field: message(p.code, lang) if p.code in MESSAGES else p.reason for p in error.errors
        }
        return _vendors_page(
            request, me, session, error.status_code, editing=vendor_id, values=values, errors=errors
        )
    return RedirectResponse("/admin/vendors?saved=1", status_code=303)


@router.post("/admin/vendors", response_class=HTMLResponse)
def vendors_create(
    request: Request,
    user: PageUser,
    session: SessionDep,
    posted: PostedForm,
    fields: Annotated[list[str] | None, Form()] = None,
) -> Response:
    return _save_vendor(request, user, session, posted, fields, None)


@router.post("/admin/vendors/{vendor_id}", response_class=HTMLResponse)
def vendors_change(
    vendor_id: RowId,
    request: Request,
    user: PageUser,
    session: SessionDep,
    posted: PostedForm,
    fields: Annotated[list[str] | None, Form()] = None,
) -> Response:
    return _save_vendor(request, user, session, posted, fields, vendor_id)


@router.post("/admin/vendors/{vendor_id}/active", response_class=HTMLResponse)
def vendors_active(
    vendor_id: RowId,
    request: Request,
    user: PageUser,
    session: SessionDep,
    posted: PostedForm,
) -> Response:
    me = _allowed(request, user, api.MANAGERS)
    change = api.VendorChange(is_active=posted.get("active") == "true")
    api.change_vendor(vendor_id, change, request, session, me)
    return RedirectResponse("/admin/vendors?saved=1", status_code=303)
