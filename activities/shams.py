"""Side effects of the SHAMS rollout (process 4): the sites' and counties' progress in the read
model, the letter to the counties, the carrier's reminders, and the connection check.

Every write is idempotent by a natural key (an event key, a county or site of a rollout), so a
retry or a worker crash never writes a history line or a message twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select
from temporalio import activity

from activities.notifications import EmailSender, SmsGateway
from db.calendar import working_calendar
from db.models import Task, User
from db.shams import County, Site, SiteEvent
from db.shams_progress import CountyRun, SiteRun
from domain.calendar import to_jalali_date_str
from domain.cases import Role, TaskStatus
from domain.outgoing import OutgoingMessage
from domain.shams import EDITABLE_STATES, SITE_STATE_FA, SiteState
from domain.shams_process import (
    PROBE_TIMEOUT_SECONDS,
    CheckResult,
    CountyChange,
    CountyNotice,
    CountyQuery,
    CountyRef,
    CountySubmission,
    OpenSites,
    ProbeDeadline,
    ProbeResult,
    ProbeWindow,
    RolloutOpened,
    RolloutOpening,
    RolloutProgress,
    RolloutQuery,
    ShamsPolicy,
    SiteChange,
    SiteOutcome,
    SitesTaken,
    SitesWithdrawn,
)
from settings import Settings

CHUNK = 500
"""Codes per `IN (...)` list: well under SQLite's and PostgreSQL's parameter limits."""


def _now() -> datetime:
    return datetime.now(UTC)


def _chunks(codes: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(codes), CHUNK):
        yield codes[start : start + CHUNK]


def _cancel_open_tasks(session: Session, workflow_id: str) -> None:
    """A wound-down part's open tasks: its ids are `{workflow_id}:{step}:{n}`, a range of the
    primary key (`;` follows `:`), so this reads the part's few rows, not the case's many."""
    for task in session.exec(
        select(Task).where(
            col(Task.id) > f"{workflow_id}:",
            col(Task.id) < f"{workflow_id};",
            Task.status == TaskStatus.open,
        )
    ):
        task.status = TaskStatus.cancelled
        task.completed_at = _now()
        session.add(task)


def _event_written(session: Session, key: str) -> bool:
    return session.exec(select(SiteEvent.id).where(SiteEvent.event_key == key)).first() is not None


class ShamsActivities:
    def __init__(
        self, engine: Engine, settings: Settings, sms: SmsGateway, email: EmailSender
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._sms = sms
        self._email = email

    def _session(self) -> Session:
        return Session(self._engine, expire_on_commit=False)

    def _policy(self) -> ShamsPolicy:
        s = self._settings
        return ShamsPolicy(
            progress_check_minutes=s.shams_progress_check_minutes,
            carrier_reminder_working_days=s.shams_carrier_reminder_working_days,
            site_batch=s.shams_site_batch,
            probe_window_seconds=s.shams_probe_window_seconds,
            probe_pause_minutes=s.shams_probe_pause_minutes,
            probe_first_retry_seconds=s.shams_probe_first_retry_seconds,
            probe_max_retry_seconds=s.shams_probe_max_retry_seconds,
            probe_give_up_working_days=s.shams_probe_give_up_working_days,
            continue_as_new_after_events=s.shams_continue_as_new_after_events,
        )

    @activity.defn
    def open_rollout(self, opening: RolloutOpening) -> RolloutOpened:
        """The counties the approved letter goes to, each with its row on the board, and the
        settings the rollout runs under (fixed in its history from then on)."""
        with self._session() as session:
            query = select(County).where(col(County.active).is_(True))
            if opening.counties:
                query = query.where(col(County.code).in_(opening.counties))
            counties = session.exec(query.order_by(col(County.code))).all()
            known = {
                r.county_code
                for r in session.exec(
                    select(CountyRun).where(CountyRun.rollout_id == opening.rollout_id)
                )
            }
            for county in counties:
                if county.code not in known:
                    session.add(
                        CountyRun(
                            rollout_id=opening.rollout_id,
                            county_code=county.code,
                            answer_by=opening.answer_by,
                        )
                    )
            session.commit()
            return RolloutOpened(
                counties=[CountyRef(code=c.code, name=c.name) for c in counties],
                policy=self._policy(),
            )

    @activity.defn
    def notify_county(self, notice: CountyNotice) -> None:
        """The letter's SMS and e-mail to the county's network (once each)."""
        with self._session() as session:
            county = session.exec(select(County).where(County.code == notice.county_code)).one()
        key = f"shams-{notice.rollout_id}:{county.code}:letter"
        body = (
            f"شبکه بهداشت {county.name}: نامه دانشگاه درباره اتصال نقاط به شبکه ملی سلامت (شمس)"
            f" در کارتابل شماست. مهلت پاسخ: {to_jalali_date_str(notice.answer_by)}.\n"
            f"{self._settings.public_base_url}/tasks"
        )
        if county.mobile:
            self._sms.send(
                OutgoingMessage(
                    message_key=f"{key}:sms",
                    case_id=notice.case_id,
                    recipient=county.mobile,
                    body=body,
                )
            )
        if county.email:
            self._email.send(
                OutgoingMessage(
                    message_key=f"{key}:email",
                    case_id=notice.case_id,
                    recipient=county.email,
                    subject="اعلام نقاط شبکه برای اتصال به شمس",
                    body=body,
                )
            )

    @activity.defn
    def record_county(self, change: CountyChange) -> None:
        """The county's row on the board: its phase, its end."""
        with self._session() as session:
            run = session.exec(
                select(CountyRun).where(
                    CountyRun.rollout_id == change.rollout_id,
                    CountyRun.county_code == change.county_code,
                )
            ).one()
            if change.phase is not None:
                run.phase = change.phase
            run.ended = run.ended or change.ended
            run.cancelled = run.cancelled or change.cancelled
            run.updated_at = _now()
            session.add(run)
            if change.close_tasks_of is not None:
                _cancel_open_tasks(session, change.close_tasks_of)
            session.commit()

    @activity.defn
    def take_sites(self, submission: CountySubmission) -> SitesTaken:
        """The county's answer: its sites it may still send become submitted in this rollout;
        codes not in the register (or another county's, or already accepted) are named back."""
        known: list[str] = []
        with self._session() as session:
            for chunk in _chunks(submission.site_codes):
                sites = session.exec(select(Site).where(col(Site.site_code).in_(chunk))).all()
                for site in sites:
                    if site.county_code != submission.county_code:
                        continue
                    if site.state not in EDITABLE_STATES | {SiteState.closed_not_feasible}:
                        continue
                    known.append(site.site_code)
                    key = f"{submission.event_key}:{site.site_code}"
                    if _event_written(session, key):
                        continue
                    site.state = SiteState.submitted
                    site.rollout_id = submission.rollout_id
                    site.updated_at = _now()
                    session.add(site)
                    assert site.id is not None
                    session.add(
                        SiteEvent(
                            site_id=site.id,
                            state=SiteState.submitted,
                            actor=submission.actor,
                            note="ارسال به دانشگاه برای بررسی",
                            event_key=key,
                        )
                    )
            session.commit()
        found = set(known)
        return SitesTaken(
            known=[c for c in submission.site_codes if c in found],
            unknown=[c for c in submission.site_codes if c not in found],
        )

    @activity.defn
    def record_check(self, result: CheckResult) -> None:
        """The university's check: accepted sites get a run row (so the county counts them
        open before their workflows start); returned ones go back with their reason."""
        reasons = {r.site_code: r.reason for r in result.returned}
        codes = result.accepted + list(reasons)
        with self._session() as session:
            runs = {
                r.site_code: r
                for chunk in _chunks(result.accepted)
                for r in session.exec(
                    select(SiteRun).where(
                        SiteRun.rollout_id == result.rollout_id, col(SiteRun.site_code).in_(chunk)
                    )
                )
            }
            for chunk in _chunks(codes):
                for site in session.exec(select(Site).where(col(Site.site_code).in_(chunk))):
                    key = f"{result.event_key}:{site.site_code}"
                    if _event_written(session, key):
                        continue
                    reason = reasons.get(site.site_code)
                    site.state = (
                        SiteState.accepted if reason is None else SiteState.returned_to_county
                    )
                    site.updated_at = _now()
                    session.add(site)
                    assert site.id is not None
                    session.add(
                        SiteEvent(
                            site_id=site.id,
                            state=site.state,
                            actor=result.actor,
                            note=reason or "تایید اطلاعات نقطه توسط دانشگاه",
                            event_key=key,
                        )
                    )
                    if reason is not None:
                        continue
                    run = runs.get(site.site_code) or SiteRun(
                        rollout_id=result.rollout_id,
                        county_code=result.county_code,
                        site_code=site.site_code,
                        step="accepted",
                    )
                    run.step, run.ended, run.outcome, run.updated_at = (
                        "accepted",
                        False,
                        None,
                        _now(),
                    )
                    session.add(run)
            session.commit()

    @activity.defn
    def record_site(self, change: SiteChange) -> None:
        """A site's state change and history line; its run's step (and end)."""
        with self._session() as session:
            if _event_written(session, change.event_key):
                return
            site = session.exec(select(Site).where(Site.site_code == change.site_code)).one()
            site.state = change.state
            for name in ("exchange", "link_type", "router_host", "router_port"):
                value = getattr(change, name)
                if value is not None:
                    setattr(site, name, value)
            site.updated_at = _now()
            session.add(site)
            assert site.id is not None
            session.add(
                SiteEvent(
                    site_id=site.id,
                    state=change.state,
                    actor=change.actor,
                    note=change.note_fa or SITE_STATE_FA[change.state],
                    event_key=change.event_key,
                )
            )
            run = session.exec(
                select(SiteRun).where(
                    SiteRun.rollout_id == change.rollout_id, SiteRun.site_code == change.site_code
                )
            ).first() or SiteRun(
                rollout_id=change.rollout_id,
                county_code=change.county_code,
                site_code=change.site_code,
                step=change.step,
            )
            run.step = change.step
            if change.registration_number is not None:
                run.registration_number = change.registration_number
            if change.outcome is not None:
                run.ended, run.outcome = True, change.outcome
            run.updated_at = _now()
            session.add(run)
            if change.close_tasks_of is not None:
                _cancel_open_tasks(session, change.close_tasks_of)
            session.commit()

    @activity.defn
    def withdraw_sites(self, withdrawn: SitesWithdrawn) -> None:
        """End the runs of sites no workflow will end: the county's wind-down reaches them."""
        with self._session() as session:
            for chunk in _chunks(withdrawn.site_codes):
                runs = session.exec(
                    select(SiteRun).where(
                        SiteRun.rollout_id == withdrawn.rollout_id,
                        col(SiteRun.site_code).in_(chunk),
                        col(SiteRun.ended).is_(False),
                    )
                ).all()
                sites = {
                    s.site_code: s
                    for s in session.exec(select(Site).where(col(Site.site_code).in_(chunk)))
                }
                for run in runs:
                    run.ended, run.outcome, run.updated_at = True, SiteOutcome.withdrawn, _now()
                    session.add(run)
                    site = sites[run.site_code]
                    assert site.id is not None
                    key = f"{withdrawn.event_key}:{run.site_code}"
                    if not _event_written(session, key):
                        session.add(
                            SiteEvent(
                                site_id=site.id,
                                state=site.state,
                                actor=withdrawn.actor,
                                note=f"خاتمه پیگیری نقطه: {withdrawn.reason}",
                                event_key=key,
                            )
                        )
            session.commit()

    @activity.defn
    def open_sites(self, query: CountyQuery) -> OpenSites:
        """How many of the county's site workflows still run, and a page of their codes."""
        where = (
            SiteRun.rollout_id == query.rollout_id,
            SiteRun.county_code == query.county_code,
            col(SiteRun.ended).is_(False),
        )
        with self._session() as session:
            count = session.exec(select(func.count()).select_from(SiteRun).where(*where)).one()
            codes = session.exec(
                select(SiteRun.site_code)
                .where(*where, col(SiteRun.site_code) > query.after)
                .order_by(col(SiteRun.site_code))
                .limit(query.limit)
            ).all()
        return OpenSites(open=count, codes=list(codes))

    @activity.defn
    def rollout_progress(self, query: RolloutQuery) -> RolloutProgress:
        """The rollout's counts, and whether the carrier's reminder is due (working days)."""
        with self._session() as session:
            counties_open = session.exec(
                select(func.count())
                .select_from(CountyRun)
                .where(CountyRun.rollout_id == query.rollout_id, col(CountyRun.ended).is_(False))
            ).one()
            by_state = dict(
                session.exec(
                    select(Site.state, func.count())
                    .where(Site.rollout_id == query.rollout_id)
                    .group_by(col(Site.state))
                ).all()
            )
            calendar = working_calendar(session, self._settings, query.now.date())
        waiting = by_state.get(SiteState.sent_to_carrier, 0)
        next_at, due = query.next_carrier_reminder, False
        if not waiting:
            next_at = None
        elif next_at is None:
            next_at = calendar.add_working_days(query.now, query.carrier_reminder_working_days)
        elif query.now >= next_at:
            due = True
            next_at = calendar.add_working_days(query.now, query.carrier_reminder_working_days)
        return RolloutProgress(
            counties_open=counties_open,
            sites_total=sum(by_state.values()),
            sites_connected=by_state.get(SiteState.connected, 0),
            sites_closed=by_state.get(SiteState.closed_not_feasible, 0),
            awaiting_ranging=waiting,
            next_carrier_reminder=next_at,
            remind_carrier_now=due,
        )

    @activity.defn
    def remind_carrier(self, progress: RolloutProgress) -> None:
        """One digest to the carrier's users, however many sites wait (not one per site)."""
        info = activity.info()
        key = f"{info.workflow_id}:carrier-reminder:{progress.next_carrier_reminder}"
        with self._session() as session:
            users = session.exec(
                select(User).where(col(User.is_active).is_(True), col(User.email).is_not(None))
            ).all()
        for user in users:
            if Role.carrier in user.roles and user.email:
                self._email.send(
                    OutgoingMessage(
                        message_key=f"{key}:{user.username}",
                        recipient=user.email,
                        subject="یادآوری: نقاط در انتظار رانژه",
                        body=(
                            f"{progress.awaiting_ranging} نقطه شبکه بهداشت در انتظار اعلام"
                            " امکان ارتباط (رانژه) است.\n"
                            f"{self._settings.public_base_url}/tasks"
                        ),
                    )
                )

    @activity.defn
    def probe_deadline(self, deadline: ProbeDeadline) -> datetime:
        """When the connection check gives up: working days by the university's calendar."""
        with self._session() as session:
            calendar = working_calendar(session, self._settings, deadline.start.date())
        return calendar.add_working_days(deadline.start, deadline.working_days)

    @activity.defn
    async def probe(self, window: ProbeWindow) -> ProbeResult:
        """One attempt window: TCP-connect to the site's router with backoff until it answers
        or the window ends. Heartbeats carry the probes so far, so a retry (after a worker
        crash) goes on counting; the window is measured from this attempt's start."""
        details = activity.info().heartbeat_details
        probes = int(details[0]) if details else 0
        ends = time.monotonic() + window.seconds
        wait = window.first_retry_seconds
        error: str | None = None
        while True:
            probes += 1
            try:
                _, writer = await asyncio.wait_for(
                    asyncio.open_connection(window.host, window.port),
                    timeout=PROBE_TIMEOUT_SECONDS,
                )
            except (OSError, TimeoutError) as failed:
                error = type(failed).__name__
            else:
                writer.close()
                await writer.wait_closed()
                return ProbeResult(connected=True, probes=probes)
            activity.heartbeat(probes)
            left = ends - time.monotonic()
            if left <= 0:
                return ProbeResult(connected=False, probes=probes, last_error=error)
            await asyncio.sleep(min(wait, left))
            wait = min(wait * 2, window.max_retry_seconds)
