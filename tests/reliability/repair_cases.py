"""Repair cases (process 2) for the reliability tests: opened in bulk, decided by a script that
acts as the support lead, the technician, the vendor and the requester, and checked effect by
effect at the end: outcome, repair record, timeline, messages.

Half of them are repaired in-house (assess in-house → fixed → hand over → confirmed), the other
half by a vendor (assess → choose the vendor → received, with a promised date → repaired →
inspected and accepted with a cost → hand over → confirmed).
"""

from __future__ import annotations

import random
import re
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from db.case_store import open_case
from db.models import Case, CaseEvent, OutboundMessage, Task
from db.repair import RepairJob, Vendor, vendor_scope
from domain.cases import CaseStatus, EventKind, Role
from domain.repair import AssetKind, RepairForm, RepairOutcome, RepairPath, VendorReportKind
from domain.tasks import Actor
from processes.repair import REPAIR
from tests.reliability.harness import StartedCase

LEAD = Actor(username="reliability_lead", roles=[Role.support_lead], scopes=["*"])
TECHNICIAN = Actor(username="reliability_technician", roles=[Role.technician], scopes=["*"])
HANDED_TO = "مریم احمدی"


def vendor_actor(vendor_id: int) -> Actor:
    return Actor(
        username=f"vendor-{vendor_id}", roles=[Role.vendor], scopes=[vendor_scope(vendor_id)]
    )


@dataclass(frozen=True)
class RepairScript:
    """How one repair case is decided; also what it must have left behind at the end."""

    index: int
    workflow_id: str
    tracking_code: str
    mobile: str
    email: str
    vendor: Vendor | None
    """None: repaired in-house."""
    today: date

    @property
    def vendor_id(self) -> int:
        assert self.vendor is not None and self.vendor.id is not None
        return self.vendor.id

    @property
    def minutes(self) -> int:
        return 10 + self.index

    @property
    def cost(self) -> tuple[int, int, int]:
        """time, fixed and material rials the inspection records (distinct per case)."""
        return 1000 * self.index + 1, 2000 * self.index + 2, 3000 * self.index + 3

    @property
    def promised(self) -> date:
        return self.today + timedelta(days=30 + self.index % 7)

    def decide(
        self, step: str, number: int, form_schema: dict[str, Any]
    ) -> tuple[Actor, dict[str, Any]]:
        if step == "assess":
            return LEAD, {"in_house": self.vendor is None}
        if step == "repair_in_house" and self.vendor is None:
            return TECHNICIAN, {
                "fixed": True,
                "work_done": "تعویض غلتک",
                "minutes_spent": self.minutes,
            }
        if step == "choose_vendor" and self.vendor is not None:
            offered = form_schema["properties"]["vendor"]["enum"]
            assert str(self.vendor_id) in offered, f"vendor {self.vendor_id} not in {offered}"
            return LEAD, {
                "vendor": str(self.vendor_id),
                "dispatched_on": self.today.isoformat(),
                "taken_by": "پیک شرکت",
            }
        if step == "vendor_job" and self.vendor is not None and number == 1:
            return vendor_actor(self.vendor_id), {
                "kind": VendorReportKind.received.value,
                "promised_date": self.promised.isoformat(),
            }
        if step == "vendor_job" and self.vendor is not None and number == 2:
            return vendor_actor(self.vendor_id), {"kind": VendorReportKind.repaired.value}
        if step == "inspect" and self.vendor is not None:
            time_rials, fixed_rials, material_rials = self.cost
            return LEAD, {
                "accepted": True,
                "minutes": self.minutes,
                "cost_time_rials": time_rials,
                "cost_fixed_rials": fixed_rials,
                "cost_material_rials": material_rials,
            }
        if step == "hand_over":
            return TECHNICIAN, {"handed_to": HANDED_TO}
        if step == "confirm_receipt":
            requester = Actor(
                username="requester", roles=[Role.requester], scopes=[self.tracking_code]
            )
            return requester, {"received": True, "satisfaction": 1 + self.index % 5}
        raise AssertionError(f"repair case {self.tracking_code}: no decision for {step}:{number}")

    # --- what the case must have left behind ---

    @property
    def outcome(self) -> RepairOutcome:
        if self.vendor is None:
            return RepairOutcome.repaired_in_house
        return RepairOutcome.repaired_by_vendor

    @property
    def steps(self) -> dict[str, int]:
        """Task rows per step."""
        if self.vendor is None:
            return {"assess": 1, "repair_in_house": 1, "hand_over": 1, "confirm_receipt": 1}
        return {
            "assess": 1,
            "choose_vendor": 1,
            "vendor_job": 2,
            "inspect": 1,
            "hand_over": 1,
            "confirm_receipt": 1,
        }

    @property
    def job_changes(self) -> int:
        """record_job calls: in-house assessed, repaired; or dispatched, two vendor reports,
        accepted; then handed over and confirmed."""
        return 4 if self.vendor is None else 6

    @property
    def events(self) -> Counter[EventKind]:
        """The timeline: one stage per task asked and one per repair record change."""
        tasks = sum(self.steps.values())
        return Counter(
            {
                EventKind.submitted: 1,
                EventKind.stage: tasks + self.job_changes,
                EventKind.task_opened: tasks,
                EventKind.task_completed: tasks,
                EventKind.closed: 1,
            }
        )

    @property
    def messages(self) -> dict[str, tuple[str, str]]:
        """message_key → (channel, recipient) of every SMS and e-mail the case sends."""
        notices = (
            ["assessed_in_house", "ready"]
            if self.vendor is None
            else ["assessed_outsourced", "sent_to_vendor", "ready"]
        )
        sent: dict[str, tuple[str, str]] = {}
        for notice in notices:
            key = f"{self.workflow_id}:notice:{notice}"
            sent[f"{key}:sms"] = ("sms", self.mobile)
            sent[f"{key}:email"] = ("email", self.email)
        if self.vendor is not None:
            key = f"{self.workflow_id}:vendor:{self.vendor_id}:new_job:1"
            sent[f"{key}:sms"] = ("sms", self.vendor.mobile or "")
            sent[f"{key}:email"] = ("email", self.vendor.email or "")
        return sent

    @property
    def progress(self) -> int:
        """`harness.progress` of the finished case: its timeline and its messages."""
        return self.events.total() + len(self.messages)


def add_vendors(engine: Engine, count: int, rng: random.Random) -> list[Vendor]:
    """Active printer vendors, each with a mobile and an address for its notices."""
    tag = uuid.UUID(int=rng.getrandbits(128)).hex[:8]
    vendors = [
        Vendor(
            name=f"شرکت تعمیر {tag}-{n}",
            fields=[AssetKind.printer.value],
            contact_name="آقای رضایی",
            mobile=f"0912{rng.randrange(10**7):07d}",
            email=f"jobs-{tag}-{n}@vendor.example",
        )
        for n in range(count)
    ]
    with Session(engine, expire_on_commit=False) as session:
        session.add_all(vendors)
        session.commit()
    return vendors


def open_repair_cases(
    engine: Engine, count: int, vendors: list[Vendor], rng: random.Random
) -> list[StartedCase]:
    """`count` printer reports opened as the API opens them: even ones repaired in-house, odd
    ones by the vendors in turn."""
    today = datetime.now(UTC).date()
    cases: list[StartedCase] = []
    with Session(engine, expire_on_commit=False) as session:
        for index in range(count):
            form = RepairForm(
                personnel_number=f"{rng.randrange(10**8):08d}",
                mobile=f"0935{rng.randrange(10**7):07d}",
                email=f"staff{rng.randrange(10**9)}@university.example",
                full_name="مریم احمدی",
                unit="امور مالی",
                kind=AssetKind.printer,
                location="ساختمان ستاد، اتاق ۲۰۴",
                problem="چاپگر کاغذ را گیر می‌اندازد",
            )
            case = open_case(
                session,
                REPAIR,
                form,
                idempotency_key=None,
                answer_due_at=datetime.now(UTC) + timedelta(days=14),
            )
            assert case.id is not None and form.email is not None
            script = RepairScript(
                index=index,
                workflow_id=case.workflow_id,
                tracking_code=case.tracking_code,
                mobile=form.mobile,
                email=form.email,
                vendor=None if index % 2 == 0 else vendors[(index // 2) % len(vendors)],
                today=today,
            )
            cases.append(
                StartedCase(
                    case.id, case.tracking_code, case.workflow_id, form, case, REPAIR, script
                )
            )
        session.commit()
    return cases


def _script(case: StartedCase) -> RepairScript:
    assert isinstance(case.script, RepairScript)
    return case.script


def expected_outcomes(cases: list[StartedCase]) -> Counter[str]:
    return Counter(_script(c).outcome.value for c in cases)


def repairs_progress(cases: list[StartedCase]) -> int:
    """`harness.progress` of these repair cases once all are finished."""
    return sum(_script(c).progress for c in cases)


SENT_LINE = re.compile(r"\b(sms|email) (\S+): recorded$", re.MULTILINE)
"""What the local gateway logs when it records a message as sent (activities/notifications)."""


def assert_repairs_as_expected(
    engine: Engine, cases: list[StartedCase], worker_log: str = ""
) -> None:
    """Each repair case closed with its outcome; its repair record as decided; its task rows,
    timeline events and messages exactly the expected ones (none missing, none twice).

    `worker_log`: the worker's log over all its lives; no message may be recorded as sent twice
    there (a line can be lost with a kill, so only the upper bound is checked from it).
    """
    ids = [c.case_id for c in cases]
    problems: list[str] = []
    with Session(engine) as session:
        closed = {
            r[0]: (r[1], r[2])
            for r in session.exec(
                select(Case.id, Case.status, Case.outcome).where(col(Case.id).in_(ids))
            ).all()
        }
        jobs = {
            j.case_id: j
            for j in session.exec(select(RepairJob).where(col(RepairJob.case_id).in_(ids))).all()
        }
        tasks: defaultdict[int, Counter[str]] = defaultdict(Counter)
        for case_id, step in session.exec(
            select(Task.case_id, Task.step).where(col(Task.case_id).in_(ids))
        ).all():
            tasks[case_id][step] += 1
        events: defaultdict[int, list[tuple[str | None, EventKind]]] = defaultdict(list)
        for case_id, key, kind in session.exec(
            select(CaseEvent.case_id, CaseEvent.event_key, CaseEvent.kind).where(
                col(CaseEvent.case_id).in_(ids)
            )
        ).all():
            events[case_id].append((key, EventKind(kind)))
        messages: defaultdict[int, list[tuple[str, str, str]]] = defaultdict(list)
        for case_id, key, channel, recipient in session.exec(
            select(
                OutboundMessage.case_id,
                OutboundMessage.message_key,
                OutboundMessage.channel,
                OutboundMessage.recipient,
            ).where(col(OutboundMessage.case_id).in_(ids))
        ).all():
            assert case_id is not None
            messages[case_id].append((key, channel, recipient))
    logged = Counter(key for _, key in SENT_LINE.findall(worker_log))

    for case in cases:
        script = _script(case)
        where = f"repair case {case.case_id} ({case.workflow_id})"
        status, outcome = closed[case.case_id]
        if (status, outcome) != (CaseStatus.closed, script.outcome):
            problems.append(f"{where}: closed as {status}/{outcome}, expected {script.outcome}")
        if dict(tasks[case.case_id]) != script.steps:
            problems.append(f"{where}: task rows per step {dict(tasks[case.case_id])}")

        timeline = events[case.case_id]
        keys = Counter(key for key, _ in timeline)
        twice = {key: n for key, n in keys.items() if n > 1}
        if twice:
            problems.append(f"{where}: timeline event keys written more than once {twice}")
        kinds = Counter(kind for _, kind in timeline)
        if kinds != script.events:
            problems.append(f"{where}: timeline events per kind {dict(kinds)}")
        job_keys = {key for key in keys if key and key.startswith(f"{case.workflow_id}:job:")}
        expected_job_keys = {
            f"{case.workflow_id}:job:{n}" for n in range(1, script.job_changes + 1)
        }
        if job_keys != expected_job_keys:
            problems.append(f"{where}: repair record changes {sorted(job_keys)}")

        sent = messages[case.case_id]
        by_key = {key: (channel, recipient) for key, channel, recipient in sent}
        if len(sent) != len(by_key) or set(by_key) != set(script.messages):
            missing = sorted(set(script.messages) - set(by_key))
            extra = sorted(set(by_key) - set(script.messages))
            problems.append(
                f"{where}: {len(sent)} messages; missing {missing}; unexpected {extra}; "
                f"per channel {dict(Counter(channel for _, channel, _ in sent))}"
            )
        elif by_key != script.messages:
            problems.append(f"{where}: messages to the wrong recipients {by_key}")
        repeated = {key: logged[key] for key in script.messages if logged[key] > 1}
        if repeated:
            problems.append(f"{where}: the gateway recorded messages more than once {repeated}")

        job = jobs.get(case.case_id)
        if job is None:
            problems.append(f"{where}: no repair record")
            continue
        problems += [f"{where}: repair record: {p}" for p in _job_problems(job, script)]
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:40])


def _job_problems(job: RepairJob, script: RepairScript) -> list[str]:
    """What differs between a case's repair record and what its script decided."""
    delivered = {
        "handed_to": HANDED_TO,
        "delivered": True,
        "receipt_confirmed": True,
        "satisfaction": 1 + script.index % 5,
        "closed_without_answer": False,
        "send_backs": 0,
        "outcome": script.outcome,
    }
    if script.vendor is None:
        expected: dict[str, Any] = {
            "path": RepairPath.in_house,
            "vendor_id": None,
            "vendor_status": None,
            "promised_date": None,
            "cost": (script.minutes, 0, 0, 0),
            **delivered,
        }
    else:
        expected = {
            "path": RepairPath.vendor,
            "vendor_id": script.vendor_id,
            "dispatched_on": script.today,
            "vendor_status": VendorReportKind.repaired.value,
            "promised_date": script.promised,
            "cost": (script.minutes, *script.cost),
            **delivered,
        }
    found = {
        "path": job.path,
        "vendor_id": job.vendor_id,
        "dispatched_on": job.dispatched_on,
        "vendor_status": job.vendor_status,
        "promised_date": job.promised_date,
        "cost": (
            job.cost_minutes,
            job.cost_time_rials,
            job.cost_fixed_rials,
            job.cost_material_rials,
        ),
        "handed_to": job.handed_to,
        "delivered": job.delivered_at is not None,
        "receipt_confirmed": job.receipt_confirmed_at is not None,
        "satisfaction": job.satisfaction,
        "closed_without_answer": job.closed_without_answer,
        "send_backs": job.send_backs,
        "outcome": job.outcome,
    }
    return [
        f"{name} is {found[name]!r}, expected {value!r}"
        for name, value in expected.items()
        if found[name] != value
    ]
