"""The e-mail process's checks when run again after a crash (local activities may be)."""

from __future__ import annotations

from sqlalchemy import Engine
from temporalio.testing import ActivityEnvironment

from activities.email_account import EmailAccountActivities
from activities.mail_directory import LocalMailDirectory
from activities.notifications import make_email_sender, make_sms_gateway
from domain.email_account import MailboxRequest, UsernameQuery
from settings import Settings
from tests.factories import form_data, open_case, register_person


def test_a_mailbox_made_for_the_case_does_not_make_its_username_taken(
    engine: Engine, settings: Settings
) -> None:
    """The checks, the mailbox and a crash before the workflow task was saved: the checks run
    again and must still find the username free for this case, and taken for any other."""
    account = EmailAccountActivities(
        engine,
        settings,
        LocalMailDirectory(engine),
        make_sms_gateway(settings, engine),
        make_email_sender(settings, engine),
    )
    run = ActivityEnvironment().run
    data = form_data()
    register_person(engine, data)
    case = open_case(engine, data)
    other = open_case(engine, form_data())
    assert case.id is not None and other.id is not None
    username = data["requested_username"]

    first = run(account.check_request, case.id)
    assert first.registry.found and first.username.available
    run(
        account.create_mailbox,
        MailboxRequest(case_id=case.id, tracking_code=case.tracking_code, username=username),
    )
    assert run(account.check_request, case.id) == first
    ours = UsernameQuery(case_id=case.id, tracking_code=case.tracking_code, username=username)
    assert run(account.check_username, ours).available
    theirs = UsernameQuery(case_id=other.id, tracking_code=other.tracking_code, username=username)
    taken = run(account.check_username, theirs)
    assert not taken.available and taken.alternatives and username not in taken.alternatives
