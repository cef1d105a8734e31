"""Process 3's registers through the API: the automation admin keeps the units (errors by field,
a parent that must exist, the list imported all or nothing) and the posts; a unit's secretariat
reads its own unit, its posts and their hand-over states only."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, select

from db.models import User
from db.office_automation import Post, Unit, unit_scope
from db.seed import national_code
from domain.cases import Role
from settings import Settings
from tests.api.test_pages import CSRF_COOKIE, logged_in

HEAD = national_code("127360958")
MakeUser = Callable[..., tuple[User, dict[str, str]]]


def tag() -> str:
    return uuid.uuid4().hex[:6].upper()


def unit(code: str, **changes: Any) -> dict[str, Any]:
    return {
        "code": code,
        "name": f"واحد {code}",
        "head_name": "دکتر رضایی",
        "head_national_code": HEAD,
        "head_mobile": "۰۹۱۲۱۲۳۴۵۶۷",
    } | changes


async def test_the_automation_admin_keeps_units_and_posts(
    api: httpx.AsyncClient, make_user: MakeUser
) -> None:
    _, admin = make_user(Role.automation_admin)
    top, child = f"T{tag()}", f"C{tag()}"
    assert (
        await api.post("/api/automation/units", json=unit(top), headers=admin)
    ).status_code == 201
    created = await api.post(
        "/api/automation/units", json=unit(child, parent_code=top), headers=admin
    )
    assert created.status_code == 201, created.text
    assert created.json()["head_mobile"] == "09121234567"
    again = await api.post("/api/automation/units", json=unit(top), headers=admin)
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "code"
    bad = await api.post(
        "/api/automation/units",
        json=unit(f"X{tag()}", head_national_code="0024173860", parent_code="NOWHERE"),
        headers=admin | {"Accept-Language": "en"},
    )
    assert bad.status_code == 422
    assert {e["field"]: e["code"] for e in bad.json()["errors"]} == {
        "head_national_code": "national_code_invalid"
    }
    orphan = await api.post(
        "/api/automation/units", json=unit(f"X{tag()}", parent_code="NOWHERE"), headers=admin
    )
    assert [(e["field"], e["code"]) for e in orphan.json()["errors"]] == [
        ("parent_code", "unit_parent_unknown")
    ]
    cycle = await api.patch(
        f"/api/automation/units/{top}", json={"parent_code": child}, headers=admin
    )
    assert cycle.status_code == 422 and cycle.json()["errors"][0]["code"] == "unit_parent_cycle"
    renamed = await api.patch(
        f"/api/automation/units/{top}", json={"name": "معاونت"}, headers=admin
    )
    assert renamed.json()["name"] == "معاونت"

    post = await api.post(
        "/api/automation/posts",
        json={
            "unit_code": child,
            "title": "مدیر امور مالی",
            "is_manager": True,
            "automation_code": f"P{tag()}",
        },
        headers=admin,
    )
    assert post.status_code == 201, post.text
    assert post.json()["state"] == "vacant" and post.json()["handover_state"] is None
    taken = await api.post(
        "/api/automation/posts",
        json={
            "unit_code": child,
            "title": "کارشناس",
            "automation_code": post.json()["automation_code"],
        },
        headers=admin,
    )
    assert taken.status_code == 409 and taken.json()["errors"][0]["field"] == "automation_code"
    nowhere = await api.post(
        "/api/automation/posts", json={"unit_code": "NOWHERE", "title": "کارشناس"}, headers=admin
    )
    assert nowhere.status_code == 422 and nowhere.json()["errors"][0]["field"] == "unit_code"
    page = (await api.get(f"/api/automation/units/{child}", headers=admin)).json()
    assert page["posts"] == 1 and page["posts_held"][0]["title"] == "مدیر امور مالی"


async def test_the_units_list_is_imported_all_or_nothing(
    api: httpx.AsyncClient, make_user: MakeUser
) -> None:
    _, admin = make_user(Role.automation_admin)
    code = f"I{tag()}"
    header = "کد واحد,نام واحد,نام بالاترین مقام,کد ملی بالاترین مقام,تلفن همراه بالاترین مقام\n"
    good = (header + f"{code},واحد یک,دکتر رضایی,{HEAD},09121234567\n").encode()
    bad = (header + f"{code}x,واحد دو,دکتر رضایی,123,09121234567\n").encode()
    refused = await api.post(
        "/api/automation/units/import", files={"file": ("u.csv", bad, "text/csv")}, headers=admin
    )
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["rows.2.head_national_code"]
    done = await api.post(
        "/api/automation/units/import", files={"file": ("u.csv", good, "text/csv")}, headers=admin
    )
    assert done.status_code == 200 and done.json()["created"] == 1
    not_a_list = await api.post(
        "/api/automation/units/import",
        files={"file": ("u.csv", b"a,b\n1,2\n", "text/csv")},
        headers=admin,
    )
    assert not_a_list.status_code == 422 and not_a_list.json()["errors"][0]["field"] == "file"


async def test_a_unit_secretary_reads_its_own_unit_only(
    api: httpx.AsyncClient, make_user: MakeUser, engine: Engine
) -> None:
    _, admin = make_user(Role.automation_admin)
    mine, other = f"M{tag()}", f"O{tag()}"
    for code in (mine, other):
        await api.post("/api/automation/units", json=unit(code), headers=admin)
        await api.post(
            "/api/automation/posts", json={"unit_code": code, "title": "کارشناس"}, headers=admin
        )
    _, secretary = make_user(Role.unit_secretary, scopes=(unit_scope(mine),))
    units = (await api.get("/api/automation/units", headers=secretary)).json()
    assert [u["code"] for u in units] == [mine]
    posts = (await api.get("/api/automation/posts", headers=secretary)).json()
    assert {p["unit_code"] for p in posts} == {mine}
    assert (await api.get(f"/api/automation/units/{mine}", headers=secretary)).status_code == 200
    assert (await api.get(f"/api/automation/units/{other}", headers=secretary)).status_code == 403
    assert (await api.get("/api/automation/units/NOWHERE", headers=secretary)).status_code == 403
    assert (await api.get("/api/automation/units/NOWHERE", headers=admin)).status_code == 404
    wrote = await api.post("/api/automation/units", json=unit(f"S{tag()}"), headers=secretary)
    assert wrote.status_code == 403
    with Session(engine) as session:
        assert session.exec(select(Post).where(Post.unit_code == other)).first() is not None


async def test_the_units_page_edits_a_unit_with_errors_in_place(
    api: httpx.AsyncClient, make_user: MakeUser, settings: Settings, engine: Engine
) -> None:
    """The page's form is sent whole: a bad field comes back in place, as typed; the code stays."""
    admin, headers = make_user(Role.automation_admin)
    code = f"E{tag()}"
    await api.post("/api/automation/units", json=unit(code, parent_code=None), headers=headers)
    await logged_in(api, settings, admin.username)
    form = await api.get("/admin/automation/units", params={"edit": code})
    assert form.status_code == 200 and f'action="/admin/automation/units/{code}"' in form.text
    assert 'value="دکتر رضایی"' in form.text
    changed = unit(code, name="معاونت فرهنگی", head_mobile="0912", head_email="")
    sent = changed | {"csrf_token": api.cookies[CSRF_COOKIE], "active": "true"}
    refused = await api.post(f"/admin/automation/units/{code}", data=sent)
    assert refused.status_code == 422
    assert 'id="e-head_mobile"' in refused.text and 'value="معاونت فرهنگی"' in refused.text
    saved = await api.post(
        f"/admin/automation/units/{code}", data=sent | {"head_mobile": "09351234567"}
    )
    assert saved.status_code == 303
    with Session(engine) as session:
        kept = session.exec(select(Unit).where(Unit.code == code)).one()
        assert (kept.name, kept.head_mobile, kept.active) == ("معاونت فرهنگی", "09351234567", True)
