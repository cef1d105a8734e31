"""The ministry's Jira (Server / Data Center, REST API v2) for process 5: open the case's issue,
attach the SRM extract, comment, and read the issue back while the case follows it up.

    Authorization: Bearer <JIRA_TOKEN>                 (a Personal Access Token)
    GET  /rest/api/2/search?jql=…&startAt=…&maxResults=…
    POST /rest/api/2/issue                             → 201 {"id", "key", "self"}
    GET  /rest/api/2/issue/{key}?fields=status,resolution,updated
    GET  /rest/api/2/issue/{key}/comment?startAt=…     (paged: startAt, maxResults, total)
    POST /rest/api/2/issue/{key}/comment
    POST /rest/api/2/issue/{key}/attachments           (multipart `file`, X-Atlassian-Token)

Each call has explicit timeouts and is tried once: Temporal's retry policy owns retrying, and the
ApplicationError raised says whether to. 429 and 503 are retryable after Jira's Retry-After
(`next_retry_delay`); a timeout, a lost connection or another 5xx is retryable on the policy's
rhythm; 400, 401, 403, 404 and other refusals are not, with Jira's own reason. The token travels in
the header only: it is never in a URL, a log line or an error.

Every write is idempotent by a natural key, since a retry may follow a write whose answer was lost:
the issue by its label `peygir-<tracking code>` (searched before creating), an attachment by its
name and size, a comment by its text.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.jira import (
    JiraAttachment,
    JiraAttachmentRequest,
    JiraComment,
    JiraCommentRequest,
    JiraIssue,
    JiraIssueQuery,
    JiraIssueRequest,
    JiraIssueState,
    tracking_label,
)
from settings import Settings

log = logging.getLogger(__name__)

API = "/rest/api/2"
PAGE = 50
"""Results asked per page; Jira may answer fewer (its own maximum), `total` says how many."""
MAX_PAGES = 200
"""A server whose `total` keeps growing is cut off here rather than read forever."""
RETRY_AFTER_MAX = timedelta(hours=1)
"""A longer Retry-After is taken as this: the case keeps polling, the policy keeps its limits."""
REASON_MAX = 500


def _retry_after(value: str | None) -> timedelta | None:
    """Retry-After in seconds or as an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        delay = timedelta(seconds=int(value))
    else:
        try:
            delay = parsedate_to_datetime(value) - datetime.now(UTC)
        except (TypeError, ValueError):
            return None
    return max(timedelta(0), min(delay, RETRY_AFTER_MAX))


def _jira_time(value: str) -> datetime:
    # Jira writes 2025-12-01T10:20:30.000+0330: an offset without its colon.
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")


def _comment(raw: dict[str, Any]) -> JiraComment:
    return JiraComment(
        id=int(raw["id"]),
        author=str((raw.get("author") or {}).get("displayName") or ""),
        body=str(raw.get("body") or ""),
        created=_jira_time(raw["created"]),
        updated=_jira_time(raw["updated"]),
    )


def _invalid(what: str) -> ApplicationError:
    return ApplicationError(what, type="JiraAnswerInvalid", non_retryable=True)


class JiraClient:
    """One Jira server, as Peygir's user with a Personal Access Token."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        project_key: str,
        issue_type: str,
        timeout_seconds: float = 30,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._token = token
        self._project = project_key
        self._issue_type = issue_type
        self._timeout = httpx.Timeout(timeout_seconds)
        self._transport = transport
        self._http: httpx.AsyncClient | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> JiraClient:
        return cls(
            settings.jira_base_url,
            settings.jira_token,
            project_key=settings.jira_project_key,
            issue_type=settings.jira_issue_type,
            timeout_seconds=settings.jira_timeout_seconds,
        )

    @asynccontextmanager
    async def _client(self) -> AsyncIterator[httpx.AsyncClient]:
        """One connection pool for every call: a new client loads the certificate store again,
        most of a poll's cost."""
        if not self._base:
            # Retried until ops set it: the case waits at its Jira step, nothing is lost.
            raise ApplicationError("JIRA_BASE_URL is not set", type="JiraNotConfigured")
        if self._http is None:
            self._http = httpx.AsyncClient(
                base_url=self._base,
                headers={"Authorization": f"Bearer {self._token}", "Accept": "application/json"},
                timeout=self._timeout,
                transport=self._transport,
            )
        yield self._http

    def _reason(self, answer: httpx.Response) -> str:
        """Jira's {"errorMessages": [...], "errors": {field: message}} in one line."""
        try:
            body = answer.json()
        except ValueError:
            body = None
        parts: list[str] = []
        if isinstance(body, dict):
            parts += [str(m) for m in body.get("errorMessages") or [] if m]
            errors = body.get("errors")
            if isinstance(errors, dict):
                parts += [f"{field}: {text}" for field, text in errors.items()]
        reason = "; ".join(parts) or answer.reason_phrase or "no reason given"
        if self._token:
            # Jira has no reason to echo the token, but an error must never carry it.
            reason = reason.replace(self._token, "***")
        return " ".join(reason.split())[:REASON_MAX]

    async def _call(
        self, client: httpx.AsyncClient, method: str, path: str, **kwargs: Any
    ) -> httpx.Response:
        what = f"Jira {method} {path}"
        try:
            answer = await client.request(method, f"{API}{path}", **kwargs)
        except httpx.TimeoutException:
            raise ApplicationError(f"{what}: timed out", type="JiraUnavailable") from None
        except httpx.TransportError as error:
            raise ApplicationError(
                f"{what}: {type(error).__name__}", type="JiraUnavailable"
            ) from None
        status = answer.status_code
        if status < 300:
            return answer
        reason = f"{what}: HTTP {status}: {self._reason(answer)}"
        log.warning("%s", reason)
        if status in (429, 503):
            raise ApplicationError(
                reason,
                type="JiraBusy",
                next_retry_delay=_retry_after(answer.headers.get("Retry-After")),
            )
        if status >= 500:
            raise ApplicationError(reason, type="JiraUnavailable")
        raise ApplicationError(reason, type="JiraRefused", non_retryable=True)

    def _json(self, answer: httpx.Response) -> Any:
        try:
            return answer.json()
        except ValueError:
            raise _invalid(f"Jira answered {answer.request.url.path} without JSON") from None

    def _body(self, answer: httpx.Response) -> dict[str, Any]:
        body = self._json(answer)
        if not isinstance(body, dict):
            raise _invalid(f"Jira answered {answer.request.url.path} without a JSON object")
        return body

    async def _pages(
        self, client: httpx.AsyncClient, path: str, items: str, params: dict[str, str]
    ) -> list[dict[str, Any]]:
        """Every item of a paged list (startAt / maxResults / total)."""
        found: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            page = self._body(
                await self._call(
                    client,
                    "GET",
                    path,
                    params={**params, "startAt": str(len(found)), "maxResults": str(PAGE)},
                )
            )
            batch = page.get(items)
            if not isinstance(batch, list):
                raise _invalid(f"Jira answered {path} without {items}")
            found += batch
            if not batch or len(found) >= int(page.get("total", 0)):
                return found
        raise _invalid(f"Jira {path}: more than {MAX_PAGES} pages")

    def _issue(self, raw: dict[str, Any], *, created: bool) -> JiraIssue:
        key = str(raw["key"])
        return JiraIssue(
            id=str(raw["id"]), key=key, url=f"{self._base}/browse/{key}", created=created
        )

    async def open_issue(self, request: JiraIssueRequest) -> JiraIssue:
        """The case's issue: the one already labelled with its tracking code, or a new one."""
        label = tracking_label(request.tracking_code)
        async with self._client() as client:
            jql = f'project = "{self._project}" AND labels = "{label}" ORDER BY created ASC'
            found = await self._pages(client, "/search", "issues", {"jql": jql, "fields": "labels"})
            if found:
                return self._issue(found[0], created=False)
            fields = {
                "project": {"key": self._project},
                "issuetype": {"name": self._issue_type},
                "summary": request.summary,
                "description": request.description,
                "labels": [label],
            }
            answer = await self._call(client, "POST", "/issue", json={"fields": fields})
            return self._issue(self._body(answer), created=True)

    async def attach(self, request: JiraAttachmentRequest) -> JiraAttachment:
        """The file on the issue, once."""
        size = len(request.content)
        async with self._client() as client:
            issue = self._body(
                await self._call(
                    client, "GET", f"/issue/{request.issue_key}", params={"fields": "attachment"}
                )
            )
            for held in issue.get("fields", {}).get("attachment") or []:
                if held.get("filename") == request.file_name and held.get("size") == size:
                    return JiraAttachment(
                        id=str(held["id"]), file_name=request.file_name, size=size, added=False
                    )
            answer = await self._call(
                client,
                "POST",
                f"/issue/{request.issue_key}/attachments",
                # Jira refuses a multipart POST without it (its XSRF check).
                headers={"X-Atlassian-Token": "no-check"},
                files={"file": (request.file_name, request.content, request.media_type)},
            )
            added = self._json(answer)
            if not isinstance(added, list) or not added or not isinstance(added[0], dict):
                raise _invalid("Jira answered an attachment without it")
            return JiraAttachment(
                id=str(added[0]["id"]), file_name=request.file_name, size=size, added=True
            )

    async def _comments(
        self, client: httpx.AsyncClient, issue_key: str, after: int | None = None
    ) -> list[JiraComment]:
        """The issue's comments after the id `after`, the oldest first."""
        raw = await self._pages(client, f"/issue/{issue_key}/comment", "comments", {})
        comments = [_comment(c) for c in raw]
        return sorted((c for c in comments if after is None or c.id > after), key=lambda c: c.id)

    async def comment(self, request: JiraCommentRequest) -> JiraComment:
        """The comment on the issue, once."""
        async with self._client() as client:
            for held in await self._comments(client, request.issue_key):
                if held.body == request.body:
                    return held
            answer = await self._call(
                client, "POST", f"/issue/{request.issue_key}/comment", json={"body": request.body}
            )
            return _comment(self._body(answer))

    async def read(self, query: JiraIssueQuery) -> JiraIssueState:
        """The issue's status, resolution and the comments after the last one mirrored."""
        async with self._client() as client:
            issue = self._body(
                await self._call(
                    client,
                    "GET",
                    f"/issue/{query.issue_key}",
                    params={"fields": "status,resolution,updated"},
                )
            )
            fields = issue.get("fields") or {}
            status = fields.get("status") or {}
            resolution = fields.get("resolution")
            return JiraIssueState(
                key=str(issue["key"]),
                status=str(status.get("name") or ""),
                status_category=str((status.get("statusCategory") or {}).get("key") or ""),
                resolution=str(resolution["name"]) if isinstance(resolution, dict) else None,
                updated=_jira_time(fields["updated"]),
                comments=await self._comments(client, query.issue_key, query.comments_after),
            )


class JiraActivities:
    """Process 5's calls to the ministry's Jira, each idempotent by its natural key."""

    def __init__(self, client: JiraClient) -> None:
        self._jira = client

    @activity.defn
    async def open_ministry_issue(self, request: JiraIssueRequest) -> JiraIssue:
        return await self._jira.open_issue(request)

    @activity.defn
    async def attach_to_ministry_issue(self, request: JiraAttachmentRequest) -> JiraAttachment:
        return await self._jira.attach(request)

    @activity.defn
    async def comment_on_ministry_issue(self, request: JiraCommentRequest) -> JiraComment:
        return await self._jira.comment(request)

    @activity.defn
    async def read_ministry_issue(self, query: JiraIssueQuery) -> JiraIssueState:
        return await self._jira.read(query)
