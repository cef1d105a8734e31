"""`python -m bench` (`make bench`): every figure on one dev server, then docs/performance.md.

Environment: BENCH_SCALE multiplies every size (default 1); BENCH_ONLY=name,name runs some
figures only; BENCH_DATABASE_URL uses PostgreSQL (a scratch database) instead of SQLite.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import NoReturn

from bench import cartable, decision, memory, process, repair, report, sepas, shams, submit
from bench.measure import Figure, scale
from bench.stack import Stack, open_stack

FIGURES: dict[str, Callable[[Stack], Awaitable[Figure]]] = {
    # The cartable first: its bulk rows are removed before the others open real cases.
    "cartable": cartable.run,
    "submit": submit.run,
    "decision": decision.run,
    "process": process.run,
    "repair": repair.run,
    "memory": memory.run,
    "shams": shams.run,
    "sepas": sepas.run,
}


def chosen() -> list[str]:
    only = [n.strip() for n in os.environ.get("BENCH_ONLY", "").split(",") if n.strip()]
    unknown = [n for n in only if n not in FIGURES]
    if unknown:
        raise SystemExit(
            f"BENCH_ONLY: unknown figure(s) {', '.join(unknown)}; know {list(FIGURES)}"
        )
    return [n for n in FIGURES if not only or n in only]


async def main() -> int:
    names = chosen()
    factor = scale()
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    load_before = report.load_average()
    commit_before = report.commit()
    figures: list[Figure] = []
    failed: dict[str, str] = {}
    """Figure name → why it failed."""
    print(f"bench     scale {factor:g}  machine {report.machine()}  load {load_before}", flush=True)
    async with open_stack() as stack:
        print(f"bench     database {stack.database}  temporal {stack.temporal_address}", flush=True)
        for name in names:
            budget = 900 + 3600 * factor
            try:
                figure = await asyncio.wait_for(FIGURES[name](stack), budget)
            except Exception as error:
                traceback.print_exc()
                failed[name] = f"{type(error).__name__}: {error}"
                print(f"{name:<9} FAILED: {failed[name]}", flush=True)
                stack.stop_all()
                continue
            figures.append(figure)
            stack.figures[name] = figure
            print(figure.line, flush=True)
    met = [f for f in figures if f.met]
    summary = (
        f"summary   {len(met)}/{len(names)} targets met: "
        + ", ".join(
            [f"{f.name} {'OK' if f.met else 'MISSED'}" for f in figures]
            + [f"{n} FAILED" for n in failed]
        )
        + f"  (scale {factor:g}, {(time.perf_counter() - started) / 60:.1f} min)"
    )
    print(summary, flush=True)
    for name, reason in failed.items():
        print(f"bench     {name} failed: {reason}", flush=True)
    if len(figures) == len(FIGURES):
        doc = report.write(
            figures,
            summary,
            scale=factor,
            database=stack.database,
            started=started_at,
            seconds=time.perf_counter() - started,
            load_before=load_before,
            commit_before=commit_before,
        )
        print(f"bench     wrote {doc.relative_to(report.ROOT)}", flush=True)
    elif figures:
        doc = report.write_partial(
            figures,
            scale=factor,
            database=stack.database,
            started=started_at,
            load_before=load_before,
            commit_before=commit_before,
        )
        print(f"bench     wrote {', '.join(f.name for f in figures)} into {doc.name}", flush=True)
    return 1 if failed else 0


async def run() -> int:
    """`main`, stopped cleanly (children stopped, scratch folder removed) on SIGTERM or SIGINT."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        return await main()
    except asyncio.CancelledError:
        print("bench     stopped", flush=True)
        return 130


def exit_now(status: int) -> NoReturn:
    """Leave without the interpreter's finalization, once everything is stopped and printed.

    A Temporal call abandoned by a failed figure (its await cancelled, its RPC still going on in
    the SDK's native runtime) completes on one of that runtime's threads; during finalization
    that thread waits forever for the interpreter, while the main thread, dropping the runtime,
    waits forever for the thread. The bench then printed its summary and never exited.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def cli() -> NoReturn:
    try:
        status = asyncio.run(run())
    except Exception:
        traceback.print_exc()
        status = 1
    exit_now(status)


if __name__ == "__main__":
    cli()
