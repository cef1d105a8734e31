"""The admin audit log, from outside over HTTP: each audited change writes its row (who, what,
on what, from where), no secret is in it, the admin page lists it, and nothing deletes it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi.routing import APIRoute

from api.app import create_app
from api.web.pages import CSRF_COOKIE
from domain.cases import Role
from tests.security.conftest import ADMIN, SecurityStack
from tests.security.test_logins import client, new_user

ADDRESS = "127.0.0.41"
CSRF = "audit-csrf-token"


def entries(http: httpx.Client, stack: SecurityStack, action: str) -> list[dict[str, Any]]:
    answer = http.get(
        "/api/admin/audit",
        params={"action": action, "per_page": 200},
        headers=stack.bearer(ADMIN),
    )
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def entry(http: httpx.Client, stack: SecurityStack, action: str, target: str) -> dict[str, Any]:
    found = [e for e in entries(http, stack, action) if target in e["target"]]
    assert len(found) == 1, (action, target, found)
    assert found[0]["actor"] == ADMIN and found[0]["address"] == ADDRESS
    return found[0]


def test_every_audited_change_writes_its_row(sec_stack: SecurityStack) -> None:
    admin = sec_stack.bearer(ADMIN)
    name = f"audit{uuid.uuid4().hex[:8]}"
    secret = f"Secret-{uuid.uuid4().hex[:8]}"
    with client(sec_stack, ADDRESS) as http:
        # Users and roles.
        created = http.post(
            "/api/admin/users",
            json={"username": name, "password": secret, "roles": ["technician"]},
            headers=admin,
        )
        assert created.status_code == 201
        assert entry(http, sec_stack, "user.create", name)["detail"]["roles"] == ["technician"]
        http.patch(f"/api/admin/users/{name}", json={"full_name": "نام تازه"}, headers=admin)
        assert entry(http, sec_stack, "user.change", name)["detail"] == {
            "full_name": ["", "نام تازه"]
        }
        http.patch(f"/api/admin/users/{name}", json={"roles": ["support_lead"]}, headers=admin)
        assert entry(http, sec_stack, "user.roles", name)["detail"] == {
            "roles": [["technician"], ["support_lead"]]
        }
        http.patch(f"/api/admin/users/{name}", json={"is_active": False}, headers=admin)
        entry(http, sec_stack, "user.disable", name)
        http.patch(f"/api/admin/users/{name}", json={"is_active": True}, headers=admin)
        entry(http, sec_stack, "user.enable", name)
        new_secret = f"Secret-{uuid.uuid4().hex[:8]}"
        reset = http.post(
            f"/api/admin/users/{name}/password", json={"password": new_secret}, headers=admin
        )
        assert reset.status_code == 204
        assert entry(http, sec_stack, "user.password_reset", name)["detail"] == {}
        # An unchanged value writes nothing.
        http.patch(f"/api/admin/users/{name}", json={"full_name": "نام تازه"}, headers=admin)
        entry(http, sec_stack, "user.change", name)

        # Holidays.
        day = f"2032-0{uuid.uuid4().int % 9 + 1}-1{uuid.uuid4().int % 9}"
        http.put(f"/api/admin/holidays/{day}", json={"title": "روز آزمون"}, headers=admin)
        entry(http, sec_stack, "holiday.add", day)
        http.put(f"/api/admin/holidays/{day}", json={"title": "روز دیگر"}, headers=admin)
        entry(http, sec_stack, "holiday.rename", day)
        assert http.delete(f"/api/admin/holidays/{day}", headers=admin).status_code == 204
        assert entry(http, sec_stack, "holiday.delete", day)["detail"] == {"title": "روز دیگر"}

        # The person registry and the equipment register.
        people = f"people-{uuid.uuid4().hex[:6]}.csv"
        header = "national_code,member_id,first_name,last_name,affiliation,unit\n"
        imported = http.post(
            "/api/admin/people/import",
            files={"file": (people, header.encode(), "text/csv")},
            headers=admin,
        )
        assert imported.status_code == 200, imported.text
        entry(http, sec_stack, "people.import", people)
        assets = f"assets-{uuid.uuid4().hex[:6]}.csv"
        number = f"A-{uuid.uuid4().hex[:6]}"
        register = f"property_number,kind\n{number},pc\n".encode()
        dry = http.post(
            "/api/repair/assets/import",
            params={"dry_run": "true"},
            files={"file": (assets, register, "text/csv")},
            headers=admin,
        )
        assert dry.status_code == 200  # a dry run writes nothing, and no audit row
        assert not [e for e in entries(http, sec_stack, "assets.import") if assets in e["target"]]
        done = http.post(
            "/api/repair/assets/import",
            files={"file": (assets, register, "text/csv")},
            headers=admin,
        )
        assert done.status_code == 200, done.text
        assert entry(http, sec_stack, "assets.import", assets)["detail"]["created"] == 1

        # Vendors.
        vendor_name = f"شرکت ممیزی {uuid.uuid4().hex[:6]}"
        vendor = http.post(
            "/api/repair/vendors", json={"name": vendor_name, "fields": ["pc"]}, headers=admin
        )
        assert vendor.status_code == 201
        vendor_id = vendor.json()["id"]
        entry(http, sec_stack, "vendor.create", vendor_name)
        http.patch(f"/api/repair/vendors/{vendor_id}", json={"contact_name": "رابط"}, headers=admin)
        assert entry(http, sec_stack, "vendor.change", vendor_name)["detail"] == {
            "contact_name": ["", "رابط"]
        }
        http.patch(f"/api/repair/vendors/{vendor_id}", json={"is_active": False}, headers=admin)
        entry(http, sec_stack, "vendor.deactivate", vendor_name)
        http.patch(f"/api/repair/vendors/{vendor_id}", json={"is_active": True}, headers=admin)
        entry(http, sec_stack, "vendor.activate", vendor_name)

        # A reassignment and a cancel (workflow Updates: the row follows the accepted Update).
        code = sec_stack.submit(http)
        task = sec_stack.wait_task(code, "review_form")
        moved = http.post(
            f"/api/tasks/{task.id}/reassign",
            json={"assignee": Role.email_admin.value, "reason": "ممیزی"},
            headers=admin,
        )
        assert moved.status_code == 200, moved.text
        detail = entry(http, sec_stack, "task.reassign", task.id)["detail"]
        assert detail["assignee"] == [None, Role.email_admin.value] and detail["case"] == code
        cancelled = http.post(
            f"/api/cases/{code}/cancel", json={"reason": "ممیزی لغو"}, headers=admin
        )
        assert cancelled.status_code == 200, cancelled.text
        assert entry(http, sec_stack, "case.cancel", code)["detail"] == {"reason": "ممیزی لغو"}

        # Passwords are nowhere in it.
        everything = http.get("/api/admin/audit", params={"per_page": 200}, headers=admin).text
        assert secret not in everything and new_secret not in everything


def test_the_web_pages_write_it_too_and_show_it(sec_stack: SecurityStack) -> None:
    target = new_user(sec_stack)
    with client(sec_stack, ADDRESS) as http:
        http.cookies.set(CSRF_COOKIE, CSRF)
        http.cookies.set("peygir_session", sec_stack.bearer(ADMIN)["Authorization"][7:])
        off = http.post(
            f"/admin/users/{target}/active", data={"csrf_token": CSRF, "active": "false"}
        )
        assert off.status_code == 303
        entry(http, sec_stack, "user.disable", target)
        page = http.get("/admin/audit", params={"action": "user.disable"})
        assert page.status_code == 200
        assert "گزارش تغییرات مدیریتی" in page.text
        assert target in page.text and "غیرفعال کردن کاربر" in page.text
        assert "ایجاد کاربر" not in page.text.split("<table", 1)[1]
        assert http.get("/admin/audit", params={"action": "nonsense", "page": 0}).status_code == 200
        # Admins only.
        http.cookies.set(
            "peygir_session", sec_stack.bearer(Role.technician.value)["Authorization"][7:]
        )
        assert http.get("/admin/audit").status_code == 403
        assert (
            http.get("/api/admin/audit", headers=sec_stack.bearer(Role.support_lead.value))
        ).status_code == 403


def test_nothing_changes_or_deletes_an_entry(sec_stack: SecurityStack) -> None:
    app = create_app(sec_stack.settings, engine=sec_stack.engine, temporal=object())  # type: ignore[arg-type]
    for route in app.routes:
        if isinstance(route, APIRoute) and ("audit" in route.path or "logins" in route.path):
            assert route.methods <= {"GET", "HEAD"}, (route.path, route.methods)
    admin = sec_stack.bearer(ADMIN)
    with sec_stack.http() as http:
        before = http.get("/api/admin/audit", headers=admin).json()["total"]
        assert before > 0
        for method in ("DELETE", "PUT", "PATCH", "POST"):
            for path in ("/api/admin/audit", "/api/admin/audit/1", "/admin/audit"):
                answer = http.request(method, path, headers=admin)
                assert answer.status_code in (404, 405), (method, path, answer.status_code)
        assert http.get("/api/admin/audit", headers=admin).json()["total"] >= before
        bad = http.get("/api/admin/audit", params={"action": "nonsense"}, headers=admin)
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "action"
