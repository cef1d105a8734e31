"""Side effects of process 1 (university e-mail): registry check, mailbox, the answer.

Activities read the person's data from the system of record by case id, so personal data is not
copied into activity inputs; each write is keyed by the case.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.mail_directory import MailboxSpec, MailDirectory, UsernameTaken
from activities.notifications import EmailSender, SmsGateway
from db.models import Case, CredentialReveal, EmailRequest, MailAccount, Person
from domain.credentials import CredentialVault, generate_password
from domain.email_account import (
    USERNAME_TAKEN,
    AnswerKind,
    EmailAnswer,
    MailboxCreated,
    MailboxRequest,
    RegistryMatch,
    RequestChecks,
    UsernameCheck,
    UsernameQuery,
)
from domain.identity import suggest_usernames
from domain.outgoing import OutgoingMessage
from settings import Settings

REVEAL_VALID_FOR = timedelta(days=14)


class EmailAccountActivities:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        directory: MailDirectory,
        sms: SmsGateway,
        email: EmailSender,
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._directory = directory
        self._sms = sms
        self._email = email
        self._vault = CredentialVault(settings.encryption_keys())

    def _request(self, session: Session, case_id: int) -> EmailRequest:
        request = session.get(EmailRequest, case_id)
        if request is None:
            raise ValueError(f"no e-mail request for case {case_id}")
        return request

    def _taken(self, query: UsernameQuery) -> bool:
        """Taken by a mailbox of another case (ours, made before a crash, is not)."""
        with Session(self._engine) as session:
            ours = session.exec(
                select(MailAccount.id).where(
                    MailAccount.username == query.username, MailAccount.case_id != query.case_id
                )
            )
            if ours.first() is not None:
                return True
        return self._directory.is_taken(query.username, query.tracking_code)

    @activity.defn
    def check_request(self, case_id: int) -> RequestChecks:
        """After review: the registry for the person, the directory for the asked username."""
        with Session(self._engine) as session:
            request = self._request(session, case_id)
            registry = self._registry_match(session, request)
            case = session.get(Case, case_id)
            assert case is not None
        query = UsernameQuery(
            case_id=case_id, tracking_code=case.tracking_code, username=request.requested_username
        )
        return RequestChecks(registry=registry, username=self._username(query))

    def _registry_match(self, session: Session, request: EmailRequest) -> RegistryMatch:
        """تایید هویت: the person registry has this national code with this member id."""
        person = session.exec(
            select(Person).where(
                Person.national_code == request.national_code,
                Person.member_id == request.member_id,
            )
        ).first()
        if person is None:
            return RegistryMatch(found=False, detail="not in the registry")
        if not person.is_active:
            return RegistryMatch(found=False, detail="inactive in the registry")
        if person.affiliation != request.affiliation:
            return RegistryMatch(found=False, detail="affiliation differs from the registry")
        return RegistryMatch(found=True, detail=f"{person.first_name} {person.last_name}")

    @activity.defn
    def check_username(self, query: UsernameQuery) -> UsernameCheck:
        """The username again, after a person chose another or it was taken meanwhile."""
        return self._username(query)

    def _username(self, query: UsernameQuery) -> UsernameCheck:
        if not self._taken(query):
            return UsernameCheck(available=True)
        return UsernameCheck(
            available=False,
            alternatives=suggest_usernames(
                "",
                "",
                query.username,
                lambda name: self._taken(query.model_copy(update={"username": name})),
                5,
            ),
        )

    @activity.defn
    def create_mailbox(self, request: MailboxRequest) -> MailboxCreated:
        """ایجاد ایمیل: one mailbox per case; its first password is sealed for a one-time reveal."""
        with Session(self._engine) as session:
            existing = session.exec(
                select(MailAccount).where(MailAccount.case_id == request.case_id)
            ).first()
            if existing is not None:
                return MailboxCreated(address=existing.address)
            person = self._request(session, request.case_id)
        address = f"{request.username}@{self._settings.mail_domain}"
        password = generate_password()
        try:
            self._directory.create_mailbox(
                MailboxSpec(
                    username=request.username,
                    address=address,
                    first_name=person.first_name,
                    last_name=person.last_name,
                    owner_ref=request.tracking_code,
                ),
                password,
            )
        except UsernameTaken:
            raise ApplicationError(
                f"{request.username} was taken meanwhile", type=USERNAME_TAKEN, non_retryable=True
            ) from None
        with Session(self._engine) as session:
            session.add(
                MailAccount(case_id=request.case_id, username=request.username, address=address)
            )
            reveal = session.get(CredentialReveal, request.case_id) or CredentialReveal(
                case_id=request.case_id, expires_at=datetime.now(UTC) + REVEAL_VALID_FOR
            )
            reveal.ciphertext = self._vault.seal(request.tracking_code, password)
            session.add(reveal)
            session.commit()
        return MailboxCreated(address=address)

    @activity.defn
    def send_answer(self, answer: EmailAnswer) -> None:
        """ارسال پاسخ به کاربر: SMS always, e-mail when the person gave an address."""
        with Session(self._engine) as session:
            request = self._request(session, answer.case_id)
            case = session.get(Case, answer.case_id)
            assert case is not None
        subject, body = self._compose(answer)
        key = f"{case.workflow_id}:answer"
        self._sms.send(
            OutgoingMessage(
                message_key=f"{key}:sms",
                case_id=answer.case_id,
                recipient=request.mobile,
                body=body,
            )
        )
        if request.personal_email:
            self._email.send(
                OutgoingMessage(
                    message_key=f"{key}:email",
                    case_id=answer.case_id,
                    recipient=request.personal_email,
                    subject=subject,
                    body=body,
                )
            )

    def _compose(self, answer: EmailAnswer) -> tuple[str, str]:
        track_url = f"{self._settings.public_base_url}/track"
        code = answer.tracking_code
        if answer.kind == AnswerKind.created:
            return (
                "ایمیل دانشگاهی شما ایجاد شد",
                f"ایمیل دانشگاهی شما ایجاد شد: {answer.address}\n"
                f"گذرواژه اولیه را یک بار با کد پیگیری {code} و کد ملی خود در {track_url} "
                "ببینید و پس از ورود تغییر دهید.",
            )
        if answer.kind == AnswerKind.refused:
            return (
                "درخواست ایمیل دانشگاهی شما پذیرفته نشد",
                f"درخواست ایمیل دانشگاهی شما (کد پیگیری {code}) پذیرفته نشد.\n"
                f"دلیل: {answer.reason}\nجزئیات: {track_url}",
            )
        return (
            "درخواست ایمیل دانشگاهی شما لغو شد",
            f"درخواست ایمیل دانشگاهی شما (کد پیگیری {code}) لغو شد.\nدلیل: {answer.reason}",
        )
