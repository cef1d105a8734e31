import logging
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, select

from activities import notifications
from activities.notifications import (
    EmailSender,
    LocalEmailOutbox,
    LocalSmsOutbox,
    SmsGateway,
    make_email_sender,
    make_sms_gateway,
)
from activities.smtp_sender import SmtpEmailSender
from db.engine import make_engine
from db.models import Case, OutboundMessage
from domain.outgoing import Channel, OutgoingMessage
from settings import Settings

SENDER = "it-noreply@university.ac.ir"
SUBJECT = "پاسخ درخواست ایمیل دانشگاهی"
BODY = "سلام آقای رضایی،\nنشانی ایمیل شما ali.rezaei@university.ac.ir ساخته شد. کد پیگیری: ۱۲۳۴"


def _new_engine(path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    SQLModel.metadata.create_all(engine)
    return engine


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = _new_engine(tmp_path / "peygir.db")
    yield engine
    engine.dispose()


@pytest.fixture
def case_id(engine: Engine) -> int:
    with Session(engine) as session:
        case = Case(
            tracking_code="ABC123",
            process="email_account",
            workflow_id="email-ABC123",
        )
        session.add(case)
        session.commit()
        assert case.id is not None
        return case.id


def _message(key: str = "email-ABC123:answer:email", case_id: int | None = None) -> OutgoingMessage:
    return OutgoingMessage(
        message_key=key,
        case_id=case_id,
        recipient="ali.rezaei@gmail.com",
        subject=SUBJECT,
        body=BODY,
    )


def _rows(engine: Engine) -> list[OutboundMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboundMessage)).all())


class Collector:
    """An aiosmtpd handler keeping every envelope it accepts."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.logins: list[bytes] = []

    async def handle_DATA(self, server, session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        if isinstance(session.auth_data, LoginPassword):
            self.logins.append(session.auth_data.login)
        return "250 OK"

    def received(self) -> list[EmailMessage]:
        return [
            message_from_bytes(e.original_content or b"", policy=policy.default)
            for e in self.envelopes
        ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpServer:
    """A local SMTP server on a fixed port that a test can stop and start again."""

    def __init__(self) -> None:
        self.port = _free_port()
        self._controller: Controller | None = None

    def start(self, **kw: Any) -> Collector:
        handler = Collector()
        self._controller = Controller(handler, hostname="127.0.0.1", port=self.port, **kw)
        self._controller.start()
        return handler

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture
def smtp_server(smtp: SmtpServer) -> Collector:
    return smtp.start()


def _smtp_sender(engine: Engine, port: int, **kw: Any) -> SmtpEmailSender:
    return SmtpEmailSender(engine, host="127.0.0.1", port=port, sender=SENDER, timeout=5, **kw)


@pytest.mark.parametrize(
    ("outbox", "channel"), [(LocalSmsOutbox, Channel.sms), (LocalEmailOutbox, Channel.email)]
)
def test_local_outbox_records_once_per_key(engine, case_id, outbox, channel):
    sender = outbox(engine)

    assert sender.send(_message(case_id=case_id)) is True
    assert sender.send(_message(case_id=case_id)) is False

    [row] = _rows(engine)
    assert row.channel == channel
    assert row.case_id == case_id
    assert (row.recipient, row.subject, row.body) == ("ali.rezaei@gmail.com", SUBJECT, BODY)
    assert row.sent_at is not None


def test_concurrent_sends_of_one_key_record_one_row(engine):
    # Workers racing on one key: the database settles it, exactly one send goes out.
    with ThreadPoolExecutor(max_workers=4) as pool:
        sent = list(pool.map(lambda _: LocalSmsOutbox(engine).send(_message()), range(8)))

    assert sent.count(True) == 1
    assert len(_rows(engine)) == 1


def test_other_integrity_errors_are_not_taken_for_duplicates(engine):
    with pytest.raises(IntegrityError):
        LocalSmsOutbox(engine).send(_message(case_id=999))
    assert _rows(engine) == []


def test_body_kept_out_of_repr_and_logs(engine, caplog):
    caplog.set_level(logging.DEBUG, logger=notifications.__name__)
    message = _message()

    LocalEmailOutbox(engine).send(message)
    LocalEmailOutbox(engine).send(message)

    assert BODY not in repr(message)
    assert caplog.records
    assert all(BODY not in r.getMessage() for r in caplog.records)


def test_smtp_delivers_persian_message(engine, smtp, smtp_server):
    assert _smtp_sender(engine, smtp.port).send(_message()) is True

    [envelope] = smtp_server.envelopes
    assert envelope.mail_from == SENDER
    assert envelope.rcpt_tos == ["ali.rezaei@gmail.com"]
    assert (envelope.original_content or b"").isascii()
    [mail] = smtp_server.received()
    assert mail["From"] == SENDER
    assert mail["To"] == "ali.rezaei@gmail.com"
    assert mail["Subject"] == SUBJECT
    assert mail.get_content_charset() == "utf-8"
    assert mail.get_content().rstrip("\n") == BODY
    assert mail["Message-ID"].startswith("<")
    assert mail["Message-ID"].endswith("@university.ac.ir>")
    [row] = _rows(engine)
    assert row.channel == Channel.email
    assert row.sent_at is not None


def test_smtp_sends_once_per_key(engine, smtp, smtp_server):
    sender = _smtp_sender(engine, smtp.port)

    assert sender.send(_message()) is True
    assert sender.send(_message()) is False
    assert _smtp_sender(engine, smtp.port).send(_message()) is False

    assert len(smtp_server.envelopes) == 1
    assert len(_rows(engine)) == 1


def test_smtp_message_id_stable_per_key(engine, tmp_path, smtp, smtp_server):
    other_engine = _new_engine(tmp_path / "other.db")
    _smtp_sender(engine, smtp.port).send(_message())
    _smtp_sender(other_engine, smtp.port).send(_message())
    _smtp_sender(engine, smtp.port).send(_message("email-ABC123:answer:email:2"))
    other_engine.dispose()

    first, again, other_key = (m["Message-ID"] for m in smtp_server.received())
    assert first == again
    assert other_key != first


def test_smtp_failure_leaves_unsent_and_retry_sends_once(engine, smtp):
    smtp.start()
    smtp.stop()
    sender = _smtp_sender(engine, smtp.port)

    with pytest.raises(OSError):
        sender.send(_message())
    [row] = _rows(engine)
    assert row.sent_at is None

    handler = smtp.start()
    assert sender.send(_message()) is True
    assert sender.send(_message()) is False

    assert len(handler.envelopes) == 1
    [row] = _rows(engine)
    assert row.sent_at is not None


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtp_logs_in_when_configured(engine, smtp):
    def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = auth_data == LoginPassword(b"peygir", b"s3cret")
        return AuthResult(success=ok, auth_data=auth_data)

    handler = smtp.start(authenticator=authenticator, auth_required=True, auth_require_tls=False)

    sender = _smtp_sender(engine, smtp.port, username="peygir", password="s3cret")
    assert sender.send(_message()) is True
    assert handler.logins == [b"peygir"]


def test_factories_follow_settings(engine):
    local = Settings(_env_file=None, email_sender="local")  # type: ignore[call-arg]
    with_smtp = Settings(_env_file=None, email_sender="smtp")  # type: ignore[call-arg]

    sms: SmsGateway = make_sms_gateway(local, engine)
    assert isinstance(sms, LocalSmsOutbox)
    email: EmailSender = make_email_sender(local, engine)
    assert isinstance(email, LocalEmailOutbox)
    assert isinstance(make_email_sender(with_smtp, engine), SmtpEmailSender)
