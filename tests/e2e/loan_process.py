"""A process that exists only in the tests: a laptop loan (امانت لپ‌تاپ), declared exactly as a
real process is, to prove that a process is a plug-in: its contract, workflow, activity, table
and declaration live here, and no shared module names it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field
from sqlalchemy import Engine
from sqlalchemy.orm import registry
from sqlmodel import Field as Column
from sqlmodel import SQLModel
from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from domain.cases import CaseOutcome, CaseStart, CaseStatus, Role
    from domain.tasks import Decision
    from domain.text import normalize_digits
    from processes.declaration import AnswerField, Process, Requester, Text, WorkerResources
    from workflows.human_task import CaseWorkflow, Step


class Device(StrEnum):
    laptop = "laptop"
    projector = "projector"


class LoanForm(BaseModel):
    """What the borrower fills in."""

    personnel_number: Annotated[str, BeforeValidator(normalize_digits)] = Field(
        pattern=r"^[0-9]{4,10}$", max_length=10, title="Personnel number"
    )
    """The tracking second factor."""
    full_name: str = Field(min_length=2, max_length=100, title="Full name")
    unit: str = Field(min_length=2, max_length=100, title="Unit")
    device: Device = Field(title="Device")
    days: int = Field(ge=1, le=30, title="Days")


class LoanStart(CaseStart):
    form: LoanForm


class LoanApproval(Decision):
    approved: bool = Field(title="Approved?")
    note: str | None = Field(default=None, max_length=200, title="Note")


class ReceiptConfirmation(Decision):
    """The borrower's word that the device reached them."""

    received: bool = Field(title="Received?")
    note: str | None = Field(default=None, max_length=200, title="Note")


class PickupRequest(BaseModel):
    case_id: int
    device: Device


APPROVE = Step(
    key="approve_loan",
    title_fa="تایید امانت",
    title_en="Approve the loan",
    role=Role.technician,
    decision=LoanApproval,
    sla_working_days=1,
)


CONFIRM_RECEIPT = Step(
    key="confirm_receipt",
    title_fa="تایید تحویل گرفتن وسیله",
    title_en="Confirm you received the device",
    role=Role.requester,
    decision=ReceiptConfirmation,
    sla_working_days=2,
)
"""Asked of the borrower on the tracking page (scope: the tracking code), as process 2's
"the requester confirms receipt" will be."""


class LoanActivities:
    @activity.defn
    def pickup_room(self, request: PickupRequest) -> str:
        """Where the device waits; the same answer however often it is asked."""
        return f"B-{100 + request.case_id % 7}"


@workflow.defn
class LoanWorkflow(CaseWorkflow):
    @workflow.run
    async def run(self, start: LoanStart) -> str:
        self.begin_case(start.case_id, start.tracking_code)
        context = {"tracking_code": start.tracking_code, **start.form.model_dump(mode="json")}
        decision, _ = await self.ask(APPROVE, context=context)
        if not decision.approved:
            await self.finish(CaseStatus.closed, CaseOutcome.refused, {"reason": decision.note})
            return CaseOutcome.refused
        room = await workflow.execute_activity_method(
            LoanActivities.pickup_room,
            PickupRequest(case_id=start.case_id, device=start.form.device),
            start_to_close_timeout=timedelta(seconds=10),
        )
        receipt, _ = await self.ask(
            CONFIRM_RECEIPT, context={"room": room}, scope=start.tracking_code
        )
        detail = {"room": room, "received": receipt.received, "note": receipt.note}
        await self.finish(CaseStatus.closed, CaseOutcome.done, detail)
        return CaseOutcome.done


class _LoanTables(SQLModel, registry=registry()):
    """Its own metadata: the product's migrations neither know nor check this table."""


class LoanRequest(_LoanTables, table=True):
    __tablename__ = "test_loan_requests"

    case_id: int = Column(primary_key=True)
    personnel_number: str = Column(max_length=10)
    full_name: str = Column(max_length=100)
    unit: str = Column(max_length=100)
    device: str = Column(max_length=20)
    days: int


def _activities(worker: WorkerResources) -> Sequence[Callable[..., Any]]:
    return [LoanActivities().pickup_room]


LOAN: Process[LoanForm] = Process(
    kind="test_laptop_loan",
    title=Text("امانت لپ‌تاپ", "Laptop loan"),
    description=Text("امانت گرفتن لپ‌تاپ یا ویدئوپروژکتور", "Borrow a laptop or a projector"),
    workflow=LoanWorkflow,
    workflow_input=LoanStart,
    start_form=LoanForm,
    form_table=LoanRequest,
    tables=(LoanRequest,),
    requester=lambda form: Requester(
        name=form.full_name, identity=form.personnel_number, unit=form.unit
    ),
    activities=_activities,
    workflow_id_prefix="loan",
    api_path="/api/loan-requests",
    web_path="/loan/new",
    answer_working_days=2,
    identity_field="personnel_number",
    answer_fields=(AnswerField("room", Text("محل تحویل", "Pickup room"), left_to_right=True),),
    labels={
        "personnel_number": Text("شماره پرسنلی", "Personnel number"),
        "device": Text("وسیله", "Device"),
        "device.laptop": Text("لپ‌تاپ", "Laptop"),
        "device.projector": Text("ویدئوپروژکتور", "Projector"),
        "days": Text("مدت (روز)", "Days"),
        "approved": Text("امانت تایید می‌شود؟", "Approved?"),
        "note": Text("توضیح", "Note"),
        "received": Text("وسیله را تحویل گرفتید؟", "Did you receive the device?"),
    },
    receipt_steps=(
        Text("کارشناس پشتیبانی درخواست را تایید می‌کند.", "Support approves it."),
        Text(
            "پس از تحویل، دریافت وسیله را در صفحه پیگیری تایید می‌کنید.",
            "Once you have it, you confirm receipt on the tracking page.",
        ),
    ),
)


@contextmanager
def loan_tables(engine: Engine) -> Iterator[None]:
    """What the loan process's migration would do, undone afterwards: the product's own schema
    check (tests/db/test_migrations.py) must not meet its table."""
    LoanRequest.metadata.create_all(engine)
    try:
        yield
    finally:
        LoanRequest.metadata.drop_all(engine)
