"""Starting and addressing case workflows from the API, for any declared process."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel
from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from db.models import Case
from processes.declaration import Process
from workflows.search_attributes import PROCESS_KIND, TRACKING_CODE


async def temporal_client(request: Request) -> Client:
    client: Client = request.app.state.temporal
    return client


async def begin_case_workflow(
    client: Client, task_queue: str, process: Process[Any], case: Case, form: BaseModel
) -> WorkflowHandle[Any, Any]:
    """Start the case's workflow with its search attributes and summary; raises if started."""
    assert case.id is not None
    return await client.start_workflow(
        process.workflow.run,  # type: ignore[attr-defined]
        process.workflow_input(
            case_id=case.id,
            tracking_code=case.tracking_code,
            form=form,
            submitted_at=case.created_at,
        ),
        id=case.workflow_id,
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(PROCESS_KIND, process.kind),
                SearchAttributePair(TRACKING_CODE, case.tracking_code),
            ]
        ),
        static_summary=f"{process.title.fa} — کد پیگیری {case.tracking_code}",
        static_details=f"{process.title.en}, tracking code {case.tracking_code}",
    )


async def start_case_workflow(
    client: Client, task_queue: str, process: Process[Any], case: Case, form: BaseModel
) -> None:
    """Start the case's workflow; starting an already started (or finished) one is a no-op."""
    try:
        await begin_case_workflow(client, task_queue, process, case, form)
    except WorkflowAlreadyStartedError:
        pass


def case_handle(client: Client, case: Case) -> WorkflowHandle[Any, Any]:
    """The workflow handle of a case: every process answers the `CaseWorkflow` handlers, which
    callers name by method (`CaseWorkflow.complete_task`), so no process needs listing here."""
    return client.get_workflow_handle(case.workflow_id)


def task_handle(client: Client, task_id: str) -> WorkflowHandle[Any, Any]:
    """The workflow that opened a task, which takes its Updates: task ids are
    `{workflow id}:{step}:{number}` (workflows/human_task.py). Mostly the case's own workflow;
    for a process whose case is a tree (a SHAMS rollout), a county's or a site's."""
    return client.get_workflow_handle(task_id.rsplit(":", 2)[0])
