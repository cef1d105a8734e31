"""The SHAMS register through the API and its pages: the counties, the upload (422 with errors
by row and column, nothing changed), who sees which sites (a county its own, the carrier those
sent to it), the template and the export."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from openpyxl import load_workbook
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from db.models import AuditEntry
from db.shams import County, Site, county_scope, exchange_scope
from db.site_register import SITE_FIELD_FA
from domain.cases import Role
from domain.shams import SiteState
from settings import Settings
from tests.api.test_pages import CSRF_COOKIE, logged_in

MakeUser = Callable[..., tuple[Any, dict[str, str]]]
EN = {"Accept-Language": "en"}
HEADER = ",".join(SITE_FIELD_FA.values())


def tag() -> str:
    return uuid.uuid4().hex[:6].upper()


def line(county: str, code: str, **changes: str) -> str:
    values = {
        "county_code": county,
        "site_code": code,
        "siam_id": "",
        "name": f"خانه بهداشت {code}",
        "kind": "خانه بهداشت",
        "address": "روستای نمونه، خیابان اصلی",
        "postal_code": "",
        "phone": "",
        "latitude": "33.98",
        "longitude": "51.43",
        "link_type": "ADSL",
        **changes,
    }
    return ",".join(values[f] for f in SITE_FIELD_FA)


def sites_file(*lines: str) -> dict[str, tuple[str, bytes, str]]:
    return {"file": ("sites.csv", ("\n".join([HEADER, *lines]) + "\n").encode(), "text/csv")}


def add_county(engine: Engine) -> str:
    code = f"C{tag()}"
    with Session(engine) as session:
        session.add(County(code=code, name=f"شبکه بهداشت {code}"))
        session.commit()
    return code


def set_state(engine: Engine, code: str, state: SiteState, exchange: str | None = None) -> None:
    with Session(engine) as session:
        site = session.exec(select(Site).where(Site.site_code == code)).one()
        site.state, site.exchange = state, exchange
        session.add(site)
        session.commit()


def codes(page: httpx.Response) -> set[str]:
    assert page.status_code == 200, page.text
    return {s["site_code"] for s in page.json()["items"]}


async def test_counties_are_kept_by_the_it_office(
    api: httpx.AsyncClient, make_user: MakeUser
) -> None:
    code = f"K{tag()}"
    _, office = make_user(Role.it_office)
    _, director = make_user(Role.it_director)
    _, county_user = make_user(Role.county_network, scopes=(county_scope(code),))
    body = {"code": code, "name": "شبکه بهداشت کاشان", "mobile": "۰۹۱۳۱۲۳۴۵۶۷"}
    assert (await api.post("/api/shams/counties", json=body)).status_code == 401
    for outsider in (director, county_user):
        assert (
            await api.post("/api/shams/counties", json=body, headers=outsider)
        ).status_code == 403
    assert (await api.get("/api/shams/counties", headers=county_user)).status_code == 403
    created = await api.post("/api/shams/counties", json=body, headers=office)
    assert created.status_code == 201, created.text
    assert created.json() | {"sites": 0} == {
        "code": code,
        "name": "شبکه بهداشت کاشان",
        "contact_name": "",
        "phone": None,
        "email": None,
        "mobile": "09131234567",
        "active": True,
        "sites": 0,
    }
    again = await api.post("/api/shams/counties", json=body, headers={**office, **EN})
    assert again.status_code == 409
    assert again.json()["errors"][0]["field"] == "code"
    bad = await api.post("/api/shams/counties", json={"code": "کاشان", "name": "x"}, headers=office)
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"code", "name"}
    changed = await api.patch(
        f"/api/shams/counties/{code}",
        json={"phone": "031-5555 0000", "active": False, "mobile": None},
        headers=office,
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["phone"], changed.json()["active"]) == ("03155550000", False)
    assert changed.json()["mobile"] is None
    null_name = await api.patch(f"/api/shams/counties/{code}", json={"name": None}, headers=office)
    assert null_name.status_code == 422
    assert (
        await api.patch("/api/shams/counties/NOPE-1", json={}, headers=office)
    ).status_code == 404
    listed = await api.get("/api/shams/counties", headers=director)
    assert code in {c["code"] for c in listed.json()}


async def test_an_upload_with_bad_rows_is_422_by_row_and_column_and_changes_nothing(
    api: httpx.AsyncClient, make_user: MakeUser, engine: Engine
) -> None:
    county, p = add_county(engine), tag()
    _, office = make_user(Role.it_office)
    bad = await api.post(
        "/api/shams/sites/import",
        files=sites_file(
            line(county, f"{p}-1"),
            line(county, f"{p}-2", latitude="12"),
            line(county, f"{p}-1"),
        ),
        headers={**office, **EN},
    )
    assert bad.status_code == 422
    body = bad.json()
    assert body["code"] == "rows_invalid"
    assert body["message"] == "Some rows of the file have errors; nothing was imported."
    assert [(e["field"], e["code"]) for e in body["errors"]] == [
        ("rows.3.latitude", "latitude_outside_iran"),
        ("rows.4.site_code", "duplicate_code_row"),
    ]
    assert "between 25 and 40 degrees north" in body["errors"][0]["reason"]
    persian = await api.post(
        "/api/shams/sites/import",
        files=sites_file(line(county, f"{p}-2", latitude="12")),
        headers=office,
    )
    assert "۲۵" in persian.json()["errors"][0]["reason"]
    with Session(engine) as session:
        assert session.exec(select(Site).where(col(Site.site_code).startswith(p))).all() == []

    good = await api.post(
        "/api/shams/sites/import", files=sites_file(line(county, f"{p}-1")), headers=office
    )
    assert good.status_code == 200, good.text
    assert good.json() == {
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "errors": [],
        "dry_run": False,
    }
    again = await api.post(
        "/api/shams/sites/import", files=sites_file(line(county, f"{p}-1")), headers=office
    )
    assert again.json()["unchanged"] == 1
    with Session(engine) as session:
        audited = session.exec(select(AuditEntry).where(AuditEntry.action == "sites.import")).all()
    assert any(a.detail.get("created") == 1 for a in audited)


async def test_an_upload_that_is_no_site_list(api: httpx.AsyncClient, make_user: MakeUser) -> None:
    _, office = make_user(Role.it_office)
    png = {"file": ("sites.xlsx", b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "image/png")}
    wrong = await api.post("/api/shams/sites/import", files=png, headers=office)
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "file"
    columns = {"file": ("sites.csv", "کد نقطه,نام نقطه\nA-1,x\n".encode(), "text/csv")}
    missing = await api.post("/api/shams/sites/import", files=columns, headers={**office, **EN})
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["code"] == "columns_missing"


async def test_a_county_sees_and_uploads_only_its_own_sites(
    api: httpx.AsyncClient, make_user: MakeUser, engine: Engine
) -> None:
    own, other, p = add_county(engine), add_county(engine), tag()
    _, office = make_user(Role.it_office)
    _, county_user = make_user(Role.county_network, scopes=(county_scope(own),))
    await api.post(
        "/api/shams/sites/import",
        files=sites_file(line(own, f"{p}-1"), line(other, f"{p}-2")),
        headers=office,
    )
    assert codes(await api.get("/api/shams/sites", params={"q": p}, headers=county_user)) == {
        f"{p}-1"
    }
    assert codes(
        await api.get("/api/shams/sites", params={"county": own}, headers=county_user)
    ) == {f"{p}-1"}
    refused = await api.get("/api/shams/sites", params={"county": other}, headers=county_user)
    assert refused.status_code == 403
    assert (await api.get(f"/api/shams/sites/{p}-2", headers=county_user)).status_code == 403
    mine = await api.get(f"/api/shams/sites/{p}-1", headers=county_user)
    assert mine.status_code == 200
    assert [e["state"] for e in mine.json()["events"]] == ["submitted"]
    assert (await api.get("/api/shams/sites/NO-SUCH", headers=county_user)).status_code == 404
    exported = await api.get(
        "/api/shams/sites/export", params={"county": other}, headers=county_user
    )
    assert exported.status_code == 403
    upload = await api.post(
        "/api/shams/sites/import",
        files=sites_file(line(own, f"{p}-3"), line(other, f"{p}-4")),
        headers=county_user,
    )
    assert upload.status_code == 422
    assert [e["field"] for e in upload.json()["errors"]] == ["rows.3.county_code"]
    assert upload.json()["errors"][0]["code"] == "county_not_yours"


async def test_the_carrier_sees_only_the_sites_sent_to_it(
    api: httpx.AsyncClient, make_user: MakeUser, engine: Engine
) -> None:
    county, p = add_county(engine), tag()
    _, office = make_user(Role.it_office)
    _, province = make_user(Role.carrier)
    _, one_area = make_user(Role.carrier, scopes=(exchange_scope("مرکز قمصر"),))
    lines = [line(county, f"{p}-{i}") for i in range(4)]
    await api.post("/api/shams/sites/import", files=sites_file(*lines), headers=office)
    set_state(engine, f"{p}-1", SiteState.sent_to_carrier, "مرکز قمصر")
    set_state(engine, f"{p}-2", SiteState.connected, "مرکز کاشان")
    set_state(engine, f"{p}-3", SiteState.accepted)
    assert codes(await api.get("/api/shams/sites", params={"q": p}, headers=province)) == {
        f"{p}-1",
        f"{p}-2",
    }
    assert codes(await api.get("/api/shams/sites", params={"q": p}, headers=one_area)) == {f"{p}-1"}
    narrowed = await api.get(
        "/api/shams/sites", params={"q": p, "county": county}, headers=province
    )
    assert codes(narrowed) == {f"{p}-1", f"{p}-2"}
    assert (await api.get(f"/api/shams/sites/{p}-3", headers=province)).status_code == 403
    assert (await api.get(f"/api/shams/sites/{p}-2", headers=one_area)).status_code == 403
    assert (await api.get(f"/api/shams/sites/{p}-1", headers=one_area)).status_code == 200
    upload = await api.post("/api/shams/sites/import", files=sites_file(), headers=province)
    assert upload.status_code == 403
    assert (await api.get("/api/shams/sites/template", headers=province)).status_code == 403
    paged = await api.get(
        "/api/shams/sites", params={"q": p, "per_page": 1, "page": 2}, headers=office
    )
    assert paged.json()["total"] == 4 and codes(paged) == {f"{p}-1"}
    by_state = await api.get(
        "/api/shams/sites", params={"q": p, "state": "accepted"}, headers=office
    )
    assert codes(by_state) == {f"{p}-3"}


async def test_the_template_and_the_export(
    api: httpx.AsyncClient, make_user: MakeUser, engine: Engine
) -> None:
    county, p = add_county(engine), tag()
    _, county_user = make_user(Role.county_network, scopes=(county_scope(county),))
    template = await api.get("/api/shams/sites/template", headers=county_user)
    assert template.status_code == 200
    assert template.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert "attachment" in template.headers["content-disposition"]
    rows = list(
        load_workbook(io.BytesIO(template.content), read_only=True)
        .worksheets[0]
        .iter_rows(values_only=True)
    )
    assert list(rows[0]) == list(SITE_FIELD_FA.values())
    assert rows[1][0] == county  # the example row is in the county's own county

    formula = line(county, f"{p}-1", name='=HYPERLINK("http://evil")')
    assert (
        await api.post("/api/shams/sites/import", files=sites_file(formula), headers=county_user)
    ).status_code == 200
    exported = await api.get("/api/shams/sites/export", params={"q": p}, headers=county_user)
    assert exported.status_code == 200
    sheet = load_workbook(io.BytesIO(exported.content)).worksheets[0]
    header = [c.value for c in sheet[1]]
    assert header[: len(SITE_FIELD_FA)] == list(SITE_FIELD_FA.values())
    name = sheet.cell(row=2, column=header.index("نام نقطه") + 1)
    assert name.data_type == "s" and name.value == '\'=HYPERLINK("http://evil")'
    assert sheet.cell(row=2, column=header.index("وضعیت") + 1).value == "ارسال‌شده توسط شبکه"
    assert sheet.max_row == 2


async def test_the_openapi_document_has_the_register(api: httpx.AsyncClient) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]
    assert {
        "/api/shams/counties",
        "/api/shams/counties/{code}",
        "/api/shams/counties/import",
        "/api/shams/sites",
        "/api/shams/sites/template",
        "/api/shams/sites/export",
        "/api/shams/sites/import",
        "/api/shams/sites/{site_code}",
    } <= set(paths)
    listing = paths["/api/shams/sites"]["get"]["responses"]["200"]["content"]["application/json"]
    assert listing["schema"]["$ref"].endswith("/SitePage")
    xlsx = paths["/api/shams/sites/export"]["get"]["responses"]["200"]["content"]
    assert "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" in xlsx
    upload = paths["/api/shams/sites/import"]["post"]["responses"]
    assert {"200", "401", "403", "413", "422"} <= set(upload)


async def test_the_pages(
    api: httpx.AsyncClient, make_user: MakeUser, engine: Engine, settings: Settings
) -> None:
    county, p = add_county(engine), tag()
    user, _ = make_user(Role.county_network, scopes=(county_scope(county),))
    await logged_in(api, settings, user.username)
    page = await api.get("/admin/shams/sites")
    assert page.status_code == 200
    assert 'href="/admin/shams/sites/template"' in page.text
    assert 'dir="rtl"' in page.text
    bad = await api.post(
        "/admin/shams/sites/import",
        data={"csrf_token": api.cookies[CSRF_COOKIE]},
        files=sites_file(line(county, f"{p}-1", kind="فضاپیما")),
    )
    assert bad.status_code == 422
    assert 'id="import-errors"' in bad.text and "نوع نقطه شناخته نیست" in bad.text
    assert '<td data-label="ستون">نوع نقطه</td>' in bad.text
    no_csrf = await api.post("/admin/shams/sites/import", files=sites_file())
    assert no_csrf.status_code == 403
    good = await api.post(
        "/admin/shams/sites/import",
        data={"csrf_token": api.cookies[CSRF_COOKIE]},
        files=sites_file(line(county, f"{p}-1")),
    )
    assert good.status_code == 200 and "نقاط وارد شد" in good.text
    listed = await api.get("/admin/shams/sites", params={"q": p})
    assert f"/shams/sites/{p}-1" in listed.text
    detail = await api.get(f"/shams/sites/{p}-1")
    assert detail.status_code == 200 and "ارسال‌شده توسط شبکه" in detail.text
    template = await api.get("/admin/shams/sites/template")
    assert template.status_code == 200 and template.content[:2] == b"PK"
    export = await api.get("/admin/shams/sites/export", params={"q": p})
    assert export.status_code == 200 and export.content[:2] == b"PK"
    assert (await api.get("/admin/shams/counties")).status_code == 403

    office, _ = make_user(Role.it_office)
    await logged_in(api, settings, office.username)
    code = f"N{tag()}"
    missing = await api.post(
        "/admin/shams/counties", data={"csrf_token": api.cookies[CSRF_COOKIE], "code": code}
    )
    assert missing.status_code == 422 and 'id="e-name"' in missing.text
    created = await api.post(
        "/admin/shams/counties",
        data={"csrf_token": api.cookies[CSRF_COOKIE], "code": code, "name": "شبکه نطنز"}
        | {"active": "true"},
    )
    assert created.status_code == 303
    counties = await api.get("/admin/shams/counties")
    assert code in counties.text and "شبکه نطنز" in counties.text
    edited = await api.post(
        f"/admin/shams/counties/{code}",
        data={"csrf_token": api.cookies[CSRF_COOKIE], "name": "شبکه بهداشت نطنز", "mobile": "12"},
    )
    assert edited.status_code == 422 and 'id="e-mobile"' in edited.text
    with Session(engine) as session:
        kept = session.exec(select(County).where(County.code == code)).one()
    assert (kept.name, kept.active) == ("شبکه نطنز", True)
