"""The SHAMS rollout board through the API and its pages: who sees what (the office every
county, a county its own, another county's drill-down 403, the carrier the sites sent to it),
the exports read back with openpyxl against the JSON, and the routes in the OpenAPI document."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import httpx
from openpyxl import load_workbook
from sqlalchemy import Engine

from db.shams import county_scope
from db.shams_board import tehran_today
from domain.cases import Role
from settings import Settings
from tests.api.test_pages import logged_in
from tests.db.test_shams_board import seed_rollout

MakeUser = Callable[..., tuple[Any, dict[str, str]]]


def sheet(answer: httpx.Response) -> list[list[object]]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    book = load_workbook(io.BytesIO(answer.content), read_only=True)
    return [list(row) for row in book.worksheets[0].iter_rows(values_only=True)]


async def test_the_office_sees_every_county_late_ones_first(
    api: httpx.AsyncClient, make_user: MakeUser, engine: Engine
) -> None:
    seeded = seed_rollout(engine, tehran_today())
    params = {"rollout": seeded.rollout_id}
    assert (await api.get("/api/shams/board", params=params)).status_code == 401
    _, technician = make_user(Role.technician)
    assert (await api.get("/api/shams/board", headers=technician)).status_code == 403
    for role in (Role.it_office, Role.it_director, Role.it_supervisor, Role.admin):
        _, headers = make_user(role)
        answer = await api.get("/api/shams/board", params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert [c["code"] for c in body["counties"]] == [
            seeded.silent_longer,
            seeded.silent,
            seeded.waiting,
            seeded.busy,
            seeded.small,
        ], role
    assert (body["sites"], body["late_counties"], body["connected_percent"]) == (11, 2, 27.3)
    busy = body["counties"][3]
    assert busy["states"]["connected"] == 2 and busy["connected_percent"] == 22.2
    assert body["counties"][0]["late"] is True and body["counties"][2]["late"] is False


async def test_a_county_sees_its_own_county_and_no_other(
    api: httpx.AsyncClient, make_user: MakeUser, engine: Engine
) -> None:
    seeded = seed_rollout(engine, tehran_today())
    _, county = make_user(Role.county_network, scopes=(county_scope(seeded.busy),))
    params = {"rollout": seeded.rollout_id}
    own = await api.get("/api/shams/board", params=params, headers=county)
    assert [c["code"] for c in own.json()["counties"]] == [seeded.busy]
    drill = await api.get(
        f"/api/shams/board/counties/{seeded.busy}",
        params={**params, "state": "sent_to_carrier", "per_page": 2},
        headers=county,
    )
    assert drill.status_code == 200, drill.text
    assert (drill.json()["total"], len(drill.json()["items"])) == (3, 2)
    for path in (
        f"/api/shams/board/counties/{seeded.silent}",
        f"/api/shams/board/counties/{seeded.silent}/export",
    ):
        refused = await api.get(path, headers={**county, "Accept-Language": "en"})
        assert refused.status_code == 403, path
        assert refused.json()["code"] == "forbidden"
    missing = await api.get("/api/shams/board/counties/NO-SUCH", headers=county)
    assert missing.status_code == 404


async def test_the_carrier_counts_only_the_sites_sent_to_it(
    api: httpx.AsyncClient, make_user: MakeUser, engine: Engine
) -> None:
    seeded = seed_rollout(engine, tehran_today())
    _, carrier = make_user(Role.carrier)
    params = {"rollout": seeded.rollout_id}
    body = (await api.get("/api/shams/board", params=params, headers=carrier)).json()
    assert [c["code"] for c in body["counties"]] == [seeded.busy, seeded.small]
    assert body["sites"] == 8 and body["late_counties"] == 0
    assert {s for s, n in body["states"].items() if n} == {
        "sent_to_carrier",
        "connected",
        "not_feasible",
        "closed_not_feasible",
    }
    # It may narrow its share to a county, and sees only its share there.
    drill = await api.get(
        f"/api/shams/board/counties/{seeded.busy}", params=params, headers=carrier
    )
    assert drill.status_code == 200
    assert drill.json()["total"] == 6
    assert {s["state"] for s in drill.json()["items"]} == {
        "sent_to_carrier",
        "connected",
        "closed_not_feasible",
    }


async def test_each_view_exports_what_it_shows(
    api: httpx.AsyncClient, make_user: MakeUser, engine: Engine
) -> None:
    seeded = seed_rollout(engine, tehran_today())
    _, office = make_user(Role.it_office)
    params = {"rollout": seeded.rollout_id}
    body = (await api.get("/api/shams/board", params=params, headers=office)).json()
    rows = sheet(await api.get("/api/shams/board/export", params=params, headers=office))
    assert rows[0][:2] == ["کد شهرستان", "شبکه بهداشت"]
    assert [r[0] for r in rows[1:-1]] == [c["code"] for c in body["counties"]]
    for row, county in zip(rows[1:-1], body["counties"], strict=True):
        assert row[2:12] == list(county["states"].values())
        assert row[12] == county["sites"]
    assert rows[-1][12] == body["sites"] == 11

    path = f"/api/shams/board/counties/{seeded.busy}"
    drill = (await api.get(path, params={**params, "per_page": 2}, headers=office)).json()
    site_rows = sheet(await api.get(f"{path}/export", params=params, headers=office))
    assert len(site_rows) - 1 == drill["total"] == 9, "the export holds every page"
    assert [r[0] for r in site_rows[1:3]] == [s["site_code"] for s in drill["items"]]

    series = (await api.get("/api/shams/board/progress", params={"days": 7}, headers=office)).json()
    assert len(series["days"]) == 7
    assert series["days"][-1]["day"] == tehran_today().isoformat()
    progress_rows = sheet(
        await api.get("/api/shams/board/progress/export", params={"days": 7}, headers=office)
    )
    assert len(progress_rows) == 8
    assert [r[-1] for r in progress_rows[1:]] == [d["connected_total"] for d in series["days"]]
    too_long = await api.get("/api/shams/board/progress", params={"days": 5000}, headers=office)
    assert too_long.status_code == 422
    assert too_long.json()["errors"][0]["field"] == "days"
    ancient = await api.get(
        "/api/shams/board/progress", params={"until": "0001-01-01"}, headers=office
    )
    assert ancient.status_code == 422
    assert ancient.json()["errors"][0]["field"] == "until"


async def test_the_board_is_in_the_openapi_document(api: httpx.AsyncClient) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]
    for path in (
        "/api/shams/board",
        "/api/shams/board/export",
        "/api/shams/board/progress",
        "/api/shams/board/progress/export",
        "/api/shams/board/counties/{code}",
        "/api/shams/board/counties/{code}/export",
    ):
        assert "get" in paths[path], path
    board = paths["/api/shams/board"]["get"]["responses"]["200"]["content"]["application/json"]
    assert board["schema"]["$ref"].endswith("/Board")


async def test_the_pages_show_the_board_and_a_county(
    api: httpx.AsyncClient, make_user: MakeUser, engine: Engine, settings: Settings
) -> None:
    seeded = seed_rollout(engine, tehran_today())
    director, _ = make_user(Role.it_director)
    await logged_in(api, settings, director.username)
    page = await api.get("/shams/board", params={"rollout": seeded.rollout_id})
    assert page.status_code == 200, page.text
    html = page.text
    assert html.index(f"شبکه بهداشت {seeded.silent_longer}") < html.index(
        f"شبکه بهداشت {seeded.busy}"
    )
    assert 'class="badge late"' in html
    assert f'href="/shams/board/counties/{seeded.busy}?rollout={seeded.rollout_id}"' in html
    assert "<svg" in html and '<title id="chart-svg-title">' in html
    county = await api.get(f"/shams/board/counties/{seeded.busy}", params={"state": "connected"})
    assert county.status_code == 200
    assert 'href="/shams/sites/' in county.text
    export = await api.get(f"/shams/board/counties/{seeded.busy}/export")
    assert len(sheet(export)) == 11

    supervisor, _ = make_user(Role.it_supervisor)
    await logged_in(api, settings, supervisor.username)
    county = await api.get(f"/shams/board/counties/{seeded.busy}")
    assert county.status_code == 200
    assert 'href="/shams/sites/' not in county.text, "no link to a page it may not open"

    outsider, _ = make_user(Role.county_network, scopes=(county_scope(seeded.small),))
    await logged_in(api, settings, outsider.username)
    assert (await api.get(f"/shams/board/counties/{seeded.busy}")).status_code == 403
