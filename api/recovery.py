"""Cases accepted in the database whose workflow never started (the API died in between).

A running workflow leaves the `submitted` step within seconds, so a case still there after a
grace period is restarted from its stored form; starting is idempotent, so replicas may overlap.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client

from api.temporal import start_case_workflow
from db.case_store import stored_form
from db.models import Case
from domain.cases import CaseStatus
from processes.declaration import Process, Registry
from settings import Settings

log = logging.getLogger("peygir.recovery")

GRACE = timedelta(minutes=1)
INTERVAL_SECONDS = 60


def _stranded(
    engine: Engine, processes: Registry, cutoff: datetime
) -> list[tuple[Process[Any], Case, BaseModel]]:
    with Session(engine) as session:
        stranded = session.exec(
            select(Case)
            .where(
                col(Case.status) == CaseStatus.open,
                col(Case.current_step) == "submitted",
                col(Case.created_at) < cutoff,
                col(Case.process).in_(processes.kinds),
            )
            .limit(500)
        ).all()
        starts = []
        for case in stranded:
            assert case.id is not None
            process = processes[case.process]
            form = stored_form(session, process, case.id)
            # No form: the case is being removed (its start failed for good); leave it be.
            if form is not None:
                starts.append((process, case, form))
        return starts


async def restart_unstarted(
    engine: Engine,
    client: Client,
    settings: Settings,
    processes: Registry,
    *,
    older_than: timedelta = GRACE,
) -> int:
    """Start the workflows of stranded cases of every process; returns how many were started."""
    # The read runs in a thread: the API's event loop never waits on the database.
    starts = await asyncio.to_thread(_stranded, engine, processes, datetime.now(UTC) - older_than)
    for process, case, form in starts:
        await start_case_workflow(client, settings.temporal_task_queue, process, case, form)
        log.info("started the workflow of stranded case %s", case.tracking_code)
    return len(starts)


async def keep_restarting(
    engine: Engine, client: Client, settings: Settings, processes: Registry
) -> None:
    """Background loop of the API process."""
    while True:
        try:
            await restart_unstarted(engine, client, settings, processes)
        except Exception:
            log.warning("stranded-case check failed", exc_info=True)
        await asyncio.sleep(INTERVAL_SECONDS)
