"""Process 4 (the SHAMS rollout) end to end over HTTP on the real Temporal dev server, as the IT
office, the IT director, two county health networks and the carrier do it.

Two counties of 30 sites each (60 in all) go through every step: the letter (rejected once,
then approved), the counties' uploads in the university's template (one first refused for a
site outside Iran), the university's check (one site returned, corrected and sent again), a
county reading another county's sites (403), the carrier's bulk ranging report with bad rows
(sent twice: the second changes nothing), two sites not feasible (one closed by the office,
one re-ranged for another link and connected), the bulk "line installed" report, the entry in
SHAMS of every site with a router address whose listener comes up only after the connection
check has failed, the board, and the rollout's end: every site connected or closed once in the
read model, no task left open.

The stack runs the rollout with the e2e settings (tests/e2e/conftest.py: SHAMS_E2E): progress
is read every minute, so the rollout closes up to two minutes after its last site (about two
minutes in all on two cores).

It found that each site's connection check held one of the worker's eight activity slots
while its router did not answer, so entering a ninth site in SHAMS stalled every case; the
checks now wait on a queue of their own (workflows.task_queues), and a stall fails the test
as DecisionStalled.
"""

from __future__ import annotations

import asyncio
import io
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import httpx
from openpyxl import Workbook
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from db.models import Case, Task, User
from db.shams import Site, SiteEvent, county_scope
from db.shams_progress import CountyRun, SiteRun
from db.site_register import SITE_HEADERS
from domain.calendar import TEHRAN
from domain.cases import CaseStatus, Role, TaskStatus
from domain.passwords import hash_password
from domain.shams import LINK_TYPE_FA, SITE_KIND_FA, LinkType, SiteKind, SiteState
from domain.shams_carrier import CARRIER_HEADERS
from domain.uploads import MediaType
from tests.e2e.test_email_process import login
from tests.stack import PASSWORD, Stack, free_port

PROCESS = "shams_rollout"
SITES_PER_COUNTY = 30
LETTER = (
    "به پیوست، الگوی فهرست نقاط شبکه بهداشت برای اتصال به شبکه ملی سلامت (شمس) ارسال می‌شود."
    " لطفاً نقاط زیرمجموعه را تا مهلت تعیین‌شده در سامانه ثبت کنید."
)
T = TypeVar("T")
Headers = dict[str, str]


# --- People and places ---------------------------------------------------------------------


def add_user(engine: Engine, role: Role, scopes: list[str]) -> str:
    username = f"{role.value}-{uuid.uuid4().hex[:6]}"
    with Session(engine) as session:
        session.add(
            User(
                username=username,
                full_name=f"کاربر {username}",
                password_hash=hash_password(PASSWORD),
                roles=[role],
                scopes=scopes,
                email=f"{username}@university.ac.ir",
            )
        )
        session.commit()
    return username


def site_row(county: str, code: str, n: int, **change: object) -> dict[str, object]:
    row: dict[str, object] = {
        "county_code": county,
        "site_code": code,
        "siam_id": "",
        "name": f"خانه بهداشت روستای شماره {n}",
        "kind": SITE_KIND_FA[SiteKind.health_house],
        "address": f"روستای شماره {n}، خیابان اصلی، جنب مسجد",
        "postal_code": "",
        "phone": "",
        "latitude": round(35.1 + n * 0.01, 5),
        "longitude": round(51.1 + n * 0.01, 5),
        "link_type": LINK_TYPE_FA[LinkType.adsl],
    }
    return {**row, **change}


def sites_xlsx(rows: list[dict[str, object]]) -> bytes:
    """A county's sites in the university's template: its Persian headers, one row each."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append([names[0] for names in SITE_HEADERS.values()])
    for row in rows:
        sheet.append([row[field] for field in SITE_HEADERS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def carrier_xlsx(rows: list[dict[str, object]]) -> bytes:
    """The carrier's report as a spreadsheet, with the Persian headers of its template."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append([names[0] for names in CARRIER_HEADERS.values()])
    for row in rows:
        sheet.append([row.get(field, "") for field in CARRIER_HEADERS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def report(
    http: httpx.AsyncClient, headers: Headers, rows: list[dict[str, object]]
) -> dict[str, Any]:
    answer = await http.post("/api/shams/carrier/reports", json={"rows": rows}, headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert [r["row"] for r in body["rows"]] == list(range(1, len(rows) + 1))
    assert [r["site_code"] for r in body["rows"]] == [r["site_code"] for r in rows]
    return body


def outcomes(body: dict[str, Any]) -> dict[str, str]:
    return {r["site_code"]: r["outcome"] for r in body["rows"]}


async def upload(http: httpx.AsyncClient, headers: Headers, content: bytes) -> httpx.Response:
    return await http.post(
        "/api/shams/sites/import",
        files={"file": ("nogat.xlsx", content, MediaType.xlsx.value)},
        headers=headers,
    )


# --- Waiting --------------------------------------------------------------------------------


async def until(check: Callable[[], Awaitable[T | None]], what: str, seconds: float = 60) -> T:
    """`check` polled until it gives a value, or AssertionError after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        found = await check()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds} s")
        await asyncio.sleep(0.1)


async def cartable(http: httpx.AsyncClient, headers: Headers, code: str) -> list[dict[str, Any]]:
    """Every open task of the rollout the user may act on (all pages of the cartable)."""
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        listing = await http.get(
            "/api/tasks", headers=headers, params={"process": PROCESS, "page": page}
        )
        assert listing.status_code == 200, listing.text
        body = listing.json()
        items += body["items"]
        if not body["items"] or page * 50 >= body["total"]:
            return [t for t in items if t["tracking_code"] == code]
        page += 1


def workflow_of(task: dict[str, Any]) -> str:
    """A task's id is `{workflow id}:{step}:{n}`."""
    return str(task["id"]).rsplit(":", 2)[0]


def site_of(task: dict[str, Any]) -> str:
    """A site's workflow id ends with `-{site code}`."""
    return workflow_of(task).rsplit("-", 1)[1]


async def task_of(
    http: httpx.AsyncClient,
    headers: Headers,
    code: str,
    step: str,
    of: str = "",
    seconds: float = 60,
) -> dict[str, Any]:
    """The open task of `step` in the rollout, of the workflow whose id ends with `of`."""

    async def found() -> dict[str, Any] | None:
        for task in await cartable(http, headers, code):
            if task["step"] == step and workflow_of(task).endswith(of):
                return task
        return None

    return await until(found, f"task {step} {of} of {code}", seconds)


async def site_tasks(
    http: httpx.AsyncClient, headers: Headers, code: str, step: str, sites: set[str]
) -> dict[str, dict[str, Any]]:
    """The open tasks of `step` of these sites, by site, once each has one."""

    async def found() -> dict[str, dict[str, Any]] | None:
        tasks = {
            site_of(t): t
            for t in await cartable(http, headers, code)
            if t["step"] == step and site_of(t) in sites
        }
        return tasks if set(tasks) == sites else None

    return await until(found, f"{len(sites)} tasks {step}", seconds=90)


async def complete(
    http: httpx.AsyncClient, headers: Headers, task: dict[str, Any], decision: dict[str, Any]
) -> httpx.Response:
    return await http.post(f"/api/tasks/{task['id']}/complete", json=decision, headers=headers)


async def decide(
    http: httpx.AsyncClient,
    headers: Headers,
    code: str,
    step: str,
    decision: dict[str, Any],
    of: str = "",
) -> dict[str, Any]:
    task = await task_of(http, headers, code, step, of)
    answer = await complete(http, headers, task, decision)
    assert answer.status_code == 200, answer.text
    return task


def site_events(engine: Engine, codes: list[str]) -> int:
    with Session(engine) as session:
        ids = select(Site.id).where(col(Site.site_code).in_(codes))
        return len(session.exec(select(SiteEvent.id).where(col(SiteEvent.site_id).in_(ids))).all())


async def board_states(
    http: httpx.AsyncClient, headers: Headers, code: str, expected: dict[str, dict[SiteState, int]]
) -> dict[str, Any]:
    """The rollout's board once its counties' counts are `expected` (other states 0)."""

    async def shows() -> dict[str, Any] | None:
        answer = await http.get("/api/shams/board", params={"rollout": code}, headers=headers)
        assert answer.status_code == 200, answer.text
        board: dict[str, Any] = answer.json()
        counts = {c["code"]: {k: v for k, v in c["states"].items() if v} for c in board["counties"]}
        return board if counts == expected else None

    return await until(shows, f"the board showing {expected}")


async def probe_failed(stack: Stack, workflow_id: str) -> bool:
    """The site's connection check is running and has failed at least once: the probe
    heartbeats only after a connect that failed."""
    described = await stack.client.get_workflow_handle(workflow_id).describe()
    return any(
        a.activity_type.name == "probe" and a.HasField("last_heartbeat_time")
        for a in described.raw_description.pending_activities
    )


def states(engine: Engine, codes: list[str]) -> dict[str, SiteState]:
    with Session(engine) as session:
        rows = session.exec(select(Site).where(col(Site.site_code).in_(codes))).all()
        return {s.site_code: s.state for s in rows}


async def sites_in(engine: Engine, codes: list[str], state: SiteState, seconds: float = 60) -> None:
    async def reached() -> bool | None:
        now = states(engine, codes)
        return True if all(now.get(c) == state for c in codes) else None

    await until(reached, f"{len(codes)} sites {state}", seconds)


class DecisionStalled(Exception):
    """A task's decision got no answer: its workflow could not close the task."""


# --- The rollout -----------------------------------------------------------------------------


async def test_shams_rollout_over_http(stack: Stack, engine: Engine) -> None:
    http = stack.http
    office = await login(http, add_user(engine, Role.it_office, ["*"]))
    director = await login(http, add_user(engine, Role.it_director, ["*"]))

    # 1. Two counties, each with its network's user; the carrier.
    tag = uuid.uuid4().hex[:4].upper()
    counties = [f"N{tag}1", f"N{tag}2"]
    for n, county in enumerate(counties, start=1):
        created = await http.post(
            "/api/shams/counties",
            json={
                "code": county,
                "name": f"شبکه بهداشت شهرستان آزمون {n}",
                "contact_name": "مسئول فناوری شبکه",
                "mobile": f"0912111000{n}",
                "email": f"it-{county.lower()}@health.ac.ir",
            },
            headers=office,
        )
        assert created.status_code == 201, created.text
    nets = {
        c: await login(http, add_user(engine, Role.county_network, [county_scope(c)]))
        for c in counties
    }
    carrier = await login(http, add_user(engine, Role.carrier, ["*"]))
    first, second = counties
    sites = {
        c: [f"S{tag}{i}{n:03d}" for n in range(SITES_PER_COUNTY)] for i, c in enumerate(counties)
    }
    every_site = sites[first] + sites[second]

    # 2. The IT office starts the rollout and drafts the letter; the director returns it once.
    assert (
        await http.post("/api/shams-rollouts", json={"title": "اتصال آزمون"}, headers=director)
    ).status_code == 403
    started = await http.post(
        "/api/shams-rollouts", json={"title": f"اتصال نقاط روستایی {tag}"}, headers=office
    )
    assert started.status_code == 201, started.text
    code = started.json()["tracking_code"]
    answer_by = (datetime.now(TEHRAN).date() + timedelta(days=14)).isoformat()
    letter = {"text": LETTER, "counties": counties, "answer_by": answer_by}

    await decide(http, office, code, "draft_letter", letter)
    approve = await task_of(http, director, code, "approve_letter")
    detail = (await http.get(f"/api/tasks/{approve['id']}", headers=director)).json()
    assert detail["context"]["text"] == LETTER
    assert (await complete(http, office, approve, {"approved": True})).status_code == 403
    silent = await complete(http, director, approve, {"approved": False})
    assert silent.status_code == 422, silent.text
    comments = "مهلت پاسخ و نام مسئول پیگیری در نامه بیاید"
    returned = await complete(http, director, approve, {"approved": False, "comments": comments})
    assert returned.status_code == 200, returned.text

    redraft = await task_of(http, office, code, "draft_letter")
    assert redraft["id"].endswith(":draft_letter:2")
    detail = (await http.get(f"/api/tasks/{redraft['id']}", headers=office)).json()
    assert detail["context"]["comments"] == comments and detail["context"]["round"] == 2
    letter["text"] = LETTER + " مسئول پیگیری: اداره فناوری اطلاعات دانشگاه."
    assert (await complete(http, office, redraft, letter)).status_code == 200
    await decide(http, director, code, "approve_letter", {"approved": True})

    # 3. Each county gets its task, sees only its own, and uploads its sites in the template.
    collect = {c: await task_of(http, nets[c], code, "collect_sites", f"-{c}") for c in counties}
    for c in counties:
        theirs = [t for t in await cartable(http, nets[c], code)]
        assert [t["id"] for t in theirs] == [collect[c]["id"]]

    bad_rows = [site_row(first, s, n) for n, s in enumerate(sites[first])]
    bad_rows[6] = site_row(first, sites[first][6], 6, latitude=48.9)  # north of the Caspian
    refused = await upload(http, nets[first], sites_xlsx(bad_rows))
    assert refused.status_code == 422, refused.text
    problems = refused.json()["errors"]
    assert [(p["field"], p["code"]) for p in problems] == [
        ("rows.8.latitude", "latitude_outside_iran")
    ]
    listed = await http.get("/api/shams/sites", params={"county": first}, headers=nets[first])
    assert listed.status_code == 200 and listed.json()["total"] == 0, listed.text

    for c in counties:
        rows = [site_row(c, s, n) for n, s in enumerate(sites[c])]
        imported = await upload(http, nets[c], sites_xlsx(rows))
        assert imported.status_code == 200, imported.text
        assert imported.json()["created"] == SITES_PER_COUNTY
    # Another county's upload is not the network's to make.
    foreign = await upload(http, nets[first], sites_xlsx([site_row(second, sites[second][0], 0)]))
    assert foreign.status_code == 422, foreign.text

    for c in counties:
        sent = await complete(http, nets[c], collect[c], {"site_codes": sites[c]})
        assert sent.status_code == 200, sent.text

    # 4. The university checks each list: the first all accepted, one of the second returned.
    back = sites[second][3]
    reason = "نشانی ناقص است؛ نام دهستان را هم بنویسید"
    check = await task_of(http, office, code, "check_sites", f"-{first}")
    detail = (await http.get(f"/api/tasks/{check['id']}", headers=office)).json()
    assert detail["context"]["sites"] == sites[first]
    assert (await complete(http, office, check, {"returned": []})).status_code == 200
    await decide(
        http,
        office,
        code,
        "check_sites",
        {"returned": [{"site_code": back, "reason": reason}]},
        f"-{second}",
    )

    correct = await task_of(http, nets[second], code, "correct_sites", f"-{second}")
    detail = (await http.get(f"/api/tasks/{correct['id']}", headers=nets[second])).json()
    assert detail["context"]["returned"] == [{"site_code": back, "reason": reason}]
    assert states(engine, [back]) == {back: SiteState.returned_to_county}
    fixed = site_row(second, back, 3, address="دهستان مرکزی، روستای شماره ۳، خیابان اصلی")
    corrected = await upload(http, nets[second], sites_xlsx([fixed]))
    assert corrected.status_code == 200 and corrected.json()["updated"] == 1, corrected.text
    assert (await complete(http, nets[second], correct, {"site_codes": [back]})).status_code == 200
    check = await task_of(http, office, code, "check_sites", f"-{second}")
    assert check["id"].endswith(":check_sites:2")
    detail = (await http.get(f"/api/tasks/{check['id']}", headers=office)).json()
    assert detail["context"]["sites"] == [back]
    assert (await complete(http, office, check, {"returned": []})).status_code == 200
    # Neither county has more sites: their rounds end.
    for c in counties:
        await decide(http, nets[c], code, "more_sites", {"no_sites": True}, f"-{c}")

    # 5. A county's network reads its own sites, never another county's.
    own = await http.get("/api/shams/sites", params={"county": first}, headers=nets[first])
    assert own.status_code == 200 and own.json()["total"] == SITES_PER_COUNTY
    assert {s["county_code"] for s in own.json()["items"]} == {first}
    everything = await http.get("/api/shams/sites", params={"per_page": 500}, headers=nets[first])
    assert {s["county_code"] for s in everything.json()["items"]} == {first}
    other = await http.get("/api/shams/sites", params={"county": second}, headers=nets[first])
    assert other.status_code == 403, other.text
    assert (
        await http.get(f"/api/shams/sites/{sites[second][0]}", headers=nets[first])
    ).status_code == 403
    assert (
        await http.get(f"/api/shams/board/counties/{second}", headers=nets[first])
    ).status_code == 403

    # Every accepted site has its workflow and waits in the carrier's cartable.
    await sites_in(engine, every_site, SiteState.sent_to_carrier)
    mine = await http.get(f"/api/shams/sites/{back}", headers=nets[second])
    assert mine.status_code == 200
    history = [(e["state"], e["note"]) for e in mine.json()["events"]]
    assert [state for state, _ in history] == [
        SiteState.submitted,  # registered by the upload
        SiteState.submitted,  # sent to the university
        SiteState.returned_to_county,
        SiteState.returned_to_county,  # corrected by the second upload
        SiteState.submitted,
        SiteState.accepted,
        SiteState.sent_to_carrier,
    ]
    assert history[2][1] == reason

    ranging = await site_tasks(http, carrier, code, "range_site", set(every_site))
    assert len(ranging) == 2 * SITES_PER_COUNTY

    # 6. The carrier ranges every site in one bulk report; two rows are bad and rejected
    # alone. The carrier sees the sites sent to it.
    shared = await http.get("/api/shams/sites", params={"per_page": 500}, headers=carrier)
    assert {s["site_code"] for s in shared.json()["items"]} >= set(every_site)
    closed, relinked = sites[first][0], sites[second][0]
    feasible = [s for s in every_site if s not in (closed, relinked)]
    expected_on = (datetime.now(TEHRAN).date() + timedelta(days=7)).isoformat()

    def ranged(site: str, **change: object) -> dict[str, object]:
        exchange = "مرکز مخابرات " + ("شمالی" if site in sites[first] else "جنوبی")
        return {
            "site_code": site,
            "report": "ranging",
            "feasible": True,
            "exchange": exchange,
            "link_type": "adsl",
            "expected_on": expected_on,
            **change,
        }

    unknown = f"S{tag}X999"
    not_feasible = {"feasible": False, "exchange": None, "link_type": None, "expected_on": None}
    rows = (
        [ranged(s) for s in feasible[:20]]
        + [ranged(unknown)]
        + [ranged(s) for s in feasible[20:40]]
        + [ranged(closed, **not_feasible, reason="no_free_port", note="پورت آزاد ندارد")]
        + [ranged(relinked, **not_feasible)]  # no reason given
        + [ranged(s) for s in feasible[40:]]
    )
    answer = await report(http, carrier, rows)
    assert (answer["accepted"], answer["unchanged"], answer["rejected"]) == (59, 0, 2), answer
    answered = outcomes(answer)
    assert answered == {**{s: "accepted" for s in [*feasible, closed]}, **answered}
    assert (answered[unknown], answered[relinked]) == ("rejected", "rejected")
    for row in answer["rows"]:
        rejected = row["outcome"] == "rejected"
        assert (row["code"] is not None, row["reason"] is not None) == (rejected, rejected), row

    await sites_in(engine, feasible, SiteState.feasible)
    await sites_in(engine, [closed], SiteState.not_feasible)
    assert states(engine, [relinked]) == {relinked: SiteState.sent_to_carrier}
    events_before = site_events(engine, every_site)
    again = await report(http, carrier, rows)
    assert (again["accepted"], again["unchanged"], again["rejected"]) == (0, 59, 2), again
    assert outcomes(again) == {**answered, **{s: "unchanged" for s in [*feasible, closed]}}
    assert site_events(engine, every_site) == events_before

    # The second county's site: not feasible after all, with its reason this time.
    fixed_row = ranged(relinked, **not_feasible, reason="no_coverage")
    assert outcomes(await report(http, carrier, [fixed_row])) == {relinked: "accepted"}

    # The office closes one and has the other ranged again for a wireless link.
    await decide(
        http, office, code, "decide_not_feasible", {"action": "close", "note": "نقطه سیار"}, closed
    )
    await decide(
        http,
        office,
        code,
        "decide_not_feasible",
        {"action": "other_link", "link_type": "wireless"},
        relinked,
    )
    await sites_in(engine, [closed], SiteState.closed_not_feasible)
    rerange = await task_of(http, carrier, code, "range_site", relinked)
    assert rerange["id"].endswith(":range_site:2")
    wireless = ranged(relinked, link_type="wireless")
    assert outcomes(await report(http, carrier, [wireless])) == {relinked: "accepted"}
    connecting = [*feasible, relinked]
    await sites_in(engine, connecting, SiteState.feasible)
    await board_states(
        http,
        office,
        code,
        {
            first: {SiteState.feasible: 29, SiteState.closed_not_feasible: 1},
            second: {SiteState.feasible: 30},
        },
    )

    # 7. The carrier's spreadsheet: every line installed, and a row for the closed site.
    await site_tasks(http, carrier, code, "install_line", set(connecting))
    lines: list[dict[str, object]] = [
        {"site_code": s, "report": "نصب خط", "circuit_id": f"DL-{n:04d}"}
        for n, s in enumerate([*connecting, closed])
    ]
    installed = await http.post(
        "/api/shams/carrier/reports/upload",
        files={"file": ("installed.xlsx", carrier_xlsx(lines), MediaType.xlsx.value)},
        headers=carrier,
    )
    assert installed.status_code == 200, installed.text
    body = installed.json()
    assert (body["accepted"], body["unchanged"], body["rejected"]) == (59, 0, 1), body
    assert [r["row"] for r in body["rows"]] == list(range(2, len(lines) + 2))
    assert outcomes(body)[closed] == "rejected"
    await sites_in(engine, connecting, SiteState.line_installed)

    # The office enters each site in SHAMS; its router does not answer yet.
    port = free_port()
    probes = 0

    async def answer_probe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal probes
        probes += 1
        writer.close()
        await writer.wait_closed()

    entries = await site_tasks(http, office, code, "enter_in_shams", set(connecting))
    for n, site in enumerate(connecting):
        entry = {
            "registration_number": f"SH-{n:04d}",
            "router_host": "127.0.0.1",
            "router_port": port,
        }
        try:
            done = await complete(http, office, entries[site], entry)
        except httpx.ReadTimeout as stalled:
            # The routers answer, so the checks end and free the worker for the tests after.
            async with await asyncio.start_server(answer_probe, "127.0.0.1", port):
                await sites_in(engine, connecting[: n + 1], SiteState.connected, seconds=120)
            raise DecisionStalled(
                f"entering site {n + 1} of {len(connecting)} in SHAMS got no answer in"
                f" {http.timeout.read} s: the sites entered before hold the worker's activities"
                " in their connection checks"
            ) from stalled
        assert done.status_code == 200, (site, done.text)
    await sites_in(engine, connecting, SiteState.entered_in_shams)
    site_workflows = {site_of(t): workflow_of(t) for t in entries.values()}

    async def failing() -> bool | None:
        failed = [await probe_failed(stack, w) for w in site_workflows.values()]
        return True if any(failed) else None

    await until(failing, "a connection check failing")
    assert not any(s == SiteState.connected for s in states(engine, connecting).values())

    listener = await asyncio.start_server(answer_probe, "127.0.0.1", port)
    async with listener:
        await sites_in(engine, connecting, SiteState.connected, seconds=120)
    assert probes >= len(connecting)

    # 8. The board, the read model and the cartables at the end.
    board = await board_states(
        http,
        office,
        code,
        {
            first: {SiteState.connected: 29, SiteState.closed_not_feasible: 1},
            second: {SiteState.connected: 30},
        },
    )
    assert board["sites"] == 2 * SITES_PER_COUNTY
    assert board["states"][SiteState.connected] == 59
    assert board["connected_percent"] == round(100 * 59 / 60, 1)
    detail = (await http.get(f"/api/shams/sites/{relinked}", headers=office)).json()
    assert detail["router_port"] == port and detail["exchange"] == "مرکز مخابرات جنوبی"
    assert "وصل شد" in detail["events"][-2]["note"]

    async def case_closed() -> dict[str, Any] | None:
        view = await http.get(f"/api/cases/{code}", headers=office)
        assert view.status_code == 200, view.text
        return view.json() if view.json()["status"] != CaseStatus.open else None

    closed_case = await until(case_closed, "the rollout's end", seconds=200)
    assert closed_case["status"] == CaseStatus.closed
    with Session(engine) as session:
        case = session.exec(select(Case).where(Case.tracking_code == code)).one()
        runs = session.exec(select(SiteRun).where(SiteRun.rollout_id == code)).all()
        assert sorted(r.site_code for r in runs) == sorted(every_site)
        assert all(r.ended for r in runs)
        assert {r.site_code: r.outcome for r in runs} == {
            **{s: "connected" for s in connecting},
            closed: "closed_not_feasible",
        }
        assert states(engine, every_site) == {
            **{s: SiteState.connected for s in connecting},
            closed: SiteState.closed_not_feasible,
        }
        ends = session.exec(
            select(SiteEvent.site_id).where(
                col(SiteEvent.site_id).in_(
                    select(Site.id).where(col(Site.site_code).in_(every_site))
                ),
                col(SiteEvent.state).in_([SiteState.connected, SiteState.closed_not_feasible]),
            )
        ).all()
        assert len(ends) == len(set(ends)) == len(every_site)
        county_runs = session.exec(select(CountyRun).where(CountyRun.rollout_id == code)).all()
        assert sorted(r.county_code for r in county_runs) == counties
        assert all(r.ended for r in county_runs)
        open_tasks = session.exec(
            select(Task.id).where(Task.case_id == case.id, Task.status == TaskStatus.open)
        ).all()
        assert open_tasks == []
    for headers in (office, director, carrier, *nets.values()):
        assert await cartable(http, headers, code) == []
