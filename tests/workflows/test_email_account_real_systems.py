"""Process 1 with its real outside systems: the mailbox in OpenLDAP, the answer over SMTP."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope
from ldap3 import Connection, Server
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from settings import EmailSenderKind, MailDirectoryKind, Settings
from tests.factories import form_data, register_person
from tests.ldap_server import LdapServer, running_slapd
from tests.stack import free_port
from tests.workflows.test_email_account import decide, open_task, start
from worker import build_worker
from workflows.email_account import REVIEW


class Inbox:
    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: object, session: object, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 OK"


@pytest.fixture(scope="module")
def slapd() -> Iterator[LdapServer]:
    with running_slapd() as server:
        yield server


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler, port = Inbox(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


async def test_mailbox_in_ldap_and_answer_by_smtp(
    env: WorkflowEnvironment, settings: Settings, engine: Engine, slapd: LdapServer, inbox
) -> None:
    handler, port = inbox
    real = settings.model_copy(
        update={
            "mail_directory": MailDirectoryKind.ldap,
            "ldap_url": slapd.url,
            "ldap_bind_dn": slapd.bind_dn,
            "ldap_bind_password": slapd.bind_password,
            "ldap_base_dn": slapd.base_dn,
            "email_sender": EmailSenderKind.smtp,
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
        }
    )
    data = form_data()
    register_person(engine, data)
    async with build_worker(env.client, real, engine):
        case, handle = await start(env, real, engine, data)
        await decide(handle, await open_task(engine, case, REVIEW.key), {"form_complete": True})
        assert await handle.result() == "done"

    username = data["requested_username"]
    with Connection(Server(slapd.url), slapd.bind_dn, slapd.bind_password, auto_bind=True) as ldap:
        ldap.search(slapd.base_dn, f"(uid={username})", attributes=["mail", "description", "sn"])
        [entry] = ldap.entries
    assert str(entry.mail) == f"{username}@{real.mail_domain}"
    assert str(entry.description) == case.tracking_code
    assert str(entry.sn) == data["last_name"]

    # Task notices to e-mail admins go out over SMTP too; the answer goes to the person.
    [envelope] = [e for e in handler.envelopes if e.rcpt_tos == [data["personal_email"]]]
    mail = message_from_bytes(envelope.original_content or b"", policy=policy.default)
    assert f"{username}@{real.mail_domain}" in mail.get_content()
    assert "ایمیل دانشگاهی" in str(mail["Subject"])
