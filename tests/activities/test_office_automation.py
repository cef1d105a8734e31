"""The office-automation system's client against a local REST server over real HTTP: a post, its
user and permissions made once however often a lost answer is retried, the reverse, Retry-After,
final refusals with the system's reason and never the token; the manual default does nothing
outside; the setting chooses."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Iterator
from datetime import timedelta

import pytest
from temporalio.exceptions import ApplicationError

from activities.office_automation import (
    ManualOfficeAutomation,
    RestOfficeAutomation,
    office_automation,
)
from db.seed import national_code
from domain.office_automation import (
    AutomationGrant,
    AutomationPost,
    AutomationUser,
    CartablePermission,
    ManagementPermission,
)
from settings import OfficeAutomationKind, Settings
from tests.office_automation_server import Fault, OfficeAutomationServer

TOKEN = "oa-token-" + uuid.uuid4().hex
POST = AutomationPost(automation_code="P-1201", unit_code="U-100", title="مدیر امور مالی")
USER = AutomationUser(
    automation_code="P-1201",
    username="z.mohammadi",
    national_code=national_code("002417386"),
    first_name="زهرا",
    last_name="محمدی",
)
GRANT = AutomationGrant(
    automation_code="P-1201",
    username="z.mohammadi",
    permissions=[CartablePermission.refer, ManagementPermission.sign_letters],
)


@pytest.fixture
def system() -> Iterator[OfficeAutomationServer]:
    with OfficeAutomationServer(token=TOKEN) as server:
        yield server


def client(system: OfficeAutomationServer, token: str = TOKEN) -> RestOfficeAutomation:
    return RestOfficeAutomation(system.url, token, timeout_seconds=5)


async def refused(call: Awaitable[object]) -> ApplicationError:
    with pytest.raises(ApplicationError) as raised:
        await call
    return raised.value


async def test_a_cartable_is_made_and_undone_in_the_system(system: OfficeAutomationServer) -> None:
    automation = client(system)
    assert await automation.create_post(POST)
    assert await automation.create_user(USER)
    assert await automation.grant_permissions(GRANT)
    post = system.state.posts["P-1201"]
    assert post.user is not None and post.user["username"] == "z.mohammadi" and post.user_enabled
    assert post.permissions == {"refer", "sign_letters"}
    assert await automation.disable_user("P-1201", "z.mohammadi")
    assert await automation.revoke_permissions(GRANT)
    assert not post.user_enabled and post.permissions == set()
    assert await automation.free_post("P-1201")
    assert await automation.free_post("P-1201")  # freed again: still free
    assert system.state.posts["P-1201"].user is None


async def test_a_retry_after_a_lost_answer_creates_nothing_twice(
    system: OfficeAutomationServer,
) -> None:
    automation = client(system)
    system.state.faults.append(Fault("POST", "/posts", 504, after=True))
    lost = await refused(automation.create_post(POST))
    assert lost.type == "OfficeAutomationUnavailable" and not lost.non_retryable
    assert await automation.create_post(POST)  # the retry: it exists, which is what was asked
    system.state.faults.append(Fault("POST", "/user", 504, after=True))
    await refused(automation.create_user(USER))
    assert await automation.create_user(USER)
    assert list(system.state.posts) == ["P-1201"]
    assert [c for c in system.state.calls if c == ("POST", "/posts")] == [("POST", "/posts")] * 2


async def test_a_busy_system_is_retried_after_its_retry_after(
    system: OfficeAutomationServer,
) -> None:
    automation = client(system)
    for status in (429, 503):
        system.state.faults.append(Fault("POST", "/posts", status, retry_after="7"))
        busy = await refused(automation.create_post(POST))
        assert busy.type == "OfficeAutomationBusy" and not busy.non_retryable
        assert busy.next_retry_delay == timedelta(seconds=7)
    assert system.state.posts == {}


async def test_refusals_are_final_with_the_reason_and_never_the_token(
    system: OfficeAutomationServer,
) -> None:
    wrong = await refused(client(system, token="wrong-" + TOKEN).create_post(POST))
    assert wrong.type == "OfficeAutomationRefused" and wrong.non_retryable
    assert "401" in wrong.message and "wrong-" not in wrong.message
    no_post = await refused(client(system).create_user(USER))
    assert no_post.non_retryable and "no post P-1201" in no_post.message
    assert TOKEN not in no_post.message


async def test_an_unreachable_or_unset_system_is_retried() -> None:
    with OfficeAutomationServer(token=TOKEN) as server:
        url = server.url
    gone = await refused(RestOfficeAutomation(url, TOKEN, timeout_seconds=2).create_post(POST))
    assert gone.type == "OfficeAutomationUnavailable" and not gone.non_retryable
    unset = await refused(RestOfficeAutomation("", TOKEN).free_post("P-1"))
    assert unset.type == "OfficeAutomationNotConfigured" and not unset.non_retryable


async def test_by_hand_nothing_is_done_outside_and_the_setting_chooses(settings: Settings) -> None:
    manual = office_automation(settings)
    assert isinstance(manual, ManualOfficeAutomation)
    assert not await manual.create_post(POST)
    assert not await manual.create_user(USER)
    assert not await manual.grant_permissions(GRANT)
    assert not await manual.disable_user("P-1201", "z.mohammadi")
    assert not await manual.revoke_permissions(GRANT)
    assert not await manual.free_post("P-1201")
    rest = settings.model_copy(
        update={
            "office_automation": OfficeAutomationKind.rest,
            "office_automation_url": "http://127.0.0.1:9",
        }
    )
    assert isinstance(office_automation(rest), RestOfficeAutomation)
