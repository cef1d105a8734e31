"""Process 2's registers through the API and their pages: who may read and change them, the
vendors' checks, the equipment search, an asset's repair history, and the all-or-nothing upload."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

import api.routes.repair_register as routes
import db.asset_register as register
from api.app import create_app
from db.engine import make_engine
from db.models import Case
from db.repair import Asset, RepairJob, Vendor
from domain.cases import CaseStatus, Role
from domain.repair import RepairOutcome, RepairPath
from settings import Settings
from tests.api.conftest import statements_on_the_loop
from tests.api.test_pages import CSRF_COOKIE, logged_in

MakeUser = Callable[..., tuple[Any, dict[str, str]]]
EN = {"Accept-Language": "en"}


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app as tests/api/conftest.py builds it; the repair declaration adds the registers."""
    engine = make_engine(settings.database_url)
    on_the_loop = statements_on_the_loop(engine)
    app = create_app(settings, engine=engine, temporal=object())  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client
    engine.dispose()
    assert on_the_loop == [], "database work ran on the event loop"


def tag() -> str:
    return uuid.uuid4().hex[:6].upper()


def csv_file(*lines: str) -> dict[str, tuple[str, bytes, str]]:
    return {"file": ("register.csv", "\n".join(lines).encode() + b"\n", "text/csv")}


def asset_count(engine: Engine, prefix: str) -> int:
    with Session(engine) as session:
        return session.exec(
            select(func.count()).where(col(Asset.property_number).startswith(prefix))
        ).one()


async def test_roles(api: httpx.AsyncClient, make_user: MakeUser) -> None:
    assert (await api.get("/api/repair/vendors")).status_code == 401
    body = {"name": f"Roles {tag()}", "fields": ["pc"]}
    for role in (Role.vendor, Role.email_admin, Role.operator):
        _, auth = make_user(role)
        assert (await api.get("/api/repair/assets", headers=auth)).status_code == 403, role
        assert (await api.get("/api/repair/vendors", headers=auth)).status_code == 403, role
    for role in (Role.technician, Role.it_supervisor):
        _, auth = make_user(role)
        assert (await api.get("/api/repair/vendors", headers=auth)).status_code == 200, role
        assert (await api.get("/api/repair/assets", headers=auth)).status_code == 200, role
        refused = await api.post("/api/repair/vendors", json=body, headers=auth)
        assert refused.status_code == 403, role
        assert refused.json()["code"] == "forbidden"
        upload = await api.post(
            "/api/repair/assets/import", files=csv_file("property_number,kind"), headers=auth
        )
        assert upload.status_code == 403, role
        assert (await api.patch("/api/repair/vendors/1", json={}, headers=auth)).status_code == 403
    for role in (Role.support_lead, Role.admin):
        _, auth = make_user(role)
        made = await api.post(
            "/api/repair/vendors", json={**body, "name": f"{role} {tag()}"}, headers=auth
        )
        assert made.status_code == 201, made.text


async def test_vendor_checks_and_changes(api: httpx.AsyncClient, make_user: MakeUser) -> None:
    _, auth = make_user(Role.support_lead)
    name = f"شرکت پارس {tag()}"
    made = await api.post(
        "/api/repair/vendors",
        json={
            "name": f"  {name.replace('ی', 'ي')} ",
            "fields": ["printer", "pc", "printer"],
            "contact_name": "آقای رضایی",
            "mobile": "۰۹۱۲ ۳۴۵ ۶۷۸۹",
            "email": "repair@pars.example.com",
        },
        headers=auth,
    )
    assert made.status_code == 201, made.text
    vendor = made.json()
    assert vendor["name"] == name
    assert vendor["fields"] == ["pc", "printer"]
    assert vendor["mobile"] == "09123456789"
    assert vendor["is_active"] is True

    async def refused(body: dict[str, Any], **headers: str) -> list[tuple[str, str, str]]:
        answer = await api.post("/api/repair/vendors", json=body, headers={**auth, **headers})
        assert answer.status_code in (409, 422), answer.text
        return [(e["field"], e["code"], e["reason"]) for e in answer.json()["errors"]]

    ok = {"name": f"Other {tag()}", "fields": ["pc"]}
    assert await refused({**ok, "fields": []}) == [
        ("fields", "required", "پر کردن این فیلد الزامی است.")
    ]
    problems = await refused({**ok, "fields": ["toaster"]}, **EN)
    assert [(f, c) for f, c, _ in problems] == [("fields.0", "invalid_value")]
    assert problems[0][2] == "This value is not valid."
    assert [f for f, *_ in await refused({**ok, "mobile": "12345"})] == ["mobile"]
    assert [c for _, c, _ in await refused({**ok, "email": "not-an-address"})] == ["email_invalid"]
    assert [f for f, *_ in await refused({"fields": ["pc"]})] == ["name"]
    taken = await refused({**ok, "name": name.replace(" ", "  ")}, **EN)
    assert taken == [("name", "name_taken", "This name is already taken.")]

    url = f"/api/repair/vendors/{vendor['id']}"
    nulled = await api.patch(url, json={"name": None}, headers=auth)
    assert nulled.status_code == 422
    assert nulled.json()["errors"][0]["field"] == "name"
    assert (await api.patch(url, json={"fields": []}, headers=auth)).status_code == 422
    assert (await api.patch("/api/repair/vendors/999999", json={}, headers=auth)).status_code == 404
    changed = await api.patch(
        url, json={"is_active": False, "mobile": None, "fields": ["scanner"]}, headers=auth
    )
    assert changed.status_code == 200, changed.text
    assert changed.json() | {"id": 0} == vendor | {
        "id": 0,
        "is_active": False,
        "mobile": None,
        "fields": ["scanner"],
    }
    active = (await api.get("/api/repair/vendors?active=true", headers=auth)).json()
    assert vendor["id"] not in [v["id"] for v in active]
    everyone = (await api.get("/api/repair/vendors", headers=auth)).json()
    assert vendor["id"] in [v["id"] for v in everyone]


async def test_asset_search_and_paging(
    api: httpx.AsyncClient, make_user: MakeUser, engine: Engine
) -> None:
    _, lead = make_user(Role.support_lead)
    _, reader = make_user(Role.technician)
    p = tag()
    upload = await api.post(
        "/api/repair/assets/import",
        files=csv_file(
            "شماره اموال,سریال,نوع,واحد,تحویل‌گیرنده",
            f"{p}-1,SER{p}A,چاپگر,کتابخانه مرکزی {p},مریم حسینی",
            f"{p}-2,SER{p}B,pc,کتابخانه مرکزی {p},علی رضایی",
            f"{p}-3,SER{p}C,laptop,معاونت آموزشی {p},علی رضایی",
        ),
        headers=lead,
    )
    assert upload.status_code == 200, upload.text
    assert upload.json() == {
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "errors": [],
        "dry_run": False,
    }

    async def found(**params: Any) -> list[str]:
        answer = await api.get("/api/repair/assets", params=params, headers=reader)
        assert answer.status_code == 200, answer.text
        return [a["property_number"] for a in answer.json()["items"]]

    assert await found(q=f"{p}-2") == [f"{p}-2"]
    assert await found(q=f"ser{p.lower()}c") == [f"{p}-3"]
    assert await found(q=f"کتابخانه مرکزی {p}") == [f"{p}-1", f"{p}-2"]
    assert await found(q=p, kind="printer") == [f"{p}-1"]
    assert set(await found(q="علی رضایی")) >= {f"{p}-2", f"{p}-3"}
    assert f"{p}-1" in await found(q="چاپگر", per_page=100)
    assert await found(q=f"{p}%") == []
    page = (
        await api.get(
            "/api/repair/assets", params={"q": p, "per_page": 2, "page": 2}, headers=reader
        )
    ).json()
    assert page["total"] == 3 and [a["property_number"] for a in page["items"]] == [f"{p}-3"]
    bad = await api.get("/api/repair/assets", params={"per_page": 1000}, headers=reader)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "per_page"


def repair_case(engine: Engine, asset_id: int, vendor_id: int | None, **job: Any) -> str:
    code = str(random.randrange(10**9, 10**10))
    created = job.pop("created_at")
    with Session(engine) as session:
        case = Case(
            tracking_code=code,
            process="equipment_repair",
            workflow_id=f"repair-{code}",
            status=job.pop("status", CaseStatus.closed),
            created_at=created,
            closed_at=created + timedelta(days=3),
        )
        session.add(case)
        session.flush()
        assert case.id is not None
        session.add(
            RepairJob(case_id=case.id, asset_id=asset_id, kind="pc", vendor_id=vendor_id, **job)
        )
        session.commit()
    return code


async def test_an_asset_with_its_warranty_and_repair_history(
    api: httpx.AsyncClient, make_user: MakeUser, engine: Engine
) -> None:
    _, reader = make_user(Role.it_supervisor)
    p = tag()
    with Session(engine) as session:
        vendor = Vendor(name=f"Fix Co {p}", fields=["pc"])
        session.add(vendor)
        session.flush()
        asset = Asset(
            property_number=f"{p}/12",
            kind="pc",
            warranty_end=date.today() + timedelta(days=30),
            warranty_vendor_id=vendor.id,
        )
        session.add(asset)
        session.commit()
        asset_id, vendor_id = asset.id, vendor.id
    assert asset_id is not None and vendor_id is not None
    older = repair_case(
        engine,
        asset_id,
        None,
        created_at=datetime(2025, 1, 5, 8, tzinfo=UTC),
        path=RepairPath.in_house,
        outcome=RepairOutcome.repaired_in_house,
    )
    newer = repair_case(
        engine,
        asset_id,
        vendor_id,
        created_at=datetime(2025, 6, 1, 8, tzinfo=UTC),
        path=RepairPath.vendor,
        outcome=RepairOutcome.repaired_by_vendor,
        cost_time_rials=1_000_000,
        cost_fixed_rials=500_000,
        cost_material_rials=2_500_000,
    )
    answer = await api.get(f"/api/repair/assets/{p}/12", headers=reader)
    assert answer.status_code == 200, answer.text
    detail = answer.json()
    assert detail["under_warranty"] is True
    assert detail["warranty_vendor_name"] == f"Fix Co {p}"
    history = [
        (h["tracking_code"], h["outcome"], h["vendor_name"], h["cost_rials"])
        for h in detail["history"]
    ]
    assert history == [
        (newer, "repaired_by_vendor", f"Fix Co {p}", 4_000_000),
        (older, "repaired_in_house", None, 0),
    ]
    assert (await api.get(f"/api/repair/assets/{p}-none", headers=reader)).status_code == 404


async def test_upload_with_bad_rows_is_422_and_writes_nothing(
    api: httpx.AsyncClient, make_user: MakeUser, engine: Engine
) -> None:
    _, lead = make_user(Role.support_lead)
    p = tag()
    answer = await api.post(
        "/api/repair/assets/import",
        files=csv_file(
            "property_number,kind,purchase_date,warranty_vendor",
            f"{p}-1,pc,1403/01/01,",
            f"{p}-2,toaster,1403/01/01,",
            f"{p}-3,pc,1403/02/31x,Nobody {p}",
        ),
        headers={**lead, **EN},
    )
    assert answer.status_code == 422
    body = answer.json()
    assert body["code"] == "rows_invalid"
    assert body["message"] == "Some rows of the file have errors; nothing was imported."
    assert [(e["field"], e["code"]) for e in body["errors"]] == [
        ("rows.3.kind", "kind_invalid"),
        ("rows.4.purchase_date", "date_invalid"),
    ]
    assert body["errors"][1]["reason"].startswith("Not a valid date")
    assert asset_count(engine, p) == 0

    vendorless = await api.post(
        "/api/repair/assets/import",
        files=csv_file("property_number,kind,warranty_vendor", f"{p}-1,pc,Nobody {p}"),
        headers=lead,
    )
    assert vendorless.status_code == 422
    assert vendorless.json()["errors"][0]["field"] == "rows.2.warranty_vendor"
    assert "شرکتی با این نام" in vendorless.json()["errors"][0]["reason"]

    png = {"file": ("register.csv", b"\x89PNG\r\n\x1a\n", "text/csv")}
    wrong = await api.post("/api/repair/assets/import", files=png, headers=lead)
    assert wrong.status_code == 422
    assert [(e["field"], e["code"]) for e in wrong.json()["errors"]] == [("file", "file_format")]

    checked = await api.post(
        "/api/repair/assets/import?dry_run=true",
        files=csv_file("property_number,kind", f"{p}-1,pc"),
        headers=lead,
    )
    assert checked.status_code == 200 and checked.json()["created"] == 1
    assert asset_count(engine, p) == 0


async def test_upload_past_the_size_limit_is_413(
    api: httpx.AsyncClient, make_user: MakeUser, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, lead = make_user(Role.admin)
    p = tag()
    monkeypatch.setattr(routes, "MAX_BYTES", 64)
    monkeypatch.setattr(register, "MAX_BYTES", 64)
    lines = [f"{p}-{i},pc" for i in range(10)]
    answer = await api.post(
        "/api/repair/assets/import", files=csv_file("property_number,kind", *lines), headers=lead
    )
    assert answer.status_code == 413
    assert answer.json()["errors"][0]["code"] == "file_too_large"
    assert asset_count(engine, p) == 0


async def test_the_pages(
    api: httpx.AsyncClient, make_user: MakeUser, engine: Engine, settings: Settings
) -> None:
    """Managers upload and see the row errors in place; readers only read; others are refused."""
    p = tag()
    admin, _ = make_user(Role.admin)
    await logged_in(api, settings, admin.username)
    page = await api.get("/admin/assets")
    assert page.status_code == 200
    assert 'href="/admin/assets" aria-current="page"' in page.text
    assert 'href="/admin/vendors"' in page.text
    bad = await api.post(
        "/admin/assets/import",
        data={"csrf_token": api.cookies[CSRF_COOKIE]},
        files=csv_file("شماره اموال,نوع", f"{p}-1,pc", f"{p}-2,فضاپیما"),
    )
    assert bad.status_code == 422
    assert 'id="import-errors"' in bad.text
    assert '<td data-label="ردیف">۳</td>' in bad.text
    assert "نوع تجهیز شناخته نیست" in bad.text
    assert asset_count(engine, p) == 0
    no_csrf = await api.post("/admin/assets/import", files=csv_file("property_number,kind"))
    assert no_csrf.status_code == 403
    good = await api.post(
        "/admin/assets/import",
        data={"csrf_token": api.cookies[CSRF_COOKIE]},
        files=csv_file("شماره اموال,نوع,پایان گارانتی", f"{p}-1,pc,1499/01/01"),
    )
    assert good.status_code == 200 and "فهرست وارد شد." in good.text
    asset = await api.get(f"/assets/{p}-1")
    assert asset.status_code == 200
    assert "زیر گارانتی تا" in asset.text and "۱۴۹۹/۰۱/۰۱" in asset.text

    name = f"Vendor page {p}"
    refused = await api.post(
        "/admin/vendors", data={"csrf_token": api.cookies[CSRF_COOKIE], "name": name}
    )
    assert refused.status_code == 422
    assert 'id="e-fields"' in refused.text and f'value="{name}"' in refused.text
    made = await api.post(
        "/admin/vendors",
        data={"csrf_token": api.cookies[CSRF_COOKIE], "name": name, "fields": ["pc", "printer"]},
    )
    assert made.status_code == 303
    with Session(engine) as session:
        vendor = session.exec(select(Vendor).where(Vendor.name == name)).one()
    assert vendor.fields == ["pc", "printer"]
    off = await api.post(
        f"/admin/vendors/{vendor.id}/active",
        data={"csrf_token": api.cookies[CSRF_COOKIE], "active": "false"},
    )
    assert off.status_code == 303
    with Session(engine) as session:
        stored = session.get(Vendor, vendor.id)
        assert stored is not None and stored.is_active is False
    edit = await api.get(f"/admin/vendors?edit={vendor.id}")
    assert f'action="/admin/vendors/{vendor.id}"' in edit.text

    technician, _ = make_user(Role.technician)
    await logged_in(api, settings, technician.username)
    read_only = await api.get("/admin/assets")
    assert read_only.status_code == 200 and "/admin/assets/import" not in read_only.text
    assert (await api.get(f"/assets/{p}-1")).status_code == 200
    refused_upload = await api.post(
        "/admin/assets/import",
        data={"csrf_token": api.cookies[CSRF_COOKIE]},
        files=csv_file("property_number,kind", f"{p}-9,pc"),
    )
    assert refused_upload.status_code == 403
    assert asset_count(engine, p) == 1

    outsider, _ = make_user(Role.email_admin)
    await logged_in(api, settings, outsider.username)
    cartable = await api.get("/cartable")
    assert "/admin/assets" not in cartable.text
    assert (await api.get("/admin/vendors")).status_code == 403
