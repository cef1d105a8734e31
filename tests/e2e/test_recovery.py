"""A case accepted in the database but never started is started by the API's recovery sweep."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from api.recovery import restart_unstarted
from db.models import Case
from tests.factories import form_data, open_case
from tests.stack import Stack


async def test_stranded_case_is_started_once(stack: Stack, engine: Engine) -> None:
    case = open_case(engine, form_data())  # as if the API died right after the commit
    client, settings = stack.client, stack.settings
    assert await restart_unstarted(engine, client, settings, older_than=timedelta(hours=1)) == 0
    assert await restart_unstarted(engine, client, settings, older_than=timedelta(0)) >= 1
    first = await client.get_workflow_handle(case.workflow_id).describe()

    for _ in range(200):  # the worker takes it on: the case leaves "submitted"
        with Session(engine) as session:
            step = session.get(Case, case.id).current_step  # type: ignore[union-attr]
        if step != "submitted":
            break
        await asyncio.sleep(0.05)
    assert step == "review_form"
    await restart_unstarted(engine, client, settings, older_than=timedelta(0))
    again = await client.get_workflow_handle(case.workflow_id).describe()
    assert again.run_id == first.run_id
