"""The SEPAS registers through the API: hospitals and HIS vendors kept by the SEPAS expert, the
error bank edited by the expert and read by hospitals and vendors, SRM's export uploaded (422 by
row and column, nothing changed; the same file twice adds nothing), and a hospital's errors read
within each user's reach (another hospital's: 403)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from db.sepas import SrmError, his_vendor_scope, hospital_scope
from db.srm_import import SRM_FIELD_FA
from domain.cases import Role
from settings import Settings
from tests.api.test_pages import CSRF_COOKIE, logged_in

MakeUser = Callable[..., tuple[Any, dict[str, str]]]
EN = {"Accept-Language": "en"}
HEADER = ",".join(SRM_FIELD_FA.values())
EXPLAINED = {"cause_fa": "علت", "cause_en": "cause", "remedy_fa": "راه حل", "remedy_en": "fix"}


def tag() -> str:
    return uuid.uuid4().hex[:8].upper()


def srm_file(*lines: str) -> dict[str, tuple[str, bytes, str]]:
    return {"file": ("srm.csv", ("\n".join([HEADER, *lines]) + "\n").encode(), "text/csv")}


async def vendor_and_hospital(api: httpx.AsyncClient, expert: dict[str, str]) -> tuple[int, str]:
    vendor = await api.post(
        "/api/sepas/his-vendors",
        json={"name": f"شرکت {tag()}", "products": "HIS الف، HIS ب", "mobile": "۰۹۱۲۱۲۳۴۵۶۷"},
        headers=expert,
    )
    assert vendor.status_code == 201, vendor.text
    code = f"H{tag()}"
    hospital = await api.post(
        "/api/sepas/hospitals",
        json={"code": code, "name": "بیمارستان نمونه", "his_vendor_id": vendor.json()["id"]},
        headers=expert,
    )
    assert hospital.status_code == 201, hospital.text
    return vendor.json()["id"], code


async def test_hospitals_and_vendors_are_kept_by_the_sepas_expert(
    api: httpx.AsyncClient, make_user: MakeUser
) -> None:
    _, expert = make_user(Role.sepas_expert)
    _, hospital_it = make_user(Role.hospital_it)
    vendor_id, code = await vendor_and_hospital(api, expert)
    vendors = (await api.get("/api/sepas/his-vendors", headers=expert)).json()
    mine = next(v for v in vendors if v["id"] == vendor_id)
    assert (mine["products"], mine["mobile"], mine["hospitals"]) == (
        ["HIS الف", "HIS ب"],
        "09121234567",
        1,
    )
    assert (await api.get("/api/sepas/hospitals", headers=hospital_it)).status_code == 403
    assert (
        await api.post(
            "/api/sepas/hospitals", json={"code": "X1", "name": "xx"}, headers=hospital_it
        )
    ).status_code == 403
    again = await api.post(
        "/api/sepas/hospitals", json={"code": code, "name": "دوباره"}, headers={**expert, **EN}
    )
    assert (again.status_code, again.json()["errors"][0]["field"]) == (409, "code")
    unknown = await api.patch(
        f"/api/sepas/hospitals/{code}", json={"his_vendor_id": 999999}, headers=expert
    )
    assert (unknown.status_code, unknown.json()["errors"][0]["code"]) == (422, "his_vendor_unknown")
    moved = await api.patch(
        f"/api/sepas/hospitals/{code}",
        json={"his_vendor_id": None, "county_code": "۱۰۱"},
        headers=expert,
    )
    assert moved.status_code == 200, moved.text
    assert (moved.json()["his_vendor_id"], moved.json()["county_code"]) == (None, "101")
    renamed = await api.patch(
        f"/api/sepas/his-vendors/{vendor_id}", json={"email": "bad", "phone": None}, headers=expert
    )
    assert (renamed.status_code, renamed.json()["errors"][0]["field"]) == (422, "email")


async def test_the_bank_is_edited_by_the_expert_and_read_by_hospitals_and_vendors(
    api: httpx.AsyncClient, make_user: MakeUser
) -> None:
    _, expert = make_user(Role.sepas_expert)
    _, hospital_it = make_user(Role.hospital_it, scopes=(hospital_scope("H0"),))
    _, his_vendor = make_user(Role.his_vendor, scopes=(his_vendor_scope(1),))
    _, technician = make_user(Role.technician)
    word = tag()
    body = {
        "message": f"Element {{code}} of {word} is not Complete.",
        "is_pattern": True,
        "category": "software",
        **EXPLAINED,
    }
    for outsider in (hospital_it, his_vendor):
        assert (
            await api.post("/api/sepas/error-bank", json=body, headers=outsider)
        ).status_code == 403
    assert (await api.get("/api/sepas/error-bank", headers=technician)).status_code == 403
    created = await api.post("/api/sepas/error-bank", json=body, headers=expert)
    assert created.status_code == 201, created.text
    entry = created.json()
    assert (entry["source"], entry["active"], entry["match_count"]) == ("expert", True, 0)
    same = await api.post(
        "/api/sepas/error-bank",
        json={**body, "message": f"element   {{code}} of {word} is not complete"},
        headers=expert,
    )
    assert (same.status_code, same.json()["errors"][0]["code"]) == (409, "bank_entry_taken")
    bad = await api.post(
        "/api/sepas/error-bank",
        json={**body, "message": "Element {record} failed", "category": "nope"},
        headers={**expert, **EN},
    )
    assert bad.status_code == 422
    problems = {e["field"]: e for e in bad.json()["errors"]}
    assert set(problems) == {"message", "category"}
    assert problems["message"]["code"] == "pattern_placeholder_unknown"
    assert "placeholder" in problems["message"]["reason"]
    for reader in (hospital_it, his_vendor, expert):
        found = await api.get("/api/sepas/error-bank", params={"q": word}, headers=reader)
        assert [e["id"] for e in found.json()] == [entry["id"]]
    seeded = await api.get("/api/sepas/error-bank", params={"q": "SepasNode"}, headers=expert)
    assert [(e["category"], e["source"]) for e in seeded.json()] == [("structural", "seed")]
    jira = await api.patch(
        f"/api/sepas/error-bank/{entry['id']}", json={"source": "jira"}, headers=expert
    )
    assert (jira.status_code, jira.json()["errors"][0]["field"]) == (422, "jira_key")
    off = await api.patch(
        f"/api/sepas/error-bank/{entry['id']}",
        json={"active": False, "source": "jira", "jira_key": "sepas-۴۲"},
        headers=expert,
    )
    assert off.status_code == 200, off.text
    assert (off.json()["active"], off.json()["jira_key"]) == (False, "SEPAS-42")
    active_only = await api.get(
        "/api/sepas/error-bank", params={"q": word, "active": "true"}, headers=expert
    )
    assert active_only.json() == []
    assert (
        await api.patch(f"/api/sepas/error-bank/{entry['id']}", json={}, headers=hospital_it)
    ).status_code == 403


async def test_an_srm_upload_with_bad_rows_changes_nothing(
    api: httpx.AsyncClient, make_user: MakeUser, engine: Engine
) -> None:
    _, expert = make_user(Role.sepas_expert)
    _, hospital_it = make_user(Role.hospital_it)
    code = f"H{tag()}"
    good = f"{code},1404/09/10 10:00,1,NationalCode invalid,2"
    bad = await api.post(
        "/api/sepas/srm/import",
        files=srm_file(good, f"{code},1404/13/40 10:00,2,NationalCode invalid,1"),
        headers={**expert, **EN},
    )
    assert bad.status_code == 422
    assert bad.json()["code"] == "rows_invalid"
    assert [e["field"] for e in bad.json()["errors"]] == ["rows.3.at"]
    assert bad.json()["errors"][0]["reason"].startswith("Not a valid time")
    with Session(engine) as session:
        stored = select(func.count()).select_from(SrmError).where(SrmError.hospital_code == code)
        assert session.exec(stored).one() == 0
    assert (
        await api.post("/api/sepas/srm/import", files=srm_file(good), headers=hospital_it)
    ).status_code == 403
    first = await api.post("/api/sepas/srm/import", files=srm_file(good), headers=expert)
    assert first.status_code == 200, first.text
    assert (first.json()["added"], first.json()["unknown_hospitals"]) == (1, [code])
    again = await api.post("/api/sepas/srm/import", files=srm_file(good), headers=expert)
    assert (again.json()["added"], again.json()["already_imported"]) == (0, True)
    period = await api.post(
        "/api/sepas/srm/import",
        files=srm_file(good),
        data={"period_from": "یکشنبه"},
        headers=expert,
    )
    assert (period.status_code, period.json()["errors"][0]["field"]) == (422, "period_from")
    not_srm = await api.post(
        "/api/sepas/srm/import",
        files={"file": ("x.csv", b"name,phone\na,b\n", "text/csv")},
        headers=expert,
    )
    assert (not_srm.status_code, not_srm.json()["errors"][0]["code"]) == (422, "columns_missing")


async def test_a_hospitals_errors_are_read_within_each_users_reach(
    api: httpx.AsyncClient, make_user: MakeUser
) -> None:
    _, expert = make_user(Role.sepas_expert)
    vendor_id, code = await vendor_and_hospital(api, expert)
    _, other_code = await vendor_and_hospital(api, expert)
    _, own_it = make_user(Role.hospital_it, scopes=(hospital_scope(code),))
    _, vendor = make_user(Role.his_vendor, scopes=(his_vendor_scope(vendor_id),))
    window = {"since": "2033-03-01T00:00:00+03:30", "until": "2033-03-02T00:00:00+03:30"}
    path = f"/api/sepas/hospitals/{code}/srm-errors"
    waiting = await api.get(path, params=window, headers=own_it)
    assert waiting.status_code == 200, waiting.text
    assert (waiting.json()["state"], waiting.json()["groups"]) == ("no_data", [])
    lines = [
        f"{code},2033-03-01 09:00,7,NationalCode is block.,1",
        f"{code},2033-03-01 10:00,8,NationalCode is block,2",
        f"{code},2033-03-01 11:00,9,Unheard of error,1",
        f"{other_code},2033-03-01 11:00,9,NationalCode invalid,1",
    ]
    uploaded = await api.post(
        "/api/sepas/srm/import",
        files=srm_file(*lines),
        data={"period_from": "2033-03-01 00:00", "period_until": "2033-03-02 00:00"},
        headers=expert,
    )
    assert uploaded.status_code == 200, uploaded.text
    for reader in (own_it, vendor, expert):
        reading = await api.get(path, params=window, headers=reader)
        assert reading.status_code == 200, reading.text
        body = reading.json()
        assert (body["state"], body["covered"], body["hospital_name"]) == (
            "errors",
            True,
            "بیمارستان نمونه",
        )
        groups = [(g["message"], g["count"], g["records"]) for g in body["groups"]]
        assert groups == [("NationalCode is block.", 3, 2), ("Unheard of error", 1, 1)]
        match = body["groups"][0]["match"]
        assert (match["kind"], match["category"]) == ("exact", "hospital")
        assert match["remedy_fa"] and match["cause_en"]
        assert body["groups"][1]["match"] is None
    other = f"/api/sepas/hospitals/{other_code}/srm-errors"
    assert (await api.get(other, params=window, headers=own_it)).status_code == 403
    assert (await api.get(other, params=window, headers=vendor)).status_code == 403
    assert (await api.get(other, params=window, headers=expert)).status_code == 200
    assert (
        await api.get("/api/sepas/hospitals/NOPE/srm-errors", headers=own_it)
    ).status_code == 403
    backwards = {"since": window["until"], "until": window["since"]}
    wrong = await api.get(path, params=backwards, headers=expert)
    assert (wrong.status_code, wrong.json()["errors"][0]["code"]) == (422, "srm_window_invalid")


async def test_the_routes_are_in_the_openapi_document(api: httpx.AsyncClient) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]
    assert {
        "/api/sepas/hospitals",
        "/api/sepas/hospitals/{code}",
        "/api/sepas/his-vendors",
        "/api/sepas/his-vendors/{vendor_id}",
        "/api/sepas/error-bank",
        "/api/sepas/error-bank/{entry_id}",
        "/api/sepas/srm/import",
        "/api/sepas/hospitals/{code}/srm-errors",
    } <= set(paths)
    reading = paths["/api/sepas/hospitals/{code}/srm-errors"]["get"]
    assert reading["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SrmReadingView"
    }


async def test_the_pages_edit_the_bank_and_upload_srm_with_errors_in_place(
    api: httpx.AsyncClient, make_user: MakeUser, settings: Settings
) -> None:
    expert, _ = make_user(Role.sepas_expert)
    await logged_in(api, settings, expert.username)
    csrf = {"csrf_token": api.cookies[CSRF_COOKIE]}
    page = await api.get("/admin/sepas/error-bank", params={"q": "NationalCode"})
    assert page.status_code == 200 and 'dir="rtl"' in page.text
    assert "NationalCode is block." in page.text and "خطای بیمارستانی" in page.text
    word = tag()
    form = {
        **csrf,
        "message": f"Field {{name}} of {word}",
        "is_pattern": "true",
        "category": "",
        **EXPLAINED,
        "source": "expert",
    }
    bad = await api.post("/admin/sepas/error-bank", data=form)
    assert bad.status_code == 422
    assert 'id="e-message"' in bad.text and "جای‌نگهدار شناخته نیست" in bad.text
    assert 'id="e-category"' in bad.text
    assert f"Field {{name}} of {word}" in bad.text  # what was typed stays in the form
    good = await api.post(
        "/admin/sepas/error-bank",
        data={**form, "message": f"Field {{code}} of {word}", "category": "software"},
    )
    assert (good.status_code, good.headers["location"]) == (303, "/admin/sepas/error-bank?saved=1")
    listed = await api.get("/admin/sepas/error-bank", params={"q": word})
    assert "خطای نرم‌افزاری" in listed.text and "کارشناس سپاس" in listed.text
    hospitals = await api.get("/admin/sepas/hospitals")
    assert hospitals.status_code == 200
    code = f"H{tag()}"
    upload = await api.post(
        "/admin/sepas/srm/import",
        data=csrf,
        files=srm_file(f"{code},دیروز,1,NationalCode invalid,1"),
    )
    assert upload.status_code == 422
    assert 'id="import-errors"' in upload.text and "زمان معتبر نیست" in upload.text
    assert '<td data-label="ستون">زمان</td>' in upload.text
    done = await api.post(
        "/admin/sepas/srm/import",
        data=csrf,
        files=srm_file(f"{code},1404/09/10 10:00,1,NationalCode invalid,1"),
    )
    assert done.status_code == 200 and "گزارش SRM وارد شد" in done.text


async def test_hospitals_read_the_bank_page_without_its_form(
    api: httpx.AsyncClient, make_user: MakeUser, settings: Settings
) -> None:
    reader, _ = make_user(Role.hospital_it, scopes=(hospital_scope("H0"),))
    await logged_in(api, settings, reader.username)
    page = await api.get("/admin/sepas/error-bank", params={"edit": 1})
    assert page.status_code == 200
    assert 'id="entry-form"' not in page.text and "Destination SepasNode is Down" in page.text
    assert (await api.get("/admin/sepas/srm")).status_code == 403
    refused = await api.post(
        "/admin/sepas/error-bank", data={"csrf_token": api.cookies[CSRF_COOKIE]}
    )
    assert refused.status_code == 403
