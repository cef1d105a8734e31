"""Side effects of process 3 (office-automation cartables): the letter's post found or created,
its changes with their timeline lines, the automation system's calls, the one-time links to the
credentials and the reminders to the unit's head.

Each write is keyed by the case and a timeline event key, so a retry changes nothing twice.
Personal data is read from the letter by case id, never carried in activity inputs; the sealed
password is never read here at all (only the API opens it, on the head's one-time page).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from temporalio import activity

from activities.case_records import close_carried_task, role_holders, write_line
from activities.notifications import EmailSender, SmsGateway
from activities.office_automation import OfficeAutomation
from db.handover import CaseSecret, HandoverLink
from db.models import Case, StoredFile
from db.office_automation import (
    AppointmentCase,
    EndOfAppointmentCase,
    Post,
    Signature,
    Unit,
    post_of,
    vacant_post,
    withdraw_signatures,
)
from domain.appointment import (
    AppointmentFacts,
    AutomationCall,
    AutomationRequest,
    HandoverPolicy,
    HeadReminder,
    IssuedLink,
    LinkRequest,
    PostChange,
    RevocationCall,
    RevocationChange,
    RevocationFacts,
    RevocationRequest,
)
from domain.calendar import format_jalali
from domain.cases import Role
from domain.handover import link_token, token_hash
from domain.office_automation import (
    AutomationGrant,
    AutomationPost,
    AutomationUser,
    CartablePermission,
    HandoverState,
    ManagementPermission,
    PostState,
)
from domain.outgoing import OutgoingMessage
from settings import Settings


def _now() -> datetime:
    return datetime.now(UTC)


class AppointmentActivities:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        sms: SmsGateway,
        email: EmailSender,
        automation: OfficeAutomation,
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._sms = sms
        self._email = email
        self._automation = automation

    def _session(self) -> Session:
        return Session(self._engine, expire_on_commit=False)

    def _letter(self, session: Session, case_id: int) -> AppointmentCase:
        letter = session.get(AppointmentCase, case_id)
        if letter is None:
            raise ValueError(f"no appointment letter for case {case_id}")
        return letter

    @activity.defn
    def open_appointment(self, case_id: int) -> AppointmentFacts:
        """The post the letter fills: one found before (a retry), a vacant one of its title in
        the unit (re-used), or a new one; the letter's file is kept with the case."""
        with self._session() as session:
            letter = self._letter(session, case_id)
            post = session.get(Post, letter.post_id) if letter.post_id is not None else None
            if post is None:
                post = vacant_post(session, letter.unit_code, letter.post_title) or Post(
                    unit_code=letter.unit_code,
                    title=letter.post_title,
                    is_manager=letter.is_manager,
                )
                post.state = PostState.being_created
                post.case_id = case_id
                post.is_manager = letter.is_manager
                post.updated_at = _now()
                session.add(post)
                session.flush()
                letter.post_id = post.id
                letter.handover_state = HandoverState.waiting
                session.add(letter)
                session.execute(
                    update(StoredFile)
                    .where(col(StoredFile.id) == letter.letter_file_id)
                    .values(case_id=case_id)
                    .execution_options(synchronize_session=False)
                )
                session.commit()
            unit = session.exec(select(Unit).where(Unit.code == letter.unit_code)).one()
            assert post.id is not None
            return AppointmentFacts(
                post_id=post.id,
                automation_code=post.automation_code,
                unit_name=unit.name,
                head_name=unit.head_name,
                policy=HandoverPolicy(
                    link_hours=self._settings.handover_link_hours,
                    reminder_hours=self._settings.handover_reminder_hours,
                ),
            )

    @activity.defn
    def claim_post_code(self, change: PostChange) -> bool:
        """The post's code in the automation system, unless another post has it: False then,
        and the admin is asked again. The task just decided is closed either way."""
        with self._session() as session:
            close_carried_task(session, change)
            session.commit()
            letter = self._letter(session, change.case_id)
            post = session.get(Post, letter.post_id)
            if post is None:
                raise ValueError(f"no post for case {change.case_id}")
            if post.automation_code == change.automation_code:
                return True
            post.automation_code = change.automation_code
            post.updated_at = _now()
            session.add(post)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                return False
            return True

    @activity.defn
    def record_post(self, change: PostChange) -> None:
        """Apply a change to the letter's post and record, and add its timeline line, once."""
        with self._session() as session:
            if not write_line(session, change):
                session.commit()  # the carried task's close, if this retry still had it
                return
            self._apply(session, change)
            session.commit()

    def _apply(self, session: Session, change: PostChange) -> None:
        now = _now()
        letter = self._letter(session, change.case_id)
        post = session.get(Post, letter.post_id)
        if post is None:
            raise ValueError(f"no post for case {change.case_id}")
        if change.signature_file_id is not None:
            session.add(
                Signature(
                    file_id=change.signature_file_id,
                    post_id=post.id or 0,
                    national_code=letter.national_code,
                    case_id=change.case_id,
                )
            )
            session.execute(
                update(StoredFile)
                .where(col(StoredFile.id) == change.signature_file_id)
                .values(case_id=change.case_id)
                .execution_options(synchronize_session=False)
            )
        if change.username is not None:
            letter.automation_username = change.username
        if change.handover_state is not None:
            letter.handover_state = change.handover_state
        if change.post_state is not None:
            post.state = change.post_state
        if change.held:
            post.state = PostState.held
            post.holder_national_code = letter.national_code
            post.holder_name = f"{letter.first_name} {letter.last_name}"
            post.held_from = letter.effective_date
            post.held_until = None
            post.case_id = None
        if change.released and post.state == PostState.being_created:
            post.state = PostState.vacant
            post.case_id = None
        if change.erase_secret:
            session.execute(
                update(CaseSecret)
                .where(col(CaseSecret.case_id) == change.case_id)
                .values(ciphertext=None, erased_at=now)
                .execution_options(synchronize_session=False)
            )
            session.execute(
                update(HandoverLink)
                .where(col(HandoverLink.case_id) == change.case_id)
                .values(expires_at=now)
                .execution_options(synchronize_session=False)
            )
        letter.updated_at = post.updated_at = now
        session.add(letter)
        session.add(post)

    @activity.defn
    def issue_link(self, request: LinkRequest) -> IssuedLink:
        """The case's `number`-th one-time link, by SMS (and e-mail) to the unit's head; it voids
        the one before. A retry sends the same link again to no one: the messages are keyed."""
        token = link_token(self._settings.secret_key, request.case_id, request.number)
        with self._session() as session:
            link = session.get(HandoverLink, request.case_id)
            if link is None or link.number < request.number:
                expires = _now() + timedelta(hours=self._settings.handover_link_hours)
                if link is None:
                    link = HandoverLink(
                        case_id=request.case_id, number=0, token_hash="", expires_at=expires
                    )
                link.number = request.number
                link.token_hash = token_hash(token)
                link.expires_at = expires
                link.issued_at = _now()
                link.failures, link.locked_at, link.viewed_at = 0, None, None
                session.add(link)
                session.commit()
            case = session.get(Case, request.case_id)
            letter = self._letter(session, request.case_id)
            unit = session.exec(select(Unit).where(Unit.code == letter.unit_code)).one()
        assert case is not None
        url = f"{self._settings.public_base_url}/handover/{token}"
        text = (
            f"{unit.head_name} گرامی، نام کاربری و رمز اولیه کارتابل اتوماسیون اداری"
            f" {letter.first_name} {letter.last_name} ({letter.post_title}) آماده است."
            f" پیوند یک‌بارمصرف تا {format_jalali(link.expires_at)}: {url}"
        )
        key = f"{case.workflow_id}:handover-link:{request.number}"
        self._sms.send(
            OutgoingMessage(
                message_key=f"{key}:sms", case_id=case.id, recipient=unit.head_mobile, body=text
            )
        )
        if unit.head_email:
            self._email.send(
                OutgoingMessage(
                    message_key=f"{key}:email",
                    case_id=case.id,
                    recipient=unit.head_email,
                    subject=f"تحویل کارتابل اتوماسیون — پرونده {case.tracking_code}",
                    body=text,
                )
            )
        return IssuedLink(expires_at=link.expires_at)

    @activity.defn
    def remind_head(self, reminder: HeadReminder) -> None:
        """SMS to the unit's head: the credentials were seen, receipt is not confirmed yet; on
        `escalate`, the IT supervisors are told too."""
        with self._session() as session:
            case = session.get(Case, reminder.case_id)
            letter = self._letter(session, reminder.case_id)
            unit = session.exec(select(Unit).where(Unit.code == letter.unit_code)).one()
            supervisors = (
                role_holders(session, Role.it_supervisor, None) if reminder.escalate else []
            )
        assert case is not None
        key = f"{case.workflow_id}:handover-reminder:{reminder.number}"
        self._sms.send(
            OutgoingMessage(
                message_key=f"{key}:sms",
                case_id=case.id,
                recipient=unit.head_mobile,
                body=(
                    f"{unit.head_name} گرامی، لطفاً دریافت نام کاربری کارتابل"
                    f" {letter.first_name} {letter.last_name} را در همان پیوند تایید کنید"
                    f" (پرونده {case.tracking_code})."
                ),
            )
        )
        for username, address in supervisors:
            self._email.send(
                OutgoingMessage(
                    message_key=f"{key}:{username}",
                    case_id=case.id,
                    recipient=address,
                    subject=f"تحویل کارتابل تایید نشده — پرونده {case.tracking_code}",
                    body=(
                        f"رئیس {unit.name} دریافت نام کاربری کارتابل {letter.first_name}"
                        f" {letter.last_name} را هنوز تایید نکرده است: پرونده {case.tracking_code}"
                        f" {self._settings.public_base_url}/cases/{case.tracking_code}"
                    ),
                )
            )

    @activity.defn
    async def call_automation(self, request: AutomationRequest) -> bool:
        """The automation system does it (True), or the admin's task did (False, by hand)."""
        letter = await asyncio.to_thread(self._read_letter, request.case_id)
        match request.call:
            case AutomationCall.create_post:
                return await self._automation.create_post(
                    AutomationPost(
                        automation_code=request.automation_code,
                        unit_code=letter.unit_code,
                        title=letter.post_title,
                        is_manager=letter.is_manager,
                    )
                )
            case AutomationCall.create_user:
                assert request.username is not None
                created = await self._automation.create_user(
                    AutomationUser(
                        automation_code=request.automation_code,
                        username=request.username,
                        national_code=letter.national_code,
                        first_name=letter.first_name,
                        last_name=letter.last_name,
                    )
                )
                granted = await self._automation.grant_permissions(
                    AutomationGrant(
                        automation_code=request.automation_code,
                        username=request.username,
                        permissions=request.permissions,
                    )
                )
                return created and granted

    # --- the reverse: لغو ابلاغ ------------------------------------------------------------

    @activity.defn
    def open_end_of_appointment(self, case_id: int) -> RevocationFacts:
        """The post the letter frees, marked as being revoked by this case, and its departing
        holder's cartable user (from the letter that appointed them)."""
        with self._session() as session:
            ending = session.get(EndOfAppointmentCase, case_id)
            if ending is None:
                raise ValueError(f"no end-of-appointment letter for case {case_id}")
            post = post_of(session, ending.unit_code, ending.post_id, ending.post_code)
            if post is None or post.id is None:
                raise ValueError(f"no post for case {case_id}")
            if post.state != PostState.being_revoked or post.case_id != case_id:
                post.state, post.case_id, post.updated_at = PostState.being_revoked, case_id, _now()
                ending.post_id = post.id
                session.add(post)
                session.add(ending)
                session.commit()
            appointed = session.exec(
                select(AppointmentCase)
                .where(AppointmentCase.post_id == post.id)
                .order_by(col(AppointmentCase.case_id).desc())
            ).first()
            return RevocationFacts(
                post_id=post.id,
                post_title=post.title,
                automation_code=post.automation_code,
                is_manager=post.is_manager,
                username=appointed.automation_username if appointed else None,
                holder_name=post.holder_name,
            )

    @activity.defn
    def record_revocation(self, change: RevocationChange) -> None:
        """A step of the reverse done on the post, and its timeline line, once."""
        with self._session() as session:
            if not write_line(session, change):
                session.commit()
                return
            ending = session.get(EndOfAppointmentCase, change.case_id)
            post = session.get(Post, ending.post_id) if ending is not None else None
            if ending is None or post is None or post.id is None:
                raise ValueError(f"no post for case {change.case_id}")
            if change.withdraw_signature:
                withdraw_signatures(session, post.id, change.case_id)
            if change.free_post:
                post.state = PostState.vacant
                post.holder_national_code = post.holder_name = None
                post.held_until, post.case_id = ending.end_date, None
            post.updated_at = ending.updated_at = _now()
            session.add(post)
            session.add(ending)
            session.commit()

    @activity.defn
    async def call_revocation(self, request: RevocationRequest) -> bool:
        """The automation system does it (True), or the admin's task did (False, by hand)."""
        match request.call:
            case RevocationCall.disable_user:
                assert request.username is not None
                return await self._automation.disable_user(
                    request.automation_code, request.username
                )
            case RevocationCall.revoke_permissions:
                assert request.username is not None
                every: list[CartablePermission | ManagementPermission] = [*CartablePermission]
                if request.is_manager:
                    every += [*ManagementPermission]
                return await self._automation.revoke_permissions(
                    AutomationGrant(
                        automation_code=request.automation_code,
                        username=request.username,
                        permissions=every,
                    )
                )
            case RevocationCall.free_post:
                return await self._automation.free_post(request.automation_code)

    def _read_letter(self, case_id: int) -> AppointmentCase:
        with self._session() as session:
            return self._letter(session, case_id)
