"""One site entered by its fields (the API, and the form on a county's task page), checked as
a row of the upload is: kind, GPS inside Iran, a code against the register, required fields;
errors by field in Persian or English, and a bad site changes nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, func, select

from db.models import AuditEntry, Task
from db.shams import Site, SiteEvent, county_scope
from domain.cases import Role
from domain.messages import Lang, message
from domain.shams import kind_choices
from domain.shams_process import CountySites
from domain.tasks import task_id_of
from processes.shams import SHAMS
from settings import Settings
from tests.api.test_pages import CSRF_COOKIE, logged_in
from tests.api.test_shams_case import rollout
from tests.api.test_shams_register import EN, MakeUser, add_county, tag
from workflows.shams_county import COLLECT_SITES


def one_site(county: str, code: str, **changes: Any) -> dict[str, Any]:
    return {
        "county_code": county,
        "site_code": code,
        "name": f"خانه بهداشت {code}",
        "kind": "خانه بهداشت",
        "address": "روستای نمونه، خیابان اصلی",
        "latitude": "۳۳٫۹۸",
        "longitude": 51.43,
        "link_type": "fibre",
        **changes,
    }


def registered(engine: Engine, code: str) -> Site | None:
    with Session(engine) as session:
        return session.exec(select(Site).where(Site.site_code == code)).first()


def site_count(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(Site)).one()


async def test_a_county_enters_one_site(
    api: httpx.AsyncClient, engine: Engine, make_user: MakeUser
) -> None:
    county = add_county(engine)
    user, headers = make_user(Role.county_network, scopes=(county_scope(county),))
    code = f"HH-{tag()}"
    answer = await api.post("/api/shams/sites", json=one_site(county, code), headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["site_code"], body["county_code"], body["latitude"]) == (code, county, 33.98)
    assert [e["note"] for e in body["events"]] == ["ثبت با فرم"]
    with Session(engine) as session:
        entry = session.exec(
            select(AuditEntry).where(AuditEntry.action == "site.enter", AuditEntry.target == code)
        ).one()
    assert entry.actor == user.username and entry.detail["created"] == 1
    assert "/api/shams/sites" in (await api.get("/openapi.json")).json()["paths"]


async def test_a_bad_site_is_refused_by_field_and_changes_nothing(
    api: httpx.AsyncClient, engine: Engine, make_user: MakeUser
) -> None:
    county, other = add_county(engine), add_county(engine)
    _, headers = make_user(Role.county_network, scopes=(county_scope(county),))
    _, office = make_user(Role.it_office)
    taken = f"HH-{tag()}"
    first = await api.post("/api/shams/sites", json=one_site(other, taken), headers=office)
    assert first.status_code == 200, first.text
    before = site_count(engine)

    async def refused(site: dict[str, Any], lang: dict[str, str]) -> dict[str, str]:
        answer = await api.post("/api/shams/sites", json=site, headers={**headers, **lang})
        assert answer.status_code == 422, answer.text
        return {p["field"]: p["reason"] for p in answer.json()["errors"]}

    code = f"HH-{tag()}"
    bad = one_site(county, code, kind="کلینیک", latitude="48.9", name="")
    assert await refused(bad, EN) == {
        "name": "This field is required.",
        "kind": refused_kind(EN),
        "latitude": "The latitude is outside Iran; it must be between 25 and 40 degrees north.",
    }
    persian = await refused(bad, {})
    assert persian["name"] == "پر کردن این فیلد الزامی است."
    swapped = await refused(one_site(county, code, latitude=51.4, longitude=35.7), EN)
    assert set(swapped) == {"latitude", "longitude"}
    assert "swapped" in swapped["latitude"]
    assert await refused(one_site(county, taken), EN) == {
        "site_code": f"This site code is already registered for county شبکه بهداشت {other}"
        f" ({other})."
    }
    assert set(await refused(one_site(other, code), EN)) == {"county_code"}
    assert set(await refused({**one_site(county, code), "site_code": ""}, EN)) == {"site_code"}
    assert site_count(engine) == before and registered(engine, code) is None


def refused_kind(lang: dict[str, str]) -> str:
    return message("site_kind_invalid", Lang.en if lang else Lang.fa, choices=kind_choices())


def collect_task(engine: Engine, county: str) -> str:
    """The county's open collect_sites task in a rollout, as its workflow writes it."""
    case = rollout(engine)
    task_id = task_id_of(f"{case.workflow_id}-{county}", COLLECT_SITES.key, 1)
    assert case.id is not None
    with Session(engine) as session:
        session.add(
            Task(
                id=task_id,
                case_id=case.id,
                process=SHAMS.kind,
                step=COLLECT_SITES.key,
                title_fa=COLLECT_SITES.title_fa,
                title_en=COLLECT_SITES.title_en,
                role=Role.county_network,
                scope=county_scope(county),
                due_at=datetime.now(UTC) + timedelta(days=10),
                form_schema=CountySites.model_json_schema(),
                context={"rollout": case.tracking_code, "county": "شبکه", "county_code": county},
            )
        )
        session.commit()
    return task_id


def form(api: httpx.AsyncClient, site: dict[str, Any], entered: str = "") -> dict[str, Any]:
    fields = {k: v for k, v in site.items() if k != "county_code"}
    return {**fields, "entered": entered, "csrf_token": api.cookies[CSRF_COOKIE]}


def site_codes_field(html: str) -> str:
    found = re.search(r'<textarea id="f-site_codes"[^>]*>([^<]*)</textarea>', html)
    assert found, "the answer's codes field is gone"
    return found.group(1)


async def test_the_county_task_page_offers_the_template_and_one_site(
    api: httpx.AsyncClient, engine: Engine, settings: Settings, make_user: MakeUser
) -> None:
    county = add_county(engine)
    user, _ = make_user(Role.county_network, scopes=(county_scope(county),))
    task_id = collect_task(engine, county)
    await logged_in(api, settings, user.username)
    page = await api.get(f"/tasks/{task_id}")
    assert page.status_code == 200
    assert 'href="/admin/shams/sites/template"' in page.text
    action = f'action="/shams/tasks/{task_id.replace(":", "%3A")}/site"'
    assert action in page.text
    template = await api.get("/admin/shams/sites/template")
    assert template.status_code == 200 and template.content.startswith(b"PK")

    code = f"HH-{tag()}"
    bad = await api.post(
        f"/shams/tasks/{task_id}/site", data=form(api, one_site(county, code, longitude="70"))
    )
    assert bad.status_code == 422
    assert 'id="e-longitude"' in bad.text and "طول جغرافیایی" in bad.text
    assert f'value="{code}"' in bad.text  # kept as typed
    assert registered(engine, code) is None

    good = await api.post(f"/shams/tasks/{task_id}/site", data=form(api, one_site(county, code)))
    assert good.status_code == 200, good.text
    assert site_codes_field(good.text) == code
    site = registered(engine, code)
    assert site is not None and site.county_code == county and site.latitude == 33.98
    second = f"HH-{tag()}"
    more = await api.post(
        f"/shams/tasks/{task_id}/site", data=form(api, one_site(county, second), entered=code)
    )
    assert site_codes_field(more.text) == f"{code}\n{second}"
    with Session(engine) as session:
        assert session.exec(select(SiteEvent.note).where(SiteEvent.site_id == site.id)).all() == [
            "ثبت با فرم"
        ]

    # Another county's task is not this user's: 403, nothing written.
    foreign = collect_task(engine, add_county(engine))
    third = f"HH-{tag()}"
    refused = await api.post(
        f"/shams/tasks/{foreign}/site", data=form(api, one_site(county, third))
    )
    assert refused.status_code == 403
    assert registered(engine, third) is None
