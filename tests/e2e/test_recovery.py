"""A case accepted in the database but never started is started by the API's recovery sweep."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.service import RPCError

from api.recovery import restart_unstarted
from db.models import Case, EmailRequest
from processes.registry import PROCESSES
from tests.factories import forget_case, form_data, open_case
from tests.stack import Stack


async def test_stranded_case_is_started_once(stack: Stack, engine: Engine) -> None:
    case = open_case(engine, form_data())  # as if the API died right after the commit
    # And one being removed (its start failed for good; its form is gone first): skipped.
    leaving = open_case(engine, form_data())
    with Session(engine) as session:
        session.delete(session.get(EmailRequest, leaving.id))
        session.commit()
    client, settings = stack.client, stack.settings
    try:
        assert (
            await restart_unstarted(
                engine, client, settings, PROCESSES, older_than=timedelta(hours=1)
            )
            == 0
        )
        assert (
            await restart_unstarted(engine, client, settings, PROCESSES, older_than=timedelta(0))
            >= 1
        )
        with pytest.raises(RPCError):
            await client.get_workflow_handle(leaving.workflow_id).describe()
    finally:
        forget_case(engine, leaving)
    first = await client.get_workflow_handle(case.workflow_id).describe()

    for _ in range(200):  # the worker takes it on: the case leaves "submitted"
        with Session(engine) as session:
            step = session.get(Case, case.id).current_step  # type: ignore[union-attr]
        if step != "submitted":
            break
        await asyncio.sleep(0.05)
    assert step == "review_form"
    await restart_unstarted(engine, client, settings, PROCESSES, older_than=timedelta(0))
    again = await client.get_workflow_handle(case.workflow_id).describe()
    assert again.run_id == first.run_id
