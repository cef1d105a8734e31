"""Outbound SMS and e-mail, each send made once per natural key through `OutboundMessage`.

Message bodies (and the recipients' addresses) may hold personal data: log only the key.
"""

from __future__ import annotations

import logging
from typing import Protocol

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from db.engine import insert_once
from db.models import OutboundMessage, utcnow
from domain.outgoing import Channel, OutgoingMessage
from settings import EmailSenderKind, Settings

log = logging.getLogger(__name__)


class SmsGateway(Protocol):
    def send(self, message: OutgoingMessage) -> bool:
        """Send unless already sent: True if it went out now, False if its key was sent before."""
        ...


class EmailSender(Protocol):
    def send(self, message: OutgoingMessage) -> bool:
        """Send unless already sent: True if it went out now, False if its key was sent before."""
        ...


def find_message(session: Session, message_key: str) -> OutboundMessage | None:
    return session.exec(
        select(OutboundMessage).where(OutboundMessage.message_key == message_key)
    ).first()


def record_message(
    engine: Engine, message: OutgoingMessage, channel: Channel, *, sent: bool
) -> bool:
    """Insert the message's row; False if a row with its key already exists (a retried send,
    or another worker's concurrent send of the same key, which the database settles)."""
    with engine.begin() as connection:
        return insert_once(
            connection,
            "outbound_messages",
            "message_key",
            {
                "message_key": message.message_key,
                "case_id": message.case_id,
                "channel": channel.value,
                "recipient": message.recipient,
                "subject": message.subject,
                "body": message.body,
                "sent_at": utcnow() if sent else None,
                "created_at": utcnow(),
            },
        )


def _record_local(engine: Engine, message: OutgoingMessage, channel: Channel) -> bool:
    sent = record_message(engine, message, channel, sent=True)
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


def make_sms_gateway(settings: Settings, engine: Engine) -> SmsGateway:
    """The configured SMS gateway; the local outbox is the only one so far."""
    return LocalSmsOutbox(engine)


def make_email_sender(settings: Settings, engine: Engine) -> EmailSender:
    """The e-mail sender chosen by `EMAIL_SENDER`."""
    if settings.email_sender is EmailSenderKind.smtp:
        # Imported here only: whoever imports this module (the API, through the workflows)
        # need not load smtplib.
        from activities.smtp_sender import SmtpEmailSender

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
