"""The ministry's Jira (سامانه وزارتی جیرا) as process 5 sees it: the issue a case opens there for a
structural or unknown SEPAS error, and what the case reads back while it follows the issue up.

An issue carries the label `peygir-<tracking code>`: it is how a retried create finds the issue an
earlier attempt opened, and how a person in Jira finds the case.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from domain.sepas import JIRA_KEY, SrmGroup

LABEL_PREFIX = "peygir-"
SUMMARY_MAX = 255
"""Jira refuses a longer summary."""
DESCRIPTION_MAX = 30_000
"""Jira's text fields hold 32,767 characters; the rest is left for its own markup."""
ATTACHMENT_MAX = 1_000_000
"""An SRM extract is a few kilobytes; well under Temporal's 2 MB payload limit."""

TrackingCode = Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,40}$")]
"""A case's tracking code: a Jira label admits neither spaces nor most punctuation."""
IssueKey = Annotated[str, Field(pattern=f"^{JIRA_KEY.pattern}$")]


def tracking_label(tracking_code: str) -> str:
    """The label that ties a Jira issue to the case."""
    return f"{LABEL_PREFIX}{tracking_code}"


class JiraIssueRequest(BaseModel):
    """An issue to open for a case, once: a retry finds the issue by the case's label."""

    tracking_code: TrackingCode
    summary: Annotated[str, Field(min_length=1, max_length=SUMMARY_MAX)]
    description: Annotated[str, Field(max_length=DESCRIPTION_MAX)]
    """In Jira's wiki markup; `errors_table` writes the grouped SRM errors."""


class JiraIssue(BaseModel):
    """The case's issue in the ministry's Jira."""

    id: str
    key: IssueKey
    url: str
    """Where a person opens it: {JIRA_BASE_URL}/browse/{key}."""
    created: bool
    """False: an earlier attempt (or someone in Jira) had already opened it with the label."""


class JiraAttachmentRequest(BaseModel):
    """A file for the issue (the SRM extract); attaching the same name and size twice adds one."""

    issue_key: IssueKey
    file_name: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^/\\]+$")]
    content: Annotated[bytes, Field(max_length=ATTACHMENT_MAX)]
    media_type: str = "text/csv"


class JiraAttachment(BaseModel):
    id: str
    file_name: str
    size: int
    added: bool
    """False: the issue already held this file."""


class JiraCommentRequest(BaseModel):
    """A comment from the case (the expert's question, the evidence from SRM); the same text
    already on the issue is not posted twice, so a retry after a lost answer adds nothing."""

    issue_key: IssueKey
    body: Annotated[str, Field(min_length=1, max_length=DESCRIPTION_MAX)]


class JiraComment(BaseModel):
    """A comment on the issue, as the case timeline mirrors it (each once, by its id)."""

    id: int
    """Jira's comment id: ids grow, so the case remembers the last one it mirrored."""
    author: str
    """Its author's display name."""
    body: str
    created: datetime
    updated: datetime


class JiraIssueQuery(BaseModel):
    """What the follow-up loop asks of the issue each time it polls."""

    issue_key: IssueKey
    comments_after: int | None = None
    """The last comment id already mirrored; None: every comment."""


class JiraIssueState(BaseModel):
    """Where the issue stands in the ministry's workflow, and its new comments."""

    key: IssueKey
    status: str
    """The status's name in that Jira (`Open`, `In Progress`, `Resolved`, …)."""
    status_category: str
    """Jira's fixed category of the status: `new`, `indeterminate` or `done`."""
    resolution: str | None
    """`Fixed`, `Won't Fix`, …; None while unresolved."""
    updated: datetime
    comments: list[JiraComment]
    """The comments after `comments_after`, the oldest first."""

    @property
    def done(self) -> bool:
        return self.status_category == "done"


def _cell(text: str) -> str:
    # A pipe would end the cell, braces and brackets start Jira macros and links.
    return " ".join(text.replace("|", "¦").replace("{", "(").replace("}", ")").split()) or " "


def errors_table(groups: Iterable[SrmGroup]) -> str:
    """The grouped SRM errors as a Jira wiki-markup table, the most frequent first."""
    lines = ["||Message||Count||Records||Sample records||First seen||Last seen||"]
    lines += [
        f"|{_cell(g.message)}|{g.count}|{g.records}|{_cell(', '.join(g.sample_records))}"
        f"|{g.first_at.isoformat(timespec='minutes')}|{g.last_at.isoformat(timespec='minutes')}|"
        for g in groups
    ]
    return "\n".join(lines)
