"""Outbound SMS and e-mail, each send made once per natural key through `OutboundMessage`.

Message bodies (and the recipients' addresses) may hold personal data: log only the key.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from db.models import OutboundMessage, utcnow
from settings import EmailSenderKind, Settings

log = logging.getLogger(__name__)

SMTP_TIMEOUT_SECONDS = 30.0


class Channel(StrEnum):
    sms = "sms"
    email = "email"


class OutgoingMessage(BaseModel):
    """One SMS or e-mail to send; the same `message_key` always means the same message."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    message_key: str = Field(min_length=1, max_length=200)
    """Natural key making a retried send go out once, e.g. `email-ABC123:answer:sms`."""
    case_id: int | None = None
    """The case the message is about, if any."""
    recipient: str = Field(min_length=1, max_length=200)
    """A mobile number for SMS, an address for e-mail."""
    subject: str = Field(default="", max_length=300)
    """E-mail subject; unused for SMS."""
    body: str = Field(max_length=4000, repr=False)
    """The text (Persian); kept out of repr so it never reaches a log line."""


class SmsGateway(Protocol):
    def send(self, message: OutgoingMessage) -> bool:
        """Send unless already sent: True if it went out now, False if its key was sent before."""
        ...


class EmailSender(Protocol):
    def send(self, message: OutgoingMessage) -> bool:
        """Send unless already sent: True if it went out now, False if its key was sent before."""
        ...


def _find(session: Session, message_key: str) -> OutboundMessage | None:
    return session.exec(
        select(OutboundMessage).where(OutboundMessage.message_key == message_key)
    ).first()


def _record(engine: Engine, message: OutgoingMessage, channel: Channel, *, sent: bool) -> bool:
    """Insert the message's row; False if a row with its key already exists."""
    with Session(engine) as session:
        if _find(session, message.message_key) is not None:
            return False
        session.add(
            OutboundMessage(
                message_key=message.message_key,
                case_id=message.case_id,
                channel=channel.value,
                recipient=message.recipient,
                subject=message.subject,
                body=message.body,
                sent_at=utcnow() if sent else None,
            )
        )
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            # A concurrent send of the same key won the insert; any other violation
            # (an unknown case_id) is a real error.
            if _find(session, message.message_key) is None:
                raise
            return False
    return True


def _record_local(engine: Engine, message: OutgoingMessage, channel: Channel) -> bool:
    sent = _record(engine, message, channel, sent=True)
    log.info("%s %s: %s", channel, message.message_key, "recorded" if sent else "already sent")
    return sent


class LocalSmsOutbox(SmsGateway):
    """The default gateway: the message is recorded as sent, for the outbox page to show."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def send(self, message: OutgoingMessage) -> bool:
        return _record_local(self._engine, message, Channel.sms)


class LocalEmailOutbox(EmailSender):
    """The default e-mail sender: the message is recorded as sent, nothing leaves the host."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def send(self, message: OutgoingMessage) -> bool:
        return _record_local(self._engine, message, Channel.email)


def _message_id(message_key: str, domain: str) -> str:
    # A crash between sending and setting sent_at resends the message; the same
    # Message-ID lets the receiving side drop the copy.
    digest = hashlib.sha256(message_key.encode()).hexdigest()[:40]
    return f"<{digest}.peygir@{domain}>"


class SmtpEmailSender(EmailSender):
    """Sends through an SMTP relay; `sent_at` is set only once the relay has taken the message.

    Any SMTP or network failure raises, so the Temporal activity retries.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        host: str,
        port: int,
        sender: str,
        username: str = "",
        password: str = "",
        starttls: bool = False,
        timeout: float = SMTP_TIMEOUT_SECONDS,
    ) -> None:
        self._engine = engine
        self._host = host
        self._port = port
        self._sender = sender
        self._username = username
        self._password = password
        self._starttls = starttls
        self._timeout = timeout
        self._domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"

    def send(self, message: OutgoingMessage) -> bool:
        _record(self._engine, message, Channel.email, sent=False)
        with Session(self._engine) as session:
            row = _find(session, message.message_key)
            if row is not None and row.sent_at is not None:
                log.info("email %s: already sent", message.message_key)
                return False
        self._deliver(self._compose(message))
        with Session(self._engine) as session:
            session.exec(
                update(OutboundMessage)
                .where(OutboundMessage.message_key == message.message_key)
                .where(col(OutboundMessage.sent_at).is_(None))
                .values(sent_at=utcnow())
            )
            session.commit()
        log.info("email %s: sent", message.message_key)
        return True

    def _compose(self, message: OutgoingMessage) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self._sender
        mail["To"] = message.recipient
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(usegmt=True)
        mail["Message-ID"] = _message_id(message.message_key, self._domain)
        # base64 keeps the Persian text 7-bit clean for relays without 8BITMIME.
        mail.set_content(message.body, charset="utf-8", cte="base64")
        return mail

    def _deliver(self, mail: EmailMessage) -> None:
        with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
            if self._starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self._username:
                smtp.login(self._username, self._password)
            smtp.send_message(mail)


def make_sms_gateway(settings: Settings, engine: Engine) -> SmsGateway:
    """The configured SMS gateway; the local outbox is the only one so far."""
    return LocalSmsOutbox(engine)


def make_email_sender(settings: Settings, engine: Engine) -> EmailSender:
    """The e-mail sender chosen by `EMAIL_SENDER`."""
    if settings.email_sender is EmailSenderKind.smtp:
        return SmtpEmailSender(
            engine,
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
        )
    return LocalEmailOutbox(engine)
