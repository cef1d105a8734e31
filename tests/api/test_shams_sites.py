"""One site stopped by the IT office: the Update goes to that site's workflow only; who may,
which site, and a site no longer under way. The workflow is stood in for by a scripted client
(tests/workflows/test_shams.py winds a real one down)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from db.case_store import workflow_id
from db.models import AuditEntry
from db.shams import County, Site, county_scope
from db.shams_progress import SiteRun
from domain.cases import CaseStatus, Role
from domain.shams import LinkType, SiteKind, SiteState
from domain.tasks import CancelCaseInput, TaskRefusal
from processes.shams import SHAMS

REASON = "نقطه در طرح دیگری متصل شد"


@dataclass
class ScriptedClient:
    """A Temporal client whose workflows take every cancel, or refuse it as already closed."""

    closed: set[str] = field(default_factory=set)
    cancels: list[tuple[str, CancelCaseInput]] = field(default_factory=list)

    def get_workflow_handle(self, workflow_id: str) -> ScriptedHandle:
        return ScriptedHandle(self, workflow_id)


@dataclass
class ScriptedHandle:
    client: ScriptedClient
    workflow_id: str

    async def execute_update(self, update: Any, arg: CancelCaseInput) -> CaseStatus:
        if self.workflow_id in self.client.closed:
            raise WorkflowUpdateFailedError(
                ApplicationError("closed", type=TaskRefusal.case_closed, non_retryable=True)
            )
        self.client.cancels.append((self.workflow_id, arg))
        return CaseStatus.cancelled


@pytest.fixture
def scripted(api: httpx.AsyncClient) -> ScriptedClient:
    client = ScriptedClient()
    api.app.state.temporal = client  # type: ignore[attr-defined]
    return client


@dataclass
class Rollout:
    rollout_id: str
    county: str
    codes: dict[str, str]
    """A short name → the site's code."""


def seed(engine: Engine, runs: dict[str, bool | None]) -> Rollout:
    """A county's sites in a rollout: name → its run ended (None: no run)."""
    tag = uuid.uuid4().hex[:6]
    rollout = Rollout(f"9{uuid.uuid4().int % 10**9:09d}", f"C{tag}", {})
    with Session(engine) as session:
        session.add(County(code=rollout.county, name=f"شبکه بهداشت {tag}"))
        for name, ended in runs.items():
            code = rollout.codes[name] = f"{name}{tag}"
            session.add(
                Site(
                    county_code=rollout.county,
                    site_code=code,
                    name=f"خانه بهداشت {code}",
                    kind=SiteKind.health_house,
                    address="روستای آزمون",
                    latitude=35.7,
                    longitude=51.4,
                    link_type=LinkType.adsl,
                    state=SiteState.sent_to_carrier,
                    rollout_id=rollout.rollout_id,
                )
            )
            if ended is not None:
                session.add(
                    SiteRun(
                        rollout_id=rollout.rollout_id,
                        county_code=rollout.county,
                        site_code=code,
                        step="range_site",
                        ended=ended,
                    )
                )
        session.commit()
    return rollout


def site_workflow_id(rollout: Rollout, name: str) -> str:
    return f"{workflow_id(SHAMS, rollout.rollout_id)}-{rollout.county}-{rollout.codes[name]}"


async def test_the_office_stops_one_site(
    api: httpx.AsyncClient, engine: Engine, make_user, scripted: ScriptedClient
) -> None:
    rollout = seed(engine, {"open": False, "other": False})
    office, headers = make_user(Role.it_office)
    code = rollout.codes["open"]
    answer = await api.post(
        f"/api/shams/sites/{code}/cancel", json={"reason": REASON}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["site_code"] == code
    assert [(w, c.reason, c.actor.username) for w, c in scripted.cancels] == [
        (site_workflow_id(rollout, "open"), REASON, office.username)
    ]
    assert Role.it_office in scripted.cancels[0][1].actor.roles
    with Session(engine) as session:
        entry = session.exec(
            select(AuditEntry).where(AuditEntry.action == "site.cancel", AuditEntry.target == code)
        ).one()
    assert entry.actor == office.username and entry.detail == {"reason": REASON}


async def test_only_the_office_and_admins_stop_a_site(
    api: httpx.AsyncClient, engine: Engine, make_user, scripted: ScriptedClient
) -> None:
    rollout = seed(engine, {"open": False})
    code = rollout.codes["open"]
    for roles, scopes in (
        ((Role.county_network,), (county_scope(rollout.county),)),
        ((Role.carrier,), ("*",)),
        ((Role.it_director,), ("*",)),
    ):
        _, headers = make_user(*roles, scopes=scopes)
        refused = await api.post(
            f"/api/shams/sites/{code}/cancel", json={"reason": REASON}, headers=headers
        )
        assert refused.status_code == 403, (roles, refused.text)
    assert scripted.cancels == []
    _, admin = make_user(Role.admin)
    taken = await api.post(
        f"/api/shams/sites/{code}/cancel", json={"reason": REASON}, headers=admin
    )
    assert taken.status_code == 200, taken.text


async def test_an_unknown_or_ended_site_is_refused(
    api: httpx.AsyncClient, engine: Engine, make_user, scripted: ScriptedClient
) -> None:
    rollout = seed(engine, {"ended": True, "never": None, "closing": False})
    scripted.closed.add(site_workflow_id(rollout, "closing"))
    _, headers = make_user(Role.it_office)
    en = {**headers, "Accept-Language": "en"}

    unknown = await api.post("/api/shams/sites/NO-SUCH/cancel", json={"reason": REASON}, headers=en)
    assert unknown.status_code == 404, unknown.text
    for name in ("ended", "never"):
        answer = await api.post(
            f"/api/shams/sites/{rollout.codes[name]}/cancel", json={"reason": REASON}, headers=en
        )
        assert answer.status_code == 409, answer.text
        assert answer.json()["code"] == "site_not_running"
    # The read model still shows it running; its workflow has ended meanwhile.
    closing = await api.post(
        f"/api/shams/sites/{rollout.codes['closing']}/cancel", json={"reason": REASON}, headers=en
    )
    assert closing.status_code == 409, closing.text
    short = await api.post(
        f"/api/shams/sites/{rollout.codes['closing']}/cancel", json={"reason": "x"}, headers=en
    )
    assert short.status_code == 422
    assert [e["field"] for e in short.json()["errors"]] == ["reason"]
    assert scripted.cancels == []
