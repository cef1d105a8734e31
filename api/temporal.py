"""Starting and addressing case workflows from the API."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from db.models import Case
from domain.cases import PROCESS_TITLES, ProcessKind
from domain.email_account import EmailAccountInput, EmailRequestForm
from settings import Settings
from workflows.email_account import EmailAccountWorkflow
from workflows.human_task import CaseWorkflow
from workflows.search_attributes import PROCESS_KIND, TRACKING_CODE


async def temporal_client(request: Request) -> Client:
    return request.app.state.temporal


async def begin_email_workflow(
    client: Client, task_queue: str, case: Case, form: EmailRequestForm
) -> WorkflowHandle[EmailAccountWorkflow, str]:
    """Start the case's workflow with its search attributes and summary; raises if started."""
    assert case.id is not None
    title_fa, title_en = PROCESS_TITLES[case.process]
    return await client.start_workflow(
        EmailAccountWorkflow.run,
        EmailAccountInput(
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
                SearchAttributePair(PROCESS_KIND, case.process.value),
                SearchAttributePair(TRACKING_CODE, case.tracking_code),
            ]
        ),
        static_summary=f"{title_fa} — کد پیگیری {case.tracking_code}",
        static_details=f"{title_en}, tracking code {case.tracking_code}",
    )


async def start_email_workflow(
    client: Client, settings: Settings, case: Case, form: EmailRequestForm
) -> None:
    """Start the case's workflow; starting an already started (or finished) one is a no-op."""
    try:
        await begin_email_workflow(client, settings.temporal_task_queue, case, form)
    except WorkflowAlreadyStartedError:
        pass


WORKFLOW_OF: dict[ProcessKind, type[CaseWorkflow]] = {
    ProcessKind.email_account: EmailAccountWorkflow,
}


def case_handle(client: Client, case: Case) -> WorkflowHandle[CaseWorkflow, Any]:
    """The workflow handle of a case; every process answers the CaseWorkflow handlers."""
    return client.get_workflow_handle_for(
        WORKFLOW_OF[case.process].run,  # type: ignore[attr-defined]
        case.workflow_id,
    )
