"""Figure 7: one SHAMS rollout of 20k sites across 40 counties, driven over HTTP.

The IT office, the director, 40 county networks (each a `county_network` login scoped to its
county) and the carrier work through the API as in production: each county uploads its sites in
the university's template (POST /api/shams/sites/import, one CSV per county, by the county's own
user); the office starts the rollout (POST /api/shams-rollouts) and drafts the letter, the
director approves it; each county answers its "collect sites" task with its codes, the office
checks each county's sites; the counties start one site workflow each; the carrier answers every
site's ranging with its bulk report (POST /api/shams/carrier/reports, 5,000 rows a call). Every
human step is found in its actor's cartable and decided through POST /api/tasks/{id}/complete.

The rollout runs in two parts, so the small and the large figures come from the same rollout:
a tenth of the counties upload and answer first (2k sites at full scale); the board and the
worker's RSS are read once all their sites wait for ranging; then the other counties (to 20k).
A site counts as started when its ranging task is open in the read model (not in Temporal).

The carrier's floor: the same number of Updates sent by the bench's Temporal client, as many
in flight as the API sends per bulk call, each to its own trivial workflow (StepsFloorWorkflow
of bench/floor.py with one step) on a worker of its own. What is left between the two is what
the product adds per site: HTTP, finding each site's open task in the read model, the decision's
checks and the site workflow's own writes. It is a figure, not a target (the issue sets none).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select
from temporalio.client import Client

from api.routes.shams_carrier import UPDATES_AT_ONCE
from api.security import hash_password
from bench.floor import FLOOR_QUEUE, StepsFloorWorkflow
from bench.measure import Figure, percentile, run_pool, scaled, verdict, wait_until
from bench.memory import settled_rss
from bench.retry import Answer, Retrying, read_httpx
from bench.stack import MAIN_QUEUE, PASSWORD, Stack, peak_rss_mib
from db.case_store import workflow_id
from db.models import Case, Task, User
from db.shams import County, county_scope
from db.site_register import SITE_FIELD_FA
from domain.calendar import TEHRAN
from domain.cases import ALL_SCOPES, Role, TaskStatus
from domain.shams import LINK_TYPE_FA, SITE_KIND_FA, LinkType, SiteKind
from domain.shams_carrier import MAX_ROWS
from processes.shams import SHAMS
from workflows.shams import APPROVE_LETTER, DRAFT_LETTER
from workflows.shams_county import CHECK_SITES, COLLECT_SITES
from workflows.shams_site import INSTALL_LINE, RANGE_SITE

COUNTIES = 40
FIRST_PART = COUNTIES // 10
"""Counties of the rollout's first part: a tenth of the sites, the issue's 2k against 20k."""
BOARD_P95_MS = 100.0
BOARD_RATIO = 1.5
RSS_RATIO = 1.3
HISTORY_LIMIT = 10_240
"""Temporal warns at 10,240 events; a workflow of the rollout must stay below."""
BOARD_WARMUP = 5
BOARD_REQUESTS = 60
POLL_SECONDS = 0.5
SAMPLE_SITES = COUNTIES
"""Sites whose history is read: the last of each county's (the counties are the biggest)."""
ROUNDS = 2
"""The carrier's reports and their floor alternate in rounds, each on its share of the sites."""
START_CONCURRENCY = 20
LETTER = "شبکه‌های بهداشت شهرستان‌ها نقاط خود را برای اتصال به شبکه ملی سلامت اعلام کنند."
OFFICE = "bench_shams_office"
DIRECTOR = "bench_shams_director"
CARRIER = "bench_shams_carrier"


@dataclass
class Part:
    """One part of the rollout, as measured once all its sites wait for ranging."""

    sites: int
    import_seconds: float
    fan_out_seconds: float
    """From the first county's answer to the last site's ranging task open."""
    board_p50: float
    board_p95: float
    rss_mib: float


class Api:
    """The bench's HTTP calls, sent again after a 503 with Retry-After, failing on any other
    answer than the one expected."""

    def __init__(self, http: httpx.AsyncClient, retrying: Retrying) -> None:
        self.http = http
        self.retrying = retrying

    async def call(
        self, method: str, url: str, headers: dict[str, str], expect: int = 200, **kw: Any
    ) -> Any:
        async def send() -> Answer:
            return read_httpx(await self.http.request(method, url, headers=headers, **kw))

        answer = await self.retrying(send)
        if answer.status != expect:
            raise RuntimeError(f"{method} {url}: {answer.status} {answer.body[:500]!r}")
        return json.loads(answer.body)

    async def cartable(self, headers: dict[str, str], step: str) -> list[dict[str, Any]]:
        body = await self.call("GET", "/api/tasks", headers, params={"process": SHAMS.kind})
        return [item for item in body["items"] if item["step"] == step]

    async def task(self, headers: dict[str, str], step: str) -> dict[str, Any]:
        """The first task of `step` in the cartable, once it shows up."""
        while not (found := await self.cartable(headers, step)):
            await asyncio.sleep(POLL_SECONDS)
        return found[0]

    async def complete(
        self, headers: dict[str, str], task: dict[str, Any], decision: dict[str, Any]
    ) -> None:
        await self.call("POST", f"/api/tasks/{task['id']}/complete", headers, json=decision)


async def run(stack: Stack) -> Figure:
    per_county = scaled(20_000, 400) // COUNTIES
    total = per_county * COUNTIES
    started = time.perf_counter()
    run_id = stack.run_id
    counties = [f"{run_id}-{i:02d}" for i in range(COUNTIES)]
    sites = {c: [f"{c}-{i:05d}" for i in range(per_county)] for c in counties}
    _add_counties_and_people(stack.engine, run_id, counties)
    retrying = Retrying()
    today = datetime.now(TEHRAN).date()
    async with (
        stack.worker(MAIN_QUEUE) as worker,
        stack.worker(FLOOR_QUEUE, module="bench.floor") as floor_worker,
        stack.api(MAIN_QUEUE) as api_child,
        httpx.AsyncClient(base_url=api_child.base_url, timeout=900) as http,
    ):
        api = Api(http, retrying)
        office = await stack.login(http, _user(OFFICE, run_id))
        director = await stack.login(http, _user(DIRECTOR, run_id))
        carrier = await stack.login(http, _user(CARRIER, run_id))
        county_users = {c: await stack.login(http, _county_user(c)) for c in counties}
        # The floor's workflows are started first, off the clock, so they are long settled in
        # their wait for the Update when it is timed.
        await _start_floors(stack.client, run_id, total)

        receipt = await api.call(
            "POST", SHAMS.api_path, office, expect=201, json={"title": f"اتصال نقاط {run_id}"}
        )
        rollout = receipt["tracking_code"]
        case_id = _case_id(stack.engine, rollout)
        await api.complete(
            office,
            await api.task(office, DRAFT_LETTER.key),
            {
                "text": LETTER,
                "counties": counties,
                "answer_by": (today + timedelta(days=30)).isoformat(),
            },
        )
        await api.complete(
            director, await api.task(director, APPROVE_LETTER.key), {"approved": True}
        )
        await wait_until(
            "collect-sites tasks",
            lambda: _open_tasks(stack.engine, case_id, COLLECT_SITES.key),
            COUNTIES,
            timeout=300,
            alive=worker.check_alive,
        )

        parts: list[Part] = []
        for share in (counties[:FIRST_PART], counties[FIRST_PART:]):
            import_seconds = await _import(api, county_users, share, sites)
            answered = time.perf_counter()
            await _answer(stack, api, office, county_users, case_id, share, sites)
            waiting = sum(len(sites[c]) for c in counties[: counties.index(share[-1]) + 1])
            await wait_until(
                "ranging tasks",
                lambda: _open_tasks(stack.engine, case_id, RANGE_SITE.key),
                waiting,
                timeout=300 + waiting,
                alive=worker.check_alive,
            )
            fan_out = time.perf_counter() - answered
            p50, p95 = await _board(api, office, rollout)
            rss = await settled_rss(worker)
            parts.append(Part(waiting, import_seconds, fan_out, p50, p95, rss))
        worker_peak = peak_rss_mib(worker)

        carrier_seconds = floor_seconds = 0.0
        codes = [code for c in counties for code in sites[c]]
        share_size = -(-total // ROUNDS)
        for round_no in range(ROUNDS):
            first = round_no * share_size
            mine = codes[first : first + share_size]
            for side in ("floor", "carrier") if round_no % 2 == 0 else ("carrier", "floor"):
                if side == "floor":
                    floor_seconds += await _floor(stack.client, run_id, first, len(mine))
                    continue
                carrier_seconds += await _report(api, carrier, mine)
                # The sites go on to their next task after the Update: let that settle, off
                # the clock, so the next measured side does not pay for it.
                await wait_until(
                    "install-line tasks",
                    lambda: _open_tasks(stack.engine, case_id, INSTALL_LINE.key),
                    first + len(mine),
                    timeout=300 + len(mine),
                    alive=worker.check_alive,
                )
        worker.check_alive()
        floor_worker.check_alive()
        histories = await _histories(stack.client, rollout, counties, sites)
    return _figure(
        total,
        parts,
        carrier_seconds,
        floor_seconds,
        histories,
        worker_peak,
        retrying,
        time.perf_counter() - started,
    )


def _user(role: str, run_id: str) -> str:
    return f"{role}_{run_id}"


def _county_user(county: str) -> str:
    return f"bench_county_{county}"


def _add_counties_and_people(engine: Engine, run_id: str, counties: Sequence[str]) -> None:
    """The counties' health networks, a county user each (scoped to it), and the office, the
    director and the carrier (the whole province)."""
    password_hash = hash_password(PASSWORD)
    people = {
        _user(OFFICE, run_id): ([Role.it_office], [ALL_SCOPES]),
        _user(DIRECTOR, run_id): ([Role.it_director], [ALL_SCOPES]),
        _user(CARRIER, run_id): ([Role.carrier], [ALL_SCOPES]),
        **{_county_user(c): ([Role.county_network], [county_scope(c)]) for c in counties},
    }
    with Session(engine) as session:
        session.add_all(
            County(
                code=code,
                name=f"شبکه بهداشت و درمان شهرستان {i + 1}",
                contact_name="رابط فناوری اطلاعات",
                mobile=f"0913{i:07d}",
                email=f"county{i}@university.ac.ir",
            )
            for i, code in enumerate(counties)
        )
        session.add_all(
            User(
                username=username,
                password_hash=password_hash,
                roles=list(roles),
                scopes=scopes,
                email=f"{username}@university.ac.ir",
            )
            for username, (roles, scopes) in people.items()
        )
        session.commit()


def _site_file(county: str, codes: Sequence[str]) -> bytes:
    """A county's sites in the university's template (CSV, Persian headers and labels)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(SITE_FIELD_FA.values())
    for i, code in enumerate(codes):
        cells = {
            "county_code": county,
            "site_code": code,
            "name": f"خانه بهداشت روستای شماره {i + 1}",
            "kind": SITE_KIND_FA[SiteKind.health_house],
            "address": f"روستای شماره {i + 1}، جنب مسجد جامع",
            "latitude": f"{30 + (i % 900) / 100:.5f}",
            "longitude": f"{48 + (i % 1200) / 100:.5f}",
            "link_type": LINK_TYPE_FA[LinkType.adsl],
        }
        writer.writerow([cells.get(field, "") for field in SITE_FIELD_FA])
    return out.getvalue().encode()


async def _import(
    api: Api,
    users: dict[str, dict[str, str]],
    counties: Sequence[str],
    sites: dict[str, list[str]],
) -> float:
    """Each county uploads its own file, one after the other; the seconds it took."""
    files = {c: _site_file(c, sites[c]) for c in counties}
    started = time.perf_counter()
    for county in counties:
        report = await api.call(
            "POST",
            "/api/shams/sites/import",
            users[county],
            files={"file": (f"sites-{county}.csv", files[county], "text/csv")},
        )
        if report["created"] != len(sites[county]):
            raise RuntimeError(f"import of {county}: {report}")
    return time.perf_counter() - started


async def _answer(
    stack: Stack,
    api: Api,
    office: dict[str, str],
    users: dict[str, dict[str, str]],
    case_id: int,
    counties: Sequence[str],
    sites: dict[str, list[str]],
) -> None:
    """Each county answers its collect-sites task with its codes; the office then accepts every
    county's sites as they come to its cartable."""

    async def county(i: int) -> None:
        code = counties[i]
        task = await api.task(users[code], COLLECT_SITES.key)
        await api.complete(users[code], task, {"site_codes": sites[code]})

    await run_pool(len(counties), 4, county, timeout=300 + 10 * len(counties))
    checked: set[str] = set()
    deadline = time.monotonic() + 300 + 10 * len(counties)
    while len(checked) < len(counties):
        if time.monotonic() > deadline:
            raise TimeoutError(f"check-sites tasks: {len(checked)}/{len(counties)}")
        new = [t for t in await api.cartable(office, CHECK_SITES.key) if t["id"] not in checked]
        for task in new:
            await api.complete(office, task, {"returned": []})
            checked.add(task["id"])
        if not new:
            await asyncio.sleep(POLL_SECONDS)


async def _board(api: Api, office: dict[str, str], rollout: str) -> tuple[float, float]:
    """p50, p95 (seconds) of the rollout's board as the office reads it, one at a time."""
    samples: list[float] = []
    for i in range(BOARD_WARMUP + BOARD_REQUESTS):
        t0 = time.perf_counter()
        await api.call("GET", "/api/shams/board", office, params={"rollout": rollout})
        if i >= BOARD_WARMUP:
            samples.append(time.perf_counter() - t0)
    return percentile(samples, 50), percentile(samples, 95)


def _floor_id(run_id: str, i: int) -> str:
    return f"floor-shams-{run_id}-{i}"


async def _start_floors(client: Client, run_id: str, count: int) -> None:
    async def start(i: int) -> None:
        await client.start_workflow(
            StepsFloorWorkflow.run, 1, id=_floor_id(run_id, i), task_queue=FLOOR_QUEUE
        )

    await run_pool(count, START_CONCURRENCY, start, timeout=300 + count)


async def _floor(client: Client, run_id: str, first: int, count: int) -> float:
    """One Update to each of `count` floor workflows, as many in flight as a bulk call sends."""

    async def decide(i: int) -> None:
        handle = client.get_workflow_handle(_floor_id(run_id, first + i))
        await handle.execute_update(StepsFloorWorkflow.decide, 1)

    return await run_pool(count, UPDATES_AT_ONCE, decide, timeout=300 + count)


async def _report(api: Api, carrier: dict[str, str], codes: Sequence[str]) -> float:
    """The carrier's ranging of `codes` (every site feasible), 5,000 rows a call, one call
    after the other; the seconds it took."""
    started = time.perf_counter()
    for at in range(0, len(codes), MAX_ROWS):
        rows = [
            {
                "site_code": code,
                "report": "ranging",
                "feasible": True,
                "exchange": "مرکز مخابرات امام خمینی",
                "link_type": LinkType.adsl.value,
            }
            for code in codes[at : at + MAX_ROWS]
        ]
        answer = await api.call("POST", "/api/shams/carrier/reports", carrier, json={"rows": rows})
        if answer["accepted"] != len(rows):
            refused = [r for r in answer["rows"] if r["outcome"] != "accepted"][:5]
            raise RuntimeError(f"carrier report: {answer['accepted']}/{len(rows)}: {refused}")
    return time.perf_counter() - started


def _case_id(engine: Engine, tracking_code: str) -> int:
    with Session(engine) as session:
        case = session.exec(select(Case).where(Case.tracking_code == tracking_code)).one()
    assert case.id is not None
    return case.id


def _open_tasks(engine: Engine, case_id: int, step: str) -> int:
    """Open tasks of `step` in the rollout's case, in the read model."""
    with Session(engine) as session:
        return session.exec(
            select(func.count())
            .select_from(Task)
            .where(
                col(Task.case_id) == case_id,
                col(Task.step) == step,
                col(Task.status) == TaskStatus.open,
            )
        ).one()


@dataclass
class History:
    workflow: str
    events: int
    """The largest of its runs' histories."""
    runs: int


async def _history(client: Client, wid: str) -> History:
    """The longest history among a workflow's runs: the running one by describe(), the ones
    it continued-as-new from (closed, so their length is final) from visibility."""
    events = (await client.get_workflow_handle(wid).describe()).history_length
    runs = 0
    async for execution in client.list_workflows(f"WorkflowId = '{wid}'"):
        runs += 1
        events = max(events, execution.history_length)
    return History(wid, events, max(runs, 1))


async def _histories(
    client: Client, rollout: str, counties: Sequence[str], sites: dict[str, list[str]]
) -> dict[str, History]:
    """The longest history of the rollout, of its counties, of a sample of its sites."""
    top = workflow_id(SHAMS, rollout)
    county_ids = [f"{top}-{c}" for c in counties]
    site_ids = [f"{top}-{c}-{sites[c][-1]}" for c in counties[:SAMPLE_SITES]]
    found: dict[str, History] = {}
    for kind, ids in (("rollout", [top]), ("county", county_ids), ("site", site_ids)):
        each = [await _history(client, wid) for wid in ids]
        found[kind] = max(each, key=lambda h: h.events)
    return found


def _figure(
    total: int,
    parts: list[Part],
    carrier_seconds: float,
    floor_seconds: float,
    histories: dict[str, History],
    worker_peak: float,
    retrying: Retrying,
    seconds: float,
) -> Figure:
    small, large = parts
    board_ratio = large.board_p95 / small.board_p95
    rss_ratio = large.rss_mib / small.rss_mib
    largest = max(histories.values(), key=lambda h: h.events)
    biggest_kind = next(k for k, h in histories.items() if h is largest)
    import_seconds = small.import_seconds + large.import_seconds
    carrier_rate, floor_rate = total / carrier_seconds, total / floor_seconds
    board_met = board_ratio <= BOARD_RATIO and large.board_p95 * 1000 < BOARD_P95_MS
    met = board_met and largest.events < HISTORY_LIMIT and rss_ratio <= RSS_RATIO
    line = (
        f"shams     {total} sites / {COUNTIES} counties: import {import_seconds:.1f} s "
        f"({total / import_seconds:.0f} rows/s)  carrier {carrier_rate:.1f} sites/s vs floor "
        f"{floor_rate:.1f} Updates/s (ratio {carrier_rate / floor_rate:.2f})  board p95 "
        f"{small.sites} {small.board_p95 * 1000:.1f} ms, {large.sites} "
        f"{large.board_p95 * 1000:.1f} ms, ratio {board_ratio:.2f} (target ≤ {BOARD_RATIO}, "
        f"< {BOARD_P95_MS:.0f} ms) {verdict(board_met)}  largest history {largest.events} "
        f"({biggest_kind}; < {HISTORY_LIMIT}) {verdict(largest.events < HISTORY_LIMIT)}  "
        f"worker RSS {small.rss_mib:.0f} → {large.rss_mib:.0f} MiB, ratio {rss_ratio:.2f} "
        f"(target ≤ {RSS_RATIO}) {verdict(rss_ratio <= RSS_RATIO)}  "
        f"[fan-out {small.sites / small.fan_out_seconds:.1f} and "
        f"{(large.sites - small.sites) / large.fan_out_seconds:.1f} sites/s; "
        f"worker peak RSS {worker_peak:.0f} MiB; 503 retried {retrying.retried}]"
    )
    return Figure(
        "shams",
        line,
        met,
        {
            "sites": total,
            "counties": COUNTIES,
            "sites imported (one CSV per county, POST /api/shams/sites/import)": total,
            "import seconds": round(import_seconds, 2),
            "import rows/s": round(total / import_seconds),
            f"fan-out sites/s, first part ({small.sites} sites)": round(
                small.sites / small.fan_out_seconds, 1
            ),
            f"fan-out sites/s, second part ({large.sites - small.sites} sites)": round(
                (large.sites - small.sites) / large.fan_out_seconds, 1
            ),
            "carrier ranging sites/s (bulk reports)": round(carrier_rate, 1),
            "floor Updates/s (same count, same concurrency)": round(floor_rate, 1),
            "carrier / floor": round(carrier_rate / floor_rate, 3),
            f"board p50 ms at {small.sites} sites": round(small.board_p50 * 1000, 1),
            f"board p95 ms at {small.sites} sites": round(small.board_p95 * 1000, 1),
            f"board p50 ms at {large.sites} sites": round(large.board_p50 * 1000, 1),
            f"board p95 ms at {large.sites} sites": round(large.board_p95 * 1000, 1),
            "board p95 ratio": round(board_ratio, 3),
            **{
                f"largest history: {k} (events, runs)": f"{h.events}, {h.runs}"
                for k, h in histories.items()
            },
            f"worker RSS MiB at {small.sites} open sites": round(small.rss_mib, 1),
            f"worker RSS MiB at {large.sites} open sites": round(large.rss_mib, 1),
            "worker RSS ratio": round(rss_ratio, 3),
            "worker peak RSS (VmHWM) MiB": round(worker_peak, 1),
            "503 answers retried after Retry-After": retrying.retried,
        },
        [
            f"one rollout: the first {FIRST_PART} counties upload and answer, the small figures "
            "are read once all their sites wait for ranging, then the other counties",
            "a site counts once its ranging task is open in the read model",
            "board: GET /api/shams/board?rollout= as the IT office, one request at a time, "
            f"{BOARD_REQUESTS} after {BOARD_WARMUP} warm-up",
            f"carrier: every site ranged feasible, {MAX_ROWS} rows a call, calls one after the "
            f"other; floor: one Update each to {total} waiting StepsFloorWorkflow workflows, "
            f"{UPDATES_AT_ONCE} in flight (as the API sends per call); sides alternate in "
            f"{ROUNDS} rounds",
            "histories: describe() and every run of the rollout, each county and the last site "
            "of each county, after the carrier's reports",
            "worker RSS: VmRSS of worker.py after a 5 s settle (median of three readings)",
        ],
        seconds,
        target=f"board ≤ {BOARD_RATIO}× and < {BOARD_P95_MS:.0f} ms; history < {HISTORY_LIMIT}; "
        f"RSS ≤ {RSS_RATIO}×",
        result=f"board {board_ratio:.2f}×, {large.board_p95 * 1000:.0f} ms; history "
        f"{largest.events}; RSS {rss_ratio:.2f}×",
    )
