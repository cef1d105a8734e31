"""The ministry's Jira client against the local Jira (tests/jira_server.py) over real HTTP: the
issue opened once however its answers are lost, the SRM extract attached once, comments read
across pages, the state after the ministry resolves the issue; Jira's refusals and outages as
Temporal ApplicationErrors that say whether to retry, and when, and never carry the token."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Awaitable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.jira import JiraActivities, JiraClient
from domain.jira import (
    JiraAttachmentRequest,
    JiraCommentRequest,
    JiraIssueQuery,
    JiraIssueRequest,
    errors_table,
)
from domain.sepas import SrmGroup
from tests.jira_server import Fault, JiraServer

TOKEN = "jira-pat-" + uuid.uuid4().hex


@pytest.fixture
def jira() -> Iterator[JiraServer]:
    with JiraServer(token=TOKEN) as server:
        yield server


def activities(
    jira: JiraServer, *, token: str = TOKEN, project: str = "SEPAS", timeout: float = 5
) -> JiraActivities:
    return JiraActivities(
        JiraClient(jira.url, token, project_key=project, issue_type="Bug", timeout_seconds=timeout)
    )


def request(code: str = "S-1404-0007") -> JiraIssueRequest:
    at = datetime(2025, 12, 1, 10, 20, tzinfo=UTC)
    group = SrmGroup(
        message="Error at {CTS} | validation",
        count=12,
        records=3,
        sample_records=["981", "982"],
        first_at=at,
        last_at=at + timedelta(hours=5),
    )
    return JiraIssueRequest(
        tracking_code=code,
        summary="H1001: Error at CTS validation",
        description="SRM errors of H1001:\n" + errors_table([group]),
    )


async def refused(call: Awaitable[object]) -> ApplicationError:
    """The ApplicationError `call` raises, which must not carry the token."""
    with pytest.raises(ApplicationError) as raised:
        await call
    assert TOKEN not in str(raised.value)
    return raised.value


async def test_the_issue_is_opened_with_the_case_label_and_found_again(jira: JiraServer) -> None:
    jira_activities = activities(jira)
    env = ActivityEnvironment()
    opened = await env.run(jira_activities.open_ministry_issue, request())
    assert (opened.key, opened.created) == ("SEPAS-1", True)
    assert opened.url == f"{jira.url}/browse/SEPAS-1"
    fields = jira.state.issues["SEPAS-1"].fields
    assert fields["labels"] == ["peygir-S-1404-0007"]
    assert (fields["project"], fields["issuetype"]) == ({"key": "SEPAS"}, {"name": "Bug"})
    assert (
        "|Error at (CTS) ¦ validation|12|3|981, 982|2025-12-01T10:20+00:00|"
        in (fields["description"])
    )
    again = await env.run(jira_activities.open_ministry_issue, request())
    assert (again.key, again.id, again.created) == ("SEPAS-1", opened.id, False)
    other = await env.run(jira_activities.open_ministry_issue, request("S-1404-0008"))
    assert (other.key, len(jira.state.issues)) == ("SEPAS-2", 2)


@pytest.mark.parametrize(
    "lost",
    [
        Fault("POST", "/rest/api/2/issue", 504, after=True),
        Fault("POST", "/rest/api/2/issue", 0, after=True, silence=1.5),
    ],
    ids=["gateway-timeout", "silence"],
)
async def test_a_create_whose_answer_is_lost_opens_one_issue_on_retry(
    jira: JiraServer, lost: Fault
) -> None:
    jira_activities = activities(jira, timeout=0.5)
    jira.state.faults.append(lost)
    error = await refused(jira_activities.open_ministry_issue(request()))
    assert not error.non_retryable
    assert list(jira.state.issues) == ["SEPAS-1"]
    retried = await jira_activities.open_ministry_issue(request())
    assert (retried.key, retried.created) == ("SEPAS-1", False)
    assert list(jira.state.issues) == ["SEPAS-1"]


async def test_busy_jira_is_retried_after_its_retry_after(jira: JiraServer) -> None:
    jira_activities = activities(jira)
    jira.state.faults.append(Fault("GET", "/rest/api/2/search", 429, retry_after="7"))
    busy = await refused(jira_activities.open_ministry_issue(request()))
    assert (busy.type, busy.non_retryable, busy.next_retry_delay) == (
        "JiraBusy",
        False,
        timedelta(seconds=7),
    )
    assert "HTTP 429: Rate limit exceeded." in str(busy)
    jira.state.faults.append(Fault("POST", "/rest/api/2/issue", 503))
    down = await refused(jira_activities.open_ministry_issue(request()))
    assert (down.type, down.non_retryable, down.next_retry_delay) == ("JiraBusy", False, None)
    assert jira.state.issues == {}
    assert (await jira_activities.open_ministry_issue(request())).created


async def test_refusals_are_final_with_jira_s_reason_and_never_the_token(
    jira: JiraServer,
) -> None:
    wrong = await refused(activities(jira, token="not-" + TOKEN).open_ministry_issue(request()))
    assert wrong.non_retryable and wrong.type == "JiraRefused"
    assert "HTTP 401: You are not authenticated." in str(wrong)
    assert "not-" not in str(wrong)
    project = await refused(activities(jira, project="NOPE").open_ministry_issue(request()))
    assert project.non_retryable
    assert "HTTP 400: project: valid project is required" in str(project)
    jira_activities = activities(jira)
    missing = await refused(jira_activities.read_ministry_issue(JiraIssueQuery(issue_key="X-9")))
    assert missing.non_retryable and "HTTP 404: Issue Does Not Exist" in str(missing)
    opened = await jira_activities.open_ministry_issue(request())
    jira.state.faults.append(Fault("POST", r"/rest/api/2/issue/.*/attachments", 403))
    forbidden = await refused(
        jira_activities.attach_to_ministry_issue(
            JiraAttachmentRequest(issue_key=opened.key, file_name="srm.csv", content=b"x")
        )
    )
    assert forbidden.non_retryable and "HTTP 403: You do not have the permission" in str(forbidden)


async def test_an_unreachable_jira_is_retried() -> None:
    with JiraServer(token=TOKEN) as server:
        url = server.url
    client = JiraClient(url, TOKEN, project_key="SEPAS", issue_type="Bug", timeout_seconds=1)
    error = await refused(client.open_issue(request()))
    assert (error.type, error.non_retryable) == ("JiraUnavailable", False)


async def test_the_srm_extract_is_attached_once(jira: JiraServer) -> None:
    jira_activities = activities(jira)
    opened = await jira_activities.open_ministry_issue(request())
    extract = JiraAttachmentRequest(
        issue_key=opened.key, file_name="srm-H1001.csv", content="پیام,تعداد\nX,3\n".encode()
    )
    first = await jira_activities.attach_to_ministry_issue(extract)
    again = await jira_activities.attach_to_ministry_issue(extract)
    assert (first.added, again.added, again.id) == (True, False, first.id)
    issue = jira.state.issues[opened.key]
    assert issue.files == {first.id: extract.content}
    assert issue.attachments[0]["filename"] == "srm-H1001.csv"


async def test_comments_are_read_across_pages_and_posted_once(jira: JiraServer) -> None:
    jira_activities = activities(jira)
    opened = await jira_activities.open_ministry_issue(request())
    for n in range(5):
        jira.comment_as(opened.key, "Ministry SEPAS desk", f"answer {n}")
    ours = JiraCommentRequest(issue_key=opened.key, body="SRM still shows 12 errors.")
    posted = await jira_activities.comment_on_ministry_issue(ours)
    assert (await jira_activities.comment_on_ministry_issue(ours)).id == posted.id
    state = await jira_activities.read_ministry_issue(JiraIssueQuery(issue_key=opened.key))
    assert [c.body for c in state.comments] == [*(f"answer {n}" for n in range(5)), ours.body]
    assert state.comments[0].author == "Ministry SEPAS desk"
    after = await jira_activities.read_ministry_issue(
        JiraIssueQuery(issue_key=opened.key, comments_after=state.comments[3].id)
    )
    assert [c.body for c in after.comments] == ["answer 4", ours.body]


async def test_the_state_after_the_ministry_resolves_the_issue(jira: JiraServer) -> None:
    jira_activities = activities(jira)
    opened = await jira_activities.open_ministry_issue(request())
    query = JiraIssueQuery(issue_key=opened.key)
    before = await jira_activities.read_ministry_issue(query)
    assert (before.status, before.status_category, before.resolution, before.done) == (
        "Open",
        "new",
        None,
        False,
    )
    async with httpx.AsyncClient(
        base_url=jira.url, headers={"Authorization": f"Bearer {TOKEN}"}
    ) as ministry:
        answer = await ministry.post(
            f"/rest/api/2/issue/{opened.key}/transitions", json={"transition": {"id": "21"}}
        )
        assert answer.status_code == 204
    after = await jira_activities.read_ministry_issue(query)
    assert (after.status, after.status_category, after.resolution, after.done) == (
        "Resolved",
        "done",
        "Fixed",
        True,
    )
    assert after.updated >= before.updated


async def test_a_change_or_a_comment_posts_a_webhook(jira: JiraServer) -> None:
    received: list[bytes] = []

    class Receiver(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep the test output quiet
            pass

        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(204)
            self.end_headers()

    peygir = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=peygir.serve_forever, daemon=True).start()
    try:
        jira.state.webhook_url = f"http://127.0.0.1:{peygir.server_address[1]}/hooks/jira"
        opened = await activities(jira).open_ministry_issue(request())
        jira.comment_as(opened.key, "Ministry SEPAS desk", "fixed in the next release")
    finally:
        peygir.shutdown()
        peygir.server_close()
    assert [json.loads(body) for body in received] == [
        {"webhookEvent": "comment_created", "issue": {"id": opened.id, "key": opened.key}}
    ]
