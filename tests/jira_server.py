"""A local stand-in for the ministry's Jira (Server / Data Center, REST API v2), for tests and the
dev server: the subset activities/jira.py speaks, in Jira's shapes, over real HTTP.

- `POST /rest/api/2/issue` → 201 {id, key, self}; `GET /rest/api/2/issue/{key}` with
  fields.status.name, fields.status.statusCategory.key, fields.resolution, fields.updated,
  fields.comment, fields.attachment;
- comments (`GET` paged by startAt / maxResults / total, `POST`); attachments (multipart `file`,
  refused with 403 without `X-Atlassian-Token: no-check`); transitions (how a test plays the
  ministry resolving an issue); `GET /rest/api/2/search` with JQL on one label, paged;
- errors as {"errorMessages": [...], "errors": {...}}; Bearer auth, 401 otherwise;
- webhooks out: with `webhook_url` set, a POST of {webhookEvent, issue: {key}} when an issue changes
  or gets a comment;
- faults, each for the next matching request: an answer lost after the work is done (504, or a
  silence longer than the client waits), 429 with Retry-After, 503, 401, 403.

    with JiraServer(token="t") as jira: ... jira.url, jira.state.issues ...

As a process of its own (the bench's ministry Jira), its token from JIRA_TOKEN and its page size
from JIRA_PAGE_SIZE: `uvicorn --factory tests.jira_server:app_from_environment`.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import uvicorn
from fastapi import FastAPI, File, Header, Request, Response, UploadFile
from fastapi.responses import JSONResponse

API = "/rest/api/2"
MAX_RESULTS = 2
"""Jira's page size here by default: small, so every test of a list crosses pages."""
STATUSES = {
    "Open": "new",
    "In Progress": "indeterminate",
    "Resolved": "done",
}
TRANSITIONS = {"11": ("Start Progress", "In Progress"), "21": ("Resolve", "Resolved")}
LABEL = re.compile(r'labels\s*=\s*"([^"]+)"')
PROJECT = re.compile(r'project\s*=\s*"?([A-Z][A-Z0-9_]*)"?')


def jira_time(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}" + at.strftime("%z")


def errors(status: int, *messages: str, **fields: str) -> JSONResponse:
    return JSONResponse({"errorMessages": list(messages), "errors": fields}, status_code=status)


@dataclass
class Fault:
    """What the next request to `method` on a path matching `path` meets."""

    method: str
    path: str
    status: int
    retry_after: str | None = None
    after: bool = False
    """True: the request is carried out, then its answer is lost (this status, or `silence`)."""
    silence: float = 0
    """Seconds to say nothing before answering: longer than the client's timeout, the answer is
    lost to it."""


@dataclass
class Issue:
    id: int
    key: str
    fields: dict[str, Any]
    status: str = "Open"
    resolution: str | None = None
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated: datetime = field(default_factory=lambda: datetime.now(UTC))
    comments: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)


@dataclass
class JiraState:
    """The server's issues, and what tests arrange for it."""

    token: str
    project: str = "SEPAS"
    issues: dict[str, Issue] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    webhook_url: str | None = None
    webhooks: list[dict[str, Any]] = field(default_factory=list)
    """Every webhook sent, whether or not its receiver answered."""
    next_id: int = 10000
    page_size: int = MAX_RESULTS
    """The most items one page of a list holds, whatever is asked (Jira Server's own maximum is
    far above the 50 activities/jira.py asks)."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.method == method and re.fullmatch(fault.path, path):
                    self.faults.remove(fault)
                    return fault
        return None

    def touched(self, issue: Issue, event: str) -> None:
        issue.updated = datetime.now(UTC)
        if self.webhook_url is not None:
            hook = {"webhookEvent": event, "issue": {"id": str(issue.id), "key": issue.key}}
            self.webhooks.append(hook)
            try:
                # Sent in line, as a small Jira does: a receiver that only signals its workflow
                # answers at once, and nothing here waits on a webhook longer than two seconds.
                httpx.post(self.webhook_url, json=hook, timeout=2)
            except httpx.HTTPError:
                pass  # Jira does not retry a webhook either: polling stays the reliable path


def _page(request: Request, items: list[Any], name: str, page_size: int) -> dict[str, Any]:
    start = int(request.query_params.get("startAt", 0))
    asked = int(request.query_params.get("maxResults", page_size))
    size = max(0, min(asked, page_size))
    return {
        "startAt": start,
        "maxResults": size,
        "total": len(items),
        name: items[start : start + size],
    }


def make_app(state: JiraState) -> FastAPI:
    app = FastAPI()

    @app.middleware("http")
    async def auth_and_faults(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.headers.get("Authorization") != f"Bearer {state.token}":
            return errors(401, "You are not authenticated. Authentication required to continue.")
        fault = state.take_fault(request.method, request.url.path)
        if fault is None:
            return await call_next(request)
        answer = await call_next(request) if fault.after else None
        if fault.silence:
            await asyncio.sleep(fault.silence)
        if answer is not None and not fault.status:
            return answer
        headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
        reasons = {
            401: "You are not authenticated. Authentication required to continue.",
            403: "You do not have the permission to see the specified issue.",
            429: "Rate limit exceeded.",
            503: "Jira is under maintenance.",
            504: "Gateway Timeout",
        }
        answer = errors(fault.status, reasons.get(fault.status, "Fault"))
        answer.headers.update(headers)
        return answer

    def issue_json(request: Request, issue: Issue) -> dict[str, Any]:
        comments = [*issue.comments]
        return {
            "id": str(issue.id),
            "key": issue.key,
            "self": f"{request.base_url}rest/api/2/issue/{issue.id}",
            "fields": {
                **issue.fields,
                "status": {
                    "name": issue.status,
                    "statusCategory": {"key": STATUSES[issue.status]},
                },
                "resolution": {"name": issue.resolution} if issue.resolution else None,
                "created": jira_time(issue.created),
                "updated": jira_time(issue.updated),
                "comment": {
                    "comments": comments,
                    "maxResults": len(comments),
                    "total": len(comments),
                    "startAt": 0,
                },
                "attachment": issue.attachments,
            },
        }

    def find(key: str) -> Issue | JSONResponse:
        issue = state.issues.get(key)
        if issue is None:
            return errors(404, "Issue Does Not Exist")
        return issue

    @app.post(f"{API}/issue", status_code=201, response_model=None)
    async def create(request: Request) -> dict[str, Any] | JSONResponse:
        fields = (await request.json()).get("fields") or {}
        problems = {}
        if (fields.get("project") or {}).get("key") != state.project:
            problems["project"] = "valid project is required"
        if not fields.get("summary"):
            problems["summary"] = "You must specify a summary of the issue."
        if not (fields.get("issuetype") or {}).get("name"):
            problems["issuetype"] = "valid issue type is required"
        if problems:
            return errors(400, **problems)
        with state.lock:
            state.next_id += 1
            number = len(state.issues) + 1
            issue = Issue(id=state.next_id, key=f"{state.project}-{number}", fields=fields)
            state.issues[issue.key] = issue
        return {
            "id": str(issue.id),
            "key": issue.key,
            "self": f"{request.base_url}rest/api/2/issue/{issue.id}",
        }

    @app.get(f"{API}/issue/{{key}}", response_model=None)
    async def read(request: Request, key: str) -> dict[str, Any] | JSONResponse:
        issue = find(key)
        return issue if isinstance(issue, JSONResponse) else issue_json(request, issue)

    @app.get(f"{API}/search", response_model=None)
    async def search(request: Request, jql: str = "") -> dict[str, Any] | JSONResponse:
        label = LABEL.search(jql)
        if label is None:
            return errors(400, f"Error in the JQL Query: cannot read '{jql}'.")
        project = PROJECT.search(jql)
        found = [
            issue_json(request, issue)
            for issue in sorted(state.issues.values(), key=lambda i: i.id)
            if label[1] in issue.fields.get("labels", [])
            and (project is None or issue.key.startswith(f"{project[1]}-"))
        ]
        return _page(request, found, "issues", state.page_size)

    @app.get(f"{API}/issue/{{key}}/comment", response_model=None)
    async def comments(request: Request, key: str) -> dict[str, Any] | JSONResponse:
        issue = find(key)
        if isinstance(issue, JSONResponse):
            return issue
        return _page(request, issue.comments, "comments", state.page_size)

    @app.post(f"{API}/issue/{{key}}/comment", status_code=201, response_model=None)
    async def add_comment(request: Request, key: str) -> dict[str, Any] | JSONResponse:
        issue = find(key)
        if isinstance(issue, JSONResponse):
            return issue
        body = (await request.json()).get("body")
        if not body:
            return errors(400, body="Comment body can not be empty!")
        return state_comment(issue, str(body), "Peygir")

    def state_comment(issue: Issue, body: str, author: str) -> dict[str, Any]:
        with state.lock:
            state.next_id += 1
            now = jira_time(datetime.now(UTC))
            comment = {
                "id": str(state.next_id),
                "author": {"name": author.lower(), "displayName": author},
                "body": body,
                "created": now,
                "updated": now,
            }
            issue.comments.append(comment)
        state.touched(issue, "comment_created")
        return comment

    app.state.add_comment = state_comment

    @app.post(f"{API}/issue/{{key}}/attachments", response_model=None)
    async def attach(
        key: str,
        file: Annotated[UploadFile, File()],
        x_atlassian_token: Annotated[str | None, Header()] = None,
    ) -> list[dict[str, Any]] | JSONResponse:
        if x_atlassian_token != "no-check":
            return errors(403, "XSRF check failed")
        issue = find(key)
        if isinstance(issue, JSONResponse):
            return issue
        content = await file.read()
        with state.lock:
            state.next_id += 1
            held = {
                "id": str(state.next_id),
                "filename": file.filename,
                "size": len(content),
                "mimeType": file.content_type,
            }
            issue.attachments.append(held)
            issue.files[str(held["id"])] = content
        state.touched(issue, "jira:issue_updated")
        return [held]

    @app.get(f"{API}/issue/{{key}}/transitions", response_model=None)
    async def transitions(key: str) -> dict[str, Any] | JSONResponse:
        issue = find(key)
        if isinstance(issue, JSONResponse):
            return issue
        return {
            "transitions": [
                {"id": tid, "name": name, "to": {"name": to}}
                for tid, (name, to) in TRANSITIONS.items()
            ]
        }

    @app.post(f"{API}/issue/{{key}}/transitions", status_code=204, response_model=None)
    async def transition(request: Request, key: str) -> Response:
        issue = find(key)
        if isinstance(issue, JSONResponse):
            return issue
        body = await request.json()
        chosen = TRANSITIONS.get(str((body.get("transition") or {}).get("id")))
        if chosen is None:
            return errors(
                400,
                transition="It seems that you have tried to perform a workflow "
                "operation that is not valid.",
            )
        issue.status = chosen[1]
        resolution = ((body.get("fields") or {}).get("resolution") or {}).get("name")
        issue.resolution = resolution or ("Fixed" if STATUSES[issue.status] == "done" else None)
        state.touched(issue, "jira:issue_updated")
        return Response(status_code=204)

    return app


def app_from_environment() -> FastAPI:
    """The stand-in for `uvicorn --factory`: JIRA_TOKEN, and JIRA_PAGE_SIZE (default 2)."""
    page_size = int(os.environ.get("JIRA_PAGE_SIZE", MAX_RESULTS))
    return make_app(JiraState(token=os.environ["JIRA_TOKEN"], page_size=page_size))


class JiraServer:
    """The stand-in on a free port of 127.0.0.1, in a thread, while the `with` lasts."""

    def __init__(self, token: str, project: str = "SEPAS") -> None:
        self.state = JiraState(token=token, project=project)
        self.app = make_app(self.state)
        self._server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def url(self) -> str:
        port = self._server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def comment_as(self, key: str, author: str, body: str) -> dict[str, Any]:
        """A comment written in Jira by someone at the ministry."""
        added: dict[str, Any] = self.app.state.add_comment(self.state.issues[key], body, author)
        return added

    def __enter__(self) -> JiraServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the local Jira did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
