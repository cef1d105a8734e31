"""E-mail through an SMTP relay: the real `EmailSender`, chosen by `EMAIL_SENDER=smtp`.

In a module of its own so that only the worker that sends loads smtplib.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from activities.notifications import EmailSender, find_message, record_message
from db.models import OutboundMessage, utcnow
from domain.outgoing import Channel, OutgoingMessage

log = logging.getLogger(__name__)

SMTP_TIMEOUT_SECONDS = 30.0


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
        record_message(self._engine, message, Channel.email, sent=False)
        with Session(self._engine) as session:
            row = find_message(session, message.message_key)
            if row is not None and row.sent_at is not None:
                log.info("email %s: already sent", message.message_key)
                return False
        self._deliver(self._compose(message))
        with Session(self._engine) as session:
            session.exec(
                update(OutboundMessage)
                .where(col(OutboundMessage.message_key) == message.message_key)
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
