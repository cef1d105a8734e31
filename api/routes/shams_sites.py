"""A site's own actions in its rollout: the IT office stops one site with a reason.

The site's workflow winds down as it does when its rollout is cancelled (its open tasks close,
its history says who stopped it and why); the rollout and the site's county go on.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session, select

from api.audit import record
from api.blocking import run_blocking
from api.errors import ApiError, documented, lang_of
from api.routes.cases import CancelRequest
from api.routes.shams_carrier import site_workflow
from api.routes.shams_register import SiteDetail, site_detail
from api.routes.tasks import ClientDep, run_update
from api.security import SessionDep, actor_of, require_role
from db.models import User
from db.shams import Site
from db.shams_progress import SiteRun
from domain.cases import Role
from domain.tasks import CancelCaseInput
from domain.text import normalize_text
from workflows.human_task import CaseWorkflow
from workflows.shams_site import SiteWorkflow

SITE_CANCELLERS = tuple(SiteWorkflow.cancelled_by - {Role.admin})
"""Who may stop one site (admins always may): the site workflow's own rule."""

router = APIRouter(prefix="/api/shams", tags=["shams register"], responses=documented(401, 403))


def running_site(session: Session, site_code: str) -> str:
    """The workflow id of the site's run in its rollout: 404 if the site is unknown, 409 if
    no run of it is under way."""
    site = session.exec(select(Site).where(Site.site_code == normalize_text(site_code))).first()
    if site is None:
        raise ApiError(404, "not_found")
    run = None
    if site.rollout_id is not None:
        run = session.exec(
            select(SiteRun).where(
                SiteRun.rollout_id == site.rollout_id, SiteRun.site_code == site.site_code
            )
        ).first()
    if site.rollout_id is None or run is None or run.ended:
        raise ApiError(409, "site_not_running")
    return site_workflow(site.rollout_id, site.county_code, site.site_code)


@router.post(
    "/sites/{site_code}/cancel",
    response_model=SiteDetail,
    responses=documented(404, 409, 503),
    summary="Stop one site of its rollout, with a reason",
)
async def cancel_site(
    site_code: str,
    body: CancelRequest,
    request: Request,
    user: Annotated[User, Depends(require_role(*SITE_CANCELLERS))],
    session: SessionDep,
    client: ClientDep,
) -> SiteDetail:
    """The site's workflow winds down: its open tasks close and its history names who stopped
    it and why; the rest of the rollout goes on. 409 when the site is not under way."""
    wid = await run_blocking(running_site, session, site_code)
    await run_update(
        client,
        session,
        wid,
        CaseWorkflow.cancel_case,
        CancelCaseInput(actor=actor_of(user), reason=body.reason),
        lang_of(request),
    )
    await run_blocking(record, session, request, user, "site.cancel", site_code, reason=body.reason)
    return await run_blocking(site_detail, session, user, site_code)
